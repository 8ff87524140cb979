package gateway

import (
	"embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// The demo console (dev mode only): a static page at / whose script calls
// the public API exactly as an integrator would, showing each request and
// answer. It holds no logic of its own on the server: the page, its
// script and its style are embedded files, and the one route it adds
// (POST /v1/dev/keys) mints a test key for the dev tenant.
//
//go:embed console/index.html console/app.js console/app.css
var consoleFiles embed.FS

// consoleAssets are the files of the console, by route.
var consoleAssets = map[string]struct{ file, contentType string }{
	"/":                {"console/index.html", "text/html; charset=utf-8"},
	"/console/app.js":  {"console/app.js", "text/javascript; charset=utf-8"},
	"/console/app.css": {"console/app.css", "text/css; charset=utf-8"},
}

// consoleCSP allows the page's own script and style only (no inline code,
// nothing from elsewhere), images and connections to this gateway under
// either of its names (the page's origin, and the public URL in qrUrl and
// watchUrl). Downloads are blob: links, which CSP does not govern.
func consoleCSP(publicURL string) string {
	self := "'self'"
	if u, err := url.Parse(publicURL); err == nil && u.Scheme != "" && u.Host != "" {
		self += " " + u.Scheme + "://" + u.Host
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src " + self +
		"; connect-src " + self + "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// consoleAsset serves one embedded file of the console.
func (s *Server) consoleAsset(c echo.Context) error {
	a, ok := consoleAssets[c.Path()]
	if !ok {
		return notFoundErr("page")
	}
	b, err := consoleFiles.ReadFile(a.file)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", consoleCSP(s.baseURL))
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	return c.Blob(http.StatusOK, a.contentType, b)
}

// errNotLocal refuses a dev key request that a page of another site, or a
// host name other than the loopback one, could have made.
var errNotLocal = errors.New("dev keys are minted only for same-origin requests to a loopback host name")

// checkLocalRequest admits a request to a loopback host name (localhost,
// 127.0.0.1, ::1) that no other site's page sent: its Origin, when there
// is one, is the request's own host, and Sec-Fetch-Site, when there is
// one, says same-origin or none (typed or a tool). The Host check stops a
// DNS-rebinding page (evil.example resolved to 127.0.0.1); the Origin
// check stops a cross-site form or fetch. Tools such as curl send
// neither header and pass: whoever runs programs on the machine already
// reaches the dev gateway's data directory.
func checkLocalRequest(r *http.Request) error {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if ip := net.ParseIP(host); !(strings.EqualFold(host, "localhost") || ip != nil && ip.IsLoopback()) {
		return fmt.Errorf("%w: host %q", errNotLocal, r.Host)
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("%w: origin %q", errNotLocal, o)
		}
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return fmt.Errorf("%w: Sec-Fetch-Site %q", errNotLocal, r.Header.Get("Sec-Fetch-Site"))
	}
	return nil
}

// devKey mints a test API key for the dev tenant (dev mode only): the key
// printed at first start is stored only as a hash, so the console offers
// a new one instead. The key is in this answer and nowhere else (the log
// line names the route and status only).
func (s *Server) devKey(c echo.Context) error {
	if err := checkLocalRequest(c.Request()); err != nil {
		return &apiError{Status: http.StatusForbidden, Code: CodeForbidden, Msg: err.Error(), Err: err}
	}
	key, err := EnsureDevTenant(c.Request().Context(), s.store, s.cfg.Now(), true)
	if err != nil {
		return err
	}
	_, id, _ := splitCredential(key)
	return c.JSON(http.StatusCreated, map[string]any{"success": true, "tenantId": DevTenantID, "keyId": id, "apiKey": key})
}
