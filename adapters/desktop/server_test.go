package desktop

import (
	"context"
	"crypto"
	"crypto/rsa"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/securesign/securesign/callback"
)

// uiFixture starts a UI with one open request.
type uiFixture struct {
	ui      *UI
	page    string // page URL
	portal  *testPortal
	ks      *fakeKeystore
	digests [][]byte
}

func startUI(t *testing.T) *uiFixture {
	t.Helper()
	p := newTestPortal(t)
	ks := newFakeKeystore(t)
	app := newTestApp(t, p, ks)
	var opened string
	app.OpenBrowser = func(_ context.Context, u string) error { opened = u; return nil }
	ui, err := app.NewUI()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go ui.Serve(ctx)
	link, req := signLink(t, p.URL, linkKey(t))
	page, err := ui.Open(ctx, link)
	if err != nil {
		t.Fatal(err)
	}
	if page != opened {
		t.Fatalf("opened %q, page %q", opened, page)
	}
	return &uiFixture{ui: ui, page: page, portal: p, ks: ks, digests: req.Hashes}
}

func get(t *testing.T, u string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func post(t *testing.T, u string, form url.Values, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

var (
	csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	certRE = regexp.MustCompile(`name="cert" value="([^"]+)"`)
)

func (f *uiFixture) form(t *testing.T) (csrf, cert string) {
	_, body := get(t, f.page, nil)
	m, c := csrfRE.FindStringSubmatch(body), certRE.FindStringSubmatch(body)
	if m == nil || c == nil {
		t.Fatalf("no form in page:\n%s", body)
	}
	return m[1], c[1]
}

func (f *uiFixture) origin() map[string]string {
	return map[string]string{"Origin": "http://" + f.ui.Addr(), "Sec-Fetch-Site": "same-origin"}
}

func TestPageShowsRequest(t *testing.T) {
	f := startUI(t)
	resp, body := get(t, f.page, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, want := range []string{
		f.portal.URL, "This request really comes from", `asks you to sign <strong id="doc">Loan agreement #42.pdf</strong>`, "<summary>Details</summary>", Fingerprint(f.digests[0]),
		"Rajesh K. | ", "| valid until ", `type="password"`, `autocomplete="off"`, ">Sign<", ">Cancel<",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'nonce-", "form-action 'self'", "frame-ancestors 'none'", "style-src 'nonce-"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	for k := range resp.Header {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			t.Errorf("CORS header %s sent", k)
		}
	}
}

func TestLocalServerRefuses(t *testing.T) {
	f := startUI(t)
	csrf, cert := f.form(t)
	u, _ := url.Parse(f.page)
	wrongToken := "http://" + u.Host + "/r/" + randomToken() + "/"
	good := url.Values{"csrf": {csrf}, "cert": {cert}, "pin": {"1234"}}
	for _, tc := range []struct {
		name   string
		do     func() *http.Response
		status int
	}{
		{"wrong path token", func() *http.Response { r, _ := get(t, wrongToken, nil); return r }, 404},
		{"no token", func() *http.Response { r, _ := get(t, "http://"+u.Host+"/", nil); return r }, 404},
		{"sign with wrong path token", func() *http.Response {
			r, _ := post(t, wrongToken+"sign", good, f.origin())
			return r
		}, 404},
		{"foreign Host header (DNS rebinding)", func() *http.Response {
			r, _ := get(t, f.page, map[string]string{"Host": "evil.example:" + u.Port()})
			return r
		}, 421},
		{"localhost Host header", func() *http.Response {
			r, _ := get(t, f.page, map[string]string{"Host": "localhost:" + u.Port()})
			return r
		}, 421},
		{"cross-origin POST", func() *http.Response {
			r, _ := post(t, f.page+"sign", good, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
			return r
		}, 403},
		{"cross-site POST without Origin", func() *http.Response {
			r, _ := post(t, f.page+"sign", good, map[string]string{"Sec-Fetch-Site": "cross-site"})
			return r
		}, 403},
		{"POST with neither Origin nor Sec-Fetch-Site", func() *http.Response {
			r, _ := post(t, f.page+"sign", good, nil)
			return r
		}, 403},
		{"POST with null Origin", func() *http.Response {
			r, _ := post(t, f.page+"sign", good, map[string]string{"Origin": "null"})
			return r
		}, 403},
		{"POST without CSRF token", func() *http.Response {
			r, _ := post(t, f.page+"sign", url.Values{"cert": {cert}, "pin": {"1234"}}, f.origin())
			return r
		}, 403},
		{"POST with wrong CSRF token", func() *http.Response {
			r, _ := post(t, f.page+"sign", url.Values{"csrf": {randomToken()}, "cert": {cert}, "pin": {"1234"}}, f.origin())
			return r
		}, 403},
		{"cancel cross-origin", func() *http.Response {
			r, _ := post(t, f.page+"cancel", url.Values{"csrf": {csrf}}, map[string]string{"Origin": "http://evil.example"})
			return r
		}, 403},
		{"CORS preflight", func() *http.Response {
			req, _ := http.NewRequest(http.MethodOptions, f.page+"sign", nil)
			req.Header.Set("Origin", "https://evil.example")
			req.Header.Set("Access-Control-Request-Method", "POST")
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Error("preflight answered with CORS headers")
			}
			return r
		}, 405},
	} {
		if r := tc.do(); r.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, r.StatusCode, tc.status)
		}
	}
	if n := f.portal.count(); n != 0 {
		t.Fatalf("refused requests reached the portal: %d results", n)
	}
	// The legitimate request still works afterwards.
	resp, body := post(t, f.page+"sign", good, f.origin())
	if resp.StatusCode != 200 || !strings.Contains(body, `data-state="signed"`) {
		t.Fatalf("legitimate sign: %d\n%s", resp.StatusCode, body)
	}
}

