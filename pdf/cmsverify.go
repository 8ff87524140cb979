package pdf

// A CMS (RFC 5652) SignedData verifier written for validation only: it shares
// no code with the signing side, so a bug there cannot hide itself here.

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/securesign/securesign/pki"

	_ "crypto/sha1" // SHA-1 digests of old signatures are recognised (and reported weak)
	_ "crypto/sha256"
	_ "crypto/sha512"
)

var (
	vOidSignedData        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	vOidTSTInfo           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	vOidAttrContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	vOidAttrMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	vOidAttrSigningTime   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	vOidAttrSigningCertV1 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	vOidAttrSigningCertV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	vOidAttrTimestamp     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	vOidAttrAdbeRevInfo   = asn1.ObjectIdentifier{1, 2, 840, 113583, 1, 1, 8}

	vOidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	vOidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	vOidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	vOidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

	vOidRSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	vOidRSASHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	vOidRSASHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	vOidRSASHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	vOidRSASHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	vOidRSAPSS    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	vOidMGF1      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	vOidEC        = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	vOidECSHA1    = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	vOidECSHA256  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	vOidECSHA384  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	vOidECSHA512  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	vOidEd25519   = asn1.ObjectIdentifier{1, 3, 101, 112}
	// BSI TR-03111 ecdsa-plain-signatures: 0.4.0.127.0.7.1.1.4.1.{1..6}
	vOidPlainECDSA = asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 1, 1, 4, 1}
)

// CMS verification failures; the validator maps them to ETSI sub-indications.
var (
	errVCMSFormat       = errors.New("CMS structure is malformed")
	errVDigestMismatch  = errors.New("the document digest does not match the signed messageDigest")
	errVSigCrypto       = errors.New("the signature value does not verify with the signer's key")
	errVNoSignerCert    = errors.New("the signer's certificate is not in the signature")
	errVUnsupportedAlgo = errors.New("unsupported algorithm")
	errVSigningCertAttr = errors.New("the signing-certificate attribute does not match the signer's certificate")
	errVAttrsNotDER     = errors.New("the signature does not cover the DER encoding of its signed attributes")
	errVUnparsedCert    = errors.New("unsupported certificate")
)

func vHashByOID(oid asn1.ObjectIdentifier) crypto.Hash {
	switch {
	case oid.Equal(vOidSHA1):
		return crypto.SHA1
	case oid.Equal(vOidSHA256):
		return crypto.SHA256
	case oid.Equal(vOidSHA384):
		return crypto.SHA384
	case oid.Equal(vOidSHA512):
		return crypto.SHA512
	}
	return 0
}

type vCmsSignerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type vCmsAttribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

type vIssuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

// vSignedData is a parsed CMS SignedData with one signer.
type vSignedData struct {
	raw      []byte // the ContentInfo, DER
	trailing bool   // non-zero bytes followed the structure
	// eContentPresent: the encapsulated content is there (possibly empty)
	eContentPresent bool
	// attrsNotDER: the signed attributes are not the DER encoding the
	// signature must cover (BER lengths or SET OF out of order)
	attrsNotDER  string
	unparsed     []vUnparsedCert // certificates x509 could not parse
	others       []*vSignedData  // further SignerInfos of the same CMS
	eContentType asn1.ObjectIdentifier
	eContent     []byte // nil when detached
	certs        []*x509.Certificate
	si           vCmsSignerInfo
	signedAttrs  []vCmsAttribute
	unsigned     []vCmsAttribute
	hash         crypto.Hash
}

type vUnparsedCert struct {
	der []byte
	err error
}

// vCmsResult is what a successful (or partly successful) check found.
type vCmsResult struct {
	signer      *x509.Certificate
	certs       []*x509.Certificate
	hash        crypto.Hash
	signingTime time.Time // the signingTime attribute, zero if absent
	essV2       bool      // a signing-certificate(-v2) attribute was present and matched
	sigValue    []byte
	tsTokens    [][]byte // unsigned signature-time-stamp tokens (usually one)
	adbeOCSP    [][]byte
	adbeCRLs    [][]byte
}

