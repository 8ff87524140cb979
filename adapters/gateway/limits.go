package gateway

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/securesign/securesign/pdf"
)

// Memory sizing of PDF work. A verification of a hostile document within
// pdfLimits (32 MiB of decoded streams, some 50 MiB of heap with the
// buffers' growth, measured in internal/hardening) or the signing of a
// 50 MB one (under 64 MiB, issue 8) stays under pdfJobMemory with the
// garbage collector's slack; the rest of the process (caches,
// connections, SQLite) under baseMemory.
const (
	defaultMemoryLimit = 1 << 30
	baseMemory         = 128 << 20
	pdfJobMemory       = 96 << 20
)

// pdfLimits are the budgets of one PDF read by the gateway (verification,
// signing, preparation): a request stays well under 100 MiB whatever the
// document. pdf.DefaultLimits (192 MiB of decoded streams) suit a
// command-line tool working on its user's own files, not a server.
var pdfLimits = pdf.Limits{
	MaxObjects:      250_000,
	MaxXrefEntries:  500_000,
	MaxObjectTokens: 256 << 10,
	MaxStreamBytes:  8 << 20,
	MaxTotalBytes:   32 << 20,
	MaxStringBytes:  4 << 20,
	MaxRevisions:    200,
}

// memoryLimit is the memory the gateway sizes its PDF work from: the
// configured limit, else the runtime's (GOMEMLIMIT), else 1 GiB.
func memoryLimit(cfg Config) int64 {
	if cfg.MemoryLimit > 0 {
		return cfg.MemoryLimit
	}
	if l := debug.SetMemoryLimit(-1); l > 0 && l < math.MaxInt64 {
		return l
	}
	return defaultMemoryLimit
}

// pdfJobs is the number of PDF jobs that fit in the memory limit: 9 in
// the default 1 GiB.
func pdfJobs(cfg Config) int {
	if cfg.MaxPDFJobs > 0 {
		return cfg.MaxPDFJobs
	}
	return int(max(1, (memoryLimit(cfg)-baseMemory)/pdfJobMemory))
}

// errBusy is answered 503 with Retry-After: every PDF slot is taken and the
// wait for one ran out.
var errBusy = errors.New("gateway: PDF work at capacity")

// workGate bounds the PDF jobs in flight. A job waits up to wait for a
// slot; at most queue jobs wait at once, the others are refused at once.
type workGate struct {
	slots chan struct{}
	queue chan struct{}
	wait  time.Duration
}

func newWorkGate(jobs, queue int, wait time.Duration) *workGate {
	return &workGate{slots: make(chan struct{}, jobs), queue: make(chan struct{}, max(queue, 0)), wait: wait}
}

// acquire takes a slot, waiting for one within the gate's limits; release
// gives it back.
func (g *workGate) acquire(ctx context.Context) (release func(), err error) {
	select {
	case g.slots <- struct{}{}:
		return g.release, nil
	default:
	}
	if g.wait <= 0 {
		return nil, errBusy
	}
	select {
	case g.queue <- struct{}{}:
	default:
		return nil, errBusy
	}
	defer func() { <-g.queue }()
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return g.release, nil
	case <-t.C:
		return nil, errBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// acquireWait takes a slot waiting as long as ctx allows: for work that
// must happen once its result arrived (finishing a signed session).
func (g *workGate) acquireWait(ctx context.Context) (func(), error) {
	select {
	case g.slots <- struct{}{}:
		return g.release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *workGate) release() { <-g.slots }

// busyError is the answer to errBusy.
func busyError(c echo.Context, jobs int) error {
	c.Response().Header().Set("Retry-After", "2")
	return &apiError{Status: http.StatusServiceUnavailable, Code: CodeBusy,
		Msg: fmt.Sprintf("the gateway is at its %d concurrent PDF jobs; retry after 2 s", jobs), Err: errBusy}
}

// pdfWork runs fn holding a PDF slot.
func (s *Server) pdfWork(c echo.Context, fn func() error) error {
	release, err := s.work.acquire(c.Request().Context())
	if errors.Is(err, errBusy) {
		s.metrics.outcome("pdf_work", "busy")
		return busyError(c, cap(s.work.slots))
	}
	if err != nil {
		return err
	}
	defer release()
	return fn()
}

// ---- read deadlines ----

// uploadRoutes take a PDF body: their read deadline grows with the size
// limit, at MinUploadRate.
var uploadRoutes = map[string]bool{"/v1/sign/pdf": true, "/v1/sign/batch": true, "/v1/verify/pdf": true}

// publicDeadline gives every request PublicReadTimeout to send its body.
// Authenticated routes extend it once the caller is known (authDeadline),
// so that a stranger cannot hold a connection longer than that.
func (s *Server) publicDeadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		http.NewResponseController(c.Response().Writer).SetReadDeadline(time.Now().Add(s.cfg.PublicReadTimeout)) //nolint:errcheck
		return next(c)
	}
}

