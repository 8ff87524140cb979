//go:build cgo

package signer

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"

	"github.com/miekg/pkcs11"
)

// findKey finds the private key and certificate ksel selects and fills in
// s.key, s.pub, s.cert, s.chain and s.alwaysAuth.
func (s *tokenSigner) findKey(sh pkcs11.SessionHandle, ksel KeySelector) error {
	p := s.lib.ctx
	certs, err := listCerts(p, sh)
	if err != nil {
		return err
	}
	var (
		key  pkcs11.ObjectHandle
		leaf *tokenCert
	)
	if ksel.KeyLabel != "" {
		keys, err := findObjects(p, sh, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, ksel.KeyLabel),
		})
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return fmt.Errorf("%w: no private key labelled %q", ErrKeyNotFound, ksel.KeyLabel)
		}
		for _, k := range keys {
			if c := certForKey(p, sh, k, certs, ksel); c != nil {
				key, leaf = k, c
				break
			}
		}
		if leaf == nil {
			return fmt.Errorf("%w: private key %q has no matching certificate on the token", ErrCertNotFound, ksel.KeyLabel)
		}
	} else {
		anyKey := ksel.CertSerial == nil && ksel.CertSHA256 == nil
		var matched int
		var found []tokenCert
		var keys []pkcs11.ObjectHandle
		for _, c := range certs {
			if (anyKey && c.cert.IsCA) || !ksel.matchesCert(c.cert) {
				continue
			}
			matched++
			if k, ok := keyForCert(p, sh, c); ok {
				found, keys = append(found, c), append(keys, k)
			}
		}
		switch {
		case matched == 0:
			return fmt.Errorf("%w: no certificate with %s", ErrCertNotFound, ksel)
		case len(found) == 0:
			return fmt.Errorf("%w: the certificate with %s has no private key on the token", ErrKeyNotFound, ksel)
		case len(found) > 1 && anyKey:
			return fmt.Errorf("%w: the token has %d keys with certificates; select one by certificate serial or key label", ErrKeyNotFound, len(found))
		}
		key, leaf = keys[0], &found[0]
	}
	if err := checkKeyMatches(p, sh, key, leaf.cert); err != nil {
		return err
	}
	s.key, s.cert, s.pub = key, leaf.cert, leaf.cert.PublicKey
	if a, err := p.GetAttributeValue(sh, key, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_AUTHENTICATE, nil)}); err == nil && len(a) == 1 {
		s.alwaysAuth = len(a[0].Value) == 1 && a[0].Value[0] != 0
	}
	var cas []*x509.Certificate
	for _, c := range certs {
		if c.cert.IsCA {
			cas = append(cas, c.cert)
		}
	}
	s.chain = linkedChain(leaf.cert, cas)
	return nil
}

// keyForCert finds the private key of a certificate: by CKA_ID, as PKCS#11
// tokens link them, or for RSA by modulus, for tokens whose vendor tool
// wrote different IDs.
func keyForCert(p *pkcs11.Ctx, sh pkcs11.SessionHandle, c tokenCert) (pkcs11.ObjectHandle, bool) {
	if len(c.id) > 0 {
		hs, err := findObjects(p, sh, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_ID, c.id),
		})
		for _, h := range hs {
			if err == nil && checkKeyMatches(p, sh, h, c.cert) == nil {
				return h, true
			}
		}
	}
	if pub, ok := c.cert.PublicKey.(*rsa.PublicKey); ok {
		hs, err := findObjects(p, sh, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, pub.N.Bytes()),
		})
		if err == nil && len(hs) > 0 {
			return hs[0], true
		}
	}
	return 0, false
}

// certForKey finds the certificate of a private key: same CKA_ID, then
// same label, then (RSA) same modulus; it must also match ksel.
func certForKey(p *pkcs11.Ctx, sh pkcs11.SessionHandle, key pkcs11.ObjectHandle, certs []tokenCert, ksel KeySelector) *tokenCert {
	a, err := p.GetAttributeValue(sh, key, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_ID, nil), pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil)})
	if err != nil {
		return nil
	}
	id, label := a[0].Value, string(a[1].Value)
	for _, pass := range []func(tokenCert) bool{
		func(c tokenCert) bool { return len(id) > 0 && bytes.Equal(c.id, id) },
		func(c tokenCert) bool { return label != "" && c.label == label },
		func(tokenCert) bool { return true },
	} {
		for i := range certs {
			c := &certs[i]
			if pass(*c) && ksel.matchesCert(c.cert) && checkKeyMatches(p, sh, key, c.cert) == nil {
				return c
			}
		}
	}
	return nil
}

