package gateway

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/deeplink/sigpkg"
	"github.com/securesign/securesign/signer"
)

// sessionState is the kind-specific part of a session, stored as JSON.
type sessionState struct {
	DeepLink       string    `json:"deepLink"`
	RegisteredCert []byte    `json:"registeredCert,omitempty"`
	Platform       string    `json:"platform,omitempty"`
	PDFs           []pdfPart `json:"pdfs,omitempty"`
	// Package is the signing package of a PDF session (protocol 1.2 §6),
	// byte for byte what the link's pkgSha256 names.
	Package []byte `json:"package,omitempty"`
}

// sessionOutput is what the gateway made after completion.
type sessionOutput struct {
	SignedPDFs []string `json:"signedPdfs,omitempty"` // file names under <data>/files
	Error      string   `json:"error,omitempty"`
	Registered string   `json:"registered,omitempty"` // certificate id
}

var hashAlgos = map[string]crypto.Hash{"SHA256": crypto.SHA256, "SHA384": crypto.SHA384, "SHA512": crypto.SHA512}

func hashName(h crypto.Hash) string {
	for n, v := range hashAlgos {
		if v == h {
			return n
		}
	}
	return ""
}

// sortable64 is a base64 alphabet in ASCII order: its strings sort as the
// numbers they encode.
const sortable64 = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"

// newRequestID returns 29 characters of [A-Za-z0-9_-]: the time (Unix
// milliseconds, 7 characters of sortable64, good until 2109) and then 128
// random bits. Time first, so that ids made one after another sort one
// after another: the store's indexes on request ids then grow at their end
// instead of changing a random page per new session. The time tells no
// more than the link's expiry does.
func newRequestID() string {
	var b [7 + 22]byte
	ms := uint64(time.Now().UnixMilli())
	for i := 6; i >= 0; i-- {
		b[i] = sortable64[ms&63]
		ms >>= 6
	}
	var r [16]byte
	rand.Read(r[:]) //nolint:errcheck
	base64.RawURLEncoding.Encode(b[7:], r[:])
	return string(b[:])
}

// sessionSpec is what a create call asks for, before the link exists.
type sessionSpec struct {
	Kind, Action string
	Hashes       [][]byte
	HashAlgo     string
	CallbackURL  string
	ReturnURL    string
	CertSerial   string
	Doc          string
	Platform     string
	UserID       string
	Registered   *Certificate
	PDFs         []pdfPart
	// Package lists the documents of PDFs for the session's signing
	// package (their URLs are set when the session exists); nil: none.
	Package       []sigpkg.Document
	PackageInLink bool   // the portal asks for the package in its own links too
	RequestID     string // preset by PDF calls, which name their files after it
	ExpectedCerts bool
	CertSHA256    []byte // register: the portal pinned the certificate
}

// checkURLs resolves the callback (default: the gateway's own) and checks
// callback and return URLs against the tenant's allowlist.
func (s *Server) checkURLs(ctx context.Context, tenantID string, spec *sessionSpec) (origin string, err error) {
	own := s.baseURL + "/v1/callback"
	if spec.CallbackURL == "" {
		spec.CallbackURL = own
	}
	if _, err := deeplink.ValidateCallbackURL(spec.CallbackURL); err != nil {
		return "", badRequest("callbackUrl: %v", err)
	}
	origin, err = deeplink.OriginOf(spec.CallbackURL)
	if err != nil {
		return "", badRequest("callbackUrl: %v", err)
	}
	var allowed []string
	if spec.CallbackURL != own || spec.ReturnURL != "" {
		if allowed, err = s.tenantOrigins(ctx, tenantID); err != nil {
			return "", err
		}
	}
	if spec.CallbackURL != own && !originAllowed(allowed, origin) {
		return "", apiErr(http.StatusForbidden, CodeDomainNotAllowed, "callbackUrl origin %s is not on the tenant's allowed origins", origin)
	}
	if spec.ReturnURL != "" {
		u, err := url.Parse(spec.ReturnURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return "", badRequest("returnUrl must be an absolute http(s) URL")
		}
		ro := u.Scheme + "://" + strings.ToLower(u.Host)
		ownOrigin, _ := deeplink.OriginOf(own)
		if ro != ownOrigin && !originAllowed(allowed, ro) {
			return "", apiErr(http.StatusForbidden, CodeDomainNotAllowed, "returnUrl origin %s is not on the tenant's allowed origins", ro)
		}
	}
	return origin, nil
}

// linkRequest is the deep link of the session spec describes; sess gives
// requestId, origin, exp and the register challenge. splitHashSpec measures
// links with it, so every parameter of a link is set here.
func linkRequest(spec *sessionSpec, sess *Session) *deeplink.Request {
	req := &deeplink.Request{
		Action: deeplink.Action(spec.Action), RequestID: sess.RequestID, CallbackURL: spec.CallbackURL,
		Origin: sess.Origin, Expires: sess.ExpiresAt, Doc: spec.Doc, CertSerial: spec.CertSerial,
	}
	if spec.Action == string(deeplink.ActionRegister) {
		req.Challenge = sess.Challenge
	} else {
		req.Hashes, req.HashAlgo = spec.Hashes, hashAlgos[spec.HashAlgo]
	}
	if len(spec.CertSHA256) > 0 {
		req.CertSHA256 = hex.EncodeToString(spec.CertSHA256)
	}
	return req
}

