package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/securesign/securesign/internal/softhsmtest"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

// runCLI runs securesign in-process with the given environment variables.
func runTokenCLI(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}
	code = run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

func TestTokenCLI(t *testing.T) {
	tok := softhsmtest.New(t)
	h := testpki.NewHierarchy(t)
	rsaLeaf := h.Issue(t, testpki.RSA2048, testpki.Options{CommonName: "CLI RSA"})
	ecLeaf := h.Issue(t, testpki.P256, testpki.Options{CommonName: "CLI EC"})
	tok.Import(t, "cli-rsa", rsaLeaf.Key, rsaLeaf.Cert)
	tok.Import(t, "cli-ec", ecLeaf.Key, ecLeaf.Cert)
	pin := map[string]string{"TOKEN_PIN": tok.PIN, "BAD_PIN": "0000"}
	digest := sha256.Sum256([]byte("document"))
	b64 := base64.StdEncoding.EncodeToString(digest[:])

	t.Run("list", func(t *testing.T) {
		code, out, errOut := runTokenCLI(t, nil, "token", "list", "--module", tok.Module)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{`Token "securesign-test" serial ` + tok.Serial, "Subject CN:  CLI RSA", "Subject CN:  CLI EC",
			"Serial:      " + signer.FormatSerial(rsaLeaf.Cert.SerialNumber), "Key:         ECDSA-P256", "digitalSignature, nonRepudiation"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("list without --module finds SoftHSM", func(t *testing.T) {
		code, out, errOut := runTokenCLI(t, nil, "token", "list")
		if code != 0 || !strings.Contains(out, "Module "+tok.Module) || !strings.Contains(out, "Subject CN:  CLI EC") {
			t.Errorf("exit %d\n%s\n%s", code, out, errOut)
		}
	})

	t.Run("list --json", func(t *testing.T) {
		code, out, errOut := runTokenCLI(t, nil, "token", "list", "--module", tok.Module, "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var got []struct {
			Module string
			Tokens []struct {
				Label, Serial string
				Certificates  []struct{ SubjectCN, SerialHex, KeyType string }
			}
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Module != tok.Module {
			t.Fatalf("JSON = %s", out)
		}
		var certs int
		for _, tk := range got[0].Tokens {
			if tk.Serial == tok.Serial {
				certs = len(tk.Certificates)
			}
		}
		if certs != 2 {
			t.Errorf("token has %d certificates in JSON, want 2:\n%s", certs, out)
		}
	})

	for _, tc := range []struct {
		name string
		args []string
		leaf *testpki.Leaf
		alg  signer.Algorithm
	}{
		{"rsa by serial (openssl style)", []string{"--token-label", tok.Label, "--cert-serial", "serial=" + signer.FormatSerial(rsaLeaf.Cert.SerialNumber)}, rsaLeaf, signer.RSAPKCS1v15},
		{"rsa pss by label", []string{"--token-serial", tok.Serial, "--key-label", "cli-rsa", "--algo", "RSA-PSS"}, rsaLeaf, signer.RSAPSS},
		{"ec by lower-case serial", []string{"--token-label", tok.Label, "--cert-serial", strings.ToLower("00" + signer.FormatSerial(ecLeaf.Cert.SerialNumber))}, ecLeaf, signer.ECDSA},
	} {
		t.Run("sign "+tc.name, func(t *testing.T) {
			args := append([]string{"token", "sign", "--module", tok.Module, "--pin-env", "TOKEN_PIN", "--hash-alg", "SHA256", "--hash-base64", b64}, tc.args...)
			code, out, errOut := runTokenCLI(t, pin, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
			if err != nil {
				t.Fatal(err)
			}
			if err := signer.VerifyDigest(tc.leaf.Cert.PublicKey, tc.alg, crypto.SHA256, digest[:], sig); err != nil {
				t.Error(err)
			}
			if strings.Contains(out+errOut, tok.PIN) {
				t.Error("PIN echoed")
			}
		})
	}

	t.Run("sign --json", func(t *testing.T) {
		code, out, errOut := runTokenCLI(t, pin, "token", "sign", "--module", tok.Module, "--token-label", tok.Label, "--key-label", "cli-ec",
			"--pin-env", "TOKEN_PIN", "--hash-base64", b64, "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var got struct{ SignatureBase64, SignAlgo, CertificateBase64 string }
		if err := json.Unmarshal([]byte(out), &got); err != nil || got.SignAlgo != "ECDSA" || got.SignatureBase64 == "" {
			t.Errorf("JSON = %s (%v)", out, err)
		}
	})

	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		errWant string
	}{
		{"wrong PIN", []string{"--token-label", tok.Label, "--key-label", "cli-rsa", "--pin-env", "BAD_PIN"}, 1, "PIN incorrect"},
		{"no PIN", []string{"--token-label", tok.Label, "--key-label", "cli-rsa"}, 1, "--pin-env"},
		{"unset PIN variable", []string{"--token-label", tok.Label, "--key-label", "cli-rsa", "--pin-env", "NOPE"}, 1, "NOPE"},
		{"unknown token", []string{"--token-label", "nope", "--key-label", "cli-rsa", "--pin-env", "TOKEN_PIN"}, 1, "token not found"},
		{"unknown cert", []string{"--token-label", tok.Label, "--cert-serial", "0BAD", "--pin-env", "TOKEN_PIN"}, 1, "certificate not found"},
		{"two key selectors", []string{"--token-label", tok.Label, "--cert-serial", "01", "--key-label", "x", "--pin-env", "TOKEN_PIN"}, 2, "only one of"},
		{"no token selector", []string{"--key-label", "x", "--pin-env", "TOKEN_PIN"}, 2, "--token-label"},
		{"bad serial", []string{"--token-label", tok.Label, "--cert-serial", "xyz", "--pin-env", "TOKEN_PIN"}, 2, "hex"},
		{"bad algo", []string{"--token-label", tok.Label, "--key-label", "cli-ec", "--algo", "RSA-PSS", "--pin-env", "TOKEN_PIN"}, 1, "unsupported algorithm"},
	} {
		t.Run("sign fails: "+tc.name, func(t *testing.T) {
			args := append([]string{"token", "sign", "--module", tok.Module, "--hash-base64", b64}, tc.args...)
			code, out, errOut := runTokenCLI(t, pin, args...)
			if code != tc.code || !strings.Contains(errOut, tc.errWant) || out != "" {
				t.Errorf("exit %d (want %d), stdout %q, stderr:\n%s\nwant it to contain %q", code, tc.code, out, errOut, tc.errWant)
			}
		})
	}

	t.Run("short digest", func(t *testing.T) {
		code, _, errOut := runTokenCLI(t, pin, "token", "sign", "--module", tok.Module, "--token-label", tok.Label, "--key-label", "cli-rsa",
			"--pin-env", "TOKEN_PIN", "--hash-base64", base64.StdEncoding.EncodeToString(digest[:20]))
		if code != 2 || !strings.Contains(errOut, "20 bytes") {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})

	t.Run("help", func(t *testing.T) {
		for _, sub := range []string{"list", "sign", "modules"} {
			if code, _, errOut := runTokenCLI(t, nil, "token", sub, "-h"); code != 0 || !strings.Contains(errOut, "usage: securesign token "+sub) {
				t.Errorf("token %s -h: exit %d\n%s", sub, code, errOut)
			}
		}
		if code, _, _ := runTokenCLI(t, nil, "token"); code != 2 {
			t.Errorf("bare `token`: exit %d, want 2", code)
		}
	})

	t.Run("modules", func(t *testing.T) {
		code, out, _ := runTokenCLI(t, nil, "token", "modules", "--os", "windows")
		if code != 0 || !strings.Contains(out, "eTPKCS11.dll") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
}
