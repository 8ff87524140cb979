//go:build !signonly

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pki"
)

// lockedBuffer is a bytes.Buffer safe for a writer and a concurrent reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func pkiEnv(vars map[string]string) (*env, *lockedBuffer, *lockedBuffer) {
	var out, errb lockedBuffer
	return &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}, &out, &errb
}

func runPKICLI(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	e, out, errb := pkiEnv(vars)
	code := run(context.Background(), e, append([]string{"pki"}, args...))
	return code, out.String(), errb.String()
}

func TestPKICLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	work := t.TempDir()
	vars := map[string]string{"SECURESIGN_CA_PASS": "correct horse battery staple", "P12PASS": "p12-secret"}
	p := func(name string) string { return filepath.Join(work, name) }

	// Pick the serve address first: it goes into the certificates.
	addr := freeAddr(t)
	code, out, errs := runPKICLI(t, vars, "init", "--dir", dir, "--key", "ecdsa-p256", "--base-url", "http://"+addr, "--json")
	if code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	var initOut pkiInitJSON
	if err := json.Unmarshal([]byte(out), &initOut); err != nil || !initOut.Encrypted {
		t.Fatalf("init output %q: %v", out, err)
	}
	for _, f := range []string{"root.key", "issuing.key", "ocsp.key", "tsa.key"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !bytes.Contains(data, []byte("SECURESIGN ENCRYPTED PRIVATE KEY")) {
			t.Errorf("%s is not encrypted: %v", f, err)
		}
		if st, _ := os.Stat(filepath.Join(dir, f)); st == nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, st.Mode())
		}
	}
	if code, _, _ := runPKICLI(t, vars, "init", "--dir", dir); code == 0 {
		t.Error("init over an existing CA succeeded")
	}
	if code, _, errs := runPKICLI(t, map[string]string{"SECURESIGN_CA_PASS": "wrong"}, "crl", "--dir", dir, "--out", p("x.crl")); code == 0 || !strings.Contains(errs, "cannot be opened") {
		t.Errorf("wrong passphrase: code %d, %s", code, errs)
	}

	// Issue from a CSR.
	key := testpki.Key(t, testpki.P256, 0)
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "from CSR, ignored"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p("req.csr"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}), 0o600)
	code, out, errs = runPKICLI(t, vars, "issue", "--dir", dir, "--csr", p("req.csr"), "--subject-cn", "Rajesh Kumar",
		"--subject-st", "Karnataka", "--subject-postal-code", "560001", "--out", p("leaf.pem"), "--json")
	if code != 0 {
		t.Fatalf("issue --csr: %d %s", code, errs)
	}
	var issued pkiIssueJSON
	if err := json.Unmarshal([]byte(out), &issued); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(issued.Subject, "CN=Rajesh Kumar") || strings.Contains(issued.Subject, "ignored") {
		t.Errorf("subject %q", issued.Subject)
	}

	// Issue with key generation into a PKCS#12 file.
	code, out, errs = runPKICLI(t, vars, "issue", "--dir", dir, "--keygen", "ecdsa-p256", "--p12-out", p("user.p12"), "--p12-pass-env", "P12PASS",
		"--profile", "document-signer", "--subject-cn", "Acme Signer", "--subject-o", "Acme Loans", "--out", p("doc.pem"))
	if code != 0 {
		t.Fatalf("issue --keygen: %d %s", code, errs)
	}
	p12, _ := os.ReadFile(p("user.p12"))
	if _, cert, _, err := pkcs12.DecodeChain(p12, "p12-secret"); err != nil || cert.Subject.CommonName != "Acme Signer" {
		t.Fatalf("PKCS#12: %v", err)
	}
	if strings.Contains(out+errs, "p12-secret") {
		t.Error("the PKCS#12 password was echoed")
	}

	// Bad inputs fail and write nothing.
	for _, args := range [][]string{
		{"issue", "--dir", dir, "--csr", p("req.csr"), "--profile", "nope", "--subject-cn", "X", "--out", p("bad.pem")},
		{"issue", "--dir", dir, "--csr", p("leaf.pem"), "--subject-cn", "X", "--out", p("bad.pem")},
		{"issue", "--dir", dir, "--keygen", "rsa-1024", "--p12-out", p("bad.p12"), "--p12-pass-env", "P12PASS", "--subject-cn", "X", "--out", p("bad.pem")},
		{"issue", "--dir", dir, "--keygen", "ecdsa-p256", "--p12-out", p("bad.p12"), "--p12-pass-env", "UNSET", "--subject-cn", "X", "--out", p("bad.pem")},
		{"revoke", "--dir", dir, "--serial", "0123456789ABCDEF", "--reason", "keyCompromise"},
		{"revoke", "--dir", dir, "--serial", issued.Serial, "--reason", "certificateHold"},
	} {
		if code, _, errs := runPKICLI(t, vars, args...); code == 0 {
			t.Errorf("%v succeeded", args)
		} else {
			t.Logf("%v: %s", args[:2], strings.TrimSpace(errs))
		}
	}
	for _, f := range []string{"bad.pem", "bad.p12"} {
		if _, err := os.Stat(p(f)); err == nil {
			t.Errorf("%s written by a failed command", f)
		}
	}
	if code, _, _ := runPKICLI(t, vars, "issue", "-h"); code != 0 {
		t.Error("issue -h failed")
	}

	// Serve, then ask OCSP, revoke, ask again, fetch the CRL.
	ctx, cancel := context.WithCancel(context.Background())
	e, _, serveErr := pkiEnv(vars)
	served := make(chan int, 1)
	go func() { served <- run(ctx, e, []string{"pki", "serve", "--dir", dir, "--listen", addr}) }()
	t.Cleanup(func() {
		cancel()
		if code := <-served; code != 0 {
			t.Errorf("serve exited %d: %s", code, serveErr.String())
		}
	})
	waitListening(t, serveErr, addr)

	resp, err := http.Get("http://" + addr + "/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	chainPEM, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	chain, err := pki.ParseCertificates(chainPEM)
	if err != nil || len(chain) != 2 || chain[1].Subject.CommonName != "SecureSign Root CA" {
		t.Fatalf("/ca.pem: %d certificates, %v", len(chain), err)
	}

	openssl := testenv.LookPath(t, "openssl", "openssl")
	ocspAsk := func() string {
		out, err := exec.Command(openssl, "ocsp", "-issuer", filepath.Join(dir, "ca.pem"), "-cert", p("leaf.pem"),
			"-url", "http://"+addr+"/ocsp", "-CAfile", filepath.Join(dir, "root.pem"), "-verify_other", filepath.Join(dir, "ca.pem")).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl ocsp: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := ocspAsk(); !strings.Contains(out, ": good") {
		t.Fatalf("before revoke: %s", out)
	}
	if code, _, errs := runPKICLI(t, vars, "revoke", "--dir", dir, "--serial", issued.Serial, "--reason", "keyCompromise"); code != 0 {
		t.Fatalf("revoke: %s", errs)
	}
	if out := ocspAsk(); !strings.Contains(out, ": revoked") {
		t.Fatalf("after revoke: %s", out)
	}
	if code, _, errs := runPKICLI(t, vars, "crl", "--dir", dir, "--out", p("ca.crl")); code != 0 {
		t.Fatalf("crl: %s", errs)
	}
	crlText, err := exec.Command(openssl, "crl", "-inform", "DER", "-in", p("ca.crl"), "-noout", "-text").CombinedOutput()
	if err != nil || !strings.Contains(string(crlText), "Serial Number: "+issued.Serial) {
		t.Errorf("CRL lacks %s: %v\n%s", issued.Serial, err, crlText)
	}
}

func TestPKICLIDevPlainKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	code, _, errs := runPKICLI(t, nil, "init", "--dir", dir, "--key", "rsa-3072")
	if code != 0 {
		t.Fatalf("init: %s", errs)
	}
	if !strings.Contains(errs, "UNENCRYPTED") {
		t.Errorf("no warning about plain keys: %q", errs)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "issuing.key"))
	if !bytes.Contains(data, []byte("BEGIN PRIVATE KEY")) {
		t.Error("dev key is not plain PKCS#8")
	}
	if code, _, errs := runPKICLI(t, nil, "crl", "--dir", dir, "--out", filepath.Join(dir, "x.crl"), "--pem"); code != 0 {
		t.Fatalf("crl: %s", errs)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

var listeningRE = regexp.MustCompile(`listening on http://(\S+)`)

func waitListening(t *testing.T, stderr *lockedBuffer, addr string) {
	t.Helper()
	for range 200 {
		if m := listeningRE.FindStringSubmatch(stderr.String()); m != nil && m[1] == addr {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("pki serve did not start: %s", stderr.String())
}

func TestPKIFlagHelpNamesAndAliases(t *testing.T) {
	testFlagHelp(t, []flagHelpCase{
		{[]string{"pki", "issue"}, []string{"-p12-password-env"}, []string{"--p12-pass-env (now --p12-password-env)"}, []string{"  -p12-pass-env string"}},
		{[]string{"pki", "init"}, []string{"-key-type"}, []string{"--key (now --key-type)"}, []string{"  -key string"}},
	})
}
