package pdf

import (
	"context"
	"io"

	"github.com/securesign/securesign/pdf/internal/syntax"
)

// Layout is what a signing app shows about a prepared PDF besides its
// pages: how many there are, and where the signature being made sits.
type Layout struct {
	// Pages is the number of pages in the page tree.
	Pages int
	// Sizes are the pages' visible width and height in points, as shown
	// (after /Rotate), in page order.
	Sizes [][2]float64
	// Signature is the field whose signature dictionary states the
	// /ByteRange asked for, or nil when no field does.
	Signature *SignaturePlace
}

// SignaturePlace is where a signature field's widget sits.
type SignaturePlace struct {
	// Field is the field's full name ("Signature1").
	Field string
	// Page is the widget's page, 1-based; 0 when the widget is on no page
	// (an invisible signature need not be).
	Page int
	// Visible reports a widget with an area and without the Hidden or
	// NoView flag.
	Visible bool
	// Rect is the widget's rectangle in default user space (points):
	// lower-left x, y, upper-right x, y, normalised.
	Rect [4]float64
	// Box is the page's visible region (its /CropBox, else /MediaBox) in
	// the same space, so Rect can be placed on a rendering of the page.
	Box [4]float64
	// Rotate is the page's /Rotate (0, 90, 180 or 270).
	Rotate int
}

// ReadLayout reads the page count of the PDF in r and finds the signature
// field whose signature dictionary has the given /ByteRange (a prepared
// signature's, see [PreparedSignature.ByteRange]). It reads the newest
// revision through the package's one PDF reader, within the default
// [Limits]; a document it cannot read gives an error wrapping ErrMalformed
// or a limit's error.
func ReadLayout(ctx context.Context, r io.ReaderAt, size int64, byteRange [4]int64) (l *Layout, err error) {
	defer recoverInternal(&err)
	d, err := openDocument(ctx, r, size, Limits{}, nil)
	if err != nil {
		return nil, err
	}
	cat, err := d.dict(d.trailer.Get("Root"))
	if err != nil {
		return nil, err
	}
	if cat == nil {
		return nil, malformed("catalog is missing")
	}
	lw := &layoutWalker{d: d, pageNo: map[uint32]int{}, seen: map[uint32]bool{}}
	if err := lw.pages(cat.Get("Pages"), 0); err != nil {
		return nil, err
	}
	l = &Layout{Pages: lw.count}
	for _, pd := range lw.pageDicts {
		b, rot := lw.pageBox(pd)
		w, h := b[2]-b[0], b[3]-b[1]
		if rot == 90 || rot == 270 {
			w, h = h, w
		}
		l.Sizes = append(l.Sizes, [2]float64{w, h})
	}
	af, err := d.dict(cat.Get("AcroForm"))
	if err != nil || af == nil {
		return l, err
	}
	fv, err := d.resolve(af.Get("Fields"))
	if err != nil {
		return nil, err
	}
	fields, _ := fv.(syntax.Array)
	visited := map[uint32]bool{}
	for _, f := range fields {
		p, err := lw.field(f, "", byteRange, visited, 0)
		if err != nil {
			return nil, err
		}
		if p != nil {
			l.Signature = p
			break
		}
	}
	return l, nil
}

// layoutMaxNodes bounds the page tree and form nodes visited.
const layoutMaxNodes = 100000

type layoutWalker struct {
	d         *document
	count     int
	pageNo    map[uint32]int // page object number → page number
	pageDicts []syntax.Dict  // page dictionaries, in order
	seen      map[uint32]bool
}