// createSession stores a pending session and returns its deep link.
func (s *Server) createSession(c echo.Context, spec *sessionSpec) (*Session, error) {
	ctx := c.Request().Context()
	p := who(c)
	now := s.cfg.Now()
	n, err := s.openSessions.count(ctx, s.store, p.TenantID, now)
	if err != nil {
		return nil, err
	}
	if n >= s.cfg.MaxOpenSessions {
		return nil, apiErr(http.StatusTooManyRequests, CodeTooManySessions, "the tenant has %d open sessions, the limit", n)
	}
	origin, err := s.checkURLs(ctx, p.TenantID, spec)
	if err != nil {
		return nil, err
	}
	if spec.HashAlgo == "" {
		spec.HashAlgo = "SHA256"
	}
	if spec.RequestID == "" {
		spec.RequestID = newRequestID()
	}
	if spec.CertSerial != "" {
		// Stored and put in the link canonically (lowercase hex), whatever
		// form the caller gave.
		if spec.CertSerial, err = normalizeSerial(spec.CertSerial); err != nil {
			return nil, err
		}
	}
	sess := &Session{
		RequestID: spec.RequestID, TenantID: p.TenantID, Kind: spec.Kind, Action: spec.Action,
		Hashes: spec.Hashes, HashAlgo: spec.HashAlgo, Origin: origin, CertSerial: spec.CertSerial, UserID: spec.UserID,
		CallbackURL: spec.CallbackURL, ReturnURL: spec.ReturnURL, Doc: spec.Doc,
		ExpiresAt: now.Add(s.cfg.SessionTTL).Truncate(time.Second), CreatedAt: now, Status: StatusPending,
	}
	if spec.Action == string(deeplink.ActionRegister) {
		sess.Challenge = make([]byte, deeplink.ChallengeSize)
		rand.Read(sess.Challenge) //nolint:errcheck
		sess.Hashes = [][]byte{}
	}
	req := linkRequest(spec, sess)
	st := sessionState{Platform: spec.Platform, PDFs: spec.PDFs}
	if len(spec.CertSHA256) > 0 {
		sess.CertSHA256 = spec.CertSHA256
	}
	if spec.Registered != nil {
		st.RegisteredCert = spec.Registered.DER
		if sum, err := hex.DecodeString(spec.Registered.SHA256Hex); err == nil {
			sess.CertSHA256 = sum
		}
	}
	key, err := s.links.forTenant(ctx, p.TenantID, now)
	if err != nil {
		return nil, err
	}
	req.Org = s.tenantOrg(ctx, p.TenantID)
	var pkgURL, pkgSHA256 string
	if len(spec.Package) > 0 {
		if st.Package, pkgURL, pkgSHA256, err = s.buildPackage(sess, spec.Package); err != nil {
			return nil, err
		}
	}
	own, _ := deeplink.OriginOf(s.baseURL)
	link, named, err := buildLinkWithPackage(req, key, pkgURL, pkgSHA256, origin == own || spec.PackageInLink || s.cfg.PackageOnPortalLinks)
	if err != nil {
		return nil, unprocessable(err, "cannot build the deep link: %v", err)
	}
	if !named {
		st.Package = nil
	}
	st.DeepLink = link
	sess.State = jsonBytes(st)
	docHash := ""
	if len(sess.Hashes) > 0 {
		docHash = hex.EncodeToString(sess.Hashes[0])
	}
	entry := &AuditEntry{TenantID: p.TenantID, At: now, Actor: actor(c), Action: "session.create", Origin: origin, RequestID: sess.RequestID,
		CertSerial: sess.CertSerial, DocHash: docHash, Detail: fmt.Sprintf("%s, %d hash(es)", spec.Kind, len(sess.Hashes))}
	if err := s.store.CreateSession(ctx, sess, entry); err != nil {
		return nil, err
	}
	s.openSessions.add(p.TenantID)
	if spec.Action == string(deeplink.ActionSign) && len(spec.PDFs) == 0 && (spec.Kind == "hash" || spec.Kind == "batch") {
		s.pendingSessions.put(sess, st.RegisteredCert)
	}
	s.metrics.outcome("session", "created")
	c.Set("requestId", sess.RequestID)
	return sess, nil
}

// sessionAnswerBody is the answer to a session create. Its fields are in
// the order of their names, as when it was a map: the bytes are the same.
type sessionAnswerBody struct {
	DeepLink  string `json:"deepLink"`
	ExpiresAt string `json:"expiresAt"`
	// PackageSHA256 and PackageURL name the signing package of a PDF
	// session (protocol 1.2 §6), as its link does: a capability URL, for
	// the signing app (or a portal that serves it itself).
	PackageSHA256 string `json:"packageSha256,omitempty"`
	PackageURL    string `json:"packageUrl,omitempty"`
	QRURL         string `json:"qrUrl"`
	RequestID     string `json:"requestId"`
	SessionID     string `json:"sessionId"`
	StatusURL     string `json:"statusUrl"`
	Success       bool   `json:"success"`
	// WatchURL is the capability URL of the status (JSON, long polling,
	// server-sent events) for the customer's browser; QRURL is one too.
	WatchURL string `json:"watchUrl"`
	// Repaired: a PDF was rewritten once (damaged cross-reference data)
	// before its signature was prepared.
	Repaired bool `json:"repaired,omitempty"`
}

