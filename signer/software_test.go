package signer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/securesign/securesign/internal/testpki"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func digestOf(h crypto.Hash, msg string) []byte {
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

func TestLoadPKCS12(t *testing.T) {
	inter := mustParsePEMCert(t, readTestdata(t, "inter.pem"))
	for _, tc := range []struct {
		file    string
		keyType string
	}{
		{"user-rsa-aes.p12", "RSA-2048"},
		{"user-rsa-legacy.p12", "RSA-2048"},
		{"user-rsa-3des.p12", "RSA-2048"},
		{"user-ec-aes.p12", "ECDSA-P256"},
		{"user-ec-legacy.p12", "ECDSA-P256"},
		{"user-ec-3des.p12", "ECDSA-P256"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			s, err := LoadPKCS12(readTestdata(t, tc.file), "test")
			if err != nil {
				t.Fatal(err)
			}
			if got := keyTypeName(s.Public()); got != tc.keyType {
				t.Errorf("key type = %s, want %s", got, tc.keyType)
			}
			if len(s.Chain()) != 1 || !s.Chain()[0].Equal(inter) {
				t.Errorf("chain = %d certs, want the intermediate", len(s.Chain()))
			}
			signAllAlgorithms(t, s)

			_, err = LoadPKCS12(readTestdata(t, tc.file), "wrong")
			if !errors.Is(err, ErrPINIncorrect) {
				t.Errorf("wrong password: err = %v, want ErrPINIncorrect", err)
			}
		})
	}
}

func TestLoadPKCS12Garbage(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("not a pfx"), readTestdata(t, "user-rsa.pem")} {
		if _, err := LoadPKCS12(data, "test"); err == nil {
			t.Errorf("LoadPKCS12(%.10q) succeeded", data)
		}
	}
}

func mustParsePEMCert(t testing.TB, b []byte) *x509.Certificate {
	t.Helper()
	s, err := parsePEMCerts(b)
	if err != nil || len(s) == 0 {
		t.Fatalf("parsing PEM certificate: %v", err)
	}
	return s[0]
}

func TestLoadPEM(t *testing.T) {
	for _, tc := range []struct {
		key, certs, password string
		chain                int
		wantErr              error
	}{
		{key: "user-rsa.pk8.pem", certs: "user-rsa-chain.pem", chain: 1},
		{key: "user-rsa.pkcs1.pem", certs: "user-rsa.pem", chain: 0},
		{key: "user-rsa.pkcs1-enc.pem", certs: "user-rsa.pem", password: "test"},
		{key: "user-rsa.pkcs1-enc.pem", certs: "user-rsa.pem", password: "nope", wantErr: ErrPINIncorrect},
		{key: "user-rsa.pkcs1-enc.pem", certs: "user-rsa.pem", wantErr: ErrPINIncorrect},
		{key: "user-ec.pk8.pem", certs: "user-ec-chain.pem", chain: 1},
		{key: "user-ec.sec1.pem", certs: "user-ec.pem"},
		{key: "user-ec.sec1.pem", certs: "user-rsa.pem", wantErr: errMismatch},
		{key: "user-ec.pem", certs: "user-ec.pem", wantErr: ErrKeyNotFound},
		{key: "user-ec.sec1.pem", certs: "user-ec.sec1.pem", wantErr: ErrCertNotFound},
	} {
		t.Run(tc.key+"+"+tc.certs, func(t *testing.T) {
			s, err := LoadPEM(readTestdata(t, tc.key), readTestdata(t, tc.certs), tc.password)
			if tc.wantErr != nil {
				if tc.wantErr == errMismatch {
					if err == nil {
						t.Fatal("key/certificate mismatch accepted")
					}
					return
				}
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Chain()) != tc.chain {
				t.Errorf("chain has %d certs, want %d", len(s.Chain()), tc.chain)
			}
			signAllAlgorithms(t, s)
		})
	}
}

var errMismatch = errors.New("any error")

// signAllAlgorithms signs with every algorithm and hash s's key allows and
// checks the signatures, and that the other algorithms are refused.
func signAllAlgorithms(t *testing.T, s Signer) {
	t.Helper()
	ctx := context.Background()
	for _, alg := range []Algorithm{RSAPKCS1v15, RSAPSS, ECDSA} {
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			d := digestOf(h, "hello "+string(alg))
			sig, err := SignDigest(ctx, s, alg, h, d)
			fits := (alg == ECDSA) == (DefaultAlgorithm(s.Public()) == ECDSA)
			if !fits {
				if !errors.Is(err, ErrUnsupportedAlgorithm) {
					t.Errorf("%s with %s key: err = %v, want ErrUnsupportedAlgorithm", alg, keyTypeName(s.Public()), err)
				}
				continue
			}
			if err != nil {
				t.Errorf("SignDigest(%s, %v): %v", alg, h, err)
				continue
			}
			if err := VerifyDigest(s.Certificate().PublicKey, alg, h, d, sig); err != nil {
				t.Errorf("VerifyDigest(%s, %v): %v", alg, h, err)
			}
			bad := append([]byte(nil), d...)
			bad[0] ^= 1
			if err := VerifyDigest(s.Certificate().PublicKey, alg, h, bad, sig); !errors.Is(err, ErrSignatureInvalid) {
				t.Errorf("VerifyDigest(%s, %v) of another digest: err = %v, want ErrSignatureInvalid", alg, h, err)
			}
		}
	}
}

