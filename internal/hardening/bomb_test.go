//go:build linux && cgo

package hardening

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"strings"
)

// validationBomb is a small PDF (tens of KB) whose catalog, page tree and
// form fields each sit in an object stream inflating to padMiB MiB: a
// reader decodes them all to look for signatures, which costs the decoded
// size of every stream up to the budget (MaxStreamBytes each,
// MaxTotalBytes together).
func validationBomb(padMiB, fields int) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := map[int]int{}
	const stm0 = 100
	objStm := func(num, inner int, body string) {
		head := fmt.Sprintf("%d 0 ", inner)
		var z bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
		zw.Write([]byte(head + body))
		pad := bytes.Repeat([]byte{' '}, 1<<20)
		for range padMiB {
			zw.Write(pad)
		}
		zw.Close()
		offs[num] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n<</Type/ObjStm/N 1/First %d/Filter/FlateDecode/Length %d>>\nstream\n", num, len(head), z.Len())
		b.Write(z.Bytes())
		b.WriteString("\nendstream\nendobj\n")
	}
	var refs strings.Builder
	for i := range fields {
		fmt.Fprintf(&refs, "%d 0 R ", 4+i)
	}
	objStm(stm0, 1, "<</Type/Catalog/Pages 2 0 R/AcroForm 3 0 R>>")
	objStm(stm0+1, 2, "<</Type/Pages/Kids[]/Count 0>>")
	objStm(stm0+2, 3, "<</Fields["+refs.String()+"]/SigFlags 3>>")
	for i := range fields {
		objStm(stm0+3+i, 4+i, fmt.Sprintf("<</FT/Sig/T(f%d)/V %d 0 R>>", i, 4+fields+i))
	}
	n := stm0 + 3 + fields
	// Cross-reference stream: W [1 4 2].
	var xr bytes.Buffer
	ent := func(t byte, f2 uint32, f3 uint16) {
		xr.WriteByte(t)
		xr.Write([]byte{byte(f2 >> 24), byte(f2 >> 16), byte(f2 >> 8), byte(f2)})
		xr.Write([]byte{byte(f3 >> 8), byte(f3)})
	}
	ent(0, 0, 65535)
	for i := 1; i < 4+fields; i++ {
		ent(2, uint32(stm0+i-1), 0)
	}
	for i := 4 + fields; i < stm0; i++ {
		ent(0, 0, 0)
	}
	for i := stm0; i < n; i++ {
		ent(1, uint32(offs[i]), 0)
	}
	xrefOff := b.Len()
	ent(1, uint32(xrefOff), 0)
	fmt.Fprintf(&b, "%d 0 obj\n<</Type/XRef/Size %d/W[1 4 2]/Root 1 0 R/Length %d>>\nstream\n", n, n+1, xr.Len())
	b.Write(xr.Bytes())
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xrefOff)
	return b.Bytes()
}
