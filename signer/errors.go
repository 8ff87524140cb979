package signer

import (
	"errors"
	"fmt"
)

// Errors a caller can test with [errors.Is]. PIN failures arrive as a
// [*PINError], which unwraps to ErrPINIncorrect or ErrPINLocked.
var (
	// ErrPINIncorrect means the PIN (or a key file's password) was wrong.
	ErrPINIncorrect = errors.New("signer: PIN incorrect")
	// ErrPINLocked means the token refuses the user PIN until it is unblocked.
	ErrPINLocked = errors.New("signer: PIN locked")
	// ErrTokenNotFound means no present token matched the selector.
	ErrTokenNotFound = errors.New("signer: token not found")
	// ErrKeyNotFound means the token has no private key matching the selector.
	ErrKeyNotFound = errors.New("signer: private key not found")
	// ErrCertNotFound means no certificate matched the selector.
	ErrCertNotFound = errors.New("signer: certificate not found")
	// ErrUnsupportedAlgorithm means the key, hash or signature algorithm
	// cannot be used together or at all.
	ErrUnsupportedAlgorithm = errors.New("signer: unsupported algorithm")
	// ErrSignatureInvalid means a signature does not verify with the
	// certificate's public key.
	ErrSignatureInvalid = errors.New("signer: signature invalid")
	// ErrPKCS11Unavailable means this build of the program cannot use
	// PKCS#11 tokens at all: it was built without cgo (CGO_ENABLED=0, as in
	// a cross-build), and loading a vendor's module needs cgo. Every
	// PKCS#11 function returns it in such a build; files (LoadPKCS12,
	// LoadPEM) still work. It wraps ErrTokenNotFound, so callers that map
	// errors to codes (callback.CodeOf) report SS_TOKEN_NOT_FOUND.
	ErrPKCS11Unavailable error = pkcs11UnavailableError{}
)

// pkcs11UnavailableError is ErrPKCS11Unavailable: an error of its own type
// so that it can both keep its own message and unwrap to ErrTokenNotFound.
type pkcs11UnavailableError struct{}

func (pkcs11UnavailableError) Error() string {
	return "signer: this build has no PKCS#11 support: built without cgo"
}

func (pkcs11UnavailableError) Unwrap() error { return ErrTokenNotFound }

// PINError reports a rejected PIN, with what the token says about the
// remaining tries.
type PINError struct {
	// TriesLeft is the number of tries before the PIN locks, or -1 when the
	// token does not tell. PKCS#11 tokens only tell "low" and "final try",
	// so TriesLeft is 1 on the final try and -1 otherwise.
	TriesLeft int
	// FinalTry is true when the next wrong PIN locks the token.
	FinalTry bool
	// CountLow is true when the token reports that wrong PINs were entered.
	CountLow bool
	// Err is ErrPINIncorrect or ErrPINLocked.
	Err error
}

func (e *PINError) Error() string {
	switch {
	case errors.Is(e.Err, ErrPINLocked):
		return "signer: PIN locked: the token must be unblocked with its SO PIN or PUK"
	case e.FinalTry:
		return "signer: PIN incorrect (final try: one more wrong PIN locks the token)"
	case e.TriesLeft >= 0:
		return fmt.Sprintf("signer: PIN incorrect (%d tries left)", e.TriesLeft)
	case e.CountLow:
		return "signer: PIN incorrect (few tries left)"
	}
	return "signer: PIN incorrect"
}

func (e *PINError) Unwrap() error { return e.Err }
