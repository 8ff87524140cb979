//go:build !signonly

package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/internal/softhsmtest"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

// verifyingPortal runs callback.Verifier behind /cb, as a real portal does.
type verifyingPortal struct {
	*httptest.Server
	store    *callback.MemoryStore
	mu       sync.Mutex
	outcomes []*callback.Outcome
}

func newVerifyingPortal(t *testing.T, roots ...*testpki.Hierarchy) *verifyingPortal {
	p := &verifyingPortal{store: callback.NewMemoryStore()}
	pool := desktopTestPool(roots...)
	v := &callback.Verifier{Store: p.store, Roots: pool}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := v.Verify(r.Context(), r.PostFormValue("ss_result"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		p.mu.Lock()
		p.outcomes = append(p.outcomes, out)
		p.mu.Unlock()
		if out.Kind == callback.Rejected {
			http.Error(w, out.Detail, http.StatusUnprocessableEntity)
		}
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *verifyingPortal) last(t *testing.T) *callback.Outcome {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.outcomes) == 0 {
		t.Fatal("the portal received nothing")
	}
	return p.outcomes[len(p.outcomes)-1]
}

func (p *verifyingPortal) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.outcomes)
}

// issue registers a pending sign request and returns its link.
func (p *verifyingPortal) issue(t *testing.T, key *deeplink.SigningKey) string {
	t.Helper()
	d := sha256.Sum256([]byte("document " + time.Now().String()))
	idb := make([]byte, 8)
	rand.Read(idb)
	req := &deeplink.Request{Action: deeplink.ActionSign, RequestID: "cli-" + hex.EncodeToString(idb),
		Hashes: [][]byte{d[:]}, HashAlgo: crypto.SHA256, CallbackURL: p.URL + "/cb", Origin: p.URL,
		Expires: time.Now().Add(10 * time.Minute), Doc: "agreement.pdf"}
	link, err := deeplink.Build(req, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.store.Add(&callback.Pending{RequestID: req.RequestID, Action: req.Action, Hashes: req.Hashes,
		HashAlgo: req.HashAlgo, Origin: req.Origin, ExpiresAt: req.Expires}); err != nil {
		t.Fatal(err)
	}
	return link
}

func TestDesktopOpenHeadlessSoftHSM(t *testing.T) {
	tok := softhsmtest.New(t)
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.RSA2048, testpki.Options{CommonName: "Rajesh Kumar"})
	tok.Import(t, "Rajesh Kumar", leaf.Key, leaf.Cert)
	tok.ImportCert(t, "Sub-CA", h.Intermediate.Cert, []byte{0xca})

	portal := newVerifyingPortal(t, h)
	key, err := deeplink.NewSigningKey("portal-1", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	jwks, _ := json.Marshal(deeplink.KeySet{Keys: []deeplink.PublicKey{key.Public()}})
	jwksPath := filepath.Join(dir, "keys.json")
	os.WriteFile(jwksPath, jwks, 0o600)
	serial := signer.FormatSerial(leaf.Cert.SerialNumber)

	runSel := func(pin, link string, sel []string, extra ...string) (int, string) {
		var out, errb bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string {
			if k == "TEST_PIN" {
				return pin
			}
			return os.Getenv(k)
		}}
		args := append([]string{"desktop", "open", "--yes", "--pin-env", "TEST_PIN"}, sel...)
		args = append(append(args, "--module", tok.Module, "--config", filepath.Join(dir, "none.json"), "--trust-jwks", jwksPath, "--json"), extra...)
		args = append(args, "--", link)
		code := run(context.Background(), e, args)
		return code, out.String() + errb.String()
	}
	run1 := func(pin, link string, extra ...string) (int, string) {
		return runSel(pin, link, []string{"--cert-serial", serial}, extra...)
	}

	t.Run("signs and the portal accepts", func(t *testing.T) {
		code, out := run1(tok.PIN, portal.issue(t, key), "--allow-origin", portal.URL)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		if o := portal.last(t); o.Kind != callback.Accepted || !o.Success() {
			t.Fatalf("portal outcome %v %s: %s", o.Kind, o.Code, o.Detail)
		}
		if strings.Contains(out, tok.PIN) {
			t.Error("the PIN appears in the output")
		}
	})
	t.Run("certificate chosen by --cert-sha256, as token list prints it", func(t *testing.T) {
		sum := sha256.Sum256(leaf.Cert.Raw)
		code, out := runSel(tok.PIN, portal.issue(t, key), []string{"--cert-sha256", hex.EncodeToString(sum[:])}, "--allow-origin", portal.URL)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		if o := portal.last(t); o.Kind != callback.Accepted || !o.Success() || !o.Completion.Certificate.Equal(leaf.Cert) {
			t.Fatalf("portal outcome %v %s", o.Kind, o.Code)
		}
		other := sha256.Sum256(h.Intermediate.Cert.Raw) // on the token, but without a key
		if code, out := runSel(tok.PIN, portal.issue(t, key), []string{"--cert-sha256", hex.EncodeToString(other[:])}, "--allow-origin", portal.URL); code == 0 || !strings.Contains(out, "no certificate with SHA-256") {
			t.Errorf("a SHA-256 of no signing certificate: exit %d: %s", code, out)
		}
		for _, sel := range [][]string{{"--cert-sha256", "abcd"}, {"--cert-sha256", hex.EncodeToString(sum[:]), "--cert-serial", serial}} {
			if code, out := runSel(tok.PIN, "securesign://sign?x", sel); code != 2 {
				t.Errorf("%v: exit %d, want 2: %s", sel, code, out)
			}
		}
	})
	t.Run("wrong PIN keeps the request open, like the page", func(t *testing.T) {
		n := portal.count()
		link := portal.issue(t, key)
		code, out := run1("999999", link, "--allow-origin", portal.URL)
		if code == 0 || !strings.Contains(out, "stays open") {
			t.Fatalf("exit %d with a wrong PIN: %s", code, out)
		}
		if portal.count() != n {
			t.Fatalf("portal got %d results after a wrong PIN, want none", portal.count()-n)
		}
		// The same link with the right PIN still signs.
		if code, out := run1(tok.PIN, link, "--allow-origin", portal.URL); code != 0 {
			t.Fatalf("right PIN after a wrong one: exit %d: %s", code, out)
		}
		if o := portal.last(t); o.Kind != callback.Accepted || !o.Success() {
			t.Fatalf("outcome %v %s", o.Kind, o.Code)
		}
	})
	t.Run("origin not allowed: nothing sent", func(t *testing.T) {
		n := portal.count()
		code, out := run1(tok.PIN, portal.issue(t, key))
		if code == 0 || !strings.Contains(out, "allowlist") {
			t.Fatalf("exit %d: %s", code, out)
		}
		if portal.count() != n {
			t.Fatal("something was sent to a portal off the allowlist")
		}
	})
	t.Run("unsigned link refused when signed links are required", func(t *testing.T) {
		n := portal.count()
		code, out := run1(tok.PIN, portal.issue(t, nil), "--allow-origin", portal.URL, "--require-signed")
		if code == 0 {
			t.Fatalf("exit 0: %s", out)
		}
		if portal.count() != n+1 || portal.last(t).Code != callback.CodeLinkInvalid {
			t.Fatalf("want one SS_LINK_INVALID failure, got %d results", portal.count()-n)
		}
	})
	t.Run("link without a package refused under --require-package", func(t *testing.T) {
		n := portal.count()
		code, out := run1(tok.PIN, portal.issue(t, key), "--allow-origin", portal.URL, "--require-package")
		if code == 0 || !strings.Contains(out, "check present") {
			t.Fatalf("exit %d: %s", code, out)
		}
		if portal.count() != n+1 || portal.last(t).Code != callback.CodeLinkInvalid {
			t.Fatalf("want one SS_LINK_INVALID failure, got %d results", portal.count()-n)
		}
	})
	t.Run("signature by an untrusted key", func(t *testing.T) {
		other, _ := deeplink.NewSigningKey("portal-1", rand.Reader) // same kid, other key
		code, out := run1(tok.PIN, portal.issue(t, other), "--allow-origin", portal.URL, "--no-fetch-keys")
		if code == 0 {
			t.Fatalf("exit 0: %s", out)
		}
		if portal.last(t).Code != callback.CodeLinkInvalid {
			t.Fatalf("code %s", portal.last(t).Code)
		}
	})
}

