package pki

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"encoding/hex"
	"fmt"

	"github.com/ThalesGroup/crypto11"
)

// PKCS11KeyStore is a KeyGenerator on a PKCS#11 token (an HSM in
// production, SoftHSM2 in tests): keys are generated on the token as
// sensitive and non-extractable (CKA_SENSITIVE, !CKA_EXTRACTABLE) and never
// leave it; the id is the hex of the objects' CKA_ID. It is safe for
// concurrent use.
type PKCS11KeyStore struct {
	ctx *crypto11.Context
}

// OpenPKCS11KeyStore logs in to the token labelled tokenLabel of the module
// at modulePath. Close it when done.
func OpenPKCS11KeyStore(modulePath, tokenLabel string, pin []byte) (*PKCS11KeyStore, error) {
	if len(pin) == 0 {
		return nil, fmt.Errorf("%w: no PIN for token %q", ErrKeyStoreLocked, tokenLabel)
	}
	c, err := crypto11.Configure(&crypto11.Config{Path: modulePath, TokenLabel: tokenLabel, Pin: string(pin)})
	if err != nil {
		return nil, fmt.Errorf("%w: PKCS#11 token %q: %v", ErrKeyStoreLocked, tokenLabel, err)
	}
	return &PKCS11KeyStore{ctx: c}, nil
}

// Close logs out and releases the module.
func (k *PKCS11KeyStore) Close() error { return k.ctx.Close() }

// GenerateKey implements KeyGenerator.
func (k *PKCS11KeyStore) GenerateKey(ctx context.Context, kt KeyType) (string, crypto.PublicKey, error) {
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	id, err := randomID()
	if err != nil {
		return "", nil, err
	}
	raw, _ := hex.DecodeString(id)
	label := []byte("securesign-" + id)
	var s crypto11.Signer
	switch kt {
	case RSA2048:
		s, err = k.ctx.GenerateRSAKeyPairWithLabel(raw, label, 2048)
	case RSA3072:
		s, err = k.ctx.GenerateRSAKeyPairWithLabel(raw, label, 3072)
	case RSA4096:
		s, err = k.ctx.GenerateRSAKeyPairWithLabel(raw, label, 4096)
	case P256:
		s, err = k.ctx.GenerateECDSAKeyPairWithLabel(raw, label, elliptic.P256())
	case P384:
		s, err = k.ctx.GenerateECDSAKeyPairWithLabel(raw, label, elliptic.P384())
	default:
		return "", nil, fmt.Errorf("%w: unknown key type %q", ErrWeakKey, kt)
	}
	if err != nil {
		return "", nil, fmt.Errorf("pki: PKCS#11 key generation: %w", err)
	}
	return id, s.Public(), nil
}

// Signer implements KeyGenerator.
func (k *PKCS11KeyStore) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	raw, err := hex.DecodeString(id)
	if err != nil || len(raw) == 0 {
		return nil, fmt.Errorf("%w: key id %q", ErrNotFound, id)
	}
	found, err := k.ctx.FindKeyPairs(raw, nil)
	if err != nil {
		return nil, fmt.Errorf("pki: PKCS#11: %w", err)
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%w: no key with id %s on the token", ErrNotFound, id)
	}
	return found[0], nil
}

var _ KeyGenerator = (*PKCS11KeyStore)(nil)
var _ KeyGenerator = (*SoftwareKeyStore)(nil)
