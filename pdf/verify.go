package pdf

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/securesign/securesign/pdf/internal/syntax"
	"github.com/securesign/securesign/pki"
)

// VerifyFile verifies the signatures of the PDF at path; see Verify.
func VerifyFile(ctx context.Context, path string, opts VerifyOptions) (*Report, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pdf: verify: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("pdf: verify: %w", err)
	}
	return Verify(ctx, fh, st.Size(), opts)
}

type verifier struct {
	ctx        context.Context
	r          io.ReaderAt
	size       int64
	f          *syntax.File
	opts       VerifyOptions
	now        time.Time
	infos      map[int]*docInfo
	refs       map[int]map[uint32]bool
	drawn      map[int]map[uint32]bool // per revision: objects the pages draw
	sigRevIdx  int
	sigRevInfo *docInfo
	dssCerts   []*x509.Certificate
	dssOCSPs   [][]byte
	dssCRLs    [][]byte
	dssRev     int // first revision with a DSS, -1 if none
	fatal      error
}

// isFatal records err as the end of the whole verification when it is a
// resource limit or the context ending: no report is better than a report
// on half-read input.
func (v *verifier) isFatal(err error) bool {
	if errors.Is(err, syntax.ErrLimit) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		v.fatal = err
		return true
	}
	return false
}

// sigEntry is a signature found in the form.
type sigEntry struct {
	field string
	ref   syntax.Ref
}

// Verify validates every signature and document timestamp of the PDF read
// from r. It reports on each (integrity, coverage, what changed after
// signing, chain, revocation, timestamp, PAdES level, ETSI indication) and
// never trusts the document to say what is allowed.
//
// An error means no report could be made: the file is not a PDF, its xref
// chain is broken (ErrMalformed wrapping a *SyntaxError: Verify does not
// repair damaged files, since a repair could choose what a signature seems
// to cover), it is encrypted (ErrEncrypted), a Limits bound was hit (a
// *LimitError, errors.Is(err, ErrLimit)), or ctx ended. A report with
// Valid=false is not an error.
func Verify(ctx context.Context, r io.ReaderAt, size int64, opts VerifyOptions) (*Report, error) {
	lim := opts.Limits.syntax()
	if lim.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, lim.Timeout)
		defer cancel()
	}
	f, err := syntax.OpenWithPassword(ctx, r, size, lim, opts.Password)
	if err != nil {
		return nil, wrapParseErr(err)
	}
	if f.Encrypted() && f.Crypt() == nil {
		return nil, fmt.Errorf("%w: an earlier revision is encrypted, the newest is not", ErrEncrypted)
	}
	v := &verifier{ctx: ctx, r: r, size: size, f: f, opts: opts, infos: map[int]*docInfo{}, refs: map[int]map[uint32]bool{}, drawn: map[int]map[uint32]bool{}, dssRev: -1}
	v.now = time.Now()
	if opts.Now != nil {
		v.now = opts.Now()
	}
	rep, err := v.run()
	if err != nil {
		return nil, wrapParseErr(err)
	}
	return rep, nil
}

func wrapParseErr(err error) error {
	switch {
	case errors.Is(err, syntax.ErrPassword):
		return fmt.Errorf("%w (%w): %w", ErrPassword, ErrEncrypted, err)
	case errors.Is(err, syntax.ErrEncryption):
		return fmt.Errorf("%w: %w", ErrEncrypted, err)
	case errors.Is(err, syntax.ErrLimit):
		return fmt.Errorf("pdf: verify: %w", err)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return fmt.Errorf("pdf: verify: %w", err)
	case errors.Is(err, syntax.ErrSyntax) || errors.Is(err, syntax.ErrCycle) || errors.Is(err, syntax.ErrUnsupported):
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return fmt.Errorf("pdf: verify: %w", err)
}

func (v *verifier) run() (*Report, error) {
	last := len(v.f.Revisions) - 1
	if err := v.loadDSS(); err != nil {
		return nil, err
	}
	// signature fields of every revision, so a signature whose field was
	// removed later is still reported (and its removal flagged)
	var sigs []sigEntry
	seen := map[syntax.Ref]bool{}
	for rev := last; rev >= 0; rev-- {
		di, err := v.docInfo(rev)
		if err != nil {
			if rev == last {
				return nil, err
			}
			continue
		}
		var found []sigEntry
		// in object-number order, so a signature referenced from two
		// fields is always reported under the same (the first) name
		nums := make([]uint32, 0, len(di.fields))
		for n := range di.fields {
			nums = append(nums, n)
		}
		sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
		for _, n := range nums {
			fi := di.fields[n]
			if fi.signed && fi.sigRef.Num != 0 && !seen[fi.sigRef] {
				seen[fi.sigRef] = true
				found = append(found, sigEntry{field: fi.name, ref: fi.sigRef})
			}
		}
		sort.Slice(found, func(i, j int) bool { return found[i].ref.Num < found[j].ref.Num })
		sigs = append(sigs, found...)
	}
	rep := &Report{Signatures: []SignatureReport{}, ValidationTime: v.now.UTC().Format(time.RFC3339)}
	type withEnd struct {
		sr  SignatureReport
		end int64
	}
	var all []withEnd
	for _, s := range sigs {
		sr, end := v.verifyOne(s)
		if v.fatal != nil {
			return nil, v.fatal
		}
		all = append(all, withEnd{sr, end})
	}
	if pages := v.annotationOverlaps(last); len(pages) > 0 {
		for i := range all {
			all[i].sr.Messages = append(all[i].sr.Messages, fmt.Sprintf("annotations overlap on page %s: one may hide another or the content under it", strings.Join(pages, ", ")))
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].end < all[j].end })
	for _, w := range all {
		rep.Signatures = append(rep.Signatures, w.sr)
	}
	rep.Valid = len(rep.Signatures) > 0
	for _, s := range rep.Signatures {
		if s.Indication != TotalPassed {
			rep.Valid = false
		}
	}
	return rep, nil
}

