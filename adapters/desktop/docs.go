package desktop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/deeplink/sigpkg"
	"github.com/securesign/securesign/internal/i18n"
	"github.com/securesign/securesign/pdf"
)

// maxShownPages bounds the pages drawn for one request, all documents
// together; the rest are reached through "Open the PDF".
const maxShownPages = 200

// layoutTimeout bounds reading the layouts of a request's documents; a
// document not read in time is shown without its page count and mark.
const layoutTimeout = 10 * time.Second

// maxCachedImages bounds the rendered pages kept for one request.
const maxCachedImages = 64 << 20

// shownDoc is one checked document of a signing package, as the page shows
// it: the PDF bytes are exactly the package's, checked by sigpkg.
type shownDoc struct {
	name   string
	pdf    []byte
	layout *pdf.Layout // nil when the structure could not be read: pages are still shown
}

// docPages holds what the page shows of a package's documents: the bytes
// served to the browser come only from here.
type docPages struct {
	docs     []shownDoc
	renderer Renderer // nil: the browser's own PDF viewer

	sem    chan struct{} // renders at a time
	mu     sync.Mutex
	images map[[2]int][]byte
	cached int
}

func newDocPages(ctx context.Context, app *App, verified []sigpkg.Verified) *docPages {
	if len(verified) == 0 {
		return nil
	}
	dp := &docPages{renderer: app.renderer(), sem: make(chan struct{}, 2), images: map[[2]int][]byte{}}
	// One bound for all documents (up to 50): the page must open promptly.
	lctx, cancel := context.WithTimeout(ctx, layoutTimeout)
	defer cancel()
	for _, v := range verified {
		d := shownDoc{name: v.Name, pdf: v.PDF}
		l, err := pdf.ReadLayout(lctx, bytes.NewReader(v.PDF), int64(len(v.PDF)), v.ByteRange)
		if err != nil {
			app.log().Info("document layout unreadable; pages shown without the signature's place", "doc", v.Name, "err", err)
		} else {
			d.layout = l
		}
		dp.docs = append(dp.docs, d)
	}
	return dp
}

// image renders page p of document d (both 1-based), once.
func (dp *docPages) image(ctx context.Context, d, p int) ([]byte, error) {
	if dp.renderer == nil {
		return nil, errNoRenderer
	}
	if d < 1 || d > len(dp.docs) || p < 1 || (dp.docs[d-1].layout != nil && p > dp.docs[d-1].layout.Pages) {
		return nil, echo.NewHTTPError(http.StatusNotFound, "no such page")
	}
	key := [2]int{d, p}
	dp.mu.Lock()
	img, ok := dp.images[key]
	dp.mu.Unlock()
	if ok {
		return img, nil
	}
	select {
	case dp.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-dp.sem }()
	img, err := dp.renderer.RenderPage(ctx, dp.docs[d-1].pdf, p)
	if err != nil {
		return nil, err
	}
	dp.mu.Lock()
	if dp.cached+len(img) <= maxCachedImages {
		dp.images[key] = img
		dp.cached += len(img)
	}
	dp.mu.Unlock()
	return img, nil
}

// docView is one document on the page.
type docView struct {
	N, Of      int
	Name       string
	PageCount  int // 0 when unknown
	SigPage    int // 0 when the signature is on no page
	SigVisible bool
	MarkedPage bool        // a drawn page carries the signature's mark
	Pages      []pageImage // drawn pages; nil: the browser's viewer in a frame
	MoreFrom   int         // first page not drawn, 0 when all are
	Href       string      // the PDF, inline
	Download   string      // the PDF, as a download
}

type pageImage struct {
	N   int
	Src string
	// W and H give the image its shape before it loads (points; CSS
	// scales it), so pages drawn lazily do not all start at zero height.
	W, H int
	Lazy bool
	Mark string // class of the signature's mark on this page, or ""
}

// documents builds the page's document views and the CSS placing each
// signature mark (a <style> rule: the page's CSP forbids style attributes).
func (dp *docPages) documents(base string) ([]docView, template.CSS) {
	var (
		out   []docView
		css   strings.Builder
		drawn int
	)
	for i, d := range dp.docs {
		n := i + 1
		href := fmt.Sprintf("%sdoc/%d/pdf", base, n)
		v := docView{N: n, Of: len(dp.docs), Name: d.name, Href: href, Download: href + "?download=1"}
		var place *pdf.SignaturePlace
		if d.layout != nil {
			v.PageCount = d.layout.Pages
			if s := d.layout.Signature; s != nil && s.Page > 0 && s.Page <= d.layout.Pages {
				place, v.SigPage, v.SigVisible = s, s.Page, s.Visible
			}
		}
		if dp.renderer != nil && v.PageCount > 0 {
			for p := 1; p <= v.PageCount; p++ {
				if drawn == maxShownPages {
					v.MoreFrom = p
					break
				}
				drawn++
				img := pageImage{N: p, Src: fmt.Sprintf("%sdoc/%d/page/%d", base, n, p), Lazy: p > 2}
				if sz := d.layout.Sizes; p <= len(sz) && sz[p-1][0] >= 1 && sz[p-1][1] >= 1 {
					img.W, img.H = int(min(sz[p-1][0], 14400)), int(min(sz[p-1][1], 14400))
				}
				if place != nil && place.Visible && place.Page == p && place.Rotate == 0 {
					img.Mark = fmt.Sprintf("mark-%d-%d", n, p)
					writeMarkCSS(&css, img.Mark, place)
					v.MarkedPage = true
				}
				v.Pages = append(v.Pages, img)
			}
		}
		out = append(out, v)
	}
	return out, template.CSS(css.String())
}

