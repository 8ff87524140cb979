package callback

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

// fixture is a trust hierarchy, signing certificates and a Verifier over a
// MemoryStore, with a fixed clock.
type fixture struct {
	h     *testpki.Hierarchy
	rsa   *testpki.Leaf
	p256  *testpki.Leaf
	store *MemoryStore
	v     *Verifier
	now   time.Time
	seq   atomic.Int64
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	h := testpki.NewHierarchy(t)
	roots := x509.NewCertPool()
	roots.AddCert(h.Root.Cert)
	f := &fixture{
		h:     h,
		rsa:   h.Issue(t, testpki.RSA2048, testpki.Options{}),
		p256:  h.Issue(t, testpki.P256, testpki.Options{Slot: 1}),
		store: NewMemoryStore(),
		now:   time.Now().Truncate(time.Second),
	}
	f.v = &Verifier{Store: f.store, Roots: roots, Now: func() time.Time { return f.now }}
	return f
}

func sum(h crypto.Hash, s string) []byte {
	switch h {
	case crypto.SHA384:
		d := sha512.Sum384([]byte(s))
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512([]byte(s))
		return d[:]
	}
	d := sha256.Sum256([]byte(s))
	return d[:]
}

// pending issues a sign request for n digests.
func (f *fixture) pending(t testing.TB, n int, hash crypto.Hash) *Pending {
	t.Helper()
	p := &Pending{
		RequestID: fmt.Sprintf("req-%08d", f.seq.Add(1)),
		Action:    deeplink.ActionSign,
		HashAlgo:  hash,
		Origin:    "https://portal.example.in",
		ExpiresAt: f.now.Add(10 * time.Minute),
	}
	for i := range n {
		p.Hashes = append(p.Hashes, sum(hash, fmt.Sprintf("%s document %d", p.RequestID, i)))
	}
	if err := f.store.Add(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// pendingRegister issues a register request.
func (f *fixture) pendingRegister(t testing.TB) *Pending {
	t.Helper()
	p := &Pending{
		RequestID: fmt.Sprintf("reg-%08d", f.seq.Add(1)),
		Action:    deeplink.ActionRegister,
		Origin:    "https://portal.example.in",
		Challenge: sum(crypto.SHA256, "challenge"),
		ExpiresAt: f.now.Add(10 * time.Minute),
	}
	if err := f.store.Add(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// sign signs digests with leaf as a signing app would.
func sign(t testing.TB, leaf *testpki.Leaf, alg signer.Algorithm, hash crypto.Hash, digests [][]byte) [][]byte {
	t.Helper()
	s, err := signer.NewSoftware(leaf.Key, leaf.Cert, leaf.Chain)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, d := range digests {
		sig, err := signer.SignDigest(context.Background(), s, alg, hash, d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sig)
	}
	return out
}

// digestsOf is what the app signs for p.
func digestsOf(p *Pending) ([][]byte, crypto.Hash) {
	if p.Action == deeplink.ActionRegister {
		return [][]byte{deeplink.RegisterDigest(p.Origin, p.RequestID, p.Challenge)}, crypto.SHA256
	}
	return p.Hashes, p.HashAlgo
}

// success is a valid result for p signed by leaf.
func (f *fixture) success(t testing.TB, p *Pending, leaf *testpki.Leaf, alg signer.Algorithm) *Result {
	t.Helper()
	d, h := digestsOf(p)
	r, err := NewSuccess(p.RequestID, alg, sign(t, leaf, alg, h, d), leaf.Cert, leaf.Chain, f.now)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func enc(t testing.TB, r *Result) string {
	t.Helper()
	s, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawECDSA converts a DER ECDSA signature to r||s.
func rawECDSA(t testing.TB, pub *ecdsa.PublicKey, der []byte) []byte {
	var sig struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &sig); err != nil {
		t.Fatal(err)
	}
	n := (pub.Curve.Params().BitSize + 7) / 8
	out := make([]byte, 2*n)
	sig.R.FillBytes(out[:n])
	sig.S.FillBytes(out[n:])
	return out
}

// foreignLeaf is a signing certificate under a root nobody trusts (its own
// keys: testpki's hierarchies share their CA keys).
func foreignLeaf(t testing.TB) *testpki.Leaf {
	t.Helper()
	rootKey := testpki.Key(t, testpki.P256, 77)
	now := time.Now().Add(-time.Hour)
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(77), Subject: pkix.Name{CommonName: "SecureSign Test Root"},
		NotBefore: now, NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	key := testpki.Key(t, testpki.RSA2048, 0)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(78), Subject: pkix.Name{CommonName: "Rajesh Kumar"},
		NotBefore: now, NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	der, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, key.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &testpki.Leaf{Cert: leaf, Key: key, Chain: []*x509.Certificate{root}}
}

var testNowLink = time.Date(2026, 6, 22, 10, 30, 0, 0, time.UTC)
