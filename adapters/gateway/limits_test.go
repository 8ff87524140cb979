package gateway

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/testimg"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
)

// TestImageBombRefused: an appearance image above the budget is refused
// with 422 before the OTP is looked at (it stays usable).
func TestImageBombRefused(t *testing.T) {
	g := newTestGW(t, nil)
	uid := g.newUser(g.key, "cust-bomb")
	oid, code := g.otp(g.key, uid, "issue")
	issued := g.must(201, "POST", "/v1/certificates/issue", g.key, map[string]any{"userId": uid, "otpId": oid, "otp": code, "keyAlgo": "ECDSA-P256"})
	doc := testpdf.Minimal("bomb")
	soid, scode := g.signOTPDocs(g.key, uid, issued["certificateId"].(string), doc)
	req := map[string]any{"pdfBase64": b64(doc), "certificateId": issued["certificateId"], "otpId": soid, "otp": scode,
		"appearance": map[string]any{"imageBase64": b64(testimg.PNGBomb(65535, 65535, 10))}}
	g.wantErr(422, CodeImageTooLarge, "POST", "/v1/sign/pdf", g.key, req)
	req["appearance"] = map[string]any{"imageBase64": b64([]byte("GIF89a not an image"))}
	g.wantErr(422, CodeImageInvalid, "POST", "/v1/sign/pdf", g.key, req)
	var logo bytes.Buffer
	png.Encode(&logo, image.NewGray(image.Rect(0, 0, 300, 100)))
	req["appearance"] = map[string]any{"imageBase64": b64(logo.Bytes())}
	g.must(200, "POST", "/v1/sign/pdf", g.key, req)
}

// TestPDFWorkBusy: with every PDF slot taken and no wait, PDF calls get
// 503 with Retry-After; hash calls are not affected.
func TestPDFWorkBusy(t *testing.T) {
	g := newTestGW(t, nil, func(c *Config) { c.MaxPDFJobs, c.PDFQueueWait = 1, -1 })
	release, err := g.srv.work.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res, _ := g.raw("POST", "/v1/verify/pdf", g.key, map[string]any{"pdfBase64": b64(testpdf.Minimal("busy"))})
	if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" {
		t.Fatalf("busy: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	release()
	g.must(200, "POST", "/v1/verify/pdf", g.key, map[string]any{"pdfBase64": b64(testpdf.Minimal("free"))})
	if n := pdfJobs(Config{MemoryLimit: 1 << 30}); n != 9 {
		t.Errorf("jobs in 1 GiB: %d", n)
	}
	if n := pdfJobs(Config{MemoryLimit: 100 << 20}); n != 1 {
		t.Errorf("jobs in 100 MiB: %d", n)
	}
}

// TestPublicRateLimit: the callback answers 429 beyond the per-address
// rate; authenticated calls count against their key instead.
func TestPublicRateLimit(t *testing.T) {
	g := newTestGW(t, nil, func(c *Config) { c.PublicRateLimitRPM = 5 })
	got429 := 0
	for range 10 {
		res, _ := g.raw("POST", "/v1/callback", "", "ss_result=AAAA")
		if res.StatusCode == 429 {
			got429++
			if res.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
	}
	if got429 != 5 {
		t.Errorf("%d of 10 callbacks got 429, want 5", got429)
	}
	g.must(200, "POST", "/v1/verify/pdf", g.key, map[string]any{"pdfBase64": b64(testpdf.Minimal("auth"))})
}

// TestMetricsGuarded: outside dev mode /metrics needs the bearer token.
func TestMetricsGuarded(t *testing.T) {
	g := newTestGW(t, nil, func(c *Config) { c.Dev, c.MasterKey = false, []byte("0123456789abcdef0123456789abcdef") })
	if res, _ := g.raw("GET", "/metrics", "", nil); res.StatusCode != 404 {
		t.Errorf("no token configured: %d", res.StatusCode)
	}
	g2 := newTestGW(t, nil, func(c *Config) {
		c.Dev, c.MasterKey, c.MetricsToken = false, []byte("0123456789abcdef0123456789abcdef"), "s3cret-metrics"
	})
	if res, _ := g2.raw("GET", "/metrics", "", nil); res.StatusCode != 401 {
		t.Errorf("no token: %d", res.StatusCode)
	}
	if res, _ := g2.raw("GET", "/metrics", "", nil, "Authorization", "Bearer wrong"); res.StatusCode != 401 {
		t.Errorf("wrong token: %d", res.StatusCode)
	}
	if res, body := g2.raw("GET", "/metrics", "", nil, "Authorization", "Bearer s3cret-metrics"); res.StatusCode != 200 || !strings.Contains(string(body), "securesign_") {
		t.Errorf("token: %d", res.StatusCode)
	}
}

// TestDevLoopbackOnly: Serve refuses dev mode on a non-loopback listener.
func TestDevLoopbackOnly(t *testing.T) {
	g := newTestGW(t, nil)
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	if err := g.srv.Serve(context.Background(), ln); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("Serve on %s: %v", ln.Addr(), err)
	}
}

// TestBatchStreamed: a PDF batch is spooled item by item and signs as one
// session; a malformed or oversize batch is refused.
func TestBatchStreamed(t *testing.T) {
	g := newTestGW(t, nil)
	k := testpki.Key(t, testpki.RSA2048, 21)
	issued := g.issueCSR(g.key, "batch-user", k)
	out := g.must(201, "POST", "/v1/sign/batch", g.key, map[string]any{"certSerial": issued["serialNumber"],
		"items": []map[string]any{{"pdfBase64": b64(testpdf.Minimal("one"))}, {"pdfBase64": b64(testpdf.Minimal("two"))}}})
	if out["deepLink"] == nil {
		t.Fatalf("batch answer %v", out)
	}
	g.wantErr(400, CodeBadRequest, "POST", "/v1/sign/batch", g.key, map[string]any{"certSerial": issued["serialNumber"],
		"items": []map[string]any{{"pdfBase64": b64(testpdf.Minimal("one")), "hashBase64": b64(make([]byte, 32))}}})
	g.wantErr(400, CodeBadRequest, "POST", "/v1/sign/batch", g.key, `{"items":[{"pdfBase64":"@@@"}]}`)
	g.must(201, "POST", "/v1/sign/batch", g.key, map[string]any{"items": []map[string]any{{"hashBase64": b64(make([]byte, 32))}}})
}

// TestSlowBodyDeadline: a body trickled to the callback is cut at the
// public read deadline (the callback answers 408 SS_TIMEOUT), and the
// connection closed.
func TestSlowBodyDeadline(t *testing.T) {
	g := newTestGW(t, nil, func(c *Config) { c.PublicReadTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(g.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("POST /v1/callback HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nss_result="))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, _ := conn.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 408") || !strings.Contains(string(buf[:n]), "SS_TIMEOUT") {
		t.Fatalf("answer %q", buf[:n])
	}
	for {
		if _, err := conn.Read(buf); err != nil {
			break // closed
		}
	}
}

// TestEncodedSlashNotPastAuth: CVE-2026-55677 (echo before 4.15.3): an
// encoded "/" must not reach an authenticated route without its
// middleware.
func TestEncodedSlashNotPastAuth(t *testing.T) {
	g := newTestGW(t, nil)
	for _, p := range []string{"/v1%2Faudit%2Flogs", "/v1/audit%2Flogs", "/csc/v2%2Fcredentials%2Flist"} {
		res, body := g.raw("GET", p, "", nil)
		if res.StatusCode == 200 {
			t.Errorf("%s without a key: %d %s", p, res.StatusCode, body)
		}
	}
}
