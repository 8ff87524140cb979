package pdf

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"time"

	"github.com/securesign/securesign/internal/atomicfile"
	"github.com/securesign/securesign/pdf/internal/syntax"
	"github.com/securesign/securesign/pki"
)

// ErrCertificateRevoked is returned when the revocation data fetched for
// a signature (at B-LT and above, and by Extend) says a certificate of its
// chain is revoked: no output is written.
var ErrCertificateRevoked = errors.New("pdf: the signer's certificate is revoked")

// extendFromState appends, after what was written so far (h holds the
// hash state of all of it), a DSS revision for B-LT and a document
// timestamp for B-LTA. sigs are the CMS blobs whose validation data goes
// into the DSS.
func extendFromState(ctx context.Context, dst io.Writer, st *tailState, h hash.Hash, level Level, sigs [][]byte, o *SignOptions) error {
	if level.rank() >= 2 {
		data, err := buildDSSRevision(ctx, st, sigs, o)
		if err != nil {
			return err
		}
		if _, err := dst.Write(data); err != nil {
			return fmt.Errorf("pdf: writing output: %w", err)
		}
		h.Write(data)
	}
	if level.rank() >= 3 {
		if o.Timestamper == nil {
			return fmt.Errorf("%w: level %s needs a Timestamper", ErrOptions, level)
		}
		rev, err := buildSignatureRevision(st, kindDocTimestamp, o, nil, timestampBudget+contentsSlack, o.now())
		if err != nil {
			return err
		}
		rev.hashInto(h)
		hf := hashOf(h)
		tok, err := o.Timestamper.Timestamp(ctx, hf, h.Sum(nil))
		if err != nil {
			return fmt.Errorf("pdf: document timestamp: %w", err)
		}
		if err := rev.fill(tok); err != nil {
			return err
		}
		if _, err := dst.Write(rev.data); err != nil {
			return fmt.Errorf("pdf: writing output: %w", err)
		}
	}
	return nil
}

// hashOf tells which crypto.Hash h is, by its size.
func hashOf(h hash.Hash) crypto.Hash {
	switch h.Size() {
	case 48:
		return crypto.SHA384
	case 64:
		return crypto.SHA512
	}
	return crypto.SHA256
}

// validationCerts returns the certificates in a CMS signature or
// timestamp token, including those of a signature timestamp token in its
// unsigned attributes.
func validationCerts(cms []byte) []*x509.Certificate {
	certs, _ := certificatesOf(cms)
	if tok := signatureTimestampOf(cms); tok != nil {
		tc, _ := certificatesOf(tok)
		certs = append(certs, tc...)
	}
	return certs
}

// signatureTimestampOf returns the signature-time-stamp token in the
// first SignerInfo's unsigned attributes, or nil.
func signatureTimestampOf(cms []byte) []byte {
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(cms, &ci); err != nil {
		return nil
	}
	var sd struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		EncapContentInfo asn1.RawValue
		Certificates     asn1.RawValue   `asn1:"optional,tag:0"`
		CRLs             asn1.RawValue   `asn1:"optional,tag:1"`
		SignerInfos      []asn1.RawValue `asn1:"set"`
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || len(sd.SignerInfos) == 0 {
		return nil
	}
	var si struct {
		Version            int
		SID                asn1.RawValue
		DigestAlgorithm    asn1.RawValue
		SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
		SignatureAlgorithm asn1.RawValue
		Signature          []byte
		UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
	}
	if _, err := asn1.Unmarshal(sd.SignerInfos[0].FullBytes, &si); err != nil {
		return nil
	}
	rest := si.UnsignedAttrs.Bytes
	for len(rest) > 0 {
		var attr struct {
			Type   asn1.ObjectIdentifier
			Values []asn1.RawValue `asn1:"set"`
		}
		var err error
		rest, err = asn1.Unmarshal(rest, &attr)
		if err != nil {
			return nil
		}
		if attr.Type.Equal(oidAttrTimeStampToken) && len(attr.Values) > 0 {
			return attr.Values[0].FullBytes
		}
	}
	return nil
}

