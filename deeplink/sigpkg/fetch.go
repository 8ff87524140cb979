package sigpkg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/securesign/securesign/deeplink"
)

// Fetcher gets a link's package and the PDFs it names: https only (http to
// a loopback host for development), from the link's origin or one of
// GatewayOrigins, within MaxBytes and Timeout. A redirect is followed only
// to an allowed origin. The zero value is ready to use.
type Fetcher struct {
	// Client makes the requests; nil means http.DefaultTransport.
	Client *http.Client
	// Timeout bounds fetching and checking one package, PDFs included;
	// zero means 30 s.
	Timeout time.Duration
	// MaxBytes bounds the package; zero means MaxPackageSize.
	MaxBytes int64
	// GatewayOrigins are origins, besides the link's, a package may come
	// from (scheme://host[:port], canonical form).
	GatewayOrigins []string
}

// Verify fetches the package l names and checks it with [Check]; the app
// calls it before it asks for the PIN, and signs the returned digests in
// order. l must already be parsed and its signature verified.
func (f *Fetcher) Verify(ctx context.Context, l *deeplink.Link) ([]Verified, error) {
	if l.PackageURL == "" {
		return nil, fail(CheckFetch, 0, "", "the link names no package")
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	allowed := append([]string{l.Origin}, f.GatewayOrigins...)
	limit := f.MaxBytes
	if limit <= 0 || limit > MaxPackageSize {
		limit = MaxPackageSize
	}
	raw, err := f.get(ctx, l.PackageURL, allowed, limit)
	if err != nil {
		return nil, fail(CheckFetch, 0, "", "package: %v", err)
	}
	return Check(raw, ExpectOf(l), func(_ int, d *Document) ([]byte, error) {
		return f.get(ctx, d.PDFURL, allowed, MaxPDFSize)
	})
}

var errOrigin = errors.New("not on the link's origin or a gateway origin")

func (f *Fetcher) get(ctx context.Context, rawURL string, allowed []string, limit int64) ([]byte, error) {
	origin, err := deeplink.OriginOf(rawURL)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(allowed, origin) {
		return nil, fmt.Errorf("%s: %w", origin, errOrigin)
	}
	var c http.Client
	if f.Client != nil {
		c = *f.Client
	}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("more than 3 redirects")
		}
		o, err := deeplink.OriginOf(req.URL.String())
		if err != nil {
			return fmt.Errorf("redirect: %w", err)
		}
		if !slices.Contains(allowed, o) {
			return fmt.Errorf("redirect to %s: %w", o, errOrigin)
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", origin, resp.Status)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%d bytes, at most %d", resp.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return body, nil
}
