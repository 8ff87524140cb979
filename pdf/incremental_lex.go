package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// This file is a small PDF object reader used by the signer to find the
// trailer, catalog, pages and form of the revision it appends to. It reads
// through an io.ReaderAt in small windows, so memory does not grow with the
// file, and it keeps indirect references as references so that copied
// dictionaries can be written back unchanged.

// pdfObj is a parsed PDF object: nil (null), bool, int64, pdfReal, pdfName,
// pdfString, pdfArray, *pdfDict, pdfRef or *pdfStream.
type pdfObj any

type (
	pdfName   string
	pdfString []byte
	pdfReal   string // kept as written, so copies are byte-faithful
	pdfArray  []pdfObj
	pdfRef    struct{ Num, Gen int }
	pdfKW     string // keyword token (obj, endobj, R, stream, …), never a value
)

// pdfDict keeps its keys in input order.
type pdfDict struct {
	keys []pdfName
	vals map[pdfName]pdfObj
}

func newDict() *pdfDict { return &pdfDict{vals: map[pdfName]pdfObj{}} }

func (d *pdfDict) Get(k pdfName) pdfObj {
	if d == nil {
		return nil
	}
	return d.vals[k]
}

func (d *pdfDict) Set(k pdfName, v pdfObj) {
	if _, ok := d.vals[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.vals[k] = v
}

func (d *pdfDict) Del(k pdfName) {
	if _, ok := d.vals[k]; !ok {
		return
	}
	delete(d.vals, k)
	for i, kk := range d.keys {
		if kk == k {
			d.keys = append(d.keys[:i:i], d.keys[i+1:]...)
			break
		}
	}
}

func (d *pdfDict) clone() *pdfDict {
	n := newDict()
	for _, k := range d.keys {
		n.Set(k, d.vals[k])
	}
	return n
}

// pdfStream is a stream object: its dictionary and where its data starts.
type pdfStream struct {
	Dict   *pdfDict
	Offset int64 // absolute offset of the first data byte
}

var errSyntax = errors.New("pdf: syntax error")

// lexer tokenizes PDF syntax from an io.ReaderAt, reading a window at a time.
type lexer struct {
	r    io.ReaderAt
	size int64
	pos  int64 // absolute position of the next byte
	buf  []byte
	bpos int64 // absolute position of buf[0]
	// depth limits nesting so hostile input cannot exhaust the stack.
	depth int
}

const lexWindow = 8192

func newLexer(r io.ReaderAt, size, pos int64) *lexer {
	return &lexer{r: r, size: size, pos: pos}
}

func (l *lexer) fill() bool {
	if l.pos >= l.size || l.pos < 0 {
		return false
	}
	n := int64(lexWindow)
	if l.size-l.pos < n {
		n = l.size - l.pos
	}
	if cap(l.buf) < int(n) {
		l.buf = make([]byte, n)
	}
	l.buf = l.buf[:n]
	m, err := l.r.ReadAt(l.buf, l.pos)
	if m <= 0 {
		_ = err
		l.buf = l.buf[:0]
		return false
	}
	l.buf = l.buf[:m]
	l.bpos = l.pos
	return true
}

func (l *lexer) peek() (byte, bool) {
	if l.pos < l.bpos || l.pos >= l.bpos+int64(len(l.buf)) {
		if !l.fill() {
			return 0, false
		}
	}
	return l.buf[l.pos-l.bpos], true
}

func (l *lexer) next() (byte, bool) {
	c, ok := l.peek()
	if ok {
		l.pos++
	}
	return c, ok
}

func isWhite(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func (l *lexer) skipSpace() {
	for {
		c, ok := l.peek()
		if !ok {
			return
		}
		if isWhite(c) {
			l.pos++
			continue
		}
		if c == '%' {
			for {
				c, ok := l.next()
				if !ok || c == '\n' || c == '\r' {
					break
				}
			}
			continue
		}
		return
	}
}

// token returns the next token: int64, pdfReal, pdfName, pdfString, pdfKW
// ("<<", ">>", "[", "]", or a bare word).
func (l *lexer) token() (any, error) {
	l.skipSpace()
	c, ok := l.next()
	if !ok {
		return nil, io.ErrUnexpectedEOF
	}
	switch c {
	case '[', ']', '{', '}':
		return pdfKW(string(c)), nil
	case '<':
		if c2, ok := l.peek(); ok && c2 == '<' {
			l.pos++
			return pdfKW("<<"), nil
		}
		return l.hexString()
	case '>':
		if c2, ok := l.peek(); ok && c2 == '>' {
			l.pos++
			return pdfKW(">>"), nil
		}
		return nil, fmt.Errorf("%w: stray '>' at %d", errSyntax, l.pos-1)
	case '(':
		return l.litString()
	case '/':
		var b []byte
		for {
			c, ok := l.peek()
			if !ok || isWhite(c) || isDelim(c) {
				break
			}
			l.pos++
			if c == '#' {
				h1, _ := l.next()
				h2, _ := l.next()
				v, err := strconv.ParseUint(string([]byte{h1, h2}), 16, 8)
				if err != nil {
					return nil, fmt.Errorf("%w: bad name escape at %d", errSyntax, l.pos)
				}
				c = byte(v)
			}
			b = append(b, c)
			if len(b) > 4096 {
				return nil, fmt.Errorf("%w: name too long", errSyntax)
			}
		}
		return pdfName(b), nil
	}
	b := []byte{c}
	for {
		c, ok := l.peek()
		if !ok || isWhite(c) || isDelim(c) {
			break
		}
		l.pos++
		b = append(b, c)
		if len(b) > 256 {
			return nil, fmt.Errorf("%w: token too long at %d", errSyntax, l.pos)
		}
	}
	if (b[0] >= '0' && b[0] <= '9') || b[0] == '-' || b[0] == '+' || b[0] == '.' {
		if bytes.IndexByte(b, '.') < 0 {
			if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
				return n, nil
			}
		}
		if _, err := strconv.ParseFloat(string(b), 64); err == nil {
			return pdfReal(b), nil
		}
	}
	return pdfKW(b), nil
}

func (l *lexer) hexString() (any, error) {
	var out []byte
	var hi int = -1
	for {
		c, ok := l.next()
		if !ok {
			return nil, io.ErrUnexpectedEOF
		}
		if c == '>' {
			break
		}
		if isWhite(c) {
			continue
		}
		v, ok := unhex(c)
		if !ok {
			return nil, fmt.Errorf("%w: bad hex string at %d", errSyntax, l.pos-1)
		}
		if hi < 0 {
			hi = v
		} else {
			out = append(out, byte(hi<<4|v))
			hi = -1
		}
	}
	if hi >= 0 {
		out = append(out, byte(hi<<4))
	}
	return pdfString(out), nil
}

func unhex(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

func (l *lexer) litString() (any, error) {
	var out []byte
	depth := 1
	for {
		c, ok := l.next()
		if !ok {
			return nil, io.ErrUnexpectedEOF
		}
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return pdfString(out), nil
			}
		case '\\':
			e, ok := l.next()
			if !ok {
				return nil, io.ErrUnexpectedEOF
			}
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if n, ok := l.peek(); ok && n == '\n' {
					l.pos++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for i := 0; i < 2; i++ {
						n, ok := l.peek()
						if !ok || n < '0' || n > '7' {
							break
						}
						l.pos++
						v = v*8 + int(n-'0')
					}
					c = byte(v)
				} else {
					c = e
				}
			}
		}
		out = append(out, c)
	}
}

