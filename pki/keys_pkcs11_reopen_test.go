package pki

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/securesign/securesign/signer"
)

// fakeKeySigner is an open token key whose signatures fail with err.
type fakeKeySigner struct {
	err           error
	signs, closes int
}

func (f *fakeKeySigner) Public() crypto.PublicKey { return nil }
func (f *fakeKeySigner) ID() []byte               { return []byte{1} }
func (f *fakeKeySigner) Close() error             { f.closes++; return nil }
func (f *fakeKeySigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	f.signs++
	return []byte("sig"), f.err
}

// TestPKCS11KeyStoreDropsFailedKey: a key whose signature fails on the
// token is taken out of the store and closed by its last user, so that its
// next use opens it afresh; bad input and unsupported algorithms keep it.
func TestPKCS11KeyStoreDropsFailedKey(t *testing.T) {
	digest := sha256.Sum256([]byte("x"))
	tests := []struct {
		name      string
		err       error
		digest    []byte
		wantSigns int
		dropped   bool
	}{
		{"signed", nil, digest[:], 1, false},
		{"short digest", nil, digest[:20], 0, false},
		{"unsupported", fmt.Errorf("%w: CKM_RSA_PKCS_PSS", signer.ErrUnsupportedAlgorithm), digest[:], 1, false},
		{"token removed", fmt.Errorf("%w: C_Sign", signer.ErrTokenNotFound), digest[:], 1, true},
		{"not logged in", errors.New("signer: C_SignInit: not logged in"), digest[:], 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeKeySigner{err: tt.err}
			k := &PKCS11KeyStore{open: map[string]*p11Open{"01": {ks: fake}}, maxOpen: 4}
			// Another signature holds the key while this one fails.
			held, err := k.acquire(context.Background(), "01")
			if err != nil {
				t.Fatal(err)
			}
			s := &p11Signer{store: k, id: "01"}
			_, err = s.Sign(nil, tt.digest, crypto.SHA256)
			if (err != nil) != (tt.err != nil || len(tt.digest) != 32) {
				t.Errorf("Sign = %v", err)
			}
			_, open := k.open["01"]
			if fake.signs != tt.wantSigns || open == tt.dropped || fake.closes != 0 {
				t.Errorf("signs %d (want %d), still open %v, closes %d while held", fake.signs, tt.wantSigns, open, fake.closes)
			}
			k.release(held)
			if want := map[bool]int{true: 1, false: 0}[tt.dropped]; fake.closes != want {
				t.Errorf("closes after the last user = %d, want %d", fake.closes, want)
			}
		})
	}
}

// TestPKCS11KeyStoreKeepsPINRefusal: once the token refused the PIN, the
// store does not try it again (each try spends one of the token's retries).
func TestPKCS11KeyStoreKeepsPINRefusal(t *testing.T) {
	k := &PKCS11KeyStore{open: map[string]*p11Open{}, maxOpen: 4, pin: []byte("1234")}
	k.notePIN(errors.New("some other failure"))
	if _, err := k.pinCopy(); err != nil {
		t.Fatalf("pinCopy after an unrelated failure: %v", err)
	}
	k.notePIN(fmt.Errorf("signer: C_Login: %w", &signer.PINError{TriesLeft: -1, Err: signer.ErrPINIncorrect}))
	// GenerateKey and Signer stop before the module (nil here) is used.
	if _, _, err := k.GenerateKey(context.Background(), RSA2048); !errors.Is(err, ErrKeyStoreLocked) || !errors.Is(err, signer.ErrPINIncorrect) {
		t.Errorf("GenerateKey after a refused PIN = %v", err)
	}
	if _, err := k.Signer(context.Background(), "01"); !errors.Is(err, signer.ErrPINIncorrect) {
		t.Errorf("Signer after a refused PIN = %v", err)
	}
}
