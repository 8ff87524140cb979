package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"os/exec"
	"strings"
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
	if !strings.Contains(text, "sensitive") || !strings.Contains(text, "never extractable") {
		t.Errorf("private key attributes:\n%s", text)
	}
}
