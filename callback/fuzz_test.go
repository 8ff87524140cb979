package callback

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"testing"

	"github.com/securesign/securesign/signer"
)

// FuzzDecodeResult: Decode never panics; what it accepts re-encodes and
// decodes to the same result.
func FuzzDecodeResult(f *testing.F) {
	for _, s := range []string{
		`{"requestId":"r","success":true,"signatureBase64":"AQ==","v":1,"signaturesBase64":["AQ=="],"certificate":{"subjectCN":"x"}}`,
		`{"requestId":"r","success":false,"error":"SS_PIN_INVALID","message":"Wrong PIN","v":1,"pinTriesLeft":2}`,
		`{"requestId":"r","success":false,"error":"SS_SIGN_CANCELLED","success":true}`,
		`{"requestId":"r","Success":true}`,
	} {
		f.Add(base64.StdEncoding.EncodeToString([]byte(s)))
		f.Add(base64.RawURLEncoding.EncodeToString([]byte(s)))
	}
	f.Add("!!")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Decode(s)
		if err != nil {
			return
		}
		e, err := Encode(r)
		if err != nil {
			t.Fatalf("decoded result does not encode: %v", err)
		}
		r2, err := Decode(e)
		if err != nil {
			t.Fatalf("re-encoded result does not decode: %v", err)
		}
		if r2.RequestID != r.RequestID || r2.Success != r.Success || r2.Error != r.Error ||
			len(r2.SignaturesBase64) != len(r.SignaturesBase64) || r2.CertificateBase64 != r.CertificateBase64 {
			t.Fatalf("round trip changed the result: %+v vs %+v", r, r2)
		}
		// Accessors never panic either.
		_, _ = r.Signatures()
		_, _, _ = r.Certificates()
		_, _ = resultHash(r)
	})
}

// FuzzVerifyResult feeds mutated results to a Verifier with real pending
// requests: it never panics, and whatever it accepts really is a valid
// signature set over the issued digests by a certificate of the trusted
// hierarchy.
func FuzzVerifyResult(f *testing.F) {
	fx := newFixture(f)
	const requests = 4
	var pendings []*Pending
	for i := range requests {
		p := fx.pending(f, 1+i%2, crypto.SHA256)
		pendings = append(pendings, p)
		leaf := fx.rsa
		alg := signer.RSAPKCS1v15
		if i%2 == 1 {
			leaf, alg = fx.p256, signer.ECDSA
		}
		f.Add(enc(f, fx.success(f, p, leaf, alg)))
		f.Add(enc(f, NewFailure(p.RequestID, ErrCancelled)))
	}
	byID := map[string]*Pending{}
	for _, p := range pendings {
		byID[p.RequestID] = p
	}
	f.Fuzz(func(t *testing.T, s string) {
		// A fresh store each time, so a seed is not just a duplicate.
		store := NewMemoryStore()
		for _, p := range pendings {
			_ = store.Add(p)
		}
		v := *fx.v
		v.Store = store
		o, err := v.Verify(context.Background(), s)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if o.Kind != Accepted || !o.Success() {
			return
		}
		p := byID[o.RequestID]
		c := o.Completion
		if p == nil || len(c.Signatures) != len(p.Hashes) {
			t.Fatalf("accepted %d signatures for %q", len(c.Signatures), o.RequestID)
		}
		if _, err := c.Certificate.Verify(x509.VerifyOptions{Roots: v.Roots, Intermediates: poolOf(fx.h.Intermediate.Cert),
			CurrentTime: fx.now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Fatalf("accepted an untrusted certificate: %v", err)
		}
		alg := signer.DefaultAlgorithm(c.Certificate.PublicKey)
		for i, sig := range c.Signatures {
			if signer.VerifyDigest(c.Certificate.PublicKey, alg, p.HashAlgo, p.Hashes[i], sig) != nil &&
				signer.VerifyDigest(c.Certificate.PublicKey, signer.RSAPSS, p.HashAlgo, p.Hashes[i], sig) != nil {
				t.Fatalf("accepted signature %d does not verify", i)
			}
		}
	})
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
