package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/deeplink/sigpkg"
	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/pdf"
)

// loanPDF is a two-page loan agreement, text in Helvetica, whose second page
// has room for the borrower's signature.
func loanPDF(amount string) []byte {
	text := func(lines [][3]any) string {
		var b strings.Builder
		for _, l := range lines {
			fmt.Fprintf(&b, "BT /F1 %d Tf 72 %d Td (%s) Tj ET\n", l[0], l[1], l[2])
		}
		return b.String()
	}
	p1 := text([][3]any{
		{22, 770, "Personal Loan Agreement"},
		{12, 745, "Agreement no. PL-2026-004711, made at Pune on 7 December 2026"},
		{13, 705, "Lender: Example Bank Ltd, 12 MG Road, Pune 411001"},
		{13, 685, "Borrower: Rajesh Kumar, 4 Shanti Nagar, Pune 411014"},
		{13, 645, "Loan amount: Rs " + amount},
		{13, 625, "Interest: 10.50% per year, fixed"},
		{13, 605, "Tenure: 60 months; EMI Rs 10,747 due on the 5th of each month"},
		{13, 585, "Processing fee: Rs 2,500 plus GST"},
		{12, 545, "1. The Lender lends and the Borrower borrows the loan amount on these terms."},
		{12, 527, "2. The Borrower repays by the EMIs above, through NACH from their account."},
		{12, 509, "3. A late EMI costs 2% per month on the amount overdue."},
		{12, 491, "4. The Borrower may prepay after 12 EMIs without charge."},
		{11, 60, "Page 1 of 2"},
	})
	p2 := text([][3]any{
		{12, 770, "5. This agreement is governed by the laws of India; courts at Pune have jurisdiction."},
		{12, 752, "6. The Borrower confirms having read and understood every term of this agreement."},
		{13, 200, "Signed by the Borrower:"},
		{11, 60, "Page 2 of 2"},
	})
	page := func(content int) string {
		return fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R /Resources << /Font << /F1 5 0 R >> >> >>", content)
	}
	stream := func(s string) string { return fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(s), s) }
	return testpdf.Objects([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>",
		page(4),
		stream(p1),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		page(7),
		stream(p2),
	})
}

// register uploads a loan agreement and registers the token's certificate
// for it, leaving the portal page at the sign step.
func (e *e2e) registerLoan(portal context.Context, name string) {
	e.t.Helper()
	e.uploadPDF(portal, name, loanPDF("5,00,000"))
	link := e.clickDeepLink(portal, "#register-link")
	tab, closeTab := e.openDesktop(portal, link)
	e.signOnDesktop(tab, e.tok.PIN)
	e.waitJS(tab, "registration done", `document.querySelector('#outcome')?.dataset.state === 'signed'`)
	closeTab()
	e.waitJS(portal, "sign button", `!!document.querySelector('#sign-link')`)
}

// portalCode is the SS_* code the portal recorded for the document on the
// portal page.
func (e *e2e) portalCode(portal context.Context) string {
	e.t.Helper()
	u := e.eval(portal, `location.pathname`)
	id := strings.TrimPrefix(u, "/doc/")
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	if d := e.p.docs[id]; d != nil {
		return d.Code
	}
	return ""
}

