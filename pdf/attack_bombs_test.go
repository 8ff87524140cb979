package pdf

// Resource bombs: each hostile file must end Verify with a clear, typed
// error within the limits (Limits defaults: about 2 s, well under 256 MiB).
// Memory is checked as a sanity bound only; time is never asserted.

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/pdf/internal/syntax"
)

// bitWriter writes deflate bits, least significant first.
type bitWriter struct {
	buf   []byte
	acc   uint64
	nbits uint
}

func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.nbits
	w.nbits += n
	for w.nbits >= 8 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.nbits -= 8
	}
}

// huff writes a Huffman code (most significant bit first).
func (w *bitWriter) huff(code uint64, n uint) {
	var r uint64
	for i := uint(0); i < n; i++ {
		r = r<<1 | (code>>i)&1
	}
	w.bits(r, n)
}

var (
	bombOnce sync.Once
	bombGiB  []byte
)

// deflateBomb returns a zlib stream that inflates to n zero bytes, built
// directly (one fixed-Huffman block of length-258 distance-1 matches), so a
// GiB-scale bomb costs a few MB and milliseconds to make.
func deflateBomb(n int64) []byte {
	w := &bitWriter{buf: []byte{0x78, 0x9c}}
	w.bits(1, 1)    // BFINAL
	w.bits(1, 2)    // BTYPE=01 fixed Huffman
	w.huff(0x30, 8) // literal 0 (codes 0-143: 0x30+lit, 8 bits)
	for left := n - 1; left >= 258; left -= 258 {
		w.huff(0xc5, 8) // length code 285 = 258 (codes 280-287: 0xc0+(c-280), 8 bits)
		w.huff(0, 5)    // distance code 0 = 1
	}
	w.huff(0, 7) // end of block (256: 7 zero bits)
	if w.nbits > 0 {
		w.bits(0, 8-w.nbits)
	}
	return w.buf // no Adler-32: a reader stops at the limit long before
}

func gibBomb() []byte {
	bombOnce.Do(func() { bombGiB = deflateBomb(1 << 30) })
	return bombGiB
}

// bombPDF assembles objects (already numbered "n 0 obj … endobj") and a
// trailer section written by tail(offsets).
func bombPDF(objs []string, tail func(offs []int, xrefAt int) string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		b.WriteString(o)
		b.WriteString("\n")
	}
	b.WriteString(tail(offs, b.Len()))
	return b.Bytes()
}

