package pdf

import (
	"fmt"
	"io"
	"sort"

	"github.com/securesign/securesign/pdf/internal/syntax"
)

// What changed after a signature, found by comparing the signed revision
// with the last one object by object. Every change must be explained by an
// allowed kind (new signatures, document timestamps, DSS, form filling,
// annotations); anything else is "other" and never valid. This is what
// defeats incremental-saving and shadow attacks.

type modKind int

const (
	kNone modKind = iota
	kSig
	kDSS
	kForm
	kAnnot
	kOther
)

func (k modKind) String() string {
	return [...]string{ModNone, ModSignatures, ModDSS, ModFormFilling, ModAnnotations, ModOther}[k]
}

type change struct {
	kind   modKind
	docTS  bool // a document timestamp was added (allowed even by DocMDP P=1)
	newSig bool // an approval or certification signature was added
	// visibleSig: a new signature field whose widget can be seen
	visibleSig bool
	detail     string
}

type changeSet struct {
	changes []change
	// notes say something about the update without judging it
	notes []string
	// form fields (by name) whose value changed, and appearance changes
	// waiting to be judged against them: an appearance that changes while
	// the value does not is not form filling
	valueChanged map[string]bool
	apChanges    []apChange
}

type apChange struct {
	field  string
	detail string
}

func (cs *changeSet) noteValue(field string) {
	if cs.valueChanged == nil {
		cs.valueChanged = map[string]bool{}
	}
	cs.valueChanged[field] = true
}

// settleAppearances classifies the appearance changes once every value
// change is known.
func (cs *changeSet) settleAppearances() {
	for _, a := range cs.apChanges {
		if cs.valueChanged[a.field] {
			cs.add(kForm, "%s", a.detail)
		} else {
			cs.add(kAnnot, "%s, but the field's value did not change: the appearance no longer shows the value", a.detail)
		}
	}
	cs.apChanges = nil
}

func (cs *changeSet) add(k modKind, format string, args ...any) {
	cs.changes = append(cs.changes, change{kind: k, detail: fmt.Sprintf(format, args...)})
}

func (cs *changeSet) worst() modKind {
	w := kNone
	for _, c := range cs.changes {
		if c.kind > w {
			w = c.kind
		}
	}
	return w
}

// docInfo is what the validator learns about the form and the pages of a
// revision.
type docInfo struct {
	catalog   uint32 // object number of the catalog (0 if direct, which is malformed)
	acroform  uint32
	dss       uint32
	info      uint32
	metadata  uint32
	fields    map[uint32]*fieldInfo // field and widget dictionaries by object number
	apStreams map[uint32]uint32     // appearance stream -> widget that uses it
	dssObjs   map[uint32]bool       // objects inside the DSS (VRI, certificate, OCSP, CRL streams)
	drObjs    map[uint32]bool       // the form's default resources (/DR and its font dictionary)
	names     uint32                // the catalog's /Names dictionary
	apTree    map[uint32]bool       // nodes of the /Names /AP name tree (annotation appearances)
	structObj map[uint32]bool       // the logical structure root and its parent tree
}

type fieldInfo struct {
	name   string
	isSig  bool
	signed bool // a signature field whose /V is a signature dictionary
	widget bool
	sigRef syntax.Ref
	// fakeV: a signature field whose /V is something other than a
	// signature dictionary (an appearance stream, say): it is not signed
	fakeV bool
}

// analyseChanges compares revision k with the last revision.
func (v *verifier) analyseChanges(k int) (*changeSet, error) {
	cs := &changeSet{}
	f := v.f
	last := len(f.Revisions) - 1
	if err := v.checkTrailingBytes(cs); err != nil {
		return nil, err
	}
	if k == last {
		return cs, nil
	}
	for j := k + 1; j <= last; j++ {
		if err := v.checkUnlistedData(cs, j); err != nil {
			return nil, err
		}
	}
	// object numbers touched after k
	touched := map[uint32]bool{}
	for j := k + 1; j <= last; j++ {
		for n := range f.Revisions[j].Entries() {
			if n != 0 {
				touched[n] = true
			}
		}
	}
	nums := make([]uint32, 0, len(touched))
	for n := range touched {
		nums = append(nums, n)
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })

	oldInfo, err := v.docInfo(k)
	if err != nil {
		return nil, err
	}
	newInfo, err := v.docInfo(last)
	if err != nil {
		return nil, err
	}
	refsK := v.refs[k] // objects the signed revision refers to (computed lazily)
	if oldInfo.catalog != newInfo.catalog {
		// a new catalog object: compare the two catalogs key by key
		oc, err := f.ResolveDict(k, syntax.Ref{Num: oldInfo.catalog})
		if err != nil {
			return nil, err
		}
		nc, err := f.ResolveDict(last, syntax.Ref{Num: newInfo.catalog})
		if err != nil {
			return nil, err
		}
		if nc == nil {
			cs.add(kOther, "the document catalog was replaced by something else")
		} else {
			v.catalogDiff(cs, newInfo.catalog, oc, nc, oldInfo, newInfo)
		}
	}
	for _, n := range nums {
		if err := v.ctx.Err(); err != nil {
			return nil, err
		}
		oe, oldExists := f.Entry(k, n)
		oldExists = oldExists && oe.Type != syntax.Free
		oldV, err := f.Lookup(k, n)
		if err != nil {
			return nil, err
		}
		newV, err := f.Lookup(last, n)
		if err != nil {
			return nil, err
		}
		if oldExists {
			same, err := v.sameObject(oldV, newV)
			if err != nil {
				return nil, err
			}
			if same {
				// a later revision re-stating an annotation byte for byte
				// changes nothing, but say so: it is how some overlays
				// hide their preparation
				if d := dictOf(oldV); d != nil && isAnnot(d) {
					cs.notes = append(cs.notes, fmt.Sprintf("annotation %d was re-stated unchanged in a later revision", n))
				}
				continue
			}
			if _, isStream := oldV.(*syntax.Stream); !isStream && valueEqual(oldV, newV, 0) {
				continue // the same values written differently (612 and 612.0)
			}
		}
		if !oldExists {
			if refsK == nil {
				if refsK, err = v.referenced(k); err != nil {
					return nil, err
				}
				v.refs[k] = refsK
			}
			if refsK[n] && newV != nil {
				cs.add(kOther, "object %d was referenced by the signed revision but only defined afterwards (its meaning changed)", n)
				continue
			}
			if n != newInfo.catalog {
				v.classifyNew(cs, n, newV, newInfo)
			}
			continue
		}
		if newV == nil {
			cs.add(kOther, "object %d was deleted after signing", n)
			continue
		}
		v.classifyChanged(cs, n, oldV, newV, oldInfo, newInfo)
	}
	cs.settleAppearances()
	return cs, nil
}

