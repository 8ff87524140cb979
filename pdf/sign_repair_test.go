package pdf

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/securesign/securesign/internal/testenv"

	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
)

// TestSignRepairsDamaged: an unsigned document whose cross-reference data
// readers would rebuild is rewritten once and signed; a signed one is
// refused (a rewrite would break its signature), and so is a truncated
// one (what is left is not the document).
func TestSignRepairsDamaged(t *testing.T) {
	w := sgGetWorld(t)
	v := sgNewValidators(t, w)
	s := w.leaf(t, testpki.P256, 0, "Rajesh Kumar")
	ctx := context.Background()
	data := testpdf.Bytes(testpdf.Options{Pages: 2, Fields: 1})
	lastStartxref := bytes.LastIndex(data, []byte("startxref\n"))
	noXref := bytes.Index(data, []byte("\nxref\n"))
	repairable := map[string][]byte{
		"startxref-wrong":  bytes.Replace(data, []byte("startxref\n"), []byte("startxref\n9"), 1),
		"xref-offsets":     tmShiftXref(data, 3),
		"xref-missing":     append(append([]byte(nil), data[:noXref+1]...), "%%EOF\n"...),
		"prev-broken":      bytes.Replace(data, []byte("trailer\n<<"), []byte("trailer\n<< /Prev 17"), 1),
		"startxref-absent": append(append([]byte(nil), data[:lastStartxref]...), "%%EOF\n"...),
	}
	for name, doc := range repairable {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
			if err := os.WriteFile(in, doc, 0o644); err != nil {
				t.Fatal(err)
			}
			var info SignInfo
			if err := SignFile(ctx, in, out, s, SignOptions{Info: &info}); err != nil {
				t.Fatalf("sign: %v", err)
			}
			if !info.Repaired || info.Reason == "" {
				t.Errorf("info = %+v, want Repaired with a reason", info)
			}
			v.check(t, out, 1)
			// verification reads the output as it is, and never repairs
			// the damaged input
			if _, err := VerifyFile(ctx, in, VerifyOptions{}); !errors.Is(err, ErrMalformed) {
				t.Errorf("VerifyFile(damaged input) = %v, want ErrMalformed", err)
			}
		})
	}

	// signed documents are not repaired
	dir := t.TempDir()
	signed := filepath.Join(dir, "signed.pdf")
	in := sgWriteTemp(t, "in.pdf", data)
	if err := SignFile(ctx, in, signed, s, SignOptions{}); err != nil {
		t.Fatal(err)
	}
	sd, _ := os.ReadFile(signed)
	refused := map[string]struct {
		doc  []byte
		want error
	}{
		"signed-startxref-wrong": {rpBreakLastStartxref(sd), ErrSignedDamaged},
		"signed-xref-offsets":    {tmShiftXref(sd, 3), ErrSignedDamaged},
		"signed-header-offset":   {append([]byte("junk before the header\n"), sd...), ErrSignedDamaged},
		"truncated":              {data[:len(data)*2/3], ErrMalformed},
		"no-objects":             {[]byte("%PDF-1.7\nnothing here\n%%EOF\n"), ErrMalformed},
	}
	for name, c := range refused {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.pdf")
			var info SignInfo
			err := SignFile(ctx, sgWriteTemp(t, "in.pdf", c.doc), out, s, SignOptions{Info: &info})
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("output written")
			}
			if info.Repaired {
				t.Error("Repaired set on failure")
			}
		})
	}
}

// rpBreakLastStartxref makes the last startxref point past the end.
func rpBreakLastStartxref(d []byte) []byte {
	i := bytes.LastIndex(d, []byte("startxref\n")) + len("startxref\n")
	return append(append(append([]byte(nil), d[:i]...), '9'), d[i:]...)
}

// TestSignPageTreeOddities: a page given directly inside its parent's
// /Kids, and a page tree that does not lead to page 1, still take an
// invisible signature; a visible one on such a page is refused clearly.
func TestSignPageTreeOddities(t *testing.T) {
	w := sgGetWorld(t)
	v := sgNewValidators(t, w)
	s := w.leaf(t, testpki.P256, 0, "Rajesh Kumar")
	ctx := context.Background()
	content := "BT /F1 18 Tf 72 760 Td (direct kid) Tj ET"
	stream := fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content)
	docs := map[string][]byte{
		"direct-kid": testpdf.Objects([]string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 3 0 R /Resources << /Font << /F1 4 0 R >> >> >>] /Count 1 >>",
			stream,
			"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		}),
		"kids-missing": testpdf.Objects([]string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [9 0 R] /Count 1 >>",
		}),
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			in := sgWriteTemp(t, "in.pdf", doc)
			out := filepath.Join(t.TempDir(), "out.pdf")
			if err := SignFile(ctx, in, out, s, SignOptions{}); err != nil {
				t.Fatalf("invisible: %v", err)
			}
			// qpdf warns about the input's page tree itself
			v.cms(t, out, 1)
			v.ours(t, out, 1)
			err := SignFile(ctx, in, filepath.Join(t.TempDir(), "vis.pdf"), s, SignOptions{Appearance: sgVisibleAt(1)})
			if !errors.Is(err, ErrOptions) && !errors.Is(err, ErrMalformed) {
				t.Errorf("visible: err = %v, want ErrOptions or ErrMalformed", err)
			}
		})
	}
}

