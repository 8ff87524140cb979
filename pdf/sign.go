package pdf

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync/atomic"
	"time"
	"unicode/utf16"

	"github.com/securesign/securesign/internal/atomicfile"
	"github.com/securesign/securesign/pdf/internal/syntax"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

// Level is a PAdES baseline level (ETSI EN 319 142-1).
type Level string

// The PAdES baseline levels.
const (
	LevelBB   Level = "B-B"   // signature only
	LevelBT   Level = "B-T"   // plus an RFC 3161 timestamp over the signature value
	LevelBLT  Level = "B-LT"  // plus a DSS with certificates and revocation data
	LevelBLTA Level = "B-LTA" // plus a document timestamp
)

func (l Level) rank() int {
	switch l {
	case "", LevelBB:
		return 0
	case LevelBT:
		return 1
	case LevelBLT:
		return 2
	case LevelBLTA:
		return 3
	}
	return -1
}

// Timestamper gets RFC 3161 timestamp tokens; [pki.TSAClient] is one.
type Timestamper interface {
	Timestamp(ctx context.Context, hash crypto.Hash, digest []byte) ([]byte, error)
}

// RevocationSource answers revocation questions for B-LT data;
// [pki.RevocationChecker] is one. The returned status must carry the raw
// OCSP response or CRL it came from.
type RevocationSource interface {
	Check(ctx context.Context, cert, issuer *x509.Certificate) (*pki.RevocationStatus, error)
}

// SignOptions says how to sign. The zero value makes an invisible B-B
// approval signature with SHA-256 and the key's default algorithm.
type SignOptions struct {
	Level                         Level // "" means B-B
	Reason, Location, ContactInfo string
	// Appearance makes the signature visible; nil means invisible.
	Appearance *Appearance
	// Timestamper is required for B-T and above.
	Timestamper Timestamper
	// Revocation is required for B-LT and above.
	Revocation RevocationSource
	// Certify makes a certification signature (DocMDP, P=2: form filling
	// and further signatures allowed) instead of an approval signature.
	Certify bool
	// FieldName names the signature field; "" picks "SignatureN". When the
	// document has an empty signature field of that name (a prepared
	// signature box, its own widget), it is signed in place with its own
	// rectangle and page; another kind of field of that name is an error.
	FieldName string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Algorithm is the signature algorithm; "" means
	// signer.DefaultAlgorithm of the certificate's key.
	Algorithm signer.Algorithm
	// Hash is the digest algorithm; 0 means SHA-256 (SHA-384 for P-384
	// keys, SHA-512 for P-521).
	Hash crypto.Hash
	// ExtraCertificates go into the DSS at B-LT with the chain; put the
	// root here so the intermediates' revocation data can be fetched
	// (their issuer must be known).
	ExtraCertificates []*x509.Certificate
	// Password opens an encrypted document that needs a user password
	// (the owner password works too); documents encrypted with an empty
	// user password, as most "permissions only" files are, need none. The
	// appended revisions are encrypted with the document's own key.
	Password []byte
	// Info, if not nil, receives what signing did to the input: whether
	// it was repaired (rewritten once) before the signature was appended.
	Info *SignInfo
	// Limits bounds the work done reading the input's structure (xref
	// chain, catalog, form, page tree), as for Verify: a hostile input
	// fails with a *LimitError instead of exhausting memory. Zero fields
	// take DefaultLimits; Limits.Timeout is not applied (hashing a large
	// file and network requests are bounded by ctx instead).
	Limits Limits
}

var (
	// ErrSignatureMismatch is returned by Finish when the signature does
	// not verify against the prepared digest and certificate.
	ErrSignatureMismatch = errors.New("pdf: signature does not match the prepared digest and certificate")
	// ErrPlaceholderTooSmall means a signature or timestamp came out larger
	// than the space reserved for it; nothing was written.
	ErrPlaceholderTooSmall = errors.New("pdf: signature larger than the reserved /Contents space")
	// ErrOptions is returned for inconsistent options (a level without the
	// timestamper or revocation source it needs, a bad page, …).
	ErrOptions = errors.New("pdf: invalid signing options")
)

