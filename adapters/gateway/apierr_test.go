package gateway

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/testpki"
)

// TestAPIErrorTerms: errors speak JSON, carry the request's trace id, and
// refuse what a stricter server would.
func TestAPIErrorTerms(t *testing.T) {
	g := newTestGW(t, nil)

	t.Run("validator messages name JSON members", func(t *testing.T) {
		out := g.wantErr(400, CodeBadRequest, "POST", "/v1/sign/hash", g.key, map[string]any{})
		if m := out["message"]; m != "hashBase64 is required unless hashes is given" {
			t.Errorf("message %q", m)
		}
		// Embedded structs disappear, nested members keep their path.
		type inner struct {
			Level string `json:"level" validate:"omitempty,oneof=B-B B-T"`
		}
		type item struct {
			Name string `json:"name" validate:"max=3"`
		}
		type req struct {
			inner
			Items   []item `json:"items" validate:"dive"`
			CSRPem  string `json:"csrPem" validate:"required_without=KeyAlgo,excluded_with=KeyAlgo"`
			KeyAlgo string `json:"keyAlgo"`
		}
		for body, want := range map[string]string{
			`{"level":"X","keyAlgo":"E"}`:               "level must be one of B-B, B-T",
			`{"keyAlgo":"E","items":[{"name":"long"}]}`: "items[0].name must be at most 3 characters",
			`{}`:                                     "csrPem is required unless keyAlgo is given",
			`{"csrPem":"x","keyAlgo":"E"}`:           "csrPem may not be given together with keyAlgo",
			`{"keyAlgo":"E","Items":[]}`:             `unknown member "Items" (names are case-sensitive: "items")`,
			`{"keyAlgo":"E","items":[{"NAME":"a"}]}`: `unknown member "items[0].NAME" (names are case-sensitive: "items[0].name")`,
			`{"keyAlgo":"E","items":"a"}`:            "items must be an array",
		} {
			var r req
			err := g.srv.decodeStrict([]byte(body), &r)
			if ae, ok := err.(*apiError); !ok || ae.Msg != want {
				t.Errorf("%s: %v, want %q", body, err, want)
			}
		}
	})

	t.Run("keys are exact-case", func(t *testing.T) {
		out := g.wantErr(400, CodeBadRequest, "POST", "/v1/sign/hash", g.key, `{"HashBase64":"`+b64(digest("x"))+`"}`)
		if m, _ := out["message"].(string); !strings.Contains(m, `"HashBase64"`) || !strings.Contains(m, `"hashBase64"`) {
			t.Errorf("message %q", m)
		}
		g.must(201, "POST", "/v1/sign/hash", g.key, `{"hashBase64":"`+b64(digest("x"))+`"}`)
	})

	t.Run("trace id echoed and in errors", func(t *testing.T) {
		res, _ := g.raw("GET", "/v1/sessions/nope", g.key, nil, "X-Request-Id", "portal-trace-1")
		if res.Header.Get("X-Request-Id") != "portal-trace-1" {
			t.Errorf("X-Request-Id %q", res.Header.Get("X-Request-Id"))
		}
		_, out := g.call("GET", "/v1/sessions/nope", g.key, nil, "X-Request-Id", "portal-trace-2")
		if out["traceId"] != "portal-trace-2" {
			t.Errorf("traceId %v", out["traceId"])
		}
		res, raw := g.raw("GET", "/v1/sessions/nope", "", nil)
		id := res.Header.Get("X-Request-Id")
		if id == "" || !strings.Contains(string(raw), `"traceId":"`+id+`"`) {
			t.Errorf("made-up trace id %q not in %s", id, raw)
		}
		// A header that is not a short token is replaced, not echoed.
		res, _ = g.raw("GET", "/healthz", "", nil, "X-Request-Id", "<script>")
		if h := res.Header.Get("X-Request-Id"); h == "<script>" || h == "" {
			t.Errorf("X-Request-Id %q", h)
		}
	})

	t.Run("wrong method is 405 with Allow", func(t *testing.T) {
		for _, key := range []string{"", g.key} {
			res, raw := g.raw("GET", "/v1/sign/hash", key, nil)
			if res.StatusCode != 405 || !strings.Contains(res.Header.Get("Allow"), "POST") || !strings.Contains(string(raw), `"traceId"`) {
				t.Errorf("key %q: %d Allow %q %s", key, res.StatusCode, res.Header.Get("Allow"), raw)
			}
		}
		// CSC methods answer in CSC's shape.
		res, raw := g.raw("GET", "/csc/v2/signatures/signHash", "", nil)
		if res.StatusCode != 405 || res.Header.Get("Allow") != "OPTIONS, POST" || !strings.Contains(string(raw), `"error_description"`) {
			t.Errorf("CSC: %d Allow %q %s", res.StatusCode, res.Header.Get("Allow"), raw)
		}
	})

	t.Run("OTPs: tries left and purpose", func(t *testing.T) {
		uid := g.newUser(g.key, "trieslft")
		otpID, _ := g.otp(g.key, uid, "issue")
		out := g.wantErr(401, CodeOTPInvalid, "POST", "/v1/certificates/issue", g.key, map[string]any{"userId": uid, "otpId": otpID, "otp": "000000", "keyAlgo": "ECDSA-P256"})
		if out["triesLeft"] == nil {
			t.Errorf("no triesLeft: %v", out)
		}
		cid := g.serverKeyFor(uid)
		signID, code := g.signOTPHashes(g.key, uid, cid, digest("loan"))
		out = g.wantErr(404, CodeNotFound, "POST", "/v1/certificates/issue", g.key, map[string]any{"userId": uid, "otpId": signID, "otp": code, "keyAlgo": "ECDSA-P256"})
		if m, _ := out["message"].(string); !strings.Contains(m, `"sign"`) || !strings.Contains(m, `"issue"`) {
			t.Errorf("message %q", m)
		}
	})
}