// outcome collects the verdict of one signature.
type outcome struct {
	// tampered: the signed bytes or the signature structure were altered,
	// so what changed cannot be named more precisely than "other"
	tampered bool
	sr       *SignatureReport
	ind      string
	sub      string
	rank     int
}

// fail records a failure; the most serious one decides the indication.
func (o *outcome) fail(ind, sub, format string, args ...any) {
	rank := 1
	if ind == TotalFailed {
		rank = 2
	}
	if rank > o.rank {
		o.rank, o.ind, o.sub = rank, ind, sub
	}
	if ind == TotalFailed && (sub == SubFormatFailure || sub == SubHashFailure) {
		o.tampered = true
	}
	o.sr.Messages = append(o.sr.Messages, fmt.Sprintf(format, args...))
}

func (o *outcome) note(format string, args ...any) {
	o.sr.Messages = append(o.sr.Messages, fmt.Sprintf(format, args...))
}

// verifyOne checks one signature; it returns its report and the end of its
// signed range (for ordering).
func (v *verifier) verifyOne(s sigEntry) (SignatureReport, int64) {
	sr := SignatureReport{Field: s.field, Integrity: "failed", Coverage: CoveragePartial,
		ModifiedAfter: ModNone, Chain: "untrusted", Revocation: "not-checked", Messages: []string{}}
	o := &outcome{sr: &sr}
	end := v.verifySig(s, o)
	sr.Indication, sr.SubIndication = TotalPassed, ""
	if o.rank > 0 {
		sr.Indication, sr.SubIndication = o.ind, o.sub
	}
	if o.tampered {
		sr.ModifiedAfter = ModOther
	}
	return sr, end
}

