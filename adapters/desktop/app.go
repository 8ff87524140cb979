package desktop

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/deeplink/sigpkg"
	"github.com/securesign/securesign/signer"
)

// Errors of the Desktop Software's own checks. Each wraps the sentinel of
// callback or deeplink that callback.CodeOf maps to the right SS_* code.
var (
	// ErrOriginNotAllowed means the link's origin is not on the allowlist.
	ErrOriginNotAllowed = fmt.Errorf("desktop: portal origin not on the allowlist: %w", callback.ErrDomainNotAllowed)
	// ErrUnsignedLink means policy requires signed links and the link is not.
	ErrUnsignedLink = fmt.Errorf("desktop: policy requires signed links: %w", deeplink.ErrUnsigned)
	// ErrCertMismatch means the chosen certificate is not the one the link
	// names (certSerial / certSha256).
	ErrCertMismatch = fmt.Errorf("desktop: %w", callback.ErrCertMismatch)
	// ErrCertExpired means the chosen certificate is outside its validity.
	ErrCertExpired = fmt.Errorf("desktop: %w", callback.ErrCertExpired)
	// ErrCancelled means the user cancelled.
	ErrCancelled = callback.ErrCancelled
)

// Code returns the SS_* code for err (callback.CodeOf, the one mapping).
func Code(err error) callback.Code { return callback.CodeOf(err) }

// App is the Desktop Software: it checks links against its [Policy], lists
// certificates from its [Keystore], signs and delivers ss_result. The zero
// value is not usable; set at least Policy and Keystore.
type App struct {
	Policy   Policy
	Keystore Keystore
	// TrustedKeys are link-signing keys trusted without fetching (from
	// Policy.TrustedKeyFiles and --trust-jwks); may be nil.
	TrustedKeys *deeplink.KeySet
	// HTTPClient delivers results and fetches key sets; default a client
	// with a 30 s timeout.
	HTTPClient *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
	// OpenBrowser opens the page; default [OpenBrowser].
	OpenBrowser func(ctx context.Context, url string) error
	// Log receives events (never a PIN); default discards.
	Log *slog.Logger
	// Fetcher fetches and caches portals' published link keys; default a
	// fresh deeplink.Fetcher using HTTPClient for each check.
	Fetcher *deeplink.Fetcher
	// Packages fetches and checks signing packages (protocol 1.2 §6);
	// default a sigpkg.Fetcher using HTTPClient. Either way packages are
	// accepted from the link's origin and Policy.PackageOrigins (added to
	// the Fetcher's own PackageOrigins).
	Packages *sigpkg.Fetcher
	// Renderer draws the pages of a package's documents for the page;
	// default as Policy.PageRenderer says.
	Renderer Renderer
}

func (a *App) packages() *sigpkg.Fetcher {
	f := sigpkg.Fetcher{Client: a.client()}
	if a.Packages != nil {
		f = *a.Packages
	}
	f.PackageOrigins = append(slices.Clip(f.PackageOrigins), a.Policy.packageOrigins()...)
	return &f
}

func (a *App) fetcher() *deeplink.Fetcher {
	if a.Fetcher != nil {
		return a.Fetcher
	}
	return &deeplink.Fetcher{Client: a.client()}
}