// vParseSignedData parses a ContentInfo holding SignedData. The outer
// structure may be BER (Java signers write indefinite lengths); it is
// re-encoded as DER first, leaving DER parts untouched. Bytes after the
// structure are allowed: a /Contents string is zero-padded, and what
// follows the CMS in it is covered by no signature and read by nobody
// (sd.trailing says whether anything but zeros was there).
func vParseSignedData(in []byte) (*vSignedData, error) {
	der, tree, rest, err := berToDER(in)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errVCMSFormat, err)
	}
	var ci struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if r, err := asn1.Unmarshal(der, &ci); err != nil {
		return nil, fmt.Errorf("%w: %v", errVCMSFormat, err)
	} else if len(r) > 0 {
		return nil, fmt.Errorf("%w: data after the ContentInfo", errVCMSFormat)
	}
	trailing := false
	for _, b := range rest {
		if b != 0 {
			trailing = true
			break
		}
	}
	if !ci.ContentType.Equal(vOidSignedData) {
		return nil, fmt.Errorf("%w: content type %v is not SignedData", errVCMSFormat, ci.ContentType)
	}
	var sd struct {
		Version          int
		DigestAlgorithms asn1.RawValue `asn1:"set"`
		EncapContentInfo struct {
			EContentType asn1.ObjectIdentifier
			EContent     asn1.RawValue `asn1:"optional,explicit,tag:0"`
		}
		Certificates asn1.RawValue    `asn1:"optional,tag:0"`
		CRLs         asn1.RawValue    `asn1:"optional,tag:1"`
		SignerInfos  []vCmsSignerInfo `asn1:"set"`
	}
	rest, err = asn1.Unmarshal(ci.Content.Bytes, &sd)
	if err != nil {
		return nil, fmt.Errorf("%w: SignedData: %v", errVCMSFormat, err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: data after SignedData", errVCMSFormat)
	}
	if len(sd.SignerInfos) == 0 || len(sd.SignerInfos) > vMaxSigners {
		return nil, fmt.Errorf("%w: %d signers (1 to %d expected)", errVCMSFormat, len(sd.SignerInfos), vMaxSigners)
	}
	base := vSignedData{raw: der, trailing: trailing, eContentType: sd.EncapContentInfo.EContentType}
	base.eContentPresent = len(sd.EncapContentInfo.EContent.FullBytes) > 0
	if len(sd.EncapContentInfo.EContent.Bytes) > 0 {
		var oct []byte
		if _, err := asn1.Unmarshal(sd.EncapContentInfo.EContent.Bytes, &oct); err != nil {
			return nil, fmt.Errorf("%w: eContent: %v", errVCMSFormat, err)
		}
		base.eContent = oct
	}
	if len(sd.Certificates.Bytes) > 0 {
		b := sd.Certificates.Bytes
		for len(b) > 0 {
			var rv asn1.RawValue
			r, err := asn1.Unmarshal(b, &rv)
			if err != nil {
				return nil, fmt.Errorf("%w: certificates: %v", errVCMSFormat, err)
			}
			b = r
			if rv.Class != asn1.ClassUniversal || rv.Tag != asn1.TagSequence {
				continue // attribute certificates and others are ignored
			}
			if len(base.certs)+len(base.unparsed) >= 64 {
				return nil, fmt.Errorf("%w: too many certificates", errVCMSFormat)
			}
			c, err := pki.ParseCertificate(rv.FullBytes)
			if err != nil {
				// a certificate Go cannot read (an unsupported curve, a
				// name attribute of a type it refuses) says nothing about
				// the signature: it is reported, and if the signer's own
				// certificate is among them, the signature is unverifiable
				base.unparsed = append(base.unparsed, vUnparsedCert{der: rv.FullBytes, err: err})
				continue
			}
			base.certs = append(base.certs, c)
		}
	}
	attrsNotDER := vSignedAttrsNotDER(tree)
	var out *vSignedData
	for i, si := range sd.SignerInfos {
		one := base
		one.si = si
		if i < len(attrsNotDER) {
			one.attrsNotDER = attrsNotDER[i]
		}
		if one.attrsNotDER == "" && !vSetOfSorted(si.SignedAttrs.Bytes) {
			one.attrsNotDER = "the signed attributes are not in DER order (SET OF sorted by encoding)"
		}
		one.hash = vHashByOID(si.DigestAlgorithm.Algorithm)
		if one.hash == 0 && vIsSignatureAlgorithm(si.DigestAlgorithm.Algorithm) {
			return nil, fmt.Errorf("%w: the digest algorithm is the signature algorithm %v", errVCMSFormat, si.DigestAlgorithm.Algorithm)
		}
		if one.hash == 0 {
			return nil, fmt.Errorf("%w: digest algorithm %v", errVUnsupportedAlgo, si.DigestAlgorithm.Algorithm)
		}
		if len(si.SignedAttrs.FullBytes) > 0 {
			if one.signedAttrs, err = vParseAttrs(si.SignedAttrs.Bytes, false); err != nil {
				return nil, err
			}
		}
		if len(si.UnsignedAttrs.FullBytes) > 0 {
			// unsigned attributes may repeat (two signature timestamps)
			if one.unsigned, err = vParseAttrs(si.UnsignedAttrs.Bytes, true); err != nil {
				return nil, err
			}
		}
		if out == nil {
			out = &one
		} else {
			out.others = append(out.others, &one)
		}
	}
	return out, nil
}

