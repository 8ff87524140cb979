//go:build linux && cgo

package hardening

import (
	"context"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/loadgen/lg"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
)

// TestLoadMixed runs the load generator's mixed traffic against a fresh dev
// gateway on SQLite for SECURESIGN_LOAD_DURATION (2m under CI, 15s
// otherwise): complete sessions, status queries, PDF validation, health
// checks, replays and deliberately bad requests. No answer may be a 5xx,
// no request may get an answer of the wrong class, goroutines must come
// back to where they started once the load ends, and RSS may not grow by
// more than 64 MiB between the warmed-up start and the end.
func TestLoadMixed(t *testing.T) {
	dur := envDuration(t, "SECURESIGN_LOAD_DURATION", 2*time.Minute, 15*time.Second)
	ctx := context.Background()
	data := t.TempDir()
	g := startGateway(t, data, "127.0.0.1:0", nil, "--log-level", "warn")
	c := newClient(t, g, g.APIKey, 8)
	ob := lg.NewOutbox(data)
	id, err := lg.IssueCSR(ctx, c, ob, "load-mixed", testpki.Key(t, testpki.RSA2048, 40))
	if err != nil {
		t.Fatal(err)
	}
	app, err := lg.NewApp(ctx, id, 64)
	if err != nil {
		t.Fatal(err)
	}
	warm := min(dur/8, 10*time.Second)
	rep, err := lg.Run(ctx, lg.Config{Mode: lg.ModeMixed, Client: c, Concurrency: 8, Duration: dur, Warmup: warm,
		App: app, PDF: testpdf.Minimal("load test"), PID: g.PID(), Settle: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mixed load, %v + %v warm-up:\n%s", dur, warm, summary(rep))
	t.Logf("sessions: %.1f completed/s, p50 %.2f ms, p99 %.2f ms", rep.Rate, rep.Latency.P50, rep.Latency.P99)
	writeReport(t, "load-mixed.json", rep)

	if rep.Completed == 0 {
		t.Fatal("no session completed")
	}
	if rep.ServerErrors > 0 {
		t.Errorf("%d answers were 5xx", rep.ServerErrors)
	}
	if rep.Unexpected > 0 || rep.TransportErrors > 0 {
		t.Errorf("%d answers of the wrong class, %d requests without an answer; samples: %q", rep.Unexpected, rep.TransportErrors, rep.Samples)
	}
	const goroutineSlack = 10
	if rep.Settled.Goroutines > rep.Start.Goroutines+goroutineSlack {
		t.Errorf("goroutines: %d before the load, %d after it settled (slack %d): a leak", rep.Start.Goroutines, rep.Settled.Goroutines, goroutineSlack)
	}
	const rssSlack = 64 << 20
	if grow := rep.End.RSSBytes - rep.Warm.RSSBytes; grow > rssSlack {
		t.Errorf("RSS grew by %.1f MiB under steady load (%.1f → %.1f MiB), more than 64 MiB", mib(grow), mib(rep.Warm.RSSBytes), mib(rep.End.RSSBytes))
	}
	if err := g.Stop(); err != nil {
		t.Errorf("SIGTERM after the load: %v\n%s", err, g.Stderr())
	}
}