// TestSignRepairsObjectStreams: qpdf's object-stream output with one
// xref-stream entry naming the wrong index in its object stream, or with
// its xref stream cut off (the catalog then exists only inside an object
// stream), is repaired by scanning and signed.
func TestSignRepairsObjectStreams(t *testing.T) {
	testenv.LookPath(t, "qpdf", "qpdf")
	w := sgGetWorld(t)
	v := sgNewValidators(t, w)
	dir := t.TempDir()
	src := filepath.Join(dir, "src.pdf")
	testpdf.WriteFile(src, testpdf.Options{Pages: 2, Fields: 2})
	os1 := filepath.Join(dir, "objstm.pdf")
	sgRun(t, "qpdf", "--object-streams=generate", src, os1)
	data, _ := os.ReadFile(os1)
	// the xref stream cut off: the catalog is only in an object stream
	xs := bytes.LastIndex(data, []byte("/Type /XRef"))
	cut := bytes.LastIndex(data[:bytes.LastIndex(data[:xs], []byte(" 0 obj"))], []byte("\n")) + 1
	for name, c := range map[string]struct {
		doc    []byte
		reason string
	}{
		"wrong-index":         {rpWrongObjStmIndex(t, data), "index"},
		"xref-stream-missing": {append(append([]byte(nil), data[:cut]...), "%%EOF\n"...), "startxref"},
	} {
		t.Run(name, func(t *testing.T) {
			in := sgWriteTemp(t, "in.pdf", c.doc)
			out := filepath.Join(t.TempDir(), "out.pdf")
			var info SignInfo
			if err := SignFile(context.Background(), in, out, w.leaf(t, testpki.P256, 0, "Rajesh Kumar"), SignOptions{Info: &info}); err != nil {
				t.Fatal(err)
			}
			if !info.Repaired || !strings.Contains(info.Reason, c.reason) {
				t.Errorf("info = %+v, want Repaired (%s)", info, c.reason)
			}
			v.check(t, out, 1)
		})
	}
}

// rpWrongObjStmIndex rewrites the (last) xref stream of data so that its
// first compressed entry with index 0 says index 1.
func rpWrongObjStmIndex(t *testing.T, data []byte) []byte {
	t.Helper()
	re := regexp.MustCompile(`/Type /XRef /Length (\d+) /Filter /FlateDecode /DecodeParms << /Columns (\d+) /Predictor 12 >> /W \[ 1 2 1 \]`)
	locs := re.FindAllSubmatchIndex(data, -1)
	if len(locs) == 0 {
		t.Fatal("no xref stream of the expected shape")
	}
	m := locs[len(locs)-1]
	length, _ := strconv.Atoi(string(data[m[2]:m[3]]))
	cols, _ := strconv.Atoi(string(data[m[4]:m[5]]))
	start := bytes.Index(data[m[1]:], []byte("stream\n")) + m[1] + len("stream\n")
	zr, err := zlib.NewReader(bytes.NewReader(data[start : start+length]))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	row := cols + 1
	prev := make([]byte, cols)
	var rows [][]byte
	for i := 0; i+row <= len(raw); i += row {
		r := make([]byte, cols)
		for j := range r {
			r[j] = raw[i+1+j] + prev[j] // PNG Up, as qpdf writes
		}
		rows, prev = append(rows, r), r
	}
	changed := false
	for _, r := range rows {
		if r[0] == 2 && r[3] == 0 {
			r[3], changed = 1, true
			break
		}
	}
	if !changed {
		t.Fatal("no compressed entry with index 0")
	}
	var plain bytes.Buffer
	for _, r := range rows {
		plain.WriteByte(0) // PNG None
		plain.Write(r)
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(plain.Bytes())
	zw.Close()
	var out bytes.Buffer
	out.Write(data[:m[2]])
	out.WriteString(strconv.Itoa(z.Len()))
	out.Write(data[m[3]:start])
	out.Write(z.Bytes())
	out.Write(data[start+length:])
	return out.Bytes()
}
