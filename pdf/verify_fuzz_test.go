package pdf

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/testpki"
)

func FuzzVerify(f *testing.F) {
	// signed seeds are in testdata/fuzz/FuzzVerify (signing here would make
	// every fuzz worker generate keys); chains are untrusted (no roots),
	// everything else runs
	f.Add(baseDoc())
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxStreamBytes: 1 << 20, MaxTotalBytes: 4 << 20, MaxXrefEntries: 1 << 16, Timeout: time.Second}
		rep, err := Verify(context.Background(), bytes.NewReader(data), int64(len(data)), VerifyOptions{Limits: lim})
		if err != nil {
			return
		}
		if rep.Valid && len(rep.Signatures) == 0 {
			t.Fatal("valid without signatures")
		}
		for _, s := range rep.Signatures {
			if rep.Valid && (s.Indication != TotalPassed || s.ModifiedAfter == ModOther || s.Coverage == CoveragePartial) {
				t.Fatalf("inconsistent report: %+v", s)
			}
		}
	})
}

// TestWriteFuzzSeeds writes the committed seed corpora of FuzzVerify and
// FuzzCMSVerify and the example file in testdata/verify (run with
// SECURESIGN_WRITE_FUZZ_SEEDS=1 after changing the generators, then refresh
// the golden report with SECURESIGN_UPDATE_GOLDEN=1 go test -run TestGoldenReport).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("SECURESIGN_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set SECURESIGN_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz/FuzzVerify")
	}
	signed := signWithPdfsign(t, baseDoc(), pdfsignOpts{})
	seeds := [][]byte{
		signed,
		appendUpdate(t, signed, vUpdate{objs: map[int]string{objFont: "<< /Type /Font /Subtype /Type1 /BaseFont /Symbol >>"}}),
		setByteRange(t, signed, "/ByteRange null"),
		signed[:len(signed)/2],
	}
	for _, bc := range bombCases() {
		if b := bc.build(); len(b) < 64<<10 {
			seeds = append(seeds, b)
		}
	}
	writeSeeds(t, "FuzzVerify", seeds)
	// the golden example: a signed file, its root, and the report
	p := getPKI(t)
	for name, data := range map[string][]byte{"signed.pdf": signed, "root.pem": testpki.PEM(p.h.Root.Cert)} {
		if err := os.WriteFile(filepath.Join("testdata", "verify", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeSeeds(t, "FuzzCMSVerify", [][]byte{cmsFor(t, []byte("x"), true), cmsFor(t, []byte("x"), false)})
}

func writeSeeds(t *testing.T, name string, seeds [][]byte) {
	dir := filepath.Join("testdata", "fuzz", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range seeds {
		sum := sha256.Sum256(s)
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(s)))
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%x", sum[:8])), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
