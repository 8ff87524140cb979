package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/google/go-cmp/cmp"

	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

func rootsOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// deadURL is an http URL on which nothing listens.
func deadURL(t *testing.T) string {
	s := httptest.NewServer(http.NotFoundHandler())
	u := s.URL
	s.Close()
	return u
}

func TestVerifyChain(t *testing.T) {
	ctx := context.Background()
	tc := newTestCA(t)
	key := testpki.Key(t, testpki.P256, 0)
	issue := func() *x509.Certificate {
		c, err := tc.IssueCSR(ctx, makeCSR(t, key, "x"), individual, "")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	good := issue()
	revokedOCSP := issue()
	if err := tc.Revoke(ctx, revokedOCSP.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	inters := []*x509.Certificate{tc.Certificate()}
	roots := rootsOf(tc.Root())

	// A foreign hierarchy for key usage and unreachable responders.
	other := testpki.NewHierarchy(t)
	encOnly := other.Issue(t, testpki.P256, testpki.Options{KeyUsage: x509.KeyUsageKeyEncipherment})
	dead := deadURL(t)
	unreachable := other.Issue(t, testpki.P256, testpki.Options{OCSPServer: []string{dead + "/ocsp"}, CRLDistributionPoints: []string{dead + "/crl"}})
	weird := other.Issue(t, testpki.P256, testpki.Options{OCSPServer: []string{"ldap://ldap.example/ocsp"}, CRLDistributionPoints: []string{"file:///etc/passwd"}})
	otherRoots := rootsOf(other.Root.Cert)

	online := NewRevocationChecker(RevocationOptions{})
	crlOnly := NewRevocationChecker(RevocationOptions{DisableOCSP: true})
	hard := NewRevocationChecker(RevocationOptions{HardFail: true, Timeout: 2 * time.Second})
	soft := NewRevocationChecker(RevocationOptions{Timeout: 2 * time.Second})

	for _, tt := range []struct {
		name   string
		leaf   *x509.Certificate
		inter  []*x509.Certificate
		opts   VerifyOptions
		want   error
		states []RevocationState
		source string
	}{
		{"good, no revocation", good, inters, VerifyOptions{Roots: roots}, nil, nil, ""},
		// The issuing CA is checked over the root-signed CRL (/crl/root).
		{"good via OCSP", good, inters, VerifyOptions{Roots: roots, Revocation: online, RequireSigningKeyUsage: true}, nil, []RevocationState{StateGood, StateGood}, SourceOCSP},
		{"good via CRL", good, inters, VerifyOptions{Roots: roots, Revocation: crlOnly}, nil, []RevocationState{StateGood, StateGood}, SourceCRL},
		{"good, hard fail", good, inters, VerifyOptions{Roots: roots, Revocation: hard}, nil, []RevocationState{StateGood, StateGood}, SourceOCSP},
		{"untrusted root", good, inters, VerifyOptions{Roots: otherRoots}, ErrUntrusted, nil, ""},
		{"no roots", good, inters, VerifyOptions{}, ErrUntrusted, nil, ""},
		{"missing intermediate", good, nil, VerifyOptions{Roots: roots}, ErrUntrusted, nil, ""},
		{"expired", good, inters, VerifyOptions{Roots: roots, At: time.Now().AddDate(3, 0, 0)}, ErrOutsideValidity, nil, ""},
		{"not yet valid", good, inters, VerifyOptions{Roots: roots, At: time.Now().AddDate(0, 0, -2)}, ErrOutsideValidity, nil, ""},
		{"bad key usage", encOnly.Cert, encOnly.Chain, VerifyOptions{Roots: otherRoots, RequireSigningKeyUsage: true}, ErrKeyUsage, nil, ""},
		{"key usage not asked", encOnly.Cert, encOnly.Chain, VerifyOptions{Roots: otherRoots}, nil, nil, ""},
		{"revoked via OCSP", revokedOCSP, inters, VerifyOptions{Roots: roots, Revocation: online}, ErrRevoked, []RevocationState{StateRevoked}, SourceOCSP},
		{"revoked via CRL only", revokedOCSP, inters, VerifyOptions{Roots: roots, Revocation: crlOnly}, ErrRevoked, []RevocationState{StateRevoked}, SourceCRL},
		{"responder down, soft fail", unreachable.Cert, unreachable.Chain, VerifyOptions{Roots: otherRoots, Revocation: soft}, nil, []RevocationState{StateUnknown, StateUnknown}, ""},
		{"responder down, hard fail", unreachable.Cert, unreachable.Chain, VerifyOptions{Roots: otherRoots, Revocation: hard}, ErrRevocationUnknown, []RevocationState{StateUnknown}, ""},
		{"non-http URLs, hard fail", weird.Cert, weird.Chain, VerifyOptions{Roots: otherRoots, Revocation: hard}, ErrBadURL, []RevocationState{StateUnknown}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := VerifyChain(ctx, tt.leaf, tt.inter, tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyChain error = %v, want %v", err, tt.want)
			}
			if err != nil {
				t.Logf("error: %v", err)
			}
			if res == nil {
				if tt.states != nil {
					t.Fatal("no result")
				}
				return
			}
			var states []RevocationState
			for _, s := range res.Revocation {
				states = append(states, s.State)
			}
			if diff := cmp.Diff(tt.states, states); diff != "" {
				t.Errorf("states (-want +got):\n%s", diff)
			}
			if tt.source != "" && res.Revocation[0].Source != tt.source {
				t.Errorf("source = %q, want %q", res.Revocation[0].Source, tt.source)
			}
			if tt.want == nil && len(res.Chain) != 3 {
				t.Errorf("chain of %d certificates, want 3", len(res.Chain))
			}
		})
	}
}

func TestRevocationCacheAndLimits(t *testing.T) {
	ctx := context.Background()
	tc := newTestCA(t)
	var hits atomic.Int32
	huge := bytes.Repeat([]byte{0x30}, 4096)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if strings.HasPrefix(r.URL.Path, "/big") {
			w.Write(huge)
			return
		}
		tc.Handler().ServeHTTP(w, r)
	}))
	defer srv.Close()

	cert, err := tc.IssueCSR(ctx, makeCSR(t, testpki.Key(t, testpki.P256, 0), "x"), individual, "")
	if err != nil {
		t.Fatal(err)
	}
	// Point a copy of the certificate at srv: only the URLs matter to Check.
	viaSrv := *cert
	viaSrv.OCSPServer = []string{srv.URL + "/ocsp"}
	viaSrv.CRLDistributionPoints = nil

	t.Run("cache", func(t *testing.T) {
		rc := NewRevocationChecker(RevocationOptions{})
		for range 3 {
			st, err := rc.Check(ctx, &viaSrv, tc.Certificate())
			if err != nil || st.State != StateGood {
				t.Fatalf("Check = %+v, %v", st, err)
			}
		}
		if n := hits.Load(); n != 1 {
			t.Errorf("%d requests for 3 checks, want 1 (cached)", n)
		}
		nocache := NewRevocationChecker(RevocationOptions{CacheTTL: -1})
		hits.Store(0)
		nocache.Check(ctx, &viaSrv, tc.Certificate())
		nocache.Check(ctx, &viaSrv, tc.Certificate())
		if n := hits.Load(); n != 2 {
			t.Errorf("%d requests without cache, want 2", n)
		}
	})
	t.Run("size limit", func(t *testing.T) {
		c := viaSrv
		c.OCSPServer = []string{srv.URL + "/big"}
		c.CRLDistributionPoints = []string{srv.URL + "/big-crl"}
		rc := NewRevocationChecker(RevocationOptions{MaxResponseBytes: 1024, HardFail: true})
		st, err := rc.Check(ctx, &c, tc.Certificate())
		if !errors.Is(err, ErrRevocationUnknown) || !errors.Is(err, ErrResponseTooLarge) {
			t.Fatalf("Check error = %v, want ErrRevocationUnknown wrapping ErrResponseTooLarge", err)
		}
		if st.State != StateUnknown {
			t.Errorf("state %q", st.State)
		}
	})
	t.Run("wrong issuer", func(t *testing.T) {
		other := testpki.NewHierarchy(t)
		rc := NewRevocationChecker(RevocationOptions{HardFail: true, DisableCRL: true})
		if _, err := rc.Check(ctx, &viaSrv, other.Intermediate.Cert); !errors.Is(err, ErrRevocationUnknown) {
			t.Fatalf("Check with the wrong issuer: %v", err)
		}
	})
}