func (v *verifier) verifySig(s sigEntry, o *outcome) int64 {
	f := v.f
	last := len(f.Revisions) - 1
	sr := o.sr
	sig, err := f.ResolveDict(last, s.ref)
	if err != nil || sig == nil {
		o.fail(TotalFailed, SubFormatFailure, "signature dictionary %v is unreadable: %v", s.ref, err)
		return 0
	}
	typ, _ := sig.Name("Type")
	subFilter, _ := sig.Name("SubFilter")
	docTS := typ == "DocTimeStamp" || subFilter == "ETSI.RFC3161"
	sr.Kind = KindSignature
	if docTS {
		sr.Kind = KindDocumentTimestamp
	}
	if m, ok := sig["M"].(syntax.String); ok {
		if t, ok := parsePDFDate(string(m.Bytes)); ok {
			sr.SigningTime = t.UTC().Format(time.RFC3339)
		}
	}
	switch subFilter {
	case "adbe.pkcs7.detached", "ETSI.CAdES.detached", "ETSI.RFC3161", "adbe.pkcs7.sha1":
	case "PBAD.PAdES":
		// the PAdES signature-policy profile (ETSI TS 119 442/ Brazil's
		// AD-RB...): a CAdES detached signature like ETSI.CAdES.detached
	default:
		sr.Integrity = IntegrityUnsupported
		o.fail(Indeterminate, SubFormatFailure, "signature format /SubFilter /%s is unsupported (supported: adbe.pkcs7.detached, adbe.pkcs7.sha1, ETSI.CAdES.detached, PBAD.PAdES, ETSI.RFC3161)", subFilter)
		return 0
	}
	// ByteRange: exactly [0 b c d] around the /Contents string
	br, ok := sig["ByteRange"].(syntax.Array)
	if !ok || len(br) != 4 {
		o.fail(TotalFailed, SubFormatFailure, "/ByteRange is missing or not an array of four integers")
		return 0
	}
	var rng [4]int64
	for i, e := range br {
		n, ok := e.(int64)
		if !ok || n < 0 {
			o.fail(TotalFailed, SubFormatFailure, "/ByteRange holds a value that is not a non-negative integer")
			return 0
		}
		rng[i] = n
	}
	a, b, c, d := rng[0], rng[1], rng[2], rng[3]
	if a != 0 {
		o.fail(TotalFailed, SubFormatFailure, "/ByteRange does not start at the beginning of the file")
		return 0
	}
	if b <= 0 || c <= b || d < 0 || c+d > v.size || c+d < c {
		o.fail(TotalFailed, SubFormatFailure, "/ByteRange [%d %d %d %d] is out of bounds, overlapping or empty (file size %d)", a, b, c, d, v.size)
		return 0
	}
	end := c + d
	// which revision does the signature cover?
	k := -1
	for i, rv := range f.Revisions {
		if end >= rv.EOFMark && end <= rv.End {
			k = i
		}
	}
	if k < 0 {
		o.fail(TotalFailed, SubFormatFailure, "the signed bytes end at %d, which is not the end of a revision: bytes outside the revision are not covered", end)
		return end
	}
	// A signature dictionary re-stated after signing (spoofing: another
	// /Reason, /M or /Name) is judged in the version its signature covers;
	// the change analysis reports the re-statement, which fails it.
	sigRev := last
	if off := f.ObjectOffset(k, s.ref.Num); off >= 0 && off != f.ObjectOffset(last, s.ref.Num) {
		if sk, err := f.ResolveDict(k, s.ref); err == nil && sk != nil && valueEqual(sk["ByteRange"], sig["ByteRange"], 0) {
			sig, sigRev = sk, k
			typ, _ = sig.Name("Type")
			subFilter, _ = sig.Name("SubFilter")
			if docTS != (typ == "DocTimeStamp" || subFilter == "ETSI.RFC3161") {
				o.fail(TotalFailed, SubFormatFailure, "the signature dictionary was re-stated after signing as another kind of signature")
				return end
			}
		}
	}
	contents, ok := sig["Contents"].(syntax.String)
	if !ok || len(contents.Bytes) == 0 {
		o.fail(TotalFailed, SubFormatFailure, "/Contents is missing or not a string")
		return end
	}
	cs, ce, err := f.ValueSpan(sigRev, s.ref.Num, "Contents")
	if err != nil {
		o.fail(TotalFailed, SubFormatFailure, "the signature dictionary must be a plain object with one /Contents: %v", err)
		return end
	}
	gapIsString := true
	if cs != b || ce != c {
		// fails the signature; its CMS is still checked, so the report
		// says whether the bytes it names are intact
		o.fail(TotalFailed, SubFormatFailure, "the /ByteRange gap [%d, %d) is not exactly the /Contents string [%d, %d): the signed bytes are elsewhere (signature wrapping)", b, c, cs, ce)
		// a gap that is not even a hex string is a broken ByteRange
		// ("partial"); one that is another signature's /Contents is a
		// borrowed one
		var lt, gt [1]byte
		v.r.ReadAt(lt[:], b)
		v.r.ReadAt(gt[:], c-1)
		gapIsString = lt[0] == '<' && gt[0] == '>'
	}
	if !contents.Hex {
		o.fail(TotalFailed, SubFormatFailure, "/Contents is not a hex string")
		return end
	}
	if sigOff := f.ObjectOffset(k, s.ref.Num); sigOff < 0 || sigOff != f.ObjectOffset(sigRev, s.ref.Num) || sigOff >= b {
		// fails the signature (a dictionary made later borrowing the
		// signed bytes of another); the CMS is still checked below
		o.fail(TotalFailed, SubFormatFailure, "the signature dictionary is not the one inside the signed revision")
	}
	switch {
	case !gapIsString:
		// stays partial
	case end == v.size:
		sr.Coverage = CoverageWhole
	default:
		sr.Coverage = CoverageRevision
	}

	// what changed after signing
	v.sigRevIdx = k
	v.sigRevInfo, err = v.docInfo(k)
	if err != nil {
		if v.isFatal(err) {
			return end
		}
		o.fail(TotalFailed, SubFormatFailure, "the signed revision is unreadable: %v", err)
		return end
	}
	chg, err := v.analyseChanges(k)
	if err != nil {
		if v.isFatal(err) {
			return end
		}
		// the signature itself is still checked below: what is unknown is
		// what happened after it
		o.fail(Indeterminate, SubFormatFailure, "comparing revisions failed: %v", err)
		chg = &changeSet{}
		chg.add(kOther, "the later revisions could not be compared with the signed one")
	}
	worst := chg.worst()
	sr.ModifiedAfter = worst.String()
	perm := v.docMDP(sig)
	for _, n := range chg.notes {
		o.note("%s", n)
	}
	for _, ch := range chg.changes {
		switch {
		case ch.kind == kOther:
			o.fail(TotalFailed, SubFormatFailure, "changed after signing: %s", ch.detail)
		case perm == 1 && (ch.newSig || ch.kind == kForm || ch.kind == kAnnot):
			// P=1 leaves room only for DSS data and document timestamps
			o.fail(Indeterminate, SubSigConstraintsFailure, "the certification signature allows no changes (DocMDP P=1), yet: %s", ch.detail)
		case ch.kind == kForm && perm < 2:
			o.fail(Indeterminate, SubSigConstraintsFailure, "form filled in after signing (%s): check the new values", ch.detail)
		case ch.kind == kAnnot && perm < 3:
			o.fail(Indeterminate, SubSigConstraintsFailure, "annotation changed after signing (%s): check it", ch.detail)
		case ch.visibleSig && perm == 2:
			// ISO 32000-2 12.8.2.2.2 allows "signing" under P=2, which
			// Acrobat reads as signing the fields the certifier prepared;
			// a new visible widget paints on the certified page (the
			// "sneaky signature" attack), so it counts as an annotation
			o.fail(Indeterminate, SubSigConstraintsFailure, "a new visible signature field was added after the DocMDP P=2 certification (%s): only prepared signature fields may be signed visibly", ch.detail)
		case ch.kind == kForm, ch.kind == kAnnot:
			// allowed by the certification, still worth looking at
			o.note("allowed by the certification (DocMDP P=%d): %s", perm, ch.detail)
		}
	}

	// integrity
	var tsTime time.Time
	var tsOK bool
	var chainCert *x509.Certificate
	var cmsCerts []*x509.Certificate
	var adbeOCSP, adbeCRL [][]byte
	essOK := false
	if docTS {
		res, err := v.verifyTimestampToken(contents.Bytes, func(h crypto.Hash) ([]byte, error) { return v.hashRanges(h, b, c, d) })
		if res != nil {
			chainCert, cmsCerts = res.signer, res.certs
			noteNegativeSerials(o, res.certs)
			if res.signer != nil {
				sr.Signer = summarize(res.signer)
			}
		}
		if err != nil {
			v.cmsFail(o, err)
			return end
		}
		tsTime, tsOK = res.genTime, true
		sr.Timestamp = &TimestampSummary{Time: res.genTime.UTC().Format(time.RFC3339), TSA: res.signer.Subject.String()}
		sr.Integrity = "ok"
	} else {
		sd, err := vParseSignedData(contents.Bytes)
		if err != nil {
			v.cmsFail(o, err)
			return end
		}
		if sd.trailing {
			o.note("/Contents holds bytes after the CMS structure; no signature covers them and they were ignored")
		}
		if sd.hash == crypto.SHA1 {
			o.fail(Indeterminate, SubCryptoConstraintsFailure, "the signature uses SHA-1, which is no longer accepted")
		}
		res, ok := v.verifyCMS(sd, subFilter, b, c, d, o)
		if res != nil && res.signer != nil {
			sr.Signer = summarize(res.signer)
		}
		if !ok {
			return end
		}
		for _, u := range sd.unparsed {
			o.note("a certificate in the signature could not be parsed and was not used (%v)", u.err)
		}
		noteNegativeSerials(o, sd.certs)
		sr.Integrity = "ok"
		chainCert, cmsCerts = res.signer, res.certs
		adbeOCSP, adbeCRL = res.adbeOCSP, res.adbeCRLs
		essOK = res.essV2
		if !res.signingTime.IsZero() && sr.SigningTime == "" {
			sr.SigningTime = res.signingTime.UTC().Format(time.RFC3339)
		}
		if subFilter == "ETSI.CAdES.detached" && !res.signingTime.IsZero() {
			o.note("the CMS signingTime attribute is present, which PAdES forbids (the time belongs in /M)")
		}
		// every signature timestamp must verify; the earliest trusted
		// one is the proof of existence
		for _, tok := range res.tsTokens {
			ts, err := v.verifyTimestampToken(tok, func(h crypto.Hash) ([]byte, error) {
				hh := h.New()
				hh.Write(res.sigValue)
				return hh.Sum(nil), nil
			})
			if err != nil {
				o.fail(Indeterminate, SubSigConstraintsFailure, "the signature timestamp is invalid: %v", err)
				continue
			}
			if st := v.checkTSAChain(ts.signer, ts.certs, ts.genTime, nil, nil); st.err != nil {
				o.fail(Indeterminate, SubSigConstraintsFailure, "the timestamp authority's certificate is not trusted: %v", st.err)
				if sr.Timestamp == nil {
					sr.Timestamp = &TimestampSummary{Time: ts.genTime.UTC().Format(time.RFC3339), TSA: ts.signer.Subject.String()}
				}
				continue
			}
			if !tsOK || ts.genTime.Before(tsTime) {
				sr.Timestamp = &TimestampSummary{Time: ts.genTime.UTC().Format(time.RFC3339), TSA: ts.signer.Subject.String()}
				tsTime, tsOK = ts.genTime, true
			}
		}
		if len(res.tsTokens) > 1 {
			o.note("the signature carries %d signature timestamps", len(res.tsTokens))
		}
	}

	// chain at the timestamp time (or now)
	at := v.now
	if tsOK {
		at = tsTime
	}
	if chainCert != nil {
		ocsps := append(append([][]byte(nil), v.dssOCSPs...), adbeOCSP...)
		crls := append(append([][]byte(nil), v.dssCRLs...), adbeCRL...)
		var st chainStatus
		if docTS {
			st = v.checkTSAChain(chainCert, cmsCerts, at, ocsps, crls)
		} else {
			st = v.checkChain(chainCert, cmsCerts, at, ocsps, crls, true)
		}
		sr.Chain, sr.Revocation = st.chain, st.revocation
		if st.err != nil {
			v.chainFail(o, st, tsOK)
		}
	}

	// PAdES level
	if !docTS && (subFilter == "ETSI.CAdES.detached" || subFilter == "PBAD.PAdES") && sr.Integrity == "ok" {
		if essOK {
			sr.Level = "B-B"
		} else {
			o.note("no signing-certificate-v2 attribute: not PAdES B-B")
		}
		if sr.Level == "B-B" && tsOK {
			sr.Level = "B-T"
			if v.dssRev >= 0 && sr.Revocation == "good" {
				sr.Level = "B-LT"
				if v.hasDocTimestampAfter(v.dssRev) {
					sr.Level = "B-LTA"
				}
			}
		}
	}
	return end
}

