package pdf

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strconv"
)

var (
	// ErrEncrypted is returned for encrypted PDFs: signing one would need
	// re-encrypting the appended objects, which this package does not do.
	ErrEncrypted = errors.New("pdf: document is encrypted")
	// ErrMalformed is returned when the document's structure (header,
	// cross-reference data, trailer, catalog, page tree) cannot be read
	// reliably enough to append a revision to it.
	ErrMalformed = errors.New("pdf: malformed document")
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// xrefEntry locates one object: typ 1 = at offset off, typ 2 = index idx
// in object stream off, typ 0 = free or unknown.
type xrefEntry struct {
	typ uint8
	gen uint16
	idx uint32
	off int64
}

// document is the parsed cross-reference data of a PDF, read lazily
// through an io.ReaderAt.
type document struct {
	r          io.ReaderAt
	size       int64
	version    string // header version, e.g. "1.7"
	xref       []xrefEntry
	trailer    *pdfDict // newest trailer (or xref stream dictionary)
	startxref  int64    // offset of the newest cross-reference section
	xrefStream bool     // the newest section is a cross-reference stream
	eolAtEnd   bool     // the file ends with an end-of-line marker

	objstmNum  int // one-entry cache of a decoded object stream
	objstmData []byte
	objstmOffs map[int]int64 // object number -> offset in objstmData
}

// Limits that bound memory use on hostile input.
const (
	maxObjects      = 10_000_000
	maxStreamDecode = 64 << 20
)

func openDocument(r io.ReaderAt, size int64) (*document, error) {
	if size < 16 {
		return nil, malformed("file is only %d bytes", size)
	}
	head := make([]byte, 1024)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	i := bytes.Index(head, []byte("%PDF-"))
	if i < 0 || len(head) < i+8 {
		return nil, malformed("no %%PDF- header")
	}
	d := &document{r: r, size: size, version: string(head[i+5 : i+8]), objstmNum: -1}

	// The last startxref; tolerate up to 64 KiB of junk after it.
	var sx int64 = -1
	for _, win := range []int64{2048, 65536} {
		if win > size {
			win = size
		}
		tail := make([]byte, win)
		m, _ := r.ReadAt(tail, size-win)
		tail = tail[:m]
		if j := bytes.LastIndex(tail, []byte("startxref")); j >= 0 {
			l := newLexer(bytes.NewReader(tail), int64(len(tail)), int64(j+len("startxref")))
			tok, err := l.token()
			if v, ok := tok.(int64); err == nil && ok {
				sx = v
			}
			break
		}
		if win == size {
			break
		}
	}
	last := make([]byte, 1)
	if _, err := r.ReadAt(last, size-1); err == nil {
		d.eolAtEnd = last[0] == '\n' || last[0] == '\r'
	}
	if sx < 0 || sx >= size {
		return nil, malformed("no usable startxref")
	}
	d.startxref = sx
	if err := d.readXrefChain(sx); err != nil {
		return nil, err
	}
	if d.trailer.Get("Encrypt") != nil {
		return nil, ErrEncrypted
	}
	if _, ok := d.trailer.Get("Root").(pdfRef); !ok {
		return nil, malformed("trailer has no /Root reference")
	}
	return d, nil
}

func (d *document) setEntry(num int, e xrefEntry) {
	if num < 0 || num >= maxObjects {
		return
	}
	for len(d.xref) <= num {
		d.xref = append(d.xref, xrefEntry{})
	}
	// Newer sections are read first and win. Free entries are skipped:
	// hybrid files mark compressed objects free in their table.
	if e.typ != 0 && d.xref[num].typ == 0 {
		d.xref[num] = e
	}
}

// readXrefChain reads the cross-reference sections from the newest back
// along /Prev; entries of newer sections win.
func (d *document) readXrefChain(off int64) error {
	seen := map[int64]bool{}
	first := true
	for off >= 0 {
		if seen[off] || len(seen) > 10000 {
			return malformed("cross-reference /Prev loop at %d", off)
		}
		seen[off] = true
		trailer, isStream, err := d.readXrefSection(off)
		if err != nil {
			return err
		}
		if first {
			d.trailer, d.xrefStream = trailer, isStream
			first = false
		}
		if xs, ok := trailer.Get("XRefStm").(int64); ok && !isStream {
			if _, _, err := d.readXrefSection(xs); err != nil {
				return err
			}
		}
		prev, ok := trailer.Get("Prev").(int64)
		if !ok {
			break
		}
		off = prev
	}
	return nil
}

func (d *document) readXrefSection(off int64) (*pdfDict, bool, error) {
	if off < 0 || off >= d.size {
		return nil, false, malformed("cross-reference offset %d outside the file", off)
	}
	l := newLexer(d.r, d.size, off)
	l.skipSpace()
	save := l.pos
	tok, err := l.token()
	if err != nil {
		return nil, false, malformed("cross-reference section at %d: %v", off, err)
	}
	if tok == pdfKW("xref") {
		t, err := d.readXrefTable(l)
		return t, false, err
	}
	l.pos = save
	_, o, err := l.indirect()
	if err != nil {
		return nil, false, malformed("no cross-reference table or stream at %d: %v", off, err)
	}
	s, ok := o.(*pdfStream)
	if !ok || s.Dict.Get("Type") != pdfName("XRef") {
		return nil, false, malformed("object at %d is not a cross-reference stream", off)
	}
	return s.Dict, true, d.readXrefStream(s)
}

func (d *document) readXrefTable(l *lexer) (*pdfDict, error) {
	for {
		tok, err := l.token()
		if err != nil {
			return nil, malformed("cross-reference table: %v", err)
		}
		if tok == pdfKW("trailer") {
			break
		}
		start, ok1 := tok.(int64)
		t2, _ := l.token()
		count, ok2 := t2.(int64)
		if !ok1 || !ok2 || start < 0 || count < 0 || start+count > maxObjects {
			return nil, malformed("bad cross-reference subsection header")
		}
		for i := int64(0); i < count; i++ {
			a, _ := l.token()
			b, _ := l.token()
			c, _ := l.token()
			o, ok1 := a.(int64)
			g, ok2 := b.(int64)
			if !ok1 || !ok2 || (c != pdfKW("n") && c != pdfKW("f")) {
				return nil, malformed("bad cross-reference entry for object %d", start+i)
			}
			if c == pdfKW("n") && o > 0 {
				d.setEntry(int(start+i), xrefEntry{typ: 1, gen: uint16(g), off: o})
			} else {
				d.setEntry(int(start+i), xrefEntry{typ: 0, gen: 0xffff})
			}
		}
	}
	o, err := l.object()
	if err != nil {
		return nil, malformed("trailer: %v", err)
	}
	t, ok := o.(*pdfDict)
	if !ok {
		return nil, malformed("trailer is not a dictionary")
	}
	return t, nil
}

func (d *document) readXrefStream(s *pdfStream) error {
	data, err := d.streamData(s)
	if err != nil {
		return malformed("cross-reference stream: %v", err)
	}
	wa, _ := s.Dict.Get("W").(pdfArray)
	if len(wa) < 3 {
		return malformed("cross-reference stream /W")
	}
	var w [3]int
	for i := 0; i < 3; i++ {
		v, ok := wa[i].(int64)
		if !ok || v < 0 || v > 8 {
			return malformed("cross-reference stream /W")
		}
		w[i] = int(v)
	}
	size, _ := s.Dict.Get("Size").(int64)
	index, _ := s.Dict.Get("Index").(pdfArray)
	if index == nil {
		index = pdfArray{int64(0), size}
	}
	rec := w[0] + w[1] + w[2]
	if rec == 0 {
		return malformed("cross-reference stream /W is empty")
	}
	pos := 0
	for k := 0; k+1 < len(index); k += 2 {
		start, ok1 := index[k].(int64)
		count, ok2 := index[k+1].(int64)
		if !ok1 || !ok2 || start < 0 || count < 0 || start+count > maxObjects {
			return malformed("cross-reference stream /Index")
		}
		for i := int64(0); i < count; i++ {
			if pos+rec > len(data) {
				return malformed("cross-reference stream is short")
			}
			f := func(j, n int) int64 {
				var v int64
				for _, c := range data[pos+j : pos+j+n] {
					v = v<<8 | int64(c)
				}
				return v
			}
			t := int64(1)
			if w[0] > 0 {
				t = f(0, w[0])
			}
			f2, f3 := f(w[0], w[1]), f(w[0]+w[1], w[2])
			pos += rec
			num := int(start + i)
			switch t {
			case 0:
				d.setEntry(num, xrefEntry{typ: 0, gen: 0xffff})
			case 1:
				d.setEntry(num, xrefEntry{typ: 1, gen: uint16(f3), off: f2})
			case 2:
				d.setEntry(num, xrefEntry{typ: 2, off: f2, idx: uint32(f3)})
			}
		}
	}
	return nil
}

// streamData returns the decoded data of a stream (FlateDecode with PNG
// predictors, or no filter), bounded by maxStreamDecode.
func (d *document) streamData(s *pdfStream) ([]byte, error) {
	length, ok := d.resolveNoStream(s.Dict.Get("Length")).(int64)
	if !ok || length < 0 || s.Offset+length > d.size {
		return nil, fmt.Errorf("stream /Length missing or out of range")
	}
	if length > maxStreamDecode {
		return nil, fmt.Errorf("stream of %d bytes is too large", length)
	}
	raw := make([]byte, length)
	if _, err := d.r.ReadAt(raw, s.Offset); err != nil {
		return nil, err
	}
	filter := d.resolveNoStream(s.Dict.Get("Filter"))
	parms := d.resolveNoStream(s.Dict.Get("DecodeParms"))
	if a, ok := filter.(pdfArray); ok {
		if len(a) == 0 {
			filter = nil
		} else if len(a) == 1 {
			filter = a[0]
			if pa, ok := parms.(pdfArray); ok && len(pa) > 0 {
				parms = pa[0]
			}
		} else {
			return nil, fmt.Errorf("stream has %d filters", len(a))
		}
	}
	switch filter {
	case nil:
		return raw, nil
	case pdfName("FlateDecode"), pdfName("Fl"):
	default:
		return nil, fmt.Errorf("unsupported stream filter %v", filter)
	}
	zr, err := zlib.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxStreamDecode+1))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	if len(out) > maxStreamDecode {
		return nil, fmt.Errorf("decoded stream too large")
	}
	pd, _ := parms.(*pdfDict)
	pred, _ := pd.Get("Predictor").(int64)
	if pred >= 10 {
		cols, _ := pd.Get("Columns").(int64)
		if cols <= 0 {
			cols = 1
		}
		colors, _ := pd.Get("Colors").(int64)
		if colors <= 0 {
			colors = 1
		}
		bpc, _ := pd.Get("BitsPerComponent").(int64)
		if bpc <= 0 {
			bpc = 8
		}
		return pngUnpredict(out, int((cols*colors*bpc+7)/8), int((colors*bpc+7)/8))
	} else if pred == 2 {
		return nil, fmt.Errorf("TIFF predictor not supported")
	}
	return out, nil
}

