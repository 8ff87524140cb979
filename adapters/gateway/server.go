package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"
	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/pki"
)

// Server is the gateway: the HTTP API of docs/protocol.md section 3.
type Server struct {
	cfg      Config
	store    Store
	docs     docStore // prepared and signed PDFs
	log      *slog.Logger
	echo     *echo.Echo
	ca       *pki.CA
	keys     *pki.SoftwareKeyStore
	userKeys *userKeyStore // subjects' keys: software and the user-key token
	links    *linkKeys
	limiter  *rateLimiter
	// publicLimiter limits unauthenticated calls per client address;
	// work bounds the PDF jobs in flight.
	publicLimiter *rateLimiter
	work          *workGate
	metrics       *metrics
	methods       *methodTable
	capKey        []byte // MAC key of capability URLs (watch.go)
	watchers      sessionWatch
	// watchPollEvery overrides watchPoll (tests: only notifications wake).
	watchPollEvery time.Duration
	validate       *validator.Validate
	otp            OTPSender
	otpKey         []byte // HMAC key of stored one-time codes
	roots          *x509.CertPool
	anchors        []*x509.Certificate
	// trust keeps tenants apart: which anchors each tenant's sessions
	// accept, and that gateway-CA certificates serve their own tenant.
	trust tenantTrust
	// services is whom validation believes about time and revocation.
	services *serviceTrust
	baseURL  string
	ownStore bool
	closers  []func() error

	openSessions sessionCounter
	tsa          *pki.TSAClient
	revocation   *pki.RevocationChecker // callback and validation checks; nil when off
	ltRevocation *pki.RevocationChecker // B-LT data, always on
	// chains caches parsed result certificates across callbacks.
	chains *callback.ChainCache

	// pendingSessions spares the callback reading back the hash sessions
	// this process made; apiKeys the authentication its key records.
	pendingSessions pendingCache
	apiKeys         apiKeyCache
	// issuedCerts remembers which user each certificate the gateway
	// issued belongs to: read on every callback signed with one
	// (issuedcache.go).
	issuedCerts issuedCertCache

	// orgs caches tenants' display names for links' org (set by the
	// operator only; a rename shows after a restart).
	orgsMu sync.Mutex
	orgs   map[string]string
}

// tenantOrg is the org of tenantID's links: its display name, or "" when
// the name is not fit to show (deeplink.CheckOrg) or the tenant unknown.
func (s *Server) tenantOrg(ctx context.Context, tenantID string) string {
	s.orgsMu.Lock()
	org, ok := s.orgs[tenantID]
	s.orgsMu.Unlock()
	if ok {
		return org
	}
	t, err := s.store.Tenant(ctx, tenantID)
	if err != nil {
		return "" // not cached: asked again next time
	}
	if err := deeplink.CheckOrg(t.Name); err == nil {
		org = t.Name
	} else {
		s.log.Warn("tenant name not usable as a link's org", "tenant", tenantID, "err", err.Error())
	}
	s.orgsMu.Lock()
	if s.orgs == nil {
		s.orgs = map[string]string{}
	}
	s.orgs[tenantID] = org
	s.orgsMu.Unlock()
	return org
}

// New opens the store the configuration names (PostgreSQL or SQLite in
// DataDir), loads or creates the CA and link keys, and returns the server.
// PublicURL must be set (the CLI derives it from the listener).
func New(ctx context.Context, cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("gateway: data directory: %w", err)
	}
	if err := checkDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s, err := NewWithStore(ctx, cfg, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	s.ownStore = true
	return s, nil
}

