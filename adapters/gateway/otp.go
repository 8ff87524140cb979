package gateway

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// OTPMessage is one code on its way to a user.
type OTPMessage struct {
	User    *User
	OTPID   string
	Code    string
	Purpose string // "issue", "sign" or "csc"
	// Summary says what the code approves, in the words the user reads
	// before typing it: for a sign code the documents by name (or the
	// number of digests) with the first 8 hex characters of each, and
	// the certificate (protocol 1.1 §6). A sender puts it in the message
	// next to the code.
	Summary   string
	ExpiresAt time.Time
}

// OTPSender delivers a one-time code to a user (SMS, e-mail). The code must
// never be logged.
type OTPSender interface {
	SendOTP(ctx context.Context, m *OTPMessage) error
}

// OutboxSender is the dev-mode sender: it appends each code as one JSON
// line {"userId","otpId","code","purpose","summary","expiresAt","at"} to a
// file.
type OutboxSender struct {
	Path string
	mu   sync.Mutex
}

// SendOTP implements OTPSender.
func (o *OutboxSender) SendOTP(ctx context.Context, m *OTPMessage) error {
	line, err := json.Marshal(map[string]string{"userId": m.User.ID, "otpId": m.OTPID, "code": m.Code, "purpose": m.Purpose,
		"summary": m.Summary, "expiresAt": m.ExpiresAt.UTC().Format(time.RFC3339), "at": time.Now().UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	f, err := os.OpenFile(o.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// DevOutbox is the dev-mode sender: each code is kept in the store, sealed
// under the master key, for as long as it lives, so that the dev read route
// answers on every gateway sharing the database; and, when File is set,
// appended to that instance's file outbox too.
type DevOutbox struct {
	Store  Store
	Master []byte
	File   *OutboxSender // nil: store only
	Now    func() time.Time
}

// SendOTP implements OTPSender.
func (o *DevOutbox) SendOTP(ctx context.Context, m *OTPMessage) error {
	sealed, err := sealSecret(o.Master, "dev otp "+m.OTPID, []byte(m.Code))
	if err != nil {
		return err
	}
	if err := o.Store.PutDevOTP(ctx, &DevOTP{OTPID: m.OTPID, TenantID: m.User.TenantID, UserID: m.User.ID, Purpose: m.Purpose,
		Summary: m.Summary, Sealed: sealed, ExpiresAt: m.ExpiresAt}, o.Now()); err != nil {
		return fmt.Errorf("dev outbox: %w", err)
	}
	if o.File != nil {
		return o.File.SendOTP(ctx, m)
	}
	return nil
}

// Read returns the kept code otpID and its record if it belongs to
// tenantID and has not expired; ErrNotFound otherwise.
func (o *DevOutbox) Read(ctx context.Context, tenantID, otpID string) (*DevOTP, string, error) {
	m, err := o.Store.DevOTP(ctx, otpID, o.Now())
	if err != nil {
		return nil, "", err
	}
	if subtle.ConstantTimeCompare([]byte(m.TenantID), []byte(tenantID)) != 1 {
		return nil, "", ErrNotFound
	}
	code, err := openSecret(o.Master, "dev otp "+m.OTPID, m.Sealed)
	if err != nil {
		return nil, "", fmt.Errorf("dev outbox: %w", err)
	}
	return m, string(code), nil
}

// otpMACKey derives the key one-time codes are stored under from the
// master key. A code has only a million values: hashed bare, a stolen
// database gives every code away in a second; under a key the database
// does not hold, it gives nothing.
func otpMACKey(master []byte) ([]byte, error) {
	if len(master) < 16 {
		return nil, errors.New("master key shorter than 16 bytes")
	}
	return hkdf.Key(sha256.New, master, nil, "securesign gateway otp mac v1", 32)
}

// otpMAC is the stored form of code for the OTP with id and salt.
func otpMAC(key, salt []byte, otpID, code string) [32]byte {
	m := hmac.New(sha256.New, key)
	m.Write(salt)
	m.Write([]byte{0})
	m.Write([]byte(otpID))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return to32(m.Sum(nil))
}

// otpRef names a code as a request gives it.
type otpRef struct {
	TenantID, UserID, ID, Purpose string
}

// redeemOTP checks code and the operation op against the stored OTP. It
// returns the OTP, still unspent, when both match: the caller does the
// work and then spends it with SpendOTP, so a request refused for any
// other reason leaves the code usable. A wrong code counts an attempt; a
// right code for another operation (op not what the code's consent
// approved) spends the code and returns ErrOTPMismatch. op is nil for
// codes that approve no operation (issue).
func redeemOTP(ctx context.Context, st Store, key []byte, ref otpRef, code string, op *Consent, now time.Time, maxAttempts int) (*OTP, error) {
	o, err := st.OTP(ctx, ref.TenantID, ref.UserID, ref.ID, ref.Purpose)
	if errors.Is(err, ErrNotFound) {
		// A code of the user's for the other purpose: say so rather than
		// "not found", and leave it as it is (nothing is counted).
		other := map[string]string{"issue": "sign", "sign": "issue"}[ref.Purpose]
		if other != "" {
			if _, oerr := st.OTP(ctx, ref.TenantID, ref.UserID, ref.ID, other); oerr == nil {
				return nil, &OTPPurposeError{Got: other, Want: ref.Purpose}
			}
		}
	}
	if err != nil {
		return nil, err
	}
	switch {
	case !o.UsedAt.IsZero():
		return nil, ErrOTPUsed
	case o.Attempts >= maxAttempts:
		return nil, ErrOTPLocked
	case !now.Before(o.ExpiresAt):
		return nil, ErrOTPExpired
	}
	want := otpMAC(key, o.Salt, o.ID, code)
	if subtle.ConstantTimeCompare(want[:], o.Hash[:]) != 1 {
		locked, err := st.FailOTP(ctx, o.ID, maxAttempts)
		if err != nil {
			return nil, err
		}
		if locked {
			return nil, ErrOTPLocked
		}
		return nil, &OTPInvalidError{TriesLeft: max(maxAttempts-o.Attempts-1, 0)}
	}
	if op == nil && o.Consent == nil {
		return o, nil
	}
	if op == nil {
		op = &Consent{}
	}
	if err := o.Consent.Check(op); err != nil {
		// The user's code was shown to someone who wants something else
		// signed: it must not be tried again.
		if serr := st.SpendOTP(ctx, o.ID, now, maxAttempts); serr != nil && !errors.Is(serr, ErrOTPUsed) {
			return nil, serr
		}
		return nil, err
	}
	return o, nil
}

// OTPInvalidError is a wrong code (errors.Is ErrOTPInvalid) with the
// number of further wrong codes before the code locks.
type OTPInvalidError struct{ TriesLeft int }

func (e *OTPInvalidError) Error() string {
	return fmt.Sprintf("%v; %d tries left", ErrOTPInvalid, e.TriesLeft)
}

func (e *OTPInvalidError) Unwrap() error { return ErrOTPInvalid }

// OTPPurposeError is a code asked for one purpose that the user was sent
// for another (errors.Is ErrNotFound: it is not a code of that purpose).
type OTPPurposeError struct{ Got, Want string }

func (e *OTPPurposeError) Error() string {
	return fmt.Sprintf("one-time code was sent for purpose %q, this call takes a code with purpose %q", e.Got, e.Want)
}

func (e *OTPPurposeError) Unwrap() error { return ErrNotFound }

// useOTP redeems and spends a code at once (issuance).
func useOTP(ctx context.Context, st Store, key []byte, ref otpRef, code string, op *Consent, now time.Time, maxAttempts int) error {
	o, err := redeemOTP(ctx, st, key, ref, code, op, now, maxAttempts)
	if err != nil {
		return err
	}
	return st.SpendOTP(ctx, o.ID, now, maxAttempts)
}

type createOTPReq struct {
	Purpose string `json:"purpose" validate:"required,oneof=issue sign"`
	// What a sign code approves (protocol 1.1 §6).
	CertificateID string            `json:"certificateId" validate:"omitempty,max=64"`
	HashAlgo      string            `json:"hashAlgo" validate:"omitempty,max=16"`
	Hashes        []string          `json:"hashes" validate:"omitempty,max=50,dive,base64"`
	Documents     []consentDocument `json:"documents" validate:"omitempty,max=50,dive"`
}

type consentDocument struct {
	SHA256 string `json:"sha256" validate:"required,len=64,hexadecimal"`
	Name   string `json:"name" validate:"required,max=480"`
}

// consentOf turns the binding fields of an OTP request into a consent
// (nil for issue codes).
func consentOf(req *createOTPReq) (*Consent, error) {
	if req.Purpose != "sign" {
		if req.CertificateID != "" || req.HashAlgo != "" || len(req.Hashes) > 0 || len(req.Documents) > 0 {
			return nil, badRequest("certificateId, hashes, hashAlgo and documents go with purpose sign only")
		}
		return nil, nil
	}
	hashes := make([][]byte, len(req.Hashes))
	for i, h := range req.Hashes {
		b, err := base64.StdEncoding.DecodeString(h)
		if err != nil {
			return nil, badRequest("hashes[%d] is not standard base64", i)
		}
		hashes[i] = b
	}
	docs := make([]ConsentDocument, len(req.Documents))
	for i, d := range req.Documents {
		sum, err := hex.DecodeString(d.SHA256)
		if err != nil {
			return nil, badRequest("documents[%d].sha256 is not hex", i)
		}
		docs[i] = ConsentDocument{SHA256: sum, Name: d.Name}
	}
	return NewConsent(req.CertificateID, req.HashAlgo, hashes, docs)
}

// otpLimits are the server's limits on codes.
func (s *Server) otpLimits() OTPLimits {
	return OTPLimits{MaxUnused: s.cfg.OTPMaxUnused, MaxAttempts: s.cfg.OTPMaxAttempts, MaxSent: s.cfg.OTPSendLimit, Window: s.cfg.OTPSendWindow}
}

func (s *Server) createOTP(c echo.Context) error {
	var req createOTPReq
	if _, err := s.bind(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	p := who(c)
	u, err := s.store.User(ctx, p.TenantID, c.Param("id"))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return notFoundErr("user")
		}
		return err
	}
	consent, err := consentOf(&req)
	if err != nil {
		return err
	}
	summary := "Issue a certificate in the name of " + u.Name
	if consent != nil {
		cert, err := s.consentCertificate(c, u, consent.CertificateID)
		if err != nil {
			return err
		}
		consent.CertificateID = cert.ID
		summary = consent.Summary(certLabel(cert))
	}
	summary = s.askedBy(c.Request().Context(), u.TenantID, summary)
	o, err := s.sendOTP(c, u, req.Purpose, consent, summary)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"success": true, "otpId": o.ID, "expiresAt": o.ExpiresAt.UTC().Format(time.RFC3339), "summary": summary})
}

// consentCertificate is the certificate a sign code names: one of the
// user's, with a server-held key (token users approve with their PIN).
func (s *Server) consentCertificate(c echo.Context, u *User, ref string) (*Certificate, error) {
	rec, _, err := s.certByRef(c, ref)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			return nil, apiErr(http.StatusUnprocessableEntity, CodeUnprocessable, "certificateId: no certificate %s for this tenant", ref)
		}
		return nil, err
	}
	if rec.UserID != u.ID {
		return nil, apiErr(http.StatusUnprocessableEntity, CodeUnprocessable, "certificateId: certificate %s is not this user's", rec.ID)
	}
	if rec.KeyLocation != "server" {
		return nil, apiErr(http.StatusUnprocessableEntity, CodeUnprocessable, "certificateId: certificate %s has no server-held key; its holder signs with a PIN through a deep link", rec.ID)
	}
	if !rec.RevokedAt.IsZero() || s.cfg.Now().After(rec.NotAfter) {
		return nil, apiErr(http.StatusUnprocessableEntity, CodeUnprocessable, "certificateId: certificate %s is revoked or expired", rec.ID)
	}
	return rec, nil
}

