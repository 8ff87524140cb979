package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	mrand "math/rand/v2"
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
	"time"

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
	cl := startCluster(t, 3)
	procs, dirs, key, front, hits := cl.procs, cl.dirs, cl.key, cl.front, cl.hits

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

// cluster is n gateway processes on one PostgreSQL schema behind a
// round-robin reverse proxy at front.
type cluster struct {
	procs []*gwProc
	dirs  []string
	key   string
	front string
	hits  []atomic.Int64
	env   []string
}

// restart kills instance i with SIGKILL and starts it again on the same
// address and data directory.
func (cl *cluster) restart(t testing.TB, i int) {
	t.Helper()
	cl.procs[i].kill()
	cl.procs[i] = startGatewayArgs(t, cl.dirs[i], cl.procs[i].addr, []string{"--public-url", cl.front}, cl.env...)
}

func startCluster(t testing.TB, n int) *cluster {
	t.Helper()
	dsn := postgresSchemaDSN(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &cluster{front: "http://" + ln.Addr().String(), hits: make([]atomic.Int64, n)}
	env := []string{"SECURESIGN_POSTGRES_DSN=" + dsn, "SECURESIGN_MASTER_KEY=" + strings.Repeat("5a", 32)}
	cl.env = env
	var backends []*url.URL
	for range n {
		dir := t.TempDir()
		p := startGatewayArgs(t, dir, "127.0.0.1:0", []string{"--public-url", cl.front}, env...)
		cl.procs, cl.dirs = append(cl.procs, p), append(cl.dirs, dir)
		u, _ := url.Parse("http://" + p.addr)
		backends = append(backends, u)
	}
	if cl.key = cl.procs[0].key; cl.key == "" {
		t.Fatal("first gateway printed no key")
	}
	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		i := int(next.Add(1) % uint64(n))
		cl.hits[i].Add(1)
		r.SetURL(backends[i])
		r.Out.Host = r.In.Host
	}, ErrorLog: log.New(io.Discard, "", 0)} // a killed instance is a 502 the test retries
	srv := &http.Server{Handler: proxy}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { srv.Close() })
	return cl
}

// BenchmarkGatewaysRoundRobin: token hash sessions (create, result,
// status) through the proxy, on one and on three gateway processes.
func BenchmarkGatewaysRoundRobin(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			cl := startCluster(b, n)
			direct := cl.procs[0].client(cl.dirs[0], cl.key)
			k := testpki.Key(b, testpki.P256, 42)
			issued := direct.issueCSR(cl.key, "bench-user", k)
			app := appSigner(b, k, issued)
			b.SetParallelism(8) // 16 portals in flight: enough to keep 2 cores busy
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				g := &testGW{t: b, url: cl.front, key: cl.key, dir: cl.dirs[0], clock: &testClock{}}
				i := 0
				for pb.Next() {
					i++
					out := g.must(201, "POST", "/v1/sign/hash", cl.key, map[string]any{"hashBase64": b64(digest(fmt.Sprint("bench", i, mrand.Int64())))})
					enc := signLink(b, g, out["deepLink"].(string), app)
					if code, ans := g.postResult(enc); code != 200 || ans["status"] != "signed" {
						b.Fatalf("callback = %d %v", code, ans)
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
		})
	}
}

// TestThreeGatewaysKillOnePostgres: as above, while one instance after
// another is killed with SIGKILL between or during steps and started
// again. Portals retry what got no answer or 502/503; every session whose
// result was answered signed ends signed with exactly one signature.
func TestThreeGatewaysKillOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	pdfsig := testenv.LookPath(t, "pdfsig", "poppler-utils")
	cl := startCluster(t, 3)
	direct := cl.procs[0].client(cl.dirs[0], cl.key)
	k := testpki.Key(t, testpki.P256, 43)
	issued := direct.issueCSR(cl.key, "kill-user", k)
	app := appSigner(t, k, issued)
	// retry sends until an answer other than 502/503 (a dead instance
	// behind the proxy, or a document not reachable yet).
	retry := func(method, path string, body any, contentType string) (int, []byte) {
		t.Helper()
		for range 100 {
			var r io.Reader
			switch b := body.(type) {
			case string:
				r = strings.NewReader(b)
			case nil:
			default:
				j, _ := json.Marshal(b)
				r = bytes.NewReader(j)
			}
			req, _ := http.NewRequest(method, cl.front+path, r)
			req.Header.Set("Authorization", "Bearer "+cl.key)
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			res, err := http.DefaultClient.Do(req)
			if err == nil {
				raw, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 502 && res.StatusCode != 503 {
					return res.StatusCode, raw
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s %s: no answer after retries", method, path)
		return 0, nil
	}
	for i := range 6 {
		victim := i % 3
		kill := make(chan struct{})
		go func() {
			defer close(kill)
			time.Sleep(time.Duration(mrand.IntN(60)) * time.Millisecond)
			cl.procs[victim].kill()
		}()
		code, raw := retry("POST", "/v1/sign/pdf", map[string]any{"pdfBase64": b64(testpdf.Minimal(fmt.Sprint("killed ", i))), "certSerial": issued["serialNumber"]},
			"application/json")
		if code != 201 {
			t.Fatalf("session %d: create = %d %s", i, code, raw)
		}
		var out map[string]any
		json.Unmarshal(raw, &out) //nolint:errcheck
		rid := out["requestId"].(string)
		// The app reads the key set from an instance that stays up.
		enc := signLink(t, cl.procs[(victim+1)%3].client(cl.dirs[0], cl.key), out["deepLink"].(string), app)
		code, raw = retry("POST", "/v1/callback", "ss_result="+urlQueryEscape(enc), "application/x-www-form-urlencoded")
		if code != 200 || !bytes.Contains(raw, []byte(`"status":"signed"`)) {
			t.Fatalf("session %d: callback = %d %s", i, code, raw)
		}
		<-kill
		cl.restart(t, victim)
		code, signed := retry("GET", "/v1/sessions/"+rid+"/pdf", nil, "")
		if code != 200 {
			t.Fatalf("session %d: download = %d %.200s", i, code, signed)
		}
		path := filepath.Join(t.TempDir(), "signed.pdf")
		os.WriteFile(path, signed, 0o600) //nolint:errcheck
		rep, err := exec.Command(pdfsig, path).CombinedOutput()
		if !strings.Contains(string(rep), "Signature is Valid") || strings.Contains(string(rep), "Signature #2") {
			t.Errorf("session %d: pdfsig: %v\n%s", i, err, rep)
		}
	}
	cmd := exec.Command(securesignBinary(t), "gateway", "admin", "audit-verify", "--data", cl.dirs[0], "--tenant", DevTenantID)
	cmd.Env = append(os.Environ(), cl.env...)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "valid") || strings.Contains(string(out), "invalid") {
		t.Errorf("audit-verify: %v %s", err, out)
	} else {
		t.Logf("audit-verify: %s", bytes.TrimSpace(out))
	}
	for _, p := range cl.procs {
		p.stop()
	}
}
