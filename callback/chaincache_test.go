package callback

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

type cacheStats struct{ Len, Hits, Misses int }

func statsOf(c *ChainCache) cacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cacheStats{c.lru.Len(), int(c.hits), int(c.misses)}
}

// deliver verifies a fresh request's result signed by leaf and returns the
// outcome.
func (f *fixture) deliver(t *testing.T, leaf *testpki.Leaf, alg signer.Algorithm) *Outcome {
	t.Helper()
	p := f.pending(t, 1, crypto.SHA256)
	o, err := f.v.Verify(context.Background(), enc(t, f.success(t, p, leaf, alg)))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestChainCache walks one cache through hits, misses, expiry and
// eviction; each step says what the cache must hold after it.
func TestChainCache(t *testing.T) {
	f := newFixture(t)
	f.v.Chains = NewChainCache(2, time.Minute)
	short := f.h.Issue(t, testpki.RSA2048, testpki.Options{Slot: 2, NotAfter: f.now.Add(2 * time.Hour)})
	foreign := foreignLeaf(t)
	start := f.now
	steps := []struct {
		name    string
		before  func()
		leaf    *testpki.Leaf
		alg     signer.Algorithm
		wantErr error // nil: accepted
		want    cacheStats
	}{
		{"first result verifies the chain", nil, f.rsa, signer.RSAPKCS1v15, nil, cacheStats{1, 0, 1}},
		{"same signer hits", nil, f.rsa, signer.RSAPKCS1v15, nil, cacheStats{1, 1, 1}},
		{"another signer misses", nil, f.p256, signer.ECDSA, nil, cacheStats{2, 1, 2}},
		{"untrusted chain is not cached", nil, foreign, signer.RSAPKCS1v15, pki.ErrUntrusted, cacheStats{2, 1, 3}},
		{"untrusted chain fails again", nil, foreign, signer.RSAPKCS1v15, pki.ErrUntrusted, cacheStats{2, 1, 4}},
		{"other roots miss", func() {
			roots := x509.NewCertPool()
			roots.AddCert(f.h.Root.Cert)
			f.v.Roots = roots
		}, f.rsa, signer.RSAPKCS1v15, nil, cacheStats{2, 1, 5}},
		{"hit under the new roots", nil, f.rsa, signer.RSAPKCS1v15, nil, cacheStats{2, 2, 5}},
		{"TTL passed", func() { f.now = start.Add(61 * time.Second) }, f.rsa, signer.RSAPKCS1v15, nil, cacheStats{2, 2, 6}},
		{"fresh again", nil, f.rsa, signer.RSAPKCS1v15, nil, cacheStats{2, 3, 6}},
		{"eviction of the least recently used", nil, short, signer.RSAPKCS1v15, nil, cacheStats{2, 3, 7}},
		{"evicted signer misses", nil, f.p256, signer.ECDSA, nil, cacheStats{2, 3, 8}},
		{"leaf expired: rejected though cached", func() { f.now = start.Add(3 * time.Hour) }, short, signer.RSAPKCS1v15, ErrCertExpired, cacheStats{2, 3, 8}},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		o := f.deliver(t, s.leaf, s.alg)
		switch {
		case s.wantErr == nil && o.Kind != Accepted:
			t.Errorf("%s: %s %s", s.name, o.Kind, o.Detail)
		case s.wantErr != nil && (o.Kind != Rejected || !errors.Is(o.Err, s.wantErr)):
			t.Errorf("%s: %s %v, want rejected with %v", s.name, o.Kind, o.Err, s.wantErr)
		}
		if diff := cmp.Diff(s.want, statsOf(f.v.Chains)); diff != "" {
			t.Errorf("%s: cache (-want +got):\n%s", s.name, diff)
		}
	}
}

// TestChainCacheBoundedByNotAfter: an entry never outlives its chain.
func TestChainCacheBoundedByNotAfter(t *testing.T) {
	f := newFixture(t)
	c := NewChainCache(0, time.Hour)
	f.v.Chains = c
	short := f.h.Issue(t, testpki.RSA2048, testpki.Options{Slot: 2, NotAfter: f.now.Add(10 * time.Minute)})
	if o := f.deliver(t, short, signer.RSAPKCS1v15); o.Kind != Accepted {
		t.Fatalf("%s %s", o.Kind, o.Detail)
	}
	e := c.lru.Front().Value.(*chainEntry)
	if !e.expires.Equal(short.Cert.NotAfter) {
		t.Errorf("entry expires %s, want the leaf's NotAfter %s", e.expires, short.Cert.NotAfter)
	}
	if got := c.get(e.key, f.v.Roots, short.Cert.NotAfter); got != nil {
		t.Error("entry used at its chain's NotAfter")
	}
}

// TestChainCacheRevocation: a cached chain is still checked for
// revocation on every result, through the checker.
func TestChainCacheRevocation(t *testing.T) {
	ctx := context.Background()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ca, err := pki.NewDev(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", ca.Handler())
	key := testpki.Key(t, testpki.P256, 3)
	cert, err := ca.Issue(ctx, key.Public(), pki.Subject{CommonName: "Rajesh Kumar", State: "Karnataka", PostalCode: "560001", Country: "IN"}, "")
	if err != nil {
		t.Fatal(err)
	}
	leaf := &testpki.Leaf{Cert: cert, Key: key, Chain: []*x509.Certificate{ca.Certificate()}}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Root())
	cache := NewChainCache(0, 0)
	f := &fixture{store: NewMemoryStore(), now: time.Now()}
	// No answer caching in the checker: the second result must see the
	// revocation at once.
	f.v = &Verifier{Store: f.store, Roots: roots, Chains: cache,
		Revocation: pki.NewRevocationChecker(pki.RevocationOptions{DisableCRL: true, CacheTTL: -1})}
	if o := f.deliver(t, leaf, signer.ECDSA); o.Kind != Accepted {
		t.Fatalf("before revocation: %s %s", o.Kind, o.Detail)
	}
	if err := ca.Revoke(ctx, cert.SerialNumber, 1); err != nil {
		t.Fatal(err)
	}
	o := f.deliver(t, leaf, signer.ECDSA)
	if o.Kind != Rejected || !errors.Is(o.Err, pki.ErrRevoked) || o.Code != CodeCertMismatch {
		t.Errorf("after revocation: %s %s %v", o.Kind, o.Code, o.Err)
	}
	if s := statsOf(cache); s.Hits != 1 {
		t.Errorf("the revoked result did not come through the cache: %+v", s)
	}
}

// TestChainCacheConcurrent: many deliveries at once through one small
// cache that keeps evicting (run with -race).
func TestChainCacheConcurrent(t *testing.T) {
	f := newFixture(t)
	f.v.Chains = NewChainCache(1, 0)
	type job struct {
		payload string
		id      string
	}
	var jobs []job
	for i := range 16 {
		leaf, alg := f.rsa, signer.RSAPKCS1v15
		if i%2 == 1 {
			leaf, alg = f.p256, signer.ECDSA
		}
		p := f.pending(t, 1, crypto.SHA256)
		jobs = append(jobs, job{enc(t, f.success(t, p, leaf, alg)), p.RequestID})
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() {
			o, err := f.v.Verify(context.Background(), j.payload)
			if err != nil || o.Kind != Accepted {
				t.Errorf("%s: %v %s %s", j.id, err, o.Kind, o.Detail)
			}
		})
	}
	wg.Wait()
	if s := statsOf(f.v.Chains); s.Len != 1 || s.Hits+s.Misses != len(jobs) {
		t.Errorf("cache %+v after %d deliveries", s, len(jobs))
	}
}

// TestChainCacheParse: certificates parse once, failures every time, and
// the parsed set stays bounded.
func TestChainCacheParse(t *testing.T) {
	f := newFixture(t)
	c := NewChainCache(1, 0)
	a, err := c.parse(f.rsa.Cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := c.parse(f.rsa.Cert.Raw); b != a {
		t.Error("the same DER parsed twice")
	}
	if _, err := c.parse([]byte{0x30, 0x03, 1, 2, 3}); err == nil {
		t.Error("garbage parsed")
	}
	for _, der := range [][]byte{f.p256.Cert.Raw, f.h.Intermediate.Cert.Raw, f.h.Root.Cert.Raw, f.rsa.Cert.Raw} {
		if _, err := c.parse(der); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.certs); n > 4 {
		t.Errorf("%d parsed certificates kept, want at most 4", n)
	}
}
