package syntax

import (
	"io"
	"strconv"
)

// reader is a small forward buffer over an io.ReaderAt.
type reader struct {
	r     io.ReaderAt
	size  int64
	pos   int64 // absolute position of the next byte
	buf   []byte
	start int64 // absolute offset of buf[0]
	err   error
}

const bufSize = 8192

func newReader(r io.ReaderAt, size, pos int64) *reader {
	return &reader{r: r, size: size, pos: pos, start: -1}
}

// peek returns the next byte without consuming it, or -1 at the end.
func (r *reader) peek() int {
	if r.pos >= r.size || r.pos < 0 {
		return -1
	}
	if r.start < 0 || r.pos < r.start || r.pos >= r.start+int64(len(r.buf)) {
		if !r.fill() {
			return -1
		}
	}
	return int(r.buf[r.pos-r.start])
}

func (r *reader) fill() bool {
	// most objects are small: read 1 KiB first, then 8 KiB at a time
	n := int64(bufSize)
	if r.start < 0 {
		n = 1024
	}
	if r.pos+n > r.size {
		n = r.size - r.pos
	}
	if cap(r.buf) < bufSize {
		r.buf = make([]byte, bufSize)
	}
	b := r.buf[:n]
	m, err := r.r.ReadAt(b, r.pos)
	if m < int(n) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		r.err = err
		r.buf = b[:m]
		r.start = r.pos
		return m > 0
	}
	r.buf = b
	r.start = r.pos
	return true
}

func (r *reader) next() int {
	c := r.peek()
	if c >= 0 {
		r.pos++
	}
	return c
}

func isWhite(c int) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isDelim(c int) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func isRegular(c int) bool { return c >= 0 && !isWhite(c) && !isDelim(c) }

// skipSpace skips whitespace and comments.
func (r *reader) skipSpace() {
	for {
		c := r.peek()
		switch {
		case isWhite(c):
			r.pos++
		case c == '%':
			for c >= 0 && c != '\n' && c != '\r' {
				r.pos++
				c = r.peek()
			}
		default:
			return
		}
	}
}

type tokKind int

const (
	tEOF tokKind = iota
	tInt
	tReal
	tName
	tString
	tKeyword // true false null obj endobj stream endstream R xref trailer startxref ...
	tArrOpen
	tArrClose
	tDictOpen
	tDictClose
)

type token struct {
	kind tokKind
	pos  int64
	i    int64
	f    float64
	s    string // name, keyword
	b    []byte // string bytes
	hex  bool
}

type lexer struct {
	r        *reader
	lim      *Limits
	pushback []token
}

func (lx *lexer) unread(t token) { lx.pushback = append(lx.pushback, t) }

func (lx *lexer) token() (token, error) {
	if n := len(lx.pushback); n > 0 {
		t := lx.pushback[n-1]
		lx.pushback = lx.pushback[:n-1]
		return t, nil
	}
	r := lx.r
	r.skipSpace()
	pos := r.pos
	c := r.next()
	switch {
	case c < 0:
		return token{kind: tEOF, pos: pos}, nil
	case c == '[':
		return token{kind: tArrOpen, pos: pos}, nil
	case c == ']':
		return token{kind: tArrClose, pos: pos}, nil
	case c == '<':
		if r.peek() == '<' {
			r.pos++
			return token{kind: tDictOpen, pos: pos}, nil
		}
		return lx.hexString(pos)
	case c == '>':
		if r.peek() == '>' {
			r.pos++
			return token{kind: tDictClose, pos: pos}, nil
		}
		return token{}, syntaxErr(pos, "unexpected '>'")
	case c == '(':
		return lx.litString(pos)
	case c == '/':
		return lx.name(pos)
	case c == ')' || c == '{' || c == '}':
		return token{}, syntaxErr(pos, "unexpected %q", rune(c))
	}
	// number or keyword
	buf := []byte{byte(c)}
	for isRegular(r.peek()) {
		buf = append(buf, byte(r.next()))
		if len(buf) > 256 {
			return token{}, syntaxErr(pos, "token too long")
		}
	}
	s := string(buf)
	if isNumberStart(buf[0]) {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return token{kind: tInt, pos: pos, i: i}, nil
		}
		if f, ok := parseReal(s); ok {
			return token{kind: tReal, pos: pos, f: f}, nil
		}
	}
	return token{kind: tKeyword, pos: pos, s: s}, nil
}

