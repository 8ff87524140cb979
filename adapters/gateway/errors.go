package gateway

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/securesign/securesign/pdf"
)

// Error codes of the HTTP API besides the protocol's SS_* result codes.
const (
	CodeBadRequest          = "SS_BAD_REQUEST"          // 400 malformed JSON, unknown field, failed validation
	CodeUnauthorized        = "SS_UNAUTHORIZED"         // 401 no, unknown, revoked or expired credential
	CodeForbidden           = "SS_FORBIDDEN"            // 403 the credential may not do this
	CodeDomainNotAllowed    = "SS_DOMAIN_NOT_ALLOWED"   // 403 origin/callbackUrl/returnUrl not on the tenant's allowlist
	CodeNotFound            = "SS_NOT_FOUND"            // 404 unknown id or another tenant's
	CodeConflict            = "SS_CONFLICT"             // 409 state conflict (completed session, concurrent idempotent call)
	CodeTooLarge            = "SS_TOO_LARGE"            // 413 body above the limit
	CodeUnprocessable       = "SS_UNPROCESSABLE"        // 422 well-formed but unusable (bad PDF, CSR, certificate)
	CodeIdempotencyMismatch = "SS_IDEMPOTENCY_MISMATCH" // 422 Idempotency-Key reused with another body
	CodeOTPInvalid          = "SS_OTP_INVALID"          // 401 wrong one-time code
	CodeOTPLocked           = "SS_OTP_LOCKED"           // 423 too many wrong codes
	CodeOTPExpired          = "SS_OTP_EXPIRED"          // 401 expired or used one-time code
	CodeRateLimited         = "SS_RATE_LIMITED"         // 429
	CodeTooManySessions     = "SS_TOO_MANY_SESSIONS"    // 429 open-session limit of the tenant
	CodeInternal            = "SS_INTERNAL"             // 500
	CodeUnavailable         = "SS_UNAVAILABLE"          // 503 store unreachable
	CodeCertRevoked         = "SS_CERT_REVOKED"         // 422 the revocation data says the signer's certificate is revoked
)

// apiError is an error answered as {"success":false,"error":Code,"message":Msg}.
type apiError struct {
	Status int
	Code   string
	Msg    string
	Err    error // cause, logged, never sent
}

func (e *apiError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Msg, e.Err)
	}
	return e.Code + ": " + e.Msg
}

func (e *apiError) Unwrap() error { return e.Err }

func apiErr(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return apiErr(http.StatusBadRequest, CodeBadRequest, format, args...)
}

func notFoundErr(what string) *apiError {
	return apiErr(http.StatusNotFound, CodeNotFound, "%s not found", what)
}

func unprocessable(err error, format string, args ...any) *apiError {
	e := apiErr(http.StatusUnprocessableEntity, CodeUnprocessable, format, args...)
	e.Err = err
	return e
}

type errorBody struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
	Message string `json:"message"`
}

// toAPIError maps any error a handler returns to the answer.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok {
			msg = m
		}
		code := CodeInternal
		switch he.Code {
		case http.StatusNotFound:
			code = CodeNotFound
		case http.StatusMethodNotAllowed, http.StatusBadRequest, http.StatusUnsupportedMediaType:
			code = CodeBadRequest
		case http.StatusRequestEntityTooLarge:
			code = CodeTooLarge
		case http.StatusUnauthorized:
			code = CodeUnauthorized
		case http.StatusTooManyRequests:
			code = CodeRateLimited
		}
		return &apiError{Status: he.Code, Code: code, Msg: msg, Err: he.Internal}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return apiErr(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body larger than %d bytes", mbe.Limit)
	}
	switch {
	case errors.Is(err, pdf.ErrCertificateRevoked):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: CodeCertRevoked, Msg: "the revocation data says the signer's certificate is revoked; nothing was signed", Err: err}
	case errors.Is(err, ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Code: CodeNotFound, Msg: "not found", Err: err}
	case errors.Is(err, ErrOTPInvalid):
		return &apiError{Status: http.StatusUnauthorized, Code: CodeOTPInvalid, Msg: "wrong one-time code", Err: err}
	case errors.Is(err, ErrOTPLocked):
		return &apiError{Status: http.StatusLocked, Code: CodeOTPLocked, Msg: "one-time code locked after too many attempts; request a new one", Err: err}
	case errors.Is(err, ErrOTPExpired), errors.Is(err, ErrOTPUsed):
		return &apiError{Status: http.StatusUnauthorized, Code: CodeOTPExpired, Msg: "one-time code expired or already used; request a new one", Err: err}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: CodeInternal, Msg: "internal error", Err: err}
}