func (s *Server) sessionAnswer(sess *Session) *sessionAnswerBody {
	var st struct {
		DeepLink string `json:"deepLink"`
		Package  []byte `json:"package"`
	}
	json.Unmarshal(sess.State, &st) //nolint:errcheck
	status := s.baseURL + "/v1/sessions/" + sess.RequestID
	qr, watch := s.watchURLs(sess)
	ans := &sessionAnswerBody{Success: true, RequestID: sess.RequestID, SessionID: sess.RequestID, DeepLink: st.DeepLink,
		ExpiresAt: sess.ExpiresAt.UTC().Format(time.RFC3339), QRURL: qr, StatusURL: status, WatchURL: watch}
	if len(st.Package) > 0 {
		ans.PackageURL, ans.PackageSHA256 = s.packageURL(sess), sigpkg.Digest(st.Package)
	}
	return ans
}

type signHashReq struct {
	HashBase64   string   `json:"hashBase64" validate:"required_without=Hashes,omitempty,base64"`
	Hashes       []string `json:"hashes" validate:"omitempty,min=1,max=1000,dive,base64"`
	HashAlgo     string   `json:"hashAlgo" validate:"omitempty,oneof=SHA256 SHA384 SHA512"`
	CallbackURL  string   `json:"callbackUrl" validate:"omitempty,max=1000"`
	ReturnURL    string   `json:"returnUrl" validate:"omitempty,max=1000"`
	CertSerial   string   `json:"certSerial" validate:"omitempty,max=64"`
	Platform     string   `json:"platform" validate:"omitempty,max=40"`
	Doc          string   `json:"doc" validate:"omitempty,max=200"`
	DocumentType string   `json:"documentType" validate:"omitempty,oneof=hash"`
	// Server-key variant: sign now with a server-held credential after the
	// user's OTP for "sign", instead of opening a session.
	CertificateID string `json:"certificateId" validate:"omitempty,max=64"`
	OTPID         string `json:"otpId" validate:"omitempty,max=64"`
	OTP           string `json:"otp" validate:"omitempty,max=12"`
}

// normalizeSerial checks a hex serial and writes it canonically.
func normalizeSerial(s string) (string, error) {
	n, err := signer.ParseSerial(s)
	if err != nil {
		return "", badRequest("certSerial: %v", err)
	}
	return n.Text(16), nil
}

func (s *Server) signHash(c echo.Context) error {
	var req signHashReq
	body, err := s.bind(c, &req)
	if err != nil {
		return err
	}
	return s.idempotent(c, sha256.Sum256(body), func() (int, any, error) {
		list := req.Hashes
		if req.HashBase64 != "" {
			if len(list) > 0 {
				return 0, nil, badRequest("give hashBase64 or hashes, not both")
			}
			list = []string{req.HashBase64}
		}
		if len(list) > s.cfg.MaxDigests {
			return 0, nil, badRequest("hashes: at most %d digests", s.cfg.MaxDigests)
		}
		if req.CertificateID != "" && len(list) > s.cfg.MaxBatch {
			return 0, nil, badRequest("hashes: at most %d digests with a server-held key", s.cfg.MaxBatch)
		}
		algo := req.HashAlgo
		if algo == "" {
			algo = "SHA256"
		}
		hashes := make([][]byte, len(list))
		for i, h := range list {
			b, _ := base64.StdEncoding.DecodeString(h)
			if len(b) != hashAlgos[algo].Size() {
				return 0, nil, badRequest("hash %d has %d bytes, %s needs %d", i+1, len(b), algo, hashAlgos[algo].Size())
			}
			hashes[i] = b
		}
		if req.CertificateID != "" {
			return s.signHashServer(c, req.CertificateID, req.OTPID, req.OTP, hashes, hashAlgos[algo])
		}
		spec := &sessionSpec{Kind: "hash", Action: "sign", Hashes: hashes, HashAlgo: algo, CallbackURL: req.CallbackURL,
			ReturnURL: req.ReturnURL, Doc: req.Doc, Platform: req.Platform}
		if len(hashes) > 1 {
			spec.Kind = "batch"
		}
		if req.CertSerial != "" {
			serial, err := normalizeSerial(req.CertSerial)
			if err != nil {
				return 0, nil, err
			}
			spec.CertSerial = serial
			if cert, err := s.store.CertificateBySerial(c.Request().Context(), who(c).TenantID, serial); err == nil {
				spec.Registered, spec.UserID = cert, cert.UserID
			}
		}
		return s.createHashSessions(c, spec)
	})
}

type registerReq struct {
	UserID      string `json:"userId" validate:"omitempty,max=64"`
	CallbackURL string `json:"callbackUrl" validate:"omitempty,max=1000"`
	ReturnURL   string `json:"returnUrl" validate:"omitempty,max=1000"`
	Platform    string `json:"platform" validate:"omitempty,max=40"`
	Doc         string `json:"doc" validate:"omitempty,max=200"`
	// CertSHA256 pins the certificate to register (lowercase hex SHA-256
	// of its DER): then its subject need not name the user.
	CertSHA256 string `json:"certSha256" validate:"omitempty,len=64,hexadecimal"`
}

func (s *Server) register(c echo.Context) error {
	var req registerReq
	body, err := s.bind(c, &req)
	if err != nil {
		return err
	}
	return s.idempotent(c, sha256.Sum256(body), func() (int, any, error) {
		if req.UserID != "" {
			if _, err := s.store.User(c.Request().Context(), who(c).TenantID, req.UserID); err != nil {
				if errors.Is(err, ErrNotFound) {
					return 0, nil, notFoundErr("user")
				}
				return 0, nil, err
			}
		}
		var pin []byte
		if req.CertSHA256 != "" {
			pin, _ = hex.DecodeString(strings.ToLower(req.CertSHA256))
		}
		sess, err := s.createSession(c, &sessionSpec{Kind: "register", Action: "register", CallbackURL: req.CallbackURL,
			ReturnURL: req.ReturnURL, UserID: req.UserID, Platform: req.Platform, Doc: req.Doc, CertSHA256: pin})
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, s.sessionAnswer(sess), nil
	})
}

