package gateway

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpki"
)

// consolePDF is the fixed document the console test uploads: one A4 page
// from internal/testpdf.Minimal("Personal Loan Agreement: Rajesh Kumar,
// 5,00,000 INR"); qpdf --check finds nothing in it.
const consolePDF = "testdata/console-agreement.pdf"

// TestConsoleBrowser drives the demo console in Chromium against the real
// binary started as the README's first command starts it (gateway --dev):
// paste the printed key, mint another, onboard a user, read the issue code
// from the outbox, issue a server-held certificate, upload and sign
// testdata's PDF (pdfsig judges the download), validate it, start a token
// session whose QR code loads and whose status flips to Signed when an
// app delivers its result, and read the audit log. With
// SECURESIGN_SCREENSHOTS=DIR it saves demo-console.png (1280 wide) and
// demo-console-narrow.png (390 wide).
func TestConsoleBrowser(t *testing.T) {
	pdfsig := testenv.LookPath(t, "pdfsig", "poppler-utils")
	browser := newBrowser(t)
	data := t.TempDir()
	p := startGateway(t, data, "127.0.0.1:0")
	if p.key == "" {
		t.Fatal("the gateway printed no key")
	}
	pdfPath, err := filepath.Abs(consolePDF)
	if err != nil {
		t.Fatal(err)
	}

	tab, cancel := chromedp.NewContext(browser)
	defer cancel()
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	var (
		mu      sync.Mutex
		console []string // the page's errors (CSP refusals land here)
	)
	if err := chromedp.Listen(tab, func(ev any) {
		if s := consoleError(ev); s != "" {
			mu.Lock()
			console = append(console, s)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if t.Failed() && len(console) > 0 {
			t.Logf("page errors:\n%s", strings.Join(console, "\n"))
		}
	})
	wait := func(what, expr string) {
		t.Helper()
		browse(t, tab, what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond)))
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(tab, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return s
	}
	click := func(id string) {
		t.Helper()
		browse(t, tab, "click #"+id, chromedp.WaitEnabled(chromedp.CSS("#"+id)), chromedp.Click(chromedp.CSS("#"+id)))
	}
	has := func(sel, sub string) string {
		return `(document.querySelector(` + jsString(sel) + `).textContent || '').includes(` + jsString(sub) + `)`
	}

	browse(t, tab, "open the console", chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(p.url+"/"), chromedp.WaitVisible(chromedp.CSS("#key-new")))

	// 0: the key the gateway printed works; a minted one too.
	browse(t, tab, "paste the key", chromedp.SetValue(chromedp.CSS("#key"), p.key), chromedp.Click(chromedp.CSS("#key-use")))
	wait("key in use", has("#key-status", "Using ss_test_"))
	click("key-new")
	wait("a new dev key", has("#key-status", `New key for tenant "dev"`))
	minted, err := chromedp.Run(tab, chromedp.Evaluate[string](`sessionStorage.getItem('securesign-console-key')`))
	if err != nil || !strings.HasPrefix(minted, PrefixTestKey) || minted == p.key {
		t.Fatalf("minted key %q (%v)", minted, err)
	}
	if strings.Contains(p.stderr.String(), minted) {
		t.Error("the minted key is in the gateway's log")
	}

	// 1: onboard, with the address fields issuance needs.
	browse(t, tab, "user form", chromedp.SetValue(chromedp.CSS("#u-ext"), "cust-console"))
	click("u-create")
	wait("user created", has("#u-status", "Created Rajesh Kumar as usr_"))

	// 2: the issue code from the outbox, then the certificate.
	click("i-otp")
	wait("issue code read", `/^[0-9]{6}$/.test(document.querySelector('#i-code').value)`)
	if s := text("#i-status"); !strings.Contains(s, "Issue a certificate in the name of Rajesh Kumar") {
		t.Errorf("issue status %q", s)
	}
	click("i-issue")
	wait("certificate issued", has("#i-status", "Issued crt_"))

	// 3: upload and sign with the server key, bound to the PDF's SHA-256.
	browse(t, tab, "choose the PDF", chromedp.SetUploadFiles(chromedp.CSS("#p-file"), []string{pdfPath}))
	click("p-otp")
	wait("sign code read", `/^[0-9]{6}$/.test(document.querySelector('#p-code').value)`)
	if s := text("#p-status"); !strings.Contains(s, `"console-agreement.pdf"`) {
		t.Errorf("sign status %q: the code does not name the document", s)
	}
	click("p-sign")
	wait("signed", has("#p-status", "Signed (B-T"))
	signed, name := download(t, tab, "#p-download")
	if name != "console-agreement-signed.pdf" {
		t.Errorf("downloaded as %q", name)
	}
	out := filepath.Join(t.TempDir(), "signed.pdf")
	if err := os.WriteFile(out, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	if res, err := exec.Command(pdfsig, out).CombinedOutput(); err != nil || !strings.Contains(string(res), "Signature is Valid") ||
		!strings.Contains(string(res), "Rajesh Kumar") {
		t.Errorf("pdfsig on the downloaded PDF: %v\n%s", err, res)
	}

	// 4: validate it: valid, in plain words.
	click("v-signed")
	wait("report", has("#v-report", "Valid: console-agreement-signed.pdf has 1 signature, all valid."))
	rep := text("#v-report")
	for _, want := range []string{"Signed by Rajesh Kumar", "The signed bytes are unchanged.", "It covers the whole file.",
		"The certificate chains to a root this gateway trusts.", "Time proved by a timestamp"} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}

	// 5: a token session: the QR image loads from qrUrl, the status flips
	// to Signed over watchUrl when a signing app delivers its result.
	g := p.client(data, p.key)
	k := testpki.Key(t, testpki.P256, 3)
	app := appSigner(t, k, g.issueCSR(p.key, "cust-console-token", k))
	click("t-start")
	wait("QR code shown", `document.querySelector('#t-qr').complete && document.querySelector('#t-qr').naturalWidth > 100`)
	link := text("#t-linktext")
	if !strings.HasPrefix(link, "securesign://sign?") {
		t.Fatalf("deep link %q", link)
	}
	if href, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('#t-link').href`)); href != link {
		t.Errorf("link href %q, want %q", href, link)
	}
	wait("pending", has("#t-state", "Waiting for the signing app"))
	if st, res := g.postResult(signLink(t, g, link, app)); st != 200 {
		t.Fatalf("callback = %d %v", st, res)
	}
	wait("signed live", `document.querySelector('#t-state').textContent === 'Signed'`)

	// The PDF kind: a session for the token's certificate; once the app
	// has signed, the finished PDF downloads and pdfsig accepts it.
	browse(t, tab, "a PDF session", chromedp.SetValue(chromedp.CSS("#t-kind"), "pdf"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#t-kind').dispatchEvent(new Event('change'))`),
		chromedp.WaitVisible(chromedp.CSS("#t-file")), chromedp.SetUploadFiles(chromedp.CSS("#t-file"), []string{pdfPath}),
		chromedp.SetValue(chromedp.CSS("#t-serial"), app.Certificate().SerialNumber.Text(16)))
	click("t-start")
	wait("PDF session pending", has("#t-state", "Waiting for the signing app")+` && document.querySelector('#t-linktext').textContent !== `+jsString(link))
	link = text("#t-linktext")
	if st, res := g.postResult(signLink(t, g, link, app)); st != 200 {
		t.Fatalf("PDF session callback = %d %v", st, res)
	}
	wait("PDF session signed", `document.querySelector('#t-state').textContent === 'Signed' && !document.querySelector('#t-download').classList.contains('hidden')`)
	sessionPDF, _ := download(t, tab, "#t-download")
	out2 := filepath.Join(t.TempDir(), "session.pdf")
	if err := os.WriteFile(out2, sessionPDF, 0o600); err != nil {
		t.Fatal(err)
	}
	if res, err := exec.Command(pdfsig, out2).CombinedOutput(); err != nil || !strings.Contains(string(res), "Signature is Valid") {
		t.Errorf("pdfsig on the session's PDF: %v\n%s", err, res)
	}

	// 6: the audit log lists what happened, newest first, and pages.
	click("a-load")
	wait("audit entries", has("#a-table", "session.result"))
	audit := text("#a-table tbody")
	for _, want := range []string{"user.create", "otp.send", "certificate.issue", "pdf.sign.server", "session.create", "session.result", "pdf.finish"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %s:\n%s", want, audit)
		}
	}
	first, _ := chromedp.Run(tab, chromedp.TextContent(chromedp.CSS("#a-table tbody tr td:nth-child(2)")))
	if first != "session.result" && first != "pdf.finish" {
		t.Errorf("newest entry %q: not newest first?", first)
	}
	rows := func() int {
		n, _ := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('#a-table tbody tr').length`))
		return n
	}
	for page := 0; ; page++ {
		more, _ := chromedp.Run(tab, chromedp.Evaluate[bool](`!document.querySelector('#a-more').disabled`))
		if !more {
			if page == 0 {
				t.Error("one page holds the whole log: paging untested")
			}
			break
		}
		before := rows()
		click("a-more")
		wait("older entries", `document.querySelectorAll('#a-table tbody tr').length > `+jsInt(before))
	}
	wait("the first entries", has("#a-table", "apikey.create"))
	if s := text("#a-status"); !strings.Contains(s, "that is all") {
		t.Errorf("audit status %q", s)
	}

	// Every exchange is shown with its request and answer.
	n, _ := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('details.x').length`))
	if n < 12 {
		t.Errorf("%d exchanges shown", n)
	}
	page := pageText(t, tab)
	for _, want := range []string{"POST /v1/users", "POST /v1/certificates/issue", "GET /v1/dev/otp/otp_", "POST /v1/sign/pdf", "POST /v1/verify/pdf",
		"POST /v1/sign/hash", "GET /v1/audit/logs?limit=10&next=", `"keyAlgo": "ECDSA-P256"`, `"postalCode": "560001"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The minted key is shown once, in the answer that carries it (to
	// copy); requests show it shortened.
	if n := strings.Count(page, minted); n != 1 {
		t.Errorf("the page shows the minted key %d times, want once (its answer)", n)
	}
	mu.Lock()
	if len(console) > 0 {
		t.Errorf("page errors:\n%s", strings.Join(console, "\n"))
	}
	mu.Unlock()
	// The screenshots show every step with one exchange open (the user's
	// creation), so that they stay readable.
	browse(t, tab, "fold the exchanges", chromedp.Evaluate[chromedp.Void](`for (const d of document.querySelectorAll('details.x')) d.open = false;
		document.querySelector('#log-user details.x').open = true;`))
	shoot(t, tab, "demo-console.png")

	browse(t, tab, "phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Sleep(300*time.Millisecond))
	wide, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > 390`))
	if err != nil || wide {
		t.Errorf("the page scrolls sideways at 390 px (%v)", err)
	}
	shoot(t, tab, "demo-console-narrow.png")
}

