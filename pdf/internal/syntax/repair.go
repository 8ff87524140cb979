package syntax

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
)

// CheckXref checks that every in-use entry of revision rev points at the
// header of the object it names and every compressed entry at the right
// index of its object stream: the cheap part of what a reader's repair
// would find. Signing checks it before appending to a document, so that
// it never appends to cross-reference data that readers would rebuild.
func (f *File) CheckXref(rev int) error {
	nums, err := f.ObjectNumbers(rev)
	if err != nil {
		return err
	}
	type direct struct {
		off int64
		num uint32
		gen uint16
	}
	var headers []direct
	for i, num := range nums {
		if i&1023 == 0 {
			if err := f.ctx.Err(); err != nil {
				return err
			}
		}
		e, _ := f.Entry(rev, num)
		switch e.Type {
		case InUse:
			headers = append(headers, direct{e.Offset, num, e.Gen})
		case Compressed:
			se, ok := f.Entry(rev, e.Stream)
			if ok && se.Type == Compressed {
				return &SyntaxError{Msg: fmt.Sprintf("object stream %d is itself inside an object stream", e.Stream), Err: ErrCycle}
			}
			if !ok || se.Type != InUse {
				return syntaxErr(0, "object %d is in missing object stream %d", num, e.Stream)
			}
			os, err := f.objStream(rev, e.Stream, se)
			if err != nil {
				return err
			}
			if e.Index < 0 || e.Index >= len(os.nums) || os.nums[e.Index] != num {
				return syntaxErr(se.Offset, "object stream %d does not hold object %d at index %d", e.Stream, num, e.Index)
			}
		}
	}
	// In file order through one window, so that a document of many small
	// objects costs a few large reads rather than one read per object.
	sort.Slice(headers, func(i, j int) bool { return headers[i].off < headers[j].off })
	const window, need = 64 << 10, 64
	buf := make([]byte, min(window, max(f.size, need)))
	var wStart, wEnd int64 = -1, -1
	for i, h := range headers {
		if i&1023 == 0 {
			if err := f.ctx.Err(); err != nil {
				return err
			}
		}
		if h.off < wStart || h.off+need > wEnd {
			// near the end of the file the window is short: re-read then
			n, _ := f.r.ReadAt(buf, h.off)
			wStart, wEnd = h.off, h.off+int64(n)
		}
		b := buf[h.off-wStart : min(h.off-wStart+need, wEnd-wStart)]
		if !objHeaderAt(b, h.num, h.gen) {
			return syntaxErr(h.off, "xref entry of object %d does not point at \"%d %d obj\"", h.num, h.num, h.gen)
		}
	}
	return nil
}

