//go:build !cgo

package signer

import (
	"context"
	"crypto/x509"
)

// Without cgo there is no way to call into a vendor's PKCS#11 module, so
// this build keeps the API (module.go) and every call reports
// ErrPKCS11Unavailable. OpenModule never returns a Module here, so the
// methods below are reached only through a zero Module.

// pkcs11Built reports whether this build can load PKCS#11 modules.
const pkcs11Built = false

// library stands for a loaded module; this build never has one.
type library struct{}

func (*library) release() error { return nil }

func openModule(path string) (*Module, error) {
	return nil, errUnavailable("cannot open PKCS#11 module " + path)
}

func (m *Module) tokens() ([]TokenInfo, error) { return nil, errUnavailable("listing tokens") }

func (m *Module) certificates(context.Context, TokenSelector) ([]CertInfo, error) {
	return nil, errUnavailable("listing certificates")
}

func (m *Module) openSigner(context.Context, TokenSelector, KeySelector, []byte) (Signer, error) {
	return nil, errUnavailable("opening a token key")
}

func (m *Module) verifyPIN(context.Context, TokenSelector, []byte) error {
	return errUnavailable("verifying a token PIN")
}

func (m *Module) generateKey(context.Context, TokenSelector, []byte, keyGenSpec, []byte, string) (*GeneratedKey, error) {
	return nil, errUnavailable("generating a key on a token")
}

func (m *Module) keySignerByID(context.Context, TokenSelector, []byte, []byte) (KeySigner, error) {
	return nil, errUnavailable("opening a token key")
}

func (m *Module) importCertificate(context.Context, TokenSelector, []byte, []byte, string, *x509.Certificate) error {
	return errUnavailable("storing a certificate on a token")
}
