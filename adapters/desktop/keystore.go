package desktop

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"slices"

	"github.com/securesign/securesign/signer"
)

// Cert is a certificate the user may sign with, as the page lists it.
type Cert struct {
	// ID names the certificate within one listing; the page sends it back.
	ID          string
	Certificate *x509.Certificate
	// Token is the token's label, for display.
	Token string
	// KeyType is e.g. "RSA-2048" or "ECDSA-P256".
	KeyType string
	// PINFinalTry and PINCountLow are the token's PIN flags when listed:
	// the page warns before the first try.
	PINFinalTry, PINCountLow bool

	module      string
	tokenSerial string
	tokenLabel  string
}

// SHA256 returns the lower-case hex SHA-256 of the certificate's DER.
func (c *Cert) SHA256() string {
	s := sha256.Sum256(c.Certificate.Raw)
	return hex.EncodeToString(s[:])
}

// Keystore lists certificates and opens a signer for one of them. The
// Desktop Software uses [PKCS11Keystore]; tests and other front ends may
// bring their own.
type Keystore interface {
	// Certificates lists every usable certificate; errs says which
	// modules or tokens could not be read (the listing goes on).
	Certificates(ctx context.Context) (certs []Cert, errs []error)
	// Open logs in with pin and returns the signer of c. If the signer
	// implements io.Closer, the caller closes it.
	Open(ctx context.Context, c Cert, pin []byte) (signer.Signer, error)
}

// PKCS11Keystore reads certificates from every present token of the given
// PKCS#11 modules.
type PKCS11Keystore struct {
	// Modules are the module paths, tried in order.
	Modules []string
	// TokenLabel, when set, restricts the listing to that token.
	TokenLabel string
}

// DefaultModules returns extra followed by the known modules installed on
// this machine (signer.FindModules), without duplicates.
func DefaultModules(extra []string) []string {
	var out []string
	for _, m := range append(slices.Clone(extra), signer.FindModules()...) {
		if m != "" && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// Certificates implements [Keystore].
func (k *PKCS11Keystore) Certificates(ctx context.Context) ([]Cert, []error) {
	var (
		certs []Cert
		errs  []error
	)
	for _, path := range k.Modules {
		m, err := signer.OpenModule(ctx, path)
		if err != nil {
			errs = append(errs, fmt.Errorf("module %s: %w", path, err))
			continue
		}
		toks, err := m.Tokens(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("module %s: %w", path, err))
		}
		for _, t := range toks {
			// An uninitialized token (SoftHSM's spare slot, a blank card) has
			// no certificates, and an empty selector would match another one.
			if !t.Present || !t.Initialized || (k.TokenLabel != "" && t.Label != k.TokenLabel) {
				continue
			}
			infos, err := m.Certificates(ctx, signer.TokenSelector{Label: t.Label, Serial: t.Serial})
			if err != nil {
				errs = append(errs, fmt.Errorf("token %q: %w", t.Label, err))
				continue
			}
			for _, ci := range infos {
				if ci.Certificate == nil || ci.IsCA || ci.Certificate.IsCA {
					continue // the issuer chain DSC tokens also carry
				}
				c := Cert{Certificate: ci.Certificate, Token: t.Label, KeyType: ci.KeyType,
					PINFinalTry: t.PINFinalTry, PINCountLow: t.PINCountLow,
					module: path, tokenSerial: t.Serial, tokenLabel: t.Label}
				c.ID = fmt.Sprintf("c%d-%s", len(certs), c.SHA256()[:16])
				certs = append(certs, c)
			}
		}
		if err := m.Close(); err != nil {
			errs = append(errs, fmt.Errorf("module %s: %w", path, err))
		}
	}
	return certs, errs
}

// Open implements [Keystore]. The module stays open until the returned
// signer is closed.
func (k *PKCS11Keystore) Open(ctx context.Context, c Cert, pin []byte) (signer.Signer, error) {
	m, err := signer.OpenModule(ctx, c.module)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(c.Certificate.Raw)
	s, err := m.Signer(ctx, signer.TokenSelector{Label: c.tokenLabel, Serial: c.tokenSerial},
		signer.KeySelector{CertSHA256: sum[:]}, pin)
	if err != nil {
		m.Close()
		return nil, err
	}
	return &moduleSigner{Signer: s, m: m}, nil
}

// moduleSigner closes the module after the token signer.
type moduleSigner struct {
	signer.Signer
	m interface{ Close() error }
}

func (s *moduleSigner) Close() error {
	var err error
	if c, ok := s.Signer.(io.Closer); ok {
		err = c.Close()
	}
	if e := s.m.Close(); err == nil {
		err = e
	}
	return err
}