func TestCheckEmbedded(t *testing.T) {
	ctx := context.Background()
	tc := newTestCA(t)
	key := testpki.Key(t, testpki.P256, 0)
	good, _ := tc.IssueCSR(ctx, makeCSR(t, key, "x"), individual, "")
	bad, _ := tc.IssueCSR(ctx, makeCSR(t, key, "x"), individual, "")
	if err := tc.Revoke(ctx, bad.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	ocspFor := func(c *x509.Certificate) []byte {
		st, err := NewRevocationChecker(RevocationOptions{DisableCRL: true}).Check(ctx, c, tc.Certificate())
		if err != nil || st.OCSPResponse == nil {
			t.Fatalf("Check: %+v %v", st, err)
		}
		return st.OCSPResponse
	}
	crl, err := tc.CRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	foreign := testpki.NewHierarchy(t)
	rc := NewRevocationChecker(RevocationOptions{})
	hard := NewRevocationChecker(RevocationOptions{HardFail: true})
	for _, tt := range []struct {
		name   string
		rc     *RevocationChecker
		cert   *x509.Certificate
		issuer *x509.Certificate
		ocsps  [][]byte
		crls   [][]byte
		at     time.Time
		state  RevocationState
		source string
		err    error
	}{
		{"good by OCSP", rc, good, tc.Certificate(), [][]byte{ocspFor(good)}, nil, time.Time{}, StateGood, SourceEmbeddedOCSP, nil},
		{"revoked by OCSP", rc, bad, tc.Certificate(), [][]byte{ocspFor(good), ocspFor(bad)}, nil, time.Time{}, StateRevoked, SourceEmbeddedOCSP, nil},
		{"revoked by CRL", rc, bad, tc.Certificate(), nil, [][]byte{crl}, time.Time{}, StateRevoked, SourceEmbeddedCRL, nil},
		{"good by CRL", rc, good, tc.Certificate(), nil, [][]byte{crl}, time.Time{}, StateGood, SourceEmbeddedCRL, nil},
		{"revoked by PEM CRL", rc, bad, tc.Certificate(), nil, [][]byte{pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl})}, time.Time{}, StateRevoked, SourceEmbeddedCRL, nil},
		{"revoked later than at", rc, bad, tc.Certificate(), nil, [][]byte{crl}, time.Now().Add(-time.Hour), StateGood, SourceEmbeddedCRL, nil},
		{"other cert's OCSP only", rc, bad, tc.Certificate(), [][]byte{ocspFor(good)}, nil, time.Time{}, StateUnknown, "", nil},
		{"wrong issuer", rc, good, foreign.Intermediate.Cert, [][]byte{ocspFor(good)}, [][]byte{crl}, time.Time{}, StateUnknown, "", nil},
		{"garbage", rc, good, tc.Certificate(), [][]byte{[]byte("junk")}, [][]byte{[]byte("junk")}, time.Time{}, StateUnknown, "", nil},
		{"nothing, hard fail", hard, good, tc.Certificate(), nil, nil, time.Time{}, StateUnknown, "", ErrRevocationUnknown},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, err := tt.rc.CheckEmbedded(tt.cert, tt.issuer, tt.ocsps, tt.crls, tt.at)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error = %v, want %v", err, tt.err)
			}
			if st.State != tt.state || st.Source != tt.source {
				t.Errorf("got %s from %q, want %s from %q", st.State, st.Source, tt.state, tt.source)
			}
		})
	}
}

