package syntax

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
)

// EntryType is the kind of an xref entry.
type EntryType byte

const (
	Free       EntryType = 0
	InUse      EntryType = 1 // Offset is the object's file offset
	Compressed EntryType = 2 // the object is number Index in object stream Stream
)

// Entry is one xref entry.
type Entry struct {
	Type   EntryType
	Offset int64
	Gen    uint16
	Stream uint32
	Index  int
}

// Section is one xref section (a table with its trailer, or an xref stream).
type Section struct {
	Offset  int64 // where "xref" or the xref stream object starts
	Stream  bool  // an xref stream
	Trailer Dict
	Entries map[uint32]Entry
	EOF     int64 // offset just after the "%%EOF" that ends the section
	XRefStm int64 // hybrid files: offset of the supplementary xref stream, 0 if none
}

// Revision is the state of the document at one "%%EOF": the original
// document or one incremental update.
type Revision struct {
	Index    int
	Sections []*Section // newest first
	Trailer  Dict       // trailer of the newest section
	// EOFMark is the offset just after "%%EOF"; End also includes the
	// end-of-line that may follow it.
	EOFMark, End int64
	Start        int64 // End of the previous revision (0 for the first)
	entries      map[uint32]Entry
}

// Entries returns the xref entries defined by this revision itself (not by
// earlier ones). The map must not be modified.
func (r *Revision) Entries() map[uint32]Entry { return r.entries }

// File is an open PDF.
type File struct {
	r         io.ReaderAt
	size      int64
	lim       Limits
	ctx       context.Context
	Version   string
	Revisions []*Revision // in file order, oldest first
	decoded   int64
	xrefTotal int
	cache     map[cacheKey]Object
	objstms   map[int64]*objStm
	inflight  map[cacheKey]bool
	encrypted bool
	crypt     *Crypt
	base      int64 // bytes before the header not counted by offsets
}

type cacheKey struct {
	off int64 // file offset, or -(objstm offset) for compressed
	idx int
}

type objStm struct {
	data    []byte
	offsets []int64
	nums    []uint32
	first   int64
}

// Open reads the xref chain of a PDF of the given size. ctx (and
// lim.Timeout) bound all later work on the File as well.
func Open(ctx context.Context, r io.ReaderAt, size int64, lim Limits) (*File, error) {
	return OpenWithPassword(ctx, r, size, lim, nil)
}