// TestBrowserSigningPackage is issue 19's end-to-end test: the portal's
// sign link carries a signing package; the Desktop Software's page shows
// the PDF's pages with the signature's place before the PIN; the signed PDF
// is valid in pdfsig. A portal that swaps the prepared PDF, and one that puts
// another document's digest under a harmless name, are refused before the
// PIN field is offered, and the portal is told SS_LINK_INVALID.
func TestBrowserSigningPackage(t *testing.T) {
	e := newE2E(t)
	pdfsig := testenv.LookPath(t, "pdfsig", "poppler-utils")
	certutil := testenv.LookPath(t, "certutil", "libnss3-tools")
	testenv.LookPath(t, "pdftoppm", "poppler-utils") // the desktop draws the pages with it
	e.p.SignOptions.Appearance = &pdf.Appearance{Page: 2, X: 72, Y: 90, Width: 260, Height: 80}
	portal, cancel := e.newTab()
	defer cancel()

	t.Run("the page shows the document; PIN; pdfsig", func(t *testing.T) {
		e.t = t
		e.registerLoan(portal, "Personal Loan Agreement.pdf")
		link := e.clickDeepLink(portal, "#sign-link")
		if !strings.Contains(link, "pkgUrl=") || !strings.Contains(link, "pkgSha256=") {
			t.Fatalf("sign link without a package: %s", link)
		}
		tab, closeTab := e.openDesktop(portal, link)
		defer closeTab()
		// Every page drawn, before the PIN field, the signature marked on page 2.
		e.waitJS(tab, "both pages drawn", `[...document.querySelectorAll('#doc-1 img')].length === 2 &&
			[...document.querySelectorAll('#doc-1 img')].every(i => i.complete && i.naturalWidth > 500)`)
		got := e.eval(tab, `[document.querySelector('#doc-1').dataset.pages, document.querySelector('#doc-1').dataset.sigPage,
			document.querySelector('#doc-1-mark').closest('figure').id,
			String(!!(document.querySelector('#documents').compareDocumentPosition(document.querySelector('#pin')) & Node.DOCUMENT_POSITION_FOLLOWING)),
			document.querySelector('#doc-1 .docname-text').textContent].join('|')`)
		if got != "2|2|doc-1-page-2|true|Personal Loan Agreement.pdf" {
			t.Errorf("pages|signature page|marked figure|documents before PIN|name = %q", got)
		}
		if meta := e.eval(tab, `document.querySelector('#doc-1-meta').textContent`); !strings.Contains(meta, "2 pages") || !strings.Contains(meta, "page 2") {
			t.Errorf("document line %q", meta)
		}
		// The mark sits in the lower part of page 2, where the widget is.
		if pos := e.eval(tab, `(() => { const m = document.querySelector('#doc-1-mark').getBoundingClientRect(),
			p = document.querySelector('#doc-1-page-2 img').getBoundingClientRect();
			return ((m.top - p.top) / p.height).toFixed(2) + ' ' + ((m.left - p.left) / p.width).toFixed(2); })()`); pos != "0.80 0.12" {
			t.Errorf("signature mark at %s of the page (top, left), want 0.80 0.12", pos)
		}
		// The PDF the page serves is the package's prepared PDF, same origin.
		href := e.eval(tab, `document.querySelector('#doc-1 .doclinks a').href`)
		page := e.eval(tab, `location.href`)
		if !strings.HasPrefix(href, strings.TrimSuffix(page, "/")) {
			t.Errorf("PDF link %q is not on the page's origin %q", href, page)
		}
		served := fetchPDF(t, href)
		e.p.mu.Lock()
		var prepared []byte
		for _, d := range e.p.docs {
			if d.prepared != nil && d.Status == StatusPending {
				prepared = d.prepared.file
			}
		}
		e.p.mu.Unlock()
		if !bytes.Equal(served, prepared) {
			t.Errorf("the page serves %d bytes, not the %d-byte prepared PDF", len(served), len(prepared))
		}
		// The user's "Show where you sign" link scrolls the pages to the mark.
		e.do(tab, "show where you sign", chromedp.Click("", css("#doc-1-show-sig")),
			chromedp.Evaluate[chromedp.Void]("window.scrollTo(0, 0)"))
		if vis := e.eval(tab, `(() => { const m = document.querySelector('#doc-1-mark').getBoundingClientRect(),
			b = document.querySelector('#doc-1 .pages').getBoundingClientRect();
			return String(m.top >= b.top && m.bottom <= b.bottom); })()`); vis != "true" {
			t.Errorf("after \"Show where you sign\" the mark is not in view")
		}
		if e.shots != "" {
			// Viewport captures: a full-page capture re-lays the page out
			// and loses the pages' scroll position, i.e. the mark.
			e.do(tab, "laptop", chromedp.EmulateViewport(1000, 2000), chromedp.Click("", css("#doc-1-show-sig")),
				chromedp.Evaluate[chromedp.Void]("window.scrollTo(0, 0)"), chromedp.Sleep(300*time.Millisecond))
			e.viewportShot(tab, "desktop-document.png")
			e.do(tab, "phone", chromedp.EmulateViewport(390, 844), chromedp.Click("", css("#doc-1-show-sig")),
				chromedp.Evaluate[chromedp.Void]("document.querySelector('#doc-1').scrollIntoView()"), chromedp.Sleep(300*time.Millisecond))
			e.viewportShot(tab, "desktop-document-narrow.png")
			e.do(tab, "wide", chromedp.ResetViewport())
		}

		e.signOnDesktop(tab, e.tok.PIN)
		e.waitJS(tab, "desktop outcome", `document.querySelector('#outcome')?.dataset.state === 'signed'`)
		e.waitJS(portal, "portal shows Signed", `document.querySelector('#status')?.dataset.status === 'signed'`)
		signed := fetchPDF(t, e.eval(portal, `document.querySelector('#download').href`))
		e.pdfsigValid(t, pdfsig, certutil, signed)
	})

	attacks := []struct {
		name, check, says, shot string
		tamper                  func(*testing.T, *sigpkg.Package)
	}{
		{"a portal that swaps the prepared PDF after making the link", sigpkg.CheckMessageDigest,
			"The document was changed after the website made this request", "desktop-package-refused.png",
			func(t *testing.T, p *sigpkg.Package) {
				// The same bytes but the amount: Rs 5,00,000 becomes Rs 9,00,000.
				swapped := bytes.Replace(p.Documents[0].PDF, []byte("Rs 5,00,000"), []byte("Rs 9,00,000"), 1)
				if bytes.Equal(swapped, p.Documents[0].PDF) {
					t.Error("the amount is not in the prepared PDF's bytes")
				}
				p.Documents[0].PDF = swapped
			}},
		{"a portal that puts another document's digest under a harmless name", sigpkg.CheckDigest,
			"What this request would sign is not the document the website sent", "",
			func(t *testing.T, p *sigpkg.Package) {
				// The link keeps the loan's digest; the package shows a
				// harmless, self-consistent document.
				in := testpdf.Minimal("Newsletter consent: send me the monthly newsletter")
				var out bytes.Buffer
				ps, err := pdf.Prepare(context.Background(), &out, bytes.NewReader(in), int64(len(in)), e.h.Intermediate.Cert, nil, pdf.SignOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				p.Documents[0] = sigpkg.Document{Name: "Newsletter consent", PDF: out.Bytes(), SignedAttrs: ps.SignedAttributes(), ByteRange: ps.ByteRange()}
			}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			e.t = t
			e.registerLoan(portal, "Personal Loan Agreement.pdf")
			// The next sign link is made by the dishonest portal.
			e.p.mu.Lock()
			e.p.tamperPackage = func(p *sigpkg.Package) { a.tamper(t, p) }
			for _, d := range e.p.docs {
				if d.Status == StatusRegistered || d.Status == StatusPending {
					d.SignLink = "" // made again, now tampered
				}
			}
			e.p.mu.Unlock()
			defer func() { e.p.mu.Lock(); e.p.tamperPackage = nil; e.p.mu.Unlock() }()
			e.do(portal, "reload", chromedp.Reload(), chromedp.WaitVisible("", css("#sign-link")))
			link := e.clickDeepLink(portal, "#sign-link")
			tab, closeTab := e.openDesktopRefused(portal, link)
			defer closeTab()
			got := e.eval(tab, `[document.querySelector('#outcome')?.dataset.state, document.querySelector('#outcome')?.dataset.check,
				String(!!document.querySelector('#pin, input[type=password], #documents'))].join('|')`)
			if want := "refused|" + a.check + "|false"; got != want {
				t.Errorf("desktop page: state|check|PIN or document shown = %q, want %q", got, want)
			}
			if says := e.eval(tab, `document.querySelector('#outcome-message').textContent`); !strings.Contains(says, a.says) || !strings.Contains(says, "Nothing was signed") {
				t.Errorf("the page says %q", says)
			}
			if a.shot != "" {
				e.screenshot(tab, a.shot)
			}
			e.waitJS(portal, "portal shows the failure", `document.querySelector('#status')?.dataset.status === 'failed'`)
			if code := e.portalCode(portal); code != "SS_LINK_INVALID" {
				t.Errorf("the portal received %q, want SS_LINK_INVALID", code)
			}
			// The customer reads on the portal what happened, not just "Not signed".
			if says := e.eval(portal, `document.querySelector('#status-message')?.textContent || ''`); !strings.Contains(says, "stopped this request before asking for your PIN") {
				t.Errorf("the portal says %q after the refusal", says)
			}
			if a.shot != "" {
				e.screenshot(portal, "portal-package-refused.png")
			}
		})
	}

	t.Run("a link without a package: document not shown", func(t *testing.T) {
		e.t = t
		d := sha256.Sum256([]byte("some document"))
		link, err := deeplink.Build(&deeplink.Request{Action: deeplink.ActionSign, RequestID: newID(), Hashes: [][]byte{d[:]},
			HashAlgo: crypto.SHA256, CallbackURL: e.origin + "/callback", Origin: e.origin,
			Expires: time.Now().Add(5 * time.Minute).Truncate(time.Second), Doc: "Loan agreement.pdf"}, e.p.LinkKey)
		if err != nil {
			t.Fatal(err)
		}
		tab, closeTab := e.openDesktop(portal, link)
		defer closeTab()
		got := e.eval(tab, `[document.querySelector('#no-document')?.textContent.includes('Document not shown'),
			!!document.querySelector('#pin'), !!document.querySelector('#documents')].join('|')`)
		if got != "true|true|false" {
			t.Errorf("warning shown|PIN offered|documents = %q", got)
		}
		e.screenshot(tab, "desktop-no-document.png")
		e.do(tab, "cancel", chromedp.Click("", css("#cancel")), chromedp.WaitVisible("", css("#outcome")))
	})
}

// viewportShot captures what the viewport shows.
func (e *e2e) viewportShot(ctx context.Context, name string) {
	e.t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(cctx, chromedp.CaptureScreenshot())
	if err != nil {
		e.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	os.MkdirAll(e.shots, 0o755)
	if err := os.WriteFile(filepath.Join(e.shots, name), png, 0o644); err != nil {
		e.t.Error(err)
	}
}

func fetchPDF(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("GET %s: %d, %d bytes", u, resp.StatusCode, len(b))
	}
	return b
}
