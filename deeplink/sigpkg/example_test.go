package sigpkg_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log"
	"math/big"
	"time"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/deeplink/sigpkg"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/pdf"
)

// A Go portal builds a signing package without the gateway: pdf.Prepare
// gives the prepared file and what the package needs (SignedAttributes,
// ByteRange); sigpkg.Build writes the package; the link names it by URL
// and SHA-256. The app side (sigpkg.Check, or Fetcher.Verify over HTTP)
// then proves the digest belongs to the PDF before it asks for the PIN.
func Example_portal() {
	ctx := context.Background()
	cert := userCertificate() // the user's registered certificate
	input := testpdf.Minimal("Personal Loan Agreement")

	// 1. Prepare the PDF: the input plus a revision with an empty signature.
	var prepared bytes.Buffer
	ps, err := pdf.Prepare(ctx, &prepared, bytes.NewReader(input), int64(len(input)), cert, nil, pdf.SignOptions{})
	if err != nil {
		log.Fatal(err)
	}

	// 2. The package: here with the PDF inline; a portal serving large
	// PDFs gives PDFURL and PDFSHA256 instead.
	const reqID = "req_12345678"
	raw, err := sigpkg.Build(&sigpkg.Package{RequestID: reqID, Documents: []sigpkg.Document{{
		Name: "Personal Loan Agreement", PDF: prepared.Bytes(),
		SignedAttrs: ps.SignedAttributes(), ByteRange: ps.ByteRange(),
	}}})
	if err != nil {
		log.Fatal(err)
	}

	// 3. The link: the portal serves raw at pkgUrl (on its own origin, for
	// this request only, until the link expires) and signs the link.
	key, _ := deeplink.NewSigningKey("k1", rand.Reader)
	link, err := deeplink.Build(&deeplink.Request{Action: deeplink.ActionSign, RequestID: reqID,
		CallbackURL: "https://sign.example.in/v1/callback", Origin: "https://sign.example.in", Expires: time.Now().Add(10 * time.Minute),
		Hashes: [][]byte{ps.Digest}, PackageURL: "https://sign.example.in/packages/" + reqID, PackageSHA256: sigpkg.Digest(raw)}, key)
	if err != nil {
		log.Fatal(err)
	}

	// The app's side: parse the link, check the package it fetched.
	l, err := deeplink.Parse(link, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	docs, err := sigpkg.Check(raw, sigpkg.ExpectOf(l), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: shows the prepared PDF: %v; signs the link's digest: %v\n", docs[0].Name,
		bytes.Equal(docs[0].PDF, prepared.Bytes()), bytes.Equal(docs[0].Digest, l.Hashes[0]))

	// A PDF changed after the link was made is refused.
	tampered := bytes.Replace(prepared.Bytes(), []byte("Loan"), []byte("Lean"), 1)
	bad, _ := sigpkg.Build(&sigpkg.Package{RequestID: reqID, Documents: []sigpkg.Document{{
		Name: "Personal Loan Agreement", PDF: tampered, SignedAttrs: ps.SignedAttributes(), ByteRange: ps.ByteRange()}}})
	exp := sigpkg.ExpectOf(l)
	exp.PackageSHA256 = sigpkg.Digest(bad) // even by a portal that signs a new link for it
	_, err = sigpkg.Check(bad, exp, nil)
	fmt.Println(err.(*sigpkg.Error).Check)
	// Output:
	// Personal Loan Agreement: shows the prepared PDF: true; signs the link's digest: true
	// message-digest
}

// userCertificate makes a self-signed certificate, standing in for the
// user's DSC.
func userCertificate() *x509.Certificate {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Rajesh Kumar"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		log.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}
