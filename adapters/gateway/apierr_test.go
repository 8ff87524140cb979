package gateway

import (
	"strings"
	"testing"

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