// Space reserved in /Contents for a timestamp token. Tokens from common
// TSAs, with their certificate chain, are 2-6 KiB.
const timestampBudget = 16 << 10

// contentsSlack is extra /Contents room beyond the computed upper bound.
const contentsSlack = 512

func (o *SignOptions) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *SignOptions) check() error {
	r := o.Level.rank()
	if r < 0 {
		return fmt.Errorf("%w: unknown level %q", ErrOptions, o.Level)
	}
	if r >= 1 && o.Timestamper == nil {
		return fmt.Errorf("%w: level %s needs a Timestamper", ErrOptions, o.Level)
	}
	if r >= 2 && o.Revocation == nil {
		return fmt.Errorf("%w: level %s needs a RevocationSource", ErrOptions, o.Level)
	}
	if a := o.Appearance; a != nil {
		if err := a.check(); err != nil {
			return err
		}
	}
	return nil
}

func chooseHash(pub crypto.PublicKey, h crypto.Hash) crypto.Hash {
	if h != 0 {
		return h
	}
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		switch k.Curve.Params().BitSize {
		case 384:
			return crypto.SHA384
		case 521:
			return crypto.SHA512
		}
	}
	return crypto.SHA256
}

// pdfText encodes s as a PDF text string: bytes for ASCII, UTF-16BE with
// a byte order mark otherwise.
func pdfText(s string) syntax.String {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return syntax.String{Bytes: []byte(s)}
	}
	out := []byte{0xfe, 0xff}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u>>8), byte(u))
	}
	return syntax.String{Bytes: []byte(out)}
}

// pdfDate formats t as a PDF date, D:YYYYMMDDHHmmSS+HH'mm'.
func pdfDate(t time.Time) syntax.String {
	s := t.Format("20060102150405")
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	if off == 0 {
		return syntax.String{Bytes: []byte("D:" + s + "Z")}
	}
	return syntax.String{Bytes: []byte(fmt.Sprintf("D:%s%c%02d'%02d'", s, sign, off/3600, off%3600/60))}
}

type sigKind int

const (
	kindApproval sigKind = iota
	kindCertify
	kindDocTimestamp
)

// sigRevision is an appended revision holding one signature field, with
// the /Contents placeholder still empty.
type sigRevision struct {
	data       []byte // the appended bytes
	base       int64  // file offset of data[0]
	contentsAt int    // index in data of the '<' opening /Contents
	hexLen     int    // hex digits between '<' and '>'
}

func (r *sigRevision) gapEnd() int { return r.contentsAt + r.hexLen + 2 }

// byteRange is the /ByteRange of the revision's signature.
func (r *sigRevision) byteRange() [4]int64 {
	a := r.base + int64(r.contentsAt)
	b := r.base + int64(r.gapEnd())
	end := r.base + int64(len(r.data))
	return [4]int64{0, a, b, end - b}
}

// fill writes the DER contents into the placeholder.
func (r *sigRevision) fill(contents []byte) error {
	if hex.EncodedLen(len(contents)) > r.hexLen {
		return fmt.Errorf("%w: %d bytes, room for %d", ErrPlaceholderTooSmall, len(contents), r.hexLen/2)
	}
	gap := r.data[r.contentsAt+1 : r.contentsAt+1+r.hexLen]
	n := hex.Encode(gap, contents)
	for i := n; i < len(gap); i++ {
		gap[i] = '0'
	}
	return nil
}

// hashInto feeds the signed parts of the revision (all but /Contents).
func (r *sigRevision) hashInto(h hash.Hash) {
	h.Write(r.data[:r.contentsAt])
	h.Write(r.data[r.gapEnd():])
}

const byteRangePlaceholder = "[0 0000000000 0000000000 0000000000]"

