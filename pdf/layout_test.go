package pdf

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

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
			if l.Pages != 3 || l.Signature == nil {
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
