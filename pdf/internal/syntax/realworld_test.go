package syntax

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The layouts of this file come from other writers: MuPDF's free-list head,
// qpdf's linearized object-stream files, Acrobat's hybrid saves, padded
// uploads, and qpdf's encryption (testdata/encrypted, made with
// `qpdf --encrypt "" owner …` from a ghostscript document whose page 1 says
// "Page one of the agreement").

func openString(t *testing.T, doc string) (*File, error) {
	t.Helper()
	return Open(context.Background(), strings.NewReader(doc), int64(len(doc)), Limits{})
}

// classic builds a one-object document with a classic xref table whose
// free-list head has generation gen.
func classic(gen int) string {
	var b strings.Builder
	b.WriteString("%PDF-1.4\n")
	o := b.Len()
	b.WriteString("1 0 obj\n<< /Type /Catalog /V 1 >>\nendobj\n")
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 2\n0000000000 %05d f \n%010d 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", gen, o, x)
	return b.String()
}

func TestFreeEntryGeneration(t *testing.T) {
	for _, gen := range []int{65535, 65536, 99999} {
		if _, err := openString(t, classic(gen)); err != nil {
			t.Errorf("free entry with generation %d: %v", gen, err)
		}
	}
	// an in-use entry still needs a valid generation
	bad := strings.Replace(classic(65535), " 00000 n ", " 65536 n ", 1)
	if _, err := openString(t, bad); !errors.Is(err, ErrSyntax) {
		t.Errorf("in-use entry with generation 65536: err = %v, want ErrSyntax", err)
	}
}

func TestTrailingJunkAndHeaderOffset(t *testing.T) {
	doc := classic(65535)
	cases := map[string]string{
		"junk-3k":       doc + strings.Repeat("padding\x00", 400),
		"junk-1m":       doc + strings.Repeat("z", 1<<20),
		"header-offset": "MIME-Version: 1.0\r\n\r\n" + doc,
		"both":          "xx" + doc + strings.Repeat(" ", 5000),
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) {
			f, err := openString(t, d)
			if err != nil {
				t.Fatal(err)
			}
			cat, err := f.ResolveDict(0, f.Revisions[0].Trailer["Root"])
			if err != nil || cat["V"] != int64(1) {
				t.Fatalf("catalog = %v, %v", Format(cat), err)
			}
		})
	}
	// but objects after the last %%EOF are a truncated update, not junk
	trunc := doc + "2 0 obj\n<< /Length 4000 >>\nstream\n" + strings.Repeat("x", 4000) + "\nendstream\nendobj\n"
	if _, err := openString(t, trunc); !errors.Is(err, ErrSyntax) {
		t.Errorf("truncated update: err = %v, want ErrSyntax", err)
	}
}

// TestHybridAndLinearized: sections not followed by their own startxref.
func TestHybridAndLinearized(t *testing.T) {
	// Hybrid save: the update's table comes first, then its /XRefStm
	// object, then startxref.
	base := classic(65535)
	var b strings.Builder
	b.WriteString(base)
	o2 := b.Len()
	b.WriteString("2 0 obj\n<< /Type /Catalog /V 2 >>\nendobj\n")
	x := b.Len()
	fmt.Fprintf(&b, "xref\n2 1\n%010d 00000 n \ntrailer\n<< /Size 4 /Root 2 0 R /Prev %d /XRefStm XRSTM >>\n", o2, strings.Index(base, "xref\n"))
	tableEnd := b.String()
	xsOff := len(strings.Replace(tableEnd, "XRSTM", "0000000000", 1))
	// the xref stream maps object 3, itself
	data := string([]byte{1, byte(xsOff >> 8), byte(xsOff), 0, 0})
	stm := fmt.Sprintf("3 0 obj\n<< /Type /XRef /Size 4 /W [1 2 2] /Index [3 1] /Length %d >>\nstream\n%s\nendstream\nendobj\n", len(data), data)
	doc := strings.Replace(tableEnd, "XRSTM", fmt.Sprintf("%010d", xsOff), 1) + stm + fmt.Sprintf("startxref\n%d\n%%%%EOF\n", x)
	f, err := openString(t, doc)
	if err != nil {
		t.Fatalf("hybrid: %v", err)
	}
	if len(f.Revisions) != 2 {
		t.Fatalf("hybrid: %d revisions, want 2", len(f.Revisions))
	}
	cat, _ := f.ResolveDict(1, f.Revisions[1].Trailer["Root"])
	if cat["V"] != int64(2) {
		t.Errorf("hybrid: catalog %v", Format(cat))
	}
}

func TestEncryptedVectors(t *testing.T) {
	files, _ := filepath.Glob("testdata/encrypted/*.pdf")
	if len(files) < 7 {
		t.Fatalf("%d vectors", len(files))
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".pdf")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			open := func(pw string) (*File, error) {
				var p []byte
				if pw != "" {
					p = []byte(pw)
				}
				return OpenWithPassword(context.Background(), bytes.NewReader(data), int64(len(data)), Limits{}, p)
			}
			pws := []string{"", "owner"}
			if strings.HasSuffix(name, "-user") {
				if _, err := open(""); !errors.Is(err, ErrPassword) {
					t.Fatalf("no password: err = %v, want ErrPassword", err)
				}
				if _, err := open("wrong"); !errors.Is(err, ErrPassword) {
					t.Fatalf("wrong password: err = %v, want ErrPassword", err)
				}
				pws = []string{"user-pw", "owner"}
			}
			for _, pw := range pws {
				f, err := open(pw)
				if err != nil {
					t.Fatalf("password %q: %v", pw, err)
				}
				if got := f.Crypt().Owner; got != (pw == "owner") {
					t.Errorf("password %q: Owner = %v", pw, got)
				}
				checkDecrypted(t, f)
			}
		})
	}
}