// NewWithStore returns a server on an open store (which it does not close).
func NewWithStore(ctx context.Context, cfg Config, st Store) (*Server, error) {
	s := &Server{chains: callback.NewChainCache(0, 0), pendingSessions: newPendingCache(), issuedCerts: newIssuedCertCache()}
	if err := s.init(ctx, cfg, st); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) init(ctx context.Context, cfg Config, st Store) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if cfg.PublicURL == "" {
		return errors.New("gateway: PublicURL is required")
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "files"), 0o700); err != nil {
		return fmt.Errorf("gateway: data directory: %w", err)
	}
	if len(cfg.MasterKey) == 0 {
		if !cfg.Dev {
			return errors.New("gateway: a master key is required outside dev mode (SECURESIGN_MASTER_KEY or --master-key-file)")
		}
		if cfg.MasterKey, err = devMasterKey(cfg.DataDir); err != nil {
			return fmt.Errorf("gateway: dev master key: %w", err)
		}
	}
	if err := KeyAuditChain(ctx, st, cfg.MasterKey, cfg.Now()); err != nil {
		return err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	s.cfg, s.store, s.log, s.limiter, s.baseURL = cfg, st, log, newRateLimiter(cfg.RateLimitRPM), cfg.PublicURL
	s.docs = newDocStore(st, filepath.Join(cfg.DataDir, "files"), cfg.Now)
	s.publicLimiter = newRateLimiter(cfg.PublicRateLimitRPM)
	s.work = newWorkGate(pdfJobs(cfg), pdfJobs(cfg), cfg.PDFQueueWait)
	var closer func() error
	s.ca, s.keys, s.userKeys, closer, err = openGatewayCA(ctx, st, cfg, cfg.PublicURL+"/pki")
	if err != nil {
		return err
	}
	s.closers = append(s.closers, closer)
	if s.links, err = loadLinkKeys(ctx, st, cfg.MasterKey, cfg.Now()); err != nil {
		return err
	}
	s.watchInvalidations()
	s.roots = x509.NewCertPool()
	s.roots.AddCert(s.ca.Root())
	s.trust.gatewayRoot = s.ca.Root()
	if len(cfg.TrustFiles) > 0 {
		_, anchors, err := pki.LoadTrustAnchors(cfg.TrustFiles...)
		if err != nil {
			return fmt.Errorf("gateway: trust anchors: %w", err)
		}
		for _, a := range anchors {
			if pki.NegativeSerial(a) {
				s.log.Warn("trust anchor has a negative serial number (RFC 5280 forbids it); accepted", "subject", a.Subject.String(), "serial", a.SerialNumber.String())
			}
			s.roots.AddCert(a)
		}
		s.anchors = anchors
		s.trust.addAnchors(anchors, nil)
	}
	for _, tt := range cfg.TenantTrust {
		if len(tt.Tenants) == 0 {
			return fmt.Errorf("gateway: trust anchors %s: no tenant named", tt.File)
		}
		_, anchors, err := pki.LoadTrustAnchors(tt.File)
		if err != nil {
			return fmt.Errorf("gateway: trust anchors: %w", err)
		}
		for _, a := range anchors {
			s.roots.AddCert(a)
		}
		s.anchors = append(s.anchors, anchors...)
		s.trust.addAnchors(anchors, tt.Tenants)
	}
	if s.services, err = loadServiceTrust(ctx, st, s.ca, cfg.TSATrustFiles); err != nil {
		return err
	}
	s.setupPKIClients()
	if s.otpKey, err = otpMACKey(cfg.MasterKey); err != nil {
		return err
	}
	if s.capKey, err = capKey(cfg.MasterKey); err != nil {
		return err
	}
	s.otp = cfg.OTPSender
	if s.otp == nil && cfg.Dev {
		s.otp = &DevOutbox{Store: st, Master: cfg.MasterKey, Now: cfg.Now,
			File: &OutboxSender{Path: filepath.Join(cfg.DataDir, "dev-otp-outbox.jsonl")}}
	}
	s.validate = validator.New(validator.WithRequiredStructEnabled())
	s.validate.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	s.metrics = newMetrics()
	s.echo = s.routes()
	return nil
}

// Store returns the server's store.
func (s *Server) Store() Store { return s.store }

// CA returns the server's certificate authority.
func (s *Server) CA() *pki.CA { return s.ca }

// Handler returns the HTTP handler of the whole API.
func (s *Server) Handler() http.Handler { return s.echo }

// Close releases the CA token and, if New opened it, the store.
func (s *Server) Close() error {
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	if s.ownStore {
		errs = append(errs, s.store.Close())
	}
	return errors.Join(errs...)
}

