//go:build linux && cgo

package hardening

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/loadgen/lg"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
)

// bigPDF writes a valid one-page PDF of about size bytes (an unused image
// XObject of random, incompressible bytes) to path.
func bigPDF(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var off int64
	var offs []int64
	write := func(s string) { n, _ := w.WriteString(s); off += int64(n) }
	write("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	content := "BT /F1 18 Tf 72 760 Td (large upload) Tj ET"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	for i, o := range objs {
		offs = append(offs, off)
		write(fmt.Sprintf("%d 0 obj\n%s\nendobj\n", i+1, o))
	}
	n := size - off - 400
	side := int64(1)
	for side*side*3 < n {
		side++
	}
	n = side * side * 3
	offs = append(offs, off)
	write(fmt.Sprintf("6 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length %d >>\nstream\n", side, side, n))
	if _, err := io.CopyN(w, rand.Reader, n); err != nil {
		t.Fatal(err)
	}
	off += n
	write("\nendstream\nendobj\n")
	xref := off
	write(fmt.Sprintf("xref\n0 %d\n0000000000 65535 f \n", len(offs)+1))
	for _, o := range offs {
		write(fmt.Sprintf("%010d 00000 n \n", o))
	}
	write(fmt.Sprintf("trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// jsonWithPDF streams {"pdfBase64":"…", extra…} without holding the PDF in
// memory.
func jsonWithPDF(path, extra string) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		f, err := os.Open(path)
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		defer f.Close()
		io.WriteString(pw, `{"pdfBase64":"`) //nolint:errcheck
		enc := base64.NewEncoder(base64.StdEncoding, pw)
		if _, err := io.Copy(enc, f); err != nil {
			pw.CloseWithError(err)
			return
		}
		enc.Close()
		io.WriteString(pw, `"`+extra+`}`) //nolint:errcheck
		pw.Close()
	}()
	return pr
}

// peakRSS samples VmRSS of pid every 2 ms while f runs and returns the
// resident size before and the peak during.
func peakRSS(t *testing.T, pid int, f func()) (before, peak int64) {
	t.Helper()
	st, err := lg.ProcStatus(pid)
	if err != nil {
		t.Skipf("no /proc/%d/status: %v", pid, err)
	}
	before, peak = st["VmRSS"], st["VmRSS"]
	// Writing 5 to clear_refs resets VmHWM (Linux ≥ 4.0), which then
	// gives the exact peak; the 2 ms samples are the fallback.
	hwm := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if st, err := lg.ProcStatus(pid); err == nil && st["VmRSS"] > peak {
				peak = st["VmRSS"]
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	f()
	close(done)
	wg.Wait()
	if st, err := lg.ProcStatus(pid); err == nil && hwm {
		peak = max(peak, st["VmHWM"])
	}
	return before, peak
}

// TestLargePDFUploadRSS sends a 50 MB PDF (just under the default 50 MiB
// limit) to /v1/verify/pdf, as a token-signing session to /v1/sign/pdf
// (then finishes it through the callback and downloads it from the
// session), and to /v1/sign/pdf with a server-held key, whose answer holds
// the signed PDF inline. Each call may add at most 64 MiB to the gateway's
// RSS (issue 8): documents are streamed through disk, not held in memory.
// The peak is VmHWM after resetting it (/proc/PID/clear_refs), or 2 ms
// samples of VmRSS where that is not allowed.
func TestLargePDFUploadRSS(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pdfPath := filepath.Join(dir, "big.pdf")
	bigPDF(t, pdfPath, 50_000_000)
	data := t.TempDir()
	g := startGateway(t, data, "127.0.0.1:0", nil, "--log-level", "warn")
	c := newClient(t, g, g.APIKey, 2)
	ob := lg.NewOutbox(data)
	id, err := lg.IssueCSR(ctx, c, ob, "upload", testpki.Key(t, testpki.RSA2048, 45))
	if err != nil {
		t.Fatal(err)
	}
	cred, err := lg.IssueServerKey(ctx, c, ob, "upload-remote", "ECDSA-P256")
	if err != nil {
		t.Fatal(err)
	}
	// Warm up the code paths with a small document.
	small := base64.StdEncoding.EncodeToString(testpdf.Minimal("warm"))
	if _, err := c.Must(ctx, 200, "POST", "/v1/verify/pdf", map[string]any{"pdfBase64": small}); err != nil {
		t.Fatal(err)
	}
	type figure struct {
		Name         string  `json:"name"`
		Status       int     `json:"status"`
		BeforeMiB    float64 `json:"rssBeforeMiB"`
		PeakMiB      float64 `json:"rssPeakMiB"`
		IncreaseMiB  float64 `json:"increaseMiB"`
		Seconds      float64 `json:"seconds"`
		Asserted     bool    `json:"asserted"`
		ResponseSize int     `json:"responseBytes"`
	}
	var figs []figure
	measure := func(name string, assert bool, do func() *lg.Response) *lg.Response {
		var res *lg.Response
		start := time.Now()
		before, peak := peakRSS(t, g.PID(), func() { res = do() })
		f := figure{Name: name, BeforeMiB: mib(before), PeakMiB: mib(peak), IncreaseMiB: mib(peak - before),
			Seconds: time.Since(start).Seconds(), Asserted: assert}
		if res != nil {
			f.Status, f.ResponseSize = res.Status, len(res.Body)
		}
		figs = append(figs, f)
		t.Logf("%-44s status %d, RSS %.1f → peak %.1f MiB (+%.1f MiB), %.2f s", name, f.Status, f.BeforeMiB, f.PeakMiB, f.IncreaseMiB, f.Seconds)
		if assert && peak-before > 64<<20 {
			t.Errorf("%s added %.1f MiB to the gateway's RSS, more than 64 MiB", name, mib(peak-before))
		}
		return res
	}
	post := func(path, extra string) *lg.Response {
		res, err := c.Do(ctx, http.MethodPost, path, jsonWithPDF(pdfPath, extra), true)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if r := measure("POST /v1/verify/pdf (50 MB)", true, func() *lg.Response { return post("/v1/verify/pdf", "") }); r.Status != 200 {
		t.Errorf("verify: %d %.300s", r.Status, r.Body)
	}
	r := measure("POST /v1/sign/pdf token session (50 MB)", true, func() *lg.Response {
		return post("/v1/sign/pdf", fmt.Sprintf(`,"certSerial":%q`, id.SerialHex))
	})
	if r.Status != 201 {
		t.Fatalf("token session: %d %.300s", r.Status, r.Body)
	}
	app, err := lg.NewApp(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	enc, rid, err := app.Answer(ctx, r.Str("deepLink"))
	if err != nil {
		t.Fatal(err)
	}
	if r := measure("POST /v1/callback (finishes the 50 MB PDF)", true, func() *lg.Response {
		res, err := c.PostResult(ctx, enc)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}); r.Status != 200 {
		t.Errorf("callback: %d %.300s", r.Status, r.Body)
	}
	if r := measure("GET /v1/sessions/{id} (signed PDF inline)", true, func() *lg.Response {
		res, err := c.Do(ctx, http.MethodGet, "/v1/sessions/"+rid, nil, true)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}); r.Status != 200 || len(r.Body) < 50_000_000 {
		t.Errorf("session download: %d, %d bytes", r.Status, len(r.Body))
	}
	oid, code, err := func() (string, string, error) {
		big, err := os.ReadFile(pdfPath)
		if err != nil {
			return "", "", err
		}
		return lg.SignOTP(ctx, c, ob, cred.UserID, cred.CertificateID, [][]byte{big}, nil)
	}()
	if err != nil {
		t.Fatal(err)
	}
	if r := measure("POST /v1/sign/pdf server key (50 MB, inline)", true, func() *lg.Response {
		return post("/v1/sign/pdf", fmt.Sprintf(`,"certificateId":%q,"otpId":%q,"otp":%q`, cred.CertificateID, oid, code))
	}); r.Status != 200 || len(r.Body) < 50_000_000 {
		t.Errorf("remote signing: %d, %d bytes", r.Status, len(r.Body))
	}
	writeReport(t, "upload-rss.json", figs)
}