// sessionFor returns the tenant's session or a 404.
func (s *Server) sessionFor(c echo.Context) (*Session, error) {
	sess, err := s.store.Session(c.Request().Context(), who(c).TenantID, c.Param("id"))
	if errors.Is(err, ErrNotFound) {
		return nil, notFoundErr("session")
	}
	c.Set("requestId", c.Param("id"))
	return sess, err
}

func (s *Server) status(sess *Session) string {
	if sess.Status == StatusPending && !s.cfg.Now().Before(sess.ExpiresAt) {
		return StatusExpired
	}
	return sess.Status
}

func (s *Server) sessionStatus(c echo.Context) error {
	sess, err := s.sessionFor(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if sess.Completion != nil {
		if sess, err = s.afterCompletion(ctx, sess); err != nil {
			return err
		}
	}
	// success says whether the session is signed, never true beside a
	// failed status (protocol §3.4); the 200 says the call worked.
	status := s.status(sess)
	out := map[string]any{"success": status == "signed", "requestId": sess.RequestID, "status": status, "kind": sess.Kind,
		"expiresAt": sess.ExpiresAt.UTC().Format(time.RFC3339)}
	if cp := sess.Completion; cp != nil {
		if cp.Success {
			sigs := make([]string, len(cp.Signatures))
			for i, sg := range cp.Signatures {
				sigs[i] = base64.StdEncoding.EncodeToString(sg)
			}
			out["signaturesBase64"] = sigs
			out["certificateBase64"] = base64.StdEncoding.EncodeToString(cp.Certificate)
			var chain []string
			for _, d := range cp.Chain {
				chain = append(chain, base64.StdEncoding.EncodeToString(d))
			}
			out["chainBase64"] = chain
			out["completedAt"] = cp.CompletedAt.UTC().Format(time.RFC3339)
		} else {
			out["error"], out["message"] = cp.Code, cp.Message
		}
	}
	var o sessionOutput
	json.Unmarshal(sess.Output, &o) //nolint:errcheck
	if o.Error != "" {
		out["status"], out["error"], out["message"] = StatusFailed, callback.CodeInternal, o.Error
	}
	if o.Registered != "" {
		out["certificateId"] = o.Registered
	}
	if len(o.SignedPDFs) > 0 && c.QueryParam("pdf") != "0" {
		fa := &fileAnswer{Fields: out, Members: []fileMember{{Name: "signedPdfBase64", Files: o.SignedPDFs[:1]}}}
		if len(o.SignedPDFs) > 1 {
			fa.Members = append(fa.Members, fileMember{Name: "signedPdfsBase64", Files: o.SignedPDFs, Array: true})
		}
		return s.writeFileAnswer(c, http.StatusOK, fa)
	}
	return c.JSON(http.StatusOK, out)
}

// sessionPDF downloads a signed PDF of a completed session (?n= selects one
// of a batch, from 0).
func (s *Server) sessionPDF(c echo.Context) error {
	sess, err := s.sessionFor(c)
	if err != nil {
		return err
	}
	if sess.Completion != nil {
		if sess, err = s.afterCompletion(c.Request().Context(), sess); err != nil {
			return err
		}
	}
	var o sessionOutput
	json.Unmarshal(sess.Output, &o) //nolint:errcheck
	n, _ := strconv.Atoi(c.QueryParam("n"))
	if n < 0 || n >= len(o.SignedPDFs) {
		return notFoundErr("signed PDF")
	}
	f, done, err := s.docs.Open(c.Request().Context(), o.SignedPDFs[n])
	if err != nil {
		return docUnavailable(err)
	}
	defer done()
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+sess.RequestID+`-signed.pdf"`)
	http.ServeContent(c.Response(), c.Request(), sess.RequestID+"-signed.pdf", sess.CreatedAt, f)
	return nil
}

func (s *Server) sessionQR(c echo.Context) error {
	sess, err := s.sessionFor(c)
	if err != nil {
		return err
	}
	return writeQR(c, sess)
}

// writeQR answers the session's deep link as a QR code.
func writeQR(c echo.Context, sess *Session) error {
	var st sessionState
	if err := json.Unmarshal(sess.State, &st); err != nil {
		return err
	}
	png, err := deeplink.QRPNG(st.DeepLink)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "image/png", png)
}

// ---- callback ----

// callbackStore is callback.Store over the gateway's sessions. It keeps
// the session it read (one verification per value), so the handler does not
// read it again.
type callbackStore struct {
	st   Store
	seen *Session
	// audited is set when Complete won and wrote the "accepted" audit
	// entry in the completion's transaction.
	audited bool
	// cache, when set, answers Pending for the hash sessions this process
	// made (cached tells that it did) without reading the store.
	cache  *pendingCache
	now    func() time.Time
	cached bool
}

