package pdf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/securesign/securesign/pdf/internal/syntax"
)

var (
	// ErrEncrypted is returned for encrypted PDFs this package cannot
	// open: a security handler other than the standard one (certificate
	// encryption, custom handlers) or an unknown algorithm.
	ErrEncrypted = errors.New("pdf: document is encrypted")
	// ErrPassword is returned for a document encrypted with a user
	// password when no password, or a wrong one, was given (documents
	// with only an owner password open without one).
	ErrPassword = errors.New("pdf: the document needs a password to open")
	// ErrMalformed is returned when the document's structure (header,
	// cross-reference data, trailer, catalog, page tree) cannot be read
	// reliably enough to append a revision to it.
	ErrMalformed = errors.New("pdf: malformed document")
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// document is the newest revision of a PDF the signer appends to, read
// through internal/syntax: only the xref chain at open, then the few
// objects asked for (catalog, form, page tree), never the whole file.
type document struct {
	f        *syntax.File
	rev      int         // newest revision
	src      io.ReaderAt // the document (after any bytes before its header)
	size     int64
	trailer  syntax.Dict
	eolAtEnd bool // the file ends with an end-of-line marker
}

// openDocument reads the xref chain of src within lim. Structure errors
// wrap ErrMalformed; a hit limit stays a *LimitError (errors.Is ErrLimit).
func openDocument(ctx context.Context, r io.ReaderAt, size int64, lim Limits, password []byte) (*document, error) {
	f, err := syntax.OpenWithPassword(ctx, r, size, lim.syntax(), password)
	if err != nil {
		return nil, wrapSignErr(err)
	}
	if f.Encrypted() && f.Crypt() == nil {
		return nil, fmt.Errorf("%w: an earlier revision is encrypted, the newest is not", ErrEncrypted)
	}
	// f reads the document as starting at its header; so does the signer
	d := &document{f: f, rev: len(f.Revisions) - 1, src: f.ReaderAt(), size: f.Size()}
	r, size = d.src, d.size
	d.trailer = f.Revisions[d.rev].Trailer
	if _, ok := d.trailer.Get("Root").(syntax.Ref); !ok {
		return nil, malformed("trailer has no /Root reference")
	}
	var last [1]byte
	if _, err := r.ReadAt(last[:], size-1); err == nil {
		d.eolAtEnd = last[0] == '\n' || last[0] == '\r'
	}
	return d, nil
}

// wrapSignErr maps a syntax error to the signing API's errors: limits and
// cancellation stay as they are, anything else is ErrMalformed.
func wrapSignErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrPassword), errors.Is(err, ErrEncrypted):
		return err
	case errors.Is(err, syntax.ErrPassword):
		return fmt.Errorf("%w (%w): %w", ErrPassword, ErrEncrypted, err)
	case errors.Is(err, syntax.ErrEncryption):
		return fmt.Errorf("%w: %w", ErrEncrypted, err)
	case errors.Is(err, syntax.ErrLimit), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("pdf: %w", err)
	}
	return fmt.Errorf("%w: %w", ErrMalformed, err)
}

