package pdf

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
)

func TestReadLayout(t *testing.T) {
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.RSA2048, testpki.Options{CommonName: "Rajesh Kumar"})
	in := testpdf.Bytes(testpdf.Options{Pages: 3})
	for _, tc := range []struct {
		name string
		app  *Appearance
		want SignaturePlace
	}{
		{"visible on page 2", &Appearance{Page: 2, X: 300, Y: 50, Width: 200, Height: 60},
			SignaturePlace{Field: "Signature1", Page: 2, Visible: true, Rect: [4]float64{300, 50, 500, 110}, Box: [4]float64{0, 0, 595, 842}}},
		{"invisible", nil, SignaturePlace{Field: "Signature1", Page: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			ps, err := Prepare(context.Background(), &out, bytes.NewReader(in), int64(len(in)), leaf.Cert, leaf.Chain, SignOptions{Appearance: tc.app})
			if err != nil {
				t.Fatal(err)
			}
			l, err := ReadLayout(context.Background(), bytes.NewReader(out.Bytes()), int64(out.Len()), ps.ByteRange())
			if err != nil {
				t.Fatal(err)
			}
			if l.Pages != 3 || l.Signature == nil || len(l.Sizes) != 3 || l.Sizes[2] != [2]float64{595, 842} {
				t.Fatalf("layout %+v", l)
			}
			got := *l.Signature
			if !tc.want.Visible {
				got.Box = [4]float64{} // irrelevant for an invisible widget
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("signature place (-want +got):\n%s", d)
			}
			// Another ByteRange names no field.
			br := ps.ByteRange()
			br[3]++
			l, err = ReadLayout(context.Background(), bytes.NewReader(out.Bytes()), int64(out.Len()), br)
			if err != nil || l.Signature != nil {
				t.Errorf("other ByteRange: %+v, %v", l, err)
			}
		})
	}
	if _, err := ReadLayout(context.Background(), bytes.NewReader([]byte("%PDF-1.7\nnot a pdf")), 18, [4]int64{}); err == nil {
		t.Error("garbage read as a layout")
	}
}

func FuzzReadLayout(f *testing.F) {
	f.Add(testpdf.Bytes(testpdf.Options{Pages: 2}))
	f.Add(testpdf.Minimal("x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ReadLayout(context.Background(), bytes.NewReader(data), int64(len(data)), [4]int64{0, 10, 20, 30})
	})
}

// TestReadLayoutToolMade reads documents other tools wrote (qpdf's object
// and xref streams, linearized, a nested page tree from mutool) after
// Prepare, and compares the page count with poppler's pdfinfo.
func TestReadLayoutToolMade(t *testing.T) {
	testenv.LookPath(t, "qpdf", "qpdf")
	testenv.LookPath(t, "pdfinfo", "poppler-utils")
	testenv.LookPath(t, "mutool", "mupdf-tools")
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.RSA2048, testpki.Options{CommonName: "Rajesh Kumar"})
	dir := t.TempDir()
	src := filepath.Join(dir, "src.pdf")
	if err := testpdf.WriteFile(src, testpdf.Options{Pages: 12}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		make func(t *testing.T, dir, src string) string
	}{
		{"qpdf object streams", tmQpdf("--object-streams=generate")},
		{"qpdf linearized", tmQpdf("--linearize")},
		{"mutool clean", func(t *testing.T, dir, src string) string {
			out := filepath.Join(dir, "in.pdf")
			sgRun(t, "mutool", "clean", "-gg", src, out)
			return out
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := os.ReadFile(tc.make(t, t.TempDir(), src))
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			ps, err := Prepare(context.Background(), &out, bytes.NewReader(in), int64(len(in)), leaf.Cert, leaf.Chain,
				SignOptions{Appearance: &Appearance{Page: 11, X: 100, Y: 100, Width: 150, Height: 50}})
			if err != nil {
				t.Fatal(err)
			}
			prepared := filepath.Join(t.TempDir(), "prepared.pdf")
			os.WriteFile(prepared, out.Bytes(), 0o600)
			info := sgRun(t, "pdfinfo", prepared)
			l, err := ReadLayout(context.Background(), bytes.NewReader(out.Bytes()), int64(out.Len()), ps.ByteRange())
			if err != nil {
				t.Fatal(err)
			}
			if m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)$`).FindStringSubmatch(info); m == nil || m[1] != strconv.Itoa(l.Pages) {
				t.Errorf("we count %d pages; pdfinfo says:\n%s", l.Pages, info)
			}
			if s := l.Signature; s == nil || s.Page != 11 || !s.Visible || s.Rect != [4]float64{100, 100, 250, 150} {
				t.Errorf("signature place %+v", l.Signature)
			}
		})
	}
}