func TestSignDigestBadInput(t *testing.T) {
	s, err := LoadPKCS12(readTestdata(t, "user-rsa-aes.p12"), "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := SignDigest(ctx, s, RSAPKCS1v15, crypto.SHA256, make([]byte, 20)); err == nil {
		t.Error("short digest accepted")
	}
	if _, err := SignDigest(ctx, s, RSAPKCS1v15, crypto.SHA1, make([]byte, 20)); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("SHA-1: err = %v, want ErrUnsupportedAlgorithm", err)
	}
	if _, err := SignDigest(ctx, s, "RSA-OAEP", crypto.SHA256, make([]byte, 32)); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("bad algorithm: err = %v, want ErrUnsupportedAlgorithm", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := SignDigest(cctx, s, RSAPKCS1v15, crypto.SHA256, make([]byte, 32)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}
}

// lyingSigner returns a signature made by another key, to check that
// SignDigest never returns a signature that does not verify.
type lyingSigner struct {
	Signer
	other Signer
}

func (l lyingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return l.other.Sign(r, d, o)
}

func TestSignDigestVerifiesBeforeReturning(t *testing.T) {
	a, err := LoadPKCS12(readTestdata(t, "user-rsa-aes.p12"), "test")
	if err != nil {
		t.Fatal(err)
	}
	leaf := testpki.NewHierarchy(t).Issue(t, testpki.RSA2048, testpki.Options{})
	b, err := NewSoftware(leaf.Key, leaf.Cert, leaf.Chain)
	if err != nil {
		t.Fatal(err)
	}
	_, err = SignDigest(context.Background(), lyingSigner{a, b}, RSAPKCS1v15, crypto.SHA256, digestOf(crypto.SHA256, "x"))
	if !errors.Is(err, ErrSignatureInvalid) {
		t.Fatalf("err = %v, want ErrSignatureInvalid", err)
	}
}

func TestECDSARawToDER(t *testing.T) {
	s, err := LoadPKCS12(readTestdata(t, "user-ec-aes.p12"), "test")
	if err != nil {
		t.Fatal(err)
	}
	d := digestOf(crypto.SHA256, "raw")
	der, err := SignDigest(context.Background(), s, ECDSA, crypto.SHA256, d)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ecdsaDERToRaw(der, 32)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(der, ecdsaToDER(s.Certificate().PublicKey.(*ecdsa.PublicKey), raw)); diff != "" {
		t.Errorf("raw->DER round trip (-want +got):\n%s", diff)
	}
}

func TestParseSerial(t *testing.T) {
	want := big.NewInt(0x0a1bff)
	for _, s := range []string{"0A1BFF", "0a1bff", "a1bff", "0x0A1BFF", "0X000a1bff", "0a:1b:ff", "serial=0A1BFF", " 0A 1B FF ", "0a-1b-ff"} {
		got, err := ParseSerial(s)
		if err != nil {
			t.Errorf("ParseSerial(%q): %v", s, err)
			continue
		}
		if got.Cmp(want) != 0 {
			t.Errorf("ParseSerial(%q) = %x, want %x", s, got, want)
		}
	}
	for _, s := range []string{"", "0x", "xyz", "12g4", "::", "-1"} {
		if _, err := ParseSerial(s); err == nil && s != "-1" {
			t.Errorf("ParseSerial(%q) succeeded", s)
		}
	}
	if got := FormatSerial(want); got != "0A1BFF" {
		t.Errorf("FormatSerial = %q", got)
	}
}

func FuzzParseSerial(f *testing.F) {
	for _, s := range []string{"0A1BFF", "0x0a:1b", "serial=01", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSerial(s)
		if err != nil {
			return
		}
		m, err := ParseSerial(FormatSerial(n))
		if err != nil || m.Cmp(n) != 0 {
			t.Fatalf("FormatSerial/ParseSerial round trip of %q: %v %v", s, m, err)
		}
	})
}

func FuzzLoadPKCS12(f *testing.F) {
	f.Add(readTestdata(f, "user-ec-aes.p12"))
	f.Add([]byte("0\x82"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = LoadPKCS12(data, "test") // must not panic
	})
}

func FuzzLoadPEM(f *testing.F) {
	f.Add(readTestdata(f, "user-ec.sec1.pem"), readTestdata(f, "user-ec.pem"))
	f.Fuzz(func(t *testing.T, key, certs []byte) {
		_, _ = LoadPEM(key, certs, "test") // must not panic
	})
}

func ecdsaDERToRaw(der []byte, n int) ([]byte, error) {
	var v struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &v); err != nil {
		return nil, err
	}
	raw := make([]byte, 2*n)
	v.R.FillBytes(raw[:n])
	v.S.FillBytes(raw[n:])
	return raw, nil
}