type chainStatus struct {
	chain, revocation string
	err               error
}

func (v *verifier) checkChain(leaf *x509.Certificate, certs []*x509.Certificate, at time.Time, ocsps, crls [][]byte, requireKU bool) chainStatus {
	st := chainStatus{chain: "untrusted", revocation: "not-checked"}
	if v.opts.Roots == nil {
		st.err = fmt.Errorf("%w: %w", pki.ErrUntrusted, errNoRoots)
		return st
	}
	inter := append(append(append([]*x509.Certificate(nil), certs...), v.opts.Intermediates...), v.dssCerts...)
	res, err := pki.VerifyChain(v.ctx, leaf, inter, pki.VerifyOptions{
		Roots: v.opts.Roots, At: at, Revocation: v.opts.Revocation,
		EmbeddedOCSP: ocsps, EmbeddedCRLs: crls, RequireSigningKeyUsage: requireKU, Responders: v.opts.OCSPResponders,
	})
	switch {
	case err == nil:
		st.chain = "trusted"
	case errors.Is(err, pki.ErrOutsideValidity):
		st.chain = "expired"
	case errors.Is(err, pki.ErrKeyUsage):
		st.chain = "invalid"
	case errors.Is(err, pki.ErrRevoked), errors.Is(err, pki.ErrRevocationUnknown):
		st.chain = "trusted"
	}
	st.err = err
	if res != nil && len(res.Revocation) > 0 {
		st.revocation = "good"
		for _, r := range res.Revocation {
			switch {
			case r == nil || r.State == pki.StateUnknown:
				if st.revocation == "good" {
					st.revocation = "unknown"
				}
			case r.State == pki.StateRevoked && (r.RevokedAt.IsZero() || !r.RevokedAt.After(at)):
				st.revocation = "revoked"
			}
		}
	}
	return st
}

