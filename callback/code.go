package callback

import (
	"context"
	"errors"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

// Code is an SS_* error code of the protocol.
type Code string

// The SS_* codes of the protocol (docs/protocol.md §2).
const (
	CodeSignCancelled             Code = "SS_SIGN_CANCELLED"
	CodePINInvalid                Code = "SS_PIN_INVALID"
	CodePINBlocked                Code = "SS_PIN_BLOCKED"
	CodeTokenNotFound             Code = "SS_TOKEN_NOT_FOUND"
	CodeDomainNotAllowed          Code = "SS_DOMAIN_NOT_ALLOWED"
	CodeAppNotInstalled           Code = "SS_APP_NOT_INSTALLED"
	CodeDesktopSoftwareNotRunning Code = "SS_DESKTOP_SOFTWARE_NOT_RUNNING"
	CodeLinkExpired               Code = "SS_LINK_EXPIRED"
	CodeLinkInvalid               Code = "SS_LINK_INVALID"
	CodeCertNotFound              Code = "SS_CERT_NOT_FOUND"
	CodeCertMismatch              Code = "SS_CERT_MISMATCH"
	CodeCertUntrusted             Code = "SS_CERT_UNTRUSTED"
	CodeCertExpired               Code = "SS_CERT_EXPIRED"
	CodeUnsupported               Code = "SS_UNSUPPORTED"
	CodeInternal                  Code = "SS_INTERNAL"
)

// Codes lists every code, in the order of the protocol's table.
var codes = []Code{CodeSignCancelled, CodePINInvalid, CodePINBlocked, CodeTokenNotFound, CodeDomainNotAllowed,
	CodeAppNotInstalled, CodeDesktopSoftwareNotRunning, CodeLinkExpired, CodeLinkInvalid, CodeCertNotFound,
	CodeCertMismatch, CodeCertUntrusted, CodeCertExpired, CodeUnsupported, CodeInternal}

// Codes returns every SS_* code of the protocol.
func Codes() []Code { return append([]Code(nil), codes...) }

// Known reports whether c is a code of the protocol.
func (c Code) Known() bool {
	for _, k := range codes {
		if k == c {
			return true
		}
	}
	return false
}

// Message is a short English text for the code, for "message" when a
// caller has nothing better.
func (c Code) Message() string {
	switch c {
	case CodeSignCancelled:
		return "Signing cancelled"
	case CodePINInvalid:
		return "Wrong PIN"
	case CodePINBlocked:
		return "PIN blocked"
	case CodeTokenNotFound:
		return "No token connected"
	case CodeDomainNotAllowed:
		return "Domain not allowed"
	case CodeAppNotInstalled:
		return "Signing app not installed"
	case CodeDesktopSoftwareNotRunning:
		return "Desktop software not running"
	case CodeLinkExpired:
		return "Link expired"
	case CodeLinkInvalid:
		return "Link invalid"
	case CodeCertNotFound:
		return "Certificate not found"
	case CodeCertMismatch:
		return "Certificate not the expected one"
	case CodeCertUntrusted:
		return "Certificate not from a trusted authority"
	case CodeCertExpired:
		return "Certificate expired"
	case CodeUnsupported:
		return "Not supported"
	}
	return "Internal error"
}

// Errors of this package. Failures that a signing app reports and that no
// other package names (the user cancelled, a domain off the allowlist) are
// here too, so the app can pass them to NewFailure.
var (
	// ErrCancelled means the user cancelled signing.
	ErrCancelled = errors.New("callback: cancelled by the user")
	// ErrDomainNotAllowed means the callback or origin is not on the allowlist.
	ErrDomainNotAllowed = errors.New("callback: domain not allowed")
	// ErrMalformed means ss_result does not decode: bad base64, bad JSON,
	// duplicated keys, wrong types, missing fields.
	ErrMalformed = errors.New("callback: malformed ss_result")
	// ErrTooLarge means ss_result is larger than allowed.
	ErrTooLarge = errors.New("callback: ss_result too large")
	// ErrUnsupportedVersion means "v" is a protocol version this package
	// does not know.
	ErrUnsupportedVersion = errors.New("callback: unsupported result version")
	// ErrUnknownRequest means no pending request has the result's requestId.
	ErrUnknownRequest = errors.New("callback: unknown requestId")
	// ErrExpired means the request expired before its result arrived.
	ErrExpired = errors.New("callback: request expired")
	// ErrSignatureCount means the result has not exactly one signature per
	// issued digest.
	ErrSignatureCount = errors.New("callback: wrong number of signatures")
	// ErrNoCertificate means the result has no certificate and the request
	// named no registered one.
	ErrNoCertificate = errors.New("callback: no certificate")
	// ErrCertificate means a certificate of the result does not parse.
	ErrCertificate = errors.New("callback: certificate does not parse")
	// ErrCertMismatch means the certificate is not the one the request
	// named (certSerial, certSha256, registered certificate).
	ErrCertMismatch = errors.New("callback: certificate does not match the request")
	// ErrCertExpired means the certificate is outside its validity period.
	ErrCertExpired = errors.New("callback: certificate outside its validity period")
	// ErrKeyUsage means the certificate has neither digitalSignature nor
	// nonRepudiation key usage.
	ErrKeyUsage = errors.New("callback: certificate key usage does not allow signing")
	// ErrRedirectTooLarge means a result is too large for a GET redirect
	// and must be POSTed (Deliver).
	ErrRedirectTooLarge = errors.New("callback: result too large for a redirect, deliver it by POST")
	// ErrDelivery means the portal refused the result or could not be
	// reached within the retry budget.
	ErrDelivery = errors.New("callback: delivery failed")
)

// CodeOf maps an error from any SecureSign package to its SS_* code. It is
// the one place where that mapping is made; nil maps to "" and anything
// unknown to SS_INTERNAL.
//
//	signer: ErrPINIncorrect → SS_PIN_INVALID, ErrPINLocked → SS_PIN_BLOCKED,
//	  ErrTokenNotFound → SS_TOKEN_NOT_FOUND, ErrCertNotFound and
//	  ErrKeyNotFound → SS_CERT_NOT_FOUND, ErrUnsupportedAlgorithm →
//	  SS_UNSUPPORTED
//	deeplink: ErrExpired → SS_LINK_EXPIRED, ErrUnsupportedHashAlgo and
//	  ErrUnsupportedDocumentType → SS_UNSUPPORTED, every other rule →
//	  SS_LINK_INVALID
//	pki: ErrOutsideValidity → SS_CERT_EXPIRED; ErrUntrusted →
//	  SS_CERT_UNTRUSTED (no chain to a trust anchor); ErrKeyUsage,
//	  ErrRevoked, ErrRevocationUnknown → SS_CERT_MISMATCH (a certificate the
//	  portal does not accept)
//	callback: ErrCancelled and context.Canceled → SS_SIGN_CANCELLED,
//	  ErrDomainNotAllowed → SS_DOMAIN_NOT_ALLOWED, ErrExpired →
//	  SS_LINK_EXPIRED, ErrCertMismatch/ErrKeyUsage/ErrNoCertificate →
//	  SS_CERT_MISMATCH, ErrCertExpired → SS_CERT_EXPIRED,
//	  ErrUnsupportedVersion → SS_UNSUPPORTED
//	a *CodeError → its Code
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var ce *CodeError
	if errors.As(err, &ce) && ce.Code != "" {
		return ce.Code
	}
	switch {
	// signer
	case errors.Is(err, signer.ErrPINLocked):
		return CodePINBlocked
	case errors.Is(err, signer.ErrPINIncorrect):
		return CodePINInvalid
	case errors.Is(err, signer.ErrTokenNotFound):
		return CodeTokenNotFound
	case errors.Is(err, signer.ErrCertNotFound), errors.Is(err, signer.ErrKeyNotFound):
		return CodeCertNotFound
	case errors.Is(err, signer.ErrUnsupportedAlgorithm):
		return CodeUnsupported

	// deeplink
	case errors.Is(err, deeplink.ErrExpired):
		return CodeLinkExpired
	case errors.Is(err, deeplink.ErrUnsupportedHashAlgo), errors.Is(err, deeplink.ErrUnsupportedDocumentType):
		return CodeUnsupported
	case isDeeplinkError(err):
		return CodeLinkInvalid

	// pki
	case errors.Is(err, pki.ErrOutsideValidity):
		return CodeCertExpired
	case errors.Is(err, pki.ErrUntrusted):
		return CodeCertUntrusted
	case errors.Is(err, pki.ErrKeyUsage), errors.Is(err, pki.ErrRevoked),
		errors.Is(err, pki.ErrRevocationUnknown):
		return CodeCertMismatch

	// callback
	case errors.Is(err, ErrCancelled), errors.Is(err, context.Canceled):
		return CodeSignCancelled
	case errors.Is(err, ErrDomainNotAllowed):
		return CodeDomainNotAllowed
	case errors.Is(err, ErrExpired):
		return CodeLinkExpired
	case errors.Is(err, ErrCertExpired):
		return CodeCertExpired
	case errors.Is(err, ErrCertMismatch), errors.Is(err, ErrKeyUsage), errors.Is(err, ErrNoCertificate):
		return CodeCertMismatch
	case errors.Is(err, ErrUnsupportedVersion):
		return CodeUnsupported
	}
	return CodeInternal
}

