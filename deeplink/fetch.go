package deeplink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// WellKnownPath is where a portal publishes its link-verification keys.
const WellKnownPath = "/.well-known/securesign-keys.json"

// Fetcher gets and caches portals' key sets from
// {origin}/.well-known/securesign-keys.json. Only https origins are
// fetched, and http ones on a loopback host (development). Redirects are
// not followed. The zero value is ready to use; a Fetcher must not be
// copied after first use and is safe for concurrent use.
type Fetcher struct {
	// Client makes the requests; nil means http.DefaultTransport.
	Client *http.Client
	// Timeout bounds each fetch; zero means 10 s.
	Timeout time.Duration
	// MaxBytes bounds the JWKS document; zero means 64 KiB.
	MaxBytes int64
	// TTL is how long a fetched key set is used; zero means 10 minutes.
	TTL time.Duration
	// MinRefresh is how often, at most, a link with an unknown kid makes the
	// fetcher refetch before its TTL (key rotation); zero means 30 s.
	MinRefresh time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	cache    map[string]fetched
	inflight map[string]*fetchCall
}

// fetchCall is one fetch in progress, shared by concurrent callers for the
// same origin so a burst of links does not become a burst of requests.
type fetchCall struct {
	done chan struct{}
	keys *KeySet
	err  error
}

type fetched struct {
	keys *KeySet
	at   time.Time
}

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Keys returns the key set of origin, from the cache when fresh.
func (f *Fetcher) Keys(ctx context.Context, origin string) (*KeySet, error) {
	return f.keys(ctx, origin, false)
}

func (f *Fetcher) keys(ctx context.Context, origin string, refresh bool) (*KeySet, error) {
	if err := checkOrigin(origin); err != nil {
		return nil, err
	}
	now := f.now()
	f.mu.Lock()
	e, ok := f.cache[origin]
	f.mu.Unlock()
	if ok {
		age := now.Sub(e.at)
		if age < durationOr(f.TTL, 10*time.Minute) && (!refresh || age < durationOr(f.MinRefresh, 30*time.Second)) {
			return e.keys, nil
		}
	}
	f.mu.Lock()
	if c, ok := f.inflight[origin]; ok {
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.keys, c.err
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrFetch, ctx.Err())
		}
	}
	c := &fetchCall{done: make(chan struct{})}
	if f.inflight == nil {
		f.inflight = map[string]*fetchCall{}
	}
	f.inflight[origin] = c
	f.mu.Unlock()

	c.keys, c.err = f.fetch(ctx, origin)
	f.mu.Lock()
	delete(f.inflight, origin)
	if c.err == nil {
		if f.cache == nil {
			f.cache = map[string]fetched{}
		}
		f.cache[origin] = fetched{c.keys, now}
	}
	f.mu.Unlock()
	close(c.done)
	return c.keys, c.err
}

func (f *Fetcher) fetch(ctx context.Context, origin string) (*KeySet, error) {
	ctx, cancel := context.WithTimeout(ctx, durationOr(f.Timeout, 10*time.Second))
	defer cancel()
	var c http.Client
	if f.Client != nil {
		c = *f.Client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	u := origin + WellKnownPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %s", ErrFetch, u, resp.Status)
	}
	limit := f.MaxBytes
	if limit <= 0 {
		limit = 64 << 10
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrFetch, u, limit)
	}
	ks, err := ParseKeySet(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	return ks, nil
}

// Verify checks l's sig against the key set published at l.Origin. An
// unknown kid makes it refetch once (rotation), at most every MinRefresh.
// Legacy links have no trustworthy origin and fail with ErrUnsigned.
func (f *Fetcher) Verify(ctx context.Context, l *Link) error {
	if !l.Signed || l.Legacy {
		return errf(ErrUnsigned, ParamSig, "")
	}
	ks, err := f.keys(ctx, l.Origin, false)
	if err != nil {
		return err
	}
	err = l.Verify(ks)
	if !errors.Is(err, ErrUnknownKey) {
		return err
	}
	if ks, err = f.keys(ctx, l.Origin, true); err != nil {
		return err
	}
	return l.Verify(ks)
}
