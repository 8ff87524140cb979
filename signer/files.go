package signer

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"software.sslmate.com/src/go-pkcs12"
)

// LoadPKCS12 returns a software Signer for a PKCS#12 (.p12/.pfx) file with
// one private key, its certificate and optionally intermediates. Both the
// modern encryption (PBES2 with AES, PBKDF2) and the legacy one (3DES, RC2,
// SHA-1 MAC) that older Windows and DSC vendor tools write are read. A wrong
// password returns an error wrapping ErrPINIncorrect.
func LoadPKCS12(data []byte, password string) (Signer, error) {
	key, cert, cas, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, fmt.Errorf("signer: PKCS#12 password incorrect: %w", ErrPINIncorrect)
		}
		return nil, fmt.Errorf("signer: reading PKCS#12: %w", err)
	}
	k, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: PKCS#12 key of type %T", ErrUnsupportedAlgorithm, key)
	}
	return NewSoftware(k, cert, orderChain(cert, cas))
}

// LoadPEM returns a software Signer for a PEM private key (PKCS#8, PKCS#1
// "RSA PRIVATE KEY" or SEC1 "EC PRIVATE KEY"; an "ENCRYPTED PRIVATE KEY" is
// refused with a hint, legacy Proc-Type encryption is decrypted with
// password) and PEM certificates, leaf first. When certsPEM is empty the
// certificate is looked for in keyPEM.
func LoadPEM(keyPEM, certsPEM []byte, password string) (Signer, error) {
	key, err := parsePEMKey(keyPEM, password)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(certsPEM)) == 0 {
		certsPEM = keyPEM
	}
	certs, err := parsePEMCerts(certsPEM)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no CERTIFICATE block in PEM", ErrCertNotFound)
	}
	return NewSoftware(key, certs[0], certs[1:])
}

func parsePEMKey(keyPEM []byte, password string) (crypto.Signer, error) {
	for rest := keyPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, fmt.Errorf("%w: no private key block in PEM", ErrKeyNotFound)
		}
		der := b.Bytes
		//lint:ignore SA1019 legacy encrypted PEM keys still exist in the wild; we only read them.
		if x509.IsEncryptedPEMBlock(b) { //nolint:staticcheck
			if password == "" {
				return nil, fmt.Errorf("signer: PEM key is encrypted and no password was given: %w", ErrPINIncorrect)
			}
			//lint:ignore SA1019 see above.
			d, err := x509.DecryptPEMBlock(b, []byte(password)) //nolint:staticcheck
			if err != nil {
				return nil, fmt.Errorf("signer: PEM key password incorrect: %w", ErrPINIncorrect)
			}
			der = d
		}
		var key any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(der)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(der)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(der)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%w: encrypted PKCS#8 PEM keys are not read; convert with: openssl pkcs8 -in key.pem -out plain.pem, or use a PKCS#12 file", ErrUnsupportedAlgorithm)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("signer: parsing %s: %w", b.Type, err)
		}
		k, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%w: key of type %T", ErrUnsupportedAlgorithm, key)
		}
		return k, nil
	}
}

// orderChain orders the intermediates from the leaf up as far as issuer
// links go, then appends whatever is left in the given order. PKCS#12 files
// store CA certificates in no particular order.
func orderChain(leaf *x509.Certificate, cas []*x509.Certificate) []*x509.Certificate {
	left := append([]*x509.Certificate(nil), cas...)
	var out []*x509.Certificate
	cur := leaf
	for len(left) > 0 {
		found := -1
		for i, c := range left {
			if bytes.Equal(cur.RawIssuer, c.RawSubject) && cur.CheckSignatureFrom(c) == nil {
				found = i
				break
			}
		}
		if found < 0 {
			break
		}
		cur = left[found]
		out = append(out, cur)
		left = append(left[:found], left[found+1:]...)
	}
	return append(out, left...)
}

// parsePEMCerts returns the CERTIFICATE blocks of b, in order.
func parsePEMCerts(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return certs, nil
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("signer: certificate %d in PEM: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
}