func TestDesktopOpenUsage(t *testing.T) {
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	if code := run(context.Background(), e, []string{"desktop", "open", "-h"}); code != 0 {
		t.Errorf("-h exit %d", code)
	}
	if code := run(context.Background(), e, []string{"desktop", "open"}); code != 2 {
		t.Errorf("no link: exit %d", code)
	}
	if code := run(context.Background(), e, []string{"desktop", "open", "--yes", "--config", filepath.Join(t.TempDir(), "x.json"), "securesign://sign?x"}); code != 1 {
		t.Errorf("--yes without PIN: exit %d", code)
	}
	// A package origin that is not https (or http to loopback), or not an
	// origin, stops the command before anything is fetched.
	for _, bad := range []string{"http://sign.gateway.example.in", "https://sign.gateway.example.in/v1/packages"} {
		errb.Reset()
		code := run(context.Background(), e, []string{"desktop", "open", "--yes", "--config", filepath.Join(t.TempDir(), "x.json"), "--package-origin", bad, "securesign://sign?x"})
		if code != 1 || !strings.Contains(errb.String(), "--package-origin") || !strings.Contains(errb.String(), bad) {
			t.Errorf("--package-origin %s: exit %d, %s", bad, code, errb.String())
		}
	}
	// The flag adds to the policy file's packageOrigins.
	cfg := filepath.Join(t.TempDir(), "desktop.json")
	os.WriteFile(cfg, []byte(`{"packageOrigins":["https://a.gateway.example.in"]}`), 0o600)
	app, err := desktopApp(e, cfg, nil, multiFlag{"https://b.gateway.example.in"}, nil, nil, "", false, false)
	if err != nil || !slices.Equal(app.Policy.PackageOrigins, []string{"https://a.gateway.example.in", "https://b.gateway.example.in"}) {
		t.Errorf("package origins %v, %v", app, err)
	}
	// Nothing may follow the link: a link crafted to carry flags (or an
	// OS registration without "--") cannot choose the browser program.
	errb.Reset()
	for _, args := range [][]string{
		{"desktop", "open", "securesign://sign?x", "--browser", "/bin/sh"},
		{"desktop", "open", "--", "securesign://sign?x", "--browser", "/bin/sh"},
	} {
		if code := run(context.Background(), e, args); code != 2 || !strings.Contains(errb.String(), "nothing may follow the link") {
			t.Errorf("%q: exit %d, %s", args, code, errb.String())
		}
	}
}

