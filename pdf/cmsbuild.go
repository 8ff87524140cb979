package pdf

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"sort"

	"github.com/securesign/securesign/signer"
)

// CMS SignedData for PAdES (ETSI EN 319 122-1 / RFC 5652), built directly
// with DER so that the signed attributes are exactly what the token signs
// and the size of the result is predictable.

var (
	oidData                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidAttrContentType     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningCertV2   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidAttrTimeStampToken  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	oidSHA256              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidSHA256WithRSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidRSAPSS              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidECDSAWithSHA256     = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384     = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512     = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	errUnsupportedKeyOrAlg = errors.New("pdf: unsupported key or signature algorithm")
)

// der returns a DER TLV with a one-byte tag.
func der(tag byte, content ...[]byte) []byte {
	n := 0
	for _, c := range content {
		n += len(c)
	}
	out := make([]byte, 0, n+6)
	out = append(out, tag)
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	case n < 0x10000:
		out = append(out, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		out = append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		out = append(out, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	for _, c := range content {
		out = append(out, c...)
	}
	return out
}

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		// Only called on OIDs, integers and byte strings we built.
		return nil
	}
	return b
}

func hashOID(h crypto.Hash) (asn1.ObjectIdentifier, error) {
	switch h {
	case crypto.SHA256:
		return oidSHA256, nil
	case crypto.SHA384:
		return oidSHA384, nil
	case crypto.SHA512:
		return oidSHA512, nil
	}
	return nil, fmt.Errorf("%w: hash %v", errUnsupportedKeyOrAlg, h)
}

// digestAlgID is an AlgorithmIdentifier for a hash, parameters absent
// (RFC 5754 §2).
func digestAlgID(h crypto.Hash) ([]byte, error) {
	oid, err := hashOID(h)
	if err != nil {
		return nil, err
	}
	return der(0x30, mustMarshal(oid)), nil
}

// signatureAlgID is the SignerInfo signatureAlgorithm for key pub.
func signatureAlgID(pub crypto.PublicKey, alg signer.Algorithm, h crypto.Hash) ([]byte, error) {
	null := []byte{0x05, 0x00}
	switch pub.(type) {
	case *rsa.PublicKey:
		switch alg {
		case signer.RSAPKCS1v15:
			oid := map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: oidSHA256WithRSA, crypto.SHA384: oidSHA384WithRSA, crypto.SHA512: oidSHA512WithRSA}[h]
			if oid == nil {
				break
			}
			return der(0x30, mustMarshal(oid), null), nil
		case signer.RSAPSS:
			hid, err := hashOID(h)
			if err != nil {
				return nil, err
			}
			hashAlg := der(0x30, mustMarshal(hid), null)
			mgf := der(0x30, mustMarshal(oidMGF1), hashAlg)
			params := der(0x30,
				der(0xa0, hashAlg),
				der(0xa1, mgf),
				der(0xa2, mustMarshal(h.Size())))
			return der(0x30, mustMarshal(oidRSAPSS), params), nil
		}
	case *ecdsa.PublicKey:
		if alg != signer.ECDSA {
			break
		}
		oid := map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: oidECDSAWithSHA256, crypto.SHA384: oidECDSAWithSHA384, crypto.SHA512: oidECDSAWithSHA512}[h]
		if oid == nil {
			break
		}
		return der(0x30, mustMarshal(oid)), nil
	}
	return nil, fmt.Errorf("%w: %s with %T and %v", errUnsupportedKeyOrAlg, alg, pub, h)
}

// maxSignatureLen is the largest signature value pub can produce.
func maxSignatureLen(pub crypto.PublicKey) int {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return k.Size()
	case *ecdsa.PublicKey:
		n := (k.Curve.Params().BitSize + 7) / 8
		return 2*n + 12
	}
	return 1024
}

// attribute is one DER Attribute { type, SET { values } }.
func attribute(oid asn1.ObjectIdentifier, values ...[]byte) []byte {
	return der(0x30, mustMarshal(oid), der(0x31, values...))
}

// derSet encodes a SET OF with its elements in DER order.
func derSet(tag byte, elems [][]byte) []byte {
	s := append([][]byte(nil), elems...)
	sort.Slice(s, func(i, j int) bool { return bytes.Compare(s[i], s[j]) < 0 })
	return der(tag, s...)
}

