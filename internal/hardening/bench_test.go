//go:build linux && cgo

package hardening

import (
	"context"
	"crypto"
	"crypto/sha256"
	"io"
	"log/slog"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/securesign/securesign/adapters/gateway"
	"github.com/securesign/securesign/internal/loadgen/lg"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

// inProcess serves a dev gateway from this process (so that
// "go test -cpuprofile" sees it) on a loopback port; dsn selects
// PostgreSQL instead of SQLite.
func inProcess(b *testing.B, dsn string) (*lg.Client, string) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	data := b.TempDir()
	os.Chmod(data, 0o700) // the gateway refuses a directory others can read
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := gateway.New(ctx, gateway.Config{Dev: true, DataDir: data, PublicURL: url, PostgresDSN: dsn, RateLimitRPM: 1 << 30, PublicRateLimitRPM: 1 << 30, OTPSendLimit: 1 << 30, OTPMaxUnused: 1 << 20,
		MaxOpenSessions: 1 << 30, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	key, err := gateway.EnsureDevTenant(ctx, srv.Store(), time.Now(), true)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln); close(done) }() //nolint:errcheck
	b.Cleanup(func() { cancel(); <-done; srv.Close() })
	c, err := lg.NewClient(url, key, 64)
	if err != nil {
		b.Fatal(err)
	}
	return c, data
}

func benchSessions(b *testing.B, dsn string, conc int) {
	c, data := inProcess(b, dsn)
	ctx := context.Background()
	id, err := lg.IssueCSR(ctx, c, lg.NewOutbox(data), "bench", testpki.Key(b, testpki.RSA2048, 46))
	if err != nil {
		b.Fatal(err)
	}
	app, err := lg.NewApp(ctx, id, 64)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	rep, err := lg.Run(ctx, lg.Config{Mode: lg.ModeSessions, Client: c, Concurrency: conc, Duration: 10 * time.Minute, Count: int64(b.N), App: app, Settle: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if rep.ServerErrors+rep.Unexpected+rep.TransportErrors > 0 {
		b.Fatalf("errors:\n%s", summary(rep))
	}
	b.ReportMetric(rep.Rate, "sessions/s")
	// In process, the gateway's process_cpu_seconds_total is this whole
	// process: the load generator's CPU is already in it.
	b.ReportMetric(rep.GatewayCPUPerUnit, "cpu-ms/session")
	b.ReportMetric(rep.Latency.P50, "p50-ms")
	b.ReportMetric(rep.Latency.P99, "p99-ms")
}

// BenchmarkSessionsSQLite is one complete hash session (create, RSA-2048
// result verified, status signed) against an in-process gateway on
// SQLite, 32 concurrent clients, load generator in the same process.
func BenchmarkSessionsSQLite(b *testing.B) { benchSessions(b, "", 32) }

// BenchmarkSessionsPostgres is the same on PostgreSQL
// (SECURESIGN_TEST_POSTGRES_DSN, a fresh schema).
func BenchmarkSessionsPostgres(b *testing.B) { benchSessions(b, postgresSchema(b), 32) }

// BenchmarkCSCSignHash is one CSC round with a server-held RSA-2048 key:
// OTP, credentials/authorize and signatures/signHash over 50 digests (a
// SAD is single use, so its cost is part of each round, spread over 50
// signatures). cpu-ms/signature compares with BenchmarkRawSignerRSA2048.
func BenchmarkCSCSignHash(b *testing.B) {
	c, data := inProcess(b, "")
	ctx := context.Background()
	ob := lg.NewOutbox(data)
	cred, err := lg.IssueServerKey(ctx, c, ob, "bench-csc", "RSA-2048")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	rep, err := lg.Run(ctx, lg.Config{Mode: lg.ModeSignHash, Client: c, Concurrency: 4, Duration: 10 * time.Minute, Count: int64(b.N),
		Outbox: ob, Credential: cred, Hashes: 50, Settle: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if rep.ServerErrors+rep.Unexpected+rep.TransportErrors > 0 {
		b.Fatalf("errors:\n%s", summary(rep))
	}
	b.ReportMetric(rep.SigRate, "signatures/s")
	b.ReportMetric(rep.GatewayCPUPerUnit/50, "cpu-ms/signature")
	b.ReportMetric(rep.Ops["POST /csc/v2/signatures/signHash"].Latency.P50, "signHash-p50-ms")
}

// BenchmarkRawSignerRSA2048 is signer.SignDigest with a software RSA-2048
// key: the ceiling for CSC signHash on software keys.
func BenchmarkRawSignerRSA2048(b *testing.B) {
	h := testpki.NewHierarchy(b)
	leaf := h.Issue(b, testpki.RSA2048, testpki.Options{})
	s, err := signer.NewSoftware(leaf.Key, leaf.Cert, leaf.Chain)
	if err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		if _, err := signer.SignDigest(context.Background(), s, signer.RSAPKCS1v15, crypto.SHA256, d[:]); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time per operation holds on a shared machine, unlike ns/op.
	b.ReportMetric((processCPU()-cpu).Seconds()*1000/float64(b.N), "cpu-ms/op")
}

// processCPU is this process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