// TestCertUntrusted: a certificate under no trust anchor is SS_CERT_UNTRUSTED,
// not SS_CERT_MISMATCH, and the session stays open.
func TestCertUntrusted(t *testing.T) {
	g := newTestGW(t, nil)
	foreign := testpki.NewHierarchy(t).Issue(t, testpki.P256, testpki.Options{Slot: 60})
	out := g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("loan"))})
	code, ans := g.postResult(signLink(t, g, out["deepLink"].(string), appSignerFrom(t, foreign)))
	if code != 422 || ans["error"] != "SS_CERT_UNTRUSTED" {
		t.Fatalf("foreign DSC: %d %v", code, ans)
	}
	if s := g.must(200, "GET", "/v1/sessions/"+out["requestId"].(string), g.key, nil); s["status"] != "pending" || s["success"] != false {
		t.Fatalf("session after the refusal: %v", s)
	}
}

// TestWatchCapability: the QR code and the status open without the API key
// with the session's capability, not with a tampered one nor after expiry,
// and the event stream delivers "signed" right after the callback.
func TestWatchCapability(t *testing.T) {
	g := newTestGW(t, nil)
	k := testpki.Key(t, testpki.P256, 61)
	app := appSigner(t, k, g.issueCSR(g.key, "watcher", k))
	out := g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("watched loan"))})
	qr, watch := out["qrUrl"].(string), out["watchUrl"].(string)
	if !strings.Contains(qr, "cap=") || !strings.Contains(watch, "cap=") {
		t.Fatalf("no capability URLs: %v", out)
	}
	rel := func(u string) string { return strings.TrimPrefix(u, g.url) }

	res, raw := g.raw("GET", rel(qr), "", nil)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" || len(raw) < 100 {
		t.Fatalf("QR without the key: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if st := g.must(200, "GET", rel(watch), "", nil); st["status"] != "pending" || st["signaturesBase64"] != nil {
		t.Fatalf("watch: %v", st)
	}
	// Tampered: another session's id, a changed expiry, a changed MAC.
	other := g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("other loan"))})
	capOf := func(u string) string { _, c, _ := strings.Cut(u, "cap="); return c }
	exp, mac, _ := strings.Cut(capOf(qr), ".")
	for _, bad := range []string{
		"/v1/watch/" + other["requestId"].(string) + "/qr.png?cap=" + capOf(qr),
		"/v1/watch/" + out["requestId"].(string) + "/qr.png?cap=9" + exp + "." + mac,
		"/v1/watch/" + out["requestId"].(string) + "/qr.png?cap=" + exp + "." + strings.Repeat("A", len(mac)),
		"/v1/watch/" + out["requestId"].(string) + "/qr.png",
		"/v1/watch/" + out["requestId"].(string) + "?cap=" + capOf(other["watchUrl"].(string)),
	} {
		g.wantErr(404, CodeNotFound, "GET", bad, "", nil)
	}

	// The stream: pending at once, signed as soon as the callback lands.
	// The store re-read is off, so only the callback's notification can
	// deliver "signed".
	g.srv.watchPollEvery = time.Hour
	req, _ := http.NewRequest("GET", watch, nil)
	req.Header.Set("Accept", "text/event-stream")
	sres, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer sres.Body.Close()
	if ct := sres.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	events := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(sres.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- d
			}
		}
		close(events)
	}()
	next := func() map[string]any {
		t.Helper()
		select {
		case d, ok := <-events:
			if !ok {
				t.Fatal("stream ended")
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(d), &m); err != nil {
				t.Fatal(err)
			}
			return m
		case <-time.After(time.Minute):
			t.Fatal("no event: the callback did not wake the stream")
		}
		return nil
	}
	if e := next(); e["status"] != "pending" {
		t.Fatalf("first event %v", e)
	}
	if code, ans := g.postResult(signLink(t, g, out["deepLink"].(string), app)); code != 200 {
		t.Fatalf("callback: %d %v", code, ans)
	}
	if e := next(); e["status"] != "signed" || e["success"] != true {
		t.Fatalf("event after the callback %v", e)
	}

	// Long polling answers at once when the status is final.
	if st := g.must(200, "GET", rel(watch)+"&wait=30", "", nil); st["status"] != "signed" {
		t.Fatalf("long poll: %v", st)
	}
	// After the session's expiry the capability opens nothing.
	g.clock.Advance(24 * time.Hour)
	g.wantErr(404, CodeNotFound, "GET", rel(qr), "", nil)
	g.wantErr(404, CodeNotFound, "GET", rel(watch), "", nil)
}