func isNumberStart(c byte) bool {
	return c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9')
}

func parseReal(s string) (float64, bool) {
	// PDF reals have no exponent; accept digits with one dot and a sign.
	dots := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case c == '.':
			dots++
		case (c == '-' || c == '+') && i == 0:
		default:
			return 0, false
		}
	}
	if dots > 1 {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if s == "-" || s == "+" || s == "." || s == "-." || s == "+." {
			return 0, true
		}
		return 0, false
	}
	return f, true
}

func unhex(c int) int {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return -1
}

func (lx *lexer) hexString(pos int64) (token, error) {
	r := lx.r
	var out []byte
	hi := -1
	for {
		c := r.next()
		switch {
		case c < 0:
			return token{}, syntaxErr(pos, "unterminated hex string")
		case c == '>':
			if hi >= 0 {
				out = append(out, byte(hi<<4))
			}
			return token{kind: tString, pos: pos, b: out, hex: true}, nil
		case isWhite(c):
			continue
		}
		v := unhex(c)
		if v < 0 {
			return token{}, syntaxErr(r.pos-1, "bad character %q in hex string", rune(c))
		}
		if hi < 0 {
			hi = v
		} else {
			out = append(out, byte(hi<<4|v))
			hi = -1
			if len(out) > lx.lim.MaxStringBytes {
				return token{}, &LimitError{Limit: "MaxStringBytes", Max: int64(lx.lim.MaxStringBytes)}
			}
		}
	}
}

func (lx *lexer) litString(pos int64) (token, error) {
	r := lx.r
	var out []byte
	depth := 1
	for {
		if len(out) > lx.lim.MaxStringBytes {
			return token{}, &LimitError{Limit: "MaxStringBytes", Max: int64(lx.lim.MaxStringBytes)}
		}
		c := r.next()
		switch c {
		case -1:
			return token{}, syntaxErr(pos, "unterminated string")
		case '(':
			depth++
			out = append(out, '(')
		case ')':
			depth--
			if depth == 0 {
				return token{kind: tString, pos: pos, b: out}, nil
			}
			out = append(out, ')')
		case '\r':
			if r.peek() == '\n' {
				r.pos++
			}
			out = append(out, '\n')
		case '\\':
			e := r.next()
			switch e {
			case -1:
				return token{}, syntaxErr(pos, "unterminated string")
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case '\r':
				if r.peek() == '\n' {
					r.pos++
				}
			case '\n':
			default:
				if e >= '0' && e <= '7' {
					v := e - '0'
					for k := 0; k < 2; k++ {
						d := r.peek()
						if d < '0' || d > '7' {
							break
						}
						r.pos++
						v = v*8 + d - '0'
					}
					out = append(out, byte(v))
				} else {
					out = append(out, byte(e))
				}
			}
		default:
			out = append(out, byte(c))
		}
	}
}

func (lx *lexer) name(pos int64) (token, error) {
	r := lx.r
	var out []byte
	for isRegular(r.peek()) {
		c := r.next()
		if c == '#' {
			h, l := unhex(r.peek()), -1
			if h >= 0 {
				r.pos++
				l = unhex(r.peek())
				if l >= 0 {
					r.pos++
					out = append(out, byte(h<<4|l))
					continue
				}
				return token{}, syntaxErr(pos, "bad #-escape in name")
			}
		}
		out = append(out, byte(c))
		if len(out) > 1024 {
			return token{}, syntaxErr(pos, "name too long")
		}
	}
	return token{kind: tName, pos: pos, s: string(out)}, nil
}
