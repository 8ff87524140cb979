package callback

import (
	"container/list"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/securesign/securesign/pki"
)

// Defaults of NewChainCache.
const (
	DefaultChainCacheSize = 1024
	DefaultChainCacheTTL  = 5 * time.Minute
)

// ChainCache remembers certificate chains a Verifier has built and verified
// to its trust anchors, so that the results of one signer do not pay for
// the issuers' signatures (RSA-3072 and more) again and again. It is safe
// for concurrent use and meant to be shared by every Verifier of a process
// (a Verifier is cheap and often made per request; the cache is not).
//
// An entry is the chain built for one leaf and one set of intermediates
// (by their DER) under one Roots pool (the same *x509.CertPool). It is only
// a shortcut for the chain building and the issuers' signatures, which do
// not change: on a hit every certificate of the chain must still be valid
// at the result's time and, when the Verifier checks revocation, every
// certificate is asked of its RevocationChecker again (which answers from
// its own cache, at its own cadence). An entry lasts TTL at most, and never
// past the first NotAfter of its chain. Failures are never cached.
type ChainCache struct {
	size int
	ttl  time.Duration

	mu  sync.Mutex
	lru *list.List // of *chainEntry, most recently used first
	m   map[[32]byte]*list.Element

	hits, misses uint64 // for tests

	// Parsed certificates by the SHA-256 of their DER: a signer sends the
	// same certificates with every result. Emptied when full.
	certs map[[32]byte]*x509.Certificate
}

type chainEntry struct {
	key     [32]byte
	roots   *x509.CertPool
	chain   []*x509.Certificate
	expires time.Time
}

// NewChainCache returns a cache of at most size chains, each kept at most
// ttl. Zero or negative values mean DefaultChainCacheSize and
// DefaultChainCacheTTL.
func NewChainCache(size int, ttl time.Duration) *ChainCache {
	if size <= 0 {
		size = DefaultChainCacheSize
	}
	if ttl <= 0 {
		ttl = DefaultChainCacheTTL
	}
	return &ChainCache{size: size, ttl: ttl, lru: list.New(), m: make(map[[32]byte]*list.Element), certs: make(map[[32]byte]*x509.Certificate)}
}

// parse is x509.ParseCertificate, remembering what parsed. The
// certificates are shared: like every *x509.Certificate, read only.
func (c *ChainCache) parse(der []byte) (*x509.Certificate, error) {
	k := sha256.Sum256(der)
	c.mu.Lock()
	cert, ok := c.certs[k]
	c.mu.Unlock()
	if ok {
		return cert, nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err // failures are not remembered
	}
	c.mu.Lock()
	if len(c.certs) >= 4*c.size {
		clear(c.certs)
	}
	c.certs[k] = cert
	c.mu.Unlock()
	return cert, nil
}

// Len reports how many chains the cache holds.
func (c *ChainCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// chainKey identifies a leaf and the intermediates offered with it.
func chainKey(leaf *x509.Certificate, inter []*x509.Certificate) [32]byte {
	h := sha256.New()
	var n [8]byte
	write := func(der []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(der)))
		h.Write(n[:])
		h.Write(der)
	}
	write(leaf.Raw)
	for _, c := range inter {
		if c != nil {
			write(c.Raw)
		}
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// get returns the chain cached under key for roots if it is still fresh
// and every certificate of it valid at now.
func (c *ChainCache) get(key [32]byte, roots *x509.CertPool, now time.Time) []*x509.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[key]
	if !ok {
		c.misses++
		return nil
	}
	e := el.Value.(*chainEntry)
	if e.roots != roots || !now.Before(e.expires) {
		c.lru.Remove(el)
		delete(c.m, key)
		c.misses++
		return nil
	}
	for _, cert := range e.chain {
		if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
			// Not yet valid (a clock set back): verify afresh, which says why.
			c.misses++
			return nil
		}
	}
	c.lru.MoveToFront(el)
	c.hits++
	return e.chain
}

// put caches chain, verified at now under roots.
func (c *ChainCache) put(key [32]byte, roots *x509.CertPool, chain []*x509.Certificate, now time.Time) {
	exp := now.Add(c.ttl)
	for _, cert := range chain {
		if cert.NotAfter.Before(exp) {
			exp = cert.NotAfter
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := &chainEntry{key: key, roots: roots, chain: chain, expires: exp}
	if el, ok := c.m[key]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.m[key] = c.lru.PushFront(e)
	for c.lru.Len() > c.size {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.m, old.Value.(*chainEntry).key)
	}
}

// verifyChain is pki.VerifyChain for a result's signer, through v.Chains
// when set. It returns the chain from leaf to the trust anchor.
func (v *Verifier) verifyChain(ctx context.Context, leaf *x509.Certificate, inter []*x509.Certificate, now time.Time) ([]*x509.Certificate, error) {
	opts := pki.VerifyOptions{Roots: v.Roots, At: now, Revocation: v.Revocation, RequireSigningKeyUsage: true}
	if v.Chains == nil {
		res, err := pki.VerifyChain(ctx, leaf, inter, opts)
		if err != nil {
			return nil, err
		}
		return res.Chain, nil
	}
	key := chainKey(leaf, inter)
	if chain := v.Chains.get(key, v.Roots, now); chain != nil {
		// The chain's signatures, names, constraints and the leaf's key
		// usage held when it was cached and cannot change; validity at now
		// was checked by get; revocation can change and is asked again.
		if err := checkRevocation(ctx, v.Revocation, chain, now); err != nil {
			return nil, err
		}
		return chain, nil
	}
	res, err := pki.VerifyChain(ctx, leaf, inter, opts)
	if err != nil {
		return nil, err
	}
	v.Chains.put(key, v.Roots, res.Chain, now)
	return res.Chain, nil
}

// checkRevocation is pki.VerifyChain's revocation step for a chain built
// before: every certificate but the anchor, through rc's cache. A
// certificate revoked after now counts as good, as in pki.VerifyChain.
func checkRevocation(ctx context.Context, rc *pki.RevocationChecker, chain []*x509.Certificate, now time.Time) error {
	if rc == nil {
		return nil
	}
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		st, err := rc.Check(ctx, cert, issuer)
		if err != nil {
			return err
		}
		if st.State == pki.StateRevoked && (st.RevokedAt.IsZero() || !st.RevokedAt.After(now)) {
			return fmt.Errorf("%w: %q (serial %x) since %s, reason %s (%s)", pki.ErrRevoked,
				cert.Subject.CommonName, cert.SerialNumber, st.RevokedAt.UTC().Format(time.RFC3339), pki.ReasonName(st.Reason), st.Source)
		}
	}
	return nil
}