func (a *App) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *App) client() *http.Client {
	if a.HTTPClient != nil {
		return a.HTTPClient
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func (a *App) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Checked is a link that passed the policy.
type Checked struct {
	Link *deeplink.Link
	// Verified is true when the link's signature verified with a trusted
	// or fetched key of its origin.
	Verified bool
	// Note says how the link was verified, or why it is unverified.
	Note string
	// Documents are the signing package's documents, checked (protocol 1.2
	// §6), in link order: what the user is shown and what is signed. Nil
	// when the link names no package.
	Documents []sigpkg.Verified
}

// Request returns the link's content.
func (c *Checked) Request() *deeplink.Request { return &c.Link.Request }

// Check parses link and applies the policy: allowed origin, not expired,
// signature verified (against TrustedKeys, else the origin's published
// keys), unsigned links only from the origins the policy opts in for them.
//
// A link that names a signing package gets it fetched and checked
// (sigpkg.Fetcher.Verify) before anything asks for the PIN; a package that
// fails refuses the link with the failed check (SS_LINK_INVALID), and so
// does a sign link without one under Policy.RequirePackage.
//
// When the error concerns a link whose origin is allowed, the returned
// *Checked is non-nil too, so the caller may report the failure to the
// portal; for anything else it is nil and nothing may be sent anywhere.
func (a *App) Check(ctx context.Context, link string) (*Checked, error) {
	c, err := a.checkLink(ctx, link)
	if err != nil {
		return c, err
	}
	if c.Link.PackageURL == "" {
		if e := sigpkg.Missing(c.Link); e != nil && a.Policy.RequirePackage {
			a.log().Info("signing package required", "requestId", c.Link.RequestID, "origin", c.Link.Origin)
			return c, e
		}
		return c, nil
	}
	docs, err := a.packages().Verify(ctx, c.Link)
	if err != nil {
		var oe *sigpkg.OriginError
		if errors.As(err, &oe) {
			// Most likely a gateway the portal uses that this install
			// was not set up for: say what would make it accepted.
			err = fmt.Errorf("%w (if %s is the signing gateway %s uses, add it to packageOrigins in the policy file, or pass --package-origin)", err, oe.Origin, c.Link.Origin)
		}
		a.log().Info("signing package refused", "requestId", c.Link.RequestID, "origin", c.Link.Origin, "err", err)
		return c, err
	}
	c.Documents = docs
	return c, nil
}

func (a *App) checkLink(ctx context.Context, link string) (*Checked, error) {
	l, err := deeplink.Parse(link, a.now())
	if err != nil {
		return nil, err
	}
	if !a.Policy.Allows(l.Origin) {
		return nil, fmt.Errorf("%w: %s (add it to allowedOrigins, or pass --allow-origin)", ErrOriginNotAllowed, l.Origin)
	}
	c := &Checked{Link: l}
	if !l.Signed {
		if a.Policy.RequireSignedLinks || !a.Policy.allowsUnsigned(l.Origin) {
			return c, ErrUnsignedLink
		}
		c.Note = "This link carries no signature. " + l.Origin + " is on your list of portals whose unsigned links are accepted, but nothing proves the portal made it."
		return c, nil
	}
	if a.TrustedKeys != nil {
		err = l.Verify(a.TrustedKeys)
		if err == nil {
			c.Verified, c.Note = true, "Signed by the portal's key "+l.KID+" (configured as trusted)."
			return c, nil
		}
		if !errors.Is(err, deeplink.ErrUnknownKey) {
			return c, err
		}
	}
	if !a.Policy.fetchKeys() {
		if err == nil {
			err = fmt.Errorf("%w: %s", deeplink.ErrUnknownKey, l.KID)
		}
		return c, err
	}
	f := a.fetcher()
	if err := f.Verify(ctx, l); err != nil {
		return c, err
	}
	c.Verified, c.Note = true, "Signed by the portal's key "+l.KID+", published at "+l.Origin+"/.well-known/securesign-keys.json."
	return c, nil
}

// Sign signs every digest of the checked request with cert (or, for a
// register link, the registration digest), verifies the signatures and
// returns the success result. It delivers nothing. A wrong PIN returns a
// *signer.PINError.
func (a *App) Sign(ctx context.Context, c *Checked, cert Cert, pin []byte) (*callback.Result, error) {
	req := c.Request()
	if err := matchCert(req, cert.Certificate); err != nil {
		return nil, err
	}
	now := a.now()
	if now.Before(cert.Certificate.NotBefore) || now.After(cert.Certificate.NotAfter) {
		return nil, fmt.Errorf("%w: valid %s to %s", ErrCertExpired,
			cert.Certificate.NotBefore.Format(time.DateOnly), cert.Certificate.NotAfter.Format(time.DateOnly))
	}
	if !req.Expires.IsZero() && !now.Before(req.Expires) {
		return nil, fmt.Errorf("%w: at %s", deeplink.ErrExpired, req.Expires.Format(time.RFC3339))
	}
	s, err := a.Keystore.Open(ctx, cert, pin)
	if err != nil {
		return nil, err
	}
	if cl, ok := s.(io.Closer); ok {
		defer cl.Close()
	}
	alg := signer.DefaultAlgorithm(s.Public())
	var (
		hash    crypto.Hash
		digests [][]byte
	)
	switch req.Action {
	case deeplink.ActionRegister:
		hash, digests = crypto.SHA256, [][]byte{deeplink.RegisterDigest(req.Origin, req.RequestID, req.Challenge)}
	default:
		hash, digests = req.HashAlgo, req.Hashes
		if req.PackageURL != "" {
			// Sign only what the package proved; Check compared any
			// digests of the link with these.
			if len(c.Documents) == 0 {
				return nil, fmt.Errorf("%w: the signing package was not checked", deeplink.ErrPackage)
			}
			digests = make([][]byte, 0, len(c.Documents))
			for _, d := range c.Documents {
				digests = append(digests, d.Digest)
			}
		}
	}
	sigs := make([][]byte, 0, len(digests))
	for _, d := range digests {
		sig, err := signer.SignDigest(ctx, s, alg, hash, d)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, sig)
	}
	chain := s.Chain()
	a.log().Info("signed", "requestId", req.RequestID, "origin", req.Origin, "digests", len(sigs),
		"cert", signer.FormatSerial(cert.Certificate.SerialNumber))
	return callback.NewSuccess(req.RequestID, alg, sigs, cert.Certificate, chain, now)
}

// matchCert applies the link's certSerial / certSha256.
func matchCert(req *deeplink.Request, cert *x509.Certificate) error {
	if req.CertSerial != "" {
		want, err := signer.ParseSerial(req.CertSerial)
		if err != nil {
			return fmt.Errorf("%w: certSerial %q", ErrCertMismatch, req.CertSerial)
		}
		if want.Cmp(cert.SerialNumber) != 0 {
			return fmt.Errorf("%w: the portal asks for serial %s", ErrCertMismatch, strings.ToUpper(want.Text(16)))
		}
	}
	if req.CertSHA256 != "" {
		c := Cert{Certificate: cert}
		if c.SHA256() != req.CertSHA256 {
			return fmt.Errorf("%w: the portal asks for certificate SHA-256 %s", ErrCertMismatch, req.CertSHA256)
		}
	}
	return nil
}

// Deliver POSTs r to the link's callbackUrl, retrying network errors and
// 5xx for up to two minutes.
func (a *App) Deliver(ctx context.Context, c *Checked, r *callback.Result) error {
	err := callback.Deliver(ctx, a.client(), c.Request().CallbackURL, r)
	a.log().Info("delivered", "requestId", c.Request().RequestID, "success", r.Success, "err", err)
	return err
}

// Failure builds the failure result for err.
func (a *App) Failure(c *Checked, err error) *callback.Result {
	r := callback.NewFailure(c.Request().RequestID, err)
	r.Error = Code(err)
	return r
}

// SelectCert picks the certificate with the given hex serial (any format
// signer.ParseSerial takes) from certs.
func SelectCert(certs []Cert, serialHex string) (Cert, error) {
	want, err := signer.ParseSerial(serialHex)
	if err != nil {
		return Cert{}, err
	}
	for _, c := range certs {
		if c.Certificate.SerialNumber.Cmp(want) == 0 {
			return c, nil
		}
	}
	return Cert{}, fmt.Errorf("%w: no certificate with serial %s on the tokens", signer.ErrCertNotFound, strings.ToUpper(want.Text(16)))
}
