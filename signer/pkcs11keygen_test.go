//go:build cgo

package signer_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"math/big"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/softhsmtest"
	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

// issueFor makes a signing certificate for pub under h's sub-CA, as the CA
// does after token-side key generation.
func issueFor(t *testing.T, h *testpki.Hierarchy, pub crypto.PublicKey, cn string) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, h.Intermediate.Cert, pub, h.Intermediate.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestGenerateKeyLifecycle walks the server-side key generation flow on
// SoftHSM: generate on the token, sign with the bare key (a CSR or a CA
// key), issue, store the certificate, then sign through Module.Signer by
// certificate serial, verified with Go and openssl.
func TestGenerateKeyLifecycle(t *testing.T) {
	tok := softhsmtest.New(t)
	h := testpki.NewHierarchy(t)
	ctx := context.Background()
	m := open(t, tok.Module)
	sel := signer.TokenSelector{Label: tok.Label}
	pin := []byte(tok.PIN)
	pkcs11Tool := testenv.LookPath(t, "pkcs11-tool", "opensc")

	// RSA-3072/4096 take the same path as RSA-2048 with a bigger
	// CKA_MODULUS_BITS; they are left out to keep the test fast.
	for _, kt := range []string{"RSA-2048", "ECDSA-P256", "ecdsa-p384"} {
		t.Run(kt, func(t *testing.T) {
			gk, err := m.GenerateKey(ctx, sel, pin, signer.KeyGenRequest{KeyType: kt})
			if err != nil {
				t.Fatal(err)
			}
			if len(gk.ID) != 16 || gk.Label != "securesign-"+hex.EncodeToString(gk.ID) || !strings.EqualFold(gk.KeyType, kt) {
				t.Errorf("generated key = %+v", gk)
			}

			// The token's own view: sensitive and never extractable.
			out, err := exec.Command(pkcs11Tool, "--module", tok.Module, "--token-label", tok.Label, "--login", "--pin", tok.PIN,
				"--list-objects", "--type", "privkey", "--id", hex.EncodeToString(gk.ID)).CombinedOutput()
			if err != nil {
				t.Fatalf("pkcs11-tool: %v\n%s", err, out)
			}
			if got := privKeyListing(string(out), gk.ID); !strings.Contains(got, "Access:     sensitive, always sensitive, never extractable, local") ||
				!strings.Contains(got, "Usage:      sign\n") {
				t.Errorf("private key attributes:\n%s", out)
			}

			// Before the certificate exists: the bare key signs (and
			// verifies its own signature with the token's public key).
			ks, err := m.KeySigner(ctx, sel, pin, gk.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer ks.Close()
			if !bytes.Equal(ks.ID(), gk.ID) {
				t.Errorf("ID = %x", ks.ID())
			}
			d := sum(crypto.SHA256, "csr "+kt)
			sig, err := ks.Sign(rand.Reader, d, crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			alg := signer.DefaultAlgorithm(gk.Public)
			if err := signer.VerifyDigest(gk.Public, alg, crypto.SHA256, d, sig); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Signer(ctx, sel, signer.KeySelector{KeyLabel: gk.Label}, pin); !errors.Is(err, signer.ErrCertNotFound) {
				t.Errorf("Signer before the certificate is stored: %v, want ErrCertNotFound", err)
			}

			cert := issueFor(t, h, gk.Public, "Asha "+kt)
			if err := m.ImportCertificate(ctx, sel, pin, gk.ID, "", cert); err != nil {
				t.Fatal(err)
			}
			if err := m.ImportCertificate(ctx, sel, pin, gk.ID, "", cert); err != nil {
				t.Fatalf("second import of the same certificate: %v", err)
			}
			s, err := m.Signer(ctx, sel, signer.KeySelector{CertSerial: cert.SerialNumber}, pin)
			if err != nil {
				t.Fatal(err)
			}
			defer s.(interface{ Close() error }).Close()
			if !s.Certificate().Equal(cert) {
				t.Error("Signer found another certificate")
			}
			for _, alg := range []signer.Algorithm{signer.DefaultAlgorithm(gk.Public), signer.RSAPSS} {
				if alg == signer.RSAPSS {
					if _, ok := gk.Public.(*rsa.PublicKey); !ok {
						continue
					}
				}
				d := sum(crypto.SHA256, "document "+kt)
				sig, err := signer.SignDigest(ctx, s, alg, crypto.SHA256, d)
				if err != nil {
					t.Fatalf("%s: %v", alg, err)
				}
				if err := signer.VerifyDigest(cert.PublicKey, alg, crypto.SHA256, d, sig); err != nil {
					t.Fatalf("%s: %v", alg, err)
				}
				opensslVerify(t, cert, alg, crypto.SHA256, d, sig)
			}
			certs, err := m.Certificates(ctx, sel)
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, c := range certs {
				found = found || (c.Certificate.Equal(cert) && c.Label == gk.Label && c.ID == hex.EncodeToString(gk.ID))
			}
			if !found {
				t.Errorf("stored certificate not listed with the key's label and ID: %+v", certs)
			}
		})
	}

	t.Run("ChainCertificate", func(t *testing.T) {
		gk, err := m.GenerateKey(ctx, sel, pin, signer.KeyGenRequest{KeyType: "ECDSA-P256", Label: "with-chain", ID: []byte{0x42}})
		if err != nil {
			t.Fatal(err)
		}
		cert := issueFor(t, h, gk.Public, "Asha Chain")
		if err := m.ImportCertificate(ctx, sel, pin, nil, "sub-ca", h.Intermediate.Cert); err != nil {
			t.Fatal(err)
		}
		if err := m.ImportCertificate(ctx, sel, pin, gk.ID, "", cert); err != nil {
			t.Fatal(err)
		}
		s, err := m.Signer(ctx, sel, signer.KeySelector{CertSerial: cert.SerialNumber}, pin)
		if err != nil {
			t.Fatal(err)
		}
		defer s.(interface{ Close() error }).Close()
		if ch := s.Chain(); len(ch) != 1 || !ch[0].Equal(h.Intermediate.Cert) {
			t.Errorf("chain = %d certificates", len(ch))
		}
	})

	t.Run("Errors", func(t *testing.T) {
		before := len(tok.Objects(t))
		if _, err := m.GenerateKey(ctx, sel, []byte("0000"), signer.KeyGenRequest{KeyType: "ECDSA-P256"}); !errors.Is(err, signer.ErrPINIncorrect) {
			t.Errorf("wrong PIN: %v", err)
		}
		for _, kt := range []string{"", "RSA-1024", "ECDSA-P224", "Ed25519"} {
			if _, err := m.GenerateKey(ctx, sel, pin, signer.KeyGenRequest{KeyType: kt}); !errors.Is(err, signer.ErrUnsupportedAlgorithm) {
				t.Errorf("key type %q: %v", kt, err)
			}
		}
		if _, err := m.GenerateKey(ctx, sel, pin, signer.KeyGenRequest{KeyType: "ECDSA-P256", ID: []byte{0x42}}); err == nil {
			t.Error("a used CKA_ID was accepted")
		}
		if got := len(tok.Objects(t)); got != before {
			t.Errorf("failed generations left objects: %d before, %d after", before, got)
		}
		if _, err := m.KeySigner(ctx, sel, pin, []byte{0xde, 0xad}); !errors.Is(err, signer.ErrKeyNotFound) {
			t.Errorf("unknown id: %v", err)
		}
		if _, err := m.KeySigner(ctx, sel, []byte("0000"), []byte{0x42}); !errors.Is(err, signer.ErrPINIncorrect) {
			t.Errorf("KeySigner wrong PIN: %v", err)
		}
		// A certificate for another key is refused.
		other := issueFor(t, h, testpki.Key(t, testpki.P256, 7).Public(), "Someone Else")
		if err := m.ImportCertificate(ctx, sel, pin, []byte{0x42}, "", other); !errors.Is(err, signer.ErrKeyNotFound) {
			t.Errorf("mismatched certificate: %v", err)
		}
		if err := m.ImportCertificate(ctx, sel, pin, nil, "", other); !errors.Is(err, signer.ErrKeyNotFound) {
			t.Errorf("end-entity certificate without ID: %v", err)
		}
		// While a key is in use the process stays logged in: a wrong PIN
		// is still refused, and the failed call does not log it out.
		held, err := m.KeySigner(ctx, sel, pin, []byte{0x42})
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		if _, err := m.GenerateKey(ctx, sel, []byte("0000"), signer.KeyGenRequest{KeyType: "ECDSA-P256"}); !errors.Is(err, signer.ErrPINIncorrect) {
			t.Errorf("wrong PIN while logged in: %v", err)
		}
		if _, err := m.GenerateKey(ctx, sel, pin, signer.KeyGenRequest{KeyType: "ECDSA-P256", Label: "while-held"}); err != nil {
			t.Fatal(err)
		}
		if _, err := held.Sign(rand.Reader, sum(crypto.SHA256, "still"), crypto.SHA256); err != nil {
			t.Errorf("held key after other calls: %v", err)
		}
		if err := m.VerifyPIN(ctx, sel, pin); err != nil {
			t.Error(err)
		}
		if err := m.VerifyPIN(ctx, sel, []byte("0000")); !errors.Is(err, signer.ErrPINIncorrect) {
			t.Errorf("VerifyPIN wrong PIN: %v", err)
		}
	})
}

// privKeyListing returns the block of `pkcs11-tool --list-objects` output
// about the private key with CKA_ID id (older pkcs11-tool ignores --id
// when listing).
func privKeyListing(out string, id []byte) string {
	for _, block := range strings.Split(out, "Private Key Object")[1:] {
		if strings.Contains(block, "ID:         "+hex.EncodeToString(id)+"\n") {
			return block
		}
	}
	return ""
}
