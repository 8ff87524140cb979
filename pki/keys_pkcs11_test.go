//go:build cgo

package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/securesign/securesign/internal/softhsmtest"
	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/signer"
)

// TestPKCS11KeyGen issues a certificate for a key generated on a SoftHSM2
// token, signs with it, and checks with pkcs11-tool that the private key is
// sensitive and not extractable.
func TestPKCS11KeyGen(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	ks, err := OpenPKCS11KeyStore(tok.Module, tok.Label, []byte(tok.PIN))
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	if _, err := OpenPKCS11KeyStore(tok.Module, tok.Label, nil); !errors.Is(err, ErrKeyStoreLocked) {
		t.Errorf("no PIN: %v", err)
	}
	if _, err := OpenPKCS11KeyStore(tok.Module, tok.Label, []byte("0000")); !errors.Is(err, ErrKeyStoreLocked) || !errors.Is(err, signer.ErrPINIncorrect) {
		t.Errorf("wrong PIN: %v", err)
	}
	if _, err := OpenPKCS11KeyStore(tok.Module, "no-such-token", []byte(tok.PIN)); !errors.Is(err, signer.ErrTokenNotFound) {
		t.Errorf("unknown token: %v", err)
	}

	h, err := NewHierarchy(ctx, HierarchyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := New(ctx, Config{Cert: h.Issuing, Key: h.IssuingKey, Chain: h.chain(), Store: NewMemoryStore(), Keys: ks})
	if err != nil {
		t.Fatal(err)
	}
	cert, id, err := ca.IssueKeyGen(ctx, P256, individual, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ca.LoadSigner(ctx, cert.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("on the token"))
	sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := signer.VerifyDigest(cert.PublicKey, signer.ECDSA, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Signer(ctx, "00ff"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}

	// A CA whose issuing key lives on the token.
	caKeyID, _, err := ks.GenerateKey(ctx, P256)
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := ks.Signer(ctx, caKeyID)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := NewHierarchy(ctx, HierarchyOptions{Name: "HSM", IssuingKey: caKey})
	if err != nil {
		t.Fatal(err)
	}
	hsmCA, err := New(ctx, Config{Cert: h2.Issuing, Key: caKey, Chain: h2.chain(), Store: NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := hsmCA.Issue(ctx, cert.PublicKey, individual, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyChain(ctx, leaf, []*x509.Certificate{h2.Issuing}, VerifyOptions{Roots: rootsOf(h2.Root)}); err != nil {
		t.Fatalf("certificate from the HSM-keyed CA: %v", err)
	}

	tool := testenv.LookPath(t, "pkcs11-tool", "opensc")
	out, err := exec.Command(tool, "--module", tok.Module, "--token-label", tok.Label, "--login", "--pin", tok.PIN,
		"--list-objects", "--type", "privkey", "--id", id).CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool: %v\n%s", err, out)
	}
	text := string(out)
	if !strings.Contains(text, "ID:         "+id+"\n") || !strings.Contains(text, "sensitive") || !strings.Contains(text, "never extractable") {
		t.Errorf("private key attributes:\n%s", text)
	}
}

// TestPKCS11KeyGenThenTokenSigner is the server-side key generation flow
// end to end: the CA generates an RSA and an EC key on the token and issues
// for them, the certificates go onto the token, and a signer.Module opened
// in the same process (sharing the module's one initialization with the
// key store) signs by certificate serial; Go and openssl verify.
func TestPKCS11KeyGenThenTokenSigner(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	ks, err := OpenPKCS11KeyStore(tok.Module, tok.Label, []byte(tok.PIN))
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	h, err := NewHierarchy(ctx, HierarchyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := New(ctx, Config{Cert: h.Issuing, Key: h.IssuingKey, Chain: h.chain(), Store: NewMemoryStore(), Keys: ks})
	if err != nil {
		t.Fatal(err)
	}
	mod, err := signer.OpenModule(ctx, tok.Module)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	dir := t.TempDir()
	for _, kt := range []KeyType{RSA2048, P256} {
		cert, id, err := ca.IssueKeyGen(ctx, kt, individual, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := ks.StoreCertificate(ctx, id, cert); err != nil {
			t.Fatal(err)
		}
		if err := ks.StoreCertificate(ctx, "", h.Issuing); err != nil {
			t.Fatal(err)
		}
		s, err := mod.Signer(ctx, signer.TokenSelector{Label: tok.Label}, signer.KeySelector{CertSerial: cert.SerialNumber}, []byte(tok.PIN))
		if err != nil {
			t.Fatalf("%s: %v", kt, err)
		}
		if !s.Certificate().Equal(cert) || len(s.Chain()) != 1 || !s.Chain()[0].Equal(h.Issuing) {
			t.Errorf("%s: wrong certificate or chain on the token", kt)
		}
		alg := signer.DefaultAlgorithm(cert.PublicKey)
		digest := sha256.Sum256([]byte("document signed on the token"))
		sig, err := signer.SignDigest(ctx, s, alg, crypto.SHA256, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		if err := signer.VerifyDigest(cert.PublicKey, alg, crypto.SHA256, digest[:], sig); err != nil {
			t.Fatal(err)
		}
		if err := s.(io.Closer).Close(); err != nil {
			t.Error(err)
		}
		// The key store keeps working next to the module's own Signers.
		ls, err := ca.LoadSigner(ctx, cert.SerialNumber)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := signer.SignDigest(ctx, ls, alg, crypto.SHA256, digest[:]); err != nil {
			t.Fatal(err)
		}

		name := filepath.Join(dir, string(kt))
		for file, data := range map[string][]byte{".pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), ".sig": sig, ".dgst": digest[:]} {
			if err := os.WriteFile(name+file, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		out := runOpenSSL(t, "pkeyutl", "-verify", "-certin", "-inkey", name+".pem", "-in", name+".dgst", "-sigfile", name+".sig", "-pkeyopt", "digest:sha256")
		if !strings.Contains(out, "Signature Verified Successfully") {
			t.Errorf("%s: openssl: %s", kt, out)
		}
	}
	if err := ks.StoreCertificate(ctx, "00ff", h.Issuing); !errors.Is(err, ErrNotFound) {
		t.Errorf("certificate for an unknown key: %v", err)
	}
	if _, _, err := ks.GenerateKey(ctx, KeyType("rsa-1024")); !errors.Is(err, ErrWeakKey) {
		t.Errorf("rsa-1024: %v", err)
	}
	if err := ks.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.GenerateKey(ctx, P256); err == nil {
		t.Error("GenerateKey after Close succeeded")
	}
}

// TestPKCS11KeyStoreConcurrent signs with more keys than the store keeps
// open, from several goroutines, so keys are closed and reopened while
// others sign (run with -race).
func TestPKCS11KeyStoreConcurrent(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	ks, err := OpenPKCS11KeyStore(tok.Module, tok.Label, []byte(tok.PIN))
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	ks.maxOpen = 2
	var signers []crypto.Signer
	for range 4 {
		id, pub, err := ks.GenerateKey(ctx, P256)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ks.Signer(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Fatalf("key %s: public key differs from the generated one", id)
		}
		signers = append(signers, s)
	}
	digest := sha256.Sum256([]byte("concurrent"))
	errs := make(chan error, 4*len(signers))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range signers {
				s := signers[(g+i)%len(signers)]
				sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
				if err == nil {
					err = signer.VerifyDigest(s.Public(), signer.ECDSA, crypto.SHA256, digest[:], sig)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ks.mu.Lock()
	n := len(ks.open)
	ks.mu.Unlock()
	if n > 2 {
		t.Errorf("%d keys open, want at most 2", n)
	}
}

// BenchmarkPKCS11KeyStore measures token-side P-256 key generation and
// signing through the store (key kept open between signatures).
// Run: go test -run '^$' -bench PKCS11KeyStore ./pki
func BenchmarkPKCS11KeyStore(b *testing.B) {
	tok := softhsmtest.New(b)
	ctx := context.Background()
	ks, err := OpenPKCS11KeyStore(tok.Module, tok.Label, []byte(tok.PIN))
	if err != nil {
		b.Fatal(err)
	}
	defer ks.Close()
	b.Run("GenerateP256", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := ks.GenerateKey(ctx, P256); err != nil {
				b.Fatal(err)
			}
		}
	})
	id, _, err := ks.GenerateKey(ctx, P256)
	if err != nil {
		b.Fatal(err)
	}
	s, err := ks.Signer(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("bench"))
	b.Run("SignP256", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
}
