// Package mobileapp is the reference Mobile App client of the SecureSign
// protocol, in Go: what a phone team ports to Kotlin or Swift. It takes a
// securesign:// link (from an intent, a universal link or a QR code),
// checks it, shows the request, signs with the user's key and hands the
// result back the mobile way: by opening callbackUrl?ss_result=… in the
// browser (here: an HTTP GET that follows redirects).
package mobileapp

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // QR screenshots and photos
	_ "image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/deeplink/sigpkg"
	"github.com/securesign/securesign/internal/atomicfile"
	"github.com/securesign/securesign/signer"
)

// ErrOriginNotAllowed means the link's portal is not on the app's allowlist.
var ErrOriginNotAllowed = fmt.Errorf("mobileapp: portal origin not allowed: %w", callback.ErrDomainNotAllowed)

// App is the mobile signing app.
type App struct {
	// AllowedOrigins are the portals the app serves; on a phone this list
	// ships with the app or comes from its management profile.
	AllowedOrigins []string
	// TrustedKeys are link-signing keys known in advance; links signed by
	// other keys are checked against the portal's published JWKS.
	TrustedKeys *deeplink.KeySet
	// RequireSigned refuses unsigned (legacy) links.
	RequireSigned bool
	// Signer is the user's key: on a phone, the Android Keystore / iOS
	// Secure Enclave key, or an OTG token through PKCS#11.
	Signer signer.Signer
	// Confirm shows the request and returns true if the user agrees. A
	// phone shows a native dialog; nil means agree (automation).
	Confirm func(r *Request) bool
	// HTTPClient opens the callback (a phone opens it in the browser);
	// default: a client with a 30 s timeout that follows redirects.
	HTTPClient *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Fetcher fetches portals' published keys; default a new one.
	Fetcher *deeplink.Fetcher
	// Packages fetches and checks signing packages (protocol 1.2 §6)
	// before the user is asked; default a sigpkg.Fetcher over HTTPClient
	// that takes packages from the link's origin only. Set its
	// PackageOrigins to accept packages from a gateway that serves a
	// portal's links.
	Packages *sigpkg.Fetcher
	// RequirePackage refuses a sign link that names no signing package
	// (SS_LINK_INVALID, reported to the portal, before the user is asked):
	// the user signs only documents the app has checked and saved.
	RequirePackage bool
	// SaveDir is where checked documents are saved for the user to open
	// (a phone: the app's cache, shared through a FileProvider / the
	// document interaction controller); default os.TempDir().
	SaveDir string
}

// Request is what the app shows the user before signing.
type Request struct {
	Action deeplink.Action
	// Org is the organisation asking, set only when the link's signature
	// verified (PROTOCOL 1.1 §1): show it first, above the origin.
	Org      string
	Origin   string
	Verified bool
	Doc      string
	Digests  int
	Expires  time.Time
	// Documents are the documents of the link's signing package, checked
	// against the digests to be signed and saved for the user to open;
	// empty when the link has no package.
	Documents []Document
	// Warning is a plain warning to show above everything else: set for a
	// sign link without a package, whose document cannot be shown.
	Warning string
}

// Document is a checked document of a signing package, saved for the user.
type Document struct {
	Name string
	// Path is the saved PDF (the prepared document: what is signed, before
	// the signature is embedded).
	Path string
	// SHA256 is the hex SHA-256 of the saved file.
	SHA256 string
}

// NoDocumentWarning is the Warning of a sign link without a package.
const NoDocumentWarning = "Document not shown: this request carries only fingerprints, so the app cannot show or check what you are signing. Sign only if you trust the portal."