// sameObject compares two versions of an object; streams compare by content.
func (v *verifier) sameObject(a, b syntax.Object) (bool, error) {
	sa, ok1 := a.(*syntax.Stream)
	sb, ok2 := b.(*syntax.Stream)
	if !ok1 || !ok2 {
		return syntax.Equal(a, b), nil
	}
	if sa.Offset == sb.Offset && sa.Length == sb.Length {
		return syntax.Equal(sa.Dict, sb.Dict), nil
	}
	if sa.Length != sb.Length || !syntax.Equal(sa.Dict, sb.Dict) || sa.Offset < 0 || sb.Offset < 0 {
		return false, nil
	}
	// same dictionary and length at another place: compare the bytes
	const chunk = 32 << 10
	ba, bb := make([]byte, chunk), make([]byte, chunk)
	for off := int64(0); off < sa.Length; off += chunk {
		n := int64(chunk)
		if off+n > sa.Length {
			n = sa.Length - off
		}
		if _, err := v.r.ReadAt(ba[:n], sa.Offset+off); err != nil && err != io.EOF {
			return false, err
		}
		if _, err := v.r.ReadAt(bb[:n], sb.Offset+off); err != nil && err != io.EOF {
			return false, err
		}
		if string(ba[:n]) != string(bb[:n]) {
			return false, nil
		}
	}
	return true, nil
}

// checkTrailingBytes flags data after the last %%EOF: objects appended
// without an xref section, which repairing viewers may show.
func (v *verifier) checkTrailingBytes(cs *changeSet) error {
	f := v.f
	end := f.Revisions[len(f.Revisions)-1].End
	if end >= v.size {
		return nil
	}
	n := v.size - end
	if n > 1<<20 {
		cs.add(kOther, "%d bytes after the last %%%%EOF are not part of any revision", n)
		return nil
	}
	buf := make([]byte, n)
	if _, err := v.r.ReadAt(buf, end); err != nil && err != io.EOF {
		return err
	}
	if ok, i := syntax.OnlySpaceOrComments(buf); !ok {
		cs.add(kOther, "data after the last %%%%EOF (offset %d) is not part of any revision: an update without xref section", end+int64(i))
	}
	return nil
}

// checkUnlistedData flags bytes of revision j that are neither listed
// objects, xref sections nor whitespace/comments: objects hidden from the
// xref that a repairing viewer might still use.
func (v *verifier) checkUnlistedData(cs *changeSet, j int) error {
	f := v.f
	rv := f.Revisions[j]
	type span struct{ a, b int64 }
	var spans []span
	for _, s := range rv.Sections {
		spans = append(spans, span{s.Offset, s.EOF})
		if s.XRefStm > 0 {
			if end, err := f.ObjectEnd(j, s.XRefStm); err == nil {
				spans = append(spans, span{s.XRefStm, end})
			}
		}
	}
	seen := map[int64]bool{}
	for n, e := range rv.Entries() {
		if e.Type != syntax.InUse || e.Offset < rv.Start || e.Offset >= rv.End || seen[e.Offset] {
			continue
		}
		seen[e.Offset] = true
		if err := v.ctx.Err(); err != nil {
			return err
		}
		end, err := f.ObjectEnd(j, e.Offset)
		if err != nil {
			cs.add(kOther, "object %d of revision %d is unreadable: %v", n, j+1, err)
			continue
		}
		spans = append(spans, span{e.Offset, end})
	}
	sort.Slice(spans, func(a, b int) bool { return spans[a].a < spans[b].a })
	pos := rv.Start
	check := func(a, b int64) error {
		if b <= a {
			return nil
		}
		if b-a > 1<<20 {
			cs.add(kOther, "%d unlisted bytes at offset %d in revision %d", b-a, a, j+1)
			return nil
		}
		buf := make([]byte, b-a)
		if _, err := v.r.ReadAt(buf, a); err != nil && err != io.EOF {
			return err
		}
		if ok, i := syntax.OnlySpaceOrComments(buf); !ok {
			cs.add(kOther, "data at offset %d in revision %d is not reachable through the xref (hidden object?)", a+int64(i), j+1)
		}
		return nil
	}
	for _, s := range spans {
		if s.a > pos {
			if err := check(pos, s.a); err != nil {
				return err
			}
		}
		if s.b > pos {
			pos = s.b
		}
	}
	return check(pos, rv.EOFMark)
}