// Reconstruct reads a document whose cross-reference data is damaged or
// missing by scanning it for "n g obj" headers, as readers do: the last
// definition of a number wins, objects inside object streams count where
// no direct definition exists, and the trailer comes from the last
// "trailer" dictionary or cross-reference stream, or else from the catalog
// found among the objects. The result has one revision. It never replaces
// Open for validation: a repaired reading can change what a signature
// appears to cover.
func Reconstruct(ctx context.Context, r io.ReaderAt, size int64, lim Limits) (*File, error) {
	lim = lim.WithDefaults()
	f := &File{r: r, size: size, lim: lim, ctx: ctx,
		cache: map[cacheKey]Object{}, objstms: map[int64]*objStm{}, inflight: map[cacheKey]bool{}}
	hdr, err := f.header()
	if err != nil {
		return nil, err
	}
	if hdr > 0 {
		f.base = hdr
		f.r = io.NewSectionReader(r, hdr, size-hdr)
		f.size = size - hdr
	}
	entries := map[uint32]Entry{}
	var trailers []int64
	lastEOF, err := f.scan(entries, &trailers)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, syntaxErr(0, "no objects found")
	}
	// A file cut short is not repaired: what it shows would be part of a
	// document, and signing that is never what the user meant.
	lastObj := int64(-1)
	for _, e := range entries {
		lastObj = max(lastObj, e.Offset)
	}
	if lastEOF < lastObj {
		return nil, &SyntaxError{Offset: f.size, Msg: "no %%EOF after the last object (truncated file)", Err: io.ErrUnexpectedEOF}
	}
	rv := &Revision{entries: entries, Trailer: Dict{}, EOFMark: f.size, End: f.size}
	rv.Sections = []*Section{{Offset: 0, Entries: entries, Trailer: rv.Trailer, EOF: f.size}}
	f.Revisions = []*Revision{rv}
	// trailers, oldest first, later keys win
	for _, off := range trailers {
		p := newParser(f, f.r, f.size, off, &f.lim, 0)
		if o, err := p.object(0); err == nil {
			if d, ok := o.(Dict); ok {
				for _, k := range []Name{"Root", "Info", "ID", "Encrypt"} {
					if v, ok := d[k]; ok {
						rv.Trailer[k] = v
					}
				}
			}
		} else if fatal(err) {
			return nil, err
		}
	}
	// object streams and cross-reference streams
	nums := make([]uint32, 0, len(entries))
	for n := range entries {
		nums = append(nums, n)
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	var catalog Ref
	for _, n := range nums {
		o, err := f.Lookup(0, n)
		if fatal(err) {
			return nil, err
		}
		var d Dict
		switch x := o.(type) {
		case Dict:
			d = x
		case *Stream:
			d = x.Dict
		}
		switch t, _ := d.Name("Type"); t {
		case "Catalog":
			if catalog.Num == 0 {
				catalog = Ref{Num: n, Gen: entries[n].Gen}
			}
		case "XRef":
			for _, k := range []Name{"Root", "Info", "ID", "Encrypt"} {
				if v, ok := d[k]; ok {
					if _, have := rv.Trailer[k]; !have {
						rv.Trailer[k] = v
					}
				}
			}
		case "ObjStm":
			os, err := f.objStream(0, n, entries[n])
			if fatal(err) {
				return nil, err
			}
			if err != nil {
				continue
			}
			for i, m := range os.nums {
				if _, direct := entries[m]; !direct && m != 0 {
					if err := f.addEntries(1); err != nil {
						return nil, err
					}
					entries[m] = Entry{Type: Compressed, Stream: n, Index: i}
				}
			}
		}
	}
	if catalog.Num == 0 {
		// the catalog may live in an object stream (found just above)
		var inStreams []uint32
		for n, e := range entries {
			if e.Type == Compressed {
				inStreams = append(inStreams, n)
			}
		}
		sort.Slice(inStreams, func(i, j int) bool { return inStreams[i] < inStreams[j] })
		for _, n := range inStreams {
			d, err := f.ResolveDict(0, Ref{Num: n})
			if fatal(err) {
				return nil, err
			}
			if t, _ := d.Name("Type"); t == "Catalog" {
				catalog = Ref{Num: n}
				break
			}
		}
	}
	if rv.Trailer["Root"] == nil && catalog.Num != 0 {
		rv.Trailer["Root"] = catalog
	}
	if root, ok := rv.Trailer["Root"].(Ref); !ok {
		if catalog.Num == 0 {
			return nil, syntaxErr(0, "no catalog found")
		}
		rv.Trailer["Root"] = catalog
	} else if d, _ := f.ResolveDict(0, root); d == nil && catalog.Num != 0 {
		rv.Trailer["Root"] = catalog
	}
	if rv.Trailer["Encrypt"] != nil {
		f.encrypted = true
	}
	return f, nil
}