func pngUnpredict(data []byte, rowLen, bpp int) ([]byte, error) {
	if rowLen <= 0 || rowLen > 1<<20 {
		return nil, fmt.Errorf("bad predictor columns")
	}
	var out []byte
	prev := make([]byte, rowLen)
	for pos := 0; pos+1+rowLen <= len(data); pos += 1 + rowLen {
		ft := data[pos]
		row := append([]byte(nil), data[pos+1:pos+1+rowLen]...)
		for i := range row {
			var a, b, c int
			if i >= bpp {
				a = int(row[i-bpp])
				c = int(prev[i-bpp])
			}
			b = int(prev[i])
			switch ft {
			case 0:
			case 1:
				row[i] += byte(a)
			case 2:
				row[i] += byte(b)
			case 3:
				row[i] += byte((a + b) / 2)
			case 4:
				p := a + b - c
				pa, pb, pc := abs(p-a), abs(p-b), abs(p-c)
				switch {
				case pa <= pb && pa <= pc:
					row[i] += byte(a)
				case pb <= pc:
					row[i] += byte(b)
				default:
					row[i] += byte(c)
				}
			default:
				return nil, fmt.Errorf("bad PNG predictor %d", ft)
			}
		}
		out = append(out, row...)
		prev = row
	}
	return out, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// resolveNoStream resolves a reference to a non-stream object (used for
// /Length and filter parameters).
func (d *document) resolveNoStream(o pdfObj) pdfObj {
	r, ok := o.(pdfRef)
	if !ok {
		return o
	}
	v, err := d.object(r)
	if err != nil {
		return nil
	}
	return v
}

// resolve follows a reference; other objects are returned as they are.
func (d *document) resolve(o pdfObj) (pdfObj, error) {
	if r, ok := o.(pdfRef); ok {
		return d.object(r)
	}
	return o, nil
}

// object loads an indirect object. A missing object is null, as the
// specification says.
func (d *document) object(ref pdfRef) (pdfObj, error) {
	if ref.Num <= 0 || ref.Num >= len(d.xref) {
		return nil, nil
	}
	e := d.xref[ref.Num]
	switch e.typ {
	case 1:
		if e.off <= 0 || e.off >= d.size {
			return nil, malformed("object %d at offset %d outside the file", ref.Num, e.off)
		}
		l := newLexer(d.r, d.size, e.off)
		got, o, err := l.indirect()
		if err != nil {
			return nil, malformed("object %d at offset %d: %v", ref.Num, e.off, err)
		}
		if got.Num != ref.Num {
			return nil, malformed("object %d: found object %d at offset %d", ref.Num, got.Num, e.off)
		}
		return o, nil
	case 2:
		return d.objectInStream(ref.Num, int(e.off))
	}
	return nil, nil
}

func (d *document) objectInStream(num, stmNum int) (pdfObj, error) {
	if d.objstmNum != stmNum {
		if stmNum <= 0 || stmNum >= len(d.xref) || d.xref[stmNum].typ != 1 {
			return nil, malformed("object stream %d not found", stmNum)
		}
		o, err := d.object(pdfRef{stmNum, int(d.xref[stmNum].gen)})
		if err != nil {
			return nil, err
		}
		s, ok := o.(*pdfStream)
		if !ok || s.Dict.Get("Type") != pdfName("ObjStm") {
			return nil, malformed("object %d is not an object stream", stmNum)
		}
		data, err := d.streamData(s)
		if err != nil {
			return nil, malformed("object stream %d: %v", stmNum, err)
		}
		n, _ := s.Dict.Get("N").(int64)
		first, _ := s.Dict.Get("First").(int64)
		if n < 0 || first < 0 || first > int64(len(data)) {
			return nil, malformed("object stream %d header", stmNum)
		}
		offs := map[int]int64{}
		l := newLexer(bytes.NewReader(data), first, 0)
		for i := int64(0); i < n; i++ {
			a, err1 := l.token()
			b, err2 := l.token()
			on, ok1 := a.(int64)
			oo, ok2 := b.(int64)
			if err1 != nil || err2 != nil || !ok1 || !ok2 {
				return nil, malformed("object stream %d header", stmNum)
			}
			offs[int(on)] = first + oo
		}
		d.objstmNum, d.objstmData, d.objstmOffs = stmNum, data, offs
	}
	off, ok := d.objstmOffs[num]
	if !ok {
		return nil, malformed("object %d not in object stream %d", num, stmNum)
	}
	l := newLexer(bytes.NewReader(d.objstmData), int64(len(d.objstmData)), off)
	return l.object()
}

// dict resolves o and returns it as a dictionary (a stream's dictionary
// counts), or nil.
func (d *document) dict(o pdfObj) (*pdfDict, error) {
	v, err := d.resolve(o)
	if err != nil {
		return nil, err
	}
	switch t := v.(type) {
	case *pdfDict:
		return t, nil
	case *pdfStream:
		return t.Dict, nil
	}
	return nil, nil
}

// nextObjectNumber is the first object number free for new objects.
func (d *document) nextObjectNumber() int {
	n := len(d.xref)
	if s, ok := d.trailer.Get("Size").(int64); ok && int(s) > n {
		n = int(s)
	}
	return n
}

// page returns the reference and dictionary of page number (1-based).
func (d *document) page(number int) (pdfRef, *pdfDict, error) {
	cat, err := d.dict(d.trailer.Get("Root"))
	if err != nil || cat == nil {
		return pdfRef{}, nil, malformed("catalog unreadable: %v", err)
	}
	node := cat.Get("Pages")
	want := number
	for depth := 0; depth < 64; depth++ {
		ref, ok := node.(pdfRef)
		if !ok {
			return pdfRef{}, nil, malformed("page tree node is not a reference")
		}
		nd, err := d.dict(ref)
		if err != nil || nd == nil {
			return pdfRef{}, nil, malformed("page tree node %d unreadable: %v", ref.Num, err)
		}
		if t, _ := nd.Get("Type").(pdfName); t == "Page" || nd.Get("Kids") == nil {
			if want == 1 {
				return ref, nd, nil
			}
			return pdfRef{}, nil, fmt.Errorf("pdf: page %d not found", number)
		}
		kv, err := d.resolve(nd.Get("Kids"))
		if err != nil {
			return pdfRef{}, nil, err
		}
		kids, _ := kv.(pdfArray)
		found := false
		for _, k := range kids {
			kd, err := d.dict(k)
			if err != nil || kd == nil {
				continue
			}
			cnt := int64(1)
			if t, _ := kd.Get("Type").(pdfName); t != "Page" && kd.Get("Kids") != nil {
				c, _ := d.resolveNoStream(kd.Get("Count")).(int64)
				cnt = c
			}
			if int64(want) <= cnt {
				node, found = k, true
				break
			}
			want -= int(cnt)
		}
		if !found {
			return pdfRef{}, nil, fmt.Errorf("pdf: page %d not found (document has fewer pages)", number)
		}
	}
	return pdfRef{}, nil, malformed("page tree too deep")
}

// writeObj serialises o in PDF syntax.
func writeObj(b *bytes.Buffer, o pdfObj) {
	switch t := o.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if t {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
	case int:
		b.WriteString(strconv.Itoa(t))
	case pdfReal:
		b.WriteString(string(t))
	case pdfName:
		b.WriteByte('/')
		for i := 0; i < len(t); i++ {
			c := t[i]
			if c < '!' || c > '~' || isDelim(c) || c == '#' {
				fmt.Fprintf(b, "#%02X", c)
			} else {
				b.WriteByte(c)
			}
		}
	case pdfString:
		b.WriteByte('<')
		const hx = "0123456789ABCDEF"
		for _, c := range t {
			b.WriteByte(hx[c>>4])
			b.WriteByte(hx[c&15])
		}
		b.WriteByte('>')
	case pdfArray:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(' ')
			}
			writeObj(b, e)
		}
		b.WriteByte(']')
	case *pdfDict:
		b.WriteString("<<")
		for _, k := range t.keys {
			writeObj(b, k)
			b.WriteByte(' ')
			writeObj(b, t.vals[k])
		}
		b.WriteString(">>")
	case pdfRef:
		fmt.Fprintf(b, "%d %d R", t.Num, t.Gen)
	case rawPDF:
		b.WriteString(string(t))
	default:
		b.WriteString("null")
	}
}

// rawPDF is already-serialised PDF syntax.
type rawPDF string