// OpenWithPassword is Open for documents that may be encrypted: an
// encrypted document opens with the empty user password or with password
// (as user or owner password), and its strings and streams are then
// decrypted as they are read. Otherwise the error matches ErrPassword;
// security handlers other than the standard one give ErrUnsupported.
func OpenWithPassword(ctx context.Context, r io.ReaderAt, size int64, lim Limits, password []byte) (*File, error) {
	lim = lim.WithDefaults()
	f := &File{r: r, size: size, lim: lim, ctx: ctx,
		cache: map[cacheKey]Object{}, objstms: map[int64]*objStm{}, inflight: map[cacheKey]bool{}}
	hdr, err := f.header()
	if err != nil {
		return nil, err
	}
	start, err := f.lastStartxref()
	if err != nil {
		return nil, err
	}
	if hdr > 0 && !f.sectionAt(start) && start+hdr < size && f.sectionAt(start+hdr) {
		// Bytes before "%PDF-" with offsets counted from the header (as
		// readers allow): read the file as if it began there.
		f.base = hdr
		f.r = io.NewSectionReader(r, hdr, size-hdr)
		f.size = size - hdr
		size = f.size
	}
	var chain []*Section
	seen := map[int64]bool{}
	off := start
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if seen[off] {
			return nil, &SyntaxError{Offset: off, Msg: "xref /Prev chain loops", Err: ErrCycle}
		}
		seen[off] = true
		if len(chain) >= lim.MaxRevisions {
			return nil, &LimitError{Limit: "MaxRevisions", Max: int64(lim.MaxRevisions)}
		}
		sec, err := f.section(off)
		if err != nil {
			return nil, err
		}
		chain = append(chain, sec)
		prev, ok := sec.Trailer["Prev"]
		if !ok {
			break
		}
		p, ok := prev.(int64)
		if !ok || p < 0 || p >= size {
			return nil, syntaxErr(off, "bad /Prev %s", Format(prev))
		}
		off = p
	}
	// Group sections into revisions, oldest first. A section that ends
	// before an older one (the first-page xref of a linearized file) belongs
	// to the same revision as that older section and takes precedence.
	for i := len(chain) - 1; i >= 0; i-- {
		s := chain[i]
		if s.Trailer["Encrypt"] != nil {
			f.encrypted = true
		}
		n := len(f.Revisions)
		if n == 0 || s.EOF > f.Revisions[n-1].EOFMark {
			// one section per revision is the rule: share its map
			rv := &Revision{EOFMark: s.EOF, Trailer: Dict{}, entries: s.Entries, Sections: []*Section{s}}
			for k, v := range s.Trailer {
				rv.Trailer[k] = v
			}
			f.Revisions = append(f.Revisions, rv)
			continue
		}
		if n > 1 || len(f.Revisions[0].Sections) > 1 || s.Offset > f.Revisions[0].Sections[0].Offset {
			// Only a linearized file's first-page xref may come before the
			// section it updates. Anywhere else such a section was hidden
			// in earlier (possibly signed) bytes and would silently change
			// what an earlier revision means.
			return nil, syntaxErr(s.Offset, "xref section lies inside an earlier revision (hidden xref section?)")
		}
		// the first-page section of a linearized file: merged, newer wins
		rv := f.Revisions[n-1]
		rv.Sections = append([]*Section{s}, rv.Sections...)
		for k, v := range s.Trailer {
			rv.Trailer[k] = v
		}
		merged := make(map[uint32]Entry, len(rv.entries)+len(s.Entries))
		for num, e := range rv.entries {
			merged[num] = e
		}
		for num, e := range s.Entries {
			merged[num] = e
		}
		rv.entries = merged
	}
	var prevEnd int64
	for i, rv := range f.Revisions {
		rv.Index = i
		rv.End = f.eolAfter(rv.EOFMark)
		rv.Start = prevEnd
		prevEnd = rv.End
	}
	if f.Revisions[len(f.Revisions)-1].Trailer["Root"] == nil {
		return nil, syntaxErr(start, "trailer has no /Root")
	}
	if f.Revisions[len(f.Revisions)-1].Trailer["Encrypt"] != nil {
		if err := f.setupCrypt(password); err != nil {
			if errors.Is(err, ErrPassword) || errors.Is(err, ErrLimit) || f.ctx.Err() != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %w", ErrEncryption, err)
		}
	}
	return f, nil
}

// Size is the file size given to Open.
func (f *File) Size() int64 { return f.size }

// Limits returns the limits in force.
func (f *File) Limits() Limits { return f.lim }

// ReaderAt returns the underlying reader.
func (f *File) ReaderAt() io.ReaderAt { return f.r }

// Encrypted reports whether any trailer has /Encrypt.
func (f *File) Encrypted() bool { return f.encrypted }

// HeaderOffset is the number of bytes before "%PDF-" that the file's
// offsets do not count; the File reads the PDF as starting after them.
func (f *File) HeaderOffset() int64 { return f.base }

// sectionAt reports whether an xref table or an indirect object (an xref
// stream) starts at off.
func (f *File) sectionAt(off int64) bool {
	lx := &lexer{r: newReader(f.r, f.size, off), lim: &f.lim}
	t, err := lx.token()
	if err != nil {
		return false
	}
	if t.kind == tKeyword && t.s == "xref" {
		return true
	}
	t2, err2 := lx.token()
	t3, err3 := lx.token()
	return t.kind == tInt && err2 == nil && err3 == nil && t2.kind == tInt && t3.kind == tKeyword && t3.s == "obj"
}