// Serve answers on ln until ctx is cancelled, then stops accepting, lets
// in-flight requests finish (up to ShutdownTimeout) and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := checkDevListener(s.cfg.Dev, ln); err != nil {
		return err
	}
	ln = s.limitConns(ln)
	hs := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: s.cfg.PublicReadTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("gateway: TLS: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, hs.TLSConfig)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	jctx, stopJanitor := context.WithCancel(ctx)
	defer stopJanitor()
	go s.janitor(jctx)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "timeout", s.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc
	return err
}

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.JSONSerializer = jsonSerializer{}
	if len(s.cfg.TrustedProxies) > 0 {
		var opts []echo.TrustOption
		for _, cidr := range s.cfg.TrustedProxies {
			if _, n, err := net.ParseCIDR(cidr); err == nil {
				opts = append(opts, echo.TrustIPRange(n))
			}
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(opts...)
	} else {
		e.IPExtractor = echo.ExtractIPDirect()
	}
	// methodCheck runs HEAD's GET route itself, through publicDeadline:
	// keep the two last, or change it too.
	e.Use(withTraceID, s.observe, s.recoverer, secureHeaders, s.methodCheck, s.publicDeadline)

	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]any{"status": "ok"}) })
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(s.metrics.handler()), s.metricsAuth)
	e.GET("/.well-known/securesign-keys.json", s.wellKnownKeys)
	e.GET("/openapi.json", s.openAPI, s.publicRate)
	// OCSP GET paths carry base64 ("//", "+", "="): nothing in front of
	// the CA's handler may clean or unescape them (no path-rewriting
	// middleware here; TestFixOCSPOverHTTP holds it).
	pkiH := http.StripPrefix("/pki", s.ca.Handler())
	e.Any("/pki/*", echo.WrapHandler(pkiH), s.publicRate)

	e.GET("/v1/callback", s.callbackGET, s.publicRate)
	e.POST("/v1/callback", s.callbackPOST, s.publicRate)
	// Capability URLs: the customer's browser, without the API key.
	e.GET("/v1/watch/:id", s.watchStatus, s.publicRate)
	e.GET("/v1/watch/:id/qr.png", s.watchQR, s.publicRate)
	// Signing packages (protocol 1.2 §6): the signing app, without the
	// API key; capability URLs like the two above.
	e.GET("/v1/packages/:id", s.packageJSON, s.publicRate)
	e.GET("/v1/packages/:id/:file", s.packagePDF, s.publicRate)
	if s.cfg.Dev {
		// The demo console (console.go): never routed outside --dev.
		e.GET("/", s.consoleAsset)
		e.GET("/console/app.js", s.consoleAsset)
		e.GET("/console/app.css", s.consoleAsset)
		e.POST("/v1/dev/keys", s.devKey)
	}

	v1 := e.Group("/v1", s.requireAuth, s.authDeadline)
	v1.POST("/auth/token", s.authToken)
	v1.POST("/auth/validate", s.authValidate)
	v1.POST("/auth/session", s.signHash)
	v1.POST("/sign/hash", s.signHash)
	v1.POST("/sign/pdf", s.signPDF)
	v1.POST("/sign/batch", s.signBatch)
	v1.POST("/register", s.register)
	v1.GET("/sessions/:id", s.sessionStatus)
	v1.GET("/sessions/:id/qr.png", s.sessionQR)
	v1.GET("/sessions/:id/pdf", s.sessionPDF)
	v1.POST("/verify/pdf", s.verifyPDF)
	v1.POST("/verify/hash", s.verifyHash)
	v1.POST("/certificates/validate", s.validateCertificate)
	v1.POST("/users", s.createUser)
	v1.GET("/users/:id", s.getUser)
	v1.PATCH("/users/:id", s.patchUser)
	v1.POST("/users/:id/otp", s.createOTP)
	v1.POST("/certificates/issue", s.issueCertificate)
	v1.GET("/certificates", s.listCertificates)
	v1.GET("/certificates/:serial", s.getCertificate)
	v1.POST("/certificates/:serial/revoke", s.revokeCertificate)
	v1.GET("/audit/logs", s.auditLogs)
	v1.GET("/link-keys", s.tenantLinkKeys)
	if s.cfg.Dev {
		v1.GET("/dev/otp/:id", s.devOTP)
	}

	csc := e.Group("/csc/v2", s.cscErrors)
	csc.POST("/info", s.cscInfo, s.publicRate)
	csc.GET("/info", s.cscInfo, s.publicRate)
	cscAuth := csc.Group("", s.requireAuth, s.authDeadline)
	cscAuth.POST("/credentials/list", s.cscList)
	cscAuth.POST("/credentials/info", s.cscCredInfo)
	cscAuth.POST("/credentials/sendOTP", s.cscSendOTP)
	cscAuth.POST("/credentials/authorize", s.cscAuthorize)
	// The signing methods also take an OAuth credential token.
	cscSign := csc.Group("", s.cscCredentialAuth)
	cscSign.POST("/signatures/signHash", s.cscSignHash)
	cscSign.POST("/signatures/signDoc", s.cscSignDoc)
	// OAuth 2.0 credential authorization: the user approves on the
	// gateway's own page.
	csc.GET("/oauth2/authorize", s.oauthAuthorize)
	csc.GET("/oauth2/consent/:id", s.oauthConsentPage)
	csc.POST("/oauth2/consent/:id", s.oauthConsentPost)
	csc.POST("/oauth2/token", s.oauthToken)
	s.methods = newMethodTable(e)
	return e
}