// referenced returns every object number referred to by any object (or the
// trailer) of revision k.
func (v *verifier) referenced(k int) (map[uint32]bool, error) {
	f := v.f
	out := map[uint32]bool{}
	var refs []syntax.Ref
	nums, err := f.ObjectNumbers(k)
	if err != nil {
		return nil, err
	}
	for _, n := range nums {
		o, err := f.Lookup(k, n)
		if err != nil {
			return nil, err
		}
		refs = syntax.Refs(refs[:0], o)
		for _, r := range refs {
			out[r.Num] = true
		}
	}
	// of the trailer, only the keys a reader interprets: a dangling
	// reference under another key (LibreOffice's /AdditionalStreams, which
	// names an object number a later update may use for something else)
	// is read by nobody and cannot give a later object a meaning
	tr := f.Revisions[k].Trailer
	for _, key := range []syntax.Name{"Root", "Info", "Encrypt"} {
		for _, r := range syntax.Refs(nil, tr[key]) {
			out[r.Num] = true
		}
	}
	return out, nil
}

// walkNameTree records the node objects of a name tree.
func (v *verifier) walkNameTree(rev int, o syntax.Object, into map[uint32]bool, depth int) {
	r, ok := o.(syntax.Ref)
	if !ok || depth > 32 || into[r.Num] || len(into) > 10000 {
		return
	}
	into[r.Num] = true
	d, _ := v.f.ResolveDict(rev, r)
	if d == nil {
		return
	}
	kids, _ := v.f.Resolve(rev, d["Kids"])
	if ka, ok := kids.(syntax.Array); ok {
		for _, k := range ka {
			v.walkNameTree(rev, k, into, depth+1)
		}
	}
}

// visibleWidget: a widget with a rectangle of some area and no Hidden or
// NoView flag.
func visibleWidget(d syntax.Dict) bool {
	if f, _ := d.Int("F"); f&(2|32) != 0 {
		return false
	}
	r, _ := d["Rect"].(syntax.Array)
	if len(r) != 4 {
		return false
	}
	var x [4]float64
	for i := range r {
		var ok bool
		if x[i], ok = numberOf(r[i]); !ok {
			return false
		}
	}
	return x[2] != x[0] && x[3] != x[1]
}

// structureKeys are the keys of structure tree root, structure element
// and number tree dictionaries (ISO 32000-2 14.7).
var structureKeys = []syntax.Name{"Type", "K", "P", "S", "Pg", "ID", "A", "C", "R", "T", "Lang", "Alt", "E", "ActualText",
	"ParentTree", "ParentTreeNextKey", "IDTree", "RoleMap", "ClassMap", "Namespaces", "PronunciationLexicon", "AF",
	"Nums", "Kids", "Limits", "Ref", "NS", "PhoneticAlphabet", "Phoneme"}

// onlyKeys reports whether every key of keys is one of allowed.
func onlyKeys(keys []syntax.Name, allowed ...syntax.Name) bool {
	for _, k := range keys {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return false
		}
	}
	return len(keys) > 0
}

func sortNames(n []syntax.Name) { sort.Slice(n, func(i, j int) bool { return n[i] < n[j] }) }

func dictOf(o syntax.Object) syntax.Dict {
	switch x := o.(type) {
	case syntax.Dict:
		return x
	case *syntax.Stream:
		return x.Dict
	}
	return nil
}

var annotSubtypes = map[syntax.Name]bool{
	"Text": true, "Link": true, "FreeText": true, "Line": true, "Square": true, "Circle": true,
	"Polygon": true, "PolyLine": true, "Highlight": true, "Underline": true, "Squiggly": true,
	"StrikeOut": true, "Stamp": true, "Caret": true, "Ink": true, "Popup": true, "FileAttachment": true,
	"Sound": true, "Movie": true, "Widget": true, "Screen": true, "PrinterMark": true, "TrapNet": true,
	"Watermark": true, "3D": true, "Redact": true, "Projection": true, "RichMedia": true,
}

func isAnnot(d syntax.Dict) bool {
	if t, _ := d.Name("Type"); t == "Annot" {
		return true
	}
	st, ok := d.Name("Subtype")
	return ok && annotSubtypes[st] && d["Rect"] != nil
}