// certLabel names a certificate for its holder: subject name and serial.
func certLabel(r *Certificate) string {
	name := r.ID
	if cert, err := x509.ParseCertificate(r.DER); err == nil && cert.Subject.CommonName != "" {
		name = cert.Subject.CommonName
	}
	return fmt.Sprintf("%q (serial %s)", name, r.SerialHex)
}

// sendOTP makes a code for u, stores its MAC and consent within the
// limits, and sends it with summary (which askedBy has prefixed).
func (s *Server) sendOTP(c echo.Context, u *User, purpose string, consent *Consent, summary string) (*OTP, error) {
	ctx := c.Request().Context()
	if s.otp == nil {
		return nil, apiErr(http.StatusServiceUnavailable, CodeUnavailable, "no OTP sender configured")
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1000000))
	if err != nil {
		return nil, err
	}
	code := fmt.Sprintf("%06d", n.Int64())
	salt := make([]byte, 16)
	rand.Read(salt) //nolint:errcheck // crypto/rand.Read does not fail
	now := s.cfg.Now()
	o := &OTP{ID: newID("otp_"), TenantID: u.TenantID, UserID: u.ID, Purpose: purpose, Salt: salt, Consent: consent,
		ExpiresAt: now.Add(s.cfg.OTPTTL), CreatedAt: now}
	o.Hash = otpMAC(s.otpKey, salt, o.ID, code)
	if err := s.store.CreateOTP(ctx, o, s.otpLimits(), now); err != nil {
		return nil, err
	}
	msg := &OTPMessage{User: u, OTPID: o.ID, Code: code, Purpose: purpose, Summary: summary, ExpiresAt: o.ExpiresAt}
	if err := s.otp.SendOTP(ctx, msg); err != nil {
		// Undelivered: spend it, so it does not count against the user.
		s.store.SpendOTP(context.WithoutCancel(ctx), o.ID, now, s.cfg.OTPMaxAttempts) //nolint:errcheck
		return nil, fmt.Errorf("sending OTP: %w", err)
	}
	detail := u.ID + " " + purpose
	if consent != nil {
		detail += " " + consent.CertificateID + ": " + summary
	}
	s.audit(ctx, &AuditEntry{TenantID: u.TenantID, Actor: actor(c), Action: "otp.send", Detail: detail})
	return o, nil
}

