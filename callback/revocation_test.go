package callback

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

// TestVerifyRevoked runs a real pki CA with its OCSP responder and CRL on
// loopback: a revoked signer certificate is rejected, over OCSP and over
// the CRL; an unreachable responder fails hard or soft as configured.
func TestVerifyRevoked(t *testing.T) {
	ctx := context.Background()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ca, err := pki.NewDev(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", ca.Handler())

	subject := pki.Subject{CommonName: "Rajesh Kumar", State: "Karnataka", PostalCode: "560001", Country: "IN"}
	issue := func(slot int) *testpki.Leaf {
		key := testpki.Key(t, testpki.RSA2048, slot)
		cert, err := ca.Issue(ctx, key.Public(), subject, "")
		if err != nil {
			t.Fatal(err)
		}
		return &testpki.Leaf{Cert: cert, Key: key, Chain: []*x509.Certificate{ca.Certificate()}}
	}
	good, revoked := issue(0), issue(1)
	if err := ca.Revoke(ctx, revoked.Cert.SerialNumber, 1); err != nil {
		t.Fatal(err)
	}
	if len(good.Cert.OCSPServer) == 0 || len(good.Cert.CRLDistributionPoints) == 0 {
		t.Fatalf("CA issued no OCSP/CRL URLs: %v %v", good.Cert.OCSPServer, good.Cert.CRLDistributionPoints)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Root())

	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()

	// Soft fail: pki.NewDev's issuing CA certificate names no OCSP or CRL
	// URL, so with hard fail every chain would be refused for it.
	tests := []struct {
		name string
		opts pki.RevocationOptions
		leaf *testpki.Leaf
		want error // nil: accepted
	}{
		{"good over OCSP", pki.RevocationOptions{DisableCRL: true}, good, nil},
		{"revoked over OCSP", pki.RevocationOptions{DisableCRL: true}, revoked, pki.ErrRevoked},
		{"good over CRL", pki.RevocationOptions{DisableOCSP: true}, good, nil},
		{"revoked over CRL", pki.RevocationOptions{DisableOCSP: true}, revoked, pki.ErrRevoked},
		{"revocation off", pki.RevocationOptions{}, revoked, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := NewMemoryStore()
			v := &Verifier{Store: store, Roots: roots}
			if tc.name != "revocation off" {
				tc.opts.CacheTTL = -1
				v.Revocation = pki.NewRevocationChecker(tc.opts)
			}
			f := &fixture{store: store, now: time.Now()}
			p := f.pending(t, 1, crypto.SHA256)
			o, err := v.Verify(ctx, enc(t, f.success(t, p, tc.leaf, signer.RSAPKCS1v15)))
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if o.Kind != Accepted {
					t.Errorf("%s: %s", o.Kind, o.Detail)
				}
				return
			}
			if o.Kind != Rejected || !errors.Is(o.Err, tc.want) {
				t.Errorf("%s %v, want rejected with %v", o.Kind, o.Err, tc.want)
			}
			if o.Code != CodeCertMismatch {
				t.Errorf("code %s", o.Code)
			}
		})
	}

	// The responder is down: hard fail rejects, soft fail accepts.
	mux2 := http.NewServeMux()
	srv2 := httptest.NewServer(mux2)
	ca2, err := pki.NewDev(ctx, srv2.URL)
	if err != nil {
		t.Fatal(err)
	}
	srv2.Close() // never answers
	key := testpki.Key(t, testpki.P256, 0)
	cert, err := ca2.Issue(ctx, key.Public(), subject, "")
	if err != nil {
		t.Fatal(err)
	}
	leaf := &testpki.Leaf{Cert: cert, Key: key, Chain: []*x509.Certificate{ca2.Certificate()}}
	roots2 := x509.NewCertPool()
	roots2.AddCert(ca2.Root())
	for _, hard := range []bool{true, false} {
		store := NewMemoryStore()
		v := &Verifier{Store: store, Roots: roots2, Revocation: pki.NewRevocationChecker(pki.RevocationOptions{HardFail: hard, Timeout: 2 * time.Second})}
		f := &fixture{store: store, now: time.Now()}
		p := f.pending(t, 1, crypto.SHA256)
		o, err := v.Verify(ctx, enc(t, f.success(t, p, leaf, signer.ECDSA)))
		if err != nil {
			t.Fatal(err)
		}
		if hard && (o.Kind != Rejected || !errors.Is(o.Err, pki.ErrRevocationUnknown)) {
			t.Errorf("hard fail: %s %v", o.Kind, o.Err)
		}
		if !hard && o.Kind != Accepted {
			t.Errorf("soft fail: %s %s", o.Kind, o.Detail)
		}
	}
}