const vMaxSigners = 8

// vSetOfSorted reports whether the DER elements in b are in SET OF order
// (ascending by encoding, X.690 11.6).
func vSetOfSorted(b []byte) bool {
	var prev []byte
	for len(b) > 0 {
		n, ok := derLen(b, 0)
		if !ok {
			return true // not DER: reported by the tree check or the parser
		}
		if prev != nil && bytes.Compare(prev, b[:n]) > 0 {
			return false
		}
		prev, b = b[:n], b[n:]
	}
	return true
}

// vSignedAttrsNotDER says, for each SignerInfo of the parsed ContentInfo
// tree (nil when the input was DER), whether its signed attributes were
// BER ("" when they were DER; the SET OF order is checked by
// vSetOfSorted). The signature covers the DER encoding of
// the attributes (RFC 5652 5.4); a signer that signed another encoding
// (indefinite lengths, SET OF out of order) signed something a DER
// re-encoding does not reproduce, and validators that re-encode (DSS,
// BouncyCastle) call it a hash failure.
func vSignedAttrsNotDER(tree *berNode) []string {
	// ContentInfo { contentType, [0] { SignedData { ..., signerInfos SET } } }
	if tree == nil || len(tree.kids) < 2 || len(tree.kids[1].kids) < 1 {
		return nil
	}
	sd := tree.kids[1].kids[0]
	if len(sd.kids) == 0 {
		return nil
	}
	sis := sd.kids[len(sd.kids)-1]
	var out []string
	for _, si := range sis.kids {
		why := ""
		for _, k := range si.kids {
			if k.class != 2 || k.tag != 0 {
				continue
			}
			if !k.der {
				why = "the signed attributes are not DER-encoded"
			}
		}
		out = append(out, why)
	}
	return out
}

func vParseAttrs(b []byte, repeatable bool) ([]vCmsAttribute, error) {
	var out []vCmsAttribute
	seen := map[string]bool{}
	for len(b) > 0 {
		var a vCmsAttribute
		r, err := asn1.Unmarshal(b, &a)
		if err != nil {
			return nil, fmt.Errorf("%w: attribute: %v", errVCMSFormat, err)
		}
		b = r
		if seen[a.Type.String()] && !repeatable && vInterpretedAttr(a.Type) {
			return nil, fmt.Errorf("%w: attribute %v appears twice", errVCMSFormat, a.Type)
		}
		seen[a.Type.String()] = true
		out = append(out, a)
	}
	return out, nil
}