// redeemOTP checks a code for op (see the function redeemOTP) and audits a
// refusal. The caller spends the returned OTP with spendOTP once the work
// is done.
func (s *Server) redeemOTP(c echo.Context, userID, otpID, code, purpose string, op *Consent) (*OTP, error) {
	p := who(c)
	o, err := redeemOTP(c.Request().Context(), s.store, s.otpKey, otpRef{p.TenantID, userID, otpID, purpose}, code, op, s.cfg.Now(), s.cfg.OTPMaxAttempts)
	if err != nil {
		s.audit(c.Request().Context(), &AuditEntry{TenantID: p.TenantID, Actor: actor(c), Action: "otp.check", Outcome: "rejected", Detail: userID + " " + purpose + ": " + toAPIError(err).Code})
		var pe *OTPPurposeError
		if errors.As(err, &pe) {
			return nil, &apiError{Status: http.StatusNotFound, Code: CodeNotFound, Msg: pe.Error() + "; request one with purpose \"" + pe.Want + "\"", Err: err}
		}
		if errors.Is(err, ErrNotFound) {
			return nil, notFoundErr("OTP")
		}
		return nil, err
	}
	return o, nil
}

// spendOTP spends a redeemed code; ErrOTPUsed when a concurrent request
// spent it first (that request's work stands, this one's is dropped).
func (s *Server) spendOTP(ctx context.Context, o *OTP) error {
	return s.store.SpendOTP(ctx, o.ID, s.cfg.Now(), s.cfg.OTPMaxAttempts)
}

