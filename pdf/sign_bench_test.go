package pdf

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
)

// benchInput generates a 1/10/100 MB input in b's temporary directory.
func benchInput(b *testing.B, mb int) string {
	p := filepath.Join(b.TempDir(), fmt.Sprintf("in-%dMB.pdf", mb))
	if _, err := os.Stat(p); err != nil {
		if err := testpdf.WriteFile(p, testpdf.Options{Pages: 2, PadBytes: int64(mb) << 20}); err != nil {
			b.Fatal(err)
		}
	}
	return p
}

var benchSizes = []int{1, 10, 100}

// BenchmarkSign: invisible B-B, RSA-2048, input file -> output file.
func BenchmarkSign(b *testing.B) {
	w := sgGetWorld(b)
	s := w.leaf(b, testpki.RSA2048, 0, "Rajesh Kumar")
	for _, mb := range benchSizes {
		b.Run(fmt.Sprintf("%dMB", mb), func(b *testing.B) {
			in := benchInput(b, mb)
			f, _ := os.Open(in)
			defer f.Close()
			fi, _ := f.Stat()
			out := filepath.Join(b.TempDir(), "out.pdf")
			b.SetBytes(fi.Size())
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				o, err := os.Create(out)
				if err != nil {
					b.Fatal(err)
				}
				if err := Sign(context.Background(), o, f, fi.Size(), s, SignOptions{}); err != nil {
					b.Fatal(err)
				}
				o.Close()
			}
			b.ReportMetric(float64(fi.Size())*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
		})
	}
}

// BenchmarkPrepareFinish: two-phase, the Finish part alone.
func BenchmarkFinish(b *testing.B) {
	w := sgGetWorld(b)
	s := w.leaf(b, testpki.RSA2048, 0, "Rajesh Kumar")
	in := benchInput(b, 100)
	ctx := context.Background()
	prepared := filepath.Join(b.TempDir(), "p.pdf")
	ps, err := PrepareFile(ctx, in, prepared, s.Certificate(), s.Chain(), SignOptions{})
	if err != nil {
		b.Fatal(err)
	}
	sig, _ := signDigestForBench(ctx, s, ps)
	f, _ := os.OpenFile(prepared, os.O_RDWR, 0)
	defer f.Close()
	b.ResetTimer()
	zeros := bytes.Repeat([]byte{'0'}, ps.hexLen)
	for i := 0; i < b.N; i++ {
		if err := Finish(ctx, f, ps, sig, SignOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		f.WriteAt(zeros, ps.contentsAt+1) // back to prepared
		b.StartTimer()
	}
}

// BenchmarkSHA256 is the floor: hashing the same files.
func BenchmarkSHA256(b *testing.B) {
	for _, mb := range benchSizes {
		b.Run(fmt.Sprintf("%dMB", mb), func(b *testing.B) {
			in := benchInput(b, mb)
			f, _ := os.Open(in)
			defer f.Close()
			fi, _ := f.Stat()
			b.SetBytes(fi.Size())
			buf := make([]byte, 1<<20)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h := sha256.New()
				for off := int64(0); off < fi.Size(); {
					n, _ := f.ReadAt(buf, off)
					if n == 0 {
						break
					}
					h.Write(buf[:n])
					off += int64(n)
				}
				h.Sum(nil)
			}
			b.ReportMetric(float64(fi.Size())*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
		})
	}
}

func signDigestForBench(ctx context.Context, s interface {
	Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error)
}, ps *PreparedSignature) ([]byte, error) {
	return s.Sign(rand.Reader, ps.Digest, ps.Hash)
}
