package syntax

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func parseOne(t testing.TB, src string) (Object, error) {
	t.Helper()
	lim := DefaultLimits
	p := newParser(nil, strings.NewReader(src), int64(len(src)), 0, &lim, 0)
	return p.object(0)
}

func TestParseObjects(t *testing.T) {
	cases := []struct {
		src  string
		want Object
	}{
		{"null", nil},
		{"true", true},
		{"-12", int64(-12)},
		{"+.5", 0.5},
		{"3.25", 3.25},
		{"/Name#20with#2Fhash", Name("Name with/hash")},
		{"(a\\(b\\)c\\n\\101\\\r\nd)", String{Bytes: []byte("a(b)c\nAd")}},
		{"(nested (paren) ok)", String{Bytes: []byte("nested (paren) ok")}},
		{"<48 65 6C6c6F 2>", String{Bytes: []byte("Hello "), Hex: true}},
		{"[1 0 R 2 /X [ ] ]", Array{Ref{1, 0}, int64(2), Name("X"), Array{}}},
		{"<< /A 1 /B << /C [4 5 R] >> /N null >>", Dict{"A": int64(1), "B": Dict{"C": Array{Ref{4, 5}}}}},
		{"% comment\n 7 % another\r", int64(7)},
	}
	for _, tc := range cases {
		got, err := parseOne(t, tc.src)
		if err != nil {
			t.Errorf("%q: %v", tc.src, err)
			continue
		}
		// "(.. \\r\\n d)": an escaped line break is removed
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%q: (-want +got)\n%s", tc.src, diff)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, src := range []string{"", "(unterminated", "<4G>", "<< /A >>", "<< 1 2 >>", "[1 2", ")", "endobj", "<< /A 1"} {
		if _, err := parseOne(t, src); err == nil {
			t.Errorf("%q: no error", src)
		} else if !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: error %v is not ErrSyntax", src, err)
		}
	}
}

// xrefStreamPDF builds a PDF whose xref is a PNG-predicted, compressed
// stream and whose catalog sits in an object stream.
func xrefStreamPDF(t testing.TB) []byte {
	t.Helper()
	return xrefStreamPDFIndex(0)
}

// xrefStreamPDFIndex is xrefStreamPDF with the catalog's object-stream
// index in the xref stream set to idx (0 is right).
func xrefStreamPDFIndex(idx int) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-2.0\n")
	o2 := b.Len()
	b.WriteString("2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n")
	inner := "1 0 << /Type /Catalog /Pages 2 0 R >>"
	o3 := b.Len()
	fmt.Fprintf(&b, "3 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Length %d >>\nstream\n%s\nendstream\nendobj\n", len(inner), inner)
	rows := [][3]int{{0, 0, 255}, {2, 3, idx}, {1, o2, 0}, {1, o3, 0}, {1, b.Len(), 0}}
	var raw []byte
	prev := make([]byte, 5)
	for _, r := range rows {
		row := []byte{byte(r[0]), byte(r[1] >> 16), byte(r[1] >> 8), byte(r[1]), byte(r[2])}
		raw = append(raw, 2) // PNG "Up"
		for i := range row {
			raw = append(raw, row[i]-prev[i])
		}
		prev = row
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(raw)
	zw.Close()
	x := b.Len()
	fmt.Fprintf(&b, "4 0 obj\n<< /Type /XRef /Size 5 /W [1 3 1] /Root 1 0 R /Filter /FlateDecode /DecodeParms << /Columns 5 /Predictor 12 >> /Length %d >>\nstream\n", z.Len())
	b.Write(z.Bytes())
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", x)
	return b.Bytes()
}