// checkKeyMatches compares what the token tells about a private key with
// the certificate's public key: the modulus for RSA, the curve for EC
// (PKCS#11 private EC keys do not carry the point; every signature is
// verified anyway).
func checkKeyMatches(p *pkcs11.Ctx, sh pkcs11.SessionHandle, key pkcs11.ObjectHandle, cert *x509.Certificate) error {
	return keyMatchesPublic(p, sh, key, cert.PublicKey)
}

// keyMatchesPublic is checkKeyMatches for a bare public key.
func keyMatchesPublic(p *pkcs11.Ctx, sh pkcs11.SessionHandle, key pkcs11.ObjectHandle, certPub crypto.PublicKey) error {
	a, err := p.GetAttributeValue(sh, key, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil)})
	if err != nil || len(a) != 1 {
		return fmt.Errorf("signer: reading the key type: %w", err)
	}
	kt := uint(new(big.Int).SetBytes(reverseBytes(a[0].Value)).Uint64())
	switch pub := certPub.(type) {
	case *rsa.PublicKey:
		if kt != pkcs11.CKK_RSA {
			return errKeyMismatch
		}
		m, err := p.GetAttributeValue(sh, key, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil)})
		if err == nil && len(m) == 1 && new(big.Int).SetBytes(m[0].Value).Cmp(pub.N) != 0 {
			return errKeyMismatch
		}
	case *ecdsa.PublicKey:
		if kt != pkcs11.CKK_EC {
			return errKeyMismatch
		}
		m, err := p.GetAttributeValue(sh, key, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil)})
		if err == nil && len(m) == 1 {
			if want, ok := curveOIDs[pub.Curve]; ok {
				var got asn1.ObjectIdentifier
				if _, err := asn1.Unmarshal(m[0].Value, &got); err == nil && !got.Equal(want) {
					return errKeyMismatch
				}
			}
		}
	default:
		return fmt.Errorf("%w: certificate key %T", ErrUnsupportedAlgorithm, certPub)
	}
	return nil
}

var errKeyMismatch = fmt.Errorf("%w: the private key does not match the certificate", ErrKeyNotFound)

var curveOIDs = map[elliptic.Curve]asn1.ObjectIdentifier{
	elliptic.P256(): {1, 2, 840, 10045, 3, 1, 7},
	elliptic.P384(): {1, 3, 132, 0, 34},
	elliptic.P521(): {1, 3, 132, 0, 35},
}

// reverseBytes turns a CK_ULONG attribute (host byte order; little-endian
// on every platform we build for) into big-endian bytes.
func reverseBytes(b []byte) []byte {
	r := bytes.Clone(b)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return r
}

// linkedChain returns the CA certificates that chain up from leaf, closest
// first; certificates that do not link are left out.
func linkedChain(leaf *x509.Certificate, cas []*x509.Certificate) []*x509.Certificate {
	chain := orderChain(leaf, cas)
	n := 0
	cur := leaf
	for _, c := range chain {
		if !bytes.Equal(cur.RawIssuer, c.RawSubject) || cur.CheckSignatureFrom(c) != nil {
			break
		}
		n++
		cur = c
	}
	return chain[:n]
}

// DigestInfo prefixes (RFC 8017 §9.2 note 1) for CKM_RSA_PKCS, which pads
// but does not add the DigestInfo.
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

var pssMechs = map[crypto.Hash][2]uint{
	crypto.SHA256: {pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256},
	crypto.SHA384: {pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384},
	crypto.SHA512: {pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512},
}