// classifyNew classifies an object that did not exist in the signed
// revision and that the signed revision did not refer to. Such an object
// can only matter through a changed object, which is classified itself; so
// objects of unknown kind (fonts, XObjects, streams) are neutral here.
func (v *verifier) classifyNew(cs *changeSet, n uint32, o syntax.Object, info *docInfo) {
	d := dictOf(o)
	if d == nil {
		return
	}
	t, _ := d.Name("Type")
	switch {
	case t == "Sig":
		cs.changes = append(cs.changes, change{kind: kSig, newSig: true, detail: fmt.Sprintf("signature dictionary %d added", n)})
	case t == "DocTimeStamp":
		cs.changes = append(cs.changes, change{kind: kSig, docTS: true, detail: fmt.Sprintf("document timestamp %d added", n)})
	case n == info.dss || t == "DSS":
		cs.add(kDSS, "DSS %d added", n)
	case info.fields[n] != nil && info.fields[n].isSig:
		if info.fields[n].signed {
			cs.changes = append(cs.changes, change{kind: kSig, visibleSig: info.fields[n].widget && visibleWidget(d),
				detail: fmt.Sprintf("signature field %d added", n)})
		} else if info.fields[n].fakeV {
			cs.add(kAnnot, "signature field %d added whose /V is not a signature dictionary (it counts as unsigned: its appearance is signed by nobody)", n)
		} else {
			// an empty signature field's appearance is signed by nobody
			// (the "sneaky signature" overlay)
			cs.add(kAnnot, "unsigned signature field %d added", n)
		}
	case isAnnot(d):
		if st, _ := d.Name("Subtype"); st == "Widget" {
			if fi := info.fields[n]; fi != nil && fi.isSig && fi.signed {
				cs.changes = append(cs.changes, change{kind: kSig, visibleSig: visibleWidget(d), detail: fmt.Sprintf("signature widget %d added", n)})
				return
			}
		}
		cs.add(kAnnot, "annotation %d added", n)
	case d["FT"] != nil:
		cs.add(kAnnot, "form field %d added", n)
	}
}

// classifyChanged classifies a change to an object of the signed revision.
func (v *verifier) classifyChanged(cs *changeSet, n uint32, oldV, newV syntax.Object, oldInfo, newInfo *docInfo) {
	od, nd := dictOf(oldV), dictOf(newV)
	_, oldIsStream := oldV.(*syntax.Stream)
	ot, _ := od.Name("Type")
	switch {
	case n == oldInfo.catalog && n == newInfo.catalog:
		v.catalogDiff(cs, n, od, nd, oldInfo, newInfo)
	case n == oldInfo.catalog:
		// the old catalog is no longer the root; the two roots were
		// compared key by key already
	case v.drawnBy(v.sigRevIdx)[n] && !oldInfo.drObjs[n]:
		// something a page draws (its content, a font, an XObject, their
		// resources), whatever else the signed revision also uses it for:
		// a document prepared with such a shared object must not change
		// what is drawn through the rules below
		cs.add(kOther, "object %d, which a page draws, was changed after signing (%s)", n, describe(oldV))
	case n == oldInfo.info || n == oldInfo.metadata:
		// document information and XMP metadata are not rendered
	case n == oldInfo.dss || ot == "DSS" || oldInfo.dssObjs[n]:
		cs.add(kDSS, "DSS %d updated", n)
	case (ot == "StructTreeRoot" || ot == "StructElem" || oldInfo.structObj[n]) && nd != nil && onlyKeys(diffKeys(od, nd), structureKeys...):
		// the logical structure (tagging) is not drawn; signers and LT/LTA
		// extensions add their widgets to it. Only structure keys may
		// change: an object prepared to be also, say, a page's resources
		// would change through other keys
		cs.add(kSig, "logical structure %d updated (not rendered)", n)
	case oldInfo.drObjs[n]:
		// default resources serve appearances of new fields; the same
		// dictionary may also be a page's resources, so names may be
		// added, never changed or removed (that could swap a font the
		// page draws with)
		if v.onlyAdditions(od, nd, 0) {
			cs.add(kSig, "form default resources %d extended (used to draw new fields)", n)
		} else {
			cs.add(kOther, "form default resources %d: an existing entry was changed or removed", n)
		}
	case n == oldInfo.names && n == newInfo.names:
		v.namesDiff(cs, od, nd)
	case oldInfo.apTree[n] && nd != nil && onlyKeys(diffKeys(od, nd), "Names", "Kids", "Limits"):
		cs.add(kAnnot, "annotation appearance name tree node %d changed", n)
	case n == oldInfo.acroform && n == newInfo.acroform:
		v.acroformDiff(cs, n, od, nd, oldInfo, newInfo)
	case ot == "Sig" || ot == "DocTimeStamp":
		cs.add(kOther, "signature dictionary %d was changed after signing", n)
	case oldInfo.fields[n] != nil:
		v.fieldDiff(cs, n, od, nd, oldInfo.fields[n], newInfo.fields[n])
	case oldInfo.apStreams[n] != 0 && oldIsStream:
		w := oldInfo.apStreams[n]
		fi := oldInfo.fields[w]
		switch {
		case fi != nil && fi.isSig && fi.signed:
			cs.add(kOther, "appearance stream %d of signed signature field %d was replaced", n, w)
		case fi != nil && fi.isSig:
			cs.add(kAnnot, "appearance stream %d of empty signature field %q (%d) was replaced, with no signature in it", n, fi.name, w)
		case fi != nil:
			cs.apChanges = append(cs.apChanges, apChange{fi.name, fmt.Sprintf("appearance stream %d of form field %q (%d) was replaced", n, fi.name, w)})
		default:
			cs.add(kForm, "appearance stream %d of form field %d was replaced", n, w)
		}
	case ot == "Page" && nd != nil:
		v.pageDiff(cs, n, od, nd, newInfo)
	case ot == "Pages" && nd != nil && onlyKeys(diffKeys(od, nd), "ITXT"):
		// iText writes its version (/ITXT) into the page tree root when
		// it saves; no reader interprets the key
		cs.add(kSig, "page tree %d: iText's /ITXT version marker set", n)
	case isAnnotsArray(oldV, newV, v, len(v.f.Revisions)-1):
		v.annotsDiff(cs, fmt.Sprintf("annotation array %d", n), oldV.(syntax.Array), newV.(syntax.Array), newInfo)
	case od != nil && isAnnot(od):
		cs.add(kAnnot, "annotation %d was changed", n)
	default:
		cs.add(kOther, "object %d (%s) was changed after signing", n, describe(oldV))
	}
}

