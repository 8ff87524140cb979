package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

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

type createUserReq struct {
	ExternalID string `json:"externalId" validate:"required,max=128,printascii"`
	Name       string `json:"name" validate:"required,max=200"`
	Email      string `json:"email" validate:"omitempty,email,max=254"`
	Phone      string `json:"phone" validate:"omitempty,e164"`
	// Subject fields for certificates; the default profile
	// (individual-signing) needs state and postalCode.
	Organization string `json:"organization" validate:"omitempty,max=64"`
	Locality     string `json:"locality" validate:"omitempty,max=128"`
	State        string `json:"state" validate:"omitempty,max=128"`
	PostalCode   string `json:"postalCode" validate:"omitempty,max=16,alphanum"`
	Country      string `json:"country" validate:"omitempty,len=2,alpha"`
}

func (s *Server) createUser(c echo.Context) error {
	var req createUserReq
	body, err := s.bind(c, &req)
	if err != nil {
		return err
	}
	return s.idempotent(c, sha256.Sum256(body), func() (int, any, error) {
		p := who(c)
		u := &User{ID: newID("usr_"), TenantID: p.TenantID, ExternalID: req.ExternalID, Name: req.Name, Email: req.Email, Phone: req.Phone, CreatedAt: s.cfg.Now(),
			Subject: UserSubject{Organization: req.Organization, Locality: req.Locality, State: req.State, PostalCode: req.PostalCode, Country: req.Country}}
		if err := s.store.CreateUser(c.Request().Context(), u); err != nil {
			if errors.Is(err, ErrExists) {
				return 0, nil, apiErr(http.StatusConflict, CodeConflict, "a user with this externalId exists")
			}
			return 0, nil, err
		}
		s.audit(c.Request().Context(), &AuditEntry{TenantID: p.TenantID, Actor: actor(c), Action: "user.create", Detail: u.ID})
		return http.StatusCreated, map[string]any{"success": true, "userId": u.ID, "externalId": u.ExternalID, "name": u.Name}, nil
	})
}

func (s *Server) auditLogs(c echo.Context) error {
	p := who(c)
	f := AuditFilter{TenantID: p.TenantID, RequestID: c.QueryParam("requestId")}
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if v := c.QueryParam(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return badRequest("%s must be an RFC 3339 time", name)
			}
			*dst = t
		}
	}
	entries, err := s.store.AuditLogs(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"success": true, "entries": entries})
}
