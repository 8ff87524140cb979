package deeplink

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
)

// SigningKey is a portal's Ed25519 link-signing key and its key id.
type SigningKey struct {
	KID string
	Key ed25519.PrivateKey
}

// NewSigningKey generates a signing key with id kid, from rand
// (crypto/rand when nil).
func NewSigningKey(kid string, rnd io.Reader) (*SigningKey, error) {
	if !isKID(kid) {
		return nil, fmt.Errorf("%w: kid %q: want 1–64 characters of [A-Za-z0-9._-]", ErrKeySet, kid)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	_, priv, err := ed25519.GenerateKey(rnd)
	if err != nil {
		return nil, err
	}
	return &SigningKey{KID: kid, Key: priv}, nil
}

// SigningKeyFromSeed returns the signing key of a 32-byte Ed25519 seed (RFC
// 8032 private key), as the test vectors give it.
func SigningKeyFromSeed(kid string, seed []byte) (*SigningKey, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: seed is %d bytes, want %d", ErrKeySet, len(seed), ed25519.SeedSize)
	}
	k := &SigningKey{KID: kid, Key: ed25519.NewKeyFromSeed(seed)}
	return k, k.check()
}

func (k *SigningKey) check() error {
	if k == nil || len(k.Key) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: signing key is not an Ed25519 private key", ErrKeySet)
	}
	if !isKID(k.KID) {
		return fmt.Errorf("%w: kid %q: want 1–64 characters of [A-Za-z0-9._-]", ErrKeySet, k.KID)
	}
	return nil
}

// Public returns the public half, for the JWKS.
func (k *SigningKey) Public() PublicKey {
	return PublicKey{KID: k.KID, Key: k.Key.Public().(ed25519.PublicKey)}
}

// MarshalPEM encodes the private key as a PKCS#8 "PRIVATE KEY" PEM block.
// The kid is not part of it.
func (k *SigningKey) MarshalPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.Key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseSigningKeyPEM reads an Ed25519 private key from PKCS#8 PEM and names
// it kid.
func ParseSigningKeyPEM(kid string, data []byte) (*SigningKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: no PKCS#8 PRIVATE KEY PEM block", ErrKeySet)
	}
	key, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeySet, err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: key is %T, want Ed25519", ErrKeySet, key)
	}
	k := &SigningKey{KID: kid, Key: priv}
	return k, k.check()
}

// PublicKey is a link-verification key and its key id.
type PublicKey struct {
	KID string
	Key ed25519.PublicKey
}

// KeySet is a set of link-verification keys, as published at
// {origin}/.well-known/securesign-keys.json. Several keys with different
// kids allow rotation: publish the new key, sign with it, drop the old one
// when its links have expired. It marshals to and from the JWKS of the
// protocol.
type KeySet struct {
	Keys []PublicKey
}

// Lookup returns the key with id kid.
func (s *KeySet) Lookup(kid string) (ed25519.PublicKey, bool) {
	if s == nil {
		return nil, false
	}
	for _, k := range s.Keys {
		if k.KID == kid {
			return k.Key, true
		}
	}
	return nil, false
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	KID string `json:"kid,omitempty"`
	X   string `json:"x,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

type jwks struct {
	Keys []jwk `json:"keys"`
}

// MarshalJSON writes {"keys":[{"kty":"OKP","crv":"Ed25519","kid":…,"x":…}]}.
func (s KeySet) MarshalJSON() ([]byte, error) {
	out := jwks{Keys: []jwk{}}
	for _, k := range s.Keys {
		if len(k.Key) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: key %q is not an Ed25519 public key", ErrKeySet, k.KID)
		}
		out.Keys = append(out.Keys, jwk{Kty: "OKP", Crv: "Ed25519", KID: k.KID, X: base64.RawURLEncoding.EncodeToString(k.Key)})
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads a JWKS. Keys of other types (RSA, EC, X25519) are
// skipped, since a portal may publish other keys in the same document;
// a malformed Ed25519 key, a key without kid and two keys with one kid are
// errors.
func (s *KeySet) UnmarshalJSON(data []byte) error {
	var in jwks
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&in); err != nil {
		return fmt.Errorf("%w: %v", ErrKeySet, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: data after the JWKS object", ErrKeySet)
	}
	if in.Keys == nil {
		return fmt.Errorf("%w: no \"keys\" array", ErrKeySet)
	}
	var keys []PublicKey
	for _, k := range in.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" {
			continue
		}
		if k.Use != "" && k.Use != "sig" || k.Alg != "" && k.Alg != "EdDSA" && k.Alg != "Ed25519" {
			continue
		}
		if !isKID(k.KID) {
			return fmt.Errorf("%w: kid %q", ErrKeySet, k.KID)
		}
		x, err := base64.RawURLEncoding.Strict().DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: key %q: x is not unpadded base64url of 32 bytes", ErrKeySet, k.KID)
		}
		for _, e := range keys {
			if e.KID == k.KID {
				return fmt.Errorf("%w: kid %q appears twice", ErrKeySet, k.KID)
			}
		}
		keys = append(keys, PublicKey{KID: k.KID, Key: ed25519.PublicKey(x)})
	}
	s.Keys = keys
	return nil
}

// ParseKeySet reads a JWKS document; errors wrap ErrKeySet.
func ParseKeySet(data []byte) (*KeySet, error) {
	var ks KeySet
	if err := ks.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return &ks, nil
}

// Verify checks the link's sig with the key named by its kid in keys.
// It fails with ErrUnsigned, ErrUnknownKey or ErrSignature.
func (l *Link) Verify(keys *KeySet) error {
	if !l.Signed {
		return errf(ErrUnsigned, ParamSig, "")
	}
	pub, ok := keys.Lookup(l.KID)
	if !ok {
		return errf(ErrUnknownKey, ParamKID, "%q", l.KID)
	}
	if !ed25519.Verify(pub, []byte(l.Canonical), l.Signature) {
		return errf(ErrSignature, ParamSig, "does not verify with key %q", l.KID)
	}
	return nil
}
