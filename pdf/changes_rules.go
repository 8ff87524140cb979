package pdf

// Rules that relax or tighten the change analysis of changes.go; each one
// is written down in docs/attacks.md next to the rule it changes.

import (
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/securesign/securesign/pdf/internal/syntax"
)

// numberOf returns a PDF number as float64.
func numberOf(o syntax.Object) (float64, bool) {
	switch x := o.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// valueEqual compares two direct objects by value: 612 and 612.0 are the
// same number (a rewrite by another writer changes nothing a reader sees).
// References compare as references.
func valueEqual(a, b syntax.Object, depth int) bool {
	if depth > 64 {
		return false
	}
	if x, ok := numberOf(a); ok {
		y, ok := numberOf(b)
		return ok && (x == y || math.Abs(x-y) <= 1e-9*math.Max(math.Abs(x), math.Abs(y)))
	}
	switch x := a.(type) {
	case syntax.Array:
		y, ok := b.(syntax.Array)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valueEqual(x[i], y[i], depth+1) {
				return false
			}
		}
		return true
	case syntax.Dict:
		y, ok := b.(syntax.Dict)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !valueEqual(v, w, depth+1) {
				return false
			}
		}
		return true
	}
	return syntax.Equal(a, b)
}

// deepEqual compares a (in revision ra) with b (in revision rb), following
// references: a page pointed at a byte-identical copy of its resources has
// not changed. budget bounds the objects visited; running out means "not
// equal", which only makes the analysis stricter.
func (v *verifier) deepEqual(ra int, a syntax.Object, rb int, b syntax.Object, budget *int, seen map[[2]syntax.Ref]bool) (bool, error) {
	if *budget--; *budget < 0 {
		return false, nil
	}
	if r1, ok := a.(syntax.Ref); ok {
		r2, ok := b.(syntax.Ref)
		if !ok {
			x, err := v.f.Lookup(ra, r1.Num)
			if err != nil {
				return false, err
			}
			return v.deepEqual(ra, x, rb, b, budget, seen)
		}
		if seen[[2]syntax.Ref{r1, r2}] {
			return true, nil
		}
		seen[[2]syntax.Ref{r1, r2}] = true
		x, err := v.f.Lookup(ra, r1.Num)
		if err != nil {
			return false, err
		}
		y, err := v.f.Lookup(rb, r2.Num)
		if err != nil {
			return false, err
		}
		if r1 == r2 {
			if same, err := v.sameObject(x, y); err != nil || same {
				return same, err
			}
		}
		return v.deepEqual(ra, x, rb, y, budget, seen)
	}
	if r2, ok := b.(syntax.Ref); ok {
		// a direct value replaced by a reference to the same value
		y, err := v.f.Lookup(rb, r2.Num)
		if err != nil {
			return false, err
		}
		return v.deepEqual(ra, a, rb, y, budget, seen)
	}
	switch x := a.(type) {
	case syntax.Array:
		y, ok := b.(syntax.Array)
		if !ok || len(x) != len(y) {
			return false, nil
		}
		for i := range x {
			if eq, err := v.deepEqual(ra, x[i], rb, y[i], budget, seen); err != nil || !eq {
				return false, err
			}
		}
		return true, nil
	case syntax.Dict:
		y, ok := b.(syntax.Dict)
		if !ok || len(x) != len(y) {
			return false, nil
		}
		for _, k := range sortedKeys(x) {
			w, ok := y[k]
			if !ok {
				return false, nil
			}
			if eq, err := v.deepEqual(ra, x[k], rb, w, budget, seen); err != nil || !eq {
				return false, err
			}
		}
		return true, nil
	case *syntax.Stream:
		y, ok := b.(*syntax.Stream)
		if !ok || x.Length != y.Length || x.Offset < 0 || y.Offset < 0 {
			return false, nil
		}
		xd, yd := copyDict(x.Dict), copyDict(y.Dict)
		delete(xd, "Length") // may be an indirect number; the lengths were compared
		delete(yd, "Length")
		if eq, err := v.deepEqual(ra, xd, rb, yd, budget, seen); err != nil || !eq {
			return false, err
		}
		return v.sameBytes(x.Offset, y.Offset, x.Length)
	}
	return valueEqual(a, b, 0), nil
}