// errorHandler answers every error as the protocol's JSON error.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ae := toAPIError(err)
	if ae.Status >= 500 {
		s.log.Error("request failed", "method", c.Request().Method, "route", c.Path(), "err", err.Error())
	}
	if c.Get("csc") != nil {
		cscError(c, ae)
		return
	}
	// HEAD gets the same headers; net/http drops the body.
	c.JSON(ae.Status, ae.body(traceID(c))) //nolint:errcheck
}

// traceKey names the request's trace id in the echo context.
const traceKey = "traceId"

// traceID is the request's X-Request-Id (the caller's, or one made for it).
func traceID(c echo.Context) string {
	id, _ := c.Get(traceKey).(string)
	return id
}

// withTraceID gives every request a trace id: the caller's X-Request-Id
// when it is a short token (letters, digits, "-_.:"), else a new one; it
// is echoed in X-Request-Id on every answer, in traceId of every error and
// in the log, so a portal's report names the gateway's log line.
func withTraceID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !validTraceID(id) {
			id = newRequestID()
		}
		c.Set(traceKey, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

func validTraceID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r)) {
			return false
		}
	}
	return true
}

// observe logs each request (no headers, no bodies, no query: nothing
// secret) and records metrics.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		d := time.Since(start)
		s.metrics.observe(c.Request().Method, route, status, d)
		if !s.log.Enabled(context.Background(), slog.LevelInfo) {
			return nil // --log-level warn: spare building the entry
		}
		attrs := []any{"method", c.Request().Method, "route", route, "status", status, "ms", float64(d.Microseconds()) / 1000, "ip", c.RealIP()}
		if p := who(c); p != nil {
			attrs = append(attrs, "tenant", p.TenantID, "key", p.KeyID)
		}
		if rid, ok := c.Get("requestId").(string); ok {
			attrs = append(attrs, "requestId", rid)
		}
		attrs = append(attrs, "traceId", traceID(c))
		s.log.Info("request", attrs...)
		return nil
	}
}

func (s *Server) recoverer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				err = &apiError{Status: http.StatusInternalServerError, Code: CodeInternal, Msg: "internal error", Err: fmt.Errorf("panic: %v", r)}
			}
		}()
		return next(c)
	}
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return &apiError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Msg: "store unreachable", Err: err}
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ready"})
}

// wellKnownKeys publishes every tenant's link keys (PROTOCOL 1.1 §2).
func (s *Server) wellKnownKeys(c echo.Context) error {
	set, err := s.links.published(c.Request().Context(), nil)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "max-age=300")
	return c.JSON(http.StatusOK, set)
}

// tenantLinkKeys answers GET /v1/link-keys: the caller's own JWKS, for a
// portal that sends its own callbackUrl to publish at its origin.
func (s *Server) tenantLinkKeys(c echo.Context) error {
	ctx := c.Request().Context()
	tid := who(c).TenantID
	if _, err := s.links.forTenant(ctx, tid, s.cfg.Now()); err != nil {
		return err
	}
	set, err := s.links.published(ctx, &tid)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, set)
}

// readBody reads a JSON body of at most limit bytes.
func readBody(c echo.Context, limit int64) ([]byte, error) {
	r := http.MaxBytesReader(c.Response(), c.Request().Body, limit)
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// decodeStrict decodes JSON refusing unknown fields and trailing data, then
// runs the struct's validate tags.
func (s *Server) decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return badRequest("malformed JSON at byte %d", se.Offset)
		case errors.As(err, &te):
			return badRequest("%s must be %s", te.Field, jsonTypeName(te.Type))
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return badRequest("%s", strings.TrimPrefix(err.Error(), "json: "))
		case errors.Is(err, io.EOF):
			return badRequest("empty body")
		}
		return badRequest("malformed JSON: %v", err)
	}
	if dec.More() {
		return badRequest("trailing data after the JSON object")
	}
	var raw any
	if json.Unmarshal(body, &raw) == nil {
		if err := checkKeyCase(reflect.TypeOf(v), raw, ""); err != nil {
			return err
		}
	}
	if err := s.validate.Struct(v); err != nil {
		var ve validator.ValidationErrors
		if errors.As(err, &ve) && len(ve) > 0 {
			return badRequest("%s", fieldMessage(reflect.TypeOf(v), ve[0]))
		}
		return badRequest("invalid request: %v", err)
	}
	return nil
}

