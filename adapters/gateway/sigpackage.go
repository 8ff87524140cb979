package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/deeplink/sigpkg"
	"github.com/securesign/securesign/pdf"
)

// Signing packages (protocol 1.2 §6). Every token PDF session gets one: the
// signing app fetches it before it asks for the PIN and proves that each
// digest it signs belongs to a PDF it can show. The package's JSON (small:
// names, signed attributes, byte ranges, and for each prepared PDF a URL
// and its SHA-256) is made once, when the link is made, and kept in the
// session's state in the store; the PDFs are streamed from the document
// store. So any instance serves any session's package, exactly the bytes
// the link's pkgSha256 names, and no PDF is held in memory.
//
// Both are capability URLs under the gateway's origin, like watchUrl: a MAC
// of the requestId and the session's expiry (purpose "package"), read-only,
// refused once the session expires or is signed.

// packageDoc is what a prepared document contributes to a package, before
// the URLs exist.
func packageDoc(ps *pdf.PreparedSignature, name, sum string) sigpkg.Document {
	return sigpkg.Document{Name: name, PDFSHA256: sum, SignedAttrs: ps.SignedAttributes(), ByteRange: ps.ByteRange()}
}

// packageName is the name document i of n is shown under: the session's
// doc, numbered in a batch; "Document" when the portal gave none.
func packageName(doc string, i, n int) string {
	if doc == "" {
		doc = "Document"
	}
	if n == 1 {
		return doc
	}
	suffix := fmt.Sprintf(" (%d of %d)", i+1, n)
	for utf8.RuneCountInString(doc)+len(suffix) > 200 {
		_, size := utf8.DecodeLastRuneInString(doc)
		doc = doc[:len(doc)-size]
	}
	return strings.TrimSpace(doc) + suffix
}

// packageBase is the URL path of a session's package; PDF n (from 1) is
// packageBase/n.pdf.
func (s *Server) packageBase(requestID string) string {
	return s.baseURL + "/v1/packages/" + requestID
}

// packageURL is the package's capability URL.
func (s *Server) packageURL(sess *Session) string {
	return s.packageBase(sess.RequestID) + "?cap=" + capToken(s.capKey, capPackage, sess.RequestID, sess.ExpiresAt)
}

// buildPackage writes the package of sess from docs (URLs not yet set)
// and returns it with the link parameters that name it.
func (s *Server) buildPackage(sess *Session, docs []sigpkg.Document) (raw []byte, pkgURL, pkgSHA256 string, err error) {
	tok := capToken(s.capKey, capPackage, sess.RequestID, sess.ExpiresAt)
	p := &sigpkg.Package{RequestID: sess.RequestID, HashAlgo: sess.HashAlgo, Documents: make([]sigpkg.Document, len(docs))}
	for i, d := range docs {
		d.PDFURL = s.packageBase(sess.RequestID) + "/" + strconv.Itoa(i+1) + ".pdf?cap=" + tok
		p.Documents[i] = d
	}
	if raw, err = sigpkg.Build(p); err != nil {
		return nil, "", "", unprocessable(err, "cannot build the signing package: %v", err)
	}
	return raw, s.packageURL(sess), sigpkg.Digest(raw), nil
}

// buildLinkWithPackage builds req's link, naming the package at pkgURL
// (empty: none) when it can. With always (a link on the gateway's own
// origin, or Config.PackageOnPortalLinks) the link names it; its digests
// stay in it when they fit, so that an app of protocol 1.1 can still sign
// it, and go when they do not: the package proves them, bound by
// pkgSha256 (§6.1), which is how a batch of up to 50 PDFs fits one link.
// Otherwise (a portal's origin) the link names the package only when its
// digests do not fit: an app takes a package from another origin than the
// link's only when configured with that gateway's (§6.4), so a link that
// fits is left as in 1.1 for apps without that setting. It reports whether
// the link names the package.
func buildLinkWithPackage(req *deeplink.Request, key *deeplink.SigningKey, pkgURL, pkgSHA256 string, always bool) (string, bool, error) {
	if pkgURL == "" {
		link, err := deeplink.Build(req, key)
		return link, false, err
	}
	if always {
		req.PackageURL, req.PackageSHA256 = pkgURL, pkgSHA256
	}
	link, err := deeplink.Build(req, key)
	if errors.Is(err, deeplink.ErrTooLong) || errors.Is(err, deeplink.ErrHash) {
		req.PackageURL, req.PackageSHA256, req.Hashes = pkgURL, pkgSHA256, nil
		link, err = deeplink.Build(req, key)
	}
	return link, req.PackageURL != "", err
}

var errNoPackage = apiErr(http.StatusNotFound, CodeNotFound, "no such signing package, or its link has expired")

// packageSession finds the session a package URL names: a wrong, tampered
// or expired capability, another session's, a session that is signed or
// expired, and one without a package are all the same 404.
func (s *Server) packageSession(c echo.Context) (*Session, *sessionState, error) {
	id := c.Param("id")
	c.Set("requestId", id)
	if !checkCap(s.capKey, capPackage, id, c.QueryParam("cap"), s.cfg.Now()) {
		return nil, nil, errNoPackage
	}
	sess, err := s.store.SessionByID(c.Request().Context(), id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, errNoPackage
	}
	if err != nil {
		return nil, nil, err
	}
	if final(s.status(sess)) {
		return nil, nil, errNoPackage
	}
	var st sessionState
	if err := jsonUnmarshal(sess.State, &st); err != nil {
		return nil, nil, err
	}
	if len(st.Package) == 0 {
		return nil, nil, errNoPackage
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	return sess, &st, nil
}

// packageJSON answers GET /v1/packages/:id?cap=…: the package's bytes,
// exactly those the link's pkgSha256 names.
func (s *Server) packageJSON(c echo.Context) error {
	_, st, err := s.packageSession(c)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/json", st.Package)
}

// packagePDF answers GET /v1/packages/:id/:n.pdf?cap=…: a prepared PDF of
// the package (n from 1), streamed from the document store.
func (s *Server) packagePDF(c echo.Context) error {
	sess, st, err := s.packageSession(c)
	if err != nil {
		return err
	}
	ns, ok := strings.CutSuffix(c.Param("file"), ".pdf")
	n, err := strconv.Atoi(ns)
	if !ok || err != nil || n < 1 || n > len(st.PDFs) || ns != strconv.Itoa(n) {
		return errNoPackage
	}
	ctx := c.Request().Context()
	f, done, err := s.docs.Open(ctx, st.PDFs[n-1].File)
	if err != nil {
		return docUnavailable(err)
	}
	defer done()
	// A phone on a slow network may take longer than the public read
	// deadline, which would end the request's context; the session's
	// expiry bounds the download instead.
	http.NewResponseController(c.Response().Writer).SetReadDeadline(time.Now().Add(max(sess.ExpiresAt.Sub(s.cfg.Now()), 0) + 5*time.Second)) //nolint:errcheck
	c.Response().Header().Set("Content-Type", "application/pdf")
	http.ServeContent(c.Response(), c.Request(), "", sess.CreatedAt, f)
	return nil
}

// packageFits reports whether a prepared document can travel in a package:
// apps refuse a PDF above sigpkg.MaxPDFSize, so such a session keeps the
// digests in its link, as in protocol 1.1.
func packageFits(ps *pdf.PreparedSignature) bool { return ps.Size() <= sigpkg.MaxPDFSize }
