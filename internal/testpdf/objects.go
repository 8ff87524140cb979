package testpdf

import (
	"bytes"
	"fmt"
)

// Objects writes a one-revision PDF with a classic xref table; objs[i] is
// the body of object i+1 and object 1 is the catalog.
func Objects(objs []string) []byte { return objectsTrailer(objs, "") }

// objectsTrailer is Objects with extra trailer entries (e.g. /Info, /ID).
func objectsTrailer(objs []string, trailer string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	if trailer != "" {
		trailer = " " + trailer
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, trailer, x)
	return b.Bytes()
}

// Minimal is a one-page A4 PDF showing text in Helvetica; different texts
// give documents that hash differently.
func Minimal(text string) []byte {
	content := fmt.Sprintf("BT /F1 18 Tf 72 760 Td (%s) Tj ET", text)
	return Objects([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	})
}
