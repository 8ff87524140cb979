package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/chromedp"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/internal/softhsmtest"
	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
)

// e2e is the whole cast: a SoftHSM token with a DSC-like certificate, the
// example portal, the Desktop Software's page server and one Chromium.
type e2e struct {
	t       *testing.T
	portal  *httptest.Server
	p       *Portal
	origin  string
	desk    *desktopProc
	browser context.Context
	tok     *softhsmtest.Token
	h       *testpki.Hierarchy
	shots   string
	// statusPolls counts GET /doc/{id}/status: the page follows the
	// status with server-sent events, so it stays 0 where EventSource is.
	statusPolls atomic.Int64
}

func chromium(t *testing.T) string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	testenv.Missing(t, "Chromium", "apt-get install chromium")
	return ""
}

func newE2E(t *testing.T) *e2e {
	exe := chromium(t)
	tok := softhsmtest.New(t)
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.RSA2048, testpki.Options{CommonName: "Rajesh Kumar"})
	tok.Import(t, "Rajesh Kumar", leaf.Key, leaf.Cert)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://" + ln.Addr().String()
	key, err := deeplink.NewSigningKey("portal-e2e", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(h.Root.Cert)
	p := NewPortal(origin, key, roots)
	p.SetIntermediates([]*x509.Certificate{h.Intermediate.Cert})
	e := &e2e{t: t, origin: origin, h: h, tok: tok, p: p, shots: os.Getenv("SECURESIGN_SCREENSHOTS")}
	ph := p.Handler()
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/status") {
			e.statusPolls.Add(1)
		}
		ph.ServeHTTP(w, r)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	e.portal = srv

	desk := newDesktopProc(t, origin, tok.Module)

	bctx := newBrowser(t, exe)
	e.desk, e.browser = desk, bctx
	return e
}

// newBrowser starts a headless Chromium for the test; its first tab is the
// returned context.
func newBrowser(t *testing.T, exe string) context.Context {
	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1000, 1300),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true))
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return bctx
}

// css selects by CSS selector (a plain string would be a DOM text search).
func css(sel string) chromedp.QueryOption {
	return chromedp.ByFunc(func(ctx context.Context, t *chromedp.Target, n *chromedp.Node) ([]cdp.NodeID, error) {
		res, err := cdp.Call(ctx, t, dom.QuerySelectorAll, dom.QuerySelectorAllParams{NodeID: n.NodeID, Selector: sel})
		return res.NodeIDs, err
	})
}

func (e *e2e) do(ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tctx, c := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer c()
		text, _ := chromedp.Run(tctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
		e.t.Fatalf("%s: %v; page text:\n%s", what, err, text)
	}
}

// waitJS evaluates expr until it is true; it survives the portal page's
// reloads, which a chromedp Poll does not.
func (e *e2e) waitJS(ctx context.Context, what, expr string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(cctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		time.Sleep(150 * time.Millisecond)
	}
	html, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
	e.t.Fatalf("timed out waiting for %s; page text:\n%s", what, html)
}