func (v *verifier) chainFail(o *outcome, st chainStatus, poe bool) {
	err := st.err
	switch {
	case errors.Is(err, pki.ErrRevoked):
		if poe {
			o.fail(TotalFailed, SubRevoked, "the signer's certificate was revoked before the timestamp: %v", err)
		} else {
			o.fail(Indeterminate, SubRevokedNoPOE, "the signer's certificate is revoked and no timestamp proves the signature is older: %v", err)
		}
	case errors.Is(err, pki.ErrOutsideValidity):
		if poe {
			o.fail(TotalFailed, SubExpired, "the signer's certificate was not valid at the timestamp time: %v", err)
		} else {
			o.fail(Indeterminate, SubOutOfBoundsNoPOE, "the signer's certificate is not valid now and no timestamp proves when it signed: %v", err)
		}
	case errors.Is(err, pki.ErrKeyUsage):
		o.fail(Indeterminate, SubChainConstraintsFailure, "%v", err)
	case errors.Is(err, pki.ErrRevocationUnknown):
		o.fail(Indeterminate, SubTryLater, "revocation status unknown: %v", err)
	default:
		o.fail(Indeterminate, SubNoCertificateChainFound, "no chain to a trusted root: %v", err)
	}
}

// verifyCMS checks the signer(s) of sd against the document bytes
// [0, b) and [c, c+d). A detached signature (the PAdES and adbe.pkcs7.detached
// case) signs the document bytes; one that carries content (eContent) signs
// that content, which then must be the document bytes themselves, or for
// adbe.pkcs7.sha1 their SHA-1 digest. Every SignerInfo must verify.
func (v *verifier) verifyCMS(sd *vSignedData, subFilter syntax.Name, b, c, d int64, o *outcome) (*vCmsResult, bool) {
	var first *vCmsResult
	for i, one := range append([]*vSignedData{sd}, sd.others...) {
		docDigest, err := v.hashRanges(one.hash, b, c, d)
		if err != nil {
			if !v.isFatal(err) {
				o.fail(Indeterminate, SubFormatFailure, "reading the signed bytes: %v", err)
			}
			return first, false
		}
		digest := docDigest
		if one.eContentPresent {
			h := one.hash.New()
			h.Write(one.eContent)
			digest = h.Sum(nil)
		}
		res, err := one.verify(digest)
		if i == 0 {
			first = res
		}
		if err != nil {
			if i > 0 {
				err = fmt.Errorf("SignerInfo %d of %d: %w", i+1, 1+len(sd.others), err)
			}
			v.cmsFail(o, err)
			return first, false
		}
		if !one.eContentPresent {
			if subFilter == "adbe.pkcs7.sha1" {
				o.fail(TotalFailed, SubFormatFailure, "an adbe.pkcs7.sha1 signature must carry the document's SHA-1 digest as its content, and this one carries none")
				return first, false
			}
			continue
		}
		var want []byte
		if subFilter == "adbe.pkcs7.sha1" {
			if want, err = v.hashRanges(crypto.SHA1, b, c, d); err != nil {
				if !v.isFatal(err) {
					o.fail(Indeterminate, SubFormatFailure, "reading the signed bytes: %v", err)
				}
				return first, false
			}
			if !bytes.Equal(one.eContent, want) {
				o.sr.Integrity = IntegrityFailed
				o.fail(TotalFailed, SubHashFailure, "the signed bytes were changed: the SHA-1 digest the adbe.pkcs7.sha1 signature signs is not the document's")
				return first, false
			}
			continue
		}
		if !bytes.Equal(digest, docDigest) {
			// the CMS is intact, but what it signs is its own content
			o.sr.Integrity = IntegrityOK
			o.fail(TotalFailed, SubFormatFailure, "the CMS carries and signs %d bytes of content of its own, not this document's signed bytes: a detached PDF signature must not encapsulate content", len(one.eContent))
			return first, false
		}
		o.note("the CMS encapsulates the signed document bytes instead of being detached; they are the document's, so the signature covers the document")
	}
	if n := len(sd.others); n > 0 {
		o.note("the CMS holds %d SignerInfos; all verify, the first is reported", n+1)
	}
	return first, true
}