func (f *File) header() (int64, error) {
	var b [1024]byte
	n, _ := f.r.ReadAt(b[:], 0)
	i := bytes.Index(b[:n], []byte("%PDF-"))
	if i < 0 {
		return 0, syntaxErr(0, "no %%PDF- header")
	}
	v := b[i+5 : n]
	j := 0
	for j < len(v) && j < 4 && (v[j] == '.' || (v[j] >= '0' && v[j] <= '9')) {
		j++
	}
	f.Version = string(v[:j])
	return int64(i), nil
}

// maxTrailingJunk bounds how far before the end of the file the last
// startxref is looked for: padded uploads carry junk after %%EOF.
const maxTrailingJunk = 8 << 20

func (f *File) lastStartxref() (int64, error) {
	var (
		buf   []byte
		start int64
		i     = -1
	)
	for tail := int64(2048); i < 0; tail *= 32 {
		if err := f.ctx.Err(); err != nil {
			return 0, err
		}
		start = max(f.size-min(tail, maxTrailingJunk), 0)
		buf = make([]byte, f.size-start)
		n, _ := f.r.ReadAt(buf, start)
		buf = buf[:n]
		// the window widens only while it holds no startxref at all: a
		// last startxref without %%EOF is a truncated file, not junk
		i = bytes.LastIndex(buf, []byte("startxref"))
		if start == 0 || tail >= maxTrailingJunk {
			break
		}
	}
	if i < 0 {
		return 0, &SyntaxError{Offset: f.size, Msg: "no startxref near the end of the file (truncated?)", Err: io.ErrUnexpectedEOF}
	}
	e := bytes.Index(buf[i:], []byte("%%EOF"))
	if e < 0 {
		return 0, &SyntaxError{Offset: f.size, Msg: "no %%EOF after the last startxref (truncated?)", Err: io.ErrUnexpectedEOF}
	}
	if rest := buf[i+e:]; len(rest) > 2048 && (bytes.Contains(rest, []byte("endobj")) || bytes.Contains(rest, []byte("endstream"))) {
		// not padding but an update cut short before its startxref
		return 0, &SyntaxError{Offset: f.size, Msg: "objects after the last startxref but no startxref after them (truncated?)", Err: io.ErrUnexpectedEOF}
	}
	lx := &lexer{r: newReader(f.r, f.size, start+int64(i)+9), lim: &f.lim}
	t, err := lx.token()
	if err != nil || t.kind != tInt || t.i < 0 || t.i >= f.size {
		return 0, syntaxErr(start+int64(i), "bad startxref offset")
	}
	return t.i, nil
}

// eolAfter returns pos plus one end-of-line if one follows.
func (f *File) eolAfter(pos int64) int64 {
	var b [2]byte
	n, _ := f.r.ReadAt(b[:], pos)
	if n >= 1 && b[0] == '\r' {
		if n == 2 && b[1] == '\n' {
			return pos + 2
		}
		return pos + 1
	}
	if n >= 1 && b[0] == '\n' {
		return pos + 1
	}
	return pos
}

func (f *File) addEntries(n int) error {
	f.xrefTotal += n
	if n < 0 || f.xrefTotal > f.lim.MaxXrefEntries {
		return &LimitError{Limit: "MaxXrefEntries", Max: int64(f.lim.MaxXrefEntries)}
	}
	return nil
}

