package pdf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/securesign/securesign/pdf/internal/syntax"
)

// ErrSignedDamaged is returned for a document that carries a signature
// but could only be signed after rewriting it (damaged cross-reference
// data, bytes before the header): the rewrite would invalidate the
// signatures it carries, so it is not done.
var ErrSignedDamaged = errors.New("pdf: the document is damaged and already signed: repairing it would invalidate its signatures")

// SignInfo says what signing did to the input beyond appending to it.
type SignInfo struct {
	// Repaired means the input could not take an incremental update as it
	// was (damaged or missing cross-reference data, bytes before the
	// %PDF- header), so it was first written once as a clean full save,
	// the way PDF readers repair it, and signed after that. The output's
	// first revision is therefore not byte-identical to the input.
	Repaired bool
	// Reason is why, when Repaired.
	Reason string
}

// openForSigning opens the input and, when its structure is damaged and it
// carries no signature, repairs it: the returned document is then a clean
// full save held in memory.
func openForSigning(ctx context.Context, src io.ReaderAt, size int64, o *SignOptions) (*document, *SignInfo, error) {
	info := &SignInfo{}
	doc, err := openDocument(ctx, src, size, o.Limits, o.Password)
	var damage error
	switch {
	case err == nil:
		damage = doc.f.CheckXref(doc.rev)
		if fatalParse(damage) {
			return nil, nil, wrapSignErr(damage)
		}
		if damage == nil {
			if _, err := doc.dict(doc.trailer.Get("Root")); fatalParse(err) {
				return nil, nil, err
			} else if err != nil {
				damage = err
			}
		}
		if damage == nil {
			if doc.f.HeaderOffset() > 0 {
				// signing appends to the document from its header on
				if has, err := hasSignatureBytes(ctx, src, size); err != nil {
					return nil, nil, err
				} else if has {
					return nil, nil, fmt.Errorf("%w (%d bytes before the %%PDF- header would have to go)", ErrSignedDamaged, doc.f.HeaderOffset())
				}
				info.Repaired = true
				info.Reason = fmt.Sprintf("%d bytes before the %%PDF- header removed", doc.f.HeaderOffset())
			}
			return doc, info, nil
		}
	case errors.Is(err, ErrMalformed):
		damage = err
	default:
		return nil, nil, err
	}
	if errors.Is(damage, syntax.ErrCycle) {
		// a reference cycle is not damage a reader's repair explains
		return nil, nil, wrapSignErr(damage)
	}
	if has, err := hasSignatureBytes(ctx, src, size); err != nil {
		return nil, nil, err
	} else if has {
		return nil, nil, fmt.Errorf("%w: %v", ErrSignedDamaged, damage)
	}
	// When the repair fails too, the error is the original damage.
	damage = wrapSignErr(damage)
	rf, err := syntax.Reconstruct(ctx, src, size, o.Limits.syntax())
	if err != nil {
		if fatalParse(err) {
			return nil, nil, wrapSignErr(err)
		}
		return nil, nil, fmt.Errorf("%w (rebuilding the cross-reference data failed too: %v)", damage, err)
	}
	if rf.Encrypted() {
		return nil, nil, fmt.Errorf("%w (a damaged encrypted document is not repaired)", damage)
	}
	data, err := fullSave(ctx, rf)
	if err != nil {
		if fatalParse(err) {
			return nil, nil, wrapSignErr(err)
		}
		return nil, nil, fmt.Errorf("%w (rewriting it failed: %v)", damage, err)
	}
	doc, err = openDocument(ctx, bytes.NewReader(data), int64(len(data)), o.Limits, nil)
	if err == nil {
		var cat syntax.Dict
		if cat, err = doc.dict(doc.trailer.Get("Root")); err == nil && cat == nil {
			err = errors.New("no catalog")
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w (the repaired document is not readable either: %v)", damage, err)
	}
	info.Repaired = true
	info.Reason = damage.Error()
	return doc, info, nil
}

// hasSignatureBytes reports whether "/ByteRange" occurs anywhere in the
// file: a document too damaged to read its form reliably may still carry
// a signature, and repairing would break it.
func hasSignatureBytes(ctx context.Context, r io.ReaderAt, size int64) (bool, error) {
	const chunk = 1 << 20
	needle := []byte("/ByteRange")
	buf := make([]byte, chunk+len(needle)-1)
	for pos := int64(0); pos < size; pos += chunk {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		n, _ := r.ReadAt(buf[:min(int64(len(buf)), size-pos)], pos)
		if bytes.Contains(buf[:n], needle) {
			return true, nil
		}
	}
	return false, nil
}

// fullSave writes every readable object of f's single revision as a clean
// document with a classic cross-reference table: objects from object
// streams become direct objects, stream data is copied as it is (still
// encoded) with a correct /Length, and objects that do not parse are
// left out (readers treat them as null).
func fullSave(ctx context.Context, f *syntax.File) ([]byte, error) {
	nums, err := f.ObjectNumbers(0)
	if err != nil {
		return nil, err
	}
	maxBytes := f.Limits().MaxTotalBytes
	var b bytes.Buffer
	b.WriteString("%PDF-" + f.Version + "\n%\xe2\xe3\xcf\xd3\n")
	type xe struct {
		off int64
		gen uint16
	}
	table := map[uint32]xe{}
	last := uint32(0)
	for _, n := range nums {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		o, err := f.Lookup(0, n)
		if fatalParse(err) {
			return nil, err
		}
		if err != nil || o == nil {
			continue
		}
		e, _ := f.Entry(0, n)
		gen := uint16(0)
		if e.Type == syntax.InUse {
			gen = e.Gen
		}
		start := int64(b.Len())
		if s, ok := o.(*syntax.Stream); ok {
			if t, _ := s.Dict.Name("Type"); t == "XRef" || t == "ObjStm" {
				continue
			}
			if s.Length > maxBytes || int64(b.Len())+s.Length > maxBytes {
				return nil, &syntax.LimitError{Limit: "MaxTotalBytes", Max: maxBytes}
			}
			raw := make([]byte, s.Length)
			if _, err := f.ReaderAt().ReadAt(raw, s.Offset); err != nil {
				continue
			}
			d := s.Dict.Clone()
			d["Length"] = int64(len(raw))
			fmt.Fprintf(&b, "%d %d obj\n", n, gen)
			writeObj(&b, d)
			b.WriteString("\nstream\n")
			b.Write(raw)
			b.WriteString("\nendstream\nendobj\n")
		} else {
			fmt.Fprintf(&b, "%d %d obj\n", n, gen)
			writeObj(&b, o)
			b.WriteString("\nendobj\n")
		}
		if int64(b.Len()) > maxBytes {
			return nil, &syntax.LimitError{Limit: "MaxTotalBytes", Max: maxBytes}
		}
		table[n] = xe{start, gen}
		last = max(last, n)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", last+1)
	for n := uint32(1); n <= last; n++ {
		if e, ok := table[n]; ok {
			fmt.Fprintf(&b, "%010d %05d n \n", e.off, e.gen)
		} else {
			b.WriteString("0000000000 00000 f \n")
		}
	}
	tr := f.Revisions[0].Trailer
	t := syntax.Dict{"Size": int64(last + 1), "Root": tr.Get("Root")}
	for _, k := range []syntax.Name{"Info", "ID"} {
		if v := tr.Get(k); v != nil {
			t[k] = v
		}
	}
	b.WriteString("trailer\n")
	writeObj(&b, t)
	b.WriteString("\nstartxref\n" + strconv.Itoa(xref) + "\n%%EOF\n")
	return b.Bytes(), nil
}
