package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
)

// software is a Signer whose private key is in this process's memory.
type software struct {
	key   crypto.Signer
	cert  *x509.Certificate
	chain []*x509.Certificate
}

// NewSoftware returns a Signer for a private key held in memory. The
// certificate's public key must match the key's; chain holds the
// intermediates, leaf excluded.
func NewSoftware(key crypto.Signer, cert *x509.Certificate, chain []*x509.Certificate) (Signer, error) {
	if key == nil || cert == nil {
		return nil, errors.New("signer: NewSoftware needs a key and a certificate")
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("signer: certificate %x does not match the private key", cert.SerialNumber)
	}
	return &software{key: key, cert: cert, chain: append([]*x509.Certificate(nil), chain...)}, nil
}

func (s *software) Public() crypto.PublicKey { return s.key.Public() }

// Sign signs digest and verifies the signature against the certificate
// before returning it, so a faulty key or hardware never leaks a bad
// signature (an RSA-CRT fault can even reveal the key).
func (s *software) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil {
		return nil, fmt.Errorf("%w: nil SignerOpts", ErrUnsupportedAlgorithm)
	}
	sig, err := s.key.Sign(rand, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	if err := verifyOpts(s.cert.PublicKey, digest, sig, opts); err != nil {
		return nil, err
	}
	return sig, nil
}

func (s *software) verifiesSignatures() bool { return true }

func (s *software) Certificate() *x509.Certificate { return s.cert }

func (s *software) Chain() []*x509.Certificate { return append([]*x509.Certificate(nil), s.chain...) }

func publicKeysEqual(a, b crypto.PublicKey) bool {
	switch k := a.(type) {
	case *rsa.PublicKey:
		return k.Equal(b)
	case *ecdsa.PublicKey:
		return k.Equal(b)
	case ed25519.PublicKey:
		return k.Equal(b)
	}
	return false
}
