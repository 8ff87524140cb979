package gateway

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/securesign/securesign/internal/testpki"
)

// TestResultPageBrowser: the page a phone shows after the Mobile App
// delivered its result with GET /v1/callback, in Chromium at phone width:
// the signed page repeats document, certificate and time (in the viewer's
// zone, named); the cancelled page says so in plain words.
func TestResultPageBrowser(t *testing.T) {
	browser := newBrowser(t)
	g := newTestGW(t, nil)
	k := testpki.Key(t, testpki.RSA2048, 1)
	issued := g.issueCSR(g.key, "cust-result", k)
	app := appSigner(t, k, issued)
	out := g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("loan")), "hashAlgo": "SHA256",
		"certSerial": issued["serialNumber"], "doc": "Personal Loan Agreement"})
	enc := signLink(t, g, out["deepLink"].(string), app)

	tab, cancel := chromedp.NewContext(browser)
	defer cancel()
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	// A phone in India: the time must read as IST, whatever zone the server keeps.
	browse(t, tab, "phone width, Indian time", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Kolkata"})
			return err
		}))
	browse(t, tab, "the signed page", chromedp.Navigate(g.url+"/v1/callback?ss_result="+urlQueryEscape(enc)), chromedp.WaitVisible("", bySel("#result")))
	text := pageText(t, tab)
	for _, want := range []string{"You signed Personal Loan Agreement.", "With certificate ", " | valid until ", "You can close this window.", "Details"} {
		if !strings.Contains(text, want) {
			t.Errorf("signed page lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "SS_") || strings.Contains(text, out["requestId"].(string)) {
		t.Errorf("codes or ids in front of the customer:\n%s", text)
	}
	at, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('#at time').textContent`))
	if err != nil || !(strings.Contains(at, "IST") || strings.Contains(at, "GMT+5:30")) {
		t.Errorf("signing time %q (%v): no zone", at, err)
	}
	shoot(t, tab, "gateway-result.png")

	out2 := g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("loan 2")), "hashAlgo": "SHA256", "doc": "Personal Loan Agreement"})
	fail := mustEncodeFail(t, out2["requestId"].(string))
	browse(t, tab, "the cancelled page", chromedp.Navigate(g.url+"/v1/callback?ss_result="+urlQueryEscape(fail)), chromedp.WaitVisible("", bySel("#result")))
	if text := pageText(t, tab); !strings.Contains(text, "You cancelled. Nothing was signed.") {
		t.Errorf("cancelled page:\n%s", text)
	}
	shoot(t, tab, "gateway-result-cancelled.png")
}
