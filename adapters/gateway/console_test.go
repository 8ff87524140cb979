package gateway

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestConsoleDevOnly: the demo console and its key route exist with
// --dev only; outside it / and the files are 404 and no key is minted.
func TestConsoleDevOnly(t *testing.T) {
	paths := []string{"/", "/console/app.js", "/console/app.css"}
	t.Run("dev", func(t *testing.T) {
		g := newTestGW(t, nil)
		for _, p := range paths {
			res, _ := g.raw("GET", p, "", nil)
			if res.StatusCode != 200 {
				t.Errorf("GET %s = %d, want 200", p, res.StatusCode)
			}
		}
		g.must(201, "POST", "/v1/dev/keys", "", nil)
	})
	t.Run("not dev", func(t *testing.T) {
		g := newTestGW(t, nil, func(c *Config) { c.Dev = false; c.MasterKey = bytes.Repeat([]byte{7}, 32) })
		for _, p := range paths {
			res, raw := g.raw("GET", p, "", nil)
			if res.StatusCode != 404 || strings.Contains(string(raw), "<html") {
				t.Errorf("GET %s = %d %.40q, want 404", p, res.StatusCode, raw)
			}
		}
		key := g.key
		if key == "" {
			t.Fatal("no key for the tenant")
		}
		// Like any path /v1 does not have: 401 without a key, 404 with one.
		for k, want := range map[string]int{"": 401, key: 404} {
			if st, out := g.call("POST", "/v1/dev/keys", k, nil); st != want || out["apiKey"] != nil {
				t.Errorf("POST /v1/dev/keys (key %t) = %d %v, want %d", k != "", st, out, want)
			}
		}
	})
}

// TestConsoleFiles: the page is static, loads only its own script and
// style (no inline code, nothing from another host) under a strict CSP.
func TestConsoleFiles(t *testing.T) {
	g := newTestGW(t, nil)
	res, page := g.raw("GET", "/", "", nil)
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "style-src 'self';", "frame-ancestors 'none'", "connect-src 'self' " + g.url} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q allows unsafe code", csp)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	html := string(page)
	if m := regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).FindString(html); m != "" {
		t.Errorf("inline script: %q", m)
	}
	if m := regexp.MustCompile(`(?i)\son[a-z]+=|\sstyle=|<style`).FindString(html); m != "" {
		t.Errorf("inline handler or style: %q", m)
	}
	for _, p := range []string{"/", "/console/app.js", "/console/app.css"} {
		_, b := g.raw("GET", p, "", nil)
		if m := regexp.MustCompile(`(?i)(src|href)=["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import`).FindString(string(b)); m != "" {
			t.Errorf("%s loads from another host: %q", p, m)
		}
	}
	res, _ = g.raw("GET", "/console/app.js", "", nil)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("app.js Content-Type %q", ct)
	}
}

// TestDevKey: the console's key route mints a working test key for the
// dev tenant, audits it, keeps it out of the log, and refuses requests
// another site's page could make.
func TestDevKey(t *testing.T) {
	g := newTestGW(t, nil)
	out := g.must(201, "POST", "/v1/dev/keys", "", nil, "Origin", g.url, "Sec-Fetch-Site", "same-origin")
	key, _ := out["apiKey"].(string)
	if !strings.HasPrefix(key, PrefixTestKey) || out["tenantId"] != DevTenantID || !strings.Contains(key, out["keyId"].(string)) {
		t.Fatalf("answer %v", out)
	}
	g.must(200, "GET", "/v1/audit/logs?type=apikey", key, nil)
	if strings.Contains(g.logs.String(), key) || strings.Contains(g.logs.String(), key[len(PrefixTestKey)+keyIDLen:]) {
		t.Error("the key is in the log")
	}
	page := g.must(200, "GET", "/v1/audit/logs?type=apikey.create&limit=1", key, nil)
	if es, _ := page["entries"].([]any); len(es) != 1 {
		t.Errorf("no apikey.create entry: %v", page)
	}
	for _, h := range [][]string{
		{"Origin", "http://evil.example"},
		{"Origin", "null"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
	} {
		e := g.wantErr(403, CodeForbidden, "POST", "/v1/dev/keys", "", nil, h...)
		if _, ok := e["apiKey"]; ok {
			t.Errorf("%v: answer carries a key", h)
		}
	}
}

func TestCheckLocalRequest(t *testing.T) {
	tests := []struct {
		host   string
		hdr    []string
		wantOK bool
	}{
		{"127.0.0.1:8080", nil, true},
		{"localhost:8080", nil, true},
		{"[::1]:8080", nil, true},
		{"127.0.0.2:8080", nil, true},
		{"127.0.0.1:8080", []string{"Origin", "http://127.0.0.1:8080", "Sec-Fetch-Site", "same-origin"}, true},
		{"127.0.0.1:8080", []string{"Sec-Fetch-Site", "none"}, true},
		{"evil.example:8080", nil, false},                                      // DNS rebinding
		{"localhost.evil.example:8080", nil, false},                            // a name that only starts like localhost
		{"10.0.0.5:8080", nil, false},                                          // not loopback
		{"127.0.0.1:8080", []string{"Origin", "http://127.0.0.1:9999"}, false}, // another local site
		{"127.0.0.1:8080", []string{"Origin", "http://localhost:8080"}, false}, // the other name: another origin
		{"127.0.0.1:8080", []string{"Origin", "file://"}, false},
		{"127.0.0.1:8080", []string{"Sec-Fetch-Site", "cross-site"}, false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodPost, "/v1/dev/keys", nil)
		r.Host = tc.host
		for i := 0; i+1 < len(tc.hdr); i += 2 {
			r.Header.Set(tc.hdr[i], tc.hdr[i+1])
		}
		if err := checkLocalRequest(r); (err == nil) != tc.wantOK {
			t.Errorf("host %s %v: err %v, want ok %v", tc.host, tc.hdr, err, tc.wantOK)
		}
	}
}