func TestDesktopInstallCLI(t *testing.T) {
	home := t.TempDir()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(k string) string {
		if k == "HOME" {
			return home
		}
		return ""
	}}
	if code := run(context.Background(), e, []string{"desktop", "install", "--exe", "/usr/bin/securesign"}); code != 0 {
		t.Fatalf("install exit %d: %s", code, errb.String())
	}
	b, err := os.ReadFile(filepath.Join(home, ".local/share/applications/securesign.desktop"))
	if err != nil || !strings.Contains(string(b), "Exec=/usr/bin/securesign desktop open -- %u") {
		t.Fatalf("desktop entry: %v\n%s", err, b)
	}
	if code := run(context.Background(), e, []string{"desktop", "uninstall"}); code != 0 {
		t.Fatalf("uninstall exit %d: %s", code, errb.String())
	}
	out.Reset()
	if code := run(context.Background(), e, []string{"desktop", "install", "--macos-plist"}); code != 0 || !strings.Contains(out.String(), "CFBundleURLSchemes") {
		t.Fatalf("--macos-plist: %d %s", code, out.String())
	}
}

func desktopTestPool(hs ...*testpki.Hierarchy) *x509.CertPool {
	p := x509.NewCertPool()
	for _, h := range hs {
		p.AddCert(h.Root.Cert)
	}
	return p
}