// noteNegativeSerials says which certificates have a negative serial
// number: RFC 5280 forbids them, Go's x509 refuses them, CAs issued them;
// they are accepted (pki.ParseCertificate) and named.
func noteNegativeSerials(o *outcome, certs []*x509.Certificate) {
	for _, c := range certs {
		if pki.NegativeSerial(c) {
			o.note("certificate %q has a negative serial number (%s), which RFC 5280 forbids; accepted", c.Subject.String(), c.SerialNumber)
		}
	}
}

func (v *verifier) cmsFail(o *outcome, err error) {
	switch {
	case errors.Is(err, errVAttrsNotDER):
		o.fail(TotalFailed, SubHashFailure, "%v", err)
	case errors.Is(err, errVUnparsedCert):
		o.sr.Integrity = IntegrityUnsupported
		o.fail(Indeterminate, SubNoSigningCertificate, "%v", err)
	case errors.Is(err, errVDigestMismatch):
		o.fail(TotalFailed, SubHashFailure, "the signed bytes were changed: %v", err)
	case errors.Is(err, errVSigCrypto):
		o.fail(TotalFailed, SubSigCryptoFailure, "%v", err)
	case errors.Is(err, errVNoSignerCert), errors.Is(err, errVSigningCertAttr):
		o.fail(Indeterminate, SubNoSigningCertificate, "%v", err)
	case errors.Is(err, errVUnsupportedAlgo):
		o.sr.Integrity = IntegrityUnsupported
		o.fail(Indeterminate, SubCryptoConstraintsFailure, "%v", err)
	default:
		o.fail(TotalFailed, SubFormatFailure, "%v", err)
	}
}