func copyDict(d syntax.Dict) syntax.Dict {
	out := make(syntax.Dict, len(d))
	for k, v := range d {
		out[k] = v
	}
	return out
}

func sortedKeys(d syntax.Dict) []syntax.Name {
	out := make([]syntax.Name, 0, len(d))
	for k := range d {
		out = append(out, k)
	}
	sortNames(out)
	return out
}

// sameBytes compares n bytes of the file at offsets a and b.
func (v *verifier) sameBytes(a, b, n int64) (bool, error) {
	const chunk = 32 << 10
	ba, bb := make([]byte, chunk), make([]byte, chunk)
	for off := int64(0); off < n; off += chunk {
		m := min(int64(chunk), n-off)
		if _, err := v.r.ReadAt(ba[:m], a+off); err != nil && err != io.EOF {
			return false, err
		}
		if _, err := v.r.ReadAt(bb[:m], b+off); err != nil && err != io.EOF {
			return false, err
		}
		if string(ba[:m]) != string(bb[:m]) {
			return false, nil
		}
	}
	return true, nil
}

// versionRaised reports whether a catalog /Version went from old to a
// valid, higher PDF version (Acrobat's LTV update, co-signers adding
// ECDSA or EdDSA signatures).
func versionRaised(old, nw syntax.Object) (string, bool) {
	parse := func(o syntax.Object, absentOK bool) (float64, bool) {
		if o == nil {
			return 0, absentOK
		}
		n, ok := o.(syntax.Name)
		if !ok {
			return 0, false
		}
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil && f >= 1.0 && f <= 2.0
	}
	a, ok1 := parse(old, true)
	b, ok2 := parse(nw, false)
	if !ok1 || !ok2 || b < a {
		return "", false
	}
	return fmt.Sprintf("%v", nw), true
}

// flagBitsAdded reports whether the integer flags nw equal old with only
// bits of mask added (absent counts as 0).
func flagBitsAdded(old, nw syntax.Object, mask int64) bool {
	o, ok1 := old.(int64)
	if old == nil {
		o, ok1 = 0, true
	}
	n, ok2 := nw.(int64)
	if !ok1 || !ok2 {
		return false
	}
	return n&^mask == o&^mask && n&mask != 0
}

// Annotation flags and field flags (ISO 32000-2 12.5.3, 12.7.4.1).
const (
	annotFlagLocked   = 1 << 7
	fieldFlagReadOnly = 1
)

// annotationOverlaps names the pages of revision rev on which two visible
// annotations overlap (DSS warns about it: one annotation can hide
// another, or the content under it). Touching borders do not count; popups
// are left out (they sit over their parent by design).
func (v *verifier) annotationOverlaps(rev int) []string {
	cat, _ := v.f.ResolveDict(rev, v.f.Revisions[rev].Trailer["Root"])
	if cat == nil {
		return nil
	}
	var out []string
	pageNo := 0
	budget := 20000
	var walk func(o syntax.Object, depth int)
	walk = func(o syntax.Object, depth int) {
		if depth > 32 || budget <= 0 {
			return
		}
		budget--
		d, _ := v.f.ResolveDict(rev, o)
		if d == nil {
			return
		}
		if t, _ := d.Name("Type"); t == "Pages" || d["Kids"] != nil {
			kids, _ := v.f.Resolve(rev, d["Kids"])
			ka, _ := kids.(syntax.Array)
			for _, k := range ka {
				walk(k, depth+1)
			}
			return
		}
		pageNo++
		annots, _ := v.f.Resolve(rev, d["Annots"])
		aa, _ := annots.(syntax.Array)
		var rects [][4]float64
		for _, a := range aa {
			if budget--; budget <= 0 || len(rects) > 500 {
				break
			}
			ad, _ := v.f.ResolveDict(rev, a)
			if ad == nil {
				continue
			}
			if st, _ := ad.Name("Subtype"); st == "Popup" {
				continue
			}
			if fl, _ := ad.Int("F"); fl&2 != 0 { // hidden
				continue
			}
			ro, _ := v.f.Resolve(rev, ad["Rect"])
			ra, _ := ro.(syntax.Array)
			if len(ra) != 4 {
				continue
			}
			var r [4]float64
			ok := true
			for i := range ra {
				if r[i], ok = numberOf(ra[i]); !ok {
					break
				}
			}
			if !ok {
				continue
			}
			r = [4]float64{math.Min(r[0], r[2]), math.Min(r[1], r[3]), math.Max(r[0], r[2]), math.Max(r[1], r[3])}
			if r[2]-r[0] <= 0 || r[3]-r[1] <= 0 {
				continue
			}
			rects = append(rects, r)
		}
	pairs:
		for i := range rects {
			for j := i + 1; j < len(rects); j++ {
				a, b := rects[i], rects[j]
				if math.Min(a[2], b[2]) > math.Max(a[0], b[0]) && math.Min(a[3], b[3]) > math.Max(a[1], b[1]) {
					out = append(out, strconv.Itoa(pageNo))
					break pairs
				}
			}
		}
	}
	walk(cat["Pages"], 0)
	return out
}

