package deeplink

import (
	"errors"
	"fmt"
	"strconv"
)

// Errors of building, parsing and verifying links, one per rule of the
// protocol, so a caller can tell them apart with [errors.Is]. Parse and Build
// return them wrapped in a [*Error] naming the parameter. callback.CodeOf
// maps each to its SS_* code: ErrExpired to SS_LINK_EXPIRED,
// ErrUnsupportedDocumentType and ErrUnsupportedHashAlgo to SS_UNSUPPORTED,
// every other one to SS_LINK_INVALID.
var (
	// ErrMalformed means the link is not a securesign:// URL with a query, or
	// a parameter is badly percent-encoded, has control characters, or the
	// link has a fragment.
	ErrMalformed = errors.New("deeplink: malformed link")
	// ErrTooLong means the link is longer than MaxLinkLength bytes.
	ErrTooLong = errors.New("deeplink: link too long")
	// ErrUnknownAction means the action is neither sign nor register.
	ErrUnknownAction = errors.New("deeplink: unknown action")
	// ErrMissingParam means a required parameter is absent.
	ErrMissingParam = errors.New("deeplink: missing parameter")
	// ErrDuplicateParam means a parameter that may appear once appears
	// again (parameter pollution).
	ErrDuplicateParam = errors.New("deeplink: duplicated parameter")
	// ErrUnexpectedParam means a parameter that the action forbids is
	// present (a digest in a register link, a challenge in a sign link).
	ErrUnexpectedParam = errors.New("deeplink: parameter not allowed for this action")
	// ErrRequestID means requestId is not 8–64 characters of [A-Za-z0-9_-].
	ErrRequestID = errors.New("deeplink: invalid requestId")
	// ErrHash means a hashBase64 value is not padded standard base64 or its
	// length does not match hashAlgo, or there are too many of them.
	ErrHash = errors.New("deeplink: invalid hashBase64")
	// ErrUnsupportedHashAlgo means hashAlgo is not SHA256, SHA384 or SHA512.
	ErrUnsupportedHashAlgo = errors.New("deeplink: unsupported hashAlgo")
	// ErrUnsupportedDocumentType means documentType is not "hash".
	ErrUnsupportedDocumentType = errors.New("deeplink: unsupported documentType")
	// ErrCallbackURL means callbackUrl is not an absolute https URL (http only
	// to a loopback host), or has user info, a fragment or a non-ASCII host.
	ErrCallbackURL = errors.New("deeplink: invalid callbackUrl")
	// ErrOrigin means origin is not a canonical scheme://host[:port].
	ErrOrigin = errors.New("deeplink: invalid origin")
	// ErrOriginMismatch means callbackUrl is not on origin.
	ErrOriginMismatch = errors.New("deeplink: callbackUrl is not on origin")
	// ErrExpiry means exp is not a number or is more than MaxLifetime ahead.
	ErrExpiry = errors.New("deeplink: invalid exp")
	// ErrExpired means exp is in the past.
	ErrExpired = errors.New("deeplink: link expired")
	// ErrDoc means doc is longer than 200 characters, not UTF-8, or holds
	// control or bidirectional formatting characters.
	ErrDoc = errors.New("deeplink: invalid doc")
	// ErrOrg means org is longer than 80 characters, not UTF-8, blank, or
	// holds a character that is not printable.
	ErrOrg = errors.New("deeplink: invalid org")
	// ErrAPIKey means apiKey has characters outside [A-Za-z0-9_-], or (when
	// building) is a secret key rather than a publishable ss_pk_ id.
	ErrAPIKey = errors.New("deeplink: invalid apiKey")
	// ErrCertSerial means certSerial is not hex.
	ErrCertSerial = errors.New("deeplink: invalid certSerial")
	// ErrCertSHA256 means certSha256 is not 64 lower-case hex digits.
	ErrCertSHA256 = errors.New("deeplink: invalid certSha256")
	// ErrChallenge means challenge is not unpadded base64url of 32 bytes.
	ErrChallenge = errors.New("deeplink: invalid challenge")
	// ErrKID means kid is malformed, or only one of kid and sig is present.
	ErrKID = errors.New("deeplink: invalid kid")
	// ErrUnsigned means the link carries no sig but a signature was required.
	ErrUnsigned = errors.New("deeplink: link not signed")
	// ErrUnknownKey means no trusted key has the link's kid.
	ErrUnknownKey = errors.New("deeplink: unknown link-signing key")
	// ErrSignature means sig is malformed or does not verify.
	ErrSignature = errors.New("deeplink: link signature invalid")
	// ErrKeySet means a JWKS or a signing key cannot be used.
	ErrKeySet = errors.New("deeplink: invalid key set")
	// ErrPackageParam means pkgUrl is not an https URL (http only to a
	// loopback host) of at most MaxPackageURLLength bytes, or pkgSha256 is
	// not 64 lower-case hex digits.
	ErrPackageParam = errors.New("deeplink: invalid pkgUrl or pkgSha256")
	// ErrPackage means a signing package (protocol 1.2 §6) could not be
	// fetched or does not prove the link's digests; deeplink/sigpkg's
	// errors wrap it, so it maps to SS_LINK_INVALID.
	ErrPackage = errors.New("deeplink: signing package rejected")
	// ErrFetch means the portal's key set could not be fetched.
	ErrFetch = errors.New("deeplink: fetching key set failed")
)

// Error is a link that breaks a rule: Err is one of the sentinel errors
// above, Param the parameter concerned (empty for the link as a whole).
type Error struct {
	Param  string
	Err    error
	Detail string
}

func (e *Error) Error() string {
	s := e.Err.Error()
	if e.Param != "" {
		s += " (" + e.Param + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

func errf(sentinel error, param, format string, args ...any) error {
	return &Error{Param: printable(param), Err: sentinel, Detail: fmt.Sprintf(format, args...)}
}

// printable keeps attacker-chosen parameter names out of error texts
// unquoted: anything but short printable ASCII is quoted and truncated.
func printable(s string) string {
	ok := len(s) <= 40
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] > ' ' && s[i] < 0x7f
	}
	if ok {
		return s
	}
	if len(s) > 40 {
		s = s[:40]
	}
	return strconv.Quote(s)
}
