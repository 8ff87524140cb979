package gateway

import (
	"context"
	"net/http"

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