// section parses the xref section at off and the startxref/%%EOF after it.
func (f *File) section(off int64) (*Section, error) {
	lx := &lexer{r: newReader(f.r, f.size, off), lim: &f.lim}
	t, err := lx.token()
	if err != nil {
		return nil, err
	}
	var sec *Section
	if t.kind == tKeyword && t.s == "xref" {
		sec, err = f.table(lx, off)
	} else {
		lx.unread(t)
		sec, err = f.xrefStream(lx, off)
	}
	if err != nil {
		return nil, err
	}
	// startxref N %%EOF
	t, err = lx.token()
	if err != nil || t.kind != tKeyword || t.s != "startxref" {
		// Not every section ends its revision: qpdf's linearized output
		// puts objects after the first-page xref stream, and hybrid saves
		// follow the table with its /XRefStm object. Such a section belongs
		// to the revision that ends at the next %%EOF.
		from := lx.r.pos
		if err == nil {
			from = t.pos
		}
		if sec.EOF, err = f.nextEOF(from); err != nil {
			return nil, err
		}
		return sec, nil
	}
	if t, err = lx.token(); err != nil || t.kind != tInt {
		return nil, syntaxErr(t.pos, "startxref without offset")
	}
	r := lx.r
	for isWhite(r.peek()) {
		r.pos++
	}
	var mark [5]byte
	for i := range mark {
		c := r.next()
		if c < 0 {
			return nil, &SyntaxError{Offset: r.pos, Msg: "missing %%EOF", Err: io.ErrUnexpectedEOF}
		}
		mark[i] = byte(c)
	}
	if string(mark[:]) != "%%EOF" {
		return nil, syntaxErr(r.pos-5, "missing %%EOF after startxref")
	}
	sec.EOF = r.pos
	return sec, nil
}

// nextEOF returns the offset just after the first "%%EOF" at or after from.
func (f *File) nextEOF(from int64) (int64, error) {
	const chunk = 64 << 10
	mark := []byte("%%EOF")
	buf := make([]byte, chunk+len(mark)-1)
	for pos := from; pos < f.size; pos += chunk {
		if err := f.ctx.Err(); err != nil {
			return 0, err
		}
		n, _ := f.r.ReadAt(buf[:min(int64(len(buf)), f.size-pos)], pos)
		if i := bytes.Index(buf[:n], mark); i >= 0 {
			return pos + int64(i+len(mark)), nil
		}
	}
	return 0, &SyntaxError{Offset: from, Msg: "no %%EOF after the xref section", Err: io.ErrUnexpectedEOF}
}

func (f *File) table(lx *lexer, off int64) (*Section, error) {
	sec := &Section{Offset: off, Entries: map[uint32]Entry{}}
	for {
		if err := f.ctx.Err(); err != nil {
			return nil, err
		}
		t, err := lx.token()
		if err != nil {
			return nil, err
		}
		if t.kind == tKeyword && t.s == "trailer" {
			break
		}
		if t.kind != tInt {
			return nil, syntaxErr(t.pos, "bad xref subsection header")
		}
		t2, err := lx.token()
		if err != nil {
			return nil, err
		}
		if t2.kind != tInt || t.i < 0 || t2.i < 0 || t.i+t2.i > 1<<31 {
			return nil, syntaxErr(t.pos, "bad xref subsection header")
		}
		if err := f.addEntries(int(t2.i)); err != nil {
			return nil, err
		}
		for k := int64(0); k < t2.i; k++ {
			if k&1023 == 0 {
				if err := f.ctx.Err(); err != nil {
					return nil, err
				}
			}
			a, err1 := lx.token()
			b, err2 := lx.token()
			c, err3 := lx.token()
			if err := errors.Join(err1, err2, err3); err != nil {
				return nil, err
			}
			if a.kind != tInt || b.kind != tInt || c.kind != tKeyword || (c.s != "n" && c.s != "f") || b.i < 0 || a.i < 0 {
				return nil, syntaxErr(a.pos, "bad xref entry")
			}
			if b.i > 65535 {
				// MuPDF writes the free-list head as "0000000000 65536 f";
				// no reader uses a free entry's generation, so only an
				// in-use entry must have a valid one.
				if c.s == "n" {
					return nil, syntaxErr(a.pos, "bad xref entry (generation %d)", b.i)
				}
				b.i = 65535
			}
			num := uint32(t.i + k)
			if _, dup := sec.Entries[num]; dup {
				continue // first one wins, as readers do
			}
			e := Entry{Type: Free, Gen: uint16(b.i)}
			if c.s == "n" {
				e.Type = InUse
				e.Offset = a.i
				if a.i >= f.size {
					return nil, syntaxErr(a.pos, "xref entry for object %d points past the end of the file", num)
				}
			}
			sec.Entries[num] = e
		}
	}
	p := &parser{lx: lx, f: f, rev: -1}
	tr, err := p.object(0)
	if err != nil {
		return nil, err
	}
	d, ok := tr.(Dict)
	if !ok {
		return nil, syntaxErr(off, "trailer is not a dictionary")
	}
	sec.Trailer = d
	if xs, ok := d["XRefStm"].(int64); ok { // hybrid file
		if xs < 0 || xs >= f.size {
			return nil, syntaxErr(off, "bad /XRefStm")
		}
		lx2 := &lexer{r: newReader(f.r, f.size, xs), lim: &f.lim}
		s2, err := f.xrefStream(lx2, xs)
		if err != nil {
			return nil, err
		}
		sec.XRefStm = xs
		for n, e := range s2.Entries {
			if old, ok := sec.Entries[n]; !ok || old.Type == Free {
				sec.Entries[n] = e
			}
		}
	}
	return sec, nil
}