// vInterpretedAttr: signed attributes whose value the validator uses; one
// of them given twice is ambiguous, so refused. Others may repeat (DSS
// accepts that; nothing reads them).
func vInterpretedAttr(oid asn1.ObjectIdentifier) bool {
	for _, o := range []asn1.ObjectIdentifier{vOidAttrContentType, vOidAttrMessageDigest, vOidAttrSigningTime,
		vOidAttrSigningCertV1, vOidAttrSigningCertV2, vOidAttrTimestamp, vOidAttrAdbeRevInfo} {
		if oid.Equal(o) {
			return true
		}
	}
	return false
}

// vAttr returns the single value of attribute oid, or nil.
func vAttr(attrs []vCmsAttribute, oid asn1.ObjectIdentifier) ([]byte, error) {
	for _, a := range attrs {
		if a.Type.Equal(oid) {
			var v asn1.RawValue
			rest, err := asn1.Unmarshal(a.Values.Bytes, &v)
			if err != nil || len(rest) > 0 {
				return nil, fmt.Errorf("%w: attribute %v must have exactly one value", errVCMSFormat, oid)
			}
			return v.FullBytes, nil
		}
	}
	return nil, nil
}

// findSigner returns the certificate named by the signer identifier.
func (sd *vSignedData) findSigner() (*x509.Certificate, error) {
	sid := sd.si.SID
	switch {
	case sid.Class == asn1.ClassUniversal && sid.Tag == asn1.TagSequence:
		var ias vIssuerAndSerial
		if _, err := asn1.Unmarshal(sid.FullBytes, &ias); err != nil {
			return nil, fmt.Errorf("%w: signer identifier: %v", errVCMSFormat, err)
		}
		for _, c := range sd.certs {
			if c.SerialNumber.Cmp(ias.Serial) == 0 && bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) {
				return c, nil
			}
		}
	case sid.Class == asn1.ClassContextSpecific && sid.Tag == 0:
		for _, c := range sd.certs {
			if len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, sid.Bytes) {
				return c, nil
			}
		}
	default:
		return nil, fmt.Errorf("%w: signer identifier", errVCMSFormat)
	}
	return nil, errVNoSignerCert
}