// TestWatchLongPoll: a long poll answers when the callback lands.
func TestWatchLongPoll(t *testing.T) {
	g := newTestGW(t, nil)
	k := testpki.Key(t, testpki.P256, 62)
	app := appSigner(t, k, g.issueCSR(g.key, "poller", k))
	out := g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("polled loan"))})
	done := make(chan map[string]any, 1)
	go func() {
		res, err := http.Get(out["watchUrl"].(string) + "&wait=30")
		if err != nil {
			done <- nil
			return
		}
		defer res.Body.Close()
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m) //nolint:errcheck
		done <- m
	}()
	time.Sleep(200 * time.Millisecond) // let the poll start waiting
	if code, ans := g.postResult(signLink(t, g, out["deepLink"].(string), app)); code != 200 {
		t.Fatalf("callback: %d %v", code, ans)
	}
	if m := <-done; m["status"] != "signed" {
		t.Fatalf("long poll answered %v", m)
	}
}

// TestWatchOutlivesReadDeadline: a long poll and a stream last longer than
// the public read deadline.
func TestWatchOutlivesReadDeadline(t *testing.T) {
	g := newTestGW(t, nil, func(c *Config) { c.PublicReadTimeout = time.Second })
	g.srv.watchPollEvery = 500 * time.Millisecond
	out := g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("slow loan"))})
	if st := g.must(200, "GET", strings.TrimPrefix(out["watchUrl"].(string), g.url)+"&wait=2", "", nil); st["status"] != "pending" {
		t.Fatalf("long poll: %v", st)
	}
	req, _ := http.NewRequest("GET", out["watchUrl"].(string), nil)
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	buf := make([]byte, 4096)
	if _, err := res.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // past the read deadline; the stream re-reads the store meanwhile
	type result struct {
		n   int
		err error
	}
	got := make(chan result, 1)
	go func() { n, err := res.Body.Read(buf); got <- result{n, err} }()
	select {
	case r := <-got:
		t.Fatalf("the stream ended or sent: %d %v", r.n, r.err)
	case <-time.After(time.Second):
	}
}