func (f *File) xrefStream(lx *lexer, off int64) (*Section, error) {
	p := &parser{lx: lx, f: f, rev: -1}
	_, o, err := p.indirect(Ref{}, true)
	if err != nil {
		return nil, err
	}
	s, ok := o.(*Stream)
	if !ok {
		return nil, syntaxErr(off, "startxref/Prev points neither to an xref table nor an xref stream")
	}
	if tp, _ := s.Dict.Name("Type"); tp != "XRef" {
		return nil, syntaxErr(off, "stream at xref offset is not /Type /XRef")
	}
	size, ok := s.Dict.Int("Size")
	if !ok || size < 0 || size > 1<<31 {
		return nil, syntaxErr(off, "xref stream without valid /Size")
	}
	w, ok := s.Dict["W"].(Array)
	if !ok || len(w) != 3 {
		return nil, syntaxErr(off, "xref stream /W is not an array of 3")
	}
	var ws [3]int
	for i, v := range w {
		n, ok := v.(int64)
		if !ok || n < 0 || n > 8 {
			return nil, syntaxErr(off, "bad xref stream /W")
		}
		ws[i] = int(n)
	}
	row := ws[0] + ws[1] + ws[2]
	if row == 0 {
		return nil, syntaxErr(off, "xref stream /W is all zero")
	}
	index := Array{int64(0), size}
	if ix, ok := s.Dict["Index"].(Array); ok {
		index = ix
	}
	if len(index)%2 != 0 {
		return nil, syntaxErr(off, "bad xref stream /Index")
	}
	total := int64(0)
	for i := 0; i < len(index); i += 2 {
		a, ok1 := index[i].(int64)
		b, ok2 := index[i+1].(int64)
		if !ok1 || !ok2 || a < 0 || b < 0 || a+b > 1<<31 {
			return nil, syntaxErr(off, "bad xref stream /Index")
		}
		total += b
	}
	if total > int64(f.lim.MaxXrefEntries) {
		return nil, &LimitError{Limit: "MaxXrefEntries", Max: int64(f.lim.MaxXrefEntries)}
	}
	if err := f.addEntries(int(total)); err != nil {
		return nil, err
	}
	data, err := f.Decode(s)
	if err != nil {
		return nil, fmt.Errorf("xref stream at %d: %w", off, err)
	}
	if int64(len(data)) < total*int64(row) {
		return nil, syntaxErr(off, "xref stream data too short")
	}
	sec := &Section{Offset: off, Stream: true, Trailer: s.Dict, Entries: make(map[uint32]Entry, total)}
	field := func(b []byte) int64 {
		var v int64
		for _, c := range b {
			v = v<<8 | int64(c)
		}
		return v
	}
	pos := 0
	for i := 0; i < len(index); i += 2 {
		start, count := index[i].(int64), index[i+1].(int64)
		for k := int64(0); k < count; k++ {
			b := data[pos : pos+row]
			pos += row
			typ := int64(1)
			if ws[0] > 0 {
				typ = field(b[:ws[0]])
			}
			v1 := field(b[ws[0] : ws[0]+ws[1]])
			v2 := field(b[ws[0]+ws[1]:])
			num := uint32(start + k)
			if _, dup := sec.Entries[num]; dup {
				continue
			}
			switch typ {
			case 0:
				sec.Entries[num] = Entry{Type: Free, Gen: uint16(v2)}
			case 1:
				if v1 < 0 || v1 >= f.size {
					return nil, syntaxErr(off, "xref stream entry for object %d points past the end of the file", num)
				}
				sec.Entries[num] = Entry{Type: InUse, Offset: v1, Gen: uint16(v2)}
			case 2:
				if v1 <= 0 || v1 > 1<<31 || v2 < 0 || v2 > 1<<31 {
					return nil, syntaxErr(off, "bad compressed xref entry for object %d", num)
				}
				sec.Entries[num] = Entry{Type: Compressed, Stream: uint32(v1), Index: int(v2)}
			default:
				// unknown types are treated as null objects (ISO 32000-1 7.5.8.3)
			}
		}
	}
	return sec, nil
}

