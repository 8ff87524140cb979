package pki_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/securesign/securesign/pki"
)

// A CA issues a Class 3 style signing certificate from a CSR, and a relying
// party verifies it with OCSP against the CA's own responder.
func Example() {
	ctx := context.Background()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ca, err := pki.NewDev(ctx, srv.URL+"/pki")
	if err != nil {
		panic(err)
	}
	mux.Handle("/pki/", http.StripPrefix("/pki", ca.Handler()))

	// The user's key and CSR; the subject comes from the verified record.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "whatever"}}, key)
	subject := pki.Subject{CommonName: "Rajesh Kumar", State: "Karnataka", PostalCode: "560001", Country: "IN"}
	cert, err := ca.IssueCSR(ctx, csr, subject, "")
	if err != nil {
		panic(err)
	}
	fmt.Println(cert.Subject)

	roots := x509.NewCertPool()
	roots.AddCert(ca.Root())
	checker := pki.NewRevocationChecker(pki.RevocationOptions{HardFail: true})
	res, err := pki.VerifyChain(ctx, cert, []*x509.Certificate{ca.Certificate()}, pki.VerifyOptions{
		Roots: roots, Revocation: checker, RequireSigningKeyUsage: true,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(res.Chain), res.Revocation[0].State, res.Revocation[0].Source)

	ca.Revoke(ctx, cert.SerialNumber, pki.ReasonKeyCompromise)
	_, err = pki.VerifyChain(ctx, cert, []*x509.Certificate{ca.Certificate()}, pki.VerifyOptions{
		Roots: roots, Revocation: pki.NewRevocationChecker(pki.RevocationOptions{}),
	})
	fmt.Println(errors.Is(err, pki.ErrRevoked))
	// Output:
	// CN=Rajesh Kumar,O=Personal,POSTALCODE=560001,ST=Karnataka,C=IN
	// 3 good ocsp
	// true
}

// Server-side key generation: the CA keeps the key (sealed in its store)
// and hands it back as a signer.Signer for remote signing.
func ExampleCA_IssueKeyGen() {
	ctx := context.Background()
	ca, _ := pki.NewDev(ctx, "")
	subject := pki.Subject{CommonName: "Acme Loans Signer", Organization: "Acme Loans Pvt Ltd", Country: "IN"}
	cert, keyID, err := ca.IssueKeyGen(ctx, pki.P256, subject, pki.ProfileDocumentSigner)
	if err != nil {
		panic(err)
	}
	s, err := ca.LoadSigner(ctx, cert.SerialNumber)
	if err != nil {
		panic(err)
	}
	digest := sha256.Sum256([]byte("loan agreement"))
	_, err = s.Sign(rand.Reader, digest[:], crypto.SHA256)
	fmt.Println(keyID != "", s.Certificate().Subject.CommonName, err)
	// Output: true Acme Loans Signer <nil>
}

func ExampleTSAClient_Timestamp() {
	ctx := context.Background()
	ca, _ := pki.NewDev(ctx, "")
	srv := httptest.NewServer(ca.TSA())
	defer srv.Close()

	digest := sha256.Sum256([]byte("signature value"))
	c := &pki.TSAClient{URL: srv.URL}
	token, err := c.Timestamp(ctx, crypto.SHA256, digest[:])
	fmt.Println(len(token) > 0, err)
	// Output: true <nil>
}

func ExampleLoadTrustAnchors() {
	ctx := context.Background()
	ca, _ := pki.NewDev(ctx, "")
	// Operators drop the CCA India root certificates (PEM) into a directory.
	dir, _ := os.MkdirTemp("", "roots")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "root.pem")
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root().Raw}), 0o644)

	pool, certs, err := pki.LoadTrustAnchors(path)
	fmt.Println(pool != nil, len(certs), certs[0].Subject.CommonName, err)
	// Output: true 1 SecureSign Dev Root CA <nil>
}