// fatalParse reports errors that must end the work rather than be skipped
// like a damaged optional object: a hit limit, or ctx ending.
func fatalParse(err error) bool {
	return errors.Is(err, syntax.ErrLimit) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// startxref is the offset of the newest cross-reference section.
func (d *document) startxref() int64 { return d.f.Revisions[d.rev].Sections[0].Offset }

// xrefStream reports whether the newest section is a cross-reference stream.
func (d *document) xrefStream() bool { return d.f.Revisions[d.rev].Sections[0].Stream }

// resolve follows references; other objects are returned as they are.
func (d *document) resolve(o syntax.Object) (syntax.Object, error) {
	v, err := d.f.Resolve(d.rev, o)
	return v, wrapSignErr(err)
}

// dict resolves o and returns it as a dictionary (a stream's dictionary
// counts), or nil.
func (d *document) dict(o syntax.Object) (syntax.Dict, error) {
	v, err := d.f.ResolveDict(d.rev, o)
	return v, wrapSignErr(err)
}

// nextObjectNumber is the first object number free for new objects.
func (d *document) nextObjectNumber() int {
	n := 0
	if s, ok := d.trailer.Get("Size").(int64); ok && s > 0 && s <= 1<<31 {
		n = int(s)
	}
	for _, rv := range d.f.Revisions {
		for num := range rv.Entries() {
			if int(num) >= n {
				n = int(num) + 1
			}
		}
	}
	return n
}

// page returns the reference and dictionary of page number (1-based).
func (d *document) page(number int) (syntax.Ref, syntax.Dict, error) {
	cat, err := d.dict(d.trailer.Get("Root"))
	if err != nil {
		return syntax.Ref{}, nil, err
	}
	if cat == nil {
		return syntax.Ref{}, nil, malformed("catalog is missing")
	}
	node := cat.Get("Pages")
	want := number
	for depth := 0; depth < 64; depth++ {
		// A node is normally a reference; some writers put a kid inside
		// its parent's /Kids as a direct dictionary, which readers accept.
		ref, _ := node.(syntax.Ref)
		nd, err := d.dict(node)
		if err != nil {
			return syntax.Ref{}, nil, err
		}
		if nd == nil {
			return syntax.Ref{}, nil, malformed("page tree node %d is missing", ref.Num)
		}
		if t, _ := nd.Name("Type"); t == "Page" || nd.Get("Kids") == nil {
			if want == 1 {
				return ref, nd, nil
			}
			return syntax.Ref{}, nil, fmt.Errorf("pdf: page %d not found", number)
		}
		kv, err := d.resolve(nd.Get("Kids"))
		if err != nil {
			return syntax.Ref{}, nil, err
		}
		kids, _ := kv.(syntax.Array)
		found := false
		for _, k := range kids {
			kd, err := d.dict(k)
			if fatalParse(err) {
				return syntax.Ref{}, nil, err
			}
			if err != nil || kd == nil {
				continue
			}
			cnt := int64(1)
			if t, _ := kd.Name("Type"); t != "Page" && kd.Get("Kids") != nil {
				c, _ := d.resolve(kd.Get("Count"))
				cnt, _ = c.(int64)
			}
			if int64(want) <= cnt {
				node, found = k, true
				break
			}
			want -= int(cnt)
		}
		if !found {
			return syntax.Ref{}, nil, fmt.Errorf("pdf: page %d not found (document has fewer pages)", number)
		}
	}
	return syntax.Ref{}, nil, malformed("page tree too deep")
}

// ref is the reference to new object num (generation 0).
func ref(num int) syntax.Ref { return syntax.Ref{Num: uint32(num)} }

// rawPDF is already-serialised PDF syntax.
type rawPDF string

// writeObj serialises o in PDF syntax: strings as hex, dictionary keys in
// a fixed order (keyRank, then by name) so that output is deterministic.
func writeObj(b *bytes.Buffer, o syntax.Object) {
	switch t := o.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
	case int:
		b.WriteString(strconv.Itoa(t))
	case float64:
		b.WriteString(strconv.FormatFloat(t, 'f', -1, 64))
	case syntax.Name:
		writeName(b, t)
	case syntax.String:
		b.WriteByte('<')
		const hx = "0123456789ABCDEF"
		for _, c := range t.Bytes {
			b.WriteByte(hx[c>>4])
			b.WriteByte(hx[c&15])
		}
		b.WriteByte('>')
	case syntax.Array:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(' ')
			}
			writeObj(b, e)
		}
		b.WriteByte(']')
	case syntax.Dict:
		keys := make([]syntax.Name, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			pi, pj := keyRank(keys[i]), keyRank(keys[j])
			if pi != pj {
				return pi < pj
			}
			return keys[i] < keys[j]
		})
		b.WriteString("<<")
		for _, k := range keys {
			writeName(b, k)
			b.WriteByte(' ')
			writeObj(b, t[k])
		}
		b.WriteString(">>")
	case syntax.Ref:
		fmt.Fprintf(b, "%d %d R", t.Num, t.Gen)
	case rawPDF:
		b.WriteString(string(t))
	default:
		b.WriteString("null")
	}
}

// keyRank puts the keys that say what a dictionary is first, as writers
// usually do (tools that peek at a signature dictionary before its
// /Contents expect /Type and /SubFilter there); other keys sort by name.
func keyRank(k syntax.Name) int {
	switch k {
	case "Type":
		return 0
	case "Subtype":
		return 1
	case "FT":
		return 2
	case "Filter":
		return 3
	case "SubFilter":
		return 4
	}
	return 5
}

func writeName(b *bytes.Buffer, n syntax.Name) {
	b.WriteByte('/')
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < '!' || c > '~' || c == '#' || bytes.IndexByte([]byte("()<>[]{}/%"), c) >= 0 {
			fmt.Fprintf(b, "#%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
}
