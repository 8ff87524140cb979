// Package testpdf writes small, valid PDF documents for tests: pages of
// text, optionally an AcroForm with text fields, a classic xref table and
// optionally padding to reach a target size (for benchmarks). Other
// layouts (xref streams, object streams, linearized) come from running
// qpdf over these.
package testpdf

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
)

// Options shapes the document.
type Options struct {
	Pages int // default 1
	// Fields adds an AcroForm with that many text fields on page 1, named
	// field1, field2, … with values "value1", …
	Fields int
	// PadBytes adds an incompressible image stream of about that many
	// bytes, so benchmarks can make 1 MB … 1 GB files cheaply.
	PadBytes int64
}

// Bytes returns the document.
func Bytes(o Options) []byte {
	var b bytes.Buffer
	if err := Write(&b, o); err != nil {
		panic(err) // bytes.Buffer never fails
	}
	return b.Bytes()
}

// WriteFile writes the document to path.
func WriteFile(path string, o Options) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := Write(bw, o); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Write writes the document to w.
func Write(w io.Writer, o Options) error {
	if o.Pages <= 0 {
		o.Pages = 1
	}
	c := &counter{w: w}
	var offs []int64
	obj := func(body string) int {
		offs = append(offs, c.n)
		fmt.Fprintf(c, "%d 0 obj\n%s\nendobj\n", len(offs), body)
		return len(offs)
	}
	fmt.Fprint(c, "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	// Object numbers are fixed up front: 1 catalog, 2 pages, 3 font,
	// then pages and contents, then fields, then padding.
	first := 4
	pageNum := func(i int) int { return first + 2*i }
	fieldBase := first + 2*o.Pages
	padNum := fieldBase + o.Fields
	cat := "<< /Type /Catalog /Pages 2 0 R"
	if o.Fields > 0 {
		cat += " /AcroForm << /Fields ["
		for i := 0; i < o.Fields; i++ {
			cat += fmt.Sprintf(" %d 0 R", fieldBase+i)
		}
		cat += " ] /DA (/Helv 0 Tf 0 g) /DR << /Font << /Helv 3 0 R >> >> >>"
	}
	cat += " >>"
	obj(cat)
	kids := ""
	for i := 0; i < o.Pages; i++ {
		kids += fmt.Sprintf(" %d 0 R", pageNum(i))
	}
	obj(fmt.Sprintf("<< /Type /Pages /Count %d /Kids [%s ] >>", o.Pages, kids))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	for i := 0; i < o.Pages; i++ {
		annots := ""
		if i == 0 && o.Fields > 0 {
			annots = " /Annots ["
			for j := 0; j < o.Fields; j++ {
				annots += fmt.Sprintf(" %d 0 R", fieldBase+j)
			}
			annots += " ]"
		}
		res := "/Resources << /Font << /F1 3 0 R >> >>"
		if i == 0 && o.PadBytes > 0 {
			res = fmt.Sprintf("/Resources << /Font << /F1 3 0 R >> /XObject << /Pad %d 0 R >> >>", padNum)
		}
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] %s /Contents %d 0 R%s >>", res, pageNum(i)+1, annots))
		text := fmt.Sprintf("BT /F1 18 Tf 72 770 Td (SecureSign test document, page %d of %d) Tj ET\n", i+1, o.Pages)
		text += "BT /F1 11 Tf 72 740 Td (This agreement is signed with a PAdES signature.) Tj ET\n"
		if i == 0 && o.PadBytes > 0 {
			text += "q 100 0 0 100 72 500 cm /Pad Do Q\n"
		}
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", len(text), text))
	}
	for j := 0; j < o.Fields; j++ {
		y := 600 - 30*j
		obj(fmt.Sprintf("<< /Type /Annot /Subtype /Widget /FT /Tx /T (field%d) /V (value%d) /Rect [72 %d 300 %d] /P %d 0 R /F 4 /DA (/Helv 10 Tf 0 g) >>", j+1, j+1, y, y+20, pageNum(0)))
	}
	if o.PadBytes > 0 {
		// An uncompressed gray image of random bytes: width 1024.
		const width = 1024
		rows := (o.PadBytes + width - 1) / width
		n := rows * width
		offs = append(offs, c.n)
		fmt.Fprintf(c, "%d 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Length %d >>\nstream\n", len(offs), width, rows, n)
		rng := rand.New(rand.NewPCG(1, 2))
		buf := make([]byte, 1<<16)
		for left := n; left > 0; {
			k := int64(len(buf))
			if left < k {
				k = left
			}
			for i := 0; i < int(k); i += 8 {
				v := rng.Uint64()
				for j := 0; j < 8 && i+j < int(k); j++ {
					buf[i+j] = byte(v >> (8 * j))
				}
			}
			if _, err := c.Write(buf[:k]); err != nil {
				return err
			}
			left -= k
		}
		fmt.Fprint(c, "\nendstream\nendobj\n")
	}
	xref := c.n
	fmt.Fprintf(c, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, off := range offs {
		fmt.Fprintf(c, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(c, "trailer\n<< /Size %d /Root 1 0 R /ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>] >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return nil
}
