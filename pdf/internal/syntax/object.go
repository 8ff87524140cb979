// Package syntax is a small, bounded, revision-aware PDF parser, used by
// validation and by the signer (which reads the newest revision's
// catalog, form and page tree and serialises the objects it rewrites).
//
// It reads through an io.ReaderAt and never loads the whole file. A File
// lists every revision of a document (the original and each incremental
// update, in file order), and each revision can be asked for the objects
// that were visible at its end. Everything that can grow with hostile
// input (objects, xref entries, nesting depth, decompressed bytes,
// revisions, time) is capped by Limits; exceeding a cap ends the work with a
// *LimitError, malformed input with a *SyntaxError. It does not repair
// damaged files: a signature validator must see what the xref chain says,
// not what a repair heuristic guesses.
package syntax

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Object is a parsed PDF object: nil (null), bool, int64, float64, Name,
// String, Array, Dict, Ref or *Stream.
type Object any

// Name is a PDF name without its leading slash.
type Name string

// String is a PDF string (literal or hex), already unescaped.
type String struct {
	Bytes []byte
	Hex   bool
}

// Array is a PDF array.
type Array []Object

// Dict is a PDF dictionary.
type Dict map[Name]Object

// Ref is an indirect reference "Num Gen R".
type Ref struct {
	Num uint32
	Gen uint16
}

func (r Ref) String() string { return fmt.Sprintf("%d %d R", r.Num, r.Gen) }

// Stream is a stream object: its dictionary and where its raw data is.
type Stream struct {
	Dict   Dict
	Offset int64 // absolute file offset of the first data byte, or -1 inside an object stream
	Length int64 // raw (encoded) length
	Ref    Ref   // the stream's object (for decryption); zero inside object streams
	// data holds the raw bytes for streams that do not live in the file
	// directly (never for normal streams).
	data []byte
}

// Get returns d[k] (nil if absent).
func (d Dict) Get(k Name) Object { return d[k] }

// Name returns d[k] if it is a name.
func (d Dict) Name(k Name) (Name, bool) { n, ok := d[k].(Name); return n, ok }

// Clone returns a shallow copy of d that can be modified without changing
// d (values are shared). It is never nil, even for a nil d.
func (d Dict) Clone() Dict {
	c := make(Dict, len(d)+2)
	for k, v := range d {
		c[k] = v
	}
	return c
}

// Int returns d[k] if it is an integer.
func (d Dict) Int(k Name) (int64, bool) { n, ok := d[k].(int64); return n, ok }

// Equal reports whether two objects are structurally equal. Streams compare
// by dictionary, position and length (their bytes are not read).
func Equal(a, b Object) bool { return equal(a, b, 0) }

func equal(a, b Object, depth int) bool {
	if depth > 512 {
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool, int64, float64, Name, Ref:
		return a == b
	case String:
		y, ok := b.(String)
		return ok && string(x.Bytes) == string(y.Bytes)
	case Array:
		y, ok := b.(Array)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i], depth+1) {
				return false
			}
		}
		return true
	case Dict:
		y, ok := b.(Dict)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equal(v, w, depth+1) {
				return false
			}
		}
		return true
	case *Stream:
		y, ok := b.(*Stream)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		return x.Offset == y.Offset && x.Length == y.Length && string(x.data) == string(y.data) && equal(x.Dict, y.Dict, depth+1)
	}
	return false
}

// Format writes an object in PDF syntax (for messages and tests; strings are
// written as hex, dictionary keys sorted).
func Format(o Object) string {
	var b strings.Builder
	format(&b, o, 0)
	return b.String()
}

func format(b *strings.Builder, o Object, depth int) {
	if depth > 64 {
		b.WriteString("…")
		return
	}
	switch x := o.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
	case Name:
		b.WriteString("/" + string(x))
	case String:
		fmt.Fprintf(b, "<%x>", x.Bytes)
	case Ref:
		b.WriteString(x.String())
	case Array:
		b.WriteString("[")
		for i, e := range x {
			if i > 0 {
				b.WriteString(" ")
			}
			format(b, e, depth+1)
		}
		b.WriteString("]")
	case Dict:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, string(k))
		}
		sort.Strings(keys)
		b.WriteString("<<")
		for _, k := range keys {
			b.WriteString("/" + k + " ")
			format(b, x[Name(k)], depth+1)
			b.WriteString(" ")
		}
		b.WriteString(">>")
	case *Stream:
		format(b, x.Dict, depth+1)
		b.WriteString(" stream")
	default:
		fmt.Fprintf(b, "%v", x)
	}
}

// Refs appends to dst every reference inside o (not following them).
func Refs(dst []Ref, o Object) []Ref { return refs(dst, o, 0) }

func refs(dst []Ref, o Object, depth int) []Ref {
	if depth > 512 {
		return dst
	}
	switch x := o.(type) {
	case Ref:
		dst = append(dst, x)
	case Array:
		for _, e := range x {
			dst = refs(dst, e, depth+1)
		}
	case Dict:
		for _, e := range x {
			dst = refs(dst, e, depth+1)
		}
	case *Stream:
		dst = refs(dst, x.Dict, depth+1)
	}
	return dst
}