// verify checks the signer: digest is the hash (with sd.hash) of the signed
// content, computed by the caller (streamed from the document for detached
// signatures). It returns what it found even on error where possible.
func (sd *vSignedData) verify(digest []byte) (*vCmsResult, error) {
	res := &vCmsResult{certs: sd.certs, hash: sd.hash, sigValue: sd.si.Signature}
	for _, a := range sd.unsigned {
		if !a.Type.Equal(vOidAttrTimestamp) {
			continue
		}
		b := a.Values.Bytes
		for len(b) > 0 && len(res.tsTokens) < 8 {
			var v asn1.RawValue
			r, err := asn1.Unmarshal(b, &v)
			if err != nil {
				return res, fmt.Errorf("%w: signature timestamp attribute: %v", errVCMSFormat, err)
			}
			res.tsTokens = append(res.tsTokens, v.FullBytes)
			b = r
		}
	}
	cert, err := sd.findSigner()
	if errors.Is(err, errVNoSignerCert) && len(sd.unparsed) > 0 {
		return res, fmt.Errorf("%w: the signer's certificate may be one of the %d certificates that could not be parsed (%v)", errVUnparsedCert, len(sd.unparsed), sd.unparsed[0].err)
	}
	if err != nil {
		return res, err
	}
	res.signer = cert
	signed := digest   // what the signature covers when there are no attributes
	var message []byte // the signed attributes (PureEdDSA signs them, not a hash)
	var signedHash []byte
	if sd.signedAttrs != nil {
		md, err := vAttr(sd.signedAttrs, vOidAttrMessageDigest)
		if err != nil {
			return res, err
		}
		if md == nil {
			return res, fmt.Errorf("%w: no messageDigest attribute", errVCMSFormat)
		}
		var mdv []byte
		if _, err := asn1.Unmarshal(md, &mdv); err != nil {
			return res, fmt.Errorf("%w: messageDigest: %v", errVCMSFormat, err)
		}
		ct, err := vAttr(sd.signedAttrs, vOidAttrContentType)
		if err != nil {
			return res, err
		}
		var ctv asn1.ObjectIdentifier
		if ct == nil {
			return res, fmt.Errorf("%w: no contentType attribute", errVCMSFormat)
		}
		if _, err := asn1.Unmarshal(ct, &ctv); err != nil || !ctv.Equal(sd.eContentType) {
			return res, fmt.Errorf("%w: contentType attribute does not match the content", errVCMSFormat)
		}
		if st, _ := vAttr(sd.signedAttrs, vOidAttrSigningTime); st != nil {
			var t time.Time
			if _, err := asn1.Unmarshal(st, &t); err == nil {
				res.signingTime = t
			}
		}
		if rv, _ := vAttr(sd.signedAttrs, vOidAttrAdbeRevInfo); rv != nil {
			res.adbeOCSP, res.adbeCRLs = vParseAdbeRevInfo(rv)
		}
		if !bytes.Equal(mdv, digest) {
			return res, errVDigestMismatch
		}
		if sd.attrsNotDER != "" {
			return res, fmt.Errorf("%w: %s", errVAttrsNotDER, sd.attrsNotDER)
		}
		// the signature covers the DER SET OF attributes (tag 0x31, not [0])
		der := append([]byte(nil), sd.si.SignedAttrs.FullBytes...)
		der[0] = 0x31
		message = der
		h := sd.hash.New()
		h.Write(der)
		signedHash = h.Sum(nil)
		signed = signedHash
		if err := vCheckSigningCertAttr(sd.signedAttrs, cert); err != nil {
			return res, err
		} else if a, _ := vAttr(sd.signedAttrs, vOidAttrSigningCertV2); a != nil {
			res.essV2 = true
		} else if a, _ := vAttr(sd.signedAttrs, vOidAttrSigningCertV1); a != nil {
			res.essV2 = true
		}
	}
	if _, ok := cert.PublicKey.(ed25519.PublicKey); ok && message == nil {
		// RFC 8419 without signed attributes signs the content itself,
		// which for a PDF is the whole ByteRange
		return res, fmt.Errorf("%w: Ed25519 without signed attributes", errVUnsupportedAlgo)
	}
	if err := vVerifySignature(cert.PublicKey, sd.si.SignatureAlgorithm, sd.hash, signed, message, sd.si.Signature); err != nil {
		return res, err
	}
	return res, nil
}

func vCheckSigningCertAttr(attrs []vCmsAttribute, cert *x509.Certificate) error {
	if v, err := vAttr(attrs, vOidAttrSigningCertV2); err != nil {
		return err
	} else if v != nil {
		var sc struct {
			Certs []asn1.RawValue
			Rest  asn1.RawValue `asn1:"optional"`
		}
		if _, err := asn1.Unmarshal(v, &sc); err != nil || len(sc.Certs) == 0 {
			return fmt.Errorf("%w: signing-certificate-v2 unparsable", errVCMSFormat)
		}
		// ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256, certHash, issuerSerial OPTIONAL }
		b := sc.Certs[0].Bytes
		h := crypto.SHA256
		var first asn1.RawValue
		rest, err := asn1.Unmarshal(b, &first)
		if err != nil {
			return fmt.Errorf("%w: ESSCertIDv2", errVCMSFormat)
		}
		if first.Tag == asn1.TagSequence {
			var ai pkix.AlgorithmIdentifier
			if _, err := asn1.Unmarshal(first.FullBytes, &ai); err != nil {
				return fmt.Errorf("%w: ESSCertIDv2 hash algorithm", errVCMSFormat)
			}
			if h = vHashByOID(ai.Algorithm); h == 0 {
				return fmt.Errorf("%w: ESSCertIDv2 hash %v", errVUnsupportedAlgo, ai.Algorithm)
			}
			if _, err := asn1.Unmarshal(rest, &first); err != nil {
				return fmt.Errorf("%w: ESSCertIDv2 certHash", errVCMSFormat)
			}
		}
		if first.Tag != asn1.TagOctetString {
			return fmt.Errorf("%w: ESSCertIDv2 certHash", errVCMSFormat)
		}
		hh := h.New()
		hh.Write(cert.Raw)
		if !bytes.Equal(hh.Sum(nil), first.Bytes) {
			return errVSigningCertAttr
		}
		return nil
	}
	if v, err := vAttr(attrs, vOidAttrSigningCertV1); err != nil {
		return err
	} else if v != nil {
		var sc struct {
			Certs []struct {
				Hash []byte
				Rest asn1.RawValue `asn1:"optional"`
			}
			Rest asn1.RawValue `asn1:"optional"`
		}
		if _, err := asn1.Unmarshal(v, &sc); err != nil || len(sc.Certs) == 0 {
			return fmt.Errorf("%w: signing-certificate unparsable", errVCMSFormat)
		}
		hh := crypto.SHA1.New()
		hh.Write(cert.Raw)
		if !bytes.Equal(hh.Sum(nil), sc.Certs[0].Hash) {
			return errVSigningCertAttr
		}
	}
	return nil
}

