package syntax

import (
	"bytes"
	"io"
)

// parser reads objects from a lexer within a token budget.
type parser struct {
	lx     *lexer
	f      *File // for resolving indirect /Length; nil when parsing free-standing bytes
	rev    int
	tokens int
}

func newParser(f *File, r io.ReaderAt, size, pos int64, lim *Limits, rev int) *parser {
	return &parser{lx: &lexer{r: newReader(r, size, pos), lim: lim}, f: f, rev: rev}
}

func (p *parser) tok() (token, error) {
	p.tokens++
	if p.tokens > p.lx.lim.MaxObjectTokens {
		return token{}, &LimitError{Limit: "MaxObjectTokens", Max: int64(p.lx.lim.MaxObjectTokens)}
	}
	return p.lx.token()
}

// object parses one direct object (resolving "n g R" to a Ref).
func (p *parser) object(depth int) (Object, error) {
	if depth > p.lx.lim.MaxDepth {
		return nil, &LimitError{Limit: "MaxDepth", Max: int64(p.lx.lim.MaxDepth)}
	}
	t, err := p.tok()
	if err != nil {
		return nil, err
	}
	return p.objectFrom(t, depth)
}

func (p *parser) objectFrom(t token, depth int) (Object, error) {
	switch t.kind {
	case tEOF:
		return nil, &SyntaxError{Offset: t.pos, Msg: "unexpected end of file", Err: io.ErrUnexpectedEOF}
	case tInt:
		// maybe "n g R"
		t2, err := p.tok()
		if err != nil {
			return nil, err
		}
		if t2.kind == tInt {
			t3, err := p.tok()
			if err != nil {
				return nil, err
			}
			if t3.kind == tKeyword && t3.s == "R" {
				if t.i < 0 || t.i > 1<<31 || t2.i < 0 || t2.i > 65535 {
					return nil, syntaxErr(t.pos, "bad reference %d %d R", t.i, t2.i)
				}
				return Ref{Num: uint32(t.i), Gen: uint16(t2.i)}, nil
			}
			p.lx.unread(t3)
		}
		p.lx.unread(t2)
		return t.i, nil
	case tReal:
		return t.f, nil
	case tName:
		return Name(t.s), nil
	case tString:
		return String{Bytes: t.b, Hex: t.hex}, nil
	case tArrOpen:
		var a Array
		for {
			t, err := p.tok()
			if err != nil {
				return nil, err
			}
			if t.kind == tArrClose {
				if a == nil {
					a = Array{}
				}
				return a, nil
			}
			if depth+1 > p.lx.lim.MaxDepth {
				return nil, &LimitError{Limit: "MaxDepth", Max: int64(p.lx.lim.MaxDepth)}
			}
			o, err := p.objectFrom(t, depth+1)
			if err != nil {
				return nil, err
			}
			a = append(a, o)
		}
	case tDictOpen:
		d := Dict{}
		for {
			t, err := p.tok()
			if err != nil {
				return nil, err
			}
			if t.kind == tDictClose {
				return d, nil
			}
			if t.kind != tName {
				return nil, syntaxErr(t.pos, "dictionary key is not a name")
			}
			if depth+1 > p.lx.lim.MaxDepth {
				return nil, &LimitError{Limit: "MaxDepth", Max: int64(p.lx.lim.MaxDepth)}
			}
			v, err := p.object(depth + 1)
			if err != nil {
				return nil, err
			}
			if v != nil { // a null value is the same as an absent key
				d[Name(t.s)] = v
			}
		}
	case tKeyword:
		switch t.s {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		}
		return nil, syntaxErr(t.pos, "unexpected keyword %q", t.s)
	}
	return nil, syntaxErr(t.pos, "unexpected token")
}