// checkOTP redeems and spends the user's code for purpose at once.
func (s *Server) checkOTP(c echo.Context, userID, otpID, code, purpose string) error {
	o, err := s.redeemOTP(c, userID, otpID, code, purpose, nil)
	if err != nil {
		return err
	}
	return s.spendOTP(c.Request().Context(), o)
}

// devOTP reads a code back from the dev outbox (dev mode only), for clients
// that do not share the gateway's file system or instance: codes are kept
// in the store, so any gateway on the same database answers. Like the
// outbox, it exists only with --dev.
func (s *Server) devOTP(c echo.Context) error {
	ob, ok := s.otp.(*DevOutbox)
	if !ok {
		return notFoundErr("OTP")
	}
	m, code, err := ob.Read(c.Request().Context(), who(c).TenantID, c.Param("id"))
	if err != nil {
		return notFoundErr("OTP")
	}
	return c.JSON(http.StatusOK, map[string]any{"success": true, "otpId": m.OTPID, "code": code, "purpose": m.Purpose, "summary": m.Summary})
}

// askedBy prefixes a code's summary with the tenant's display name (the
// org of its links), so that the user can tell which organisation asks:
// "Example Bank: Sign 1 document …". A tenant without a usable name adds
// nothing.
func (s *Server) askedBy(ctx context.Context, tenantID, summary string) string {
	if org := s.tenantOrg(ctx, tenantID); org != "" {
		return org + ": " + summary
	}
	return summary
}