// vVerifySignature checks sig over the hashed value (or, for Ed25519,
// over message) with the key and algorithm given. An algorithm this
// validator does not implement is errVUnsupportedAlgo; an algorithm that
// cannot go with the key (or is no signature algorithm at all) is a
// malformed signature.
func vVerifySignature(pub crypto.PublicKey, alg pkix.AlgorithmIdentifier, h crypto.Hash, hashed, message, sig []byte) error {
	oid := alg.Algorithm
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch {
		case oid.Equal(vOidRSAPSS):
			saltLen, ph, err := vPssParams(alg)
			if err != nil {
				return err
			}
			if ph != h {
				return fmt.Errorf("%w: RSA-PSS hash differs from the digest algorithm", errVUnsupportedAlgo)
			}
			if vBigExponent(k) {
				return vVerifyPSSBig(k, h, hashed, sig, saltLen)
			}
			if err := rsa.VerifyPSS(k, h, hashed, sig, &rsa.PSSOptions{SaltLength: saltLen, Hash: h}); err != nil {
				return errVSigCrypto
			}
			return nil
		case oid.Equal(vOidRSA), oid.Equal(vOidRSASHA1), oid.Equal(vOidRSASHA256), oid.Equal(vOidRSASHA384), oid.Equal(vOidRSASHA512):
			if vBigExponent(k) {
				return vVerifyPKCS1v15Big(k, h, hashed, sig)
			}
			if err := rsa.VerifyPKCS1v15(k, h, hashed, sig); err != nil {
				return errVSigCrypto
			}
			return nil
		}
	case *ecdsa.PublicKey:
		switch {
		case oid.Equal(vOidEC), oid.Equal(vOidECSHA1), oid.Equal(vOidECSHA256), oid.Equal(vOidECSHA384), oid.Equal(vOidECSHA512):
			if !ecdsa.VerifyASN1(k, hashed, sig) {
				return errVSigCrypto
			}
			return nil
		case vIsPlainECDSA(oid):
			// BSI TR-03111 plain signature: r ‖ s, each the size of the order
			n := (k.Curve.Params().N.BitLen() + 7) / 8
			if len(sig) != 2*n {
				return fmt.Errorf("%w: plain ECDSA signature of %d bytes for a %d-byte order", errVCMSFormat, len(sig), n)
			}
			r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
			if !ecdsa.Verify(k, hashed, r, s) {
				return errVSigCrypto
			}
			return nil
		}
	case ed25519.PublicKey:
		if oid.Equal(vOidEd25519) {
			if len(alg.Parameters.FullBytes) > 0 {
				return fmt.Errorf("%w: Ed25519 algorithm identifier with parameters", errVCMSFormat)
			}
			if !ed25519.Verify(k, message, sig) {
				return errVSigCrypto
			}
			return nil
		}
	}
	if vKnownNonMatching(oid) {
		return fmt.Errorf("%w: signature algorithm %v cannot be used with a %T key", errVCMSFormat, oid, pub)
	}
	return fmt.Errorf("%w: signature algorithm %v for key %T", errVUnsupportedAlgo, oid, pub)
}

