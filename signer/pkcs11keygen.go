//go:build cgo

package signer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/miekg/pkcs11"
)

// Key generation on a token: the CA side's server-held keys (an HSM in
// production, SoftHSM in tests) go through the same module table and login
// bookkeeping as Signers, so one process never initializes a module twice.

// verifyPIN is VerifyPIN.
func (m *Module) verifyPIN(ctx context.Context, sel TokenSelector, pin []byte) error {
	s, err := m.loggedIn(ctx, sel, pin)
	if err != nil {
		return err
	}
	return s.Close()
}

// generateKey is GenerateKey past the argument checks.
func (m *Module) generateKey(ctx context.Context, sel TokenSelector, pin []byte, spec keyGenSpec, id []byte, label string) (_ *GeneratedKey, err error) {
	s, err := m.loggedIn(ctx, sel, pin)
	if err != nil {
		return nil, err
	}
	defer func() {
		if e := s.Close(); err == nil && e != nil {
			err = e
		}
	}()
	p := s.lib.ctx
	sh, err := p.OpenSession(s.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return nil, fmt.Errorf("signer: C_OpenSession (read/write): %w", translate(err))
	}
	defer func() { _ = p.CloseSession(sh) }()

	if hs, err := findObjects(p, sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, id)}); err != nil {
		return nil, err
	} else if len(hs) > 0 {
		return nil, fmt.Errorf("signer: the token already has objects with CKA_ID %x", id)
	}

	common := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
	pubT := append(append([]*pkcs11.Attribute(nil), common...),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false))
	privT := append(append([]*pkcs11.Attribute(nil), common...),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		// A signing key only: SoftHSM would default these to true.
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false))
	var mech uint
	if spec.curve != nil {
		params, err := asn1.Marshal(curveOIDs[spec.curve])
		if err != nil {
			return nil, err
		}
		mech = pkcs11.CKM_EC_KEY_PAIR_GEN
		pubT = append(pubT, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params))
		privT = append(privT, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC))
	} else {
		mech = pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN
		pubT = append(pubT, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, spec.bits),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
		privT = append(privT, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA))
	}
	if err := s.loadMechanisms(); err != nil {
		return nil, err
	}
	if !s.mechs[mech] {
		return nil, fmt.Errorf("%w: the token cannot generate %s keys", ErrUnsupportedAlgorithm, spec.name)
	}
	pubH, privH, err := p.GenerateKeyPair(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, pubT, privT)
	if err != nil {
		if isCKR(err, pkcs11.CKR_MECHANISM_INVALID, pkcs11.CKR_KEY_SIZE_RANGE, pkcs11.CKR_DOMAIN_PARAMS_INVALID, pkcs11.CKR_CURVE_NOT_SUPPORTED) {
			return nil, fmt.Errorf("%w: C_GenerateKeyPair %s: %w", ErrUnsupportedAlgorithm, spec.name, err)
		}
		return nil, fmt.Errorf("signer: C_GenerateKeyPair %s: %w", spec.name, translate(err))
	}
	defer func() {
		if err != nil { // never leave half a result on the token
			_ = p.DestroyObject(sh, privH)
			_ = p.DestroyObject(sh, pubH)
		}
	}()
	if err := checkNonExtractable(p, sh, privH); err != nil {
		return nil, err
	}
	pub, err := readPublicKey(p, sh, pubH)
	if err != nil {
		return nil, err
	}
	return &GeneratedKey{ID: id, Label: label, KeyType: spec.name, Public: pub}, nil
}

// checkNonExtractable reads back the protection attributes of a private key.
func checkNonExtractable(p *pkcs11.Ctx, sh pkcs11.SessionHandle, key pkcs11.ObjectHandle) error {
	a, err := p.GetAttributeValue(sh, key, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, nil),
	})
	if err != nil {
		return fmt.Errorf("signer: reading the new key's attributes: %w", err)
	}
	isTrue := func(a *pkcs11.Attribute) bool { return len(a.Value) == 1 && a.Value[0] != 0 }
	if !isTrue(a[0]) || isTrue(a[1]) || !isTrue(a[2]) {
		return errors.New("signer: the token did not make the generated key private, sensitive and non-extractable")
	}
	return nil
}

