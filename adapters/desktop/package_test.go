package desktop

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/deeplink/sigpkg"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/pdf"
	"github.com/securesign/securesign/signer"
)

// TestSigningPackage: a link with a signing package is checked before the
// PIN; the digests signed are the ones the package proves; a portal that
// swaps the prepared PDF, or puts another document's digest under a
// harmless name, is refused with SS_LINK_INVALID naming the check.
func TestSigningPackage(t *testing.T) {
	ks := newFakeKeystore(t)
	prep := func(name, text string) sigpkg.Document {
		in := testpdf.Minimal(text)
		var out bytes.Buffer
		ps, err := pdf.Prepare(context.Background(), &out, bytes.NewReader(in), int64(len(in)), ks.leaf.Cert, ks.leaf.Chain, pdf.SignOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return sigpkg.Document{Name: name, PDF: out.Bytes(), SignedAttrs: ps.SignedAttributes(), ByteRange: ps.ByteRange()}
	}
	loan := prep("Personal Loan Agreement", "Personal Loan Agreement 4711")
	other := prep("Personal Loan Agreement", "Personal Loan Agreement 9999")
	harmless := prep("Newsletter consent", "Newsletter consent")
	digest := func(d sigpkg.Document) []byte {
		h := crypto.SHA256.New()
		h.Write(d.SignedAttrs)
		return h.Sum(nil)
	}

	var mu sync.Mutex
	packages := map[string][]byte{}
	results := make(chan *callback.Result, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cb" && r.Method == http.MethodPost {
			res, err := callback.Decode(r.PostFormValue("ss_result"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			results <- res
			return
		}
		mu.Lock()
		b, ok := packages[r.URL.Path]
		mu.Unlock()
		if ok {
			w.Write(b)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	k := linkKey(t)
	app := &App{Policy: Policy{AllowedOrigins: []string{srv.URL}}, Keystore: ks,
		TrustedKeys: &deeplink.KeySet{Keys: []deeplink.PublicKey{k.Public()}}}

	link := func(path string, docs []sigpkg.Document, hashes [][]byte) string {
		t.Helper()
		id := make([]byte, 8)
		rand.Read(id)
		reqID := "req-" + testID(id)
		raw, err := sigpkg.Build(&sigpkg.Package{RequestID: reqID, Documents: docs})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		packages[path] = raw
		mu.Unlock()
		l, err := deeplink.Build(&deeplink.Request{Action: deeplink.ActionSign, RequestID: reqID, Hashes: hashes,
			HashAlgo: crypto.SHA256, CallbackURL: srv.URL + "/cb", Origin: srv.URL, Expires: time.Now().Add(10 * time.Minute),
			PackageURL: srv.URL + path, PackageSHA256: sigpkg.Digest(raw)}, k)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	// Valid, the link carrying no digest: the package's is signed.
	c, err := app.Check(context.Background(), link("/ok", []sigpkg.Document{loan}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Documents) != 1 || c.Documents[0].Name != loan.Name {
		t.Fatalf("documents %+v", c.Documents)
	}
	certs, _ := ks.Certificates(context.Background())
	res, err := app.Sign(context.Background(), c, certs[0], []byte("1234"))
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := res.Signatures()
	if err != nil || len(sigs) != 1 {
		t.Fatalf("%d signatures (%v)", len(sigs), err)
	}
	if err := signer.VerifyDigest(ks.leaf.Cert.PublicKey, signer.DefaultAlgorithm(ks.leaf.Cert.PublicKey), crypto.SHA256, digest(loan), sigs[0]); err != nil {
		t.Fatalf("the signature is not over the package's digest: %v", err)
	}

	swapped := loan
	swapped.PDF = other.PDF
	attacks := []struct {
		name, path string
		docs       []sigpkg.Document
		hashes     [][]byte
		check      string
	}{
		{"swapped PDF", "/swapped", []sigpkg.Document{swapped}, [][]byte{digest(loan)}, sigpkg.CheckMessageDigest},
		{"other digest under a harmless name", "/harmless", []sigpkg.Document{harmless}, [][]byte{digest(loan)}, sigpkg.CheckDigest},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			c, err := app.Check(context.Background(), link(a.path, a.docs, a.hashes))
			if err == nil || c == nil || !strings.Contains(err.Error(), a.check) {
				t.Fatalf("got %v, want a refusal naming %s", err, a.check)
			}
			if got := Code(err); got != callback.CodeLinkInvalid {
				t.Fatalf("code %s, want SS_LINK_INVALID", got)
			}
			if _, err := app.Sign(context.Background(), c, certs[0], []byte("1234")); err == nil {
				t.Fatal("a refused package was signed")
			}
			// Headless: refused before the PIN is used, and reported.
			res, err := app.Headless(context.Background(), link(a.path+"/headless", a.docs, a.hashes), HeadlessOptions{PIN: []byte("1234")})
			if err == nil || res == nil || res.Success || res.Error != callback.CodeLinkInvalid || !strings.Contains(res.Message, a.check) {
				t.Fatalf("headless: %+v, %v", res, err)
			}
			if got := <-results; got.Success || got.Error != callback.CodeLinkInvalid {
				t.Fatalf("the portal got %+v", got)
			}
		})
	}
}

// fakeRenderer draws every page as the same tiny PNG and counts the calls.
type fakeRenderer struct {
	mu    sync.Mutex
	calls int
}

var tinyPNG = []byte("\x89PNG\r\n\x1a\nfake")

func (r *fakeRenderer) RenderPage(_ context.Context, pdf []byte, page int) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	return tinyPNG, nil
}

// packageUI opens, on a fresh UI, a link whose package holds doc (or, when
// swap is set, doc with swap's PDF), and returns the page address.
func packageUI(t *testing.T, app *App, ks *fakeKeystore, swap bool) (page string, prepared []byte) {
	t.Helper()
	page, docs := packageUIDocs(t, app, ks, swap, 1)
	return page, docs[0]
}

// packageUIDocs is packageUI with n documents: the first has two pages and a
// visible signature on page 2, the others one page and an invisible one.
func packageUIDocs(t *testing.T, app *App, ks *fakeKeystore, swap bool, n int) (page string, prepared [][]byte) {
	t.Helper()
	var docs []sigpkg.Document
	var digests [][]byte
	for i := range n {
		in := testpdf.Bytes(testpdf.Options{Pages: 2 - min(i, 1)})
		opts := pdf.SignOptions{}
		if i == 0 {
			opts.Appearance = &pdf.Appearance{Page: 2, X: 59.5, Y: 84.2, Width: 119, Height: 84.2}
		}
		var out bytes.Buffer
		ps, err := pdf.Prepare(context.Background(), &out, bytes.NewReader(in), int64(len(in)), ks.leaf.Cert, ks.leaf.Chain, opts)
		if err != nil {
			t.Fatal(err)
		}
		doc := sigpkg.Document{Name: fmt.Sprintf("Loan agreement part %d", i+1), PDF: out.Bytes(), SignedAttrs: ps.SignedAttributes(), ByteRange: ps.ByteRange()}
		if swap {
			doc.PDF = bytes.Replace(bytes.Clone(doc.PDF), []byte("Page"), []byte("Paje"), 1)
		}
		docs, digests, prepared = append(docs, doc), append(digests, ps.Digest), append(prepared, out.Bytes())
	}
	var raw []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pkg" {
			w.Write(raw)
			return
		}
		w.WriteHeader(http.StatusOK) // the callback
	}))
	t.Cleanup(srv.Close)
	reqID := "req-package-ui-" + testID([]byte{byte(len(t.Name()))})
	raw, err := sigpkg.Build(&sigpkg.Package{RequestID: reqID, Documents: docs})
	if err != nil {
		t.Fatal(err)
	}
	k := linkKey(t)
	app.Policy.AllowedOrigins = []string{srv.URL}
	app.TrustedKeys = &deeplink.KeySet{Keys: []deeplink.PublicKey{k.Public()}}
	l, err := deeplink.Build(&deeplink.Request{Action: deeplink.ActionSign, RequestID: reqID, Hashes: digests,
		HashAlgo: crypto.SHA256, CallbackURL: srv.URL + "/cb", Origin: srv.URL, Expires: time.Now().Add(10 * time.Minute),
		PackageURL: srv.URL + "/pkg", PackageSHA256: sigpkg.Digest(raw)}, k)
	if err != nil {
		t.Fatal(err)
	}
	ui, err := app.NewUI()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go ui.Serve(ctx)
	app.OpenBrowser = func(context.Context, string) error { return nil }
	page, err = ui.Open(ctx, l)
	if err != nil && !swap {
		t.Fatal(err)
	}
	return page, prepared
}

