package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/securesign/securesign/signer"
)

// maxOpenPKCS11Keys bounds the keys a PKCS11KeyStore keeps open (each holds
// a few PKCS#11 sessions); idle ones beyond it are closed and reopened on
// their next use.
const maxOpenPKCS11Keys = 32

// PKCS11KeyStore is a KeyGenerator on a PKCS#11 token (an HSM in
// production, SoftHSM2 in tests): keys are generated on the token as
// sensitive and non-extractable (CKA_SENSITIVE, !CKA_EXTRACTABLE) and never
// leave it; the id is the hex of the objects' CKA_ID. It talks to the token
// through package signer, so it shares the process's one initialization of
// the module with every signer.Module on the same path. It is safe for
// concurrent use.
type PKCS11KeyStore struct {
	mod *signer.Module
	sel signer.TokenSelector

	mu      sync.Mutex
	pin     []byte              // zeroed by Close
	open    map[string]*p11Open // by id
	tick    uint64              // use counter, for closing the least recently used key
	maxOpen int                 // maxOpenPKCS11Keys; tests lower it
	closed  bool
	// refused is the token's rejection of the PIN (it was changed or
	// locked since): kept, so that reopening keys does not spend the
	// token's PIN retries until it locks.
	refused error
}

// p11Open is a key the store keeps open on the token.
type p11Open struct {
	ks      signer.KeySigner
	users   int
	last    uint64
	dropped bool // taken out of open after a failure: closed by its last user
}

// OpenPKCS11KeyStore logs in to the token labelled tokenLabel of the module
// at modulePath, to check the PIN; a missing or wrong PIN is an error
// wrapping ErrKeyStoreLocked (and, for a wrong one, signer.ErrPINIncorrect).
// The store keeps a copy of pin, for later logins, until Close. A program
// built without cgo has no PKCS#11: there the error also wraps
// signer.ErrPKCS11Unavailable.
func OpenPKCS11KeyStore(modulePath, tokenLabel string, pin []byte) (*PKCS11KeyStore, error) {
	if len(pin) == 0 {
		return nil, fmt.Errorf("%w: no PIN for token %q", ErrKeyStoreLocked, tokenLabel)
	}
	ctx := context.Background()
	mod, err := signer.OpenModule(ctx, modulePath)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyStoreLocked, err)
	}
	sel := signer.TokenSelector{Label: tokenLabel}
	if err := mod.VerifyPIN(ctx, sel, pin); err != nil {
		_ = mod.Close()
		return nil, fmt.Errorf("%w: PKCS#11 token %q: %w", ErrKeyStoreLocked, tokenLabel, err)
	}
	return &PKCS11KeyStore{mod: mod, sel: sel, pin: bytes.Clone(pin), open: map[string]*p11Open{}, maxOpen: maxOpenPKCS11Keys}, nil
}

// Close closes the keys the store holds open (signers it returned stop
// working), zeroes its copy of the PIN, and releases the module.
func (k *PKCS11KeyStore) Close() error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	clear(k.pin)
	var errs []error
	for id, o := range k.open {
		errs = append(errs, o.ks.Close())
		delete(k.open, id)
	}
	k.mu.Unlock()
	errs = append(errs, k.mod.Close())
	return errors.Join(errs...)
}

var keyGenTypes = map[KeyType]string{
	RSA2048: "RSA-2048",
	RSA3072: "RSA-3072",
	RSA4096: "RSA-4096",
	P256:    "ECDSA-P256",
	P384:    "ECDSA-P384",
}

// GenerateKey implements KeyGenerator: the key pair is made on the token
// (signer.Module.GenerateKey) under a random 16-byte CKA_ID, labelled
// "securesign-" and the id.
func (k *PKCS11KeyStore) GenerateKey(ctx context.Context, kt KeyType) (string, crypto.PublicKey, error) {
	name, ok := keyGenTypes[kt]
	if !ok {
		return "", nil, fmt.Errorf("%w: unknown key type %q", ErrWeakKey, kt)
	}
	pin, err := k.pinCopy()
	if err != nil {
		return "", nil, err
	}
	defer clear(pin)
	gk, err := k.mod.GenerateKey(ctx, k.sel, pin, signer.KeyGenRequest{KeyType: name})
	if err != nil {
		k.notePIN(err)
		return "", nil, fmt.Errorf("pki: PKCS#11 key generation: %w", err)
	}
	return hex.EncodeToString(gk.ID), gk.Public, nil
}

// StoreCertificate puts cert, issued for the key with the given id, on the
// token next to the key, so that signer.Module.Signer finds both by the
// certificate's serial (for signing documents on the token). CA
// certificates of its chain can be stored with an empty id.
func (k *PKCS11KeyStore) StoreCertificate(ctx context.Context, id string, cert *x509.Certificate) error {
	var raw []byte
	if id != "" {
		var err error
		if raw, err = parseKeyID(id); err != nil {
			return err
		}
	}
	pin, err := k.pinCopy()
	if err != nil {
		return err
	}
	defer clear(pin)
	err = k.mod.ImportCertificate(ctx, k.sel, pin, raw, "", cert)
	k.notePIN(err)
	if err != nil {
		if errors.Is(err, signer.ErrKeyNotFound) {
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return fmt.Errorf("pki: storing the certificate on the token: %w", err)
	}
	return nil
}

// Signer implements KeyGenerator. The returned signer opens the key on the
// token as needed; it stops working when the store is closed.
func (k *PKCS11KeyStore) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	o, err := k.acquire(ctx, id)
	if err != nil {
		return nil, err
	}
	pub := o.ks.Public()
	k.release(o)
	return &p11Signer{store: k, id: id, pub: pub}, nil
}