// checkDecrypted reads the /Producer string and page 1's content stream.
func checkDecrypted(t *testing.T, f *File) {
	t.Helper()
	rev := len(f.Revisions) - 1
	tr := f.Revisions[rev].Trailer
	info, err := f.ResolveDict(rev, tr["Info"])
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := info["Producer"].(String); !strings.Contains(string(p.Bytes), "Ghostscript") {
		t.Errorf("/Producer = %q", p.Bytes)
	}
	cat, _ := f.ResolveDict(rev, tr["Root"])
	pages, _ := f.ResolveDict(rev, cat["Pages"])
	kids, _ := pages["Kids"].(Array)
	if len(kids) == 0 {
		t.Fatal("no kids")
	}
	page, _ := f.ResolveDict(rev, kids[0])
	o, err := f.Resolve(rev, page["Contents"])
	if err != nil {
		t.Fatal(err)
	}
	s, ok := o.(*Stream)
	if !ok {
		t.Fatalf("contents %T", o)
	}
	data, err := f.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("Page one of the agreement")) {
		t.Errorf("page 1 content not decrypted: %q", data[:min(len(data), 80)])
	}
}

// TestEncryptRoundTrip: what the writer encrypts for a new object, the
// reader decrypts, for every method of the vectors.
func TestEncryptRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/encrypted/*.pdf")
	for _, path := range files {
		data, _ := os.ReadFile(path)
		pw := []byte(nil)
		if strings.Contains(path, "-user") {
			pw = []byte("user-pw")
		}
		f, err := OpenWithPassword(context.Background(), bytes.NewReader(data), int64(len(data)), Limits{}, pw)
		if err != nil {
			t.Fatal(err)
		}
		c := f.Crypt()
		ref := Ref{Num: 77, Gen: 0}
		for _, plain := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("0123456789abcdef"), 3)} {
			got, err := c.decrypt(ref, c.str, c.EncryptString(ref, plain))
			if err != nil || !bytes.Equal(got, plain) {
				t.Errorf("%s: string round trip %q -> %q, %v", path, plain, got, err)
			}
			got, err = c.decrypt(ref, c.stm, c.EncryptStream(ref, plain))
			if err != nil || !bytes.Equal(got, plain) {
				t.Errorf("%s: stream round trip %q -> %q, %v", path, plain, got, err)
			}
		}
	}
}

func FuzzOpenEncrypted(f *testing.F) {
	files, _ := filepath.Glob("testdata/encrypted/*.pdf")
	for _, p := range files {
		data, _ := os.ReadFile(p)
		f.Add(data, "")
		f.Add(data, "owner")
	}
	f.Fuzz(func(t *testing.T, data []byte, pw string) {
		lim := Limits{MaxStreamBytes: 1 << 20, MaxTotalBytes: 4 << 20, MaxXrefEntries: 1 << 16, Timeout: -1}
		file, err := OpenWithPassword(context.Background(), bytes.NewReader(data), int64(len(data)), lim, []byte(pw))
		if err != nil {
			return
		}
		walkAll(file)
	})
}

func FuzzReconstruct(f *testing.F) {
	f.Add([]byte(classic(65535)))
	f.Add([]byte(strings.Replace(classic(65535), "startxref\n", "startxref\n9", 1)))
	f.Add([]byte("%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n3 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Length 10 >>\nstream\n4 0 <<>>\nendstream\nendobj\n%%EOF\n"))
	f.Add([]byte("junk%PDF-1.4\n7 0 obj [1 2 3] endobj trailer << /Root 7 0 R >> %%EOF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxStreamBytes: 1 << 20, MaxTotalBytes: 4 << 20, MaxXrefEntries: 1 << 16, Timeout: -1}
		file, err := Reconstruct(context.Background(), bytes.NewReader(data), int64(len(data)), lim)
		if err != nil {
			return
		}
		file.CheckXref(0)
		walkAll(file)
	})
}

// walkAll reads (a bounded number of) every object and stream of file.
func walkAll(file *File) {
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
		}
	}
}

// TestCheckXrefAndReconstruct: a wrong object-stream index and a wrong
// offset are found by CheckXref, and Reconstruct reads past both.
func TestCheckXrefAndReconstruct(t *testing.T) {
	good := xrefStreamPDFIndex(0)
	f, err := Open(context.Background(), bytes.NewReader(good), int64(len(good)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.CheckXref(0); err != nil {
		t.Fatalf("CheckXref(good) = %v", err)
	}
	shifted := []byte(strings.Replace(classic(65535), "0000000009 00000 n", "0000000011 00000 n", 1))
	for name, doc := range map[string][]byte{"objstm-index": xrefStreamPDFIndex(3), "offset": shifted} {
		t.Run(name, func(t *testing.T) {
			f, err := Open(context.Background(), bytes.NewReader(doc), int64(len(doc)), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.CheckXref(0); !errors.Is(err, ErrSyntax) {
				t.Fatalf("CheckXref = %v, want ErrSyntax", err)
			}
			r, err := Reconstruct(context.Background(), bytes.NewReader(doc), int64(len(doc)), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.CheckXref(0); err != nil {
				t.Errorf("reconstructed CheckXref = %v", err)
			}
			cat, err := r.ResolveDict(0, r.Revisions[0].Trailer["Root"])
			if err != nil || cat["Type"] != Name("Catalog") {
				t.Errorf("reconstructed catalog = %v, %v", Format(cat), err)
			}
		})
	}
}