// Outcome is what happened.
type Outcome struct {
	Result *callback.Result
	// Status is the HTTP status of the final answer to the callback.
	Status int
	// FinalURL is where the browser ended up (the portal's page).
	FinalURL string
	// Documents are the saved documents of a checked signing package.
	Documents []Document
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

// Handle runs the whole flow for one link. A failure after the link was
// accepted is reported to the portal too (with its SS_* code).
func (a *App) Handle(ctx context.Context, link string) (*Outcome, error) {
	l, err := deeplink.Parse(strings.TrimSpace(link), a.now())
	if err != nil {
		return nil, err // nothing is sent for a link we cannot trust
	}
	if !slices.ContainsFunc(a.AllowedOrigins, func(o string) bool {
		c, err := deeplink.OriginOf(o)
		return err == nil && c == l.Origin
	}) {
		return nil, fmt.Errorf("%w: %s", ErrOriginNotAllowed, l.Origin)
	}
	verified, err := a.verify(ctx, l)
	if err != nil {
		return a.report(ctx, l, err)
	}
	req := &Request{Action: l.Action, Origin: l.Origin, Verified: verified, Doc: l.Doc, Digests: len(l.Hashes), Expires: l.Expires}
	if verified {
		req.Org = l.Org
	}
	// The package is checked before the user is asked: a digest that is
	// not the signature of the document shown is refused, and nothing is
	// signed (protocol 1.2 §6.3).
	digests := l.Hashes
	switch {
	case l.PackageURL != "":
		checked, err := a.packages().Verify(ctx, l)
		if oe := (*sigpkg.OriginError)(nil); errors.As(err, &oe) {
			return a.report(ctx, l, fmt.Errorf("mobileapp: refused before signing: %w (if %s is the signing gateway %s uses, add it to the app's package origins, --package-origin)", err, oe.Origin, l.Origin))
		}
		if err != nil {
			return a.report(ctx, l, fmt.Errorf("mobileapp: refused before signing: the signing package does not prove what would be signed: %w", err))
		}
		if req.Documents, err = a.save(l.RequestID, checked); err != nil {
			return a.report(ctx, l, err)
		}
		digests = make([][]byte, len(checked))
		for i, d := range checked {
			digests[i] = d.Digest
		}
		req.Digests = len(digests)
	case l.Action != deeplink.ActionSign:
	case a.RequirePackage:
		return a.report(ctx, l, fmt.Errorf("mobileapp: refused before signing: %w", sigpkg.Missing(l)))
	default:
		req.Warning = NoDocumentWarning
	}
	if a.Confirm != nil && !a.Confirm(req) {
		out, err := a.report(ctx, l, callback.ErrCancelled)
		return withDocs(out, req.Documents), err
	}
	res, err := a.sign(ctx, l, digests)
	if err != nil {
		out, err := a.report(ctx, l, err)
		return withDocs(out, req.Documents), err
	}
	out, err := a.deliver(ctx, l, res)
	return withDocs(out, req.Documents), err
}

func withDocs(out *Outcome, docs []Document) *Outcome {
	if out != nil {
		out.Documents = docs
	}
	return out
}

func (a *App) packages() *sigpkg.Fetcher {
	if a.Packages != nil {
		return a.Packages
	}
	return &sigpkg.Fetcher{Client: a.client()}
}

// save writes the checked documents to SaveDir as
// <requestId>-<n>.pdf (n from 1), each whole or not at all, readable by
// the user only. The portal's name for a document never becomes a path.
func (a *App) save(requestID string, docs []sigpkg.Verified) ([]Document, error) {
	dir := a.SaveDir
	if dir == "" {
		dir = os.TempDir()
	}
	out := make([]Document, len(docs))
	for i, d := range docs {
		// requestId is [A-Za-z0-9_-] (deeplink.Parse checked it).
		path := filepath.Join(dir, fmt.Sprintf("%s-%d.pdf", requestID, i+1))
		if err := atomicfile.WriteBytes(path, d.PDF, 0o600); err != nil {
			return nil, fmt.Errorf("mobileapp: saving document %d: %w", i+1, err)
		}
		sum := sha256.Sum256(d.PDF)
		out[i] = Document{Name: d.Name, Path: path, SHA256: hex.EncodeToString(sum[:])}
	}
	return out, nil
}

func (a *App) verify(ctx context.Context, l *deeplink.Link) (bool, error) {
	if !l.Signed {
		if a.RequireSigned {
			return false, fmt.Errorf("mobileapp: unsigned link: %w", deeplink.ErrUnsigned)
		}
		return false, nil
	}
	if a.TrustedKeys != nil {
		err := l.Verify(a.TrustedKeys)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, deeplink.ErrUnknownKey) {
			return false, err
		}
	}
	f := a.Fetcher
	if f == nil {
		f = &deeplink.Fetcher{Client: a.client()}
	}
	if err := f.Verify(ctx, l); err != nil {
		return false, err
	}
	return true, nil
}

