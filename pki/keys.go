package pki

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// KeyType names a key algorithm and size.
type KeyType string

// The key types: RSA-2048 only for subjects; CA keys are RSA-3072 or
// larger, or ECDSA.
const (
	RSA2048 KeyType = "rsa-2048"
	RSA3072 KeyType = "rsa-3072"
	RSA4096 KeyType = "rsa-4096"
	P256    KeyType = "ecdsa-p256"
	P384    KeyType = "ecdsa-p384"
)

// ParseKeyType accepts the KeyType names case-insensitively, also in the
// forms "RSA-2048" and "ECDSA-P256".
func ParseKeyType(s string) (KeyType, error) {
	k := KeyType(strings.ToLower(strings.TrimSpace(s)))
	switch k {
	case RSA2048, RSA3072, RSA4096, P256, P384:
		return k, nil
	case "p-256", "p256":
		return P256, nil
	case "p-384", "p384":
		return P384, nil
	}
	return "", fmt.Errorf("%w: unknown key type %q (want rsa-2048, rsa-3072, rsa-4096, ecdsa-p256 or ecdsa-p384)", ErrWeakKey, s)
}

// GenerateKey makes a software private key of type kt.
func GenerateKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case RSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case P256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case P384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	}
	return nil, fmt.Errorf("%w: unknown key type %q", ErrWeakKey, kt)
}

// KeyGenerator makes private keys on the CA side (server-side key
// generation) and hands them back later by id. The software implementation
// is SoftwareKeyStore; a PKCS#11 implementation keeps keys non-extractable
// on a token and returns its signer.
type KeyGenerator interface {
	// GenerateKey makes a key of type kt and returns its id and public key.
	GenerateKey(ctx context.Context, kt KeyType) (id string, pub crypto.PublicKey, err error)
	// Signer returns the private key with the given id, or an error
	// wrapping ErrNotFound.
	Signer(ctx context.Context, id string) (crypto.Signer, error)
}

// SoftwareKeyStore keeps generated private keys in a Store's key blobs,
// encrypted at rest: PKCS#8, sealed with AES-256-GCM under a key derived by
// HKDF-SHA256 from a master secret and a random per-key salt; the key id
// is authenticated as additional data.
type SoftwareKeyStore struct {
	store  Store
	master []byte
}

// NewSoftwareKeyStore returns a key store over store. master must be at
// least 16 random bytes (see PassphraseKey to derive one from a passphrase).
func NewSoftwareKeyStore(store Store, master []byte) (*SoftwareKeyStore, error) {
	if store == nil {
		return nil, errors.New("pki: key store needs a Store")
	}
	if len(master) < 16 {
		return nil, fmt.Errorf("%w: master secret shorter than 16 bytes", ErrKeyStoreLocked)
	}
	return &SoftwareKeyStore{store: store, master: append([]byte(nil), master...)}, nil
}

const keyBlobVersion = 1

// GenerateKey implements KeyGenerator.
func (k *SoftwareKeyStore) GenerateKey(ctx context.Context, kt KeyType) (string, crypto.PublicKey, error) {
	key, err := GenerateKey(kt)
	if err != nil {
		return "", nil, err
	}
	id, err := randomID()
	if err != nil {
		return "", nil, err
	}
	if err := k.Put(ctx, id, key); err != nil {
		return "", nil, err
	}
	return id, key.Public(), nil
}

// Put stores an existing private key under id.
func (k *SoftwareKeyStore) Put(ctx context.Context, id string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	defer clear(der)
	blob, err := SealKey(k.master, id, der)
	if err != nil {
		return err
	}
	return k.store.PutKey(ctx, id, blob)
}

// Signer implements KeyGenerator.
func (k *SoftwareKeyStore) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	blob, err := k.store.Key(ctx, id)
	if err != nil {
		return nil, err
	}
	der, err := OpenKey(k.master, id, blob)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	return parsePKCS8Signer(der)
}

func parsePKCS8Signer(der []byte) (crypto.Signer, error) {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("pki: stored key: %w", err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("pki: stored key of type %T cannot sign", key)
	}
	return s, nil
}

func randomID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// SealKey encrypts plaintext (a PKCS#8 key) under master, bound to id, the
// way SoftwareKeyStore keeps key blobs: version(1) | salt(16) | nonce(12) |
// AES-256-GCM ciphertext, the AES key derived with HKDF-SHA256 from master
// and the salt. Package cadir seals its key files with it.
func SealKey(master []byte, id string, plaintext []byte) ([]byte, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	aead, err := blobAEAD(master, salt)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte{keyBlobVersion}, salt...)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, []byte(id)), nil
}

// OpenKey decrypts a blob made by SealKey with the same master and id. A
// wrong master or id, or a damaged blob, gives an error wrapping
// ErrKeyStoreLocked. The caller should clear the result after use.
func OpenKey(master []byte, id string, blob []byte) ([]byte, error) {
	if len(blob) < 1+16+12+16 || blob[0] != keyBlobVersion {
		return nil, fmt.Errorf("%w: key %q: unknown blob format", ErrKeyStoreLocked, id)
	}
	aead, err := blobAEAD(master, blob[1:17])
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, blob[17:29], blob[29:], []byte(id))
	if err != nil {
		return nil, fmt.Errorf("%w: key %q: wrong master secret or damaged blob", ErrKeyStoreLocked, id)
	}
	return pt, nil
}

func blobAEAD(master, salt []byte) (cipher.AEAD, error) {
	kek, err := hkdf.Key(sha256.New, master, salt, "securesign pki key blob v1", 32)
	if err != nil {
		return nil, err
	}
	defer clear(kek)
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// PassphraseKey derives a 32-byte master secret from a passphrase with
// scrypt (N=2^15, r=8, p=1) and a salt of at least 16 random bytes stored
// next to the data it protects.
func PassphraseKey(passphrase []byte, salt []byte) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("%w: empty passphrase", ErrKeyStoreLocked)
	}
	if len(salt) < 16 {
		return nil, errors.New("pki: scrypt salt shorter than 16 bytes")
	}
	return scrypt.Key(passphrase, salt, 1<<15, 8, 1, 32)
}
