package gateway

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
)

// TestThreeGatewaysRoundRobinPostgres: three gateway processes (the real
// binary) on one PostgreSQL, each with its own data directory, sharing only
// the DSN and the master key, behind a round-robin reverse proxy: token PDF
// sessions whose steps (create, key set, result, status, download) each
// land on another instance end signed, with one signature that pdfsig
// accepts, and no PDF in any data directory.
func TestThreeGatewaysRoundRobinPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	pdfsig := testenv.LookPath(t, "pdfsig", "poppler-utils")
	dsn := postgresSchemaDSN(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	front := "http://" + ln.Addr().String()
	env := []string{"SECURESIGN_POSTGRES_DSN=" + dsn, "SECURESIGN_MASTER_KEY=" + strings.Repeat("5a", 32)}
	var procs []*gwProc
	var dirs []string
	var backends []*url.URL
	for range 3 {
		dir := t.TempDir()
		p := startGatewayArgs(t, dir, "127.0.0.1:0", []string{"--public-url", front}, env...)
		procs, dirs = append(procs, p), append(dirs, dir)
		u, _ := url.Parse("http://" + p.addr)
		backends = append(backends, u)
	}
	key := procs[0].key
	if key == "" {
		t.Fatal("first gateway printed no key")
	}
	var next atomic.Uint64
	var hits [3]atomic.Int64
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		i := int(next.Add(1) % 3)
		hits[i].Add(1)
		r.SetURL(backends[i])
		r.Out.Host = r.In.Host
	}}
	srv := &http.Server{Handler: proxy}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { srv.Close() })

	// Onboarding reads the dev OTP outbox of the instance that sent the
	// code: done on the first one directly.
	direct := procs[0].client(dirs[0], key)
	k := testpki.Key(t, testpki.P256, 41)
	issued := direct.issueCSR(key, "rr-user", k)
	app := appSigner(t, k, issued)

	g := &testGW{t: t, url: front, key: key, dir: dirs[0], clock: &testClock{}}
	for i := range 4 {
		out := g.must(201, "POST", "/v1/sign/pdf", key, map[string]any{"pdfBase64": b64(testpdf.Minimal("round robin " + string(rune('A'+i)))), "certSerial": issued["serialNumber"]})
		rid := out["requestId"].(string)
		enc := signLink(t, g, out["deepLink"].(string), app)
		if code, ans := g.postResult(enc); code != 200 || ans["status"] != "signed" {
			t.Fatalf("session %d: callback = %d %v", i, code, ans)
		}
		if s := g.must(200, "GET", "/v1/sessions/"+rid+"?pdf=0", key, nil); s["status"] != "signed" {
			t.Fatalf("session %d: status %v", i, s["status"])
		}
		res, signed := g.raw("GET", "/v1/sessions/"+rid+"/pdf", key, nil)
		if res.StatusCode != 200 || !bytes.HasPrefix(signed, []byte("%PDF")) {
			t.Fatalf("session %d: download = %d %.200s", i, res.StatusCode, signed)
		}
		path := filepath.Join(t.TempDir(), "signed.pdf")
		os.WriteFile(path, signed, 0o600) //nolint:errcheck
		rep, err := exec.Command(pdfsig, path).CombinedOutput()
		if !strings.Contains(string(rep), "Signature is Valid") || !strings.Contains(string(rep), "Signature #1") || strings.Contains(string(rep), "Signature #2") {
			t.Errorf("session %d: pdfsig: %v\n%s", i, err, rep)
		}
	}
	for i := range hits {
		if hits[i].Load() < 4 {
			t.Errorf("instance %d took %d requests", i, hits[i].Load())
		}
	}
	for _, d := range dirs {
		if local, _ := filepath.Glob(filepath.Join(d, "files", "*.pdf")); len(local) > 0 {
			t.Errorf("PDFs in a data directory: %v", local)
		}
	}
	for _, p := range procs {
		p.stop()
	}
}
