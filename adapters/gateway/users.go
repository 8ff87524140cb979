package gateway

import (
	"bufio"
	"context"
	"crypto/rand"
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

// OTPSender delivers a one-time code to a user (SMS, e-mail). The code must
// never be logged.
type OTPSender interface {
	SendOTP(ctx context.Context, u *User, otpID, code, purpose string) error
}

// OutboxSender is the dev-mode sender: it appends each code as one JSON
// line {"userId","otpId","code","purpose","at"} to a file.
type OutboxSender struct {
	Path string
	mu   sync.Mutex
}

// SendOTP implements OTPSender.
func (o *OutboxSender) SendOTP(ctx context.Context, u *User, otpID, code, purpose string) error {
	line, err := json.Marshal(map[string]string{"userId": u.ID, "otpId": otpID, "code": code, "purpose": purpose, "at": time.Now().UTC().Format(time.RFC3339Nano)})
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

func (s *Server) authToken(c echo.Context) error {
	if _, id, ok := splitCredential(credentialOf(c.Request())); !ok || id == "" || isToken(credentialOf(c.Request())) {
		return apiErr(http.StatusUnauthorized, CodeUnauthorized, "an access token is obtained with an API key, not another token")
	}
	if c.Request().ContentLength > 0 {
		var req struct{}
		if _, err := s.bind(c, &req); err != nil {
			return err
		}
	}
	p := who(c)
	secret, id, h := newCredential(PrefixToken)
	exp := s.cfg.Now().Add(s.cfg.TokenTTL)
	if err := s.store.CreateAccessToken(c.Request().Context(), &AccessToken{ID: id, TenantID: p.TenantID, APIKeyID: p.KeyID, Hash: h, ExpiresAt: exp}); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"access_token": secret, "token_type": "Bearer", "expires_in": int(s.cfg.TokenTTL.Seconds())})
}

func isToken(cred string) bool { p, _, _ := splitCredential(cred); return p == PrefixToken }

type validateReq struct {
	Origin   string `json:"origin" validate:"required,max=300"`
	Platform string `json:"platform" validate:"omitempty,max=40"`
}

func (s *Server) authValidate(c echo.Context) error {
	var req validateReq
	if _, err := s.bind(c, &req); err != nil {
		return err
	}
	p := who(c)
	origins, err := s.tenantOrigins(c.Request().Context(), p.TenantID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{
		"success": true, "tenantId": p.TenantID, "allowed": originAllowed(origins, req.Origin),
		"rateLimit": map[string]int{"rpm": s.cfg.RateLimitRPM},
	})
}

// tenantOrigins is the tenant's allowlist; dev mode adds the loopback hosts.
func (s *Server) tenantOrigins(ctx context.Context, tenantID string) ([]string, error) {
	o, err := s.store.Origins(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if s.cfg.Dev {
		o = append(o, "http://localhost:*", "http://127.0.0.1:*")
	}
	return o, nil
}

type createOTPReq struct {
	Purpose string `json:"purpose" validate:"required,oneof=issue sign"`
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
	if s.otp == nil {
		return apiErr(http.StatusServiceUnavailable, CodeUnavailable, "no OTP sender configured")
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1000000))
	if err != nil {
		return err
	}
	code := fmt.Sprintf("%06d", n.Int64())
	salt := make([]byte, 16)
	rand.Read(salt) //nolint:errcheck
	now := s.cfg.Now()
	o := &OTP{ID: newID("otp_"), TenantID: p.TenantID, UserID: u.ID, Purpose: req.Purpose, Salt: salt, Hash: OTPHash(salt, code), ExpiresAt: now.Add(s.cfg.OTPTTL), CreatedAt: now}
	if err := s.store.CreateOTP(ctx, o); err != nil {
		return err
	}
	if err := s.otp.SendOTP(ctx, u, o.ID, code, req.Purpose); err != nil {
		return fmt.Errorf("sending OTP: %w", err)
	}
	s.audit(ctx, &AuditEntry{TenantID: p.TenantID, Actor: actor(c), Action: "otp.send", Detail: u.ID + " " + req.Purpose})
	return c.JSON(http.StatusCreated, map[string]any{"success": true, "otpId": o.ID, "expiresAt": o.ExpiresAt.UTC().Format(time.RFC3339)})
}

// checkOTP consumes the user's OTP for purpose, or returns the API error.
func (s *Server) checkOTP(c echo.Context, userID, otpID, code, purpose string) error {
	p := who(c)
	err := s.store.UseOTP(c.Request().Context(), p.TenantID, userID, otpID, purpose, code, s.cfg.Now(), s.cfg.OTPMaxAttempts)
	if err != nil {
		s.audit(c.Request().Context(), &AuditEntry{TenantID: p.TenantID, Actor: actor(c), Action: "otp.check", Outcome: "rejected", Detail: userID + " " + purpose + ": " + toAPIError(err).Code})
		if errors.Is(err, ErrNotFound) {
			return notFoundErr("OTP")
		}
	}
	return err
}

// devOTP reads a code back from the dev outbox (dev mode only), for clients
// that do not share the gateway's file system. Like the outbox, it exists
// only with --dev.
func (s *Server) devOTP(c echo.Context) error {
	ob, ok := s.otp.(*OutboxSender)
	if !ok {
		return notFoundErr("OTP")
	}
	f, err := os.Open(ob.Path)
	if err != nil {
		return notFoundErr("OTP")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]string
		if json.Unmarshal(sc.Bytes(), &m) != nil || m["otpId"] != c.Param("id") {
			continue
		}
		// Only the tenant of the user may read it.
		if _, err := s.store.User(c.Request().Context(), who(c).TenantID, m["userId"]); err != nil {
			return notFoundErr("OTP")
		}
		return c.JSON(http.StatusOK, map[string]any{"success": true, "otpId": m["otpId"], "code": m["code"], "purpose": m["purpose"]})
	}
	return notFoundErr("OTP")
}
