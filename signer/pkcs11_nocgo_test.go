//go:build !cgo

package signer_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/securesign/securesign/signer"
)

// TestNoCgoOpenModule checks that a build without cgo says why tokens do
// not work, whatever the path, instead of failing on the file.
// Run: CGO_ENABLED=0 go test ./signer -run TestNoCgo
func TestNoCgoOpenModule(t *testing.T) {
	for _, path := range []string{"/usr/lib/softhsm/libsofthsm2.so", "/no/such/module.so", `C:\Windows\System32\eps2003csp11.dll`} {
		m, err := signer.OpenModule(context.Background(), path)
		if m != nil {
			t.Errorf("OpenModule(%q) returned a Module in a build without cgo", path)
		}
		if !errors.Is(err, signer.ErrPKCS11Unavailable) {
			t.Fatalf("OpenModule(%q) = %v, want ErrPKCS11Unavailable", path, err)
		}
		// callback.CodeOf maps ErrTokenNotFound to SS_TOKEN_NOT_FOUND.
		if !errors.Is(err, signer.ErrTokenNotFound) {
			t.Errorf("OpenModule(%q) = %v, does not wrap ErrTokenNotFound", path, err)
		}
		if !strings.Contains(err.Error(), "built without cgo") || !strings.Contains(err.Error(), path) {
			t.Errorf("OpenModule(%q) error %q does not name the path and the cause", path, err)
		}
	}
}

// TestNoCgoCanceled checks that a canceled context still wins.
func TestNoCgoCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := signer.OpenModule(ctx, "/x.so"); !errors.Is(err, context.Canceled) {
		t.Fatalf("OpenModule(canceled) = %v, want context.Canceled", err)
	}
}

// TestNoCgoMethods checks that every Module method reports the missing
// support (a zero Module is the only one such a build can have) and never
// panics.
func TestNoCgoMethods(t *testing.T) {
	ctx := context.Background()
	var m signer.Module
	sel := signer.TokenSelector{Label: "t"}
	pin := []byte("1234")
	_, errTokens := m.Tokens(ctx)
	_, errCerts := m.Certificates(ctx, sel)
	_, errSigner := m.Signer(ctx, sel, signer.KeySelector{}, pin)
	_, errGen := m.GenerateKey(ctx, sel, pin, signer.KeyGenRequest{KeyType: "ECDSA-P256"})
	_, errKS := m.KeySigner(ctx, sel, pin, []byte{1})
	for name, err := range map[string]error{
		"Tokens":            errTokens,
		"Certificates":      errCerts,
		"Signer":            errSigner,
		"VerifyPIN":         m.VerifyPIN(ctx, sel, pin),
		"GenerateKey":       errGen,
		"KeySigner":         errKS,
		"ImportCertificate": m.ImportCertificate(ctx, sel, pin, []byte{1}, "", &x509.Certificate{}),
		"Close":             errors.Join(m.Close(), signer.ErrPKCS11Unavailable), // Close succeeds
	} {
		if !errors.Is(err, signer.ErrPKCS11Unavailable) {
			t.Errorf("%s = %v, want ErrPKCS11Unavailable", name, err)
		}
	}
	// Argument errors are still reported first.
	if _, err := m.GenerateKey(ctx, sel, pin, signer.KeyGenRequest{KeyType: "DSA"}); !errors.Is(err, signer.ErrUnsupportedAlgorithm) {
		t.Errorf("GenerateKey(DSA) = %v, want ErrUnsupportedAlgorithm", err)
	}
}
