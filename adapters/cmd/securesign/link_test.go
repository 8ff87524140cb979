package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/securesign/securesign/deeplink"
)

func runLinkCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	code := run(context.Background(), e, append([]string{"link"}, args...))
	return code, out.String(), errb.String()
}

func TestLinkCLI(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "link.pem")
	code, jwks, stderr := runLinkCmd(t, "keygen", "--out", keyFile, "--kid", "portal-1")
	if code != 0 {
		t.Fatalf("keygen: %d %s", code, stderr)
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st.Mode(), err)
	}
	ks, err := deeplink.ParseKeySet([]byte(jwks))
	if err != nil || len(ks.Keys) != 1 || ks.Keys[0].KID != "portal-1" {
		t.Fatalf("keygen printed %q: %v", jwks, err)
	}
	if strings.Contains(jwks, "PRIVATE") || strings.Contains(stderr, "PRIVATE") {
		t.Error("keygen printed the private key")
	}
	jwksFile := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksFile, []byte(jwks), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runLinkCmd(t, "keygen", "--out", keyFile); code == 0 {
		t.Error("keygen overwrote an existing key without --force")
	}
	otherKey := filepath.Join(dir, "other.pem")
	_, otherJWKS, _ := runLinkCmd(t, "keygen", "--out", otherKey, "--kid", "portal-1")
	otherFile := filepath.Join(dir, "other.json")
	_ = os.WriteFile(otherFile, []byte(otherJWKS), 0o644)

	d1, d2 := sha256.Sum256([]byte("one")), sha256.Sum256([]byte("two"))
	h1, h2 := base64.StdEncoding.EncodeToString(d1[:]), base64.StdEncoding.EncodeToString(d2[:])
	code, link, stderr := runLinkCmd(t, "build", "--action", "sign", "--hash-base64", h1, "--hash-base64", h2,
		"--callback-url", "https://portal.example.in/cb", "--origin", "https://portal.example.in",
		"--request-id", "req-cli-0001", "--ttl", "5m", "--doc", "Loan 42", "--cert-serial", "4a3b",
		"--key", keyFile, "--kid", "portal-1")
	if code != 0 {
		t.Fatalf("build: %d %s", code, stderr)
	}
	link = strings.TrimSpace(link)

	var parsed linkParseOutput
	code, out, stderr := runLinkCmd(t, "parse", link, "--jwks", jwksFile, "--json")
	if code != 0 {
		t.Fatalf("parse: %d %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(out), &parsed); err != nil {
		t.Fatal(err)
	}
	if parsed.Signature != "valid" || parsed.RequestID != "req-cli-0001" || len(parsed.Hashes) != 2 ||
		parsed.Hashes[1] != h2 || parsed.Doc != "Loan 42" || parsed.HashAlgo != "SHA256" || parsed.KID != "portal-1" {
		t.Errorf("parse --json: %+v", parsed)
	}
	// Text output.
	if code, out, _ := runLinkCmd(t, "parse", "--jwks", jwksFile, link); code != 0 || !strings.Contains(out, "signature:   valid (kid portal-1)") {
		t.Errorf("parse text: %d\n%s", code, out)
	}
	tests := []struct {
		name string
		args []string
		code int
		sig  string
	}{
		{"other key with the same kid", []string{"parse", "--json", "--jwks", otherFile, link}, 1, "invalid"},
		{"tampered", []string{"parse", "--json", "--jwks", jwksFile, strings.Replace(link, "Loan", "Lean", 1)}, 1, "invalid"},
		{"no JWKS: unchecked", []string{"parse", "--json", link}, 0, "unchecked"},
		{"malformed", []string{"parse", "--json", link + "&requestId=again1234"}, 1, "none"},
		{"not a link", []string{"parse", "https://example.com"}, 1, ""},
		{"no argument", []string{"parse"}, 2, ""},
		{"help", []string{"parse", "-h"}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runLinkCmd(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (%s)", code, tc.code, stderr)
			}
			if tc.sig != "" {
				var p linkParseOutput
				if err := json.Unmarshal([]byte(out), &p); err != nil || p.Signature != tc.sig {
					t.Errorf("signature %q, want %q (%v)", p.Signature, tc.sig, err)
				}
				if tc.code != 0 && !strings.HasPrefix(p.Code, "SS_") {
					t.Errorf("no SS_ code in %s", out)
				}
			}
		})
	}

	// Unsigned and legacy links, and the policy flag.
	code, unsigned, _ := runLinkCmd(t, "build", "--hash-base64", h1, "--callback-url", "http://127.0.0.1:8080/v1/callback")
	if code != 0 {
		t.Fatal("unsigned build failed")
	}
	unsigned = strings.TrimSpace(unsigned)
	if !strings.Contains(unsigned, "origin=http%3A%2F%2F127.0.0.1%3A8080") {
		t.Errorf("origin not derived: %s", unsigned)
	}
	if code, _, _ := runLinkCmd(t, "parse", "--require-signed", unsigned); code != 1 {
		t.Errorf("--require-signed accepted an unsigned link")
	}
	code, legacy, _ := runLinkCmd(t, "build", "--legacy", "--hash-base64", h1, "--callback-url", "https://bank.example.com/cb", "--api-key", "ss_pk_1")
	if code != 0 || strings.Contains(legacy, "exp=") {
		t.Fatalf("legacy build: %d %s", code, legacy)
	}
	var lp linkParseOutput
	_, out, _ = runLinkCmd(t, "parse", "--json", strings.TrimSpace(legacy))
	if json.Unmarshal([]byte(out), &lp); !lp.Legacy || lp.Origin != "https://bank.example.com" {
		t.Errorf("legacy parse: %+v", lp)
	}
	// Register.
	code, out, _ = runLinkCmd(t, "build", "--action", "register", "--callback-url", "https://portal.example.in/cb", "--json", "--key", keyFile, "--kid", "portal-1")
	var b struct{ Link, Challenge string }
	if code != 0 || json.Unmarshal([]byte(out), &b) != nil || !strings.HasPrefix(b.Link, "securesign://register?") || len(b.Challenge) != 43 {
		t.Errorf("register build: %d %s", code, out)
	}
	// A key file without the kid line (not from keygen) needs --kid.
	bareKey := filepath.Join(dir, "bare.pem")
	kb, _ := os.ReadFile(keyFile)
	_ = os.WriteFile(bareKey, kb[strings.Index(string(kb), "-----BEGIN"):], 0o600)
	// Build refusals.
	for _, args := range [][]string{
		{"build", "--callback-url", "https://p.example/cb"},                                           // no hash
		{"build", "--hash-base64", h1},                                                                // no callback
		{"build", "--hash-base64", h1, "--callback-url", "http://p.example/cb"},                       // http
		{"build", "--hash-base64", h1, "--callback-url", "https://p.example/cb", "--ttl", "1h"},       // ttl
		{"build", "--hash-base64", h1, "--callback-url", "https://p.example/cb", "--hash-alg", "MD5"}, // alg
		{"build", "--hash-base64", "AAAA", "--callback-url", "https://p.example/cb"},                  // length
		{"build", "--hash-base64", h1, "--callback-url", "https://p.example/cb", "--key", bareKey},    // no kid
		{"build", "--hash-base64", h1, "--callback-url", "https://p.example/cb", "--api-key", "ss_live_x"},
	} {
		if code, _, _ := runLinkCmd(t, args...); code == 0 {
			t.Errorf("build %v succeeded", args[1:])
		}
	}

	// QR codes.
	for _, name := range []string{"link.png", "link.svg"} {
		p := filepath.Join(dir, name)
		if code, _, stderr := runLinkCmd(t, "qr", "--out", p, link); code != 0 {
			t.Fatalf("qr %s: %s", name, stderr)
		}
		data, _ := os.ReadFile(p)
		if name == "link.png" && !bytes.HasPrefix(data, []byte("\x89PNG")) || name == "link.svg" && !bytes.Contains(data, []byte("<svg")) {
			t.Errorf("%s is not what it should be", name)
		}
	}
	if code, _, _ := runLinkCmd(t, "qr", "--out", filepath.Join(dir, "x.gif"), link); code == 0 {
		t.Error("qr wrote a .gif")
	}
	if code, _, _ := runLinkCmd(t, "qr", "--out", filepath.Join(dir, "x.png"), "securesign://nope?"); code == 0 {
		t.Error("qr of a malformed link")
	}
	if code, _, _ := runLinkCmd(t); code != 2 {
		t.Error("link without subcommand")
	}
}
