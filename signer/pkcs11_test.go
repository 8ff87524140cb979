//go:build cgo

package signer_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/ThalesGroup/crypto11"
	"github.com/google/go-cmp/cmp"

	"github.com/securesign/securesign/internal/softhsmtest"
	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

// tokenFixture is a fresh SoftHSM token with the keys the issue asks for.
type tokenFixture struct {
	tok                        *softhsmtest.Token
	h                          *testpki.Hierarchy
	rsa2048, rsa3072, p256, aa *testpki.Leaf // aa: always-authenticate P-256... see newTokenFixture
	orphan                     *testpki.Leaf // certificate without its private key
}

func newTokenFixture(t *testing.T) *tokenFixture {
	t.Helper()
	tok := softhsmtest.New(t)
	h := testpki.NewHierarchy(t)
	f := &tokenFixture{
		tok:     tok,
		h:       h,
		rsa2048: h.Issue(t, testpki.RSA2048, testpki.Options{CommonName: "Asha RSA2048"}),
		rsa3072: h.Issue(t, testpki.RSA3072, testpki.Options{CommonName: "Asha RSA3072"}),
		p256:    h.Issue(t, testpki.P256, testpki.Options{CommonName: "Asha P256"}),
		aa:      h.Issue(t, testpki.RSA2048, testpki.Options{CommonName: "Asha Always-Auth", Slot: 2}),
		orphan:  h.Issue(t, testpki.P256, testpki.Options{CommonName: "Asha Orphan", Slot: 3}),
	}
	tok.ImportWith(t, "rsa2048", f.rsa2048.Key, f.rsa2048.Cert, softhsmtest.ImportOptions{ID: []byte{1}})
	tok.ImportWith(t, "rsa3072", f.rsa3072.Key, f.rsa3072.Cert, softhsmtest.ImportOptions{ID: []byte{2}})
	tok.ImportWith(t, "p256", f.p256.Key, f.p256.Cert, softhsmtest.ImportOptions{ID: []byte{3}})
	tok.ImportWith(t, "always-auth", f.aa.Key, f.aa.Cert, softhsmtest.ImportOptions{ID: []byte{4}, AlwaysAuthenticate: true})
	tok.ImportWith(t, "orphan", f.orphan.Key, f.orphan.Cert, softhsmtest.ImportOptions{ID: []byte{5}, NoPrivateKey: true})
	tok.ImportCert(t, "sub-ca", h.Intermediate.Cert, []byte{0xca})
	return f
}