// buildSignatureRevision appends a signature field, its signature
// dictionary with an empty /Contents of contentsBytes bytes, the updated
// form (all existing fields kept) and, for visible signatures, the
// appearance and the page's updated /Annots.
func buildSignatureRevision(st *tailState, kind sigKind, o *SignOptions, cert *x509.Certificate, contentsBytes int, now time.Time) (*sigRevision, error) {
	rb := newRevBuilder(st)
	sigNum, widgetNum := rb.alloc(), rb.alloc()
	sigRef, widgetRef := ref(sigNum), ref(widgetNum)
	var target *syntax.Ref // an existing empty signature field to sign
	var targetDict syntax.Dict

	// The form: keep every existing field, add ours.
	catalogChanged := false
	afObj := st.catalog.Get("AcroForm")
	var af syntax.Dict
	afRef, afIndirect := afObj.(syntax.Ref)
	if afIndirect {
		d, err := st.dict(afRef)
		if err != nil {
			return nil, err
		}
		if d == nil {
			afIndirect = false
			af = syntax.Dict{}
		} else {
			af = d.Clone()
		}
	} else if d, ok := afObj.(syntax.Dict); ok {
		af = d.Clone()
	} else {
		af = syntax.Dict{}
	}
	fv, err := st.resolve(af.Get("Fields"))
	if err != nil {
		return nil, err
	}
	oldFields, _ := fv.(syntax.Array)
	names := map[string]bool{}
	type namedField struct {
		ref syntax.Ref
		d   syntax.Dict
	}
	byName := map[string]namedField{}
	for _, f := range oldFields {
		fd, err := st.dict(f)
		if fatalParse(err) {
			return nil, err
		}
		if err != nil || fd == nil {
			continue
		}
		if t, ok := fd.Get("T").(syntax.String); ok {
			names[string(t.Bytes)] = true
			if r, ok := f.(syntax.Ref); ok {
				byName[string(t.Bytes)] = namedField{r, fd}
			}
		}
	}
	fieldName := o.FieldName
	if kind == kindDocTimestamp || fieldName == "" {
		prefix := "Signature"
		if kind == kindDocTimestamp {
			prefix = "DocTimeStamp"
		}
		for i := 1; ; i++ {
			fieldName = fmt.Sprintf("%s%d", prefix, i)
			if !names[string(pdfText(fieldName).Bytes)] {
				break
			}
		}
	} else if names[string(pdfText(fieldName).Bytes)] {
		// a prepared, empty signature field is signed in place, with its
		// own rectangle and page
		nf, ok := byName[string(pdfText(fieldName).Bytes)]
		if !ok || !emptySignatureWidget(nf.d) {
			return nil, fmt.Errorf("%w: a field named %q already exists and is not an empty signature field with its widget", ErrOptions, fieldName)
		}
		target, targetDict = &nf.ref, nf.d
		if widgetNum == st.nextNum-1 { // not needed: the field is the widget
			st.nextNum--
		}
		widgetRef = nf.ref
	}
	if kind != kindDocTimestamp {
		if err := checkDocMDP(st, kind, oldFields, o.Appearance != nil && target == nil); err != nil {
			return nil, err
		}
	}
	fields := append(syntax.Array{}, oldFields...)
	if target == nil {
		fields = append(fields, widgetRef)
	}
	af["Fields"] = fields
	af["SigFlags"] = int64(3)
	if afIndirect {
		rb.objectRef(afRef, af)
		st.override(afRef, af)
	} else {
		st.catalog["AcroForm"] = af
		catalogChanged = true
	}

	// The signature dictionary.
	sd := syntax.Dict{}
	if kind == kindDocTimestamp {
		sd["Type"] = syntax.Name("DocTimeStamp")
		sd["Filter"] = syntax.Name("Adobe.PPKLite")
		sd["SubFilter"] = syntax.Name("ETSI.RFC3161")
	} else {
		sd["Type"] = syntax.Name("Sig")
		sd["Filter"] = syntax.Name("Adobe.PPKLite")
		sd["SubFilter"] = syntax.Name("ETSI.CAdES.detached")
	}
	sd["ByteRange"] = rawPDF(byteRangePlaceholder)
	sd["Contents"] = rawPDF("<" + string(bytes.Repeat([]byte{'0'}, 2*contentsBytes)) + ">")
	if kind != kindDocTimestamp {
		sd["M"] = pdfDate(now)
		if cert != nil && cert.Subject.CommonName != "" {
			sd["Name"] = pdfText(cert.Subject.CommonName)
		}
		if o.Reason != "" {
			sd["Reason"] = pdfText(o.Reason)
		}
		if o.Location != "" {
			sd["Location"] = pdfText(o.Location)
		}
		if o.ContactInfo != "" {
			sd["ContactInfo"] = pdfText(o.ContactInfo)
		}
	}
	if kind == kindCertify {
		tp := syntax.Dict{}
		tp["Type"] = syntax.Name("TransformParams")
		tp["P"] = int64(2)
		tp["V"] = syntax.Name("1.2")
		ref := syntax.Dict{}
		ref["Type"] = syntax.Name("SigRef")
		ref["TransformMethod"] = syntax.Name("DocMDP")
		ref["TransformParams"] = tp
		sd["Reference"] = syntax.Array{ref}
		perms := syntax.Dict{}
		if p, ok := st.catalog.Get("Perms").(syntax.Dict); ok {
			perms = p.Clone()
		}
		perms["DocMDP"] = sigRef
		st.catalog["Perms"] = perms
		catalogChanged = true
	}
	sigStart := rb.buf.Len()
	rb.object(sigNum, sd)

	if target != nil {
		if err := signExistingField(rb, st, *target, targetDict, sigRef, kind, o, cert, now); err != nil {
			return nil, err
		}
		if catalogChanged {
			rb.objectRef(st.root, st.catalog)
		}
		return finishSignatureRevision(rb, sigStart, contentsBytes)
	}

	// The widget annotation, which is also the field.
	pageNo := 1
	visible := o.Appearance != nil && kind != kindDocTimestamp
	if visible {
		pageNo = o.Appearance.Page
		if pageNo == 0 {
			pageNo = 1
		}
	}
	pageRef, pageDict, err := st.doc.page(pageNo)
	switch {
	case err != nil && fatalParse(err):
		return nil, err
	case err != nil && !visible:
		// An invisible signature needs no page: its widget's /P is
		// optional, and a damaged page tree is no reason to refuse.
		pageRef, pageDict = syntax.Ref{}, nil
	case err != nil && errors.Is(err, ErrMalformed):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrOptions, err)
	case visible && pageRef.Num == 0:
		return nil, fmt.Errorf("%w: page %d is a direct object inside its parent's /Kids; a visible signature needs an indirect page", ErrOptions, pageNo)
	}
	if d, ok := st.objects[pageRef.Num]; ok && pageRef.Num != 0 {
		pageDict = d
	}
	w := syntax.Dict{}
	w["Type"] = syntax.Name("Annot")
	w["Subtype"] = syntax.Name("Widget")
	w["FT"] = syntax.Name("Sig")
	w["T"] = pdfText(fieldName)
	w["V"] = sigRef
	if pageRef.Num != 0 {
		w["P"] = pageRef
	}
	w["F"] = int64(132) // Print | Locked
	if visible {
		rect, apRef, err := writeAppearance(rb, o, cert, now)
		if err != nil {
			return nil, err
		}
		w["Rect"] = rect
		ap := syntax.Dict{}
		ap["N"] = apRef
		w["AP"] = ap
	} else {
		w["Rect"] = syntax.Array{int64(0), int64(0), int64(0), int64(0)}
	}
	rb.object(widgetNum, w)
	if visible {
		page := pageDict.Clone()
		av, err := st.resolve(page.Get("Annots"))
		if err != nil {
			return nil, err
		}
		annots, _ := av.(syntax.Array)
		page["Annots"] = append(append(syntax.Array{}, annots...), widgetRef)
		rb.objectRef(pageRef, page)
		st.override(pageRef, page)
	}
	if catalogChanged {
		rb.objectRef(st.root, st.catalog)
	}
	return finishSignatureRevision(rb, sigStart, contentsBytes)
}