func TestTSAClient(t *testing.T) {
	ctx := context.Background()
	tc := newTestCA(t)
	sum := sha256.Sum256([]byte("hello"))
	// A TSA that answers with another nonce (a replayed response).
	replay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := timestamp.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		req.Nonce.Add(req.Nonce, bigOne)
		der, _ := req.Marshal()
		resp, _ := tc.RespondTSA(r.Context(), der)
		w.Write(resp)
	}))
	defer replay.Close()
	// A "TSA" whose certificate is a document signer's (no timeStamping EKU).
	docKey := testpki.Key(t, testpki.P256, 7)
	docCert, err := tc.Issue(ctx, docKey.Public(), Subject{CommonName: "Not a TSA", Organization: "Acme", Country: "IN"}, ProfileDocumentSigner)
	if err != nil {
		t.Fatal(err)
	}
	docSigner, _ := signer.NewSoftware(docKey, docCert, tc.ChainCerts())
	// New refuses such a TSASigner, so build the CA by hand.
	fake := &CA{cfg: tc.cfg, profiles: tc.profiles, ocsp: tc.ocsp, tsa: docSigner}
	if _, err := New(ctx, Config{Cert: tc.Certificate(), Key: tc.cfg.Key, Chain: tc.cfg.Chain, Store: NewMemoryStore(), TSASigner: docSigner}); err == nil {
		t.Error("New accepted a TSA signer without the timeStamping EKU")
	}
	notTSA := httptest.NewServer(fake.TSA())
	defer notTSA.Close()
	for _, tt := range []struct {
		name   string
		client *TSAClient
		hash   crypto.Hash
		digest []byte
		want   error
	}{
		{"good", &TSAClient{URL: tc.srv.URL + "/tsa"}, crypto.SHA256, sum[:], nil},
		{"good with policy", &TSAClient{URL: tc.srv.URL + "/tsa", PolicyOID: tc.cfg.TSAPolicyOID}, crypto.SHA256, sum[:], nil},
		{"wrong policy", &TSAClient{URL: tc.srv.URL + "/tsa", PolicyOID: DevPolicyOID}, crypto.SHA256, sum[:], ErrTimestamp},
		{"SHA-1 refused", &TSAClient{URL: tc.srv.URL + "/tsa"}, crypto.SHA1, make([]byte, 20), ErrTimestamp},
		{"digest length", &TSAClient{URL: tc.srv.URL + "/tsa"}, crypto.SHA256, sum[:16], ErrTimestamp},
		{"nonce mismatch", &TSAClient{URL: replay.URL}, crypto.SHA256, sum[:], ErrTimestamp},
		{"not http", &TSAClient{URL: "ftp://tsa.example/"}, crypto.SHA256, sum[:], ErrBadURL},
		{"signer without timeStamping EKU", &TSAClient{URL: notTSA.URL}, crypto.SHA256, sum[:], ErrTimestamp},
		{"server down", &TSAClient{URL: deadURL(t)}, crypto.SHA256, sum[:], ErrTimestamp},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := tt.client.Timestamp(ctx, tt.hash, tt.digest)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if err != nil {
				t.Logf("error: %v", err)
				return
			}
			ts, err := timestamp.Parse(tok)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ts.HashedMessage, sum[:]) || ts.Accuracy != time.Second || !ts.Policy.Equal(tc.cfg.TSAPolicyOID) {
				t.Errorf("token: %+v", ts)
			}
			// A second token over the same digest gets another serial.
			tok2, err := tt.client.Timestamp(ctx, tt.hash, tt.digest)
			if err != nil {
				t.Fatal(err)
			}
			ts2, _ := timestamp.Parse(tok2)
			if ts2 == nil || ts2.SerialNumber.Cmp(ts.SerialNumber) == 0 {
				t.Error("two tokens share a serial number")
			}
		})
	}
}

