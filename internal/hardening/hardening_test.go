//go:build linux && cgo

package hardening

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/loadgen/lg"
	"github.com/securesign/securesign/internal/testenv"
)

// bin is the real securesign binary, built once per test process.
var bin = testenv.Binary{Package: "github.com/securesign/securesign/adapters/cmd/securesign"}

func TestMain(m *testing.M) {
	code := m.Run()
	bin.Remove()
	os.Exit(code)
}

func securesign(t testing.TB) string {
	t.Helper()
	return bin.Path(t)
}

// startGateway starts a dev gateway on data and listen with a rate limit
// high enough for load, and kills it when the test ends.
func startGateway(t testing.TB, data, listen string, env []string, extra ...string) *lg.Gateway {
	t.Helper()
	args := append([]string{"--rate-limit", "100000000", "--public-rate-limit", "100000000", "--otp-send-limit", "1000000000", "--otp-max-unused", "1000000"}, extra...)
	g, err := lg.StartGateway(context.Background(), securesign(t), data, listen, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Kill)
	return g
}

func newClient(t testing.TB, g *lg.Gateway, key string, conns int) *lg.Client {
	t.Helper()
	c, err := lg.NewClient(g.URL, key, conns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdle)
	return c
}

// envDuration reads a duration from the environment, with defaults for CI
// and for local runs.
func envDuration(t *testing.T, name string, ci, local time.Duration) time.Duration {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s=%q: %v", name, v, err)
		}
		return d
	}
	if testenv.InCI() {
		return ci
	}
	return local
}

// writeReport stores v as JSON under $SECURESIGN_REPORT_DIR/name, if set.
func writeReport(t *testing.T, name string, v any) {
	t.Helper()
	dir := os.Getenv("SECURESIGN_REPORT_DIR")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, name+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	t.Logf("figures written to %s", filepath.Join(dir, name))
}

// adminAuditVerify runs "securesign gateway admin audit-verify" on the data
// directory (or the PostgreSQL DSN in env) and fails t unless the chain
// verifies; it returns the number of entries.
func adminAuditVerify(t *testing.T, data string, env ...string) int {
	t.Helper()
	cmd := exec.Command(securesign(t), "gateway", "admin", "audit-verify", "--data", data, "--tenant", "dev", "--json")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	var res struct {
		Entries int    `json:"entries"`
		Valid   bool   `json:"valid"`
		Error   string `json:"error"`
	}
	if jerr := json.Unmarshal(out, &res); jerr != nil || err != nil || !res.Valid {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("audit-verify: %v %v valid=%v %s\n%s%s", err, jerr, res.Valid, res.Error, out, stderr)
	}
	return res.Entries
}

// auditEntry is one entry of GET /v1/audit/logs.
type auditEntry struct {
	Seq       int64     `json:"seq"`
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"`
	Action    string    `json:"action"`
	RequestID string    `json:"requestId"`
	DocHash   string    `json:"docHash"`
	Outcome   string    `json:"outcome"`
	Detail    string    `json:"detail"`
}

// auditAll pages through the tenant's whole audit log (newest first, up to
// 1000 entries a page, following "next") and returns it oldest first.
func auditAll(ctx context.Context, t *testing.T, c *lg.Client) ([]auditEntry, []byte) {
	t.Helper()
	var all []auditEntry
	var raw []byte
	next := ""
	for page := 0; page < 10000; page++ {
		path := "/v1/audit/logs?limit=1000"
		if next != "" {
			path += "&next=" + url.QueryEscape(next)
		}
		res, err := c.Must(ctx, 200, "GET", path, nil)
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, res.Body...)
		var body struct {
			Entries []auditEntry `json:"entries"`
			Next    string       `json:"next"`
		}
		if err := json.Unmarshal(res.Body, &body); err != nil {
			t.Fatal(err)
		}
		all = append(all, body.Entries...)
		if body.Next == "" {
			slices.Reverse(all)
			return all, raw
		}
		next = body.Next
	}
	t.Fatal("audit log paging did not end")
	return nil, nil
}

func auditFor(ctx context.Context, t *testing.T, c *lg.Client, requestID string) []auditEntry {
	t.Helper()
	res, err := c.Must(ctx, 200, "GET", "/v1/audit/logs?requestId="+requestID, nil)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Entries []auditEntry `json:"entries"`
	}
	if err := json.Unmarshal(res.Body, &body); err != nil {
		t.Fatal(err)
	}
	return body.Entries
}

func countActions(es []auditEntry, action, outcome string) int {
	n := 0
	for _, e := range es {
		if e.Action == action && (outcome == "" || e.Outcome == outcome) {
			n++
		}
	}
	return n
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func summary(r *lg.Report) string {
	var b strings.Builder
	r.Summary(&b)
	return b.String()
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