// finishSignatureRevision ends the revision and fills the ByteRange
// placeholder of the signature dictionary written at sigStart.
func finishSignatureRevision(rb *revBuilder, sigStart, contentsBytes int) (*sigRevision, error) {
	base := rb.base
	data := rb.finish()
	rel := bytes.Index(data[sigStart:], []byte("/Contents <"))
	br := bytes.Index(data[sigStart:], []byte(byteRangePlaceholder))
	if rel < 0 || br < 0 {
		return nil, errors.New("pdf: internal error: placeholder not found")
	}
	rev := &sigRevision{data: data, base: base, contentsAt: sigStart + rel + len("/Contents "), hexLen: 2 * contentsBytes}
	r := rev.byteRange()
	inner := fmt.Sprintf("%d %d %d", r[1], r[2], r[3])
	if len(inner) > len(byteRangePlaceholder)-4 {
		return nil, errors.New("pdf: file too large for the /ByteRange placeholder")
	}
	inner += string(bytes.Repeat([]byte{' '}, len(byteRangePlaceholder)-4-len(inner)))
	copy(data[sigStart+br+3:], inner)
	return rev, nil
}

// emptySignatureWidget: a signature field without a value that is its own
// widget (the layout form tools write for a prepared signature box).
func emptySignatureWidget(d syntax.Dict) bool {
	if ft, _ := d.Get("FT").(syntax.Name); ft != "Sig" {
		return false
	}
	if d.Get("V") != nil || d.Get("Kids") != nil {
		return false
	}
	st, _ := d.Get("Subtype").(syntax.Name)
	return st == "Widget"
}