func parseDERs(ders [][]byte) ([]*x509.Certificate, error) {
	out := make([]*x509.Certificate, 0, len(ders))
	for _, d := range ders {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func toCallbackCompletion(c *Completion) (*callback.Completion, error) {
	if c == nil {
		return nil, nil
	}
	out := &callback.Completion{ResultHash: c.ResultHash, Success: c.Success, Code: callback.Code(c.Code), Message: c.Message,
		Signatures: c.Signatures, CompletedAt: c.CompletedAt}
	var err error
	if len(c.Certificate) > 0 {
		if out.Certificate, err = x509.ParseCertificate(c.Certificate); err != nil {
			return nil, err
		}
	}
	if out.Chain, err = parseDERs(c.Chain); err != nil {
		return nil, err
	}
	return out, nil
}

func (cs *callbackStore) Pending(ctx context.Context, requestID string) (*callback.Pending, *callback.Completion, error) {
	if cs.cache != nil {
		if snap, registered := cs.cache.get(requestID, cs.now()); snap != nil {
			cs.cached = true
			sess := *snap // cs.seen is written to below and in Complete
			cs.seen = &sess
			p, err := pendingOf(&sess, registered)
			return p, nil, err
		}
	}
	sess, err := cs.st.SessionByID(ctx, requestID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, fmt.Errorf("%w: %q", callback.ErrUnknownRequest, requestID)
	}
	if err != nil {
		return nil, nil, err
	}
	cs.seen = sess
	var st sessionState
	if err := json.Unmarshal(sess.State, &st); err != nil {
		return nil, nil, fmt.Errorf("gateway: session state: %w", err)
	}
	p, err := pendingOf(sess, st.RegisteredCert)
	if err != nil {
		return nil, nil, err
	}
	c, err := toCallbackCompletion(sess.Completion)
	return p, c, err
}

// pendingOf is what a result for sess is checked against; registered is
// the DER of the registered certificate the request named, if any.
func pendingOf(sess *Session, registered []byte) (*callback.Pending, error) {
	p := &callback.Pending{RequestID: sess.RequestID, TenantID: sess.TenantID, Action: deeplink.Action(sess.Action),
		Hashes: sess.Hashes, HashAlgo: hashAlgos[sess.HashAlgo], Origin: sess.Origin, Challenge: sess.Challenge,
		CertSHA256: sess.CertSHA256, ExpiresAt: sess.ExpiresAt}
	if sess.Action == string(deeplink.ActionRegister) {
		p.HashAlgo = 0
	}
	if sess.CertSerial != "" {
		// A serial that does not parse must not silently drop the
		// certificate check: the callback fails instead.
		n, err := signer.ParseSerial(sess.CertSerial)
		if err != nil {
			return nil, fmt.Errorf("gateway: session %s: stored certificate serial: %w", sess.RequestID, err)
		}
		p.CertSerial = n
	}
	if len(registered) > 0 {
		var err error
		if p.RegisteredCert, err = x509.ParseCertificate(registered); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// pendingCache keeps, for the callback, what a hash session's result is
// checked against, from when createSession stored it: the request, its
// digests, expected certificate and expiry never change after that, so
// the callback need not read the session back. Whether the session is
// still pending is not cached: the completion stays the store's compare
// and set, and a result refused on a cached entry is answered as the
// stored session says (another instance sharing the database may have
// completed it: then it is a conflict, as without the cache). An entry
// goes when the session completes here, at its expiry, or, the cache
// being full, oldest first; PDF and register sessions are not cached
// (their completion has more to do).
type pendingCache struct {
	entries *fifoMap[string, pendingEntry]
}

type pendingEntry struct {
	sess       *Session // State and Completion dropped; read only
	registered []byte
}

// pendingCacheSize bounds the cache (each entry is well under 1 KiB).
const pendingCacheSize = 8192

func newPendingCache() pendingCache {
	return pendingCache{entries: newFIFOMap[string, pendingEntry](pendingCacheSize)}
}

func (pc *pendingCache) put(sess *Session, registered []byte) {
	snap := *sess
	snap.State, snap.Output, snap.Completion = nil, nil, nil
	pc.entries.put(snap.RequestID, pendingEntry{sess: &snap, registered: registered})
}

// get returns the cached session, unless it expired at now.
func (pc *pendingCache) get(requestID string, now time.Time) (*Session, []byte) {
	e, ok := pc.entries.get(requestID)
	if !ok {
		return nil, nil
	}
	if !now.Before(e.sess.ExpiresAt) {
		pc.entries.delete(requestID)
		return nil, nil
	}
	return e.sess, e.registered
}

func (pc *pendingCache) drop(requestID string) { pc.entries.delete(requestID) }

func (cs *callbackStore) Complete(ctx context.Context, requestID string, c *callback.Completion) (*callback.Completion, bool, error) {
	mc := &Completion{ResultHash: c.ResultHash, Success: c.Success, Code: string(c.Code), Message: c.Message, Signatures: c.Signatures, CompletedAt: c.CompletedAt}
	if c.Certificate != nil {
		mc.Certificate = c.Certificate.Raw
	}
	for _, x := range c.Chain {
		mc.Chain = append(mc.Chain, x.Raw)
	}
	var entry *AuditEntry
	if cs.seen != nil && cs.seen.RequestID == requestID {
		entry = acceptedAudit(cs.seen, c)
	}
	stored, won, err := cs.st.CompleteSession(ctx, requestID, mc, entry)
	if cs.cache != nil && err == nil {
		cs.cache.drop(requestID) // completed: no longer pending
	}
	if errors.Is(err, ErrNotFound) {
		return nil, false, fmt.Errorf("%w: %q", callback.ErrUnknownRequest, requestID)
	}
	if err != nil {
		return nil, false, err
	}
	if cs.seen != nil && cs.seen.RequestID == requestID {
		cs.seen.Completion, cs.seen.Status = stored, StatusFailed
		if stored.Success {
			cs.seen.Status = StatusSigned
		}
	}
	if won {
		// stored is c: keep its parsed certificates.
		cs.audited = entry != nil
		return c, true, nil
	}
	out, err := toCallbackCompletion(stored)
	return out, won, err
}

// acceptedAudit is the "session.result" entry of a result that completes
// sess, worded as callback.Verifier words an Accepted outcome.
func acceptedAudit(sess *Session, c *callback.Completion) *AuditEntry {
	e := &AuditEntry{TenantID: sess.TenantID, At: c.CompletedAt, Actor: "callback", Action: "session.result", Origin: sess.Origin,
		RequestID: sess.RequestID, Outcome: string(callback.Accepted)}
	if c.Success && c.Certificate != nil {
		e.Detail = fmt.Sprintf("signed: %d signature(s) by %q", len(c.Signatures), c.Certificate.Subject.CommonName)
		e.CertSerial = c.Certificate.SerialNumber.Text(16)
	} else {
		e.Detail = "failed: " + string(c.Code)
	}
	if c.Code != "" {
		e.Detail = string(c.Code) + ": " + e.Detail
	}
	return e
}

func (s *Server) verifier(cs *callbackStore) *callback.Verifier {
	return &callback.Verifier{Store: cs, Roots: s.roots, Intermediates: s.ca.ChainCerts(), Revocation: s.revocation, Now: s.cfg.Now, Chains: s.chains,
		Authorize: func(ctx context.Context, p *callback.Pending, chain []*x509.Certificate) error {
			return s.authorizeResult(ctx, cs.seen, p, chain)
		}}
}

// handleResult verifies an ss_result and runs what follows a completion.
func (s *Server) handleResult(c echo.Context, encoded string) (*callback.Outcome, *Session, error) {
	ctx := c.Request().Context()
	if encoded == "" {
		return nil, nil, badRequest("ss_result is missing")
	}
	cs := &callbackStore{st: s.store, cache: &s.pendingSessions, now: s.cfg.Now}
	o, err := s.verifier(cs).Verify(ctx, encoded)
	if err == nil && o.Kind == callback.Rejected && cs.cached {
		// Refused against the cached request: if the store has it completed
		// (by another instance), the answer is the one the completion
		// gives (duplicate or conflict), as without the cache.
		if sess, rerr := s.store.SessionByID(ctx, o.RequestID); rerr != nil || sess.Completion != nil {
			cs = &callbackStore{st: s.store}
			o, err = s.verifier(cs).Verify(ctx, encoded)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if o.RequestID != "" {
		c.Set("requestId", o.RequestID)
	}
	s.metrics.outcome("callback", string(o.Kind))
	var sess *Session
	if o.Pending != nil {
		entry := &AuditEntry{TenantID: o.Pending.TenantID, Actor: "callback", Action: "session.result", Origin: o.Pending.Origin,
			RequestID: o.RequestID, Outcome: string(o.Kind), Detail: o.Detail}
		if o.Code != "" {
			entry.Detail = string(o.Code) + ": " + o.Detail
		}
		if o.Completion != nil && o.Completion.Certificate != nil {
			entry.CertSerial = o.Completion.Certificate.SerialNumber.Text(16)
		}
		if o.Kind != callback.Accepted || !cs.audited {
			s.audit(ctx, entry)
		}
		if (o.Kind == callback.Accepted || o.Kind == callback.Duplicate) && cs.seen != nil && cs.seen.Completion != nil {
			if sess, err = s.afterCompletion(ctx, cs.seen); err != nil {
				return nil, nil, err
			}
		}
	}
	s.notifyWatchers(o)
	return o, sess, nil
}

// afterCompletion does, once, what a completed session needs: finish its
// PDFs, store a registered certificate. It is idempotent and runs again
// after a crash (on a duplicate result or a status query).
func (s *Server) afterCompletion(ctx context.Context, sess *Session) (*Session, error) {
	if sess.Completion == nil || !sess.Completion.Success || len(sess.Output) > 0 {
		return sess, nil
	}
	var out sessionOutput
	var err error
	switch sess.Kind {
	case "register":
		out.Registered, err = s.storeRegistered(ctx, sess)
	case "pdf":
		out.SignedPDFs, err = s.finishPDFs(ctx, sess)
	default:
		return sess, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		if errors.Is(err, errDocUnavailable) {
			// Not the result's fault: the completion stays stored,
			// unfinished, and the next attempt (a retried callback, a
			// status query, on any instance) finishes it.
			s.log.Warn("finishing session deferred", "requestId", sess.RequestID, "err", err.Error())
			s.metrics.outcome(sess.Kind, "finish_deferred")
			return nil, docUnavailable(err)
		}
		s.log.Error("completing session failed", "requestId", sess.RequestID, "err", err.Error())
		out = sessionOutput{Error: publicFinishError(err)}
		s.metrics.outcome(sess.Kind, "finish_failed")
	}
	sess.Output = jsonBytes(out)
	if err := s.store.SetSessionOutput(context.WithoutCancel(ctx), sess.RequestID, sess.Output); err != nil {
		return nil, err
	}
	return sess, nil
}

func (s *Server) storeRegistered(ctx context.Context, sess *Session) (string, error) {
	der := sess.Completion.Certificate
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	serial := cert.SerialNumber.Text(16)
	records, err := s.store.CertificatesBySerial(ctx, sess.TenantID, serial)
	if err != nil {
		return "", err
	}
	for _, r := range records {
		if r.Source == "registered" && string(r.DER) == string(der) && r.UserID == sess.UserID {
			return r.ID, nil // registered before (a retry, or an id from before 1.1)
		}
	}
	rec := &Certificate{ID: registeredID(sess.TenantID, der), TenantID: sess.TenantID, UserID: sess.UserID,
		SerialHex: serial, SHA256Hex: hex.EncodeToString(sum[:]), DER: der, Chain: sess.Completion.Chain,
		Source: "registered", KeyLocation: "token", NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, CreatedAt: s.cfg.Now()}
	if err := s.store.CreateCertificate(ctx, rec); err != nil && !errors.Is(err, ErrExists) {
		return "", err
	}
	s.audit(ctx, &AuditEntry{TenantID: sess.TenantID, Actor: "callback", Action: "certificate.register", RequestID: sess.RequestID, CertSerial: rec.SerialHex})
	return rec.ID, nil
}

// registeredID names a registered certificate per tenant: the same DSC
// registered with two tenants makes two records. (Ids were global before
// 1.1, so the second tenant's record was never stored.)
func registeredID(tenantID string, der []byte) string {
	h := sha256.New()
	h.Write([]byte("securesign-registered/v1\x00" + tenantID + "\x00"))
	h.Write(der)
	return "crt_" + hex.EncodeToString(h.Sum(nil)[:12])
}

func callbackParam(c echo.Context) (string, error) {
	if c.Request().Method == http.MethodGet {
		return c.QueryParam("ss_result"), nil
	}
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, callback.MaxEncodedSize+1024)
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/json") {
		var body struct {
			Result string `json:"ss_result"`
		}
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			return "", badRequest("malformed JSON body")
		}
		return body.Result, nil
	}
	v, ok, err := formValue(r, "ss_result")
	if !ok {
		err = r.ParseForm()
		v = r.PostForm.Get("ss_result")
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || isTimeout(err) {
			return "", err // toAPIError: 413, or 408 for a body slower than the read deadline
		}
		return "", badRequest("malformed form body: %v", err)
	}
	return v, nil
}

// formValue is r.ParseForm then r.PostForm.Get(name), with the same value
// and error, for the usual callback POST: a form body, no query string. It
// reads the body once into a buffer of its announced size and unescapes
// only the value asked for (ParseForm's buffers come to six times a 4 KiB
// result). ok=false: not that case, nothing read; use ParseForm.
func formValue(r *http.Request, name string) (v string, ok bool, err error) {
	if r.Method != http.MethodPost || r.URL.RawQuery != "" || r.PostForm != nil ||
		r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		return "", false, nil
	}
	size := 512
	if n := r.ContentLength; n > 0 && n <= callback.MaxEncodedSize+1024 { // a larger one fails (413) on the way
		size = int(n) + 1 // +1: EOF is seen without growing
	}
	body := make([]byte, 0, size)
	for {
		n, rerr := r.Body.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return "", true, rerr
		}
		if len(body) == cap(body) {
			body = append(body, 0)[:len(body)]
		}
	}
	v, valid := queryValue(body, name)
	if !valid {
		// An error somewhere: url.ParseQuery words it.
		vs, err := url.ParseQuery(string(body))
		return vs.Get(name), true, err
	}
	return v, true, nil
}

// queryValue is url.ParseQuery(string(q)).Get(name) when valid; valid is
// false where url.ParseQuery would return an error (a ';' in a pair, a bad
// %-escape, too many pairs).
func queryValue(q []byte, name string) (v string, valid bool) {
	if bytes.Count(q, []byte{'&'}) >= 1000 { // url's limit is higher: let it judge
		return "", false
	}
	found := false
	for len(q) > 0 {
		var pair []byte
		pair, q, _ = bytes.Cut(q, []byte{'&'})
		if bytes.IndexByte(pair, ';') >= 0 {
			return "", false
		}
		if len(pair) == 0 {
			continue
		}
		key, value, _ := bytes.Cut(pair, []byte{'='})
		k, ok := queryUnescape(key, true)
		if !ok {
			return "", false
		}
		want := !found && k == name
		val, ok := queryUnescape(value, want)
		if !ok {
			return "", false
		}
		if want {
			v, found = val, true
		}
	}
	return v, true
}

// queryUnescape is url.QueryUnescape of s: ok=false where it fails. The
// result is only made when keep is set. It goes from '%' to '%' (a form
// encoded result has one every 30 bytes or so).
func queryUnescape(s []byte, keep bool) (string, bool) {
	n := 0
	for i := 0; ; i += 3 {
		j := bytes.IndexByte(s[i:], '%')
		if j < 0 {
			break
		}
		i += j
		if i+2 >= len(s) || !isHexDigit(s[i+1]) || !isHexDigit(s[i+2]) {
			return "", false
		}
		n++
	}
	if !keep {
		return "", true
	}
	plus := bytes.IndexByte(s, '+') >= 0
	if n == 0 && !plus {
		return string(s), true
	}
	var out strings.Builder
	out.Grow(len(s) - 2*n)
	for len(s) > 0 {
		chunk, rest, esc := bytes.Cut(s, []byte{'%'})
		if plus {
			for _, c := range chunk {
				if c == '+' {
					c = ' '
				}
				out.WriteByte(c)
			}
		} else {
			out.Write(chunk)
		}
		if !esc {
			break
		}
		out.WriteByte(unhexDigit(rest[0])<<4 | unhexDigit(rest[1]))
		s = rest[2:]
	}
	return out.String(), true
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhexDigit(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// outcomeError maps a non-accepted outcome to the API's error.
func outcomeError(o *callback.Outcome) *apiError {
	switch o.Kind {
	case callback.Conflict:
		return apiErr(http.StatusConflict, CodeConflict, "%s", o.Detail)
	case callback.Rejected:
		if errors.Is(o.Err, callback.ErrUnknownRequest) {
			return apiErr(http.StatusNotFound, CodeNotFound, "unknown requestId")
		}
		code := string(o.Code)
		if code == "" {
			code = CodeUnprocessable
		}
		return apiErr(http.StatusUnprocessableEntity, code, "%s", o.Detail)
	}
	return nil
}

func (s *Server) callbackPOST(c echo.Context) error {
	enc, err := callbackParam(c)
	if err != nil {
		return err
	}
	o, sess, err := s.handleResult(c, enc)
	if err != nil {
		return err
	}
	if ae := outcomeError(o); ae != nil {
		return ae
	}
	status := StatusFailed
	if o.Success() {
		status = StatusSigned
	}
	if sess != nil {
		status = s.status(sess)
	}
	// Fields in name order, as the map this was wrote them.
	return c.JSON(http.StatusOK, struct {
		Outcome   string `json:"outcome"`
		RequestID string `json:"requestId"`
		Status    string `json:"status"`
		Success   bool   `json:"success"`
	}{string(o.Kind), o.RequestID, status, status == "signed"}) // success: signed, as in the session's status
}

func (s *Server) callbackGET(c echo.Context) error {
	enc, _ := callbackParam(c)
	o, sess, err := s.handleResult(c, enc)
	in := resultInput{lang: resultMessages.Negotiate(c.Request().Header.Get("Accept-Language"), "en"), outcome: o, sess: sess}
	status := http.StatusOK
	if err != nil {
		in.err = toAPIError(err)
		status = in.err.Status
	} else if ae := outcomeError(o); ae != nil {
		in.err, status = ae, ae.Status
	}
	if sess != nil {
		in.org = s.tenantOrg(c.Request().Context(), sess.TenantID)
		if sess.ReturnURL != "" {
			if u, err := url.Parse(sess.ReturnURL); err == nil {
				q := u.Query()
				q.Set("requestId", sess.RequestID)
				q.Set("status", s.status(sess))
				u.RawQuery = q.Encode()
				in.returnTo = u.String()
				if in.err == nil && (o.Kind == callback.Accepted || o.Kind == callback.Duplicate) {
					return c.Redirect(http.StatusSeeOther, in.returnTo)
				}
			}
		}
	}
	nonce := newNonce()
	h := c.Response().Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", resultCSP(nonce))
	h.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(status)
	v := buildResultView(in)
	v.Nonce = nonce
	return renderResult(c.Response(), v)
}

// sessionCounter approximates each tenant's open sessions for the limit:
// counting them in the database on every create costs time linear in the
// count, so the count is refreshed at most once a second and incremented
// locally in between.
type sessionCounter struct {
	mu sync.Mutex
	m  map[string]*tenantCount
}

type tenantCount struct {
	n  int
	at time.Time
}

func (c *sessionCounter) count(ctx context.Context, st Store, tenantID string, now time.Time) (int, error) {
	c.mu.Lock()
	tc := c.m[tenantID]
	if tc != nil && now.Sub(tc.at) < time.Second && now.After(tc.at) {
		n := tc.n
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	n, err := st.CountPendingSessions(ctx, tenantID, now)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*tenantCount{}
	}
	c.m[tenantID] = &tenantCount{n: n, at: now}
	c.mu.Unlock()
	return n, nil
}

func (c *sessionCounter) add(tenantID string) {
	c.mu.Lock()
	if tc := c.m[tenantID]; tc != nil {
		tc.n++
	}
	c.mu.Unlock()
}

// signHashServer signs digests with a server-held key after the user's
// code, which must have been issued for exactly these digests with this
// certificate (protocol 1.1 §6).
func (s *Server) signHashServer(c echo.Context, certificateID, otpID, code string, hashes [][]byte, h crypto.Hash) (int, any, error) {
	if otpID == "" || code == "" {
		return 0, nil, badRequest("otpId and otp are required with certificateId")
	}
	rec, sg, err := s.serverSigner(c, certificateID)
	if err != nil {
		return 0, nil, err
	}
	op := &Consent{CertificateID: rec.ID, HashAlgo: hashName(h), Hashes: hashes}
	o, err := s.redeemOTP(c, rec.UserID, otpID, code, "sign", op)
	if err != nil {
		return 0, nil, err
	}
	ctx := c.Request().Context()
	alg := signer.DefaultAlgorithm(sg.Public())
	sigs := make([]string, len(hashes))
	for i, d := range hashes {
		sig, err := signDigest(ctx, sg, alg, h, d)
		if err != nil {
			s.metrics.outcome("remote", "failed")
			if ke := keyError(err); ke != nil {
				return 0, nil, ke
			}
			return 0, nil, unprocessable(err, "signing failed: %v", err)
		}
		sigs[i] = base64.StdEncoding.EncodeToString(sig)
	}
	// Spent only now: a refusal above leaves the code usable; a concurrent
	// request that spent it first wins, and these signatures are dropped.
	if err := s.spendOTP(ctx, o); err != nil {
		return 0, nil, err
	}
	s.metrics.outcome("remote", "signed")
	s.audit(ctx, &AuditEntry{TenantID: rec.TenantID, Actor: actor(c), Action: "hash.sign.server", CertSerial: rec.SerialHex,
		DocHash: hex.EncodeToString(hashes[0]), Outcome: "signed", Detail: fmt.Sprintf("%d hash(es), %s", len(hashes), o.ID)})
	return http.StatusOK, map[string]any{"success": true, "signatureBase64": sigs[0], "signaturesBase64": sigs, "signAlgo": string(alg),
		"certificateBase64": base64.StdEncoding.EncodeToString(rec.DER)}, nil
}