// pages walks the page tree in order, numbering the pages.
func (lw *layoutWalker) pages(node syntax.Object, depth int) error {
	if depth > 64 {
		return malformed("page tree too deep")
	}
	ref, isRef := node.(syntax.Ref)
	if isRef {
		if lw.seen[ref.Num] {
			return malformed("page tree node %d appears twice", ref.Num)
		}
		lw.seen[ref.Num] = true
	}
	if len(lw.seen) > layoutMaxNodes {
		return malformed("page tree has more than %d nodes", layoutMaxNodes)
	}
	nd, err := lw.d.dict(node)
	if err != nil || nd == nil {
		return err
	}
	if t, _ := nd.Name("Type"); t == "Page" || nd.Get("Kids") == nil {
		lw.count++
		lw.pageDicts = append(lw.pageDicts, nd)
		if isRef {
			lw.pageNo[ref.Num] = lw.count
		}
		return nil
	}
	kv, err := lw.d.resolve(nd.Get("Kids"))
	if err != nil {
		return err
	}
	kids, _ := kv.(syntax.Array)
	for _, k := range kids {
		if err := lw.pages(k, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// field looks for the signature field with byteRange under o.
func (lw *layoutWalker) field(o syntax.Object, parent string, byteRange [4]int64, visited map[uint32]bool, depth int) (*SignaturePlace, error) {
	r, ok := o.(syntax.Ref)
	if !ok || visited[r.Num] || depth > 64 || len(visited) > layoutMaxNodes {
		return nil, nil
	}
	visited[r.Num] = true
	fd, err := lw.d.dict(r)
	if err != nil || fd == nil {
		return nil, err
	}
	name := parent
	if t, ok := fd["T"].(syntax.String); ok {
		if name != "" {
			name += "."
		}
		name += string(t.Bytes)
	}
	if lw.hasByteRange(fd, byteRange) {
		widget := fd
		if st, _ := fd.Name("Subtype"); st != "Widget" {
			kv, _ := lw.d.resolve(fd.Get("Kids"))
			kids, _ := kv.(syntax.Array)
			widget = nil
			for _, k := range kids {
				if kd, _ := lw.d.dict(k); kd != nil {
					if st, _ := kd.Name("Subtype"); st == "Widget" {
						widget = kd
						break
					}
				}
			}
		}
		return lw.place(name, r, widget), nil
	}
	kv, err := lw.d.resolve(fd.Get("Kids"))
	if err != nil {
		return nil, err
	}
	kids, _ := kv.(syntax.Array)
	for _, k := range kids {
		p, err := lw.field(k, name, byteRange, visited, depth+1)
		if p != nil || err != nil {
			return p, err
		}
	}
	return nil, nil
}

func (lw *layoutWalker) hasByteRange(fd syntax.Dict, want [4]int64) bool {
	if ft, _ := fd.Name("FT"); ft != "Sig" {
		return false
	}
	v, err := lw.d.dict(fd.Get("V"))
	if err != nil || v == nil {
		return false
	}
	bv, _ := lw.d.resolve(v.Get("ByteRange"))
	br, _ := bv.(syntax.Array)
	if len(br) != 4 {
		return false
	}
	for i := range br {
		if n, ok := br[i].(int64); !ok || n != want[i] {
			return false
		}
	}
	return true
}

// place locates widget (of field ref) on its page.
func (lw *layoutWalker) place(name string, ref syntax.Ref, widget syntax.Dict) *SignaturePlace {
	p := &SignaturePlace{Field: name}
	if widget == nil {
		return p
	}
	p.Visible = visibleWidget(widget)
	if rv, _ := lw.d.resolve(widget.Get("Rect")); rv != nil {
		if a, ok := rv.(syntax.Array); ok && len(a) == 4 {
			for i := range a {
				p.Rect[i], _ = numberOf(a[i])
			}
			p.Rect = normRect(p.Rect)
		}
	}
	if pr, ok := widget.Get("P").(syntax.Ref); ok {
		p.Page = lw.pageNo[pr.Num]
	}
	if p.Page == 0 {
		// No /P (it is optional): find the page whose /Annots lists it.
	search:
		for i, pd := range lw.pageDicts {
			av, _ := lw.d.resolve(pd.Get("Annots"))
			annots, _ := av.(syntax.Array)
			for _, a := range annots {
				if ar, ok := a.(syntax.Ref); ok && ar.Num == ref.Num {
					p.Page = i + 1
					break search
				}
			}
		}
	}
	if p.Page > 0 {
		p.Box, p.Rotate = lw.pageBox(lw.pageDicts[p.Page-1])
	}
	return p
}

// pageBox is a page's CropBox (else MediaBox) and Rotate, inherited from
// its ancestors when the page does not state them.
func (lw *layoutWalker) pageBox(pd syntax.Dict) (box [4]float64, rotate int) {
	var crop, media syntax.Object
	var rot syntax.Object
	for n, i := pd, 0; n != nil && i < 32; i++ {
		if crop == nil {
			crop = n.Get("CropBox")
		}
		if media == nil {
			media = n.Get("MediaBox")
		}
		if rot == nil {
			rot = n.Get("Rotate")
		}
		n, _ = lw.d.dict(n.Get("Parent"))
	}
	box = [4]float64{0, 0, 612, 792} // ISO 32000 has no default; Letter is what viewers assume
	for _, o := range []syntax.Object{crop, media} {
		v, _ := lw.d.resolve(o)
		if a, ok := v.(syntax.Array); ok && len(a) == 4 {
			var b [4]float64
			good := true
			for i := range a {
				if b[i], ok = numberOf(a[i]); !ok {
					good = false
				}
			}
			if good {
				box = normRect(b)
				break
			}
		}
	}
	if rv, _ := lw.d.resolve(rot); rv != nil {
		if n, ok := rv.(int64); ok {
			rotate = int(((n % 360) + 360) % 360)
		}
	}
	return box, rotate
}

func normRect(r [4]float64) [4]float64 {
	return [4]float64{min(r[0], r[2]), min(r[1], r[3]), max(r[0], r[2]), max(r[1], r[3])}
}