// findIssuer returns the certificate in pool that issued c, or nil.
func findIssuer(c *x509.Certificate, pool []*x509.Certificate) *x509.Certificate {
	for _, p := range pool {
		if bytes.Equal(p.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(p) == nil {
			return p
		}
	}
	return nil
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}

// buildDSSRevision appends a Document Security Store with the
// certificates and revocation data (OCSP responses, CRLs) of every
// signature in sigs and of their timestamp tokens, merged with an existing
// DSS, and a /VRI entry per signature.
func buildDSSRevision(ctx context.Context, st *tailState, sigs [][]byte, o *SignOptions) ([]byte, error) {
	if o.Revocation == nil {
		return nil, fmt.Errorf("%w: B-LT needs a RevocationSource", ErrOptions)
	}
	rb := newRevBuilder(st)
	type vri struct{ certs, ocsps, crls syntax.Array }
	var allCerts, allOCSPs, allCRLs syntax.Array
	written := map[string]syntax.Ref{}
	put := func(data []byte) syntax.Ref {
		if r, ok := written[string(data)]; ok {
			return r
		}
		n := rb.alloc()
		d := syntax.Dict{}
		d["Filter"] = syntax.Name("FlateDecode")
		rb.stream(n, d, deflate(data))
		r := ref(n)
		written[string(data)] = r
		return r
	}
	vris := map[string]*vri{}
	var vriKeys []string
	checked := map[string]*vri{} // per certificate, so shared chains are fetched once
	// VRI entries already in the document stay as they are: a DSS update
	// appends (validators that compare revisions, DSS among them, reject
	// a rewritten entry)
	oldVRI := syntax.Dict{}
	if old, err := st.dict(st.catalog.Get("DSS")); err == nil && old != nil {
		if ov, _ := st.dict(old.Get("VRI")); ov != nil {
			oldVRI = ov
		}
	}
	for _, sig := range sigs {
		sum := sha1.Sum(sig)
		key := strings.ToUpper(fmt.Sprintf("%x", sum))
		if oldVRI.Get(syntax.Name(key)) != nil || vris[key] != nil {
			continue
		}
		certs := validationCerts(sig)
		if len(certs) == 0 {
			return nil, fmt.Errorf("pdf: a signature without certificates cannot get validation data")
		}
		for _, c := range o.ExtraCertificates {
			if !containsCert(certs, c) {
				certs = append(certs, c)
			}
		}
		v := &vri{}
		for _, c := range certs {
			cr := put(c.Raw)
			v.certs = appendUnique(v.certs, cr)
			if selfSigned(c) {
				continue // roots need no revocation data
			}
			if done, ok := checked[string(c.Raw)]; ok {
				v.ocsps = appendUnique(v.ocsps, done.ocsps...)
				v.crls = appendUnique(v.crls, done.crls...)
				continue
			}
			// A certificate that names no OCSP responder or CRL may have no
			// revocation data at all; one that names a source must get it.
			hasSource := len(c.OCSPServer) > 0 || len(c.CRLDistributionPoints) > 0
			issuer := findIssuer(c, certs)
			if issuer == nil {
				if !hasSource {
					continue
				}
				return nil, fmt.Errorf("%w: the issuer of %q is not among the certificates; add it to SignOptions.ExtraCertificates", ErrOptions, c.Subject.CommonName)
			}
			status, err := o.Revocation.Check(ctx, c, issuer)
			if err != nil && hasSource {
				return nil, fmt.Errorf("pdf: revocation data for %q: %w", c.Subject.CommonName, err)
			}
			if err == nil && status != nil && status.State == pki.StateRevoked {
				// never embed a "revoked" answer next to a signature as if
				// it were validation data: the signature is worthless
				return nil, fmt.Errorf("%w: %q (serial %s) revoked at %s", ErrCertificateRevoked, c.Subject.String(), c.SerialNumber.Text(16), status.RevokedAt.UTC().Format(time.RFC3339))
			}
			one := &vri{}
			if err == nil && status != nil && len(status.OCSPResponse) > 0 {
				one.ocsps = append(one.ocsps, put(status.OCSPResponse))
			}
			if err == nil && status != nil && len(status.CRL) > 0 {
				one.crls = append(one.crls, put(status.CRL))
			}
			if len(one.ocsps)+len(one.crls) == 0 && hasSource {
				return nil, fmt.Errorf("pdf: no OCSP response or CRL for %q", c.Subject.CommonName)
			}
			checked[string(c.Raw)] = one
			v.ocsps = appendUnique(v.ocsps, one.ocsps...)
			v.crls = appendUnique(v.crls, one.crls...)
		}
		vriKeys = append(vriKeys, key)
		vris[key] = v
		allCerts = appendUnique(allCerts, v.certs...)
		allOCSPs = appendUnique(allOCSPs, v.ocsps...)
		allCRLs = appendUnique(allCRLs, v.crls...)
	}

	// Merge with an existing DSS.
	dss := syntax.Dict{}
	if old, err := st.dict(st.catalog.Get("DSS")); err == nil && old != nil {
		dss = old.Clone()
	}
	for _, k := range []struct {
		name syntax.Name
		add  syntax.Array
	}{{"Certs", allCerts}, {"OCSPs", allOCSPs}, {"CRLs", allCRLs}} {
		ov, _ := st.resolve(dss.Get(k.name))
		old, _ := ov.(syntax.Array)
		merged := appendUnique(append(syntax.Array{}, old...), k.add...)
		if len(merged) > 0 {
			dss[k.name] = merged
		}
	}
	vriDict := syntax.Dict{}
	if ov, _ := st.dict(dss.Get("VRI")); ov != nil {
		vriDict = ov.Clone()
	}
	for _, key := range vriKeys {
		v := vris[key]
		e := syntax.Dict{}
		e["Cert"] = v.certs
		if len(v.ocsps) > 0 {
			e["OCSP"] = v.ocsps
		}
		if len(v.crls) > 0 {
			e["CRL"] = v.crls
		}
		vriDict[syntax.Name(key)] = e
	}
	dss["VRI"] = vriDict
	dss["Type"] = syntax.Name("DSS")
	dssNum := rb.alloc()
	rb.object(dssNum, dss)
	st.catalog["DSS"] = ref(dssNum)
	rb.objectRef(st.root, st.catalog)
	return rb.finish(), nil
}

func appendUnique(a syntax.Array, add ...syntax.Object) syntax.Array {
	for _, x := range add {
		dup := false
		for _, y := range a {
			if x == y {
				dup = true
				break
			}
		}
		if !dup {
			a = append(a, x)
		}
	}
	return a
}

// signatureContents returns the CMS (or timestamp token) of every
// signature field in the document, DER without the zero padding.
func signatureContents(st *tailState) ([][]byte, error) {
	af, err := st.dict(st.catalog.Get("AcroForm"))
	if err != nil || af == nil {
		return nil, err
	}
	fv, err := st.resolve(af.Get("Fields"))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	var walk func(fields syntax.Array, depth int) error
	walk = func(fields syntax.Array, depth int) error {
		if depth > 32 {
			return malformed("form field tree too deep")
		}
		for _, f := range fields {
			fd, err := st.dict(f)
			if err != nil || fd == nil {
				continue
			}
			if kv, _ := st.resolve(fd.Get("Kids")); kv != nil {
				if kids, ok := kv.(syntax.Array); ok {
					if err := walk(kids, depth+1); err != nil {
						return err
					}
				}
			}
			v, err := st.dict(fd.Get("V"))
			if err != nil || v == nil {
				continue
			}
			c, ok := v.Get("Contents").(syntax.String)
			if !ok {
				continue
			}
			var rv asn1.RawValue
			if _, err := asn1.Unmarshal(c.Bytes, &rv); err == nil {
				out = append(out, rv.FullBytes)
			}
		}
		return nil
	}
	fields, _ := fv.(syntax.Array)
	return out, walk(fields, 0)
}

// Extend raises the signatures of an already signed PDF to level B-LT (a
// DSS with certificates and revocation data for every signature and
// timestamp) or B-LTA (that plus a document timestamp), appending
// incremental updates. src is copied to dst in one pass.
func Extend(ctx context.Context, dst io.Writer, src io.ReaderAt, size int64, level Level, opts SignOptions) (err error) {
	defer recoverInternal(&err)
	if level.rank() < 2 {
		return fmt.Errorf("%w: Extend goes to B-LT or B-LTA, not %q", ErrOptions, level)
	}
	opts.Level = level
	if err := opts.check(); err != nil {
		return err
	}
	doc, err := openDocument(ctx, src, size, opts.Limits, opts.Password)
	if err != nil {
		return err
	}
	if doc.f.HeaderOffset() > 0 {
		return fmt.Errorf("%w (%d bytes before the %%PDF- header)", ErrSignedDamaged, doc.f.HeaderOffset())
	}
	st, err := stateFromDocument(doc)
	if err != nil {
		return err
	}
	sigs, err := signatureContents(st)
	if err != nil {
		return err
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: the document has no signatures to extend", ErrOptions)
	}
	hf := opts.Hash
	if hf == 0 {
		hf = crypto.SHA256
	}
	h := hf.New()
	if err := copyAndHash(ctx, dst, doc.src, doc.size, h); err != nil {
		return err
	}
	return extendFromState(ctx, dst, st, h, level, sigs, &opts)
}

// ExtendFile is Extend from inPath to outPath, written atomically.
func ExtendFile(ctx context.Context, inPath, outPath string, level Level, opts SignOptions) error {
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
		return Extend(ctx, f, in, fi.Size(), level, opts)
	})
}

func containsCert(certs []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range certs {
		if x.Equal(c) {
			return true
		}
	}
	return false
}