// indirect parses "num gen obj <object> [stream…endstream] endobj" at the
// reader's position and checks the header against want (if want.Num != 0).
func (p *parser) indirect(want Ref, allowStream bool) (Ref, Object, error) {
	t1, err := p.tok()
	if err != nil {
		return Ref{}, nil, err
	}
	t2, err := p.tok()
	if err != nil {
		return Ref{}, nil, err
	}
	t3, err := p.tok()
	if err != nil {
		return Ref{}, nil, err
	}
	if t1.kind != tInt || t2.kind != tInt || t3.kind != tKeyword || t3.s != "obj" {
		return Ref{}, nil, syntaxErr(t1.pos, "no object header (n g obj)")
	}
	if t1.i < 0 || t1.i > 1<<31 || t2.i < 0 || t2.i > 65535 {
		return Ref{}, nil, syntaxErr(t1.pos, "bad object number")
	}
	ref := Ref{Num: uint32(t1.i), Gen: uint16(t2.i)}
	if want.Num != 0 && ref != want {
		return Ref{}, nil, syntaxErr(t1.pos, "xref points to object %v, expected %v", ref, want)
	}
	o, err := p.object(0)
	if err != nil {
		return Ref{}, nil, err
	}
	t, err := p.tok()
	if err != nil {
		return Ref{}, nil, err
	}
	if t.kind == tKeyword && t.s == "stream" {
		d, ok := o.(Dict)
		if !ok {
			return Ref{}, nil, syntaxErr(t.pos, "stream without dictionary")
		}
		if !allowStream {
			return Ref{}, nil, syntaxErr(t.pos, "stream not allowed here")
		}
		s, err := p.streamBody(ref, d)
		if err != nil {
			return Ref{}, nil, err
		}
		p.lx.r.pos = s.Offset + s.Length
		if t, err := p.tok(); err != nil || t.kind != tKeyword || t.s != "endstream" {
			return Ref{}, nil, syntaxErr(s.Offset+s.Length, "stream data not followed by endstream")
		}
		p.endobj()
		return ref, s, nil
	}
	p.lx.unread(t)
	p.endobj()
	return ref, o, nil
}

// endobj consumes "endobj" if it is next; its absence is tolerated (many
// writers are sloppy), the object value is complete anyway.
func (p *parser) endobj() {
	t, err := p.tok()
	if err == nil && (t.kind != tKeyword || t.s != "endobj") {
		p.lx.unread(t)
	}
}

func (p *parser) streamBody(self Ref, d Dict) (*Stream, error) {
	r := p.lx.r
	// the keyword is followed by CRLF or LF (CR alone tolerated)
	if r.peek() == '\r' {
		r.pos++
	}
	if r.peek() == '\n' {
		r.pos++
	}
	start := r.pos
	length := int64(-1)
	switch l := d["Length"].(type) {
	case int64:
		length = l
	case Ref:
		if p.f != nil && l != self {
			v, err := p.f.resolveLength(p.rev, l)
			if err != nil {
				return nil, err
			}
			length = v
		} else if l == self {
			return nil, &SyntaxError{Offset: start, Msg: "stream /Length refers to its own stream", Err: ErrCycle}
		}
	}
	if length >= 0 && start+length <= r.size && p.endstreamAt(start+length) {
		return &Stream{Dict: d, Offset: start, Length: length, Ref: self}, nil
	}
	// fall back to searching for "endstream" (bounded by the file size)
	end, err := p.findEndstream(start)
	if err != nil {
		return nil, err
	}
	return &Stream{Dict: d, Offset: start, Length: end - start, Ref: self}, nil
}

func (p *parser) endstreamAt(pos int64) bool {
	rd := newReader(p.lx.r.r, p.lx.r.size, pos)
	rd.skipSpace()
	var buf [9]byte
	for i := range buf {
		c := rd.next()
		if c < 0 {
			return false
		}
		buf[i] = byte(c)
	}
	return string(buf[:]) == "endstream"
}

func (p *parser) findEndstream(start int64) (int64, error) {
	r := p.lx.r.r
	size := p.lx.r.size
	const chunk = 64 << 10
	buf := make([]byte, chunk+16)
	needle := []byte("endstream")
	for pos := start; pos < size; pos += chunk {
		if p.f != nil {
			if err := p.f.ctx.Err(); err != nil {
				return 0, err
			}
		}
		n := int64(len(buf))
		if pos+n > size {
			n = size - pos
		}
		m, _ := r.ReadAt(buf[:n], pos)
		if i := bytes.Index(buf[:m], needle); i >= 0 {
			end := pos + int64(i)
			// drop the EOL before endstream
			if end > start {
				var b [2]byte
				if end-start >= 2 {
					r.ReadAt(b[:], end-2)
					if b[0] == '\r' && b[1] == '\n' {
						return end - 2, nil
					}
				}
				r.ReadAt(b[:1], end-1)
				if b[0] == '\n' || b[0] == '\r' {
					return end - 1, nil
				}
			}
			return end, nil
		}
	}
	return 0, syntaxErr(start, "stream without endstream")
}
