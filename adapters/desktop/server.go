package desktop

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
)

//go:embed templates/page.html
var templateFS embed.FS

// parsePage parses the page template. It runs when a server starts, not at
// package init: the CLI links this package, and every other subcommand
// would pay for the parse at start-up.
func parsePage() (*template.Template, error) {
	return template.ParseFS(templateFS, "templates/page.html")
}

// randomToken returns 32 random bytes, base64url without padding.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("desktop: crypto/rand failed: " + err.Error()) // cannot happen on supported OSes
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// server is the local UI: an echo server on 127.0.0.1 with one page per
// request, reachable only under an unguessable path.
type server struct {
	app      *App
	e        *echo.Echo
	ln       net.Listener
	host     string // "127.0.0.1:PORT", the only Host accepted
	pageTmpl *template.Template

	mu  sync.Mutex
	cur *session // the one request being handled, or nil
}

func newServer(app *App) (*server, error) {
	page, err := parsePage()
	if err != nil {
		return nil, fmt.Errorf("desktop: page template: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("desktop: listening on 127.0.0.1: %w", err)
	}
	s := &server{app: app, ln: ln, host: ln.Addr().String(), pageTmpl: page}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.Listener = ln
	e.Logger.SetOutput(io.Discard) // nothing about requests (or PINs) reaches a log
	e.HTTPErrorHandler = s.errorHandler
	e.Pre(s.guard)
	e.GET("/r/:token/", s.page)
	e.GET("/r/:token/doc/:doc/pdf", s.servePDF)
	e.GET("/r/:token/doc/:doc/page/:page", s.servePage)
	e.POST("/r/:token/sign", s.sign)
	e.POST("/r/:token/cancel", s.cancel)
	s.e = e
	return s, nil
}

// Addr returns "127.0.0.1:PORT".
func (s *server) Addr() string { return s.host }

func (s *server) serve() error {
	err := s.e.Server.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *server) shutdown(ctx context.Context) error { return s.e.Shutdown(ctx) }

// securityHeaders go on every answer, errors included.
func securityHeaders(h http.Header, nonce string) {
	style := "'none'"
	if nonce != "" {
		style = "'nonce-" + nonce + "'"
	}
	script := "'none'"
	if nonce != "" {
		script = "'nonce-" + nonce + "'" // the one inline script: times in the viewer's zone
	}
	h.Set("Content-Security-Policy", "default-src 'none'; script-src "+script+"; style-src "+style+
		"; img-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// same-origin, not no-referrer: with no-referrer browsers send "Origin: null"
	// on our own form POSTs, which the origin check must refuse.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// guard runs before routing: it refuses any Host but 127.0.0.1:PORT (a DNS
// rebinding page reaches us with its own host name) and, for POSTs, any
// request not from our own origin. No CORS header is ever sent, so other
// origins cannot read answers either.
func (s *server) guard(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		securityHeaders(c.Response().Header(), "")
		if r.Host != s.host {
			return echo.NewHTTPError(http.StatusMisdirectedRequest, "wrong Host")
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodPost:
			if !s.sameOrigin(r) {
				return echo.NewHTTPError(http.StatusForbidden, "cross-origin request refused")
			}
		default:
			return echo.NewHTTPError(http.StatusMethodNotAllowed, "method not allowed")
		}
		return next(c)
	}
}

// sameOrigin accepts a POST whose Origin is exactly our origin, or, from a
// browser that sends no Origin, whose Sec-Fetch-Site is same-origin. A
// request with neither header is refused: every current browser sends one.
func (s *server) sameOrigin(r *http.Request) bool {
	if sfs := r.Header.Get("Sec-Fetch-Site"); sfs != "" && sfs != "same-origin" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		return o == "http://"+s.host
	}
	return r.Header.Get("Sec-Fetch-Site") == "same-origin"
}

func (s *server) errorHandler(err error, c echo.Context) {
	code := http.StatusInternalServerError
	msg := "internal error"
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code = he.Code
		msg = fmt.Sprint(he.Message)
	}
	if c.Response().Committed {
		return
	}
	securityHeaders(c.Response().Header(), "")
	_ = c.String(code, msg+"\n")
}

// current returns the session named by the path token, in constant time.
func (s *server) current(c echo.Context) (*session, error) {
	tok := c.Param("token")
	s.mu.Lock()
	cur := s.cur
	s.mu.Unlock()
	if cur == nil || subtle.ConstantTimeCompare([]byte(tok), []byte(cur.token)) != 1 {
		return nil, echo.NewHTTPError(http.StatusNotFound, "no such request (finished, or the address is wrong)")
	}
	return cur, nil
}

// begin installs sess as the current request; only one at a time.
func (s *server) begin(sess *session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil && !s.cur.finished() {
		return ErrBusy
	}
	s.cur = sess
	return nil
}

// URL returns the page address of sess.
func (s *server) URL(sess *session) string {
	return "http://" + s.host + "/r/" + sess.token + "/"
}

func (s *server) render(c echo.Context, status int, sess *session, v *pageView) error {
	nonce := randomToken()
	v.Nonce = nonce
	v.Base = "/r/" + sess.token + "/"
	securityHeaders(c.Response().Header(), nonce)
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return s.pageTmpl.Execute(c.Response(), v)
}

func (s *server) page(c echo.Context) error {
	sess, err := s.current(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, sess, sess.view(c.Request().Context(), lang(c), msg{}))
}

// readForm reads a small url-encoded body into wipeable bytes and checks the
// CSRF token.
func readForm(c echo.Context, sess *session) (*secretForm, error) {
	r := c.Request()
	if ct := r.Header.Get(echo.HeaderContentType); !strings.HasPrefix(ct, echo.MIMEApplicationForm) {
		return nil, echo.NewHTTPError(http.StatusUnsupportedMediaType, "form expected")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBytes+1))
	if err != nil {
		clear(body)
		return nil, echo.NewHTTPError(http.StatusBadRequest, "reading the form")
	}
	if len(body) > maxFormBytes {
		clear(body)
		return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge, "form too large")
	}
	f, err := parseSecretForm(body)
	clear(body)
	if err != nil {
		return nil, echo.NewHTTPError(http.StatusBadRequest, "malformed form")
	}
	if !sess.checkCSRF(f.Bytes("csrf")) {
		f.Wipe()
		return nil, echo.NewHTTPError(http.StatusForbidden, "stale or forged form: reload the page")
	}
	return f, nil
}

func (s *server) sign(c echo.Context) error {
	sess, err := s.current(c)
	if err != nil {
		return err
	}
	f, err := readForm(c, sess)
	if err != nil {
		return err
	}
	defer f.Wipe()
	v := sess.submit(c.Request().Context(), lang(c), f.Get("cert"), f.Bytes("pin"))
	return s.render(c, http.StatusOK, sess, v)
}

func (s *server) cancel(c echo.Context) error {
	sess, err := s.current(c)
	if err != nil {
		return err
	}
	f, err := readForm(c, sess)
	if err != nil {
		return err
	}
	f.Wipe()
	return s.render(c, http.StatusOK, sess, sess.cancel(c.Request().Context(), lang(c)))
}

// lang is the page language: ?lang= (the page's language link), else
// Accept-Language.
func lang(c echo.Context) string {
	if l := c.QueryParam("lang"); l != "" {
		if _, ok := messages[l]; ok {
			return l
		}
	}
	return messages.Negotiate(c.Request().Header.Get("Accept-Language"), "en")
}
