//go:build linux && cgo

package hardening

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/loadgen/lg"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
)

// BenchmarkPDFSign measures normal PDF signing on the real binary (dev
// gateway, SQLite, default limits): a token-user session (pdf.Prepare
// behind the PDF job gate) from 8 clients at once, and signing with a
// server-held key after an OTP (one client, OTP calls not timed). It
// reports the latency percentiles and the gateway's peak RSS (VmHWM).
func BenchmarkPDFSign(b *testing.B) {
	ctx := context.Background()
	data := b.TempDir()
	g := startGateway(b, data, "127.0.0.1:0", nil, "--log-level", "warn")
	c := newClient(b, g, g.APIKey, 16)
	ob := lg.NewOutbox(data)
	id, err := lg.IssueCSR(ctx, c, ob, "bench-pdf", testpki.Key(b, testpki.RSA2048, 48))
	if err != nil {
		b.Fatal(err)
	}
	cred, err := lg.IssueServerKey(ctx, c, ob, "bench-pdf-remote", "ECDSA-P256")
	if err != nil {
		b.Fatal(err)
	}
	docBytes := testpdf.Minimal("Loan agreement, bench")
	doc := base64.StdEncoding.EncodeToString(docBytes)
	report := func(b *testing.B, lat []time.Duration) {
		slices.Sort(lat)
		q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
		b.ReportMetric(q(0.5), "p50-ms")
		b.ReportMetric(q(0.99), "p99-ms")
		if st, err := lg.ProcStatus(g.PID()); err == nil {
			b.ReportMetric(mib(st["VmHWM"]), "peak-RSS-MiB")
		}
	}
	b.Run("token-session-c8", func(b *testing.B) {
		var mu sync.Mutex
		var lat []time.Duration
		var next atomic.Int64
		var wg sync.WaitGroup
		b.ResetTimer()
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(b.N) {
					start := time.Now()
					if _, err := c.Must(ctx, 201, "POST", "/v1/sign/pdf", map[string]any{"pdfBase64": doc, "certSerial": id.SerialHex, "visible": true}); err != nil {
						b.Error(err)
						return
					}
					d := time.Since(start)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		b.StopTimer()
		report(b, lat)
	})
	b.Run("server-key", func(b *testing.B) {
		var lat []time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			oid, code, err := lg.SignOTP(ctx, c, ob, cred.UserID, cred.CertificateID, [][]byte{docBytes}, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := time.Now()
			if _, err := c.Must(ctx, 200, "POST", "/v1/sign/pdf", map[string]any{"pdfBase64": doc, "certificateId": cred.CertificateID,
				"otpId": oid, "otp": code, "reason": fmt.Sprint("bench ", i)}); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		b.StopTimer()
		report(b, lat)
	})
}