// signExistingField rewrites the empty signature field f (its own widget)
// with /V set to the signature, keeping its rectangle and page; a field
// with an area gets the signature's appearance in that rectangle.
func signExistingField(rb *revBuilder, st *tailState, f syntax.Ref, d syntax.Dict, sigRef syntax.Ref, kind sigKind, o *SignOptions, cert *x509.Certificate, now time.Time) error {
	w := d.Clone()
	w["V"] = sigRef
	flags, _ := w.Get("F").(int64)
	w["F"] = flags | 132 // Print | Locked
	rv, err := st.resolve(w.Get("Rect"))
	if err != nil {
		return err
	}
	r, _ := rv.(syntax.Array)
	var x [4]float64
	for i := 0; i < len(r) && i < 4; i++ {
		switch v := r[i].(type) {
		case int64:
			x[i] = float64(v)
		case float64:
			x[i] = v
		}
	}
	width, height := x[2]-x[0], x[3]-x[1]
	if width < 0 {
		x[0], width = x[2], -width
	}
	if height < 0 {
		x[1], height = x[3], -height
	}
	if _, ok := w.Get("P").(syntax.Ref); !ok {
		return fmt.Errorf("%w: the signature field has no page (/P)", ErrOptions)
	}
	if len(r) == 4 && width > 0 && height > 0 && kind != kindDocTimestamp {
		a := Appearance{X: x[0], Y: x[1], Width: width, Height: height}
		if o.Appearance != nil {
			a.Image = o.Appearance.Image
		}
		oo := *o
		oo.Appearance = &a
		_, apRef, err := writeAppearance(rb, &oo, cert, now)
		if err != nil {
			return err
		}
		ap := syntax.Dict{}
		ap["N"] = apRef
		w["AP"] = ap
	}
	rb.objectRef(f, w)
	st.override(f, w)
	return nil
}

