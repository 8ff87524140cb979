//go:build cgo

package signer_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/ThalesGroup/crypto11"

	"github.com/securesign/securesign/internal/softhsmtest"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

// BenchmarkTokenSign compares signatures per second through signer (which
// verifies every signature) with raw crypto11 (which does not) on the same
// SoftHSM keys. Run: go test -run '^$' -bench TokenSign ./signer
//
// The two never have the module initialized at the same time: crypto11
// refuses a module someone else initialized, so each sub-benchmark opens
// and closes its own.
func BenchmarkTokenSign(b *testing.B) {
	tok := softhsmtest.New(b)
	h := testpki.NewHierarchy(b)
	keys := []struct {
		name string
		id   []byte
		leaf *testpki.Leaf
	}{
		{"RSA-2048", []byte{1}, h.Issue(b, testpki.RSA2048, testpki.Options{})},
		{"P-256", []byte{2}, h.Issue(b, testpki.P256, testpki.Options{})},
	}
	for _, k := range keys {
		tok.ImportWith(b, k.name, k.leaf.Key, k.leaf.Cert, softhsmtest.ImportOptions{ID: k.id})
	}
	digest := sha256.Sum256([]byte("benchmark"))
	ctx := context.Background()

	b.Run("signer", func(b *testing.B) {
		for _, k := range keys {
			b.Run(k.name, func(b *testing.B) {
				m, err := signer.OpenModule(ctx, tok.Module)
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close()
				s, err := m.Signer(ctx, signer.TokenSelector{Label: tok.Label}, signer.KeySelector{KeyLabel: k.name}, []byte(tok.PIN))
				if err != nil {
					b.Fatal(err)
				}
				defer s.(interface{ Close() error }).Close()
				alg := signer.DefaultAlgorithm(s.Public())
				for b.Loop() {
					if _, err := signer.SignDigest(ctx, s, alg, crypto.SHA256, digest[:]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
	b.Run("crypto11-raw", func(b *testing.B) {
		for _, k := range keys {
			b.Run(k.name, func(b *testing.B) {
				c, err := crypto11.Configure(&crypto11.Config{Path: tok.Module, TokenLabel: tok.Label, Pin: tok.PIN})
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				key, err := c.FindKeyPair(k.id, nil)
				if err != nil || key == nil {
					b.Fatalf("FindKeyPair: %v", err)
				}
				for b.Loop() {
					if _, err := key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
	// crypto11 plus the verification signer does on every signature: what
	// signer costs beyond the check the issue demands.
	b.Run("crypto11-verified", func(b *testing.B) {
		for _, k := range keys {
			b.Run(k.name, func(b *testing.B) {
				c, err := crypto11.Configure(&crypto11.Config{Path: tok.Module, TokenLabel: tok.Label, Pin: tok.PIN})
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				key, err := c.FindKeyPair(k.id, nil)
				if err != nil || key == nil {
					b.Fatalf("FindKeyPair: %v", err)
				}
				alg := signer.DefaultAlgorithm(key.Public())
				for b.Loop() {
					sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
					if err != nil {
						b.Fatal(err)
					}
					if err := signer.VerifyDigest(k.leaf.Cert.PublicKey, alg, crypto.SHA256, digest[:], sig); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
}

// BenchmarkTokenSignRatio interleaves signer and raw crypto11 signatures on
// the same key, one each per iteration, so that load from other processes
// hits both alike; it reports each one's time and their throughput ratio
// (signer/crypto11; 1 = as fast). crypto11 initializes the module first and
// signer shares it. Run: go test -run '^$' -bench TokenSignRatio ./signer
func BenchmarkTokenSignRatio(b *testing.B) {
	tok := softhsmtest.New(b)
	h := testpki.NewHierarchy(b)
	keys := []struct {
		name string
		id   []byte
		leaf *testpki.Leaf
	}{
		{"RSA-2048", []byte{1}, h.Issue(b, testpki.RSA2048, testpki.Options{})},
		{"P-256", []byte{2}, h.Issue(b, testpki.P256, testpki.Options{})},
	}
	for _, k := range keys {
		tok.ImportWith(b, k.name, k.leaf.Key, k.leaf.Cert, softhsmtest.ImportOptions{ID: k.id})
	}
	digest := sha256.Sum256([]byte("benchmark"))
	ctx := context.Background()
	c, err := crypto11.Configure(&crypto11.Config{Path: tok.Module, TokenLabel: tok.Label, Pin: tok.PIN})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	m, err := signer.OpenModule(ctx, tok.Module)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	// All signer Signers first: the first one logs crypto11's login out and
	// in again (to check the PIN), which invalidates private-key handles
	// crypto11 found before; the last Close logs out.
	signers := make([]signer.Signer, len(keys))
	for i, k := range keys {
		s, err := m.Signer(ctx, signer.TokenSelector{Label: tok.Label}, signer.KeySelector{KeyLabel: k.name}, []byte(tok.PIN))
		if err != nil {
			b.Fatal(err)
		}
		defer s.(interface{ Close() error }).Close()
		signers[i] = s
	}
	for i, k := range keys {
		b.Run(k.name, func(b *testing.B) {
			raw, err := c.FindKeyPair(k.id, nil)
			if err != nil || raw == nil {
				b.Fatalf("FindKeyPair: %v", err)
			}
			s := signers[i]
			alg := signer.DefaultAlgorithm(s.Public())
			var tSigner, tRaw time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := signer.SignDigest(ctx, s, alg, crypto.SHA256, digest[:]); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, err := raw.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
				tSigner += t1.Sub(t0)
				tRaw += time.Since(t1)
			}
			n := float64(b.N)
			b.ReportMetric(float64(tSigner.Nanoseconds())/n, "signer-ns/sig")
			b.ReportMetric(float64(tRaw.Nanoseconds())/n, "crypto11-ns/sig")
			b.ReportMetric(float64(tRaw)/float64(tSigner), "signer/crypto11")
		})
	}
}