// writeMarkCSS places the mark over the widget's rectangle, in percent of
// the page's visible box (what pdftoppm draws), clamped to the page.
func writeMarkCSS(b *strings.Builder, class string, s *pdf.SignaturePlace) {
	w, h := s.Box[2]-s.Box[0], s.Box[3]-s.Box[1]
	if w <= 0 || h <= 0 {
		return
	}
	pct := func(v float64) string {
		return strconv.FormatFloat(min(max(v, 0), 100), 'f', 2, 64) + "%"
	}
	left := (s.Rect[0] - s.Box[0]) / w * 100
	top := (s.Box[3] - s.Rect[3]) / h * 100
	width := (s.Rect[2] - s.Rect[0]) / w * 100
	height := (s.Rect[3] - s.Rect[1]) / h * 100
	fmt.Fprintf(b, ".%s{left:%s;top:%s;width:%s;height:%s}\n", class, pct(left), pct(top), pct(width), pct(height))
}

// pagesLine says how many pages and where the signature goes.
func (v *docView) pagesLine(p *i18n.Printer) string {
	if v.PageCount == 0 {
		return p.T("doc_unread") // neither count nor place is known: claim nothing
	}
	var parts []string
	switch {
	case v.PageCount == 1:
		parts = append(parts, p.T("doc_pages_1"))
	case v.PageCount > 1:
		parts = append(parts, p.T("doc_pages", v.PageCount))
	}
	switch {
	case v.MarkedPage:
		parts = append(parts, p.T("sig_on_page_marked", v.SigPage))
	case v.SigPage > 0 && v.SigVisible:
		parts = append(parts, p.T("sig_on_page", v.SigPage))
	default:
		parts = append(parts, p.T("sig_invisible"))
	}
	return strings.Join(parts, " · ")
}

// servePDF answers the document's PDF: the package's checked bytes, inline
// for the page's frame (same origin only) or as a download.
func (s *server) servePDF(c echo.Context) error {
	sess, err := s.current(c)
	if err != nil {
		return err
	}
	d, err := docNumber(c, sess)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	// The page may frame it; nobody else may.
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	disp := "inline"
	if c.QueryParam("download") != "" {
		disp = "attachment"
	}
	h.Set("Content-Disposition", disp+`; filename="document-`+strconv.Itoa(d)+`.pdf"`)
	return c.Blob(http.StatusOK, "application/pdf", sess.pages.docs[d-1].pdf)
}

// servePage answers one drawn page as PNG.
func (s *server) servePage(c echo.Context) error {
	sess, err := s.current(c)
	if err != nil {
		return err
	}
	d, err := docNumber(c, sess)
	if err != nil {
		return err
	}
	p, err := strconv.Atoi(c.Param("page"))
	if err != nil || p < 1 {
		return echo.NewHTTPError(http.StatusNotFound, "no such page")
	}
	img, err := sess.pages.image(c.Request().Context(), d, p)
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		return he
	case err != nil:
		s.app.log().Warn("drawing a page failed", "page", p, "err", err)
		return echo.NewHTTPError(http.StatusInternalServerError, "the page could not be drawn: open the PDF")
	}
	return c.Blob(http.StatusOK, "image/png", img)
}

func docNumber(c echo.Context, sess *session) (int, error) {
	d, err := strconv.Atoi(c.Param("doc"))
	if err != nil || sess.pages == nil || d < 1 || d > len(sess.pages.docs) {
		return 0, echo.NewHTTPError(http.StatusNotFound, "no such document")
	}
	return d, nil
}

// packageMessage is a refused signing package in plain words: which check
// failed, as a bank customer understands it.
func packageMessage(err error) (msg, string) {
	var pe *sigpkg.Error
	if !errors.As(err, &pe) {
		return m("pkg_invalid"), ""
	}
	switch pe.Check {
	case sigpkg.CheckMessageDigest, sigpkg.CheckPDFHash:
		return m("pkg_changed"), pe.Check
	case sigpkg.CheckDigest:
		return m("pkg_other"), pe.Check
	case sigpkg.CheckPackageHash:
		return m("pkg_hash"), pe.Check
	case sigpkg.CheckPresent:
		return m("pkg_missing"), pe.Check
	case sigpkg.CheckFetch:
		if oe := (*sigpkg.OriginError)(nil); errors.As(pe.Err, &oe) {
			return m("pkg_origin", oe.Origin), pe.Check
		}
		return m("pkg_fetch"), pe.Check
	}
	return m("pkg_invalid"), pe.Check
}

// isPackageErr reports a refused signing package.
func isPackageErr(err error) bool { return errors.Is(err, deeplink.ErrPackage) }
