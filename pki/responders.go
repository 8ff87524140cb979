package pki

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
)

// ErrResponderNotTrusted means an OCSP answer was signed by a delegated
// responder certificate that the configured ResponderPolicy does not
// believe for that issuer.
var ErrResponderNotTrusted = errors.New("pki: OCSP responder not trusted for this issuer")

// ResponderPolicy decides whether an OCSP answer about a certificate of
// issuer, signed by the delegated responder certificate responder, counts.
// It is asked only about delegated responders that RFC 6960 §4.2.2.2
// already allows (issued by issuer, with the OCSPSigning extended key
// usage, valid at the answer's thisUpdate); answers signed by the issuer's
// own key always count. A non-nil error makes the answer count as absent
// (as one with a bad signature), never as "good".
//
// Why: under RFC 6960 any certificate with the OCSPSigning usage that an
// issuer signed may speak for all of that issuer's certificates. A CA that
// ever issued such a certificate to someone else (a tenant of a gateway, a
// customer) lets that party forge "good" answers about revoked
// certificates. A relying party that knows the issuer's real responders
// pins them with [PinResponders].
type ResponderPolicy func(issuer, responder *x509.Certificate) error

// PinResponders returns a ResponderPolicy that, for certificates issued by
// issuer, believes only answers signed by issuer's key or by one of
// responders (compared byte for byte); answers about other issuers'
// certificates follow RFC 6960 unchanged. Issuers are compared by subject
// and public key, so a re-issued CA certificate with the same key matches.
func PinResponders(issuer *x509.Certificate, responders ...*x509.Certificate) ResponderPolicy {
	return func(is, responder *x509.Certificate) error {
		if !sameIssuer(is, issuer) {
			return nil
		}
		for _, r := range responders {
			if r != nil && bytes.Equal(r.Raw, responder.Raw) {
				return nil
			}
		}
		return fmt.Errorf("%w: %q (serial %x) is not a responder pinned for %q", ErrResponderNotTrusted,
			responder.Subject.CommonName, responder.SerialNumber, issuer.Subject.CommonName)
	}
}

func sameIssuer(a, b *x509.Certificate) bool {
	return a != nil && b != nil && bytes.Equal(a.RawSubject, b.RawSubject) && bytes.Equal(a.RawSubjectPublicKeyInfo, b.RawSubjectPublicKeyInfo)
}
