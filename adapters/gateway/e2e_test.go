package gateway

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/securesign/securesign/deeplink/sigpkg"
	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
)

// The end-to-end tests build the real securesign binary and drive
// "securesign gateway --dev" over HTTP only, as a portal and an app would.

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func securesignBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test builds the binary; skipped with -short")
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "securesign-e2e-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "securesign")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/securesign/securesign/adapters/cmd/securesign").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// gwProc is a running gateway process.
type gwProc struct {
	t      testing.TB
	cmd    *exec.Cmd
	url    string
	key    string
	addr   string
	stderr *bytes.Buffer
	done   chan error
}

// startGateway runs "securesign gateway --dev" with extra args and env, and
// waits for its "listening on" line.
func startGateway(t testing.TB, data, listen string, env ...string) *gwProc {
	t.Helper()
	return startGatewayArgs(t, data, listen, nil, env...)
}

// startGatewayArgs is startGateway with extra command-line flags.
func startGatewayArgs(t testing.TB, data, listen string, args []string, env ...string) *gwProc {
	t.Helper()
	bin := securesignBinary(t)
	os.Chmod(data, 0o700) // the gateway refuses a directory others can read
	cmd := exec.Command(bin, append([]string{"gateway", "--dev", "--data", data, "--listen", listen, "--log-level", "warn"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &gwProc{t: t, cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = &lockedWriter{w: p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { p.kill() })
	timeout := time.After(90 * time.Second)
	for p.url == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("gateway exited before listening: %s", p.stderr)
			}
			if k, ok := strings.CutPrefix(l, "api key: "); ok {
				p.key = k
			}
			if u, ok := strings.CutPrefix(l, "listening on "); ok {
				p.url = u
			}
		case <-timeout:
			t.Fatalf("gateway did not start: %s", p.stderr)
		}
	}
	go func() {
		for range lines {
		}
	}()
	pu, _ := url.Parse(p.url)
	p.addr = pu.Host
	return p
}

func (p *gwProc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck
		<-p.done
		p.cmd.ProcessState = &os.ProcessState{}
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *gwProc) stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Errorf("gateway exit after SIGTERM: %v\n%s", err, p.stderr)
		}
	case <-time.After(30 * time.Second):
		p.t.Error("gateway did not stop on SIGTERM")
	}
	p.cmd.ProcessState = &os.ProcessState{}
}

// client returns a testGW-like HTTP helper bound to the process.
func (p *gwProc) client(dir, key string) *testGW {
	return &testGW{t: p.t, url: p.url, key: key, dir: dir, clock: &testClock{}}
}

// TestEndToEnd: the real binary, over HTTP only: onboard a user with an
// OTP, issue a certificate from a CSR, open a PDF session for it, sign the
// digest from the deep link outside the gateway, deliver ss_result,
// download the signed PDF and validate it with pdfsig.
func TestEndToEnd(t *testing.T) {
	pdfsig := testenv.LookPath(t, "pdfsig", "poppler-utils")
	certutil := testenv.LookPath(t, "certutil", "libnss3-tools")
	data := t.TempDir()
	p := startGateway(t, data, "127.0.0.1:0")
	if !strings.HasPrefix(p.key, "ss_test_") {
		t.Fatalf("no api key line; got %q", p.key)
	}
	g := p.client(data, p.key)

	k := testpki.Key(t, testpki.RSA2048, 20)
	issued := g.issueCSR(p.key, "e2e-user", k)
	app := appSigner(t, k, issued)
	out := g.must(201, "POST", "/v1/sign/pdf", p.key, map[string]any{"pdfBase64": b64(testpdf.Minimal("SecureSign end-to-end")),
		"certSerial": issued["serialNumber"], "reason": "Loan agreement", "location": "Bengaluru", "level": "B-T"})
	// The link's signing package verifies as a 1.2 app checks it (§6).
	checkPackage(t, out["deepLink"].(string))
	enc := signLink(t, g, out["deepLink"].(string), app)
	if code, ans := g.postResult(enc); code != 200 || ans["status"] != "signed" {
		t.Fatalf("callback = %d %v", code, ans)
	}
	s := g.must(200, "GET", "/v1/sessions/"+out["requestId"].(string), p.key, nil)
	signed, err := base64.StdEncoding.DecodeString(s["signedPdfBase64"].(string))
	if err != nil || len(signed) == 0 {
		t.Fatalf("signed PDF: %v", s)
	}
	dir := t.TempDir()
	pdfPath := filepath.Join(dir, "signed.pdf")
	if err := os.WriteFile(pdfPath, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	// The root from /pki/ca.pem in a fresh NSS database.
	_, caPEM := g.raw("GET", "/pki/ca.pem", "", nil)
	var root []byte
	for rest := caPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if c.IsCA && bytes.Equal(c.RawIssuer, c.RawSubject) {
			root = pem.EncodeToMemory(b)
		}
	}
	if root == nil {
		t.Fatalf("no root in /pki/ca.pem:\n%s", caPEM)
	}
	nss := filepath.Join(dir, "nss")
	os.Mkdir(nss, 0o700)
	os.WriteFile(filepath.Join(dir, "root.pem"), root, 0o600)
	run := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	run(certutil, "-N", "-d", "sql:"+nss, "--empty-password")
	run(certutil, "-A", "-d", "sql:"+nss, "-n", "gateway-root", "-t", "C,C,C", "-i", filepath.Join(dir, "root.pem"))
	// pdfsig asks the gateway's OCSP responder about the signer.
	res := run(pdfsig, "-nssdir", "sql:"+nss, pdfPath)
	for _, want := range []string{"Signature is Valid", "Certificate is Trusted", "Total document signed"} {
		if !strings.Contains(res, want) {
			t.Errorf("pdfsig does not say %q:\n%s", want, res)
		}
	}
	// Audit chain verifies through the admin command.
	cmd := exec.Command(securesignBinary(t), "gateway", "admin", "audit-verify", "--data", data, "--tenant", DevTenantID)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "valid") {
		t.Errorf("audit-verify: %v %s", err, out)
	}
	// No secret in the gateway's logs.
	p.stop()
	if strings.Contains(p.stderr.String(), p.key) {
		t.Error("the API key appears in the logs")
	}
}