func fatal(err error) bool {
	return errors.Is(err, ErrLimit) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// scan finds object headers and "trailer" keywords, and returns where
// the last "%%EOF" is (-1 if none).
func (f *File) scan(entries map[uint32]Entry, trailers *[]int64) (int64, error) {
	lastEOF := int64(-1)
	const chunk = 1 << 20
	const overlap = 64
	buf := make([]byte, chunk+overlap)
	for pos := int64(0); pos < f.size; pos += chunk {
		if err := f.ctx.Err(); err != nil {
			return 0, err
		}
		n, _ := f.r.ReadAt(buf[:min(int64(len(buf)), f.size-pos)], pos)
		data := buf[:n]
		limit := min(n, chunk) // matches starting in the overlap belong to the next chunk
		if e := bytes.LastIndex(data, []byte("%%EOF")); e >= 0 {
			lastEOF = max(lastEOF, pos+int64(e))
		}
		for i := 0; i < n; {
			j := bytes.Index(data[i:], []byte("obj"))
			k := bytes.Index(data[i:], []byte("trailer"))
			if j < 0 && k < 0 {
				break
			}
			if k >= 0 && (j < 0 || k < j) {
				at := i + k
				if at < limit && (at == 0 || isWhite(int(data[at-1]))) {
					*trailers = append(*trailers, pos+int64(at)+7)
				}
				i = at + 7
				continue
			}
			at := i + j
			i = at + 3
			if at+3 < n && !isWhite(int(data[at+3])) && !isDelim(int(data[at+3])) {
				continue // "objstm" and other words
			}
			num, gen, start, ok := objHeaderBefore(data, at)
			if !ok || start >= limit {
				continue
			}
			if _, seen := entries[num]; !seen {
				if err := f.addEntries(1); err != nil {
					return 0, err
				}
				if len(entries) >= f.lim.MaxObjects {
					return 0, &LimitError{Limit: "MaxObjects", Max: int64(f.lim.MaxObjects)}
				}
			}
			entries[num] = Entry{Type: InUse, Offset: pos + int64(start), Gen: gen}
		}
	}
	return lastEOF, nil
}

// objHeaderBefore parses "num gen " backwards from data[at] ("obj").
func objHeaderBefore(data []byte, at int) (num uint32, gen uint16, start int, ok bool) {
	i := at
	skipWS := func() bool {
		s := i
		for i > 0 && isWhite(int(data[i-1])) {
			i--
		}
		return i < s
	}
	digits := func() (int64, bool) {
		e := i
		for i > 0 && data[i-1] >= '0' && data[i-1] <= '9' && e-i < 10 {
			i--
		}
		if i == e {
			return 0, false
		}
		var v int64
		for _, c := range data[i:e] {
			v = v*10 + int64(c-'0')
		}
		return v, true
	}
	if !skipWS() {
		return 0, 0, 0, false
	}
	g, okg := digits()
	if !okg || !skipWS() {
		return 0, 0, 0, false
	}
	n, okn := digits()
	if !okn || g > 65535 || n > 1<<31 || n == 0 {
		return 0, 0, 0, false
	}
	if i > 0 && ((!isWhite(int(data[i-1])) && !isDelim(int(data[i-1]))) || data[i-1] == '%') {
		return 0, 0, 0, false // part of a word, or commented out
	}
	return uint32(n), uint16(g), i, true
}

// objHeaderAt reports whether b starts (after whitespace and comments, as
// the lexer allows) with "num gen obj". It allocates nothing: CheckXref
// runs it for every object of the document.
func objHeaderAt(b []byte, num uint32, gen uint16) bool {
	i := 0
	for i < len(b) {
		if isWhite(int(b[i])) {
			i++
		} else if b[i] == '%' {
			for i < len(b) && b[i] != '\n' && b[i] != '\r' {
				i++
			}
		} else {
			break
		}
	}
	number := func() (int64, bool) {
		s := i
		var v int64
		for i < len(b) && b[i] >= '0' && b[i] <= '9' && i-s < 11 {
			v = v*10 + int64(b[i]-'0')
			i++
		}
		return v, i > s
	}
	space := func() bool {
		s := i
		for i < len(b) && isWhite(int(b[i])) {
			i++
		}
		return i > s
	}
	a, ok := number()
	if !ok || a != int64(num) || !space() {
		return false
	}
	g, ok := number()
	if !ok || g != int64(gen) || !space() {
		return false
	}
	return bytes.HasPrefix(b[i:], []byte("obj")) && (len(b) == i+3 || isWhite(int(b[i+3])) || isDelim(int(b[i+3])))
}