// onlyAdditions reports whether nw is old with dictionary entries added
// (at any depth of direct or referenced dictionaries) and nothing changed
// or removed. References are followed one level per dictionary, in the
// signed revision for old and the last revision for nw.
func (v *verifier) onlyAdditions(old, nw syntax.Object, depth int) bool {
	if depth > 8 {
		return false
	}
	if old == nil || valueEqual(old, nw, 0) {
		return true // added, or the same
	}
	od, _ := v.f.Resolve(v.sigRevIdx, old)
	nd, _ := v.f.Resolve(len(v.f.Revisions)-1, nw)
	a, ok1 := od.(syntax.Dict)
	b, ok2 := nd.(syntax.Dict)
	if !ok1 || !ok2 {
		return false
	}
	for k, x := range a {
		y, ok := b[k]
		if !ok || !v.onlyAdditions(x, y, depth+1) {
			return false
		}
	}
	return true
}

// drawnBy returns the objects reachable from the pages' /Contents and
// /Resources in revision rev: what the pages draw. Computed once per
// revision; a document too large to walk within the budget gets an empty
// set, which leaves the analysis as it was before this check.
func (v *verifier) drawnBy(rev int) map[uint32]bool {
	if d, ok := v.drawn[rev]; ok {
		return d
	}
	if v.drawn == nil {
		v.drawn = map[int]map[uint32]bool{}
	}
	out := map[uint32]bool{}
	budget := 200000
	var walk func(o syntax.Object, depth int)
	walk = func(o syntax.Object, depth int) {
		if budget <= 0 || depth > 64 {
			return
		}
		for _, r := range syntax.Refs(nil, o) {
			if out[r.Num] {
				continue
			}
			if budget--; budget <= 0 {
				return
			}
			out[r.Num] = true
			x, err := v.f.Lookup(rev, r.Num)
			if err != nil || x == nil {
				continue
			}
			if st, ok := x.(*syntax.Stream); ok {
				walk(st.Dict, depth+1)
			} else {
				walk(x, depth+1)
			}
		}
	}
	cat, _ := v.f.ResolveDict(rev, v.f.Revisions[rev].Trailer["Root"])
	pages := 0
	var tree func(o syntax.Object, depth int, inherited syntax.Object)
	tree = func(o syntax.Object, depth int, inherited syntax.Object) {
		if depth > 32 || pages > 100000 || budget <= 0 {
			return
		}
		d, _ := v.f.ResolveDict(rev, o)
		if d == nil {
			return
		}
		res := inherited
		if d["Resources"] != nil {
			res = d["Resources"]
		}
		if kids, _ := v.f.Resolve(rev, d["Kids"]); kids != nil {
			if ka, ok := kids.(syntax.Array); ok {
				for _, k := range ka {
					tree(k, depth+1, res)
				}
				return
			}
		}
		pages++
		walk(d["Contents"], 0)
		walk(res, 0)
	}
	if cat != nil {
		tree(cat["Pages"], 0, nil)
	}
	if budget <= 0 {
		out = map[uint32]bool{}
	}
	v.drawn[rev] = out
	return out
}
