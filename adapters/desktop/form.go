package desktop

import (
	"errors"
	"fmt"
)

// maxFormBytes bounds a form body from the local page: a PIN, a CSRF token
// and a certificate id fit in far less.
const maxFormBytes = 4 << 10

// secretForm is a parsed application/x-www-form-urlencoded body whose values
// live in byte slices, so the PIN can be zeroed after use (a Go string
// cannot). Wipe clears every value.
type secretForm struct {
	values map[string][]byte
}

var errForm = errors.New("desktop: malformed form body")

// parseSecretForm parses body, which it does not keep; names must be unique.
func parseSecretForm(body []byte) (*secretForm, error) {
	f := &secretForm{values: map[string][]byte{}}
	for len(body) > 0 {
		var pair []byte
		if i := indexByte(body, '&'); i >= 0 {
			pair, body = body[:i], body[i+1:]
		} else {
			pair, body = body, nil
		}
		if len(pair) == 0 {
			continue
		}
		var name, value []byte
		if i := indexByte(pair, '='); i >= 0 {
			name, value = pair[:i], pair[i+1:]
		} else {
			name = pair
		}
		n, err := formUnescape(name)
		if err != nil {
			f.Wipe()
			return nil, err
		}
		key := string(n)
		if _, dup := f.values[key]; dup {
			f.Wipe()
			return nil, fmt.Errorf("%w: field %q repeated", errForm, key)
		}
		v, err := formUnescape(value)
		if err != nil {
			f.Wipe()
			return nil, err
		}
		f.values[key] = v
	}
	return f, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func formUnescape(s []byte) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			out = append(out, ' ')
		case '%':
			if i+2 >= len(s) {
				return nil, fmt.Errorf("%w: truncated escape", errForm)
			}
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("%w: bad escape", errForm)
			}
			out = append(out, h<<4|l)
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Get returns the value of name as a string (never use it for secrets).
func (f *secretForm) Get(name string) string { return string(f.values[name]) }

// Bytes returns the value of name; Wipe zeroes it.
func (f *secretForm) Bytes(name string) []byte { return f.values[name] }

// Wipe zeroes every value.
func (f *secretForm) Wipe() {
	for _, v := range f.values {
		clear(v)
	}
}
