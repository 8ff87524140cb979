package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpki"
)

func runOpenSSL(t *testing.T, args ...string) string {
	t.Helper()
	openssl := testenv.LookPath(t, "openssl", "openssl")
	out, err := exec.Command(openssl, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestOpenSSLOCSPGoodThenRevoked(t *testing.T) {
	tc := newTestCA(t)
	ctx := context.Background()
	cert, err := tc.IssueCSR(ctx, makeCSR(t, testpki.Key(t, testpki.P256, 0), "x"), individual, "")
	if err != nil {
		t.Fatal(err)
	}
	root := tc.writePEM(t, "root.pem", tc.Root())
	inter := tc.writePEM(t, "inter.pem", tc.Certificate())
	leaf := tc.writePEM(t, "leaf.pem", cert)
	ask := func() string {
		return runOpenSSL(t, "ocsp", "-issuer", inter, "-cert", leaf, "-url", tc.srv.URL+"/ocsp",
			"-CAfile", root, "-verify_other", inter)
	}
	out := ask()
	if !strings.Contains(out, "Response verify OK") || !strings.Contains(out, leaf+": good") {
		t.Fatalf("before revocation: %s", out)
	}
	if err := tc.Revoke(ctx, cert.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	out = ask()
	if !strings.Contains(out, "Response verify OK") || !strings.Contains(out, leaf+": revoked") ||
		!strings.Contains(out, "Reason: keyCompromise") {
		t.Fatalf("after revocation: %s", out)
	}
}

func TestOpenSSLTimestampVerify(t *testing.T) {
	tc := newTestCA(t)
	data := filepath.Join(tc.dir, "data.txt")
	if err := os.WriteFile(data, []byte("loan agreement 42\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := tc.writePEM(t, "root.pem", tc.Root())
	inter := tc.writePEM(t, "inter.pem", tc.Certificate())

	t.Run("openssl-query", func(t *testing.T) {
		tsq, tsr := filepath.Join(tc.dir, "req.tsq"), filepath.Join(tc.dir, "resp.tsr")
		runOpenSSL(t, "ts", "-query", "-data", data, "-sha256", "-cert", "-out", tsq)
		q, _ := os.ReadFile(tsq)
		resp, err := http.Post(tc.srv.URL+"/tsa", "application/timestamp-query", bytes.NewReader(q))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := os.WriteFile(tsr, body, 0o600); err != nil {
			t.Fatal(err)
		}
		out := runOpenSSL(t, "ts", "-verify", "-in", tsr, "-queryfile", tsq, "-CAfile", root, "-untrusted", inter)
		if !strings.Contains(out, "Verification: OK") {
			t.Fatal(out)
		}
		text := runOpenSSL(t, "ts", "-reply", "-in", tsr, "-text")
		for _, want := range []string{"Status: Granted", "Policy OID: 1.3.6.1.4.1.32473.1.3.100", "Accuracy: 0x01 seconds", "Nonce: 0x"} {
			if !strings.Contains(text, want) {
				t.Errorf("reply lacks %q:\n%s", want, text)
			}
		}
	})
	t.Run("client-token", func(t *testing.T) {
		content, _ := os.ReadFile(data)
		sum := sha256.Sum256(content)
		c := &TSAClient{URL: tc.srv.URL + "/tsa"}
		tok, err := c.Timestamp(context.Background(), crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		tokFile := filepath.Join(tc.dir, "token.der")
		if err := os.WriteFile(tokFile, tok, 0o600); err != nil {
			t.Fatal(err)
		}
		out := runOpenSSL(t, "ts", "-verify", "-token_in", "-in", tokFile, "-data", data, "-CAfile", root, "-untrusted", inter)
		if !strings.Contains(out, "Verification: OK") {
			t.Fatal(out)
		}
	})
}

func TestOpenSSLCRL(t *testing.T) {
	tc := newTestCA(t)
	ctx := context.Background()
	cert, err := tc.IssueCSR(ctx, makeCSR(t, testpki.Key(t, testpki.P256, 0), "x"), individual, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.Revoke(ctx, cert.SerialNumber, ReasonSuperseded); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(tc.srv.URL + "/crl")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	crlFile := filepath.Join(tc.dir, "ca.crl")
	if err := os.WriteFile(crlFile, der, 0o600); err != nil {
		t.Fatal(err)
	}
	chain := tc.writePEM(t, "chain.pem", tc.Certificate(), tc.Root())
	out := runOpenSSL(t, "crl", "-inform", "DER", "-in", crlFile, "-text", "-noout", "-CAfile", chain)
	// openssl prints whole bytes: a serial whose top nibble is zero gets a
	// leading 0.
	want := fmt.Sprintf("%X", cert.SerialNumber.Bytes())
	for _, w := range []string{"verify OK", "Serial Number: " + want, "Superseded", "X509v3 CRL Number", "Next Update"} {
		if !strings.Contains(out, w) {
			t.Errorf("openssl crl output lacks %q:\n%s", w, out)
		}
	}
}