// TestDesktopOpenSingleInstance runs "securesign desktop open" twice, as
// the OS does on two clicks: the second process hands its link to the first
// over the per-user socket and exits.
func TestDesktopOpenSingleInstance(t *testing.T) {
	tok := softhsmtest.New(t)
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.RSA2048, testpki.Options{CommonName: "Rajesh Kumar"})
	tok.Import(t, "Rajesh Kumar", leaf.Key, leaf.Cert)
	portal := newVerifyingPortal(t, h)
	key, _ := deeplink.NewSigningKey("portal-1", rand.Reader)

	rt, err := os.MkdirTemp("", "ssrt") // short: socket paths are limited to ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(rt) })
	urls := filepath.Join(rt, "urls")
	browser := filepath.Join(rt, "browser.sh")
	os.WriteFile(browser, []byte("#!/bin/sh\necho \"$1\" >> "+urls+"\n"), 0o700)
	jwks, _ := json.Marshal(deeplink.KeySet{Keys: []deeplink.PublicKey{key.Public()}})
	jwksPath := filepath.Join(rt, "keys.json")
	os.WriteFile(jwksPath, jwks, 0o600)

	open := func(ctx context.Context, link string) (int, string) {
		var out bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(k string) string {
			if k == "XDG_RUNTIME_DIR" {
				return rt
			}
			return os.Getenv(k)
		}}
		code := run(ctx, e, []string{"desktop", "open", "--browser", browser, "--allow-origin", portal.URL,
			"--config", filepath.Join(rt, "none.json"), "--module", tok.Module, "--trust-jwks", jwksPath, "--linger", "500ms", "--", link})
		return code, out.String()
	}
	waitURLs := func(n int) []string {
		t.Helper()
		for range 200 {
			b, _ := os.ReadFile(urls)
			if lines := strings.Fields(string(b)); len(lines) >= n {
				return lines
			}
			time.Sleep(25 * time.Millisecond)
		}
		t.Fatalf("the browser was not opened %d times", n)
		return nil
	}
	cancelPage := func(page string) {
		t.Helper()
		resp, err := http.Get(page)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("no form on %s:\n%s", page, body)
		}
		u, _ := url.Parse(page)
		req, _ := http.NewRequest("POST", page+"cancel", strings.NewReader("csrf="+string(m[1])))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://"+u.Host)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	first := make(chan string, 1)
	go func() {
		code, out := open(ctx, portal.issue(t, key))
		first <- fmt.Sprintf("%d %s", code, out)
	}()
	page1 := waitURLs(1)[0]
	if fi, err := os.Stat(filepath.Join(rt, "securesign", "desktop.sock")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("instance socket: %v %v", fi, err)
	}
	// A second click while the first request is open: refused, one at a time.
	if code, out := open(ctx, portal.issue(t, key)); code == 0 || !strings.Contains(out, "in progress") {
		t.Fatalf("second link while busy: exit %d: %s", code, out)
	}
	// ...and the open request's page is shown again.
	if again := waitURLs(2)[1]; again != page1 {
		t.Fatalf("while busy the instance opened %q, want %q", again, page1)
	}
	cancelPage(page1)
	// A click after it: forwarded to the running instance, which opens it.
	if code, out := open(ctx, portal.issue(t, key)); code != 0 || !strings.Contains(out, "handed the link") {
		t.Fatalf("forwarding: exit %d: %s", code, out)
	}
	page2 := waitURLs(3)[2]
	if page2 == page1 || !strings.HasPrefix(page2, strings.Split(page1, "/r/")[0]) {
		t.Fatalf("second page %q (first %q): want a new token on the same server", page2, page1)
	}
	cancelPage(page2)
	// Idle for --linger: the instance exits.
	if got := <-first; !strings.HasPrefix(got, "0 ") {
		t.Fatalf("first process: %s", got)
	}
	if n := portal.count(); n != 2 {
		t.Errorf("portal got %d results, want 2 (two cancels)", n)
	}
}