// authDeadline, behind requireAuth, gives authenticated calls
// ReadTimeout, and uploads ReadTimeout plus their size limit at
// MinUploadRate.
func (s *Server) authDeadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		d := s.cfg.ReadTimeout
		if uploadRoutes[c.Path()] {
			d += s.uploadTime()
		}
		http.NewResponseController(c.Response().Writer).SetReadDeadline(time.Now().Add(d)) //nolint:errcheck
		return next(c)
	}
}

// uploadTime is the time to send the largest upload (base64 of
// MaxBodyBytes) at MinUploadRate.
func (s *Server) uploadTime() time.Duration {
	return time.Duration(float64(s.cfg.MaxBodyBytes/3*4) / float64(s.cfg.MinUploadRate) * float64(time.Second))
}

// isTimeout reports a read that ran past its connection deadline (not a
// context's).
func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// ---- public rate limit ----

// publicRate limits the unauthenticated endpoints (callback, OCSP, TSA,
// CSC info) per client address; RealIP believes X-Forwarded-For only from
// TrustedProxies.
func (s *Server) publicRate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ok, retry := s.publicLimiter.allow(c.RealIP(), s.cfg.Now()); !ok {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())+1))
			s.metrics.outcome("public", "rate_limited")
			return apiErr(http.StatusTooManyRequests, CodeRateLimited, "rate limit of %d requests per minute per address exceeded", s.cfg.PublicRateLimitRPM)
		}
		return next(c)
	}
}

// ---- /metrics ----

// metricsAuth guards /metrics on the public listener: a bearer token when
// MetricsToken is set; otherwise only in dev mode (loopback only).
// MetricsHandler serves it without either, for an admin listener.
func (s *Server) metricsAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.cfg.MetricsToken == "" {
			if s.cfg.Dev {
				return next(c)
			}
			return notFoundErr("route")
		}
		tok, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.MetricsToken)) != 1 {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			return apiErr(http.StatusUnauthorized, CodeUnauthorized, "metrics need the bearer token")
		}
		return next(c)
	}
}

// MetricsHandler serves the Prometheus metrics without authentication,
// for an admin listener that only operators reach.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.handler() }

// ---- connections per address ----

// connLimiter caps the open connections of one client address. Addresses
// of trusted proxies are not capped (every client comes through them).
type connLimiter struct {
	net.Listener
	max     int
	exempt  []*net.IPNet
	mu      sync.Mutex
	open    map[string]int
	refused func()
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		if ip := net.ParseIP(host); ip != nil {
			for _, n := range l.exempt {
				if n.Contains(ip) {
					return c, nil
				}
			}
		}
		l.mu.Lock()
		if l.open[host] >= l.max {
			l.mu.Unlock()
			c.Close()
			if l.refused != nil {
				l.refused()
			}
			continue
		}
		l.open[host]++
		l.mu.Unlock()
		return &countedConn{Conn: c, l: l, host: host}, nil
	}
}

type countedConn struct {
	net.Conn
	l    *connLimiter
	host string
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		if c.l.open[c.host]--; c.l.open[c.host] <= 0 {
			delete(c.l.open, c.host)
		}
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

func (s *Server) limitConns(ln net.Listener) net.Listener {
	var exempt []*net.IPNet
	for _, cidr := range s.cfg.TrustedProxies {
		if _, n, err := net.ParseCIDR(cidr); err == nil {
			exempt = append(exempt, n)
		}
	}
	return &connLimiter{Listener: ln, max: s.cfg.MaxConnsPerAddr, exempt: exempt, open: map[string]int{},
		refused: func() { s.metrics.outcome("conn", "refused") }}
}

// checkDevListener refuses to serve dev mode (OTP codes over HTTP, the
// test tenant) on anything but loopback.
func checkDevListener(dev bool, ln net.Listener) error {
	if !dev {
		return nil
	}
	if a, ok := ln.Addr().(*net.TCPAddr); ok && a.IP.IsLoopback() {
		return nil
	}
	return fmt.Errorf("gateway: --dev serves one-time codes over HTTP and listens on loopback only, not %s (use 127.0.0.1:PORT)", ln.Addr())
}
