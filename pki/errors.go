package pki

import "errors"

// Errors of certificate validation (client side). VerifyChain and the
// revocation checker wrap them with details; test with errors.Is.
var (
	// ErrUntrusted means no chain leads from the certificate to a trust anchor.
	ErrUntrusted = errors.New("pki: certificate not trusted")
	// ErrOutsideValidity means a certificate of the chain is expired or not
	// yet valid at the validation time.
	ErrOutsideValidity = errors.New("pki: certificate outside its validity period")
	// ErrKeyUsage means the certificate may not be used for signing.
	ErrKeyUsage = errors.New("pki: certificate key usage does not allow signing")
	// ErrRevoked means a certificate of the chain is revoked.
	ErrRevoked = errors.New("pki: certificate revoked")
	// ErrRevocationUnknown means no revocation source gave an answer and the
	// checker is configured to fail hard.
	ErrRevocationUnknown = errors.New("pki: revocation status unknown")
	// ErrBadURL means a revocation or TSA URL is not http or https.
	ErrBadURL = errors.New("pki: URL scheme must be http or https")
	// ErrResponseTooLarge means a server answered with more bytes than allowed.
	ErrResponseTooLarge = errors.New("pki: response too large")
	// ErrTimestamp means the TSA refused the request or answered with a token
	// that does not match it.
	ErrTimestamp = errors.New("pki: timestamp failed")
)

// Errors of the certificate authority (server side).
var (
	// ErrUnknownProfile means the named certificate profile does not exist.
	ErrUnknownProfile = errors.New("pki: unknown certificate profile")
	// ErrBadCSR means the certificate request cannot be parsed or its
	// self-signature is invalid.
	ErrBadCSR = errors.New("pki: invalid certificate request")
	// ErrWeakKey means the public key is of a type or size the profile refuses.
	ErrWeakKey = errors.New("pki: key type or size not allowed")
	// ErrBadSubject means the subject given for a certificate is incomplete
	// or invalid for the profile.
	ErrBadSubject = errors.New("pki: invalid subject")
	// ErrNotFound means no certificate (or key) with that serial (or id) exists.
	ErrNotFound = errors.New("pki: not found")
	// ErrAlreadyRevoked means the certificate is already revoked.
	ErrAlreadyRevoked = errors.New("pki: certificate already revoked")
	// ErrBadReason means the revocation reason is not an RFC 5280 reason code
	// usable for revocation.
	ErrBadReason = errors.New("pki: invalid revocation reason")
	// ErrSerialExists means a certificate with the serial is already stored.
	ErrSerialExists = errors.New("pki: serial number already used")
	// ErrKeyStoreLocked means the key store's master secret is wrong or missing.
	ErrKeyStoreLocked = errors.New("pki: key store cannot be opened")
)