// objectRef writes an object under an existing reference (keeping its
// generation).
func (rb *revBuilder) objectRef(r syntax.Ref, o syntax.Object) {
	if r.Gen == 0 {
		rb.object(int(r.Num), o)
		return
	}
	rb.offsets[int(r.Num)] = rb.pos()
	rb.gens()[int(r.Num)] = int(r.Gen)
	fmt.Fprintf(&rb.buf, "%d %d obj\n", r.Num, r.Gen)
	writeObj(&rb.buf, rb.encrypted(r, o))
	rb.buf.WriteString("\nendobj\n")
}

// plan is a signature ready to be hashed: the revision with its empty
// placeholder and the CMS parts except the signed attributes.
type plan struct {
	st    *tailState
	rev   *sigRevision
	parts cmsParts
	level Level
}

func newPlan(ctx context.Context, src io.ReaderAt, size int64, cert *x509.Certificate, chain []*x509.Certificate, o *SignOptions) (*plan, error) {
	return newPlanSized(ctx, src, size, cert, chain, o, o.Level.rank() >= 1)
}

// newPlanSized is newPlan with the timestamp room decided by the caller.
func newPlanSized(ctx context.Context, src io.ReaderAt, size int64, cert *x509.Certificate, chain []*x509.Certificate, o *SignOptions, withTimestamp bool) (*plan, error) {
	if cert == nil {
		return nil, fmt.Errorf("%w: no signing certificate", ErrOptions)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	doc, info, err := openForSigning(ctx, src, size, o)
	if err != nil {
		return nil, err
	}
	if o.Info != nil {
		*o.Info = *info
	}
	st, err := stateFromDocument(doc)
	if err != nil {
		return nil, err
	}
	alg := o.Algorithm
	if alg == "" {
		alg = signer.DefaultAlgorithm(cert.PublicKey)
	}
	p := &plan{st: st, level: o.Level, parts: cmsParts{
		Hash: chooseHash(cert.PublicKey, o.Hash), Algorithm: alg,
		Certs: append([]*x509.Certificate{cert}, chain...),
	}}
	if p.level == "" {
		p.level = LevelBB
	}
	// Size /Contents from the real key and chain: signed attributes of the
	// final length (digest bytes are fixed size) and a maximal signature.
	attrs, err := signedAttributes(p.parts.Hash, make([]byte, p.parts.Hash.Size()), cert)
	if err != nil {
		return nil, err
	}
	p.parts.SignedAttrs = attrs
	tsBudget := 0
	if withTimestamp {
		tsBudget = timestampBudget
	}
	est, err := p.parts.estimateSize(tsBudget)
	if err != nil {
		return nil, err
	}
	p.parts.SignedAttrs = nil
	kind := kindApproval
	if o.Certify {
		kind = kindCertify
	}
	p.rev, err = buildSignatureRevision(st, kind, o, cert, est+contentsSlack, o.now())
	if err != nil {
		return nil, err
	}
	return p, nil
}

// copyAndHash copies src to dst (if not nil) while hashing it, in one pass
// over the input with a fixed set of buffers. Writing chunk k overlaps
// hashing chunk k+1, so on two cores the copy costs little more than the
// hash.
func copyAndHash(ctx context.Context, dst io.Writer, src io.ReaderAt, size int64, h hash.Hash) error {
	const chunk, nbuf = 1 << 20, 4
	if df, ok := dst.(*os.File); ok && size > 16*chunk {
		if sf, ok := src.(*os.File); ok {
			if handled, err := copyFileAndHash(ctx, df, sf, size, h); handled {
				return err
			}
		}
	}
	read := func(buf []byte, off int64) (int, error) {
		n := int64(len(buf))
		if size-off < n {
			n = size - off
		}
		m, err := src.ReadAt(buf[:n], off)
		if int64(m) < n {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return 0, fmt.Errorf("pdf: reading input at %d: %w", off, err)
		}
		return int(n), nil
	}
	if dst == nil {
		return hashRange(ctx, src, size, h)
	}
	if size <= chunk {
		buf := make([]byte, chunk)
		for off := int64(0); off < size; {
			n, err := read(buf, off)
			if err != nil {
				return err
			}
			h.Write(buf[:n])
			if dst != nil {
				if _, err := dst.Write(buf[:n]); err != nil {
					return fmt.Errorf("pdf: writing output: %w", err)
				}
			}
			off += int64(n)
		}
		return nil
	}
	free := make(chan []byte, nbuf)
	for i := 0; i < nbuf; i++ {
		free <- make([]byte, chunk)
	}
	full := make(chan []byte, nbuf)
	done := make(chan error, 1)
	var failed atomic.Bool
	go func() {
		var werr error
		for b := range full {
			if werr == nil {
				if _, werr = dst.Write(b); werr != nil {
					failed.Store(true)
				}
			}
			free <- b[:cap(b)]
		}
		done <- werr
	}()
	var rerr error
	for off := int64(0); off < size && !failed.Load(); {
		if rerr = ctx.Err(); rerr != nil {
			break
		}
		buf := <-free
		n, err := read(buf, off)
		if err != nil {
			rerr = err
			break
		}
		h.Write(buf[:n])
		full <- buf[:n]
		off += int64(n)
	}
	close(full)
	if werr := <-done; werr != nil {
		return fmt.Errorf("pdf: writing output: %w", werr)
	}
	return rerr
}

// hashRange hashes the first size bytes of src.
func hashRange(ctx context.Context, src io.ReaderAt, size int64, h hash.Hash) error {
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(int64(len(buf)), size-off)
		m, err := src.ReadAt(buf[:n], off)
		if int64(m) < n {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("pdf: reading input at %d: %w", off, err)
		}
		h.Write(buf[:n])
		off += n
	}
	return nil
}