func describe(o syntax.Object) string {
	switch x := o.(type) {
	case *syntax.Stream:
		if st, ok := x.Dict.Name("Subtype"); ok {
			return "stream /" + string(st)
		}
		if t, ok := x.Dict.Name("Type"); ok {
			return "stream /" + string(t)
		}
		return "content or data stream"
	case syntax.Dict:
		if t, ok := x.Name("Type"); ok {
			return "/" + string(t)
		}
		if _, ok := x["BaseFont"]; ok {
			return "font"
		}
		return "dictionary"
	case syntax.Array:
		return "array"
	}
	return fmt.Sprintf("%T", o)
}

func (v *verifier) catalogDiff(cs *changeSet, n uint32, od, nd syntax.Dict, oldInfo, newInfo *docInfo) {
	if nd == nil {
		cs.add(kOther, "catalog %d replaced by a non-dictionary", n)
		return
	}
	for _, k := range diffKeys(od, nd) {
		switch k {
		case "DSS":
			cs.add(kDSS, "catalog: /DSS set")
		case "Extensions":
			// developer extension levels (ISO 32000-2 7.12): they declare
			// features, draw nothing
			if ext, _ := v.f.ResolveDict(len(v.f.Revisions)-1, nd["Extensions"]); ext != nil || nd["Extensions"] == nil {
				cs.add(kSig, "catalog: /Extensions updated")
			} else {
				cs.add(kOther, "catalog: /Extensions is not a dictionary")
			}
		case "Version":
			if ver, ok := versionRaised(od["Version"], nd["Version"]); ok {
				cs.add(kSig, "catalog: /Version raised to %s", ver)
			} else {
				cs.add(kOther, "catalog: /Version changed after signing (not a raise to a valid version)")
			}
		case "Names":
			on, _ := v.f.ResolveDict(v.sigRevIdx, od["Names"])
			nn, _ := v.f.ResolveDict(len(v.f.Revisions)-1, nd["Names"])
			if nn == nil && nd["Names"] != nil {
				cs.add(kOther, "catalog: /Names is not a dictionary")
			} else {
				v.namesDiff(cs, on, nn)
			}
		case "StructTreeRoot", "MarkInfo":
			cs.add(kSig, "catalog: /%s updated (logical structure, not rendered)", k)
		case "AcroForm":
			oa, _ := v.f.ResolveDict(v.sigRevIdx, od["AcroForm"])
			na, _ := v.f.ResolveDict(len(v.f.Revisions)-1, nd["AcroForm"])
			v.acroformDiff(cs, n, oa, na, oldInfo, newInfo)
		case "Metadata":
			// XMP metadata is not rendered
		default:
			cs.add(kOther, "catalog: /%s changed after signing", k)
		}
	}
}