// TestCrashBetweenLinkAndCallback: SIGKILL after the link was made; the
// restarted gateway completes the session.
func TestCrashBetweenLinkAndCallback(t *testing.T) {
	data := t.TempDir()
	p := startGateway(t, data, "127.0.0.1:0")
	g := p.client(data, p.key)
	k := testpki.Key(t, testpki.P256, 21)
	issued := g.issueCSR(p.key, "crash-user", k)
	app := appSigner(t, k, issued)
	out := g.must(201, "POST", "/v1/sign/pdf", p.key, map[string]any{"pdfBase64": b64(testpdf.Minimal("crash")), "certSerial": issued["serialNumber"]})
	enc := signLink(t, g, out["deepLink"].(string), app)
	p.kill()

	// Same port: the link's callbackUrl names it.
	p2 := startGateway(t, data, p.addr)
	if p2.key != "" {
		t.Errorf("restart printed a new key")
	}
	g2 := p2.client(data, p.key)
	if code, ans := g2.postResult(enc); code != 200 || ans["status"] != "signed" {
		t.Fatalf("callback after restart = %d %v", code, ans)
	}
	s := g2.must(200, "GET", "/v1/sessions/"+out["requestId"].(string), p.key, nil)
	if s["status"] != "signed" || s["signedPdfBase64"] == nil {
		t.Fatalf("session after restart = %v", s["status"])
	}
	p2.stop()
}

// TestTwoGatewaysPostgres: two processes share one PostgreSQL database: a
// session made on one completes through the other, and the same result
// delivered to both at once completes it exactly once.
func TestTwoGatewaysPostgres(t *testing.T) {
	dsn := postgresSchemaDSN(t)
	data := t.TempDir() // shared: PDFs and the dev master key
	a := startGateway(t, data, "127.0.0.1:0", "SECURESIGN_POSTGRES_DSN="+dsn)
	b := startGateway(t, data, "127.0.0.1:0", "SECURESIGN_POSTGRES_DSN="+dsn)
	if b.key != "" {
		t.Errorf("second gateway printed another key")
	}
	ga, gb := a.client(data, a.key), b.client(data, a.key)
	k := testpki.Key(t, testpki.P256, 22)
	issued := ga.issueCSR(a.key, "pg-user", k)
	app := appSigner(t, k, issued)

	// Created on A, completed through B (the result names A's callback,
	// but any instance can take it).
	out := ga.must(201, "POST", "/v1/sign/pdf", a.key, map[string]any{"pdfBase64": b64(testpdf.Minimal("two")), "certSerial": issued["serialNumber"]})
	// B serves A's signing package, byte for byte.
	if code, raw := getURL(t, strings.Replace(out["packageUrl"].(string), ga.url, gb.url, 1)); code != 200 || sigpkg.Digest(raw) != out["packageSha256"] {
		t.Errorf("A's package from B: %d", code)
	}
	enc := signLink(t, ga, out["deepLink"].(string), app)
	if code, ans := gb.postResult(enc); code != 200 || ans["status"] != "signed" {
		t.Fatalf("callback on B = %d %v", code, ans)
	}
	if s := ga.must(200, "GET", "/v1/sessions/"+out["requestId"].(string), a.key, nil); s["signedPdfBase64"] == nil {
		t.Fatalf("A does not see B's completion: %v", s["status"])
	}

	// Concurrent delivery of one result to both instances, many times.
	for i := 0; i < 5; i++ {
		out := ga.must(201, "POST", "/v1/sign/hash", a.key, map[string]any{"hashBase64": b64(digest(fmt.Sprint("race", i)))})
		enc := signLink(t, ga, out["deepLink"].(string), app)
		var wg sync.WaitGroup
		outcomes := make([]string, 4)
		for j := range outcomes {
			wg.Add(1)
			go func(j int) {
				defer wg.Done()
				g := ga
				if j%2 == 1 {
					g = gb
				}
				res, err := http.PostForm(g.url+"/v1/callback", url.Values{"ss_result": {enc}})
				if err != nil {
					t.Error(err)
					return
				}
				defer res.Body.Close()
				body, _ := io.ReadAll(res.Body)
				if res.StatusCode != 200 {
					t.Errorf("delivery %d: %d %s", j, res.StatusCode, body)
				}
				switch {
				case bytes.Contains(body, []byte(`"outcome":"accepted"`)):
					outcomes[j] = "accepted"
				case bytes.Contains(body, []byte(`"outcome":"duplicate"`)):
					outcomes[j] = "duplicate"
				}
			}(j)
		}
		wg.Wait()
		if n := strings.Count(strings.Join(outcomes, ","), "accepted"); n != 1 {
			t.Fatalf("round %d: %d deliveries accepted (%v), want exactly 1", i, n, outcomes)
		}
	}
	a.stop()
	b.stop()
}