// Sign signs the PDF in src (size bytes) with s and writes the signed
// document to dst. The input is read once: it is copied to dst and hashed
// in the same pass, and memory use does not depend on its size. The new
// revisions are built in memory and written after the signature exists,
// so dst may be any writer; on error dst holds an incomplete document.
func Sign(ctx context.Context, dst io.Writer, src io.ReaderAt, size int64, s signer.Signer, opts SignOptions) (err error) {
	defer recoverInternal(&err)
	if s == nil {
		return fmt.Errorf("%w: no signer", ErrOptions)
	}
	p, err := newPlan(ctx, src, size, s.Certificate(), s.Chain(), &opts)
	if err != nil {
		return err
	}
	h := p.parts.Hash.New()
	if err := copyAndHash(ctx, dst, p.st.doc.src, p.st.doc.size, h); err != nil {
		return err
	}
	inputState, err := marshalHash(h)
	if err != nil {
		return err
	}
	p.rev.hashInto(h)
	attrs, err := signedAttributes(p.parts.Hash, h.Sum(nil), p.parts.Certs[0])
	if err != nil {
		return err
	}
	p.parts.SignedAttrs = attrs
	ah := p.parts.Hash.New()
	ah.Write(attrs)
	sig, err := signer.SignDigest(ctx, s, p.parts.Algorithm, p.parts.Hash, ah.Sum(nil))
	if err != nil {
		return fmt.Errorf("pdf: signing: %w", err)
	}
	cms, err := p.parts.complete(ctx, sig, p.level, opts.Timestamper)
	if err != nil {
		return err
	}
	if err := p.rev.fill(cms); err != nil {
		return err
	}
	if _, err := dst.Write(p.rev.data); err != nil {
		return fmt.Errorf("pdf: writing output: %w", err)
	}
	if p.level.rank() < 2 {
		return nil
	}
	// The whole-document hash for a document timestamp continues from the
	// state after the input, so the input is never read again.
	h2, err := unmarshalHash(p.parts.Hash, inputState)
	if err != nil {
		return err
	}
	h2.Write(p.rev.data)
	return extendFromState(ctx, dst, p.st, h2, p.level, [][]byte{cms}, &opts)
}