// TestPageShowsPackage: the page shows the package's document before the
// PIN (drawn pages with the signature's mark, or the browser's viewer),
// serves exactly the checked PDF bytes, and nothing else.
func TestPageShowsPackage(t *testing.T) {
	ks := newFakeKeystore(t)
	r := &fakeRenderer{}
	page, prepared := packageUI(t, &App{Keystore: ks, Renderer: r}, ks, false)
	resp, body := get(t, page, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, want := range []string{`id="documents"`, `data-pages="2"`, `data-sig-page="2"`, "2 pages · your signature goes on page 2, in the blue box",
		`src="/r/`, `/doc/1/page/1" alt="Page 1" width="595" height="842">`, `/doc/1/page/2"`, `id="doc-1-mark"`, ".mark-1-2{left:10.00%;top:80.00%;width:20.00%;height:10.00%}", "Open the PDF"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "autofocus") {
		t.Error("the PIN field takes the focus: the browser would scroll past the document")
	}
	if strings.Contains(body, "Document not shown") || strings.Contains(body, "<iframe") {
		t.Error("page with drawn pages warns or frames")
	}
	if d, p := strings.Index(body, `id="documents"`), strings.Index(body, `id="pin"`); d < 0 || p < 0 || d > p {
		t.Errorf("documents at %d, PIN at %d: the document must come first", d, p)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-src 'self'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("page CSP %q", csp)
	}
	base := strings.TrimSuffix(page, "/")
	resp, got := get(t, base+"/doc/1/pdf", nil)
	if resp.StatusCode != 200 || got != string(prepared) || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Errorf("PDF: %d %s, %d bytes, want the %d prepared bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(got), len(prepared))
	}
	if csp, xfo := resp.Header.Get("Content-Security-Policy"), resp.Header.Get("X-Frame-Options"); !strings.Contains(csp, "frame-ancestors 'self'") || xfo != "SAMEORIGIN" {
		t.Errorf("PDF frame headers: CSP %q, X-Frame-Options %q", csp, xfo)
	}
	if resp, _ := get(t, base+"/doc/1/pdf?download=1", nil); !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") {
		t.Errorf("download: %q", resp.Header.Get("Content-Disposition"))
	}
	for i := 0; i < 2; i++ {
		if resp, img := get(t, base+"/doc/1/page/2", nil); resp.StatusCode != 200 || img != string(tinyPNG) || resp.Header.Get("Content-Type") != "image/png" {
			t.Errorf("page image: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	if r.calls != 1 {
		t.Errorf("page 2 drawn %d times, want once (cached)", r.calls)
	}
	u, _ := url.Parse(page)
	for _, bad := range []string{base + "/doc/2/pdf", base + "/doc/0/pdf", base + "/doc/x/pdf", base + "/doc/1/page/3", base + "/doc/1/page/0",
		"http://" + u.Host + "/r/" + randomToken() + "/doc/1/pdf"} {
		if resp, _ := get(t, bad, nil); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", bad, resp.StatusCode)
		}
	}
	if resp, _ := get(t, base+"/doc/1/pdf", map[string]string{"Host": "evil.example:" + u.Port()}); resp.StatusCode != 421 {
		t.Errorf("PDF under a foreign Host: %d", resp.StatusCode)
	}
	_, body = get(t, page+"?lang=hi", nil)
	if !strings.Contains(body, "आप किस पर हस्ताक्षर कर रहे हैं") || !strings.Contains(body, "PDF खोलें") {
		t.Error("Hindi page lacks the document section")
	}

	// Without a renderer: the browser's own viewer, in a same-origin frame.
	ks2 := newFakeKeystore(t)
	page, _ = packageUI(t, &App{Keystore: ks2, Policy: Policy{PageRenderer: "browser"}}, ks2, false)
	_, body = get(t, page, nil)
	if !strings.Contains(body, `<iframe class="viewer" id="doc-1-viewer" src="/r/`) || strings.Contains(body, "<img") ||
		!strings.Contains(body, "your signature goes on page 2") || strings.Contains(body, "blue box") {
		t.Errorf("browser-viewer page:\n%s", body)
	}
	if resp, _ := get(t, strings.TrimSuffix(page, "/")+"/doc/1/page/1", nil); resp.StatusCode != 500 {
		t.Errorf("page image without a renderer: %d", resp.StatusCode)
	}
}

// TestPageRefusesPackage: a swapped PDF gets the refusal page, in plain
// words, with no PIN field.
func TestPageRefusesPackage(t *testing.T) {
	ks := newFakeKeystore(t)
	page, _ := packageUI(t, &App{Keystore: ks, Renderer: &fakeRenderer{}}, ks, true)
	_, body := get(t, page, nil)
	for _, want := range []string{`data-state="refused"`, `data-check="message-digest"`, "The document was changed after the website made this request", "Nothing was signed", `id="outcome-note"`, "Do not try again with this request"} {
		if !strings.Contains(body, want) {
			t.Errorf("refusal page lacks %q", want)
		}
	}
	if strings.Contains(body, `type="password"`) || strings.Contains(body, `id="documents"`) {
		t.Error("refusal page offers a PIN field or the document")
	}
}

// A link without a package says the document is not shown, in both languages.
func TestPageWithoutPackage(t *testing.T) {
	f := startUI(t)
	_, body := get(t, f.page, nil)
	if !strings.Contains(body, `id="no-document"`) || !strings.Contains(body, "Document not shown") || !strings.Contains(body, "Continue only if you trust "+f.portal.URL) {
		t.Errorf("no warning:\n%s", body)
	}
	_, body = get(t, f.page+"?lang=hi", nil)
	if !strings.Contains(body, "दस्तावेज़ नहीं दिखाया गया") {
		t.Error("no Hindi warning")
	}
}

// Two documents: each with its own heading, page count, PDF and signature line.
func TestPageShowsTwoDocuments(t *testing.T) {
	ks := newFakeKeystore(t)
	page, prepared := packageUIDocs(t, &App{Keystore: ks, Renderer: &fakeRenderer{}}, ks, false, 2)
	_, body := get(t, page, nil)
	for _, want := range []string{"Document 1 of 2", "Document 2 of 2", "Loan agreement part 1", "Loan agreement part 2",
		`id="doc-2" data-pages="1"`, "1 page · the signature is not drawn on a page; it is stored inside the PDF",
		`/doc/2/page/1"`, `id="doc-1-mark"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, `id="doc-2-mark"`) {
		t.Error("an invisible signature is marked")
	}
	for i, want := range prepared {
		if _, got := get(t, fmt.Sprintf("%sdoc/%d/pdf", page, i+1), nil); got != string(want) {
			t.Errorf("document %d: served bytes differ from the prepared PDF", i+1)
		}
	}
}

// The document line claims only what the layout established.
func TestPagesLine(t *testing.T) {
	p := messages.Printer("en", "en")
	for _, tc := range []struct {
		v    docView
		want string
	}{
		{docView{}, "SecureSign could not count this document's pages or find where the signature goes; read it in full below or open the PDF."},
		{docView{PageCount: 1}, "1 page · the signature is not drawn on a page; it is stored inside the PDF"},
		{docView{PageCount: 3, SigPage: 2, SigVisible: true}, "3 pages · your signature goes on page 2"},
		{docView{PageCount: 3, SigPage: 2, SigVisible: true, MarkedPage: true}, "3 pages · your signature goes on page 2, in the blue box"},
	} {
		if got := tc.v.pagesLine(p); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.v, got, tc.want)
		}
	}
}

// TestRequirePackage: under requirePackage a sign link without a package
// is refused before the PIN (SS_LINK_INVALID, check "present"), in plain
// words, reported to the portal; a register link and a link with a
// package are served as before.
func TestRequirePackage(t *testing.T) {
	ctx := context.Background()
	p := newTestPortal(t)
	ks := newFakeKeystore(t)
	app := newTestApp(t, p, ks)
	app.Policy.RequirePackage = true

	link, _ := signLink(t, p.URL, linkKey(t))
	_, err := app.Check(ctx, link)
	var pe *sigpkg.Error
	if !errors.As(err, &pe) || pe.Check != sigpkg.CheckPresent || Code(err) != callback.CodeLinkInvalid {
		t.Fatalf("sign link without a package: %v (%s)", err, Code(err))
	}
	reg := &deeplink.Request{Action: deeplink.ActionRegister, RequestID: "register-0002", CallbackURL: p.URL + "/cb",
		Origin: p.URL, Expires: time.Now().Add(5 * time.Minute), Challenge: make([]byte, 32)}
	regLink, err := deeplink.Build(reg, linkKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Check(ctx, regLink); err != nil {
		t.Errorf("register link: %v", err)
	}

	// The page: refused, nothing to type a PIN into, the portal told.
	var opened string
	app.OpenBrowser = func(_ context.Context, u string) error { opened = u; return nil }
	ui, err := app.NewUI()
	if err != nil {
		t.Fatal(err)
	}
	uctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go ui.Serve(uctx)
	if _, err := ui.Open(uctx, link); err == nil {
		t.Error("Open served a sign link without a package")
	}
	for _, lang := range []string{"", "?lang=hi"} {
		_, body := get(t, opened+lang, nil)
		for _, want := range []string{`data-state="refused"`, `data-check="present"`} {
			if !strings.Contains(body, want) {
				t.Errorf("page%s lacks %q", lang, want)
			}
		}
		if strings.Contains(body, `type="password"`) {
			t.Errorf("page%s offers a PIN field", lang)
		}
		if want := map[string]string{"": "set up to sign only documents it can show you", "?lang=hi": "केवल उन्हीं दस्तावेज़ों पर"}[lang]; !strings.Contains(body, want) {
			t.Errorf("page%s lacks %q", lang, want)
		}
	}
	p.wantFailure(t, callback.CodeLinkInvalid, "that the link has no package")

	// A link with a package is shown as before.
	ks2 := newFakeKeystore(t)
	page, _ := packageUI(t, &App{Keystore: ks2, Renderer: &fakeRenderer{}, Policy: Policy{RequirePackage: true}}, ks2, false)
	if _, body := get(t, page, nil); !strings.Contains(body, `id="documents"`) || !strings.Contains(body, `type="password"`) {
		t.Error("a link with a package is not offered for signing under requirePackage")
	}
}