func open(t testing.TB, path string) *signer.Module {
	t.Helper()
	m, err := signer.OpenModule(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func sum(h crypto.Hash, msg string) []byte {
	switch h {
	case crypto.SHA384:
		d := sha512.Sum384([]byte(msg))
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512([]byte(msg))
		return d[:]
	}
	d := sha256.Sum256([]byte(msg))
	return d[:]
}

func TestToken(t *testing.T) {
	f := newTokenFixture(t)
	ctx := context.Background()
	m := open(t, f.tok.Module)
	sel := signer.TokenSelector{Label: f.tok.Label}
	pin := []byte(f.tok.PIN)

	t.Run("Tokens", func(t *testing.T) {
		toks, err := m.Tokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(toks, func(ti signer.TokenInfo) bool { return ti.Present && ti.Label == f.tok.Label })
		if i < 0 {
			t.Fatalf("token %q not listed: %+v", f.tok.Label, toks)
		}
		ti := toks[i]
		if ti.Serial != f.tok.Serial || ti.Manufacturer != "SoftHSM project" || ti.Model != "SoftHSM v2" || !ti.Initialized ||
			ti.PINLocked || ti.PINFinalTry || ti.TriesLeft != -1 {
			t.Errorf("token info = %+v", ti)
		}
	})

	t.Run("CertificatesBeforeLogin", func(t *testing.T) {
		certs, err := m.Certificates(ctx, signer.TokenSelector{Serial: f.tok.Serial})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range certs {
			got = append(got, fmt.Sprintf("%s|%s|%s|%s|%v|%s", c.Label, c.SubjectCN, c.IssuerCN, c.KeyType, c.KeyUsage, c.ID))
			if c.SerialHex != signer.FormatSerial(c.Certificate.SerialNumber) || len(c.SHA256) != 64 || c.NotAfter.IsZero() {
				t.Errorf("cert %s: %+v", c.Label, c)
			}
		}
		slices.Sort(got)
		want := []string{
			"always-auth|Asha Always-Auth|SecureSign Test Sub-CA|RSA-2048|[digitalSignature nonRepudiation]|04",
			"orphan|Asha Orphan|SecureSign Test Sub-CA|ECDSA-P256|[digitalSignature nonRepudiation]|05",
			"p256|Asha P256|SecureSign Test Sub-CA|ECDSA-P256|[digitalSignature nonRepudiation]|03",
			"rsa2048|Asha RSA2048|SecureSign Test Sub-CA|RSA-2048|[digitalSignature nonRepudiation]|01",
			"rsa3072|Asha RSA3072|SecureSign Test Sub-CA|RSA-3072|[digitalSignature nonRepudiation]|02",
			"sub-ca|SecureSign Test Sub-CA|SecureSign Test Root|ECDSA-P256|[keyCertSign cRLSign]|ca",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("certificates (-want +got):\n%s", diff)
		}
	})

	t.Run("SignEveryKeyAndAlgorithm", func(t *testing.T) {
		for _, leaf := range []*testpki.Leaf{f.rsa2048, f.rsa3072, f.p256, f.aa} {
			s, err := m.Signer(ctx, sel, signer.KeySelector{CertSerial: leaf.Cert.SerialNumber}, pin)
			if err != nil {
				t.Fatalf("%s: %v", leaf.Cert.Subject.CommonName, err)
			}
			if !s.Certificate().Equal(leaf.Cert) || len(s.Chain()) != 1 || !s.Chain()[0].Equal(f.h.Intermediate.Cert) {
				t.Errorf("%s: wrong certificate or chain", leaf.Cert.Subject.CommonName)
			}
			algs := []signer.Algorithm{signer.RSAPKCS1v15, signer.RSAPSS}
			if signer.DefaultAlgorithm(s.Public()) == signer.ECDSA {
				algs = []signer.Algorithm{signer.ECDSA}
			}
			for _, alg := range algs {
				for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
					name := fmt.Sprintf("%s/%s/%v", leaf.Cert.Subject.CommonName, alg, h)
					d := sum(h, name)
					sig, err := signer.SignDigest(ctx, s, alg, h, d)
					if err != nil {
						t.Errorf("%s: %v", name, err)
						continue
					}
					if err := signer.VerifyDigest(leaf.Cert.PublicKey, alg, h, d, sig); err != nil {
						t.Errorf("%s: Go verify: %v", name, err)
					}
					if h == crypto.SHA256 || alg == signer.ECDSA {
						opensslVerify(t, leaf.Cert, alg, h, d, sig)
					}
				}
			}
			if err := s.(interface{ Close() error }).Close(); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("WrongPIN", func(t *testing.T) {
		ks := signer.KeySelector{KeyLabel: "rsa2048"}
		// Nobody logged in: C_Login itself says no.
		_, err := m.Signer(ctx, sel, ks, []byte("0000"))
		assertPINIncorrect(t, err)
		// SoftHSM raises CKF_USER_PIN_COUNT_LOW after a wrong PIN.
		var pe *signer.PINError
		if errors.As(err, &pe) && !pe.CountLow {
			t.Errorf("PINError.CountLow = false after a wrong PIN on SoftHSM")
		}
		if toks, _ := m.Tokens(ctx); !slices.ContainsFunc(toks, func(ti signer.TokenInfo) bool { return ti.Label == f.tok.Label && ti.PINCountLow }) {
			t.Errorf("TokenInfo.PINCountLow not set after a wrong PIN")
		}

		// The crypto11 trap: with a first Signer logged in, C_Login of a
		// second answers CKR_USER_ALREADY_LOGGED_IN whatever the PIN.
		first, err := m.Signer(ctx, sel, ks, pin)
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Signer(ctx, sel, signer.KeySelector{KeyLabel: "p256"}, []byte("0000"))
		assertPINIncorrect(t, err)
		// A second Module on the same path shares the login: still caught.
		m2 := open(t, f.tok.Module)
		_, err = m2.Signer(ctx, sel, ks, []byte("12345"))
		assertPINIncorrect(t, err)
		second, err := m2.Signer(ctx, sel, signer.KeySelector{KeyLabel: "p256"}, pin)
		if err != nil {
			t.Fatalf("right PIN while logged in: %v", err)
		}
		// Closing the first keeps the second logged in.
		_ = first.(interface{ Close() error }).Close()
		if _, err := signer.SignDigest(ctx, second, signer.ECDSA, crypto.SHA256, sum(crypto.SHA256, "x")); err != nil {
			t.Errorf("second signer after first closed: %v", err)
		}
		_ = second.(interface{ Close() error }).Close()
		_, err = m.Signer(ctx, sel, ks, []byte("99999"))
		assertPINIncorrect(t, err)
	})

	t.Run("AlwaysAuthenticateWrongPINIsCaught", func(t *testing.T) {
		_, err := m.Signer(ctx, sel, signer.KeySelector{KeyLabel: "always-auth"}, []byte("4321"))
		assertPINIncorrect(t, err)
	})

	t.Run("AlwaysAuthenticateNeedsContextLogin", func(t *testing.T) {
		s, err := m.Signer(ctx, sel, signer.KeySelector{KeyLabel: "always-auth"}, pin)
		if err != nil {
			t.Fatal(err)
		}
		defer s.(interface{ Close() error }).Close()
		if !signer.AlwaysAuthenticate(s) {
			t.Fatal("CKA_ALWAYS_AUTHENTICATE not seen")
		}
		d := sum(crypto.SHA256, "aa")
		if _, err := signer.SignDigest(ctx, s, signer.RSAPKCS1v15, crypto.SHA256, d); err != nil {
			t.Fatal(err)
		}
		signer.SkipContextLogin(s)
		if _, err := signer.SignDigest(ctx, s, signer.RSAPKCS1v15, crypto.SHA256, d); err == nil {
			t.Fatal("SoftHSM signed with an always-authenticate key without a context-specific login")
		} else {
			t.Logf("without context-specific login: %v", err)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			tsel signer.TokenSelector
			ksel signer.KeySelector
			want error
		}{
			{"unknown token label", signer.TokenSelector{Label: "no-such-token"}, signer.KeySelector{KeyLabel: "rsa2048"}, signer.ErrTokenNotFound},
			{"unknown token serial", signer.TokenSelector{Serial: "0000"}, signer.KeySelector{KeyLabel: "rsa2048"}, signer.ErrTokenNotFound},
			{"certificate without key", sel, signer.KeySelector{CertSerial: f.orphan.Cert.SerialNumber}, signer.ErrKeyNotFound},
			{"unknown serial", sel, signer.KeySelector{CertSerial: mustSerial(t, "0xDEADBEEF")}, signer.ErrCertNotFound},
			{"unknown key label", sel, signer.KeySelector{KeyLabel: "nope"}, signer.ErrKeyNotFound},
			{"unknown thumbprint", sel, signer.KeySelector{CertSHA256: make([]byte, 32)}, signer.ErrCertNotFound},
			{"several keys, no selector", sel, signer.KeySelector{}, signer.ErrKeyNotFound},
		} {
			_, err := m.Signer(ctx, tc.tsel, tc.ksel, pin)
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
			}
		}
	})

	t.Run("SelectBySerialStringAndThumbprint", func(t *testing.T) {
		serial := mustSerial(t, "0x00"+signer.FormatSerial(f.p256.Cert.SerialNumber))
		thumb := sha256.Sum256(f.rsa3072.Cert.Raw)
		for _, ks := range []signer.KeySelector{{CertSerial: serial}, {CertSHA256: thumb[:]}} {
			s, err := m.Signer(ctx, signer.TokenSelector{Serial: f.tok.Serial}, ks, pin)
			if err != nil {
				t.Fatalf("%v: %v", ks, err)
			}
			_ = s.(interface{ Close() error }).Close()
		}
	})

	t.Run("UnsupportedAlgorithm", func(t *testing.T) {
		s, err := m.Signer(ctx, sel, signer.KeySelector{KeyLabel: "p256"}, pin)
		if err != nil {
			t.Fatal(err)
		}
		defer s.(interface{ Close() error }).Close()
		if _, err := signer.SignDigest(ctx, s, signer.RSAPSS, crypto.SHA256, sum(crypto.SHA256, "x")); !errors.Is(err, signer.ErrUnsupportedAlgorithm) {
			t.Errorf("PSS with EC key: %v", err)
		}
		if _, err := s.Sign(nil, make([]byte, 20), crypto.SHA1); !errors.Is(err, signer.ErrUnsupportedAlgorithm) {
			t.Errorf("SHA-1: %v", err)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		var signers []signer.Signer
		for _, l := range []string{"rsa2048", "p256", "always-auth"} {
			s, err := m.Signer(ctx, sel, signer.KeySelector{KeyLabel: l}, pin)
			if err != nil {
				t.Fatal(err)
			}
			defer s.(interface{ Close() error }).Close()
			signers = append(signers, s)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 6 {
					s := signers[(g+i)%len(signers)]
					alg := signer.DefaultAlgorithm(s.Public())
					if alg == signer.RSAPKCS1v15 && i%2 == 1 {
						alg = signer.RSAPSS
					}
					d := sum(crypto.SHA256, fmt.Sprint(g, i))
					sig, err := signer.SignDigest(ctx, s, alg, crypto.SHA256, d)
					if err == nil {
						err = signer.VerifyDigest(s.Public(), alg, crypto.SHA256, d, sig)
					}
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

func mustSerial(t testing.TB, s string) *big.Int {
	t.Helper()
	n, err := signer.ParseSerial(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func assertPINIncorrect(t *testing.T, err error) {
	t.Helper()
	var pe *signer.PINError
	if !errors.Is(err, signer.ErrPINIncorrect) || !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *PINError wrapping ErrPINIncorrect", err)
	}
}

// opensslVerify checks a signature with `openssl pkeyutl -verify` and the
// certificate's public key.
func opensslVerify(t *testing.T, cert *x509.Certificate, alg signer.Algorithm, h crypto.Hash, digest, sig []byte) {
	t.Helper()
	openssl := testenv.LookPath(t, "openssl", "openssl")
	dir := t.TempDir()
	spki, err := x509.MarshalPKIXPublicKey(cert.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pub := write("pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))
	args := []string{"pkeyutl", "-verify", "-pubin", "-inkey", pub, "-in", write("digest", digest), "-sigfile", write("sig", sig),
		"-pkeyopt", "digest:" + map[crypto.Hash]string{crypto.SHA256: "sha256", crypto.SHA384: "sha384", crypto.SHA512: "sha512"}[h]}
	if alg == signer.RSAPSS {
		args = append(args, "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:digest")
	}
	out, err := exec.Command(openssl, args...).CombinedOutput()
	if err != nil {
		t.Errorf("openssl pkeyutl -verify (%s %v %s): %v\n%s", alg, h, cert.Subject.CommonName, err, out)
	}
}

// TestWrongPINWhileCrypto11LoggedIn shows the crypto11 trap and that
// signer does not fall into it: with crypto11 logged in, a crypto11 context
// with a wrong PIN "succeeds"; a signer.Signer with a wrong PIN does not.
func TestWrongPINWhileCrypto11LoggedIn(t *testing.T) {
	tok := softhsmtest.New(t)
	leaf := testpki.NewHierarchy(t).Issue(t, testpki.P256, testpki.Options{})
	tok.Import(t, "k", leaf.Key, leaf.Cert)

	good, err := crypto11.Configure(&crypto11.Config{Path: tok.Module, TokenLabel: tok.Label, Pin: tok.PIN})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close() // last: crypto11 initialized the module, crypto11 finalizes it
	bad, err := crypto11.Configure(&crypto11.Config{Path: tok.Module, TokenLabel: tok.Label, Pin: "0000"})
	if err == nil {
		t.Log("crypto11 accepted the wrong PIN 0000 while logged in (the known trap)")
		bad.Close()
	} else {
		t.Logf("crypto11 now rejects the wrong PIN: %v", err)
	}

	m, err := signer.OpenModule(context.Background(), tok.Module)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, err = m.Signer(context.Background(), signer.TokenSelector{Label: tok.Label}, signer.KeySelector{KeyLabel: "k"}, []byte("0000"))
	assertPINIncorrect(t, err)
	s, err := m.Signer(context.Background(), signer.TokenSelector{Label: tok.Label}, signer.KeySelector{KeyLabel: "k"}, []byte(tok.PIN))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signer.SignDigest(context.Background(), s, signer.ECDSA, crypto.SHA256, sum(crypto.SHA256, "c11")); err != nil {
		t.Error(err)
	}
	_ = s.(interface{ Close() error }).Close()
}

func TestModuleLifetime(t *testing.T) {
	ctx := context.Background()
	if _, err := signer.OpenModule(ctx, filepath.Join(t.TempDir(), "missing.so")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing module: %v", err)
	}
	notLib := filepath.Join(t.TempDir(), "not-a-module.so")
	if err := os.WriteFile(notLib, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := signer.OpenModule(ctx, notLib); err == nil {
		t.Error("a text file opened as a PKCS#11 module")
	}
	if _, err := signer.OpenModule(ctx, ""); err == nil {
		t.Error("empty path accepted")
	}

	tok := softhsmtest.New(t)
	leaf := testpki.NewHierarchy(t).Issue(t, testpki.RSA2048, testpki.Options{})
	tok.Import(t, "k", leaf.Key, leaf.Cert)
	m, err := signer.OpenModule(ctx, tok.Module)
	if err != nil {
		t.Fatal(err)
	}
	// The zero selectors pick the only token and the only key.
	s, err := m.Signer(ctx, signer.TokenSelector{}, signer.KeySelector{}, []byte(tok.PIN))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Tokens(ctx); err == nil {
		t.Error("Tokens on a closed module")
	}
	// The Signer keeps the module loaded after Module.Close.
	d := sum(crypto.SHA256, "after close")
	sig, err := s.Sign(nil, d, &rsa.PSSOptions{SaltLength: 20, Hash: crypto.SHA256})
	if err != nil {
		t.Fatalf("Signer after Module.Close: %v", err)
	}
	if err := rsa.VerifyPSS(leaf.Cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, d, sig, &rsa.PSSOptions{SaltLength: 20}); err != nil {
		t.Errorf("PSS with salt 20: %v", err)
	}
	c := s.(interface{ Close() error })
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Sign(nil, d, crypto.SHA256); err == nil {
		t.Error("Sign after Close succeeded")
	}
}

// TestObjectsWrittenByPkcs11Tool signs with keys that OpenSC's pkcs11-tool
// put on the token (as vendors' tools and the README do), RSA-2048 and
// P-384, rather than keys this repository's helper imported.
func TestObjectsWrittenByPkcs11Tool(t *testing.T) {
	tool := testenv.LookPath(t, "pkcs11-tool", "opensc")
	tok := softhsmtest.New(t)
	h := testpki.NewHierarchy(t)
	leaves := map[string]*testpki.Leaf{
		"0a": h.Issue(t, testpki.RSA2048, testpki.Options{CommonName: "Tool RSA", Slot: 7}),
		"0b": h.Issue(t, testpki.P384, testpki.Options{CommonName: "Tool P384"}),
	}
	dir := t.TempDir()
	for id, l := range leaves {
		keyDER, err := x509.MarshalPKCS8PrivateKey(l.Key)
		if err != nil {
			t.Fatal(err)
		}
		kp, cp := filepath.Join(dir, id+".key.der"), filepath.Join(dir, id+".crt.der")
		if err := os.WriteFile(kp, keyDER, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cp, l.Cert.Raw, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, obj := range [][]string{
			{"--write-object", kp, "--type", "privkey", "--usage-sign"},
			{"--write-object", cp, "--type", "cert"},
		} {
			args := append([]string{"--module", tok.Module, "--token-label", tok.Label, "--login", "--pin", tok.PIN, "--id", id, "--label", "tool-" + id}, obj...)
			if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
				t.Fatalf("pkcs11-tool %v: %v\n%s", obj, err, out)
			}
		}
	}
	ctx := context.Background()
	m := open(t, tok.Module)
	for id, l := range leaves {
		s, err := m.Signer(ctx, signer.TokenSelector{Serial: tok.Serial}, signer.KeySelector{CertSerial: l.Cert.SerialNumber}, []byte(tok.PIN))
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		alg := signer.DefaultAlgorithm(s.Public())
		for _, hh := range []crypto.Hash{crypto.SHA256, crypto.SHA512} {
			d := sum(hh, id)
			sig, err := signer.SignDigest(ctx, s, alg, hh, d)
			if err != nil {
				t.Errorf("%s %v: %v", id, hh, err)
				continue
			}
			opensslVerify(t, l.Cert, alg, hh, d, sig)
		}
		_ = s.(interface{ Close() error }).Close()
	}
}