// sign signs digests (a sign link's, or those its package proved) or, for
// a register link, the registration digest.
func (a *App) sign(ctx context.Context, l *deeplink.Link, digests [][]byte) (*callback.Result, error) {
	s := a.Signer
	if s == nil {
		return nil, fmt.Errorf("mobileapp: no key: %w", signer.ErrTokenNotFound)
	}
	cert := s.Certificate()
	now := a.now()
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, fmt.Errorf("mobileapp: certificate valid until %s: %w", cert.NotAfter.Format(time.DateOnly), callback.ErrCertExpired)
	}
	if l.CertSerial != "" {
		want, err := signer.ParseSerial(l.CertSerial)
		if err != nil || want.Cmp(cert.SerialNumber) != 0 {
			return nil, fmt.Errorf("mobileapp: portal asks for certificate %s: %w", l.CertSerial, callback.ErrCertMismatch)
		}
	}
	hash := l.HashAlgo
	if l.Action == deeplink.ActionRegister {
		hash, digests = crypto.SHA256, [][]byte{deeplink.RegisterDigest(l.Origin, l.RequestID, l.Challenge)}
	}
	alg := signer.DefaultAlgorithm(s.Public())
	sigs := make([][]byte, 0, len(digests))
	for _, d := range digests {
		sig, err := signer.SignDigest(ctx, s, alg, hash, d)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, sig)
	}
	return callback.NewSuccess(l.RequestID, alg, sigs, cert, s.Chain(), now)
}

func (a *App) report(ctx context.Context, l *deeplink.Link, cause error) (*Outcome, error) {
	out, err := a.deliver(ctx, l, callback.NewFailure(l.RequestID, cause))
	if err != nil {
		return out, fmt.Errorf("%w (and telling the portal failed: %v)", cause, err)
	}
	return out, cause
}

// deliver opens callbackUrl?ss_result=… as the phone's browser would; a
// result too large for a URL is POSTed instead, as the protocol says.
func (a *App) deliver(ctx context.Context, l *deeplink.Link, r *callback.Result) (*Outcome, error) {
	u, err := callback.RedirectURL(l.CallbackURL, r)
	if errors.Is(err, callback.ErrRedirectTooLarge) {
		if err := callback.Deliver(ctx, a.client(), l.CallbackURL, r); err != nil {
			return &Outcome{Result: r}, err
		}
		return &Outcome{Result: r, Status: http.StatusOK}, nil
	}
	if err != nil {
		return &Outcome{Result: r}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return &Outcome{Result: r}, err
	}
	resp, err := a.client().Do(req)
	if err != nil {
		return &Outcome{Result: r}, fmt.Errorf("mobileapp: opening the callback: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	out := &Outcome{Result: r, Status: resp.StatusCode, FinalURL: resp.Request.URL.String()}
	if resp.StatusCode >= 300 {
		return out, fmt.Errorf("mobileapp: the portal answered %s", resp.Status)
	}
	return out, nil
}

// LinkFromQR decodes the securesign:// link in a QR code image (PNG or
// JPEG): what the phone's camera does with the portal's QR code.
func LinkFromQR(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	// A photo or screenshot, not a poster: its header is checked before
	// any pixel is decoded (a few KB of PNG can declare 65,535² pixels).
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return "", fmt.Errorf("mobileapp: %s: %w", path, err)
	}
	if cfg.Width > maxQRImageSide || cfg.Height > maxQRImageSide || cfg.Width*cfg.Height > maxQRImagePixels {
		return "", fmt.Errorf("mobileapp: %s: %d × %d pixels, more than a QR photo needs (%d a side, %d in all)", path, cfg.Width, cfg.Height, maxQRImageSide, maxQRImagePixels)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return "", fmt.Errorf("mobileapp: %s: %w", path, err)
	}
	return LinkFromImage(img)
}

// The largest QR image LinkFromQR decodes: a 48-megapixel phone photo.
const (
	maxQRImageSide   = 12000
	maxQRImagePixels = 48_000_000
)

// LinkFromImage decodes the QR code in img.
func LinkFromImage(img image.Image) (string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("mobileapp: reading the image: %w", err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		// gozxing's finder misreads about 1 in 25 large, perfectly clean
		// codes (a screenshot, or the portal's own PNG) that zbarimg
		// reads; read as an unrotated, unskewed code it reads them all.
		pure, perr := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
		if perr != nil {
			return "", fmt.Errorf("mobileapp: no QR code found: %w", err)
		}
		res = pure
	}
	link := res.GetText()
	if !strings.HasPrefix(link, deeplink.Scheme+"://") {
		return "", fmt.Errorf("mobileapp: the QR code holds %.40q, not a securesign:// link", link)
	}
	return link, nil
}
