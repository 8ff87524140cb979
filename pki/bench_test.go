package pki

import (
	"bytes"
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/crypto/ocsp"

	"github.com/securesign/securesign/internal/testpki"
)

func benchCA(b *testing.B, kt testpki.KeyType) *CA {
	b.Helper()
	ctx := context.Background()
	h, err := NewHierarchy(ctx, HierarchyOptions{RootKey: testpki.Key(b, kt, 9000), IssuingKey: testpki.Key(b, kt, 9001)})
	if err != nil {
		b.Fatal(err)
	}
	ca, err := New(ctx, Config{Cert: h.Issuing, Key: h.IssuingKey, Chain: []*x509.Certificate{h.Root}, Store: NewMemoryStore(), BaseURL: "http://ca.example/pki"})
	if err != nil {
		b.Fatal(err)
	}
	return ca
}

// BenchmarkIssue measures issuance (template, CA signature, store) per CA
// key type, for a P-256 subject key from a CSR.
func BenchmarkIssue(b *testing.B) {
	csr := makeCSR(b, testpki.Key(b, testpki.P256, 0), "bench")
	for _, kt := range []testpki.KeyType{testpki.RSA3072, testpki.P256} {
		b.Run("CA-"+string(kt), func(b *testing.B) {
			ca := benchCA(b, kt)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ca.IssueCSR(ctx, csr, individual, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOCSP measures signed OCSP responses (parse, store lookup, sign
// with the P-256 delegated responder).
func BenchmarkOCSP(b *testing.B) {
	ctx := context.Background()
	ca := benchCA(b, testpki.P256)
	cert, err := ca.Issue(ctx, testpki.Key(b, testpki.P256, 0).Public(), individual, "")
	if err != nil {
		b.Fatal(err)
	}
	req, _ := ocsp.CreateRequest(cert, ca.Certificate(), nil)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ca.RespondOCSP(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("http-handler", func(b *testing.B) {
		h := ca.Handler()
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/ocsp", bytes.NewReader(req)))
			if w.Code != http.StatusOK {
				b.Fatal(w.Code)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := ca.RespondOCSP(ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
