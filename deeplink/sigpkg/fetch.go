package sigpkg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/securesign/securesign/deeplink"
)

// Fetcher gets a link's package and the PDFs it names: https only (http to
// a loopback host for development), from the link's origin or one of
// PackageOrigins, within MaxBytes and Timeout. A redirect is followed only
// to an allowed origin. The zero value is ready to use.
type Fetcher struct {
	// Client makes the requests; nil means http.DefaultTransport.
	Client *http.Client
	// Timeout bounds fetching and checking one package, PDFs included;
	// zero means 30 s.
	Timeout time.Duration
	// MaxBytes bounds the package; zero means MaxPackageSize.
	MaxBytes int64
	// PackageOrigins are origins, besides the link's, a package and its
	// PDFs may come from: a gateway that serves the packages of portals'
	// links (protocol 1.2 §6.6). Canonical form, as [ParseOrigin] returns;
	// the Desktop Software's packageOrigins and the mobile app's
	// --package-origin.
	PackageOrigins []string
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
	allowed := append([]string{l.Origin}, f.PackageOrigins...)
	limit := f.MaxBytes
	if limit <= 0 || limit > MaxPackageSize {
		limit = MaxPackageSize
	}
	raw, err := f.get(ctx, l.PackageURL, allowed, limit)
	if err != nil {
		e := fail(CheckFetch, 0, "", "package: %v", err)
		e.Err = err
		return nil, e
	}
	return Check(raw, ExpectOf(l), func(_ int, d *Document) ([]byte, error) {
		return f.get(ctx, d.PDFURL, allowed, MaxPDFSize)
	})
}

// OriginError is why a package, a PDF or a redirect was not fetched: its
// origin is neither the link's nor one of the Fetcher's PackageOrigins.
// Verify returns it as the Err of a CheckFetch [Error].
type OriginError struct {
	Origin string // canonical
}

func (e *OriginError) Error() string {
	return e.Origin + " is not the link's origin nor a package origin the app is configured with"
}

// ParseOrigin checks s, an origin a Fetcher may take packages from
// (scheme://host[:port], https, or http to a loopback host), and returns
// it in canonical form. A path, query or fragment is refused: the setting
// names a server, not a place on it.
func ParseOrigin(s string) (string, error) {
	o, err := deeplink.OriginOf(s)
	if err != nil {
		var de *deeplink.Error
		if errors.As(err, &de) {
			err = errors.New(de.Detail) // not "invalid callbackUrl": the URL checks are the callback's
		}
		return "", fmt.Errorf("sigpkg: package origin %q: %v", s, err)
	}
	if u, err := url.Parse(s); err != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery {
		return "", fmt.Errorf("sigpkg: package origin %q: only scheme://host[:port], no path or query", s)
	}
	return o, nil
}

func (f *Fetcher) get(ctx context.Context, rawURL string, allowed []string, limit int64) ([]byte, error) {
	origin, err := deeplink.OriginOf(rawURL)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(allowed, origin) {
		return nil, &OriginError{Origin: origin}
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
			return fmt.Errorf("redirect: %w", &OriginError{Origin: o})
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
