package gateway

import (
	"strings"
	"testing"
)

// TestHeadAndOptions: HEAD on a GET route answers as GET would, headers
// without the body (authentication and errors included); OPTIONS on a
// routed path says what it takes; a wrong method stays 405 with Allow.
func TestHeadAndOptions(t *testing.T) {
	g := newTestGW(t, nil)
	for _, c := range []struct {
		path, key string
		status    int
	}{
		{"/healthz", "", 200},
		{"/openapi.json", "", 200},
		{"/.well-known/securesign-keys.json", "", 200},
		{"/v1/sessions/nope", g.key, 404},
		{"/v1/sessions/nope", "", 401},
		{"/v1/audit/logs", g.key, 200},
	} {
		get, getBody := g.raw("GET", c.path, c.key, nil)
		head, headBody := g.raw("HEAD", c.path, c.key, nil)
		if get.StatusCode != c.status || head.StatusCode != c.status {
			t.Errorf("%s: GET %d, HEAD %d, want %d", c.path, get.StatusCode, head.StatusCode, c.status)
		}
		if len(headBody) != 0 || len(getBody) == 0 {
			t.Errorf("%s: HEAD body %d bytes, GET body %d bytes", c.path, len(headBody), len(getBody))
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "X-Content-Type-Options"} {
			if get.Header.Get(h) != head.Header.Get(h) {
				t.Errorf("%s: %s GET %q, HEAD %q", c.path, h, get.Header.Get(h), head.Header.Get(h))
			}
		}
		if cl := head.Header.Get("Content-Length"); cl != "" && cl != get.Header.Get("Content-Length") {
			t.Errorf("%s: Content-Length GET %q, HEAD %q", c.path, get.Header.Get("Content-Length"), cl)
		}
	}

	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"OPTIONS", "/healthz", 204, "GET, HEAD, OPTIONS"},
		{"OPTIONS", "/v1/sign/hash", 204, "OPTIONS, POST"},
		{"OPTIONS", "/v1/sessions/abc", 204, "GET, HEAD, OPTIONS"},
		{"OPTIONS", "/csc/v2/signatures/signHash", 204, "OPTIONS, POST"},
		{"GET", "/v1/sign/hash", 405, "OPTIONS, POST"},
		{"HEAD", "/v1/sign/hash", 405, "OPTIONS, POST"},
		{"DELETE", "/healthz", 405, "GET, HEAD, OPTIONS"},
		{"PUT", "/v1/sessions/abc", 405, "GET, HEAD, OPTIONS"},
	} {
		res, body := g.raw(c.method, c.path, "", nil)
		if res.StatusCode != c.status || res.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want %d %q", c.method, c.path, res.StatusCode, res.Header.Get("Allow"), c.status, c.allow)
		}
		if c.status == 204 && len(body) != 0 {
			t.Errorf("%s %s: body %q", c.method, c.path, body)
		}
		if c.status == 405 && c.method != "HEAD" && !strings.Contains(string(body), CodeMethodNotAllowed) && !strings.Contains(string(body), "error_description") {
			t.Errorf("%s %s: 405 body %s", c.method, c.path, body)
		}
	}
	// Nothing routed there: still 404.
	if res, _ := g.raw("OPTIONS", "/nope", "", nil); res.StatusCode != 404 {
		t.Errorf("OPTIONS /nope: %d", res.StatusCode)
	}
}
