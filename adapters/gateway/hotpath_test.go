package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/internal/testpki"
)

// TestPendingCacheSharedStore: two gateways on one database. A result
// delivered to the instance that made the session, after the other one
// completed it, is answered as the stored completion says (409 for a
// different or invalid result, duplicate for the same), although that
// instance still holds the session as pending in its cache.
func TestPendingCacheSharedStore(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		a := newTestGW(t, st)
		b := newTestGW(t, st, func(c *Config) { c.MasterKey = a.srv.cfg.MasterKey })
		k := testpki.Key(t, testpki.RSA2048, 1)
		app := appSigner(t, k, a.issueCSR(a.key, "cust-cache", k))

		out := a.must(201, "POST", "/v1/sign/hash", a.key, map[string]any{"hashBase64": b64(digest("cached"))})
		rid := out["requestId"].(string)
		enc := signLink(t, a, out["deepLink"].(string), app)
		if code, ans := b.postResult(enc); code != 200 || ans["status"] != "signed" || ans["outcome"] != "accepted" {
			t.Fatalf("result through the other instance = %d %v", code, ans)
		}
		// An invalid result (one signature bit flipped) for the request
		// completed elsewhere: a conflict, not a rejection.
		r, err := callback.Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		sig, _ := base64.StdEncoding.DecodeString(r.SignatureBase64)
		sig[10] ^= 1
		r.SignatureBase64 = b64(sig)
		r.SignaturesBase64 = []string{r.SignatureBase64}
		tampered, err := callback.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		if code, ans := a.postResult(tampered); code != 409 || ans["error"] != CodeConflict {
			t.Errorf("tampered result = %d %v, want 409", code, ans)
		}
		fail, _ := callback.Encode(&callback.Result{RequestID: rid, Error: callback.CodeSignCancelled, Message: "cancelled"})
		if code, ans := a.postResult(fail); code != 409 || ans["error"] != CodeConflict {
			t.Errorf("failure after the success = %d %v, want 409", code, ans)
		}
		if code, ans := a.postResult(enc); code != 200 || ans["outcome"] != "duplicate" || ans["status"] != "signed" {
			t.Errorf("replay = %d %v", code, ans)
		}
		es, err := st.AuditLogs(context.Background(), AuditFilter{TenantID: DevTenantID, RequestID: rid})
		if err != nil {
			t.Fatal(err)
		}
		outcomes := map[string]int{}
		for _, e := range es {
			if e.Action == "session.result" {
				outcomes[e.Outcome]++
			}
		}
		if outcomes["accepted"] != 1 || outcomes["conflict"] != 2 || outcomes["duplicate"] != 1 {
			t.Errorf("audited outcomes %v", outcomes)
		}

		// The cache answers only while the session is valid: an expired
		// one is refused as the store's would be.
		out = a.must(201, "POST", "/v1/sign/hash", a.key, map[string]any{"hashBase64": b64(digest("late"))})
		enc = signLink(t, a, out["deepLink"].(string), app)
		a.clock.Advance(a.srv.cfg.SessionTTL + time.Second)
		if code, ans := a.postResult(enc); code != 422 || ans["error"] != string(callback.CodeLinkExpired) {
			t.Errorf("expired session = %d %v", code, ans)
		}
		if code, ans := b.postResult(enc); code != 200 {
			// b's clock is not advanced: the session is still valid there.
			t.Errorf("result to the other instance = %d %v", code, ans)
		}
	})
}

