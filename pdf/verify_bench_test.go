package pdf

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/testpdf"
)

// benchDoc returns the path of a signed PDF of about size bytes: the test
// document plus one incompressible image stream, signed with pdfsign. It is
// made once and kept in the temp directory between runs.
func benchDoc(b *testing.B, size int) string {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("securesign-verify-bench-%d.pdf", size))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	objs := baseObjects()
	data := make([]byte, size)
	rand.Read(data)
	// the image is drawn by nothing; it only makes the file big
	objs = append(objs, fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length %d >>\nstream\n%s\nendstream", size, size, data))
	signed := signWithPdfsign(b, testpdf.Objects(objs), pdfsignOpts{})
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, signed, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// peakHeap samples the live heap while fn runs and returns the maximum.
func peakHeap(fn func()) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			mu.Lock()
			if v := sample[0].Value.Uint64(); v > peak {
				peak = v
			}
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	return peak
}

// BenchmarkVerify verifies signed PDFs of 1, 10 and 100 MB next to the
// floor: SHA-256 of the same file (what `sha256sum` does).
func BenchmarkVerify(b *testing.B) {
	p := getPKI(b)
	for _, size := range []int{1 << 20, 10 << 20, 100 << 20} {
		name := fmt.Sprintf("%dMB", size>>20)
		path := benchDoc(b, size)
		st, _ := os.Stat(path)
		b.Run(name+"/verify", func(b *testing.B) {
			b.SetBytes(st.Size())
			b.ReportAllocs()
			var peak uint64
			for i := 0; i < b.N; i++ {
				h := peakHeap(func() {
					rep, err := VerifyFile(context.Background(), path, VerifyOptions{Roots: p.roots, Limits: Limits{Timeout: -1}})
					// the cached file may come from another run's test PKI, so
					// only integrity is required here
					if err != nil || len(rep.Signatures) != 1 || rep.Signatures[0].Integrity != "ok" || rep.Signatures[0].ModifiedAfter != ModNone {
						b.Fatalf("verify: %v %+v", err, rep)
					}
				})
				peak = max(peak, h)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
		b.Run(name+"/sha256-floor", func(b *testing.B) {
			b.SetBytes(st.Size())
			buf := make([]byte, 1<<20)
			for i := 0; i < b.N; i++ {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				h := sha256.New()
				if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, buf); err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}