// Sign signs digest on the token: CKM_RSA_PKCS over the DigestInfo,
// CKM_RSA_PKCS_PSS when opts is *rsa.PSSOptions (salt = hash length unless
// opts sets a length), CKM_ECDSA over the digest with the raw r||s result
// turned into ASN.1 DER. The signature is verified with the certificate's
// public key before it is returned. rand is not used: the token has its
// own.
func (s *tokenSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil {
		return nil, fmt.Errorf("%w: nil SignerOpts", ErrUnsupportedAlgorithm)
	}
	h := opts.HashFunc()
	if err := checkHash(h, digest); err != nil {
		return nil, err
	}
	var (
		mech  uint
		param []byte
		input = digest
		pss   *rsa.PSSOptions
		alg   = DefaultAlgorithm(s.pub)
	)
	switch pub := s.pub.(type) {
	case *rsa.PublicKey:
		if o, ok := opts.(*rsa.PSSOptions); ok {
			salt := o.SaltLength
			if salt == rsa.PSSSaltLengthEqualsHash || salt == rsa.PSSSaltLengthAuto {
				salt = h.Size()
			}
			if salt < 0 || salt > pub.Size()-h.Size()-2 {
				return nil, fmt.Errorf("%w: PSS salt length %d", ErrUnsupportedAlgorithm, o.SaltLength)
			}
			pm := pssMechs[h]
			mech, param, alg = pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(pm[0], pm[1], uint(salt)), RSAPSS
			pss = &rsa.PSSOptions{SaltLength: salt, Hash: h}
		} else {
			mech = pkcs11.CKM_RSA_PKCS
			input = append(bytes.Clone(digestInfoPrefix[h]), digest...)
		}
	case *ecdsa.PublicKey:
		mech = pkcs11.CKM_ECDSA
	}
	if !s.mechs[mech] {
		return nil, fmt.Errorf("%w: the token does not offer %s", ErrUnsupportedAlgorithm, mechName(mech))
	}
	sig, err := s.signRaw(pkcs11.NewMechanism(mech, param), input)
	if err != nil {
		return nil, err
	}
	if pub, ok := s.pub.(*ecdsa.PublicKey); ok {
		n := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*n {
			return nil, fmt.Errorf("%w: CKM_ECDSA returned %d bytes, want %d", ErrSignatureInvalid, len(sig), 2*n)
		}
		sig = ecdsaToDER(pub, sig)
	}
	if err := verifyWith(s.pub, alg, h, pss, digest, sig); err != nil {
		if s.cert == nil {
			return nil, fmt.Errorf("signer: the token's signature does not verify with the public key of key %x: %w", s.keyID, err)
		}
		return nil, fmt.Errorf("signer: the token's signature does not verify with certificate %s: %w", FormatSerial(s.cert.SerialNumber), err)
	}
	return sig, nil
}

func mechName(m uint) string {
	switch m {
	case pkcs11.CKM_RSA_PKCS:
		return "CKM_RSA_PKCS"
	case pkcs11.CKM_RSA_PKCS_PSS:
		return "CKM_RSA_PKCS_PSS"
	case pkcs11.CKM_ECDSA:
		return "CKM_ECDSA"
	}
	return fmt.Sprintf("mechanism 0x%x", m)
}

// signRaw runs C_SignInit, the context-specific login when the key wants
// one, and C_Sign on a pooled session.
func (s *tokenSigner) signRaw(mech *pkcs11.Mechanism, input []byte) ([]byte, error) {
	p := s.lib.ctx
	sh, err := s.session()
	if err != nil {
		return nil, err
	}
	var sig []byte
	err = p.SignInit(sh, []*pkcs11.Mechanism{mech}, s.key)
	if err != nil {
		err = s.signError("C_SignInit", err)
	} else if s.alwaysAuth {
		s.mu.Lock()
		pin := string(s.pin)
		s.mu.Unlock()
		if e := p.Login(sh, pkcs11.CKU_CONTEXT_SPECIFIC, pin); e != nil {
			err = s.loginError(e)
		}
	}
	if err == nil {
		sig, err = p.Sign(sh, input)
		if err != nil {
			err = s.signError("C_Sign", err)
		}
	}
	// After a failure the session may still hold an operation: drop it.
	s.put(sh, err)
	return sig, err
}

func (s *tokenSigner) signError(op string, err error) error {
	switch {
	case isCKR(err, pkcs11.CKR_USER_NOT_LOGGED_IN):
		return fmt.Errorf("signer: %s: not logged in (token removed or logged out elsewhere, or the key wants a context-specific login): %w", op, err)
	case isCKR(err, pkcs11.CKR_MECHANISM_INVALID, pkcs11.CKR_MECHANISM_PARAM_INVALID, pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED, pkcs11.CKR_KEY_TYPE_INCONSISTENT):
		return fmt.Errorf("%w: %s: %w", ErrUnsupportedAlgorithm, op, err)
	case isCKR(err, pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED, pkcs11.CKR_OBJECT_HANDLE_INVALID, pkcs11.CKR_KEY_HANDLE_INVALID):
		return fmt.Errorf("%w: %s: the token was removed or reset: %w", ErrTokenNotFound, op, err)
	}
	return fmt.Errorf("signer: %s: %w", op, translate(err))
}
