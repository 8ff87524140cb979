package gateway

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// sealSecret encrypts a small secret (a link key seed) under the master key
// with AES-256-GCM; label is authenticated, so a blob cannot be moved to
// another row. Format: salt(16) | nonce(12) | ciphertext.
func sealSecret(master []byte, label string, plaintext []byte) ([]byte, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	aead, err := secretAEAD(master, salt)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append(salt, nonce...)
	return aead.Seal(out, nonce, plaintext, []byte(label)), nil
}

func openSecret(master []byte, label string, blob []byte) ([]byte, error) {
	if len(blob) < 16+12+16 {
		return nil, errors.New("encrypted secret too short")
	}
	aead, err := secretAEAD(master, blob[:16])
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, blob[16:28], blob[28:], []byte(label))
	if err != nil {
		return nil, errors.New("wrong master key or damaged secret")
	}
	return pt, nil
}

func secretAEAD(master, salt []byte) (cipher.AEAD, error) {
	if len(master) < 16 {
		return nil, errors.New("master key shorter than 16 bytes")
	}
	k, err := hkdf.Key(sha256.New, master, salt, "securesign gateway secret v1", 32)
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// ParseMasterKey reads a master key written as hex or base64 (at least 16
// bytes once decoded).
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	var b []byte
	var err error
	if b, err = hex.DecodeString(s); err != nil {
		if b, err = base64.StdEncoding.DecodeString(s); err != nil {
			return nil, errors.New("master key is neither hex nor base64")
		}
	}
	if len(b) < 16 {
		return nil, fmt.Errorf("master key has %d bytes, at least 16 needed", len(b))
	}
	return b, nil
}

// devMasterKey reads <dir>/master.key, creating it (32 random bytes, hex,
// mode 0600) on first use. Dev mode only: production passes the key.
func devMasterKey(dir string) ([]byte, error) {
	p := filepath.Join(dir, "master.key")
	if b, err := os.ReadFile(p); err == nil {
		return ParseMasterKey(string(b))
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, p); err != nil {
		return nil, err
	}
	return k, nil
}