// Entry returns the xref entry of object num as seen at the end of
// revision rev (searching that revision and the earlier ones).
func (f *File) Entry(rev int, num uint32) (Entry, bool) {
	if rev < 0 || rev >= len(f.Revisions) {
		rev = len(f.Revisions) - 1
	}
	for i := rev; i >= 0; i-- {
		if e, ok := f.Revisions[i].entries[num]; ok {
			return e, true
		}
	}
	return Entry{}, false
}

// ObjectNumbers returns every object number with an in-use or compressed
// entry at the end of revision rev.
func (f *File) ObjectNumbers(rev int) ([]uint32, error) {
	seen := map[uint32]bool{}
	var out []uint32
	for i := rev; i >= 0; i-- {
		for n, e := range f.Revisions[i].entries {
			if seen[n] {
				continue
			}
			seen[n] = true
			if e.Type != Free && n != 0 {
				out = append(out, n)
			}
		}
		if len(out) > f.lim.MaxObjects {
			return nil, &LimitError{Limit: "MaxObjects", Max: int64(f.lim.MaxObjects)}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// Lookup returns the value of object num as seen at the end of revision
// rev. A missing or free object is nil (PDF's null), not an error.
func (f *File) Lookup(rev int, num uint32) (Object, error) {
	if err := f.ctx.Err(); err != nil {
		return nil, err
	}
	e, ok := f.Entry(rev, num)
	if !ok || e.Type == Free || num == 0 {
		return nil, nil
	}
	switch e.Type {
	case InUse:
		key := cacheKey{off: e.Offset}
		if o, ok := f.cache[key]; ok {
			return o, nil
		}
		if f.inflight[key] {
			return nil, &SyntaxError{Offset: e.Offset, Msg: fmt.Sprintf("object %d depends on itself", num), Err: ErrCycle}
		}
		f.inflight[key] = true
		defer delete(f.inflight, key)
		p := newParser(f, f.r, f.size, e.Offset, &f.lim, rev)
		_, o, err := p.indirect(Ref{Num: num, Gen: e.Gen}, true)
		if err == nil && f.crypt != nil {
			o, err = f.decryptObject(Ref{Num: num, Gen: e.Gen}, o)
		}
		if err != nil {
			return nil, fmt.Errorf("object %d: %w", num, err)
		}
		f.store(key, o)
		return o, nil
	case Compressed:
		return f.compressed(rev, num, e)
	}
	return nil, nil
}

func (f *File) store(k cacheKey, o Object) {
	if len(f.cache) < 200_000 {
		f.cache[k] = o
	}
}

// resolveLength resolves an indirect /Length.
func (f *File) resolveLength(rev int, r Ref) (int64, error) {
	if rev < 0 {
		rev = len(f.Revisions) - 1
		if rev < 0 { // still reading the xref chain: no lookups possible
			return -1, nil
		}
	}
	o, err := f.Resolve(rev, r)
	if err != nil {
		return 0, err
	}
	n, _ := o.(int64)
	if n < 0 {
		return -1, nil
	}
	return n, nil
}

// Resolve follows references until it reaches a direct value.
func (f *File) Resolve(rev int, o Object) (Object, error) {
	for i := 0; ; i++ {
		r, ok := o.(Ref)
		if !ok {
			return o, nil
		}
		if i >= f.lim.MaxRefChain {
			return nil, &SyntaxError{Msg: fmt.Sprintf("reference chain from %v too long", r), Err: ErrCycle}
		}
		var err error
		if o, err = f.Lookup(rev, r.Num); err != nil {
			return nil, err
		}
	}
}

// ResolveDict resolves o and returns it as a dictionary (a stream's
// dictionary counts), or nil.
func (f *File) ResolveDict(rev int, o Object) (Dict, error) {
	v, err := f.Resolve(rev, o)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case Dict:
		return x, nil
	case *Stream:
		return x.Dict, nil
	}
	return nil, nil
}

func (f *File) compressed(rev int, num uint32, e Entry) (Object, error) {
	se, ok := f.Entry(rev, e.Stream)
	if !ok || se.Type != InUse {
		if ok && se.Type == Compressed {
			return nil, &SyntaxError{Msg: fmt.Sprintf("object stream %d is itself inside an object stream", e.Stream), Err: ErrCycle}
		}
		return nil, syntaxErr(0, "object %d is in missing object stream %d", num, e.Stream)
	}
	key := cacheKey{off: -se.Offset - 1, idx: e.Index}
	if o, ok := f.cache[key]; ok {
		return o, nil
	}
	os, err := f.objStream(rev, e.Stream, se)
	if err != nil {
		return nil, err
	}
	if e.Index < 0 || e.Index >= len(os.offsets) {
		return nil, syntaxErr(se.Offset, "object stream %d has no object at index %d", e.Stream, e.Index)
	}
	if os.nums[e.Index] != num {
		return nil, syntaxErr(se.Offset, "object stream %d holds object %d at index %d, not %d", e.Stream, os.nums[e.Index], e.Index, num)
	}
	start := os.first + os.offsets[e.Index]
	if start < 0 || start > int64(len(os.data)) {
		return nil, syntaxErr(se.Offset, "object stream %d: bad offset", e.Stream)
	}
	p := newParser(nil, bytes.NewReader(os.data), int64(len(os.data)), start, &f.lim, rev)
	o, err := p.object(0)
	if err != nil {
		return nil, fmt.Errorf("object %d in object stream %d: %w", num, e.Stream, err)
	}
	f.store(key, o)
	return o, nil
}

func (f *File) objStream(rev int, num uint32, se Entry) (*objStm, error) {
	if os, ok := f.objstms[se.Offset]; ok {
		return os, nil
	}
	o, err := f.Lookup(rev, num)
	if err != nil {
		return nil, err
	}
	s, ok := o.(*Stream)
	if !ok {
		return nil, syntaxErr(se.Offset, "object %d is not an object stream", num)
	}
	n, ok1 := s.Dict.Int("N")
	first, ok2 := s.Dict.Int("First")
	if !ok1 || !ok2 || n < 0 || first < 0 {
		return nil, syntaxErr(se.Offset, "object stream %d lacks /N or /First", num)
	}
	if n > int64(f.lim.MaxObjectStreamsN) {
		return nil, &LimitError{Limit: "MaxObjectStreamsN", Max: int64(f.lim.MaxObjectStreamsN)}
	}
	data, err := f.Decode(s)
	if err != nil {
		return nil, fmt.Errorf("object stream %d: %w", num, err)
	}
	os := &objStm{data: data, first: first}
	p := newParser(nil, bytes.NewReader(data), int64(len(data)), 0, &f.lim, rev)
	for i := int64(0); i < n; i++ {
		a, err1 := p.tok()
		b, err2 := p.tok()
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		if a.kind != tInt || b.kind != tInt || a.i < 0 || a.i > 1<<31 || b.i < 0 {
			return nil, syntaxErr(se.Offset, "object stream %d: bad header", num)
		}
		os.nums = append(os.nums, uint32(a.i))
		os.offsets = append(os.offsets, b.i)
	}
	f.objstms[se.Offset] = os
	return os, nil
}

// ValueSpan returns the byte span [start, end) of the value of key in the
// top-level dictionary of the uncompressed object num at revision rev. It
// lets a validator check that a signature's ByteRange gap is exactly its
// /Contents string.
func (f *File) ValueSpan(rev int, num uint32, key Name) (start, end int64, err error) {
	e, ok := f.Entry(rev, num)
	if !ok || e.Type != InUse {
		return 0, 0, syntaxErr(0, "object %d is not stored directly in the file", num)
	}
	p := newParser(nil, f.r, f.size, e.Offset, &f.lim, rev)
	for i := 0; i < 3; i++ { // n g obj
		if _, err := p.tok(); err != nil {
			return 0, 0, err
		}
	}
	t, err := p.tok()
	if err != nil {
		return 0, 0, err
	}
	if t.kind != tDictOpen {
		return 0, 0, syntaxErr(t.pos, "object %d is not a dictionary", num)
	}
	found := false
	for {
		t, err := p.tok()
		if err != nil {
			return 0, 0, err
		}
		if t.kind == tDictClose {
			break
		}
		if t.kind != tName {
			return 0, 0, syntaxErr(t.pos, "dictionary key is not a name")
		}
		p.lx.r.skipSpace()
		vs := p.lx.r.pos
		if _, err := p.object(1); err != nil {
			return 0, 0, err
		}
		if Name(t.s) == key {
			if found {
				return 0, 0, syntaxErr(vs, "key /%s appears twice", key)
			}
			found = true
			start = vs
			// the lexer may have read ahead (looking for "n g R"); the
			// reader position is exact only without pushback
			if len(p.lx.pushback) > 0 {
				end = p.lx.pushback[len(p.lx.pushback)-1].pos
				// value followed by pushed-back tokens: end at the last
				// byte of the value is not known exactly; back up over
				// whitespace from the next token
				end = f.trimBack(vs, end)
			} else {
				end = p.lx.r.pos
			}
		}
	}
	if !found {
		return 0, 0, syntaxErr(e.Offset, "object %d has no /%s", num, key)
	}
	return start, end, nil
}

func (f *File) trimBack(lo, end int64) int64 {
	var b [1]byte
	for end > lo {
		if _, err := f.r.ReadAt(b[:], end-1); err != nil || !isWhite(int(b[0])) {
			break
		}
		end--
	}
	return end
}

// ObjectOffset returns where uncompressed object num starts at revision rev
// (-1 if compressed or absent).
func (f *File) ObjectOffset(rev int, num uint32) int64 {
	e, ok := f.Entry(rev, num)
	if !ok || e.Type != InUse {
		return -1
	}
	return e.Offset
}

// ObjectEnd parses the indirect object starting at off and returns the
// offset just after it (after "endobj" when present).
func (f *File) ObjectEnd(rev int, off int64) (int64, error) {
	p := newParser(f, f.r, f.size, off, &f.lim, rev)
	if _, _, err := p.indirect(Ref{}, true); err != nil {
		return 0, err
	}
	if n := len(p.lx.pushback); n > 0 {
		return p.lx.pushback[0].pos, nil
	}
	return p.lx.r.pos, nil
}

// Context returns the context the File was opened with.
func (f *File) Context() context.Context { return f.ctx }

// OnlySpaceOrComments reports whether data is only whitespace and comments,
// and if not, the index of the first other byte.
func OnlySpaceOrComments(data []byte) (bool, int) {
	for i := 0; i < len(data); i++ {
		c := int(data[i])
		if isWhite(c) {
			continue
		}
		if c == '%' {
			for i < len(data) && data[i] != '\n' && data[i] != '\r' {
				i++
			}
			continue
		}
		return false, i
	}
	return true, -1
}
