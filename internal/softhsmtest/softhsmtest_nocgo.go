//go:build !cgo

package softhsmtest

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"testing"
)

// A build without cgo cannot load SoftHSM (signer reports
// ErrPKCS11Unavailable there), so every token test skips; the API matches
// softhsmtest.go so that tests compile for cross-built vet runs.

// Token is a fresh SoftHSM2 token.
type Token struct {
	Module, Label, Serial, PIN, SOPIN, Dir, Conf string
}

// ImportOptions tunes Import.
type ImportOptions struct {
	ID                          []byte
	AlwaysAuthenticate          bool
	NoPrivateKey, NoCertificate bool
}

// New skips t: SoftHSM needs cgo.
func New(t testing.TB) *Token { t.Helper(); return NewLabeled(t, "securesign-test") }

// NewLabeled skips t: SoftHSM needs cgo.
func NewLabeled(t testing.TB, label string) *Token {
	t.Helper()
	t.Skip("softhsmtest: this test needs PKCS#11, and this build has no cgo (CGO_ENABLED=0)")
	return nil
}

func unreachable(t testing.TB) { t.Helper(); t.Fatal("softhsmtest: no token without cgo") }

// Import is unreachable: New skipped.
func (tok *Token) Import(t testing.TB, label string, key crypto.Signer, cert *x509.Certificate) []byte {
	unreachable(t)
	return nil
}

// ImportWith is unreachable: New skipped.
func (tok *Token) ImportWith(t testing.TB, label string, key crypto.Signer, cert *x509.Certificate, o ImportOptions) []byte {
	unreachable(t)
	return nil
}

// GenerateKey is unreachable: New skipped.
func (tok *Token) GenerateKey(t testing.TB, label string, id []byte, bits int) *rsa.PublicKey {
	unreachable(t)
	return nil
}

// Objects is unreachable: New skipped.
func (tok *Token) Objects(t testing.TB) []string { unreachable(t); return nil }

// ImportCert is unreachable: New skipped.
func (tok *Token) ImportCert(t testing.TB, label string, cert *x509.Certificate, id []byte) {
	unreachable(t)
}