func parseKeyID(id string) ([]byte, error) {
	raw, err := hex.DecodeString(id)
	if err != nil || len(raw) == 0 {
		return nil, fmt.Errorf("%w: key id %q", ErrNotFound, id)
	}
	return raw, nil
}

func (k *PKCS11KeyStore) pinCopy() ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, errors.New("pki: PKCS#11 key store is closed")
	}
	if k.refused != nil {
		return nil, fmt.Errorf("%w: the token refused the PIN earlier; not trying it again: %w", ErrKeyStoreLocked, k.refused)
	}
	return bytes.Clone(k.pin), nil
}

// notePIN records err when it says the token refused the PIN.
func (k *PKCS11KeyStore) notePIN(err error) {
	if errors.Is(err, signer.ErrPINIncorrect) || errors.Is(err, signer.ErrPINLocked) {
		k.mu.Lock()
		if k.refused == nil {
			k.refused = err
		}
		k.mu.Unlock()
	}
}

// acquire returns the open key id, opening it when needed; release it after
// use.
func (k *PKCS11KeyStore) acquire(ctx context.Context, id string) (*p11Open, error) {
	raw, err := parseKeyID(id)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	if o, ok := k.open[id]; ok && !k.closed {
		k.tick++
		o.users, o.last = o.users+1, k.tick
		k.mu.Unlock()
		return o, nil
	}
	k.mu.Unlock()
	pin, err := k.pinCopy()
	if err != nil {
		return nil, err
	}
	// Opening logs in and searches the token: done outside the lock.
	ks, err := k.mod.KeySigner(ctx, k.sel, pin, raw)
	clear(pin)
	k.notePIN(err)
	if err != nil {
		if errors.Is(err, signer.ErrKeyNotFound) {
			return nil, fmt.Errorf("%w: no key with id %s on the token: %w", ErrNotFound, id, err)
		}
		return nil, fmt.Errorf("pki: PKCS#11: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		_ = ks.Close()
		return nil, errors.New("pki: PKCS#11 key store is closed")
	}
	k.tick++
	if o, ok := k.open[id]; ok { // opened concurrently
		_ = ks.Close()
		o.users, o.last = o.users+1, k.tick
		return o, nil
	}
	o := &p11Open{ks: ks, users: 1, last: k.tick}
	k.open[id] = o
	for len(k.open) > k.maxOpen {
		var lruID string
		var lru *p11Open
		for oid, c := range k.open {
			if c.users == 0 && (lru == nil || c.last < lru.last) {
				lruID, lru = oid, c
			}
		}
		if lru == nil {
			break // all in use
		}
		_ = lru.ks.Close()
		delete(k.open, lruID)
	}
	return o, nil
}

func (k *PKCS11KeyStore) release(o *p11Open) {
	k.mu.Lock()
	o.users--
	closeIt := o.dropped && o.users == 0
	k.mu.Unlock()
	if closeIt {
		_ = o.ks.Close()
	}
}

// drop takes the open key o out of the store after a signing failure that
// may have left it unusable (token removed or reset, login lost), so that
// the next use opens the key afresh (logs in, finds it again) instead of
// failing for as long as the store lives. Its last user closes it.
func (k *PKCS11KeyStore) drop(id string, o *p11Open) {
	k.mu.Lock()
	if k.open[id] == o {
		delete(k.open, id)
		o.dropped = true
	}
	k.mu.Unlock()
}

// p11Signer is a key of a PKCS11KeyStore as a crypto.Signer.
type p11Signer struct {
	store *PKCS11KeyStore
	id    string
	pub   crypto.PublicKey
}

func (s *p11Signer) Public() crypto.PublicKey { return s.pub }

// Sign signs on the token; the signature is verified with the token's
// public key before it is returned. The key stays open (logged in, with its
// sessions) for the next signature; any failure but an unsupported
// algorithm closes it, so a token that comes back is used again.
func (s *p11Signer) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	// Bad input is refused here, so that a failure below is the token's.
	if opts == nil || !opts.HashFunc().Available() || len(digest) != opts.HashFunc().Size() {
		return nil, fmt.Errorf("%w: digest and signer options do not fit", signer.ErrUnsupportedAlgorithm)
	}
	o, err := s.store.acquire(context.Background(), s.id)
	if err != nil {
		return nil, err
	}
	sig, err := o.ks.Sign(r, digest, opts)
	if err != nil && !errors.Is(err, signer.ErrUnsupportedAlgorithm) {
		s.store.drop(s.id, o)
	}
	s.store.release(o)
	return sig, err
}

var _ KeyGenerator = (*PKCS11KeyStore)(nil)
var _ KeyGenerator = (*SoftwareKeyStore)(nil)