var bigOne = new(big.Int).SetInt64(1)

// TestVerifyChainRevokedLater: a certificate revoked after the validation
// time (e.g. a signature's trusted timestamp) is good at that time.
func TestVerifyChainRevokedLater(t *testing.T) {
	ctx := context.Background()
	var clock atomic.Int64
	t0 := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	h, err := NewHierarchy(ctx, HierarchyOptions{Now: func() time.Time { return t0.Add(-time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ca, err := New(ctx, Config{Cert: h.Issuing, Key: h.IssuingKey, Chain: h.chain(), Store: NewMemoryStore(), BaseURL: srv.URL, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", ca.Handler())
	cert, err := ca.Issue(ctx, testpki.Key(t, testpki.P256, 0).Public(), individual, "")
	if err != nil {
		t.Fatal(err)
	}
	clock.Store(t0.Add(time.Hour).UnixNano())
	if err := ca.Revoke(ctx, cert.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	clock.Store(t0.Add(2 * time.Hour).UnixNano())
	crl, _ := ca.CRL(ctx)
	for _, tt := range []struct {
		name string
		opts VerifyOptions
		at   time.Duration
		want error
	}{
		{"OCSP, before revocation", VerifyOptions{Revocation: NewRevocationChecker(RevocationOptions{Now: now})}, 30 * time.Minute, nil},
		{"OCSP, after revocation", VerifyOptions{Revocation: NewRevocationChecker(RevocationOptions{Now: now})}, 90 * time.Minute, ErrRevoked},
		{"embedded CRL, before", VerifyOptions{EmbeddedCRLs: [][]byte{crl}}, 30 * time.Minute, nil},
		{"embedded CRL, after", VerifyOptions{EmbeddedCRLs: [][]byte{crl}}, 90 * time.Minute, ErrRevoked},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Roots = rootsOf(h.Root)
			tt.opts.At = t0.Add(tt.at)
			res, err := VerifyChain(ctx, cert, []*x509.Certificate{h.Issuing}, tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if res.Revocation[0].RevokedAt.IsZero() {
				t.Error("RevokedAt not reported")
			}
		})
	}
}
