package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Credential prefixes. A key is PREFIX + 16 hex digits of public id + 52
// base32 characters of secret (256 bits); only SHA-256 of the whole key is
// stored, and it is compared in constant time after a lookup by id.
const (
	PrefixLiveKey = "ss_live_"
	PrefixTestKey = "ss_test_"
	PrefixToken   = "ss_at_"
	keyIDLen      = 16
	keySecretLen  = 52
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// newID returns prefix + 24 hex digits (96 random bits).
func newID(prefix string) string { return prefix + randomHex(12) }

// newCredential makes a credential with prefix, returning the full secret,
// its public id and its hash.
func newCredential(prefix string) (secret, id string, hash [32]byte) {
	id = randomHex(keyIDLen / 2)
	sb := make([]byte, 32)
	if _, err := rand.Read(sb); err != nil {
		panic(err)
	}
	secret = prefix + id + strings.ToLower(b32.EncodeToString(sb))
	return secret, id, sha256.Sum256([]byte(secret))
}

// splitCredential returns the prefix and public id of a credential, or
// ok=false when it has not the shape of one.
func splitCredential(s string) (prefix, id string, ok bool) {
	for _, p := range []string{PrefixLiveKey, PrefixTestKey, PrefixToken} {
		if strings.HasPrefix(s, p) {
			rest := s[len(p):]
			if len(rest) != keyIDLen+keySecretLen {
				return "", "", false
			}
			for _, r := range rest {
				if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
					return "", "", false
				}
			}
			return p, rest[:keyIDLen], true
		}
	}
	return "", "", false
}

// NewAPIKey creates an API key for tenant and returns the secret, which
// exists nowhere else: show it once.
func NewAPIKey(ctx context.Context, st Store, tenantID, name string, live bool, now time.Time) (string, *APIKey, error) {
	if _, err := st.Tenant(ctx, tenantID); err != nil {
		return "", nil, fmt.Errorf("tenant %q: %w", tenantID, err)
	}
	prefix := PrefixTestKey
	if live {
		prefix = PrefixLiveKey
	}
	secret, id, h := newCredential(prefix)
	k := &APIKey{ID: id, TenantID: tenantID, Name: name, Hash: h, Live: live, CreatedAt: now}
	if err := st.CreateAPIKey(ctx, k); err != nil {
		return "", nil, err
	}
	return secret, k, nil
}

// principal is who made a request.
type principal struct {
	TenantID string
	KeyID    string // API key id (also for access tokens)
}

func who(c echo.Context) *principal {
	p, _ := c.Get("principal").(*principal)
	return p
}

var errUnauthorized = apiErr(http.StatusUnauthorized, CodeUnauthorized, "missing, unknown, revoked or expired credential")

// credentialOf reads the API key or access token of a request.
func credentialOf(r *http.Request) string {
	if v := r.Header.Get("X-SecureSign-Api-Key"); v != "" {
		return strings.TrimSpace(v)
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// authenticate resolves a credential to its tenant and key. Every failure
// is the same 401, so a caller cannot tell unknown from revoked keys.
func (s *Server) authenticate(ctx context.Context, cred string) (*principal, error) {
	prefix, id, ok := splitCredential(cred)
	if !ok {
		return nil, errUnauthorized
	}
	h := sha256.Sum256([]byte(cred))
	now := s.cfg.Now()
	keyID := id
	if prefix == PrefixToken {
		t, err := s.store.AccessToken(ctx, id)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, errUnauthorized
			}
			return nil, err
		}
		if subtle.ConstantTimeCompare(t.Hash[:], h[:]) != 1 || !now.Before(t.ExpiresAt) {
			return nil, errUnauthorized
		}
		keyID = t.APIKeyID
	}
	k, err := s.apiKey(ctx, keyID, now)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, errUnauthorized
		}
		return nil, err
	}
	if prefix != PrefixToken {
		if subtle.ConstantTimeCompare(k.Hash[:], h[:]) != 1 || (prefix == PrefixLiveKey) != k.Live {
			return nil, errUnauthorized
		}
	}
	if !k.RevokedAt.IsZero() || k.TenantDisabled {
		return nil, errUnauthorized
	}
	return &principal{TenantID: k.TenantID, KeyID: k.ID}, nil
}

