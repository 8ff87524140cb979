package cadir_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/pki/cadir"
)

// A CA directory is made once with Init and opened again with Open; the
// passphrase (the CLI reads SECURESIGN_CA_PASS) seals its keys.
func ExampleOpen() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "cadir-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "ca")
	pass := []byte("correct horse battery staple")

	ca, err := cadir.Init(ctx, dir, cadir.Options{Passphrase: pass, Name: "Example CA", BaseURL: "https://ca.example.in/pki"})
	if err != nil {
		panic(err)
	}
	ca.Close()

	ca, err = cadir.Open(ctx, dir, cadir.Options{Passphrase: pass})
	if err != nil {
		panic(err)
	}
	defer ca.Close()
	subject := pki.Subject{CommonName: "Rajesh Kumar", State: "Karnataka", PostalCode: "560001", Country: "IN"}
	cert, _, err := ca.IssueKeyGen(ctx, pki.P256, subject, "")
	if err != nil {
		panic(err)
	}
	fmt.Println(cert.Subject.CommonName, "issued by", cert.Issuer.CommonName == ca.Certificate().Subject.CommonName)
	// Output: Rajesh Kumar issued by true
}