// signedAttributes returns the DER SET (tag 0x31) of the PAdES signed
// attributes: content-type, message-digest and ESS signing-certificate-v2.
// There is no signing-time: PAdES puts the time in the signature
// dictionary's /M.
func signedAttributes(h crypto.Hash, docDigest []byte, cert *x509.Certificate) ([]byte, error) {
	hh := h.New()
	hh.Write(cert.Raw)
	certHash := hh.Sum(nil)
	var essAlg []byte
	if h != crypto.SHA256 { // SHA-256 is the DEFAULT and must be omitted
		a, err := digestAlgID(h)
		if err != nil {
			return nil, err
		}
		essAlg = a
	}
	issuerSerial := der(0x30,
		der(0x30, der(0xa4, cert.RawIssuer)), // GeneralNames { directoryName }
		mustMarshal(cert.SerialNumber))
	essCertID := der(0x30, essAlg, mustMarshal(certHash), issuerSerial)
	signingCertV2 := der(0x30, der(0x30, essCertID))
	return derSet(0x31, [][]byte{
		attribute(oidAttrContentType, mustMarshal(oidData)),
		attribute(oidAttrMessageDigest, mustMarshal(docDigest)),
		attribute(oidAttrSigningCertV2, signingCertV2),
	}), nil
}

// cmsParts is what a CMS SignedData is made of, apart from the signature
// value and unsigned attributes.
type cmsParts struct {
	Hash        crypto.Hash
	Algorithm   signer.Algorithm
	Certs       []*x509.Certificate // leaf first
	SignedAttrs []byte              // DER SET, tag 0x31
}

// build returns the DER ContentInfo. unsigned holds DER Attributes.
func (p *cmsParts) build(signature []byte, unsigned [][]byte) ([]byte, error) {
	if len(p.Certs) == 0 {
		return nil, errors.New("pdf: no signing certificate")
	}
	leaf := p.Certs[0]
	dalg, err := digestAlgID(p.Hash)
	if err != nil {
		return nil, err
	}
	salg, err := signatureAlgID(leaf.PublicKey, p.Algorithm, p.Hash)
	if err != nil {
		return nil, err
	}
	if len(p.SignedAttrs) < 2 || p.SignedAttrs[0] != 0x31 {
		return nil, errors.New("pdf: bad signed attributes")
	}
	signedAttrs := append([]byte{0xa0}, p.SignedAttrs[1:]...) // [0] IMPLICIT
	sid := der(0x30, leaf.RawIssuer, mustMarshal(leaf.SerialNumber))
	si := [][]byte{mustMarshal(1), sid, dalg, signedAttrs, salg, der(0x04, signature)}
	if len(unsigned) > 0 {
		si = append(si, derSet(0xa1, unsigned))
	}
	signerInfo := der(0x30, si...)
	var certs [][]byte
	seen := map[string]bool{}
	for _, c := range p.Certs {
		if !seen[string(c.Raw)] {
			seen[string(c.Raw)] = true
			certs = append(certs, c.Raw)
		}
	}
	sd := der(0x30,
		mustMarshal(1),
		der(0x31, dalg),
		der(0x30, mustMarshal(oidData)),
		der(0xa0, certs...),
		der(0x31, signerInfo))
	return der(0x30, mustMarshal(oidSignedData), der(0xa0, sd)), nil
}

// timestampAttribute wraps an RFC 3161 TimeStampToken as the unsigned
// signature-time-stamp attribute.
func timestampAttribute(token []byte) []byte {
	return attribute(oidAttrTimeStampToken, token)
}

// estimateCMSSize is an upper bound for the CMS this signer produces, with
// room for tsBudget bytes of timestamp token.
func (p *cmsParts) estimateSize(tsBudget int) (int, error) {
	dummy := make([]byte, maxSignatureLen(p.Certs[0].PublicKey))
	for i := range dummy {
		dummy[i] = 0xff
	}
	var unsigned [][]byte
	if tsBudget > 0 {
		unsigned = append(unsigned, timestampAttribute(der(0x30, make([]byte, tsBudget))))
	}
	b, err := p.build(dummy, unsigned)
	if err != nil {
		return 0, err
	}
	return len(b), nil
}

// certificatesOf returns the certificates embedded in a CMS SignedData
// (such as an RFC 3161 token).
func certificatesOf(cms []byte) ([]*x509.Certificate, error) {
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(cms, &ci); err != nil {
		return nil, err
	}
	var sd struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		EncapContentInfo asn1.RawValue
		Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, err
	}
	if len(sd.Certificates.Bytes) == 0 {
		return nil, nil
	}
	return x509.ParseCertificates(sd.Certificates.Bytes)
}
