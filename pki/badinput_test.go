package pki

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/securesign/securesign/internal/testpki"
)

// snapshot copies a MemoryStore's whole state.
func (m *MemoryStore) snapshot() map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	certs := map[string]string{}
	for k, r := range m.certs {
		certs[k] = r.RevokedAt.String() + "/" + ReasonName(r.Reason) + "/" + string(r.DER)
	}
	keys := map[string]string{}
	for k, b := range m.keys {
		keys[k] = string(b)
	}
	return map[string]any{"certs": certs, "keys": keys, "crl": m.crlN}
}

func TestBadInputChangesNothing(t *testing.T) {
	tc := newTestCA(t)
	ctx := context.Background()
	store := tc.Store().(*MemoryStore)
	good := testpki.Key(t, testpki.P256, 0)
	issued, err := tc.IssueCSR(ctx, makeCSR(t, good, "x"), individual, "")
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := tc.IssueCSR(ctx, makeCSR(t, good, "x"), individual, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.Revoke(ctx, revoked.SerialNumber, ReasonSuperseded); err != nil {
		t.Fatal(err)
	}

	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	badSig := func() []byte {
		b, _ := pem.Decode(makeCSR(t, good, "x"))
		b.Bytes[len(b.Bytes)-3] ^= 0x55 // inside the signature value
		return pem.EncodeToMemory(b)
	}()

	for _, tt := range []struct {
		name string
		do   func() error
		want error
	}{
		{"garbage CSR", func() error {
			_, err := tc.IssueCSR(ctx, []byte("not a CSR at all"), individual, "")
			return err
		}, ErrBadCSR},
		{"empty CSR", func() error { _, err := tc.IssueCSR(ctx, nil, individual, ""); return err }, ErrBadCSR},
		{"certificate instead of CSR", func() error {
			_, err := tc.IssueCSR(ctx, testpki.PEM(issued), individual, "")
			return err
		}, ErrBadCSR},
		{"bad self-signature", func() error { _, err := tc.IssueCSR(ctx, badSig, individual, ""); return err }, ErrBadCSR},
		{"RSA-1024", func() error { _, err := tc.IssueCSR(ctx, makeCSR(t, rsa1024, "x"), individual, ""); return err }, ErrWeakKey},
		{"P-224", func() error { _, err := tc.IssueCSR(ctx, makeCSR(t, p224, "x"), individual, ""); return err }, ErrWeakKey},
		{"Ed25519", func() error { _, err := tc.IssueCSR(ctx, makeCSR(t, ed, "x"), individual, ""); return err }, ErrWeakKey},
		{"unknown profile", func() error {
			_, err := tc.IssueCSR(ctx, makeCSR(t, good, "x"), individual, "class-2")
			return err
		}, ErrUnknownProfile},
		{"keygen unknown profile", func() error { _, _, err := tc.IssueKeyGen(ctx, P256, individual, "nope"); return err }, ErrUnknownProfile},
		{"keygen weak type", func() error { _, _, err := tc.IssueKeyGen(ctx, "rsa-1024", individual, ""); return err }, ErrWeakKey},
		{"keygen bad subject", func() error { _, _, err := tc.IssueKeyGen(ctx, P256, Subject{CommonName: "x"}, ""); return err }, ErrBadSubject},
		{"missing state and postal code", func() error {
			_, err := tc.IssueCSR(ctx, makeCSR(t, good, "x"), Subject{CommonName: "Rajesh Kumar", Country: "IN"}, "")
			return err
		}, ErrBadSubject},
		{"foreign country", func() error {
			s := individual
			s.Country = "US"
			_, err := tc.IssueCSR(ctx, makeCSR(t, good, "x"), s, "")
			return err
		}, ErrBadSubject},
		{"newline in CN", func() error {
			s := individual
			s.CommonName = "Rajesh\nKumar"
			_, err := tc.IssueCSR(ctx, makeCSR(t, good, "x"), s, "")
			return err
		}, ErrBadSubject},
		{"revoke unknown serial", func() error { return tc.Revoke(ctx, big.NewInt(12345), ReasonKeyCompromise) }, ErrNotFound},
		{"revoke zero serial", func() error { return tc.Revoke(ctx, big.NewInt(0), ReasonKeyCompromise) }, ErrNotFound},
		{"revoke nil serial", func() error { return tc.Revoke(ctx, nil, ReasonKeyCompromise) }, ErrNotFound},
		{"revoke twice", func() error { return tc.Revoke(ctx, revoked.SerialNumber, ReasonKeyCompromise) }, ErrAlreadyRevoked},
		{"revoke with hold", func() error { return tc.Revoke(ctx, issued.SerialNumber, ReasonCertificateHold) }, ErrBadReason},
		{"revoke with reason 7", func() error { return tc.Revoke(ctx, issued.SerialNumber, 7) }, ErrBadReason},
		{"revoke with removeFromCRL", func() error { return tc.Revoke(ctx, issued.SerialNumber, ReasonRemoveFromCRL) }, ErrBadReason},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := store.snapshot()
			err := tt.do()
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			t.Logf("error: %v", err)
			if diff := cmp.Diff(before, store.snapshot()); diff != "" {
				t.Errorf("store changed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestParseReason(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
		err  bool
	}{
		{"keyCompromise", 1, false},
		{"KEYCOMPROMISE", 1, false},
		{"superseded", 4, false},
		{"0", 0, false},
		{"9", 9, false},
		{"certificateHold", 0, true},
		{"7", 0, true},
		{"bogus", 0, true},
		{"", 0, true},
	} {
		got, err := ParseReason(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseReason(%q) = %d, %v", tt.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrBadReason) {
			t.Errorf("ParseReason(%q) error %v does not wrap ErrBadReason", tt.in, err)
		}
	}
}