func TestWrongPINThenSign(t *testing.T) {
	f := startUI(t)
	csrf, cert := f.form(t)
	_, body := post(t, f.page+"sign", url.Values{"csrf": {csrf}, "cert": {cert}, "pin": {"0000"}}, f.origin())
	if !strings.Contains(body, "Wrong PIN. 2 tries left.") {
		t.Errorf("first wrong PIN: page lacks tries left:\n%s", body)
	}
	_, body = post(t, f.page+"sign", url.Values{"csrf": {csrf}, "cert": {cert}, "pin": {"0000"}}, f.origin())
	if !strings.Contains(body, "Final try") {
		t.Errorf("second wrong PIN: no final-try warning:\n%s", body)
	}
	if n := f.portal.count(); n != 0 {
		t.Fatalf("wrong PIN reached the portal (%d results): it must stay pending", n)
	}
	_, body = post(t, f.page+"sign", url.Values{"csrf": {csrf}, "cert": {cert}, "pin": {"1234"}}, f.origin())
	if !strings.Contains(body, `data-state="signed"`) {
		t.Fatalf("not signed:\n%s", body)
	}
	res := <-f.portal.got
	if !res.Success || res.SignAlgo != "RSA-PKCS1-v1_5" {
		t.Fatalf("result %+v", res)
	}
	sigs, err := res.Signatures()
	if err != nil {
		t.Fatal(err)
	}
	pub := f.ks.leaf.Cert.PublicKey.(*rsa.PublicKey)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, f.digests[0], sigs[0]); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	// The request is finished: a replay changes nothing.
	post(t, f.page+"sign", url.Values{"csrf": {csrf}, "cert": {cert}, "pin": {"1234"}}, f.origin())
	select {
	case r := <-f.portal.got:
		t.Fatalf("second delivery: %+v", r)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestCancel(t *testing.T) {
	f := startUI(t)
	csrf, _ := f.form(t)
	_, body := post(t, f.page+"cancel", url.Values{"csrf": {csrf}}, f.origin())
	if !strings.Contains(body, `data-state="cancelled"`) {
		t.Fatalf("page:\n%s", body)
	}
	res := <-f.portal.got
	if res.Success || res.Error != callback.CodeSignCancelled {
		t.Fatalf("result %+v", res)
	}
}

func TestOneRequestAtATime(t *testing.T) {
	f := startUI(t)
	var reopened string
	f.ui.app.OpenBrowser = func(_ context.Context, u string) error { reopened = u; return nil }
	link, _ := signLink(t, f.portal.URL, linkKey(t))
	if _, err := f.ui.Open(context.Background(), link); err != ErrBusy {
		t.Fatalf("second request: %v, want ErrBusy", err)
	}
	if reopened != f.page {
		t.Errorf("reopened %q, want the open request's page %q", reopened, f.page)
	}
}

func TestFinalTryWarnedBeforeTheFirstTry(t *testing.T) {
	p := newTestPortal(t)
	ks := &finalTryKeystore{newFakeKeystore(t)}
	app := newTestApp(t, p, ks)
	var page string
	app.OpenBrowser = func(_ context.Context, u string) error { page = u; return nil }
	ui, _ := app.NewUI()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ui.Serve(ctx)
	link, _ := signLink(t, p.URL, linkKey(t))
	if _, err := ui.Open(ctx, link); err != nil {
		t.Fatal(err)
	}
	_, body := get(t, page, nil)
	if !strings.Contains(body, "Final try:") {
		t.Errorf("no final-try warning:\n%s", body)
	}
}

// finalTryKeystore is a token whose PIN flags say the next wrong PIN locks it.
type finalTryKeystore struct{ *fakeKeystore }

func (k *finalTryKeystore) Certificates(ctx context.Context) ([]Cert, []error) {
	cs, errs := k.fakeKeystore.Certificates(ctx)
	for i := range cs {
		cs[i].PINFinalTry = true
	}
	return cs, errs
}

// The page speaks Hindi to a browser that prefers it, and English again
// through its language link.
func TestPageInHindi(t *testing.T) {
	f := startUI(t)
	_, body := get(t, f.page, map[string]string{"Accept-Language": "hi-IN,hi;q=0.9,en;q=0.8"})
	for _, want := range []string{`<html lang="hi">`, "पर हस्ताक्षर करने का अनुरोध", ">हस्ताक्षर करें<", ">रद्द करें<", "<summary>विवरण</summary>", "तक मान्य"} {
		if !strings.Contains(body, want) {
			t.Errorf("Hindi page lacks %q", want)
		}
	}
	_, body = get(t, f.page+"?lang=en", map[string]string{"Accept-Language": "hi"})
	if !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, ">Sign<") {
		t.Errorf("?lang=en did not give English")
	}
}