// apiKeyCacheTTL is how long the gateway uses an API key record it read
// (its hash, revocation and tenant state) before reading it again: a key
// revoked or a tenant disabled (securesign gateway admin) stops working
// within this time on every running gateway.
const apiKeyCacheTTL = 2 * time.Second

// apiKeyCache keeps the API key records authenticate read, for
// apiKeyCacheTTL each. Only records the store returned are kept (an unknown
// id is asked again every time), and the secret presented is still
// compared, in constant time, with the record's hash on every request.
type apiKeyCache struct {
	mu  sync.Mutex
	m   map[string]cachedKey
	gen uint64 // bumped by every invalidation (invalidate.go)
}

type cachedKey struct {
	k  APIKey
	at time.Time
}

// apiKeyCacheSize bounds the cache; it is emptied when full.
const apiKeyCacheSize = 4096

// apiKey is s.store.APIKey through s.apiKeys.
func (s *Server) apiKey(ctx context.Context, id string, now time.Time) (*APIKey, error) {
	c := &s.apiKeys
	c.mu.Lock()
	e, ok := c.m[id]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Sub(e.at) < apiKeyCacheTTL && !now.Before(e.at) {
		return &e.k, nil
	}
	k, err := s.store.APIKey(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen != gen {
		// Invalidated while reading: the record may predate the change.
		c.mu.Unlock()
		return k, nil
	}
	if c.m == nil || len(c.m) >= apiKeyCacheSize {
		c.m = make(map[string]cachedKey)
	}
	c.m[id] = cachedKey{k: *k, at: now}
	c.mu.Unlock()
	return k, nil
}

// requireAuth is the middleware of every tenant call.
func (s *Server) requireAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := s.authenticate(c.Request().Context(), credentialOf(c.Request()))
		if err != nil {
			return err
		}
		if ok, retry := s.limiter.allow(p.KeyID, s.cfg.Now()); !ok {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())+1))
			return apiErr(http.StatusTooManyRequests, CodeRateLimited, "rate limit of %d requests per minute exceeded", s.cfg.RateLimitRPM)
		}
		c.Set("principal", p)
		return next(c)
	}
}

// rateLimiter is a token bucket per API key, in this process's memory:
// several gateways behind a balancer each allow the configured rate.
type rateLimiter struct {
	mu      sync.Mutex
	rpm     float64
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rpm int) *rateLimiter {
	return &rateLimiter{rpm: float64(rpm), buckets: map[string]*bucket{}}
}

// allow takes a token for key; when none is left it says how long until one.
func (l *rateLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) > 100000 { // bound memory: forget idle buckets
			for k, v := range l.buckets {
				if now.Sub(v.last) > time.Minute {
					delete(l.buckets, k)
				}
			}
		}
		b = &bucket{tokens: l.rpm, last: now}
		l.buckets[key] = b
	}
	b.tokens += now.Sub(b.last).Minutes() * l.rpm
	if b.tokens > l.rpm {
		b.tokens = l.rpm
	}
	b.last = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.rpm * float64(time.Minute))
	}
	b.tokens--
	return true, 0
}

// originAllowed reports whether origin (scheme://host[:port]) matches one
// of patterns: an exact origin, or scheme://host:* for any port.
func originAllowed(patterns []string, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Path != "" || u.User != nil {
		return false
	}
	for _, p := range patterns {
		if p == origin {
			return true
		}
		if base, ok := strings.CutSuffix(p, ":*"); ok {
			if u.Scheme+"://"+u.Hostname() == base {
				return true
			}
		}
	}
	return false
}

// NormalizeOrigin checks an allowlist entry, scheme://host[:port] or
// scheme://host:* (any port), and returns it in lower case.
func NormalizeOrigin(o string) (string, error) {
	o = strings.TrimRight(strings.TrimSpace(o), "/")
	test := strings.Replace(o, ":*", "", 1)
	u, err := url.Parse(test)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
		return "", fmt.Errorf("origin %q is not scheme://host[:port] or scheme://host:*", o)
	}
	return strings.ToLower(o), nil
}