func diffKeys(a, b syntax.Dict) []syntax.Name {
	var out []syntax.Name
	seen := map[syntax.Name]bool{}
	for k, va := range a {
		seen[k] = true
		if !syntax.Equal(va, b[k]) {
			out = append(out, k)
		}
	}
	for k := range b {
		if !seen[k] {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (v *verifier) acroformDiff(cs *changeSet, n uint32, od, nd syntax.Dict, oldInfo, newInfo *docInfo) {
	if nd == nil {
		cs.add(kOther, "the form (AcroForm) was removed")
		return
	}
	for _, k := range diffKeys(od, nd) {
		switch k {
		case "Fields":
			oldF, _ := v.f.Resolve(v.sigRevIdx, od["Fields"])
			newF, _ := v.f.Resolve(len(v.f.Revisions)-1, nd["Fields"])
			oa, _ := oldF.(syntax.Array)
			na, _ := newF.(syntax.Array)
			have := map[syntax.Ref]bool{}
			for _, e := range na {
				if r, ok := e.(syntax.Ref); ok {
					have[r] = true
				}
			}
			for _, e := range oa {
				if r, ok := e.(syntax.Ref); ok && !have[r] {
					cs.add(kOther, "form field %d was removed after signing", r.Num)
				}
			}
			old := map[syntax.Ref]bool{}
			for _, e := range oa {
				if r, ok := e.(syntax.Ref); ok {
					old[r] = true
				}
			}
			for _, e := range na {
				r, ok := e.(syntax.Ref)
				if !ok {
					cs.add(kOther, "form: a direct field object was added")
					continue
				}
				if old[r] {
					continue
				}
				if fi := newInfo.fields[r.Num]; fi != nil && fi.isSig && fi.signed {
					cs.add(kSig, "signature field %d added to the form", r.Num)
				} else {
					cs.add(kAnnot, "form field %d added to the form", r.Num)
				}
			}
		case "SigFlags":
			cs.add(kSig, "form: /SigFlags set")
		case "DR":
			// default resources only serve appearance generation for new
			// fields (signers add fonts and their appearance XObject
			// here); existing appearance streams carry their own
			// resources. The value written here is this form's own (a
			// direct dictionary, or a reference to another object, which
			// itself is not changed by that); a DR object changed in
			// place, which a page could share, is judged in
			// classifyChanged (drObjs).
			cs.add(kSig, "form: default resources updated")
		case "DA":
			if od["DA"] == nil {
				// a default appearance for fields without their own, used
				// only when an appearance is generated: added by signers
				cs.add(kSig, "form: default appearance /DA added")
			} else {
				cs.add(kForm, "form: /DA changed")
			}
		case "NeedAppearances":
			cs.add(kForm, "form: /%s changed", k)
		default:
			cs.add(kOther, "form: /%s changed after signing", k)
		}
	}
}

func (v *verifier) fieldDiff(cs *changeSet, n uint32, od, nd syntax.Dict, fi, nfi *fieldInfo) {
	if nd == nil {
		cs.add(kOther, "form field %d replaced by a non-dictionary", n)
		return
	}
	nowSigned := nfi != nil && nfi.signed
	for _, k := range diffKeys(od, nd) {
		switch {
		case fi.isSig && !fi.signed && nowSigned:
			// an empty signature field receiving its signature (its /V,
			// appearance, page, flags)
			cs.add(kSig, "signature field %q (%d) signed (/%s)", fi.name, n, k)
		case fi.isSig && !fi.signed && (k == "V" || k == "AP" || k == "AS"):
			// still no signature in it: what changed is how it looks
			cs.add(kAnnot, "empty signature field %q (%d): /%s changed with no signature in the field", fi.name, n, k)
		case fi.isSig && fi.signed && k == "F" && flagBitsAdded(od["F"], nd["F"], annotFlagLocked):
			cs.add(kSig, "signed signature field %q (%d) locked (/F Locked)", fi.name, n)
		case k == "Ff" && flagBitsAdded(od["Ff"], nd["Ff"], fieldFlagReadOnly):
			// FieldMDP locks make signed fields read-only: less editable,
			// drawn the same
			cs.add(kSig, "form field %q (%d) made read-only", fi.name, n)
		case fi.isSig && fi.signed:
			cs.add(kOther, "signed signature field %q (%d): /%s changed after signing", fi.name, n, k)
		case k == "V" || k == "I":
			cs.noteValue(fi.name)
			cs.add(kForm, "form field %q (%d): /%s changed", fi.name, n, k)
		case k == "AP" || k == "AS":
			cs.apChanges = append(cs.apChanges, apChange{fi.name, fmt.Sprintf("form field %q (%d): /%s changed", fi.name, n, k)})
		case k == "DA" && !fi.isSig:
			cs.add(kForm, "form field %q (%d): /DA changed", fi.name, n)
		case k == "F" && fi.widget:
			cs.add(kAnnot, "form field %q (%d): annotation flags /F changed", fi.name, n)
		case k == "Lock" || k == "SV":
			if fi.isSig {
				cs.add(kAnnot, "empty signature field %q (%d): /%s changed", fi.name, n, k)
			} else {
				cs.add(kOther, "form field %q (%d): /%s changed", fi.name, n, k)
			}
		case k == "Kids":
			cs.add(kOther, "form field %q (%d): widgets changed", fi.name, n)
		case k == "P" && fi.isSig && !fi.signed:
			cs.add(kAnnot, "empty signature field %q (%d): page set", fi.name, n)
		default:
			cs.add(kOther, "form field %q (%d): /%s changed after signing", fi.name, n, k)
		}
	}
}

// namesDiff compares the catalog's name dictionaries: a tree of annotation
// appearances (/AP, written by viewers) is an annotation change; every
// other name tree (JavaScript, embedded files, destinations, pages,
// templates...) can change what the document does and is "other".
func (v *verifier) namesDiff(cs *changeSet, od, nd syntax.Dict) {
	if nd == nil {
		cs.add(kOther, "catalog: /Names removed after signing")
		return
	}
	for _, k := range diffKeys(od, nd) {
		if k == "AP" {
			cs.add(kAnnot, "catalog: /Names /AP (annotation appearances) changed")
			continue
		}
		cs.add(kOther, "catalog: /Names /%s changed after signing", k)
	}
}

func (v *verifier) pageDiff(cs *changeSet, n uint32, od, nd syntax.Dict, newInfo *docInfo) {
	for _, k := range diffKeys(od, nd) {
		if k != "Annots" {
			budget := 20000
			eq, err := v.deepEqual(v.sigRevIdx, od[k], len(v.f.Revisions)-1, nd[k], &budget, map[[2]syntax.Ref]bool{})
			if err == nil && eq {
				continue // pointed at an identical copy
			}
			cs.add(kOther, "page %d: /%s changed after signing", n, k)
			continue
		}
		last := len(v.f.Revisions) - 1
		oa, _ := v.f.Resolve(v.sigRevIdx, od["Annots"])
		na, _ := v.f.Resolve(last, nd["Annots"])
		oarr, _ := oa.(syntax.Array)
		narr, ok := na.(syntax.Array)
		if !ok && na != nil {
			cs.add(kOther, "page %d: /Annots is not an array", n)
			continue
		}
		v.annotsDiff(cs, fmt.Sprintf("page %d", n), oarr, narr, newInfo)
	}
}

func isAnnotsArray(oldV, newV syntax.Object, v *verifier, last int) bool {
	oa, ok1 := oldV.(syntax.Array)
	_, ok2 := newV.(syntax.Array)
	if !ok1 || !ok2 {
		return false
	}
	for _, e := range oa {
		r, ok := e.(syntax.Ref)
		if !ok {
			return false
		}
		d, err := v.f.ResolveDict(v.sigRevIdx, r)
		if err != nil || d == nil || !isAnnot(d) {
			return false
		}
	}
	return true
}

func (v *verifier) annotsDiff(cs *changeSet, where string, oa, na syntax.Array, newInfo *docInfo) {
	have := map[syntax.Ref]bool{}
	for _, e := range na {
		if r, ok := e.(syntax.Ref); ok {
			have[r] = true
		}
	}
	old := map[syntax.Ref]bool{}
	for _, e := range oa {
		r, ok := e.(syntax.Ref)
		if !ok {
			continue
		}
		old[r] = true
		if !have[r] {
			if fi := v.sigRevInfo.fields[r.Num]; fi != nil {
				cs.add(kOther, "%s: widget %d of form field %q removed", where, r.Num, fi.name)
			} else {
				cs.add(kAnnot, "%s: annotation %d removed", where, r.Num)
			}
		}
	}
	last := len(v.f.Revisions) - 1
	for _, e := range na {
		r, ok := e.(syntax.Ref)
		if !ok {
			cs.add(kAnnot, "%s: direct annotation added", where)
			continue
		}
		if old[r] {
			continue
		}
		if fi := newInfo.fields[r.Num]; fi != nil && fi.isSig && fi.signed {
			cs.add(kSig, "%s: signature widget %d added", where, r.Num)
			continue
		}
		d, _ := v.f.ResolveDict(last, r)
		if d != nil && !isAnnot(d) {
			cs.add(kOther, "%s: non-annotation object %d added to /Annots", where, r.Num)
			continue
		}
		cs.add(kAnnot, "%s: annotation %d added", where, r.Num)
	}
}

// docInfo walks the catalog and form of revision rev.
func (v *verifier) docInfo(rev int) (*docInfo, error) {
	if di := v.infos[rev]; di != nil {
		return di, nil
	}
	f := v.f
	tr := f.Revisions[rev].Trailer
	di := &docInfo{fields: map[uint32]*fieldInfo{}, apStreams: map[uint32]uint32{}, dssObjs: map[uint32]bool{},
		drObjs: map[uint32]bool{}, apTree: map[uint32]bool{}, structObj: map[uint32]bool{}}
	if r, ok := tr["Info"].(syntax.Ref); ok {
		di.info = r.Num
	}
	rootRef, ok := tr["Root"].(syntax.Ref)
	if !ok {
		return nil, fmt.Errorf("%w: trailer /Root is not a reference", ErrMalformed)
	}
	di.catalog = rootRef.Num
	cat, err := f.ResolveDict(rev, rootRef)
	if err != nil {
		return nil, err
	}
	if cat == nil {
		return nil, fmt.Errorf("%w: no catalog", ErrMalformed)
	}
	if r, ok := cat["DSS"].(syntax.Ref); ok {
		di.dss = r.Num
	}
	if dss, err := f.ResolveDict(rev, cat["DSS"]); err == nil && dss != nil {
		for _, key := range []syntax.Name{"Certs", "OCSPs", "CRLs", "VRI"} {
			o := dss[key]
			if r, ok := o.(syntax.Ref); ok {
				di.dssObjs[r.Num] = true
			}
			o, _ = f.Resolve(rev, o)
			for _, r := range syntax.Refs(nil, o) {
				di.dssObjs[r.Num] = true
			}
			if key == "VRI" { // one level down: each VRI dictionary's arrays
				if vd, ok := o.(syntax.Dict); ok {
					for _, e := range vd {
						if sub, _ := f.Resolve(rev, e); sub != nil {
							for _, r := range syntax.Refs(nil, sub) {
								di.dssObjs[r.Num] = true
							}
						}
					}
				}
			}
		}
	}
	if r, ok := cat["Metadata"].(syntax.Ref); ok {
		di.metadata = r.Num
	}
	if r, ok := cat["Names"].(syntax.Ref); ok {
		di.names = r.Num
	}
	if nd, _ := f.ResolveDict(rev, cat["Names"]); nd != nil {
		v.walkNameTree(rev, nd["AP"], di.apTree, 0)
	}
	if sr, ok := cat["StructTreeRoot"].(syntax.Ref); ok {
		di.structObj[sr.Num] = true
		if st, _ := f.ResolveDict(rev, sr); st != nil {
			if pt, ok := st["ParentTree"].(syntax.Ref); ok {
				di.structObj[pt.Num] = true
			}
		}
	}
	if r, ok := cat["AcroForm"].(syntax.Ref); ok {
		di.acroform = r.Num
	}
	af, err := f.ResolveDict(rev, cat["AcroForm"])
	if err != nil {
		return nil, err
	}
	if af != nil {
		if r, ok := af["DR"].(syntax.Ref); ok {
			di.drObjs[r.Num] = true
		}
		if dr, _ := f.ResolveDict(rev, af["DR"]); dr != nil {
			for _, key := range []syntax.Name{"Font", "Encoding"} {
				if r, ok := dr[key].(syntax.Ref); ok {
					di.drObjs[r.Num] = true
				}
			}
		}
		fields, err := f.Resolve(rev, af["Fields"])
		if err != nil {
			return nil, err
		}
		arr, _ := fields.(syntax.Array)
		visited := map[uint32]bool{}
		for _, e := range arr {
			if err := v.walkField(rev, di, e, "", false, false, visited, 0); err != nil {
				return nil, err
			}
		}
	}
	v.infos[rev] = di
	return di, nil
}

// isSigDict: a signature or document timestamp dictionary (ISO 32000-2
// 12.8.1): a dictionary (not a stream) with /ByteRange and /Contents whose
// /Type, if any, is /Sig or /DocTimeStamp.
func isSigDict(o syntax.Object) bool {
	d, ok := o.(syntax.Dict)
	if !ok || d["ByteRange"] == nil || d["Contents"] == nil {
		return false
	}
	t, hasType := d["Type"]
	return !hasType || t == syntax.Name("Sig") || t == syntax.Name("DocTimeStamp")
}

func (v *verifier) walkField(rev int, di *docInfo, o syntax.Object, parent string, parentSig, parentSigned bool, visited map[uint32]bool, depth int) error {
	r, ok := o.(syntax.Ref)
	if !ok {
		return nil // direct field dictionaries cannot be signed or tracked
	}
	if visited[r.Num] {
		return nil // a cycle or a shared kid: already seen
	}
	visited[r.Num] = true
	if depth > 64 || len(visited) > v.f.Limits().MaxObjects {
		return &syntax.LimitError{Limit: "MaxDepth", Max: 64}
	}
	d, err := v.f.ResolveDict(rev, r)
	if err != nil || d == nil {
		return err
	}
	name := parent
	if t, ok := d["T"].(syntax.String); ok {
		if name != "" {
			name += "."
		}
		name += string(t.Bytes)
	}
	isSig := parentSig
	if ft, ok := d.Name("FT"); ok {
		isSig = ft == "Sig"
	}
	// a widget kid of a signed field counts as signed too
	fi := &fieldInfo{name: name, isSig: isSig, signed: isSig && parentSigned}
	if sv, ok := d["V"].(syntax.Ref); ok && isSig {
		// signed only if /V is a signature dictionary; a stream or any
		// other object there (a published certification attack puts the
		// field's own appearance in /V) leaves the field unsigned
		if vd, err := v.f.Resolve(rev, sv); err == nil && isSigDict(vd) {
			fi.signed = true
			fi.sigRef = sv
		} else {
			fi.fakeV = true
		}
	}
	if st, _ := d.Name("Subtype"); st == "Widget" {
		fi.widget = true
	}
	di.fields[r.Num] = fi
	// appearance streams of this widget
	if ap, err := v.f.ResolveDict(rev, d["AP"]); err == nil && ap != nil {
		for _, key := range []syntax.Name{"N", "R", "D"} {
			switch x := ap[key].(type) {
			case syntax.Ref:
				di.apStreams[x.Num] = r.Num
			case syntax.Dict:
				for _, s := range x {
					if sr, ok := s.(syntax.Ref); ok {
						di.apStreams[sr.Num] = r.Num
					}
				}
			}
			if sr, ok := ap[key].(syntax.Ref); ok {
				if sub, err := v.f.Resolve(rev, sr); err == nil {
					if sd, ok := sub.(syntax.Dict); ok { // state dictionary behind a reference
						for _, s := range sd {
							if x, ok := s.(syntax.Ref); ok {
								di.apStreams[x.Num] = r.Num
							}
						}
					}
				}
			}
		}
	}
	kids, err := v.f.Resolve(rev, d["Kids"])
	if err != nil {
		return err
	}
	if ka, ok := kids.(syntax.Array); ok {
		for _, k := range ka {
			if err := v.walkField(rev, di, k, name, isSig, fi.signed, visited, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