func TestXrefStreamAndObjectStream(t *testing.T) {
	doc := xrefStreamPDF(t)
	f, err := Open(context.Background(), bytes.NewReader(doc), int64(len(doc)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != "2.0" || len(f.Revisions) != 1 {
		t.Fatalf("version %q, %d revisions", f.Version, len(f.Revisions))
	}
	cat, err := f.ResolveDict(0, Ref{Num: 1})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Dict{"Type": Name("Catalog"), "Pages": Ref{2, 0}}, cat); diff != "" {
		t.Fatal(diff)
	}
	if e, _ := f.Entry(0, 1); e.Type != Compressed || e.Stream != 3 {
		t.Fatalf("entry of 1: %+v", e)
	}
}

func TestRevisions(t *testing.T) {
	base := "%PDF-1.4\n1 0 obj\n<< /Type /Catalog /V 1 >>\nendobj\n"
	x1 := len(base)
	doc := base + fmt.Sprintf("xref\n0 2\n0000000000 65535 f \n%010d 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", 9, x1)
	end1 := len(doc)
	o := len(doc)
	doc += "1 0 obj\n<< /Type /Catalog /V 2 >>\nendobj\n"
	x2 := len(doc)
	doc += fmt.Sprintf("xref\n1 1\n%010d 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF", o, x1, x2)
	f, err := Open(context.Background(), strings.NewReader(doc), int64(len(doc)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Revisions) != 2 || f.Revisions[0].End != int64(end1) || f.Revisions[1].End != int64(len(doc)) {
		t.Fatalf("revisions: %d, ends %d %d", len(f.Revisions), f.Revisions[0].End, f.Revisions[1].End)
	}
	for rev, want := range []int64{1, 2} {
		d, err := f.ResolveDict(rev, Ref{Num: 1})
		if err != nil {
			t.Fatal(err)
		}
		if d["V"] != want {
			t.Errorf("revision %d: V = %v, want %d", rev, d["V"], want)
		}
	}
}

func TestValueSpan(t *testing.T) {
	doc := "%PDF-1.4\n1 0 obj\n<< /Type /Sig /Contents <0102> /ByteRange [0 1 2 3] >>\nendobj\n"
	x := len(doc)
	doc += fmt.Sprintf("xref\n0 2\n0000000000 65535 f \n%010d 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", 9, x)
	f, err := Open(context.Background(), strings.NewReader(doc), int64(len(doc)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	a, b, err := f.ValueSpan(0, 1, "Contents")
	if err != nil {
		t.Fatal(err)
	}
	if got := doc[a:b]; got != "<0102>" {
		t.Fatalf("span %q", got)
	}
}

func FuzzSyntaxParse(f *testing.F) {
	for _, s := range []string{"<< /A [1 2 0 R (x\\)) <41> /N] >>", "[[[[", "(", "<<>>", "1 0 R", "/#41", "%c\r5"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := DefaultLimits
		lim.MaxStringBytes = 1 << 16
		p := newParser(nil, bytes.NewReader(data), int64(len(data)), 0, &lim, 0)
		for i := 0; i < 16; i++ {
			o, err := p.object(0)
			if err != nil {
				return
			}
			_ = Format(o)
			_ = Refs(nil, o)
			if !Equal(o, o) {
				t.Fatalf("object not equal to itself: %s", Format(o))
			}
		}
	})
}

func FuzzXref(f *testing.F) {
	f.Add(xrefStreamPDF(f))
	f.Add([]byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\nxref\n0 2\n0000000000 65535 f \n0000000009 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R >>\nstartxref\n45\n%%EOF\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxStreamBytes: 1 << 20, MaxTotalBytes: 4 << 20, MaxXrefEntries: 1 << 16, Timeout: -1}
		file, err := Open(context.Background(), bytes.NewReader(data), int64(len(data)), lim)
		if err != nil {
			return
		}
		for rev := range file.Revisions {
			nums, err := file.ObjectNumbers(rev)
			if err != nil {
				return
			}
			for i, n := range nums {
				if i > 256 {
					break
				}
				o, err := file.Lookup(rev, n)
				if err != nil {
					continue
				}
				if s, ok := o.(*Stream); ok {
					file.Decode(s)
				}
				file.ValueSpan(rev, n, "Contents")
				if off := file.ObjectOffset(rev, n); off >= 0 {
					file.ObjectEnd(rev, off)
				}
			}
		}
	})
}

// TestHiddenXrefSection: an xref section hidden inside an earlier revision
// (here in a stream's data) and pulled into the chain by a later update
// would change what that revision means; Open refuses it.
func TestHiddenXrefSection(t *testing.T) {
	var b strings.Builder
	b.WriteString("%PDF-1.4\n")
	o1 := b.Len()
	b.WriteString("1 0 obj\n<< /Type /Catalog /V 1 >>\nendobj\n")
	xa := b.Len()
	fmt.Fprintf(&b, "xref\n0 2\n0000000000 65535 f \n%010d 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", o1, xa)
	// revision B: object 2 is a stream whose data holds an evil catalog and
	// a complete xref section H pointing to it, with /Prev = B's own xref
	o2 := b.Len()
	head := "2 0 obj\n<< /Length %010d >>\nstream\n"
	dataStart := o2 + len(fmt.Sprintf(head, 0))
	evil := "1 0 obj\n<< /Type /Catalog /V 666 >>\nendobj\n"
	hOff := dataStart + len(evil)
	h := "xref\n1 1\n%010d 00000 n \ntrailer\n<< /Size 3 /Root 1 0 R /Prev %010d >>\nstartxref\n0\n%%%%EOF\n"
	dataLen := len(evil) + len(fmt.Sprintf(h, 0, 0))
	xb := dataStart + dataLen + len("\nendstream\nendobj\n")
	fmt.Fprintf(&b, head, dataLen)
	b.WriteString(evil)
	fmt.Fprintf(&b, h, dataStart, xb)
	b.WriteString("\nendstream\nendobj\n")
	if b.Len() != xb {
		t.Fatalf("layout: %d != %d", b.Len(), xb)
	}
	fmt.Fprintf(&b, "xref\n2 1\n%010d 00000 n \ntrailer\n<< /Size 3 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", o2, xa, xb)
	// the attacker's update C: nothing but /Prev pointing at H
	xc := b.Len()
	fmt.Fprintf(&b, "xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 3 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", hOff, xc)
	doc := b.String()
	_, err := Open(context.Background(), strings.NewReader(doc), int64(len(doc)), Limits{})
	if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "hidden xref") {
		t.Fatalf("err = %v, want hidden xref section", err)
	}
}

// TestDictClone: the signer rewrites copies of the input's dictionaries;
// a copy must never change the cached original, and a nil one is usable.
func TestDictClone(t *testing.T) {
	orig := Dict{"Type": Name("Catalog"), "Pages": Ref{Num: 2}}
	c := orig.Clone()
	c["AcroForm"] = Ref{Num: 9}
	delete(c, "Type")
	if len(orig) != 2 || orig["Type"] != Name("Catalog") {
		t.Errorf("original changed: %v", Format(orig))
	}
	var nilDict Dict
	n := nilDict.Clone()
	n["X"] = int64(1) // must not panic
	if len(n) != 1 {
		t.Errorf("clone of nil: %v", Format(n))
	}
}
