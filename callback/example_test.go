package callback_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/signer"
)

// A portal verifies the ss_result a signing app delivered for a request it
// issued; a replay is recognised, a later cancel is refused.
func ExampleVerifier_Verify() {
	ctx := context.Background()
	root, leaf, leafKey := exampleCerts()

	// The portal, when it made the link, remembered the request.
	store := callback.NewMemoryStore()
	digest := sha256.Sum256([]byte("loan agreement"))
	_ = store.Add(&callback.Pending{
		RequestID: "req_0123456789abcdef", Action: deeplink.ActionSign,
		Hashes: [][]byte{digest[:]}, HashAlgo: crypto.SHA256, ExpiresAt: time.Now().Add(10 * time.Minute),
	})
	roots := x509.NewCertPool()
	roots.AddCert(root) // e.g. the CCA India roots, from pki.LoadTrustAnchors
	v := &callback.Verifier{Store: store, Roots: roots}

	// The signing app signed the digest and built the result.
	s, _ := signer.NewSoftware(leafKey, leaf, nil)
	sig, _ := signer.SignDigest(ctx, s, signer.ECDSA, crypto.SHA256, digest[:])
	res, _ := callback.NewSuccess("req_0123456789abcdef", signer.ECDSA, [][]byte{sig}, leaf, nil, time.Time{})
	ssResult, _ := callback.Encode(res)

	// The portal's callback handler.
	o, err := v.Verify(ctx, ssResult)
	if err != nil {
		fmt.Println("store failure:", err) // answer 500: the app retries
		return
	}
	fmt.Println(o.Kind, o.Success(), o.Completion.Certificate.Subject.CommonName)

	o, _ = v.Verify(ctx, ssResult) // delivered twice
	fmt.Println(o.Kind, o.Success())

	cancel, _ := callback.Encode(callback.NewFailure("req_0123456789abcdef", callback.ErrCancelled))
	o, _ = v.Verify(ctx, cancel)
	fmt.Println(o.Kind, o.Success())
	// Output:
	// accepted true Rajesh Kumar
	// duplicate true
	// conflict true
}

// exampleCerts makes a root and a signing certificate under it.
func exampleCerts() (root, leaf *x509.Certificate, leafKey *ecdsa.PrivateKey) {
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now().Add(-time.Hour)
	rt := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Example Root"},
		NotBefore: now, NotAfter: now.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, _ := x509.CreateCertificate(rand.Reader, rt, rt, rootKey.Public(), rootKey)
	root, _ = x509.ParseCertificate(der)
	lt := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Rajesh Kumar"},
		NotBefore: now, NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	der, _ = x509.CreateCertificate(rand.Reader, lt, root, leafKey.Public(), rootKey)
	leaf, _ = x509.ParseCertificate(der)
	return root, leaf, leafKey
}

// A signing app reports a wrong PIN; the code and the tries left come from
// the signer's error.
func ExampleNewFailure() {
	err := fmt.Errorf("token login: %w", &signer.PINError{TriesLeft: 2, Err: signer.ErrPINIncorrect})
	r := callback.NewFailure("req_0123456789abcdef", err)
	fmt.Println(r.Error, *r.PINTriesLeft)
	// Output:
	// SS_PIN_INVALID 2
}

// A mobile app opens the callback URL with the result appended; results
// too large for a URL go by POST with callback.Deliver instead.
func ExampleRedirectURL() {
	r := callback.NewFailure("req_0123456789abcdef", callback.ErrCancelled)
	u, err := callback.RedirectURL("https://portal.example.in/securesign/callback?tab=7", r)
	if errors.Is(err, callback.ErrRedirectTooLarge) {
		fmt.Println("POST it")
		return
	}
	fmt.Println(u)
	// Output:
	// https://portal.example.in/securesign/callback?tab=7&ss_result=eyJyZXF1ZXN0SWQiOiJyZXFfMDEyMzQ1Njc4OWFiY2RlZiIsInN1Y2Nlc3MiOmZhbHNlLCJlcnJvciI6IlNTX1NJR05fQ0FOQ0VMTEVEIiwibWVzc2FnZSI6ImNhbGxiYWNrOiBjYW5jZWxsZWQgYnkgdGhlIHVzZXIiLCJ2IjoxfQ%3D%3D
}