// complete makes the final CMS for signature value sig: with level B-T and
// above it asks ts for a token over the signature value and adds it as an
// unsigned attribute.
func (p *cmsParts) complete(ctx context.Context, sig []byte, level Level, ts Timestamper) ([]byte, error) {
	var unsigned [][]byte
	if level.rank() >= 1 {
		if ts == nil {
			return nil, fmt.Errorf("%w: level %s needs a Timestamper", ErrOptions, level)
		}
		h := p.Hash.New()
		h.Write(sig)
		tok, err := ts.Timestamp(ctx, p.Hash, h.Sum(nil))
		if err != nil {
			return nil, fmt.Errorf("pdf: signature timestamp: %w", err)
		}
		unsigned = append(unsigned, timestampAttribute(tok))
	}
	return p.build(sig, unsigned)
}

// SignFile signs the PDF at inPath into outPath. The output is written to
// a temporary file next to outPath and renamed into place only when
// complete, so outPath never holds a half-signed document. inPath and
// outPath may be the same file.
func SignFile(ctx context.Context, inPath, outPath string, s signer.Signer, opts SignOptions) error {
	in, err := os.Open(inPath)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	return atomicfile.Write(outPath, 0o644, func(f *os.File) error {
		return Sign(ctx, f, in, fi.Size(), s, opts)
	})
}

func marshalHash(h hash.Hash) ([]byte, error) {
	m, ok := h.(interface{ MarshalBinary() ([]byte, error) })
	if !ok {
		return nil, errors.New("pdf: hash state cannot be saved")
	}
	return m.MarshalBinary()
}

func unmarshalHash(hf crypto.Hash, state []byte) (hash.Hash, error) {
	h := hf.New()
	u, ok := h.(interface{ UnmarshalBinary([]byte) error })
	if !ok {
		return nil, errors.New("pdf: hash state cannot be restored")
	}
	if err := u.UnmarshalBinary(state); err != nil {
		return nil, fmt.Errorf("pdf: hash state: %w", err)
	}
	return h, nil
}

// ErrCertified is returned when a certification signature forbids the
// change: P=1 (no changes) forbids further signatures.
var ErrCertified = errors.New("pdf: the document's certification signature does not allow signing")

// checkDocMDP refuses to sign a document certified with P=1, and to
// certify a document that already has signatures (certification must be
// the first signature).
func checkDocMDP(st *tailState, kind sigKind, fields syntax.Array, newVisibleField bool) error {
	perms, _ := st.dict(st.catalog.Get("Perms"))
	if perms != nil {
		if sig, _ := st.dict(perms.Get("DocMDP")); sig != nil {
			p := int64(2)
			if refs, _ := st.resolve(sig.Get("Reference")); refs != nil {
				if arr, ok := refs.(syntax.Array); ok {
					for _, r := range arr {
						rd, _ := st.dict(r)
						if rd == nil || rd.Get("TransformMethod") != syntax.Name("DocMDP") {
							continue
						}
						if tp, _ := st.dict(rd.Get("TransformParams")); tp != nil {
							if v, ok := tp.Get("P").(int64); ok {
								p = v
							}
						}
					}
				}
			}
			if p == 1 {
				return ErrCertified
			}
			if p == 2 && newVisibleField {
				// the validator counts a new visible signature field after
				// a P=2 certification as an annotation (docs/attacks.md)
				return fmt.Errorf("%w: under its DocMDP P=2 certification a new visible signature field would paint on the certified page; sign a prepared empty signature field (FieldName) or sign invisibly", ErrCertified)
			}
			if kind == kindCertify {
				return fmt.Errorf("%w: the document is already certified", ErrOptions)
			}
		}
	}
	if kind == kindCertify {
		for _, f := range fields {
			fd, _ := st.dict(f)
			if fd != nil && fd.Get("FT") == syntax.Name("Sig") && fd.Get("V") != nil {
				return fmt.Errorf("%w: a certification signature must be the first signature", ErrOptions)
			}
		}
	}
	return nil
}

// recoverInternal turns a panic (a bug, or input the parser's guards
// missed) into an error, so none reaches the caller.
func recoverInternal(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: internal error: %v", ErrMalformed, r)
	}
}
