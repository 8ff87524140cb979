package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/chromedp"
	"github.com/securesign/securesign/internal/testenv"
)

// Headless Chromium the way examples/portal's browser test drives it.

func chromiumPath(t *testing.T) string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	testenv.Missing(t, "Chromium", "apt-get install chromium")
	return ""
}

func newBrowser(t *testing.T) context.Context {
	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1000, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true))
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return bctx
}

// bySel selects by CSS selector.
func bySel(sel string) chromedp.QueryOption {
	return chromedp.ByFunc(func(ctx context.Context, t *chromedp.Target, n *chromedp.Node) ([]cdp.NodeID, error) {
		res, err := cdp.Call(ctx, t, dom.QuerySelectorAll, dom.QuerySelectorAllParams{NodeID: n.NodeID, Selector: sel})
		return res.NodeIDs, err
	})
}

func browse(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(cctx, steps...); err != nil {
		text, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
		t.Fatalf("%s: %v; page text:\n%s", what, err, text)
	}
}

func pageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(cctx, chromedp.Evaluate[string]("document.body.innerText"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// shoot writes a full-page PNG to $SECURESIGN_SCREENSHOTS/name.
func shoot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("SECURESIGN_SCREENSHOTS")
	if dir == "" {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(cctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Error(err)
	}
}

// TestOAuthConsentBrowser: the consent page in Chromium: it shows the
// document labels, their fingerprints and the credential; a wrong code
// keeps the user on the page; the right one returns them to the client,
// whose code buys a token that signs the approved digests.
func TestOAuthConsentBrowser(t *testing.T) {
	browser := newBrowser(t)
	g := newTestGW(t, nil)
	_, cid, cert := g.issueServerKey("oauth-browser", "RSA-2048")
	var mu sync.Mutex
	var got string
	client := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		got = r.URL.RawQuery
		mu.Unlock()
		w.Write([]byte("<!doctype html><title>Client</title><p id=back>Back at the signing application.</p>")) //nolint:errcheck
	}))
	t.Cleanup(client.Close)
	o := newOAuthClient(g)
	o.redirect = client.URL + "/callback"
	contract, annex := digest("Home loan agreement"), digest("Annex: repayment schedule")
	labels := []string{"Home loan agreement — ₹25,00,000", "Annex A: repayment schedule"}

	tab, cancel := chromedp.NewContext(browser)
	defer cancel()
	// The first action binds the tab to its context: not one with a timeout.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	browse(t, tab, "open the consent page", chromedp.Navigate(g.url+o.authorizeURL(cid, labels, contract, annex)), chromedp.WaitVisible("", bySel("#documents")))
	text := pageText(t, tab)
	for _, want := range []string{labels[0], labels[1], b64hex(contract)[:8], b64hex(annex)[:8], cid, "Rajesh Kumar", "Development tenant"} {
		if !strings.Contains(text, want) {
			t.Errorf("consent page lacks %q:\n%s", want, text)
		}
	}
	shoot(t, tab, "csc-consent.png")
	browse(t, tab, "phone width", chromedp.EmulateViewport(390, 844))
	shoot(t, tab, "csc-consent-narrow.png")
	browse(t, tab, "laptop width", chromedp.EmulateViewport(1000, 900))

	msg, err := readOutboxLast(g.dir)
	if err != nil {
		t.Fatal(err)
	}
	wrong := "000000"
	if msg["code"] == wrong {
		wrong = "111111"
	}
	browse(t, tab, "a wrong code", chromedp.SendKeys("", wrong, bySel("#otp")), chromedp.Click("", bySel("#approve")), chromedp.WaitVisible("", bySel("#error")))
	shoot(t, tab, "csc-consent-wrong-code.png")
	browse(t, tab, "the right code", chromedp.SendKeys("", msg["code"], bySel("#otp")), chromedp.Click("", bySel("#approve")), chromedp.WaitVisible("", bySel("#back")))
	mu.Lock()
	q := got
	mu.Unlock()
	vals, _ := url.ParseQuery(q)
	if vals.Get("state") != "st-42" || vals.Get("code") == "" {
		t.Fatalf("client got %q", q)
	}
	st, tok := o.token(vals.Get("code"), o.verifier)
	if st != 200 {
		t.Fatalf("token = %d %v", st, tok)
	}
	st, out := g.call("POST", "/csc/v2/signatures/signHash", tok["access_token"].(string), map[string]any{"credentialID": cid,
		"hashes": b64s(contract, annex), "hashAlgorithmOID": oidSHA256, "signAlgo": oidRSA256})
	if st != 200 {
		t.Fatalf("signHash = %d %v", st, out)
	}
	for i, sig := range sigsOf(t, out, 2) {
		opensslVerifyDigest(t, cert, [][]byte{contract, annex}[i], sig, "digest:sha256")
	}
}
