//go:build !cgo

package pki

import (
	"errors"
	"testing"

	"github.com/securesign/securesign/signer"
)

// TestNoCgoPKCS11KeyStore checks that a build without cgo refuses a token
// key store with an error that says why.
// Run: CGO_ENABLED=0 go test ./pki -run TestNoCgo
func TestNoCgoPKCS11KeyStore(t *testing.T) {
	ks, err := OpenPKCS11KeyStore("/usr/lib/softhsm/libsofthsm2.so", "ca-keys", []byte("1234"))
	if ks != nil {
		t.Fatal("OpenPKCS11KeyStore returned a store in a build without cgo")
	}
	if !errors.Is(err, signer.ErrPKCS11Unavailable) || !errors.Is(err, ErrKeyStoreLocked) {
		t.Fatalf("OpenPKCS11KeyStore = %v, want ErrKeyStoreLocked and signer.ErrPKCS11Unavailable", err)
	}
}