// readPublicKey turns a CKO_PUBLIC_KEY object into a Go public key.
func readPublicKey(p *pkcs11.Ctx, sh pkcs11.SessionHandle, h pkcs11.ObjectHandle) (crypto.PublicKey, error) {
	a, err := p.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil)})
	if err != nil || len(a) != 1 {
		return nil, fmt.Errorf("signer: reading the public key type: %w", err)
	}
	switch kt := uint(new(big.Int).SetBytes(reverseBytes(a[0].Value)).Uint64()); kt {
	case pkcs11.CKK_RSA:
		a, err := p.GetAttributeValue(sh, h, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil), pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, nil)})
		if err != nil {
			return nil, fmt.Errorf("signer: reading the RSA public key: %w", err)
		}
		e := new(big.Int).SetBytes(a[1].Value)
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return nil, fmt.Errorf("%w: RSA public exponent %v", ErrUnsupportedAlgorithm, e)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(a[0].Value), E: int(e.Int64())}, nil
	case pkcs11.CKK_EC:
		a, err := p.GetAttributeValue(sh, h, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil), pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil)})
		if err != nil {
			return nil, fmt.Errorf("signer: reading the EC public key: %w", err)
		}
		var oid asn1.ObjectIdentifier
		if rest, err := asn1.Unmarshal(a[0].Value, &oid); err != nil || len(rest) > 0 {
			return nil, fmt.Errorf("%w: EC parameters are not a named curve", ErrUnsupportedAlgorithm)
		}
		var curve elliptic.Curve
		for c, o := range curveOIDs {
			if o.Equal(oid) {
				curve = c
			}
		}
		if curve == nil {
			return nil, fmt.Errorf("%w: EC curve %v", ErrUnsupportedAlgorithm, oid)
		}
		// CKA_EC_POINT is a DER OCTET STRING by the standard; some tokens
		// give the bare point.
		point := a[1].Value
		var inner []byte
		if rest, err := asn1.Unmarshal(point, &inner); err == nil && len(rest) == 0 {
			point = inner
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, fmt.Errorf("signer: the token's EC point: %w", err)
		}
		return pub, nil
	default:
		return nil, fmt.Errorf("%w: key type 0x%x", ErrUnsupportedAlgorithm, kt)
	}
}

// keyByID finds the one private key with CKA_ID id and its public key:
// from the public key object with the same ID, or for RSA from the private
// key object itself.
func keyByID(p *pkcs11.Ctx, sh pkcs11.SessionHandle, id []byte) (pkcs11.ObjectHandle, crypto.PublicKey, error) {
	if len(id) == 0 {
		return 0, nil, fmt.Errorf("%w: empty key ID", ErrKeyNotFound)
	}
	keys, err := findObjects(p, sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	})
	if err != nil {
		return 0, nil, err
	}
	switch len(keys) {
	case 0:
		return 0, nil, fmt.Errorf("%w: no private key with ID %x", ErrKeyNotFound, id)
	case 1:
	default:
		return 0, nil, fmt.Errorf("%w: %d private keys with ID %x", ErrKeyNotFound, len(keys), id)
	}
	pubs, err := findObjects(p, sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	})
	if err != nil {
		return 0, nil, err
	}
	var pub crypto.PublicKey
	if len(pubs) > 0 {
		if pub, err = readPublicKey(p, sh, pubs[0]); err != nil {
			return 0, nil, err
		}
	} else if pub, err = readPublicKey(p, sh, keys[0]); err != nil {
		// RSA private key objects carry the modulus and public exponent;
		// EC ones do not carry the point.
		return 0, nil, fmt.Errorf("%w: private key %x has no public key object: %w", ErrKeyNotFound, id, err)
	}
	if err := keyMatchesPublic(p, sh, keys[0], pub); err != nil {
		return 0, nil, err
	}
	return keys[0], pub, nil
}