func (e *e2e) eval(ctx context.Context, expr string, opts ...chromedp.EvaluateOption) string {
	e.t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(cctx, chromedp.Evaluate[string](expr, opts...))
	if err != nil {
		e.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return s
}

// clickDeepLink clicks the portal's securesign:// button as a user would
// and captures the navigation it starts: a capturing click listener records
// the URL the browser is about to open and stops the browser from handing
// it to the OS (there is no scheme handler inside the test).
func (e *e2e) clickDeepLink(ctx context.Context, sel string) string {
	e.t.Helper()
	e.eval(ctx, `(() => { window.__ssLink = ''; document.addEventListener('click', ev => {
		const a = ev.target.closest('a[href^="securesign:"]'); if (!a) return;
		window.__ssLink = a.href; ev.preventDefault(); }, {capture: true, once: true}); return 'ok'; })()`)
	e.do(ctx, "click "+sel, chromedp.Click("", css(sel)))
	link := e.eval(ctx, `window.__ssLink`)
	href := e.eval(ctx, `document.querySelector('`+sel+`').getAttribute('href')`)
	if !strings.HasPrefix(link, "securesign://") || link != href {
		e.t.Fatalf("captured %q, href %q", link, href)
	}
	return link
}

// openDesktop hands link to the Desktop Software as the OS would, by running
// "securesign desktop open LINK", and opens the page it asks the browser to
// show in a new tab of the test's browser.
func (e *e2e) openDesktop(ctx context.Context, link string) (context.Context, context.CancelFunc) {
	e.t.Helper()
	return e.showDesktop(e.desk.open(e.t, link))
}

// openDesktopRefused is openDesktop for a link the Desktop Software refuses.
func (e *e2e) openDesktopRefused(ctx context.Context, link string) (context.Context, context.CancelFunc) {
	e.t.Helper()
	return e.showDesktop(e.desk.openRefused(e.t, link))
}

func (e *e2e) showDesktop(page string) (context.Context, context.CancelFunc) {
	e.t.Helper()
	tab, cancel := e.newTab()
	e.do(tab, "open the desktop page", chromedp.Navigate(page), chromedp.WaitVisible("", css("main")))
	return tab, cancel
}

// newTab opens a tab. The first action on a chromedp context allocates
// its tab and binds the tab's life to that context, so it must run on the
// context itself, not on one with a timeout.
func (e *e2e) newTab() (context.Context, context.CancelFunc) {
	tab, cancel := chromedp.NewContext(e.browser)
	if err := chromedp.Do(tab); err != nil {
		e.t.Fatalf("new tab: %v", err)
	}
	return tab, cancel
}

func (e *e2e) screenshot(ctx context.Context, name string) {
	if e.shots == "" {
		return
	}
	var (
		png []byte
		err error
	)
	// The portal page reloads itself while it polls; a capture during a
	// reload fails ("0 width"), so try again briefly.
	for try := 0; try < 5; try++ {
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		png, err = chromedp.Run(cctx, chromedp.FullScreenshot(100)) // quality 100 gives PNG
		cancel()
		if err == nil {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err != nil {
		e.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	os.MkdirAll(e.shots, 0o755)
	if err := os.WriteFile(filepath.Join(e.shots, name), png, 0o644); err != nil {
		e.t.Error(err)
	}
}

// upload puts a PDF into the portal from its start page.
func (e *e2e) upload(ctx context.Context, name string) {
	e.t.Helper()
	e.uploadPDF(ctx, name, testpdf.Minimal("Loan agreement "+name))
}

// uploadPDF puts data into the portal as a PDF named name.
func (e *e2e) uploadPDF(ctx context.Context, name string, data []byte) {
	e.t.Helper()
	path := filepath.Join(e.t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		e.t.Fatal(err)
	}
	e.do(ctx, "upload", chromedp.Navigate(e.origin+"/"), chromedp.WaitVisible("", css("#pdf")),
		chromedp.SetUploadFiles("", []string{path}, css("#pdf")), chromedp.Click("", css("#upload")),
		chromedp.WaitVisible("", css("#status")))
}

func (e *e2e) portalStatus(ctx context.Context) string {
	return e.eval(ctx, `document.querySelector('#status') ? document.querySelector('#status').dataset.status : ''`)
}

// signOnDesktop types pin and presses Sign on the desktop page.
func (e *e2e) signOnDesktop(tab context.Context, pin string) {
	e.t.Helper()
	e.eval(tab, `window.__before = 'yes'`)
	e.do(tab, "type the PIN and sign", chromedp.Click("", css("input[name=cert]:checked")),
		chromedp.SendKeys("", pin, css("#pin")), chromedp.Click("", css("#sign")))
	// The answer is a new page: wait until the old one is gone.
	e.waitJS(tab, "the answer page", `window.__before !== 'yes' && document.readyState === 'complete'`)
}

// pdfsigValid has poppler's pdfsig judge signed with the test root trusted.
func (e *e2e) pdfsigValid(t *testing.T, pdfsig, certutil string, signed []byte) {
	t.Helper()
	dir := t.TempDir()
	pdfPath := filepath.Join(dir, "signed.pdf")
	os.WriteFile(pdfPath, signed, 0o600)
	rootPath := filepath.Join(dir, "root.pem")
	os.WriteFile(rootPath, testpki.PEM(e.h.Root.Cert), 0o600)
	nss := filepath.Join(dir, "nss")
	os.MkdirAll(nss, 0o700)
	for _, args := range [][]string{
		{"-N", "-d", "sql:" + nss, "--empty-password"},
		{"-A", "-d", "sql:" + nss, "-n", "root", "-t", "C,C,C", "-i", rootPath},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	out, err := exec.Command(pdfsig, "-nssdir", "sql:"+nss, pdfPath).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfsig: %v\n%s", err, out)
	}
	for _, want := range []string{"Signature is Valid", "Certificate is Trusted", "Rajesh Kumar"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("pdfsig output lacks %q:\n%s", want, out)
		}
	}
}

func TestBrowserEndToEnd(t *testing.T) {
	e := newE2E(t)
	pdfsig := testenv.LookPath(t, "pdfsig", "poppler-utils")
	certutil := testenv.LookPath(t, "certutil", "libnss3-tools")
	portal, cancel := e.newTab()
	defer cancel()

	t.Run("register, wrong PIN, sign, download, pdfsig", func(t *testing.T) {
		e.t = t
		e.upload(portal, "agreement.pdf")
		if s := e.portalStatus(portal); s != "uploaded" {
			t.Fatalf("portal status %q", s)
		}
		// Step 1: register the DSC.
		link := e.clickDeepLink(portal, "#register-link")
		if !strings.HasPrefix(link, "securesign://register?") {
			t.Fatalf("register link %q", link)
		}
		tab, closeTab := e.openDesktop(portal, link)
		origin := e.eval(tab, `document.querySelector('#origin').textContent`)
		verified := e.eval(tab, `document.querySelector('#link-status').dataset.verified`)
		if origin != e.origin || verified != "true" {
			t.Fatalf("desktop page shows origin %q verified %q", origin, verified)
		}
		e.signOnDesktop(tab, e.tok.PIN)
		e.waitJS(tab, "registration done", `document.querySelector('#outcome')?.dataset.state === 'signed'`)
		closeTab()

		// Step 2: the portal turns to the sign step by itself (polling).
		e.waitJS(portal, "sign button", `!!document.querySelector('#sign-link')`)
		e.screenshot(portal, "portal-pending.png")
		link = e.clickDeepLink(portal, "#sign-link")
		tab, closeTab = e.openDesktop(portal, link)
		defer closeTab()
		doc := e.eval(tab, `document.querySelector('#doc').textContent`)
		if doc != "agreement.pdf" {
			t.Errorf("desktop page shows document %q", doc)
		}
		// The user can compare the digest fingerprint on both pages.
		fpPortal := e.eval(portal, `document.querySelector('#fingerprint').textContent`)
		fpDesktop := e.eval(tab, `document.querySelector('.fps li').textContent`)
		if fpPortal != fpDesktop || len(fpPortal) < 19 {
			t.Errorf("fingerprints differ: portal %q, desktop %q", fpPortal, fpDesktop)
		}
		e.screenshot(tab, "desktop-request.png")
		if e.shots != "" { // the same page on a phone-sized screen, and in Hindi
			e.do(tab, "narrow", chromedp.EmulateViewport(390, 844))
			e.screenshot(tab, "desktop-request-narrow.png")
			e.do(tab, "wide", chromedp.ResetViewport())
		}
		page := e.eval(tab, `location.origin + location.pathname`)
		e.do(tab, "the page in Hindi", chromedp.Navigate(page+"?lang=hi"), chromedp.WaitVisible("", css("#sign")))
		if b := e.eval(tab, `document.querySelector('#sign').textContent`); b != "हस्ताक्षर करें" {
			t.Errorf("Hindi sign button %q", b)
		}
		if e.shots != "" {
			e.do(tab, "open details", chromedp.EmulateViewport(1000, 1300), chromedp.Click("", css("#details summary")))
			e.screenshot(tab, "desktop-request-hi.png")
			e.do(tab, "narrow", chromedp.EmulateViewport(390, 844))
			e.screenshot(tab, "desktop-request-hi-narrow.png")
			e.do(tab, "wide", chromedp.ResetViewport())
		}
		e.do(tab, "the page in English", chromedp.Navigate(page+"?lang=en"), chromedp.WaitVisible("", css("#sign")))
		// On a phone the portal offers the Mobile App, not the token (a tab
		// of its own: the emulation outlives a reset).
		phone, closePhone := e.newTab()
		e.do(phone, "portal on a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
			chromedp.Navigate(e.eval(portal, `location.href`)), chromedp.WaitVisible("", css("#status")))
		if vis := e.eval(phone, `getComputedStyle(document.querySelector('#mobile')).display + ' ' + getComputedStyle(document.querySelector('#desktop')).display`); vis != "block none" {
			t.Errorf("portal on a phone: mobile/desktop display %q, want \"block none\"", vis)
		}
		e.screenshot(phone, "portal-phone.png")
		closePhone()

		// A wrong PIN: the page says how many tries are left; the portal stays pending.
		e.signOnDesktop(tab, "000000")
		msg := e.eval(tab, `document.querySelector('#error') ? document.querySelector('#error').textContent : ''`)
		if !strings.Contains(msg, "Wrong PIN") || !strings.Contains(msg, "ries") {
			t.Fatalf("after a wrong PIN the page says %q", msg)
		}
		e.screenshot(tab, "desktop-wrong-pin.png")
		time.Sleep(1500 * time.Millisecond) // time for a wrong change to show
		if s := e.portalStatus(portal); s != "pending" {
			t.Fatalf("portal status after a wrong PIN: %q, want pending", s)
		}

		// The right PIN.
		e.signOnDesktop(tab, e.tok.PIN)
		e.waitJS(tab, "desktop outcome", `document.querySelector('#outcome')?.dataset.state === 'signed'`)
		if got := e.eval(tab, `document.querySelector('#signed-at time').textContent`); !strings.ContainsAny(got, "+ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Errorf("signing time shown without a zone: %q", got)
		}
		e.screenshot(tab, "desktop-signed.png")
		e.waitJS(portal, "portal shows Signed", `document.querySelector('#status')?.dataset.status === 'signed' && document.querySelector('#status').textContent.startsWith('Signed')`)
		// It flipped by the watch stream (the callback's change event), not
		// by polling: no page asked /status, and the script says so.
		if n := e.statusPolls.Load(); n != 0 {
			t.Errorf("the portal pages polled /doc/{id}/status %d times; want server-sent events only", n)
		}
		if w := e.eval(portal, `window.ssWatch`); w != "sse" {
			t.Errorf("portal page follows the status by %q, want sse", w)
		}
		if v := e.eval(portal, `document.querySelector('#report-valid').textContent`); v != "valid" {
			t.Errorf("validation report on the page: %q", v)
		}
		if got := e.eval(portal, `document.querySelector('#signed-doc').textContent + ' / ' + document.querySelector('#signed-with').textContent`); !strings.Contains(got, "agreement.pdf") || !strings.Contains(got, "Rajesh K. | ") {
			t.Errorf("success page does not repeat document and certificate: %q", got)
		}
		e.screenshot(portal, "portal-signed.png")

		// Download the signed PDF and let poppler judge it.
		href := e.eval(portal, `document.querySelector('#download').href`)
		resp, err := http.Get(href)
		if err != nil {
			t.Fatal(err)
		}
		signed, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.HasPrefix(signed, []byte("%PDF-")) {
			t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(signed))
		}
		e.pdfsigValid(t, pdfsig, certutil, signed)
		// The report JSON is served too.
		resp, err = http.Get(e.origin + strings.TrimSuffix(strings.TrimPrefix(href, e.origin), "signed.pdf") + "report.json")
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Valid bool `json:"valid"`
		}
		json.NewDecoder(resp.Body).Decode(&rep)
		resp.Body.Close()
		if !rep.Valid {
			t.Error("validation report says not valid")
		}
	})

	t.Run("cancel", func(t *testing.T) {
		e.t = t
		e.upload(portal, "second.pdf")
		link := e.clickDeepLink(portal, "#register-link")
		tab, closeTab := e.openDesktop(portal, link)
		defer closeTab()
		e.do(tab, "cancel", chromedp.Click("", css("#cancel")), chromedp.WaitVisible("", css("#outcome")))
		if st := e.eval(tab, `document.querySelector('#outcome').dataset.state`); st != "cancelled" {
			t.Fatalf("desktop outcome %q", st)
		}
		e.waitJS(portal, "portal shows cancelled", `document.querySelector('#status')?.dataset.status === 'cancelled'`)
	})

	t.Run("local server refuses other origins in the browser", func(t *testing.T) {
		e.t = t
		e.upload(portal, "third.pdf")
		link := e.clickDeepLink(portal, "#register-link")
		tab, closeTab := e.openDesktop(portal, link)
		defer closeTab()
		page := e.eval(tab, `location.href`)
		// A page of another origin (no CSP of its own) tries its luck.
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `<!doctype html><form id=f method=post action=%q><input name=csrf value=x><input name=cert value=c0><input name=pin value=1234></form>`, page+"sign")
		}))
		defer evil.Close()
		etab, closeEvil := e.newTab()
		defer closeEvil()
		e.do(etab, "open the foreign page", chromedp.Navigate(evil.URL), chromedp.WaitReady("", css("#f")))
		read := e.eval(etab, fmt.Sprintf(`fetch(%q).then(r => r.text()).then(() => 'read').catch(() => 'blocked')`, page), chromedp.EvalAwaitPromise)
		if read != "blocked" {
			t.Errorf("a foreign origin read the desktop page: %q", read)
		}
		// A cross-origin form POST (a navigation, so the answer is visible).
		e.do(etab, "cross-origin POST", chromedp.Submit("", css("#f")), chromedp.Sleep(500*time.Millisecond))
		e.waitJS(etab, "refusal", `document.body.innerText.includes('cross-origin request refused')`)
		// The desktop request is still open and the portal still waits.
		if got := e.eval(tab, `document.querySelector('#outcome') ? 'finished' : 'open'`); got != "open" {
			t.Errorf("desktop request %s after a cross-origin POST", got)
		}
		if s := e.portalStatus(portal); s != "uploaded" {
			t.Errorf("portal status %q after a cross-origin POST", s)
		}
		e.do(tab, "cancel", chromedp.Click("", css("#cancel")), chromedp.WaitVisible("", css("#outcome")))
	})
}