// download clicks a download link and returns the file Chromium saved.
func download(t *testing.T, tab context.Context, sel string) ([]byte, string) {
	t.Helper()
	dir := t.TempDir()
	browse(t, tab, "allow downloads", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir})
		return err
	}), chromedp.Click(chromedp.CSS(sel)))
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		es, _ := os.ReadDir(dir)
		if len(es) == 1 && !strings.HasSuffix(es[0].Name(), ".crdownload") {
			b, err := os.ReadFile(filepath.Join(dir, es[0].Name()))
			if err == nil && len(b) > 0 {
				return b, es[0].Name()
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: nothing downloaded", sel)
	return nil, ""
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func jsInt(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// consoleError is an error the page reported (an exception, console.error,
// a refused load such as a CSP violation), or "".
func consoleError(ev any) string {
	var s string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		s = "exception: " + e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			s += " " + e.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type != runtime.ConsoleAPICalledTypeError {
			return ""
		}
		s = "console.error:"
		for _, a := range e.Args {
			s += " " + string(a.Value) + a.Description
		}
	case *cdplog.EventEntryAdded:
		if e.Entry.Level != cdplog.EntryLevelError {
			return ""
		}
		s = string(e.Entry.Source) + ": " + e.Entry.Text + " " + e.Entry.URL
	}
	if strings.Contains(s, "favicon.ico") {
		return "" // browsers ask for it; the gateway has none
	}
	return s
}