// TestAPIKeyCache: a cached key record never lets another secret with the
// same id through, and an unknown id is not remembered.
func TestAPIKeyCache(t *testing.T) {
	g := newTestGW(t, nil)
	body := map[string]any{"hashBase64": b64(digest("k"))}
	g.must(201, "POST", "/v1/sign/hash", g.key, body)
	for _, cred := range []string{g.key[:len(g.key)-1] + "x", g.key[:len(g.key)-1] + "y", PrefixLiveKey + g.key[len(PrefixTestKey):]} {
		if cred == g.key {
			continue
		}
		g.wantErr(401, CodeUnauthorized, "POST", "/v1/sign/hash", cred, body)
	}
	// A failed lookup is not remembered: a key stored after its id was
	// asked for works at once.
	secret, id, hash := newCredential(PrefixTestKey)
	g.wantErr(401, CodeUnauthorized, "POST", "/v1/sign/hash", secret, body)
	if err := g.srv.store.CreateAPIKey(context.Background(), &APIKey{ID: id, TenantID: DevTenantID, Name: "later", Hash: hash, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	g.must(201, "POST", "/v1/sign/hash", secret, body)
	g.must(201, "POST", "/v1/sign/hash", g.key, body)
}

// oldCallbackForm is callbackParam's form path before formValue.
func oldCallbackForm(c echo.Context) (string, error) {
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, callback.MaxEncodedSize+1024)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", err
		}
		return "", badRequest("malformed form body: %v", err)
	}
	return r.PostForm.Get("ss_result"), nil
}

// checkFormSame fails t unless callbackParam reads body (sent with
// content type ct to /v1/callback?query) as ParseForm did.
func checkFormSame(t *testing.T, body, ct, query string) {
	t.Helper()
	e := echo.New()
	call := func(f func(echo.Context) (string, error)) (string, string) {
		req := httptest.NewRequest(http.MethodPost, "/v1/callback?"+query, strings.NewReader(body))
		if query == "" {
			req.URL.RawQuery = ""
		}
		req.Header.Set("Content-Type", ct)
		v, err := f(e.NewContext(req, httptest.NewRecorder()))
		if err == nil {
			return v, ""
		}
		return v, fmt.Sprintf("%T %v", err, err)
	}
	wv, werr := call(oldCallbackForm)
	gv, gerr := call(callbackParam)
	if wv != gv || werr != gerr {
		t.Fatalf("body %q, type %q, query %q:\nold %q %s\nnew %q %s", body, ct, query, wv, werr, gv, gerr)
	}
}

var formVectors = []string{
	"ss_result=abc", "ss_result=a%2Bb%2F%3D", "ss_result=a+b", "ss_result=", "ss_result", "=x", "&&ss_result=x&&",
	"a=1&ss_result=x&ss_result=y", "ss_result=x;y", "a=1;b=2&ss_result=x", "ss_result=%zz", "ss_result=%4", "ss_result=%41",
	"ss_result=x&b=%g0", "ss%5Fresult=x", "ss_result%3D=x", "ss_result=a=b", "ss_result=%E0%A4", "ss_result=\x00\xff",
	"SS_RESULT=x", "ss_result+=x", "", "&", "%", "ss_result=x&%=1", "ss_result=x&a+b=c%20d",
	strings.Repeat("a=1&", 1200) + "ss_result=x", strings.Repeat("&", 999) + "ss_result=x",
	"ss_result=" + strings.Repeat("A", callback.MaxEncodedSize+2000),
}

func TestCallbackFormSameAsParseForm(t *testing.T) {
	for _, body := range formVectors {
		for _, ct := range []string{"application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8", "text/plain", ""} {
			checkFormSame(t, body, ct, "")
		}
		checkFormSame(t, body, "application/x-www-form-urlencoded", "x=1")
		checkFormSame(t, body, "application/x-www-form-urlencoded", "x=%zz")
	}
}

// FuzzCallbackForm: the callback reads a form body exactly as ParseForm
// and PostForm.Get did.
func FuzzCallbackForm(f *testing.F) {
	for _, v := range formVectors {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, body string) {
		checkFormSame(t, body, "application/x-www-form-urlencoded", "")
	})
}

// benchForm reads a form-encoded result of the usual size with read.
func benchForm(b *testing.B, read func(echo.Context) (string, error)) {
	body := "ss_result=" + url.QueryEscape(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("result \xfb\xff"), 330)))
	e := echo.New()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/callback", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if v, err := read(e.NewContext(req, httptest.NewRecorder())); err != nil || len(v) < 3900 {
			b.Fatal(len(v), err)
		}
	}
}

func BenchmarkCallbackForm(b *testing.B)          { benchForm(b, callbackParam) }
func BenchmarkCallbackFormParseForm(b *testing.B) { benchForm(b, oldCallbackForm) }