// bind reads and decodes a small JSON body.
func (s *Server) bind(c echo.Context, v any) ([]byte, error) {
	body, err := readBody(c, s.cfg.MaxJSONBytes)
	if err != nil {
		return nil, err
	}
	return body, s.decodeStrict(body, v)
}

// idemTokenKey names, in the echo context, a token derived from the tenant,
// Idempotency-Key and request: a handler whose side effect must happen at
// most once names what it makes after it, so that a retry which took over
// an abandoned reservation finds it (see signPDFServer).
const idemTokenKey = "idemToken"

// idempotent runs fn once per Idempotency-Key and request body: a repeat
// gets the stored answer, the same key with another body a 422. Only
// successful answers are stored; a failed call releases the key.
func (s *Server) idempotent(c echo.Context, bodyHash [32]byte, fn func() (int, any, error)) error {
	key := c.Request().Header.Get("Idempotency-Key")
	if key == "" {
		status, v, err := fn()
		if err != nil {
			return err
		}
		if fa, ok := v.(*fileAnswer); ok {
			defer s.removeTemp(c.Request().Context(), fa)
			return s.writeFileAnswer(c, status, fa)
		}
		return c.JSON(status, v)
	}
	if len(key) > 200 {
		return badRequest("Idempotency-Key longer than 200 characters")
	}
	p := who(c)
	ctx := c.Request().Context()
	h := sha256.New()
	h.Write([]byte(c.Request().Method + " " + c.Path() + "\n"))
	h.Write(bodyHash[:])
	var full [32]byte
	copy(full[:], h.Sum(nil))
	tok := sha256.Sum256([]byte(p.TenantID + "\x00" + key + "\x00" + string(full[:])))
	c.Set(idemTokenKey, hex.EncodeToString(tok[:12]))
	rec, err := s.store.ReserveIdempotency(ctx, p.TenantID, key, full, s.cfg.Now())
	if err != nil {
		return err
	}
	if rec != nil {
		if rec.BodyHash != full {
			return apiErr(http.StatusUnprocessableEntity, CodeIdempotencyMismatch, "Idempotency-Key was used with another request")
		}
		if !rec.Done {
			return apiErr(http.StatusConflict, CodeConflict, "a request with this Idempotency-Key is still running")
		}
		return s.replay(c, rec.Status, rec.Body)
	}
	status, v, err := fn()
	if err != nil {
		if rerr := s.store.ReleaseIdempotency(context.WithoutCancel(ctx), p.TenantID, key); rerr != nil {
			s.log.Error("idempotency release", "err", rerr.Error())
		}
		return err
	}
	fa, isFile := v.(*fileAnswer)
	if isFile {
		v = storedFileAnswer{fa}
	}
	body, err := marshalNoEscape(v)
	if err != nil {
		return err
	}
	if err := s.store.FinishIdempotency(context.WithoutCancel(ctx), p.TenantID, key, status, body); err != nil {
		return err
	}
	if isFile {
		return s.writeFileAnswer(c, status, fa)
	}
	return c.JSONBlob(status, body)
}

// audit appends an event; failures are logged (the action already happened).
func (s *Server) audit(ctx context.Context, e *AuditEntry) {
	if e.At.IsZero() {
		e.At = s.cfg.Now()
	}
	if err := s.store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("audit append failed", "action", e.Action, "err", err.Error())
	}
}

func actor(c echo.Context) string {
	if p := who(c); p != nil {
		return "key:" + p.KeyID
	}
	return "public"
}

// jsonSerializer writes JSON without HTML escaping, so deep links read as
// they are ("&", not "\u0026").
type jsonSerializer struct{ echo.DefaultJSONSerializer }

func (jsonSerializer) Serialize(c echo.Context, v any, indent string) error {
	enc := json.NewEncoder(c.Response())
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	return enc.Encode(v)
}

// secureHeaders: API answers are never cached (tokens, keys' answers) nor
// sniffed as another type.
func secureHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if !strings.HasPrefix(c.Request().URL.Path, "/pki/") && !strings.HasPrefix(c.Request().URL.Path, "/.well-known/") {
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}