// keySignerByID is KeySigner.
func (m *Module) keySignerByID(ctx context.Context, sel TokenSelector, pin []byte, id []byte) (_ KeySigner, err error) {
	s, err := m.loggedIn(ctx, sel, pin)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	sh, err := s.session()
	if err != nil {
		return nil, err
	}
	defer s.put(sh, nil)
	key, pub, err := keyByID(s.lib.ctx, sh, id)
	if err != nil {
		return nil, fmt.Errorf("%w (token %s)", err, sel)
	}
	s.key, s.pub, s.keyID = key, pub, bytes.Clone(id)
	if a, err := s.lib.ctx.GetAttributeValue(sh, key, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_AUTHENTICATE, nil)}); err == nil && len(a) == 1 {
		s.alwaysAuth = len(a[0].Value) == 1 && a[0].Value[0] != 0
	}
	if s.alwaysAuth {
		s.pin = bytes.Clone(pin)
	}
	if err := s.loadMechanisms(); err != nil {
		return nil, err
	}
	return &keySigner{s: s}, nil
}

// keySigner exposes a certificate-less tokenSigner as a KeySigner only, so
// it cannot be mistaken for a Signer (whose Certificate is never nil).
type keySigner struct{ s *tokenSigner }

func (k *keySigner) Public() crypto.PublicKey { return k.s.pub }
func (k *keySigner) ID() []byte               { return bytes.Clone(k.s.keyID) }
func (k *keySigner) Close() error             { return k.s.Close() }
func (k *keySigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.s.Sign(r, digest, opts)
}

// importCertificate is ImportCertificate past the argument checks.
func (m *Module) importCertificate(ctx context.Context, sel TokenSelector, pin []byte, id []byte, label string, cert *x509.Certificate) (err error) {
	s, err := m.loggedIn(ctx, sel, pin)
	if err != nil {
		return err
	}
	defer func() {
		if e := s.Close(); err == nil && e != nil {
			err = e
		}
	}()
	p := s.lib.ctx
	sh, err := p.OpenSession(s.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("signer: C_OpenSession (read/write): %w", translate(err))
	}
	defer func() { _ = p.CloseSession(sh) }()
	if id != nil {
		key, pub, err := keyByID(p, sh, id)
		if err != nil {
			return err
		}
		if !publicKeysEqual(pub, cert.PublicKey) {
			return fmt.Errorf("%w: certificate %s does not match the key with ID %x", ErrKeyNotFound, FormatSerial(cert.SerialNumber), id)
		}
		if label == "" {
			if a, err := p.GetAttributeValue(sh, key, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil)}); err == nil && len(a) == 1 {
				label = string(a[0].Value)
			}
		}
	}
	if have, err := findObjects(p, sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, cert.Raw),
	}); err != nil {
		return err
	} else if len(have) > 0 {
		return nil
	}
	serial, err := asn1.Marshal(cert.SerialNumber)
	if err != nil {
		return err
	}
	attrs := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, cert.Raw),
		pkcs11.NewAttribute(pkcs11.CKA_SUBJECT, cert.RawSubject),
		pkcs11.NewAttribute(pkcs11.CKA_ISSUER, cert.RawIssuer),
		pkcs11.NewAttribute(pkcs11.CKA_SERIAL_NUMBER, serial),
	}
	if id != nil {
		attrs = append(attrs, pkcs11.NewAttribute(pkcs11.CKA_ID, id))
	}
	if _, err := p.CreateObject(sh, attrs); err != nil {
		return fmt.Errorf("signer: C_CreateObject (certificate %s): %w", FormatSerial(cert.SerialNumber), translate(err))
	}
	return nil
}
