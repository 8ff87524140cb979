package pki

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/securesign/securesign/internal/testpki"
)

func httpGet(t *testing.T, url string) (int, string, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// TestIssuingCARevocation: the issuing CA certificate of NewDev points at a
// root-signed CRL served by Handler, under the same base URL as the
// leaves' OCSP and CRL URLs, and a hard-fail check finds it good there.
func TestIssuingCARevocation(t *testing.T) {
	ctx := context.Background()
	tc := newTestCA(t)
	inter, root := tc.Certificate(), tc.Root()
	leaf, err := tc.IssueCSR(ctx, makeCSR(t, testpki.Key(t, testpki.P256, 0), "x"), individual, "")
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(leaf.CRLDistributionPoints[0], "/crl")
	if base != tc.srv.URL {
		t.Fatalf("leaf CRL URL %q is not under %q", leaf.CRLDistributionPoints[0], tc.srv.URL)
	}
	if diff := cmp.Diff([]string{base + RootCRLPath}, inter.CRLDistributionPoints); diff != "" {
		t.Errorf("issuing CA CRL distribution points (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{base + RootCertPath}, inter.IssuingCertificateURL); diff != "" {
		t.Errorf("issuing CA caIssuers (-want +got):\n%s", diff)
	}
	if len(inter.OCSPServer) != 0 {
		t.Errorf("issuing CA names OCSP %v; the root has no responder", inter.OCSPServer)
	}

	code, ctype, der := httpGet(t, inter.CRLDistributionPoints[0])
	if code != 200 || ctype != "application/pkix-crl" {
		t.Fatalf("GET %s: %d %q", RootCRLPath, code, ctype)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(root); err != nil {
		t.Errorf("root CRL not signed by the root: %v", err)
	}
	if crl.Number == nil || crl.Number.Sign() <= 0 || !crl.NextUpdate.After(crl.ThisUpdate) || len(crl.RevokedCertificateEntries) != 0 {
		t.Errorf("root CRL number %v, thisUpdate %v, nextUpdate %v, %d entries", crl.Number, crl.ThisUpdate, crl.NextUpdate, len(crl.RevokedCertificateEntries))
	}
	code, ctype, b := httpGet(t, inter.IssuingCertificateURL[0])
	if code != 200 || ctype != "application/pkix-cert" || string(b) != string(root.Raw) {
		t.Errorf("GET %s: %d %q, root: %v", RootCertPath, code, ctype, string(b) == string(root.Raw))
	}

	hard := NewRevocationChecker(RevocationOptions{HardFail: true, Timeout: 5 * time.Second})
	st, err := hard.Check(ctx, inter, root)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateGood || st.Source != SourceCRL || string(st.CRL) != string(der) {
		t.Errorf("issuing CA: %s from %q (CRL is the served one: %v)", st.State, st.Source, string(st.CRL) == string(der))
	}
	// From the DSS-style embedded data alone, as a PDF validator does.
	st, err = hard.CheckEmbedded(inter, root, nil, [][]byte{st.CRL}, time.Time{})
	if err != nil || st.State != StateGood {
		t.Errorf("embedded: %v %v", st, err)
	}
	// The whole chain passes hard-fail revocation checking.
	res, err := VerifyChain(ctx, leaf, []*x509.Certificate{inter}, VerifyOptions{Roots: rootsOf(root), Revocation: hard})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Revocation) != 2 || res.Revocation[1].State != StateGood {
		t.Errorf("chain revocation %+v", res.Revocation)
	}
}

func TestRootCRLNumbersAndCache(t *testing.T) {
	ctx := context.Background()
	h, err := NewHierarchy(ctx, HierarchyOptions{Name: "Clock", BaseURL: "http://ca.test/pki/"})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Issuing.CRLDistributionPoints; len(got) != 1 || got[0] != "http://ca.test/pki/crl/root" {
		t.Errorf("trailing slash not trimmed: %v", got)
	}
	now := time.Now()
	for _, store := range []struct {
		name string
		s    Store
	}{{"memory", NewMemoryStore()}, {"counter", &counterStore{MemoryStore: NewMemoryStore()}}} {
		t.Run(store.name, func(t *testing.T) {
			clock := now
			ca, err := New(ctx, Config{Cert: h.Issuing, Key: h.IssuingKey, Chain: h.chain(), RootKey: h.RootKey,
				Store: store.s, Now: func() time.Time { return clock }})
			if err != nil {
				t.Fatal(err)
			}
			var last *big.Int
			var lastDER []byte
			for i, step := range []time.Duration{0, time.Minute, 3 * time.Hour, 3 * time.Hour} {
				clock = clock.Add(step)
				der, err := ca.RootCRL(ctx)
				if err != nil {
					t.Fatal(err)
				}
				crl, err := x509.ParseRevocationList(der)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case step == time.Minute && string(der) != string(lastDER):
					t.Errorf("step %d: root CRL remade within a tenth of its validity", i)
				case step > time.Minute && crl.Number.Cmp(last) <= 0:
					t.Errorf("step %d: CRL number %v after %v", i, crl.Number, last)
				}
				if want := clock.Truncate(time.Second).Add(-step); step == time.Minute && !crl.ThisUpdate.Equal(want) {
					t.Errorf("step %d: thisUpdate %v", i, crl.ThisUpdate)
				}
				last, lastDER = crl.Number, der
			}
			// The issuing CA's own CRL numbers are a separate counter.
			if _, err := ca.CRL(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRootCRLConfig covers the offline root (a CRL signed ahead, served as
// is), revoking the issuing CA that way, and Config checks.
func TestRootCRLConfig(t *testing.T) {
	ctx := context.Background()
	var handler http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	defer srv.Close()
	h, err := NewHierarchy(ctx, HierarchyOptions{Name: "Offline", BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewHierarchy(ctx, HierarchyOptions{Name: "Other"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	revokedARL, err := CreateRootCRL(h.Root, h.RootKey, big.NewInt(7),
		[]RevokedEntry{{Serial: h.Issuing.SerialNumber, RevokedAt: now.Add(-time.Hour), Reason: ReasonCACompromise}}, now, now.Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := CreateRootCRL(other.Root, other.RootKey, big.NewInt(1), nil, now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	base := Config{Cert: h.Issuing, Key: h.IssuingKey, Chain: h.chain(), Store: NewMemoryStore()}
	for _, tt := range []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"root key", func(c *Config) { c.RootKey = h.RootKey }, true},
		{"static CRL", func(c *Config) { c.RootCRL = revokedARL }, true},
		{"wrong root key", func(c *Config) { c.RootKey = other.RootKey }, false},
		{"CRL of another root", func(c *Config) { c.RootCRL = foreign }, false},
		{"garbage CRL", func(c *Config) { c.RootCRL = []byte("not a CRL") }, false},
	} {
		c := base
		c.Store = NewMemoryStore()
		tt.edit(&c)
		if _, err := New(ctx, c); (err == nil) != tt.ok {
			t.Errorf("%s: New error %v", tt.name, err)
		}
	}
	if _, err := CreateRootCRL(h.Root, other.RootKey, big.NewInt(1), nil, now, now.Add(time.Hour)); err == nil {
		t.Error("CreateRootCRL with a foreign key succeeded")
	}
	if _, err := CreateRootCRL(h.Root, h.RootKey, big.NewInt(1), []RevokedEntry{{Serial: big.NewInt(1), Reason: ReasonCertificateHold}}, now, now.Add(time.Hour)); !errors.Is(err, ErrBadReason) {
		t.Errorf("certificateHold: %v", err)
	}
	if _, err := NewHierarchy(ctx, HierarchyOptions{BaseURL: "ftp://ca.test"}); !errors.Is(err, ErrBadURL) {
		t.Errorf("ftp base URL: %v", err)
	}

	// No root CRL configured: 404, and the CA says why.
	ca, err := New(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	handler = ca.Handler()
	if _, err := ca.RootCRL(ctx); !errors.Is(err, ErrNoRootCRL) {
		t.Errorf("RootCRL without a root key: %v", err)
	}
	if code, _, _ := httpGet(t, srv.URL+RootCRLPath); code != http.StatusNotFound {
		t.Errorf("GET %s without a root CRL: %d", RootCRLPath, code)
	}
	rc := NewRevocationChecker(RevocationOptions{HardFail: true, CacheTTL: -1})
	if _, err := rc.Check(ctx, h.Issuing, h.Root); !errors.Is(err, ErrRevocationUnknown) {
		t.Errorf("hard fail without a root CRL: %v", err)
	}

	// An offline root's CRL revoking the issuing CA, served as is.
	c := base
	c.RootCRL = revokedARL
	if ca, err = New(ctx, c); err != nil {
		t.Fatal(err)
	}
	handler = ca.Handler()
	st, err := rc.Check(ctx, h.Issuing, h.Root)
	if err != nil || st.State != StateRevoked || st.Reason != ReasonCACompromise {
		t.Errorf("revoked issuing CA: %+v %v", st, err)
	}
}

// TestOpenSSLRootCRL: openssl verifies the root CRL against the root, and
// the whole chain with CRL checks on every level (-crl_check_all).
func TestOpenSSLRootCRL(t *testing.T) {
	ctx := context.Background()
	tc := newTestCA(t)
	leaf, err := tc.IssueCSR(ctx, makeCSR(t, testpki.Key(t, testpki.P256, 0), "x"), individual, "")
	if err != nil {
		t.Fatal(err)
	}
	_, _, rootCRL := httpGet(t, tc.Certificate().CRLDistributionPoints[0])
	_, _, leafCRL := httpGet(t, leaf.CRLDistributionPoints[0])
	write := func(name string, data []byte) string {
		p := filepath.Join(tc.dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	root := tc.writePEM(t, "root.pem", tc.Root())
	rootCRLPath := write("rootcrl", rootCRL)
	out := runOpenSSL(t, "crl", "-inform", "DER", "-in", rootCRLPath, "-CAfile", root, "-noout")
	if !strings.Contains(out, "verify OK") {
		t.Fatalf("openssl crl: %s", out)
	}
	rootPEM := write("rootcrl.pem", []byte(runOpenSSL(t, "crl", "-inform", "DER", "-in", rootCRLPath)))
	leafPEM := write("leafcrl.pem", []byte(runOpenSSL(t, "crl", "-inform", "DER", "-in", write("leafcrl", leafCRL))))
	out = runOpenSSL(t, "verify", "-crl_check_all", "-CAfile", root, "-untrusted", tc.writePEM(t, "inter.pem", tc.Certificate()),
		"-CRLfile", rootPEM, "-CRLfile", leafPEM, tc.writePEM(t, "leaf.pem", leaf))
	if !strings.Contains(out, ": OK") {
		t.Fatalf("openssl verify -crl_check_all: %s", out)
	}
}

// counterStore keeps a root CRL counter the way cadir.Store does in SQLite,
// to exercise RootCRL's rootCRLNumberer path without an SQL engine here.
type counterStore struct {
	*MemoryStore
	mu sync.Mutex
	n  int64
}

func (s *counterStore) NextRootCRLNumber(context.Context) (*big.Int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return big.NewInt(s.n), nil
}