func isDeeplinkError(err error) bool {
	var le *deeplink.Error
	if errors.As(err, &le) {
		return true
	}
	for _, s := range []error{deeplink.ErrMalformed, deeplink.ErrTooLong, deeplink.ErrUnknownAction,
		deeplink.ErrMissingParam, deeplink.ErrDuplicateParam, deeplink.ErrUnexpectedParam, deeplink.ErrRequestID,
		deeplink.ErrHash, deeplink.ErrCallbackURL, deeplink.ErrOrigin, deeplink.ErrOriginMismatch, deeplink.ErrExpiry,
		deeplink.ErrDoc, deeplink.ErrOrg, deeplink.ErrAPIKey, deeplink.ErrCertSerial, deeplink.ErrCertSHA256, deeplink.ErrChallenge,
		deeplink.ErrKID, deeplink.ErrUnsigned, deeplink.ErrUnknownKey, deeplink.ErrSignature, deeplink.ErrKeySet,
		deeplink.ErrFetch, deeplink.ErrPackageParam, deeplink.ErrPackage} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// CodeError carries an explicit code, for failures no sentinel error names
// (an app that wants SS_CERT_MISMATCH for its own reason) and for the
// failure a result reports.
type CodeError struct {
	Code    Code
	Message string
}

func (e *CodeError) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Message
}
