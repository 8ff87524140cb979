package pdf_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"log"
	"os"

	"github.com/securesign/securesign/pdf"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

// Signing with a key from a PKCS#12 file, PAdES B-T, visible.
func ExampleSignFile() {
	p12, err := os.ReadFile("rajesh.p12")
	if err != nil {
		log.Fatal(err)
	}
	s, err := signer.LoadPKCS12(p12, os.Getenv("P12_PASSWORD"))
	if err != nil {
		log.Fatal(err)
	}
	err = pdf.SignFile(context.Background(), "loan.pdf", "loan-signed.pdf", s, pdf.SignOptions{
		Level:       pdf.LevelBT,
		Timestamper: &pki.TSAClient{URL: "https://tsa.example.in/tsa"},
		Reason:      "Loan agreement",
		Location:    "Bengaluru",
		Appearance:  &pdf.Appearance{Page: 1, X: 360, Y: 40, Width: 200, Height: 60},
	})
	if err != nil {
		log.Fatal(err)
	}
}

// Two-phase signing for a key on the user's token: prepare, send the
// digest in a deep link, finish when the signature comes back.
func ExamplePrepare() {
	ctx := context.Background()
	var cert *x509.Certificate    // the user's registered certificate
	var chain []*x509.Certificate // its intermediates
	ps, err := pdf.PrepareFile(ctx, "loan.pdf", "loan.prepared.pdf", cert, chain, pdf.SignOptions{Level: pdf.LevelBT})
	if err != nil {
		log.Fatal(err)
	}
	state, _ := ps.MarshalBinary() // store with the session
	fmt.Println("hashBase64:", base64.StdEncoding.EncodeToString(ps.Digest), "signAlgo:", ps.Algorithm)

	// Later, perhaps in another process:
	var back pdf.PreparedSignature
	if err := back.UnmarshalBinary(state); err != nil {
		log.Fatal(err)
	}
	var signature []byte // from the signing app's ss_result
	err = pdf.FinishFile(ctx, "loan.prepared.pdf", &back, signature, pdf.SignOptions{
		Timestamper: &pki.TSAClient{URL: "https://tsa.example.in/tsa"},
	})
	if err != nil {
		log.Fatal(err) // errors.Is(err, pdf.ErrSignatureMismatch): wrong key or digest
	}
}