// object reads one object. References "n g R" are recognised by lookahead.
func (l *lexer) object() (pdfObj, error) {
	tok, err := l.token()
	if err != nil {
		return nil, err
	}
	return l.objectFrom(tok)
}

func (l *lexer) objectFrom(tok any) (pdfObj, error) {
	l.depth++
	defer func() { l.depth-- }()
	if l.depth > 64 {
		return nil, fmt.Errorf("%w: nesting too deep", errSyntax)
	}
	switch t := tok.(type) {
	case int64:
		// Maybe "n g R".
		save := l.pos
		t2, err := l.token()
		if err == nil {
			if g, ok := t2.(int64); ok {
				t3, err := l.token()
				if err == nil && t3 == pdfKW("R") && t >= 0 && g >= 0 && g <= 65535 && t <= 1<<31 {
					return pdfRef{int(t), int(g)}, nil
				}
			}
		}
		l.pos = save
		return t, nil
	case pdfReal, pdfName, pdfString:
		return t, nil
	case pdfKW:
		switch t {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		case "[":
			var arr pdfArray
			for {
				tok, err := l.token()
				if err != nil {
					return nil, err
				}
				if tok == pdfKW("]") {
					return arr, nil
				}
				o, err := l.objectFrom(tok)
				if err != nil {
					return nil, err
				}
				arr = append(arr, o)
			}
		case "<<":
			d := newDict()
			for {
				tok, err := l.token()
				if err != nil {
					return nil, err
				}
				if tok == pdfKW(">>") {
					return d, nil
				}
				k, ok := tok.(pdfName)
				if !ok {
					return nil, fmt.Errorf("%w: dictionary key is %v at %d", errSyntax, tok, l.pos)
				}
				v, err := l.object()
				if err != nil {
					return nil, err
				}
				d.Set(k, v)
			}
		}
	}
	return nil, fmt.Errorf("%w: unexpected %v at %d", errSyntax, tok, l.pos)
}

// indirect reads "n g obj <object> [stream]" at the current position. For
// a stream it returns *pdfStream with the data offset; the data itself is
// not read.
func (l *lexer) indirect() (pdfRef, pdfObj, error) {
	t1, err := l.token()
	if err != nil {
		return pdfRef{}, nil, err
	}
	t2, err := l.token()
	if err != nil {
		return pdfRef{}, nil, err
	}
	t3, err := l.token()
	if err != nil {
		return pdfRef{}, nil, err
	}
	n, ok1 := t1.(int64)
	g, ok2 := t2.(int64)
	if !ok1 || !ok2 || t3 != pdfKW("obj") {
		return pdfRef{}, nil, fmt.Errorf("%w: no object header at %d", errSyntax, l.pos)
	}
	o, err := l.object()
	if err != nil {
		return pdfRef{}, nil, err
	}
	ref := pdfRef{int(n), int(g)}
	d, ok := o.(*pdfDict)
	if !ok {
		return ref, o, nil
	}
	save := l.pos
	l.skipSpace()
	tok, err := l.token()
	if err != nil || tok != pdfKW("stream") {
		l.pos = save
		return ref, o, nil
	}
	// The keyword is followed by CRLF or LF (a lone CR is tolerated).
	if c, ok := l.peek(); ok && c == '\r' {
		l.pos++
	}
	if c, ok := l.peek(); ok && c == '\n' {
		l.pos++
	}
	return ref, &pdfStream{Dict: d, Offset: l.pos}, nil
}