// hashRanges hashes [a, a+b) and [c, c+d) of the file (a is 0).
func (v *verifier) hashRanges(h crypto.Hash, b, c, d int64) ([]byte, error) {
	if !h.Available() {
		return nil, fmt.Errorf("%w: hash %v", errVUnsupportedAlgo, h)
	}
	hh := h.New()
	buf := make([]byte, 1<<20)
	for _, rg := range [][2]int64{{0, b}, {c, d}} {
		sr := io.NewSectionReader(v.r, rg[0], rg[1])
		for {
			if err := v.ctx.Err(); err != nil {
				return nil, err
			}
			n, err := sr.Read(buf)
			hh.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return hh.Sum(nil), nil
}

type tsResult struct {
	signer  *x509.Certificate
	certs   []*x509.Certificate
	genTime time.Time
}

// verifyTimestampToken checks an RFC 3161 token: its CMS signature over the
// TSTInfo, and that its message imprint is digestOf(imprint hash).
func (v *verifier) verifyTimestampToken(token []byte, digestOf func(crypto.Hash) ([]byte, error)) (*tsResult, error) {
	sd, err := vParseSignedData(token)
	if err != nil {
		return nil, err
	}
	if !sd.eContentType.Equal(vOidTSTInfo) || sd.eContent == nil {
		return nil, fmt.Errorf("%w: not a timestamp token (content is not TSTInfo)", errVCMSFormat)
	}
	h := sd.hash.New()
	h.Write(sd.eContent)
	res, err := sd.verify(h.Sum(nil))
	out := &tsResult{certs: sd.certs}
	if res != nil {
		out.signer = res.signer
	}
	if err != nil {
		return out, fmt.Errorf("timestamp token: %w", err)
	}
	ts, err := vParseTSTInfo(sd.eContent)
	if err != nil {
		return out, err
	}
	want, err := digestOf(ts.HashAlgorithm)
	if err != nil {
		return out, err
	}
	if !bytes.Equal(want, ts.HashedMessage) {
		return out, fmt.Errorf("%w: the timestamp's message imprint does not match", errVDigestMismatch)
	}
	if !hasTimestampingEKU(out.signer) {
		return out, fmt.Errorf("%w: the timestamp signer's certificate lacks the timeStamping extended key usage", errVSigningCertAttr)
	}
	out.genTime = ts.Time
	return out, nil
}

func hasTimestampingEKU(c *x509.Certificate) bool {
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageTimeStamping {
			return true
		}
	}
	return false
}

func summarize(c *x509.Certificate) CertificateSummary {
	sum := sha256.Sum256(c.Raw)
	return CertificateSummary{
		Subject:      c.Subject.String(),
		Issuer:       c.Issuer.String(),
		SerialNumber: strings.ToLower(c.SerialNumber.Text(16)),
		SHA256:       hex.EncodeToString(sum[:]),
	}
}

// docMDP returns the DocMDP permission (1-3) in force for changes after
// the signature sig, or 0 when no certification signature restricts them.
func (v *verifier) docMDP(sig syntax.Dict) int {
	f := v.f
	last := len(f.Revisions) - 1
	perm := 0
	check := func(d syntax.Dict) {
		refs, _ := f.Resolve(last, d["Reference"])
		arr, _ := refs.(syntax.Array)
		for _, e := range arr {
			rd, _ := f.ResolveDict(last, e)
			if rd == nil {
				continue
			}
			if tm, _ := rd.Name("TransformMethod"); tm != "DocMDP" {
				continue
			}
			p := int64(2)
			if tp, _ := f.ResolveDict(last, rd["TransformParams"]); tp != nil {
				if x, ok := tp.Int("P"); ok && x >= 1 && x <= 3 {
					p = x
				}
			}
			if perm == 0 || int(p) < perm {
				perm = int(p)
			}
		}
	}
	// the catalog's /Perms /DocMDP names the certification signature
	tr := f.Revisions[last].Trailer
	if cat, _ := f.ResolveDict(last, tr["Root"]); cat != nil {
		if perms, _ := f.ResolveDict(last, cat["Perms"]); perms != nil {
			if cd, _ := f.ResolveDict(last, perms["DocMDP"]); cd != nil {
				check(cd)
			}
		}
	}
	check(sig)
	return perm
}

// loadDSS reads the DSS of the last revision (certificates, OCSP
// responses, CRLs) and finds the first revision that has one.
func (v *verifier) loadDSS() error {
	f := v.f
	last := len(f.Revisions) - 1
	for rev := 0; rev <= last; rev++ {
		cat, err := f.ResolveDict(rev, f.Revisions[rev].Trailer["Root"])
		if err != nil {
			if rev == last {
				return err
			}
			continue
		}
		if cat != nil && cat["DSS"] != nil {
			v.dssRev = rev
			break
		}
	}
	if v.dssRev < 0 {
		return nil
	}
	cat, err := f.ResolveDict(last, f.Revisions[last].Trailer["Root"])
	if err != nil || cat == nil {
		return err
	}
	dss, err := f.ResolveDict(last, cat["DSS"])
	if err != nil || dss == nil {
		return err
	}
	read := func(key syntax.Name) ([][]byte, error) {
		arr, err := f.Resolve(last, dss[key])
		if err != nil {
			return nil, err
		}
		a, _ := arr.(syntax.Array)
		var out [][]byte
		for _, e := range a {
			o, err := f.Resolve(last, e)
			if err != nil {
				return nil, err
			}
			s, ok := o.(*syntax.Stream)
			if !ok {
				continue
			}
			data, err := f.Decode(s)
			if err != nil {
				return nil, err
			}
			out = append(out, data)
			if len(out) > 10000 {
				return nil, &syntax.LimitError{Limit: "DSS entries", Max: 10000}
			}
		}
		return out, nil
	}
	certs, err := read("Certs")
	if err != nil {
		return err
	}
	for _, der := range certs {
		if c, err := pki.ParseCertificate(der); err == nil {
			v.dssCerts = append(v.dssCerts, c)
		}
	}
	if v.dssOCSPs, err = read("OCSPs"); err != nil {
		return err
	}
	if v.dssCRLs, err = read("CRLs"); err != nil {
		return err
	}
	return nil
}

// hasDocTimestampAfter reports whether a document timestamp signs a
// revision at or after rev (B-LTA).
func (v *verifier) hasDocTimestampAfter(rev int) bool {
	f := v.f
	last := len(f.Revisions) - 1
	di, err := v.docInfo(last)
	if err != nil {
		return false
	}
	for _, fi := range di.fields {
		if !fi.signed {
			continue
		}
		d, _ := f.ResolveDict(last, fi.sigRef)
		if d == nil {
			continue
		}
		if sf, _ := d.Name("SubFilter"); sf != "ETSI.RFC3161" {
			continue
		}
		br, _ := d["ByteRange"].(syntax.Array)
		if len(br) != 4 {
			continue
		}
		c, _ := br[2].(int64)
		dd, _ := br[3].(int64)
		if c+dd >= f.Revisions[rev].EOFMark {
			return true
		}
	}
	return false
}

// parsePDFDate parses "D:YYYYMMDDHHmmSSOHH'mm'" (prefix and tail optional).
func parsePDFDate(s string) (time.Time, bool) {
	s = strings.TrimPrefix(s, "D:")
	s = strings.ReplaceAll(s, "'", "")
	layouts := []string{"20060102150405-0700", "20060102150405Z0700", "20060102150405Z", "20060102150405", "200601021504", "20060102"}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	if len(s) > 14 {
		if t, err := time.Parse("20060102150405", s[:14]); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