func vPssParams(alg pkix.AlgorithmIdentifier) (int, crypto.Hash, error) {
	var p struct {
		Hash         pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:0"`
		MGF          pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:1"`
		SaltLength   int                      `asn1:"optional,explicit,tag:2,default:20"`
		TrailerField int                      `asn1:"optional,explicit,tag:3,default:1"`
	}
	if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &p); err != nil {
		return 0, 0, fmt.Errorf("%w: RSA-PSS parameters: %v", errVCMSFormat, err)
	}
	h := crypto.SHA1
	if len(p.Hash.Algorithm) > 0 {
		h = vHashByOID(p.Hash.Algorithm)
	}
	if h == 0 || p.TrailerField != 1 || p.SaltLength < 0 {
		return 0, 0, fmt.Errorf("%w: RSA-PSS parameters", errVUnsupportedAlgo)
	}
	if len(p.MGF.Algorithm) > 0 {
		if !p.MGF.Algorithm.Equal(vOidMGF1) {
			return 0, 0, fmt.Errorf("%w: RSA-PSS mask function", errVUnsupportedAlgo)
		}
		var mh pkix.AlgorithmIdentifier
		if _, err := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &mh); err != nil || vHashByOID(mh.Algorithm) != h {
			return 0, 0, fmt.Errorf("%w: RSA-PSS MGF1 hash differs", errVUnsupportedAlgo)
		}
	}
	return p.SaltLength, h, nil
}

// vParseAdbeRevInfo reads Adobe's RevocationInfoArchival attribute.
func vParseAdbeRevInfo(der []byte) (ocsps, crls [][]byte) {
	var ria struct {
		CRL   asn1.RawValue `asn1:"optional,explicit,tag:0"`
		OCSP  asn1.RawValue `asn1:"optional,explicit,tag:1"`
		Other asn1.RawValue `asn1:"optional,explicit,tag:2"`
	}
	if _, err := asn1.Unmarshal(der, &ria); err != nil {
		return nil, nil
	}
	each := func(seq []byte) [][]byte {
		var out [][]byte
		var outer asn1.RawValue
		if _, err := asn1.Unmarshal(seq, &outer); err != nil {
			return nil
		}
		b := outer.Bytes
		for len(b) > 0 && len(out) < 64 {
			var rv asn1.RawValue
			r, err := asn1.Unmarshal(b, &rv)
			if err != nil {
				break
			}
			out = append(out, rv.FullBytes)
			b = r
		}
		return out
	}
	if len(ria.CRL.Bytes) > 0 {
		crls = each(ria.CRL.Bytes)
	}
	if len(ria.OCSP.Bytes) > 0 {
		ocsps = each(ria.OCSP.Bytes)
	}
	return ocsps, crls
}

// vTSTInfo is what the validator uses of an RFC 3161 TSTInfo.
type vTSTInfo struct {
	HashAlgorithm crypto.Hash
	HashedMessage []byte
	Time          time.Time
}

// vParseTSTInfo reads a TSTInfo (RFC 3161 2.4.2). It is parsed here rather
// than by a timestamp library so that a certificate in the token that Go's
// x509 cannot read does not make the token unreadable.
func vParseTSTInfo(der []byte) (*vTSTInfo, error) {
	var tst struct {
		Version        int
		Policy         asn1.ObjectIdentifier
		MessageImprint struct {
			HashAlgorithm pkix.AlgorithmIdentifier
			HashedMessage []byte
		}
		SerialNumber *big.Int
		GenTime      time.Time     `asn1:"generalized"`
		Rest         asn1.RawValue `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(der, &tst); err != nil {
		return nil, fmt.Errorf("%w: TSTInfo: %v", errVCMSFormat, err)
	}
	h := vHashByOID(tst.MessageImprint.HashAlgorithm.Algorithm)
	if h == 0 {
		return nil, fmt.Errorf("%w: timestamp imprint hash %v", errVUnsupportedAlgo, tst.MessageImprint.HashAlgorithm.Algorithm)
	}
	return &vTSTInfo{HashAlgorithm: h, HashedMessage: tst.MessageImprint.HashedMessage, Time: tst.GenTime}, nil
}
