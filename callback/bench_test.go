package callback

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"
	"testing"
	"time"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

// benchVerify measures Verifier.Verify of a valid single-signature result:
// decode, store lookup, certificate checks, chain to the root, signature,
// completion. Each iteration completes a fresh request.
func benchVerify(b *testing.B, kt testpki.KeyType, alg signer.Algorithm, cached bool) {
	f := newFixture(b)
	if cached {
		f.v.Chains = NewChainCache(0, 0)
	}
	leaf := f.rsa
	if kt == testpki.P256 {
		leaf = f.p256
	}
	digest := sum(crypto.SHA256, "bench")
	sig := sign(b, leaf, alg, crypto.SHA256, [][]byte{digest})
	payloads := make([]string, b.N)
	for i := range payloads {
		p := &Pending{RequestID: fmt.Sprintf("bench-%09d", i), Action: deeplink.ActionSign, Hashes: [][]byte{digest},
			HashAlgo: crypto.SHA256, ExpiresAt: f.now.Add(time.Hour)}
		if err := f.store.Add(p); err != nil {
			b.Fatal(err)
		}
		r, _ := NewSuccess(p.RequestID, alg, sig, leaf.Cert, leaf.Chain, f.now)
		payloads[i] = enc(b, r)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		o, err := f.v.Verify(ctx, payloads[i])
		if err != nil || o.Kind != Accepted {
			b.Fatalf("%v %s", err, o.Detail)
		}
	}
}

func BenchmarkVerifyResultRSA2048(b *testing.B) {
	benchVerify(b, testpki.RSA2048, signer.RSAPKCS1v15, false)
}
func BenchmarkVerifyResultP256(b *testing.B) { benchVerify(b, testpki.P256, signer.ECDSA, false) }

// With a ChainCache: the issuers' signatures are verified once, validity
// and revocation per result.
func BenchmarkVerifyResultRSA2048Cached(b *testing.B) {
	benchVerify(b, testpki.RSA2048, signer.RSAPKCS1v15, true)
}
func BenchmarkVerifyResultP256Cached(b *testing.B) { benchVerify(b, testpki.P256, signer.ECDSA, true) }

// The baselines: the bare signature check of one digest.
func BenchmarkRawRSAVerifyPKCS1v15(b *testing.B) {
	leaf := testpki.NewHierarchy(b).Issue(b, testpki.RSA2048, testpki.Options{})
	d := sum(crypto.SHA256, "bench")
	sig := sign(b, leaf, signer.RSAPKCS1v15, crypto.SHA256, [][]byte{d})[0]
	pub := leaf.Cert.PublicKey.(*rsa.PublicKey)
	for b.Loop() {
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d, sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawECDSAVerifyASN1(b *testing.B) {
	leaf := testpki.NewHierarchy(b).Issue(b, testpki.P256, testpki.Options{Slot: 1})
	d := sum(crypto.SHA256, "bench")
	sig := sign(b, leaf, signer.ECDSA, crypto.SHA256, [][]byte{d})[0]
	pub := leaf.Cert.PublicKey.(*ecdsa.PublicKey)
	for b.Loop() {
		if !ecdsa.VerifyASN1(pub, d, sig) {
			b.Fatal("invalid")
		}
	}
}