func classicTail(root string, extra string) func([]int, int) string {
	return func(offs []int, x int) string {
		var s strings.Builder
		fmt.Fprintf(&s, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
		for _, o := range offs {
			fmt.Fprintf(&s, "%010d 00000 n \n", o)
		}
		fmt.Fprintf(&s, "trailer\n<< /Size %d /Root %s %s >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, root, extra, x)
		return s.String()
	}
}

func binStream(n int, dict string, data []byte) string {
	return fmt.Sprintf("%d 0 obj\n<< %s /Length %d >>\nstream\n%s\nendstream\nendobj", n, dict, len(data), data)
}

type bombCase struct {
	name  string
	build func() []byte
	lim   Limits
	check func(error) bool
}

func isLimit(name string) func(error) bool {
	return func(err error) bool {
		var le *LimitError
		return errors.As(err, &le) && (name == "" || le.Limit == name)
	}
}

func isMalformed(err error) bool {
	var se *SyntaxError
	return errors.Is(err, ErrMalformed) && errors.As(err, &se)
}

func isCycle(err error) bool { return errors.Is(err, ErrMalformed) && errors.Is(err, syntax.ErrCycle) }

func bombCases() []bombCase {
	page := "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>\nendobj"
	pages := "2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj"
	return []bombCase{
		{name: "deflate-bomb/xref-stream", check: isLimit("MaxStreamBytes"), build: func() []byte {
			return bombPDF([]string{"1 0 obj\n<< /Type /Catalog >>\nendobj"}, func(offs []int, x int) string {
				return binStream(2, "/Type /XRef /Size 3 /W [1 4 2] /Root 1 0 R /Filter /FlateDecode", gibBomb()) +
					fmt.Sprintf("\nstartxref\n%d\n%%%%EOF\n", x)
			})
		}},
		{name: "deflate-bomb/object-stream", check: isLimit("MaxStreamBytes"), build: func() []byte {
			// catalog 1 lives in object stream 4, which inflates to 1 GiB
			objs := []string{pages, page, binStream(4, "/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode", gibBomb())}
			var b bytes.Buffer
			b.WriteString("%PDF-1.7\n")
			offs := []int{}
			for _, o := range objs {
				offs = append(offs, b.Len())
				b.WriteString(o + "\n")
			}
			// xref stream: 0 free, 1 in objstm 4, 2-4 plain
			rows := [][3]int{{0, 0, 255}, {2, 4, 0}, {1, offs[0], 0}, {1, offs[1], 0}, {1, offs[2], 0}}
			var data []byte
			for _, r := range rows {
				data = append(data, byte(r[0]), byte(r[1]>>24), byte(r[1]>>16), byte(r[1]>>8), byte(r[1]), byte(r[2]>>8), byte(r[2]))
			}
			x := b.Len()
			b.WriteString(binStream(5, "/Type /XRef /Size 5 /W [1 4 2] /Root 1 0 R", data))
			fmt.Fprintf(&b, "\nstartxref\n%d\n%%%%EOF\n", x)
			return b.Bytes()
		}},
		{name: "deflate-bomb/total-budget", lim: Limits{MaxStreamBytes: 16 << 20, MaxTotalBytes: 24 << 20}, check: isLimit("MaxTotalBytes"), build: func() []byte {
			// two DSS certificate streams of 15 MiB each: each under the
			// per-stream limit, together over the total
			var zb bytes.Buffer
			zw := zlib.NewWriter(&zb)
			zw.Write(make([]byte, 15<<20))
			zw.Close()
			return bombPDF([]string{
				"1 0 obj\n<< /Type /Catalog /Pages 2 0 R /DSS 4 0 R >>\nendobj", pages, page,
				"4 0 obj\n<< /Certs [5 0 R 6 0 R] >>\nendobj",
				binStream(5, "/Filter /FlateDecode", zb.Bytes()),
				binStream(6, "/Filter /FlateDecode", zb.Bytes()),
			}, classicTail("1 0 R", ""))
		}},
		{name: "deflate-bomb/deadline", lim: Limits{MaxStreamBytes: 4 << 30, MaxTotalBytes: 4 << 30, Timeout: 20 * time.Millisecond},
			check: func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }, build: func() []byte {
				return bombPDF([]string{"1 0 obj\n<< /Type /Catalog >>\nendobj"}, func(offs []int, x int) string {
					return binStream(2, "/Type /XRef /Size 3 /W [1 4 2] /Root 1 0 R /Filter /FlateDecode", gibBomb()) +
						fmt.Sprintf("\nstartxref\n%d\n%%%%EOF\n", x)
				})
			}},
		{name: "reference-cycle/length", check: isCycle, build: func() []byte {
			return bombPDF([]string{
				"1 0 obj\n<< /Type /Catalog /Pages 2 0 R /DSS 4 0 R >>\nendobj", pages, page,
				"4 0 obj\n<< /Certs [5 0 R] >>\nendobj",
				"5 0 obj\n<< /Length 6 0 R >>\nstream\nabc\nendstream\nendobj",
				"6 0 obj\n7 0 R\nendobj",
				"7 0 obj\n6 0 R\nendobj",
			}, classicTail("1 0 R", ""))
		}},
		{name: "reference-cycle/root", check: isCycle, build: func() []byte {
			return bombPDF([]string{"1 0 obj\n2 0 R\nendobj", "2 0 obj\n1 0 R\nendobj"}, classicTail("1 0 R", ""))
		}},
		{name: "reference-cycle/prev-loop", check: isCycle, build: func() []byte {
			return bombPDF([]string{"1 0 obj\n<< /Type /Catalog >>\nendobj"}, func(offs []int, x int) string {
				return fmt.Sprintf("xref\n0 2\n0000000000 65535 f \n%010d 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", offs[0], x, x)
			})
		}},
		{name: "reference-cycle/form-fields", check: func(err error) bool { return err == nil }, build: func() []byte {
			// a field that is its own kid: walked once, no error, no signature
			return bombPDF([]string{
				"1 0 obj\n<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] >> >>\nendobj", pages, page,
				"4 0 obj\n<< /T (a) /Kids [4 0 R 5 0 R] >>\nendobj",
				"5 0 obj\n<< /T (b) /Parent 4 0 R /Kids [4 0 R] >>\nendobj",
			}, classicTail("1 0 R", ""))
		}},
		{name: "self-referencing-object-stream", check: isCycle, build: func() []byte {
			// object 1 is in object stream 2, which is said to be in itself
			var b bytes.Buffer
			b.WriteString("%PDF-1.7\n")
			rows := [][3]int{{0, 0, 255}, {2, 2, 0}, {2, 2, 1}}
			var data []byte
			for _, r := range rows {
				data = append(data, byte(r[0]), byte(r[1]>>24), byte(r[1]>>16), byte(r[1]>>8), byte(r[1]), byte(r[2]>>8), byte(r[2]))
			}
			x := b.Len()
			b.WriteString(binStream(3, "/Type /XRef /Size 3 /W [1 4 2] /Root 1 0 R", data))
			fmt.Fprintf(&b, "\nstartxref\n%d\n%%%%EOF\n", x)
			return b.Bytes()
		}},
		{name: "object-stream-length-inside-itself", check: isCycle, build: func() []byte {
			var b bytes.Buffer
			b.WriteString("%PDF-1.7\n")
			o4 := b.Len()
			b.WriteString("4 0 obj\n<< /Type /ObjStm /N 2 /First 8 /Length 5 0 R >>\nstream\n1 0 5 30 << /Type /Catalog >>    40\nendstream\nendobj\n")
			rows := [][3]int{{0, 0, 255}, {2, 4, 0}, {0, 0, 0}, {0, 0, 0}, {1, o4, 0}, {2, 4, 1}}
			var data []byte
			for _, r := range rows {
				data = append(data, byte(r[0]), byte(r[1]>>24), byte(r[1]>>16), byte(r[1]>>8), byte(r[1]), byte(r[2]>>8), byte(r[2]))
			}
			x := b.Len()
			b.WriteString(binStream(6, "/Type /XRef /Size 6 /W [1 4 2] /Root 1 0 R", data))
			fmt.Fprintf(&b, "\nstartxref\n%d\n%%%%EOF\n", x)
			return b.Bytes()
		}},
		{name: "deep-nesting", check: isLimit("MaxDepth"), build: func() []byte {
			return bombPDF([]string{"1 0 obj\n<< /Type /Catalog /X " + strings.Repeat("[", 1_000_000) + " >>\nendobj"}, classicTail("1 0 R", ""))
		}},
		{name: "deep-nesting/dicts", check: isLimit("MaxDepth"), build: func() []byte {
			return bombPDF([]string{"1 0 obj\n" + strings.Repeat("<< /A ", 100_000) + "\nendobj"}, classicTail("1 0 R", ""))
		}},
		{name: "huge-xref-table", check: isLimit("MaxXrefEntries"), build: func() []byte {
			return bombPDF([]string{"1 0 obj\n<< /Type /Catalog >>\nendobj"}, func(offs []int, x int) string {
				return fmt.Sprintf("xref\n0 2000000000\n0000000000 65535 f \ntrailer\n<< /Size 2 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", x)
			})
		}},
		{name: "huge-xref-stream", check: isLimit("MaxXrefEntries"), build: func() []byte {
			return bombPDF(nil, func(offs []int, x int) string {
				return binStream(1, "/Type /XRef /Size 2000000000 /W [1 4 2] /Root 1 0 R", []byte("x")) + fmt.Sprintf("\nstartxref\n%d\n%%%%EOF\n", x)
			})
		}},
		{name: "huge-object-count", lim: Limits{MaxXrefEntries: 50_000}, check: isLimit("MaxXrefEntries"), build: func() []byte {
			var s strings.Builder
			for i := 0; i < 60_000; i++ {
				s.WriteString("0000000009 00000 n \n")
			}
			return bombPDF([]string{"1 0 obj\n<< /Type /Catalog >>\nendobj"}, func(offs []int, x int) string {
				return fmt.Sprintf("xref\n0 60000\n%strailer\n<< /Size 60000 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", s.String(), x)
			})
		}},
		{name: "many-revisions", lim: Limits{MaxRevisions: 50}, check: isLimit("MaxRevisions"), build: func() []byte {
			doc := testpdf.Objects(baseObjects())
			var b bytes.Buffer
			b.Write(doc)
			prev := bytes.LastIndex(doc, []byte("xref"))
			for i := 0; i < 60; i++ {
				x := b.Len()
				fmt.Fprintf(&b, "xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 11 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", prev, x)
				prev = x
			}
			return b.Bytes()
		}},
		{name: "huge-string", lim: Limits{MaxStringBytes: 1 << 20}, check: isLimit("MaxStringBytes"), build: func() []byte {
			return bombPDF([]string{"1 0 obj\n<< /Type /Catalog /S <" + strings.Repeat("41", 2<<20) + "> >>\nendobj"}, classicTail("1 0 R", ""))
		}},
		{name: "huge-array", lim: Limits{MaxObjectTokens: 100_000}, check: isLimit("MaxObjectTokens"), build: func() []byte {
			return bombPDF([]string{"1 0 obj\n<< /Type /Catalog /A [" + strings.Repeat("0 ", 200_000) + "] >>\nendobj"}, classicTail("1 0 R", ""))
		}},
		{name: "truncated/half", check: isMalformed, build: func() []byte { d := baseDoc(); return d[:len(d)/2] }},
		{name: "truncated/no-eof", check: isMalformed, build: func() []byte { d := baseDoc(); return d[:len(d)-7] }},
		{name: "truncated/empty", check: isMalformed, build: func() []byte { return nil }},
		{name: "wrong-xref-offset/startxref", check: isMalformed, build: func() []byte {
			d := baseDoc()
			i := bytes.LastIndex(d, []byte("startxref\n"))
			return append(append([]byte(nil), d[:i]...), "startxref\n17\n%%EOF\n"...)
		}},
		{name: "wrong-xref-offset/object", check: isMalformed, build: func() []byte {
			return bombPDF([]string{"1 0 obj\n<< /Type /Catalog >>\nendobj"}, func(offs []int, x int) string {
				return fmt.Sprintf("xref\n0 2\n0000000000 65535 f \n%010d 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", offs[0]+3, x)
			})
		}},
		{name: "wrong-xref-offset/past-end", check: isMalformed, build: func() []byte {
			return bombPDF([]string{"1 0 obj\n<< /Type /Catalog >>\nendobj"}, func(offs []int, x int) string {
				return fmt.Sprintf("xref\n0 2\n0000000000 65535 f \n9999999999 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", x)
			})
		}},
		{name: "unknown-filter", check: func(err error) bool { return errors.Is(err, ErrMalformed) && errors.Is(err, syntax.ErrUnsupported) }, build: func() []byte {
			return bombPDF(nil, func(offs []int, x int) string {
				return binStream(1, "/Type /XRef /Size 2 /W [1 4 2] /Root 1 0 R /Filter /JBIG2Decode", []byte("xxxxxxxxxxxxxx")) + fmt.Sprintf("\nstartxref\n%d\n%%%%EOF\n", x)
			})
		}},
	}
}

func TestResourceBombs(t *testing.T) {
	for _, tc := range bombCases() {
		t.Run(tc.name, func(t *testing.T) {
			doc := tc.build()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			lim := tc.lim
			if lim.Timeout == 0 {
				// the size limits must stop these, not the clock (the
				// default 2 s deadline is the backstop, see the deadline case)
				lim.Timeout = -1
			}
			_, err := Verify(context.Background(), bytes.NewReader(doc), int64(len(doc)), VerifyOptions{Limits: lim})
			runtime.ReadMemStats(&after)
			if !tc.check(err) {
				t.Fatalf("unexpected result: %v (%T)", err, errors.Unwrap(err))
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<20 {
				t.Errorf("allocated %d MiB, more than 256 MiB", alloc>>20)
			}
			t.Logf("%v", err)
		})
	}
}

// TestDeadline: a cancelled or expired context stops the work.
func TestDeadline(t *testing.T) {
	doc := signWithPdfsign(t, baseDoc(), pdfsignOpts{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Verify(ctx, bytes.NewReader(doc), int64(len(doc)), VerifyOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	_, err = Verify(context.Background(), bytes.NewReader(doc), int64(len(doc)), VerifyOptions{Limits: Limits{Timeout: 1}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}

// TestBombInLaterRevision: a deflate bomb appended after a valid signature
// (an object stream in an incremental update) ends Verify with the limit
// error, not with a report.
func TestBombInLaterRevision(t *testing.T) {
	signed := signWithPdfsign(t, baseDoc(), pdfsignOpts{})
	// object 4 (the page content) moved into object stream 40, which
	// inflates to 1 GiB
	prev, root, _ := lastXref(t, signed)
	var b bytes.Buffer
	b.Write(signed)
	o40 := b.Len()
	b.WriteString(binStream(40, "/Type /ObjStm /N 1 /First 5 /Filter /FlateDecode", gibBomb()) + "\n")
	rows := [][3]int{{2, 40, 0}, {1, o40, 0}}
	var data []byte
	for _, r := range rows {
		data = append(data, byte(r[0]), byte(r[1]>>24), byte(r[1]>>16), byte(r[1]>>8), byte(r[1]), byte(r[2]>>8), byte(r[2]))
	}
	x := b.Len()
	b.WriteString(binStream(41, fmt.Sprintf("/Type /XRef /Size 42 /Index [4 1 40 1] /W [1 4 2] /Root %s /Prev %d", root, prev), data))
	fmt.Fprintf(&b, "\nstartxref\n%d\n%%%%EOF\n", x)
	_, err := verifyBytes(t, b.Bytes(), VerifyOptions{Limits: Limits{Timeout: -1}})
	if !isLimit("MaxStreamBytes")(err) {
		t.Fatalf("err = %v, want MaxStreamBytes", err)
	}
}
