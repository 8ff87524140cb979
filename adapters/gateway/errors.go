package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

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
	CodeImageTooLarge       = "SS_IMAGE_TOO_LARGE"      // 422 appearance image above the pixel budget
	CodeImageInvalid        = "SS_IMAGE_INVALID"        // 422 appearance image neither PNG nor JPEG
	CodeBusy                = "SS_BUSY"                 // 503 PDF work at capacity; retry after Retry-After
	CodeOTPInvalid          = "SS_OTP_INVALID"          // 401 wrong one-time code
	CodeOTPLocked           = "SS_OTP_LOCKED"           // 423 too many wrong codes
	CodeOTPExpired          = "SS_OTP_EXPIRED"          // 401 expired or used one-time code
	CodeOTPMismatch         = "SS_OTP_MISMATCH"         // 422 right code, another operation than it approves (the code is spent)
	CodeConsentRequired     = "SS_CONSENT_REQUIRED"     // 422 a sign code must name what it approves (protocol 1.1 §6)
	CodeRateLimited         = "SS_RATE_LIMITED"         // 429
	CodeTimeout             = "SS_TIMEOUT"              // 408 body slower than the read deadline
	CodeTooManySessions     = "SS_TOO_MANY_SESSIONS"    // 429 open-session limit of the tenant
	CodeProfileNotAllowed   = "SS_PROFILE_NOT_ALLOWED"  // 422 certificate profile the API does not issue (or not to this tenant)
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
	// Fields are further members of the answer, such as the userId of
	// the existing user in a 409.
	Fields map[string]any
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

// imageError maps a refused appearance image.
func imageError(err error) *apiError {
	if errors.Is(err, pdf.ErrImageTooLarge) {
		e := apiErr(http.StatusUnprocessableEntity, CodeImageTooLarge, "appearance image larger than %d pixels or %d pixels a side", pdf.MaxImagePixels, pdf.MaxImageSide)
		e.Err = err
		return e
	}
	e := apiErr(http.StatusUnprocessableEntity, CodeImageInvalid, "appearance.imageBase64 is not a PNG or JPEG image")
	e.Err = err
	return e
}

type errorBody struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
	Message string `json:"message"`
	TraceID string `json:"traceId,omitempty"`
}

// body is the JSON answer of e; traceID is the request's X-Request-Id.
func (e *apiError) body(traceID string) any {
	if len(e.Fields) == 0 {
		return errorBody{Success: false, Error: e.Code, Message: e.Msg, TraceID: traceID}
	}
	out := map[string]any{}
	for k, v := range e.Fields {
		out[k] = v
	}
	out["success"], out["error"], out["message"] = false, e.Code, e.Msg
	if traceID != "" {
		out["traceId"] = traceID
	}
	return out
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
	var ce *ConsentError
	if errors.As(err, &ce) {
		return &apiError{Status: http.StatusUnprocessableEntity, Code: CodeConsentRequired, Msg: ce.Error(), Err: err}
	}
	if isTimeout(err) {
		return &apiError{Status: http.StatusRequestTimeout, Code: CodeTimeout, Msg: "request body not received within the read deadline", Err: err}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return apiErr(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body larger than %d bytes", mbe.Limit)
	}
	switch {
	case errors.Is(err, ErrProfileNotAllowed):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: CodeProfileNotAllowed, Msg: strings.TrimPrefix(err.Error(), "gateway: "), Err: err}
	case errors.Is(err, pdf.ErrCertificateRevoked):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: CodeCertRevoked, Msg: "the revocation data says the signer's certificate is revoked; nothing was signed", Err: err}
	case errors.Is(err, ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Code: CodeNotFound, Msg: "not found", Err: err}
	case errors.Is(err, ErrOTPInvalid):
		ae := &apiError{Status: http.StatusUnauthorized, Code: CodeOTPInvalid, Msg: "wrong one-time code", Err: err}
		var ie *OTPInvalidError
		if errors.As(err, &ie) {
			ae.Msg = fmt.Sprintf("wrong one-time code; %d tries left", ie.TriesLeft)
			ae.Fields = map[string]any{"triesLeft": ie.TriesLeft}
		}
		return ae
	case errors.Is(err, ErrOTPLocked):
		return &apiError{Status: http.StatusLocked, Code: CodeOTPLocked, Msg: "one-time code locked after too many attempts; request a new one", Err: err,
			Fields: map[string]any{"triesLeft": 0}}
	case errors.Is(err, ErrOTPMismatch):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: CodeOTPMismatch, Msg: strings.TrimPrefix(err.Error(), "gateway: ") + "; the code is spent", Err: err}
	case errors.Is(err, ErrOTPLimit):
		msg := "too many one-time codes for this user"
		var le *OTPLimitError
		if errors.As(err, &le) {
			msg = le.Error() + "; a new code can be sent after " + le.RetryAfter.UTC().Format(time.RFC3339)
			if le.Unused {
				msg = le.Error() + "; use or let one expire (the first expires " + le.RetryAfter.UTC().Format(time.RFC3339) + ")"
			}
		}
		return &apiError{Status: http.StatusTooManyRequests, Code: CodeRateLimited, Msg: msg, Err: err}
	case errors.Is(err, ErrOTPExpired), errors.Is(err, ErrOTPUsed):
		return &apiError{Status: http.StatusUnauthorized, Code: CodeOTPExpired, Msg: "one-time code expired or already used; request a new one", Err: err}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: CodeInternal, Msg: "internal error", Err: err}
}
