package pdf

// CMS signatures made by a tool nobody here wrote (openssl cms), put into a
// signed PDF in place of the original one: BER (openssl cms -stream),
// encapsulated content, several SignerInfos, attributes out of DER order,
// certificates with negative serials.

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpki"
)

var byteRangeRE = regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)

// signedRanges returns the bytes the last signature of a signed PDF
// covers and the offsets of its /Contents gap.
func signedRanges(t testing.TB, doc []byte) (content []byte, gapStart, gapEnd int) {
	t.Helper()
	all := byteRangeRE.FindAllSubmatch(doc, -1)
	if all == nil {
		t.Fatal("no /ByteRange")
	}
	m := all[len(all)-1] // the newest signature
	var r [4]int
	for i := range r {
		r[i], _ = strconv.Atoi(string(m[i+1]))
	}
	content = append(append([]byte(nil), doc[r[0]:r[0]+r[1]]...), doc[r[2]:r[2]+r[3]]...)
	return content, r[1], r[2]
}

// withCMS puts cms into the /Contents gap of doc (zero padded).
func withCMS(t testing.TB, doc, cms []byte) []byte {
	t.Helper()
	_, a, b := signedRanges(t, doc)
	room := (b - a - 2) / 2
	if len(cms) > room {
		t.Fatalf("CMS of %d bytes does not fit in %d", len(cms), room)
	}
	out := append([]byte(nil), doc...)
	h := strings.ToUpper(hex.EncodeToString(cms)) + strings.Repeat("0", 2*(room-len(cms)))
	copy(out[a+1:b-1], h)
	return out
}

type opensslSigner struct {
	dir, cert, key, chain string
}

func newOpensslSigner(t testing.TB, leaf *testpki.Leaf, certDER []byte) *opensslSigner {
	t.Helper()
	testenv.LookPath(t, "openssl", "openssl")
	dir := t.TempDir()
	s := &opensslSigner{dir: dir, cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem"), chain: filepath.Join(dir, "chain.pem")}
	if certDER == nil {
		certDER = leaf.Cert.Raw
	}
	os.WriteFile(s.cert, testpki.PEM(&x509.Certificate{Raw: certDER}), 0o600)
	os.WriteFile(s.key, testpki.KeyPEM(t, leaf.Key), 0o600)
	os.WriteFile(s.chain, testpki.PEM(leaf.Chain...), 0o600)
	return s
}

// sign runs openssl cms -sign over content with extra arguments and
// returns the DER/BER output.
func (s *opensslSigner) sign(t testing.TB, content []byte, args ...string) []byte {
	t.Helper()
	in, out := filepath.Join(s.dir, "content.bin"), filepath.Join(s.dir, "cms.der")
	os.WriteFile(in, content, 0o600)
	a := append([]string{"cms", "-sign", "-binary", "-md", "sha256", "-in", in, "-signer", s.cert, "-inkey", s.key,
		"-certfile", s.chain, "-outform", "DER", "-out", out}, args...)
	sgRun(t, "openssl", a...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExternalCMS(t *testing.T) {
	testenv.LookPath(t, "openssl", "openssl")
	p := getPKI(t)
	// our own signer at B-T reserves room for a timestamp token: enough
	// for the CMS made here
	signed := signCAdES(t, baseDoc(), p.leaf, SignOptions{Level: LevelBT, Timestamper: sgNewTestTSA(t, p.h)})
	content, _, _ := signedRanges(t, signed)
	ossl := newOpensslSigner(t, p.leaf, nil)

	t.Run("ber-stream", func(t *testing.T) {
		cms := ossl.sign(t, content, "-stream")
		if !bytes.HasPrefix(cms, []byte{0x30, 0x80}) {
			t.Fatalf("openssl -stream did not write indefinite lengths: % x", cms[:4])
		}
		cms = detachBER(t, cms)
		if _, err := asn1.Unmarshal(cms, new(asn1.RawValue)); err == nil {
			t.Fatal("encoding/asn1 reads the BER CMS: the test proves nothing")
		}
		rep := mustVerify(t, withCMS(t, signed, cms))
		s := rep.Signatures[0]
		if s.Indication != TotalPassed || s.Integrity != IntegrityOK {
			t.Fatalf("BER CMS: %s", dumpReport(rep))
		}
		// the same BER signature over other bytes is a hash failure
		bad := withCMS(t, signed, detachBER(t, ossl.sign(t, append(content, 'x'), "-stream")))
		if s := mustVerify(t, bad).Signatures[0]; s.SubIndication != SubHashFailure || s.Integrity != IntegrityFailed {
			t.Fatalf("BER CMS over other bytes: %+v", s)
		}
	})
	t.Run("encapsulated-document", func(t *testing.T) {
		rep := mustVerify(t, withCMS(t, signed, ossl.sign(t, content, "-stream")))
		s := rep.Signatures[0]
		if s.Indication != TotalPassed || !hasMessage(s, "encapsulates the signed document bytes") {
			t.Fatalf("CMS carrying the document bytes: %s", dumpReport(rep))
		}
	})
	t.Run("encapsulated-other-content", func(t *testing.T) {
		rep := mustVerify(t, withCMS(t, signed, ossl.sign(t, []byte("%PDF-1.7 another document"), "-nodetach")))
		s := rep.Signatures[0]
		if s.Indication != TotalFailed || s.SubIndication != SubFormatFailure || !hasMessage(s, "not this document's signed bytes") {
			t.Fatalf("CMS carrying other content: %s", dumpReport(rep))
		}
	})
	t.Run("encapsulated-empty", func(t *testing.T) {
		// a CMS whose content is present but empty while its messageDigest
		// is the document's: the digest is checked against the content
		cms := ossl.sign(t, content)
		cms = rebuildCMS(t, cms, nil, func(sd *rawSignedData) { sd.EncapContentInfo.EContent = []byte{} })
		rep := mustVerify(t, withCMS(t, signed, cms))
		if s := rep.Signatures[0]; s.SubIndication != SubHashFailure || s.Integrity != IntegrityFailed {
			t.Fatalf("empty encapsulated content: %s", dumpReport(rep))
		}
	})
	t.Run("attributes-out-of-der-order", func(t *testing.T) {
		cms := rebuildCMS(t, ossl.sign(t, content), p.leaf.Key, func(sd *rawSignedData) {
			attrs := splitElements(t, sd.SignerInfos[0].SignedAttrs.Bytes)
			sort.Slice(attrs, func(i, j int) bool { return bytes.Compare(attrs[i], attrs[j]) > 0 }) // descending
			sd.SignerInfos[0].SignedAttrs.Bytes = bytes.Join(attrs, nil)
		})
		rep := mustVerify(t, withCMS(t, signed, cms))
		s := rep.Signatures[0]
		if s.Indication != TotalFailed || s.SubIndication != SubHashFailure || !hasMessage(s, "not in DER order") {
			t.Fatalf("attributes out of order: %s", dumpReport(rep))
		}
	})
	t.Run("bytes-after-cms", func(t *testing.T) {
		cms := append(ossl.sign(t, content), "trailing"...)
		rep := mustVerify(t, withCMS(t, signed, cms))
		s := rep.Signatures[0]
		if s.Indication != TotalPassed || !hasMessage(s, "bytes after the CMS") {
			t.Fatalf("bytes after the CMS: %s", dumpReport(rep))
		}
	})
	t.Run("two-signer-infos", func(t *testing.T) {
		first := ossl.sign(t, content)
		second := newOpensslSigner(t, p.leaf2, nil).sign(t, content)
		both := rebuildCMS(t, first, nil, func(sd *rawSignedData) {
			other := parseRawSignedData(t, second)
			sd.SignerInfos = append(sd.SignerInfos, other.SignerInfos[0])
			sd.Certificates.Bytes = append(sd.Certificates.Bytes, other.Certificates.Bytes...)
		})
		rep := mustVerify(t, withCMS(t, signed, both))
		if s := rep.Signatures[0]; s.Indication != TotalPassed || !hasMessage(s, "2 SignerInfos") {
			t.Fatalf("two SignerInfos: %s", dumpReport(rep))
		}
		// the second SignerInfo broken: the signature fails
		broken := rebuildCMS(t, both, nil, func(sd *rawSignedData) {
			sd.SignerInfos[1].Signature[5] ^= 1
		})
		if s := mustVerify(t, withCMS(t, signed, broken)).Signatures[0]; s.Indication != TotalFailed {
			t.Fatalf("broken second SignerInfo: %+v", s)
		}
	})
	t.Run("ed25519", func(t *testing.T) {
		// RFC 8419: PureEdDSA over the DER signed attributes (OpenSSL 3.0
		// cannot make one: "eddsa_digest_signverify_init: invalid digest")
		leaf := p.h.Issue(t, testpki.Ed25519, testpki.Options{CommonName: "Ed Signer", Slot: 8})
		rep := mustVerify(t, withCMS(t, signed, ed25519CMS(t, leaf, content)))
		if s := rep.Signatures[0]; s.Indication != TotalPassed || s.Integrity != IntegrityOK {
			t.Fatalf("Ed25519: %s", dumpReport(rep))
		}
		bad := withCMS(t, signed, ed25519CMS(t, leaf, append(content, 'x')))
		if s := mustVerify(t, bad).Signatures[0]; s.Indication != TotalFailed || s.SubIndication != SubHashFailure {
			t.Fatalf("Ed25519 over other bytes: %+v", s)
		}
	})
	t.Run("brainpool-unsupported", func(t *testing.T) {
		// Go's x509 cannot parse a brainpool key: nothing is known about the
		// signature, which is "unsupported", never "failed"
		dir := t.TempDir()
		key, cert, in, out := filepath.Join(dir, "k.pem"), filepath.Join(dir, "c.pem"), filepath.Join(dir, "in.bin"), filepath.Join(dir, "cms.der")
		sgRun(t, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:brainpoolP256r1", "-nodes",
			"-keyout", key, "-out", cert, "-subj", "/CN=Brainpool Signer", "-days", "2")
		os.WriteFile(in, content, 0o600)
		sgRun(t, "openssl", "cms", "-sign", "-binary", "-md", "sha256", "-in", in, "-signer", cert, "-inkey", key, "-outform", "DER", "-out", out)
		cms, _ := os.ReadFile(out)
		rep := mustVerify(t, withCMS(t, signed, cms))
		s := rep.Signatures[0]
		if s.Integrity != IntegrityUnsupported || s.Indication != Indeterminate || !hasMessage(s, "could not be parsed") {
			t.Fatalf("brainpool: %s", dumpReport(rep))
		}
	})
	t.Run("negative-serial", func(t *testing.T) {
		// leaf and root with negative serials: trust file and CMS
		leaf := p.h.Issue(t, testpki.P256, testpki.Options{CommonName: "Negative Serial", Slot: 7})
		leafDER := testpki.WithNegativeSerial(t, leaf.Cert, p.h.Intermediate.Key)
		cms := newOpensslSigner(t, leaf, leafDER).sign(t, content, "-stream")
		rep := mustVerify(t, withCMS(t, signed, cms))
		s := rep.Signatures[0]
		if s.Indication != TotalPassed || !hasMessage(s, "negative serial number") || !strings.HasPrefix(s.Signer.SerialNumber, "-") {
			t.Fatalf("negative serial: %s", dumpReport(rep))
		}
	})
}

// rawSignedData mirrors SignedData with raw parts, to rebuild a CMS.
type rawSignedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContentInfo struct {
		EContentType asn1.ObjectIdentifier
		EContent     []byte `asn1:"optional,explicit,tag:0"`
	}
	Certificates asn1.RawValue   `asn1:"optional,tag:0"`
	SignerInfos  []rawSignerInfo `asn1:"set"`
}

type rawSignerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    asn1.RawValue
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm asn1.RawValue
	Signature          []byte
}

func parseRawSignedData(t testing.TB, der []byte) *rawSignedData {
	t.Helper()
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		t.Fatal(err)
	}
	sd := &rawSignedData{}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, sd); err != nil {
		t.Fatal(err)
	}
	return sd
}

// rebuildCMS parses a DER CMS, lets edit change it, re-signs the first
// SignerInfo's attributes with key when edit sets resign, and encodes it.
func rebuildCMS(t testing.TB, der []byte, key crypto.Signer, edit func(*rawSignedData)) []byte {
	t.Helper()
	sd := parseRawSignedData(t, der)
	edit(sd)
	resign := key != nil
	si := &sd.SignerInfos[0]
	si.SignedAttrs = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: si.SignedAttrs.Bytes}
	if resign {
		enc, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: si.SignedAttrs.Bytes})
		h := crypto.SHA256.New()
		h.Write(enc)
		sig, err := key.Sign(rand.Reader, h.Sum(nil), crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		si.Signature = sig
	}
	return encodeRawSignedData(t, sd)
}

func encodeRawSignedData(t testing.TB, sd *rawSignedData) []byte {
	t.Helper()
	for i := range sd.SignerInfos {
		a := &sd.SignerInfos[i].SignedAttrs
		*a = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: a.Bytes}
	}
	sd.Certificates = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sd.Certificates.Bytes}
	inner, err := asn1.Marshal(*sd)
	if err != nil {
		t.Fatal(err)
	}
	out, err := asn1.Marshal(struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue
	}{vOidSignedData, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func splitElements(t testing.TB, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		var rv asn1.RawValue
		r, err := asn1.Unmarshal(b, &rv)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rv.FullBytes)
		b = r
	}
	return out
}

// detachBER removes the encapsulated content from a BER CMS whose
// EncapContentInfo has an indefinite length (openssl cms -sign -stream),
// leaving the rest of the BER as it was.
func detachBER(t testing.TB, ber []byte) []byte {
	t.Helper()
	tree, _, err := berParse(ber)
	if err != nil {
		t.Fatal(err)
	}
	encap := tree.kids[1].kids[0].kids[2]
	if encap.der || len(encap.kids) != 2 {
		t.Fatalf("EncapContentInfo is not indefinite-length with content")
	}
	start := cap(ber) - cap(encap.raw)
	repl := append(append([]byte{0x30, 0x80}, encap.kids[0].raw...), 0, 0)
	return append(append(append([]byte(nil), ber[:start]...), repl...), ber[start+len(encap.raw):]...)
}

// ed25519CMS builds a detached RFC 8419 SignedData over content.
func ed25519CMS(t testing.TB, leaf *testpki.Leaf, content []byte) []byte {
	t.Helper()
	sha512 := asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	md := crypto.SHA512.New()
	md.Write(content)
	attr := func(oid asn1.ObjectIdentifier, v any) []byte {
		val, _ := asn1.Marshal(v)
		b, err := asn1.Marshal(struct {
			T asn1.ObjectIdentifier
			V asn1.RawValue
		}{oid, asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: val}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	attrs := [][]byte{attr(vOidAttrContentType, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}), attr(vOidAttrMessageDigest, md.Sum(nil))}
	sort.Slice(attrs, func(i, j int) bool { return bytes.Compare(attrs[i], attrs[j]) < 0 })
	set, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: bytes.Join(attrs, nil)})
	sig, err := leaf.Key.Sign(rand.Reader, set, crypto.Hash(0))
	if err != nil {
		t.Fatal(err)
	}
	algSeq := func(oid asn1.ObjectIdentifier) asn1.RawValue {
		b, _ := asn1.Marshal(struct{ O asn1.ObjectIdentifier }{oid})
		return asn1.RawValue{FullBytes: b}
	}
	sid, _ := asn1.Marshal(struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}{asn1.RawValue{FullBytes: leaf.Cert.RawIssuer}, leaf.Cert.SerialNumber})
	digestAlgs, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: algSeq(sha512).FullBytes})
	sd := rawSignedData{Version: 1, DigestAlgorithms: asn1.RawValue{FullBytes: digestAlgs}}
	sd.EncapContentInfo.EContentType = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	sd.Certificates.Bytes = append(append([]byte(nil), leaf.Cert.Raw...), leaf.Chain[0].Raw...)
	sd.SignerInfos = []rawSignerInfo{{Version: 1, SID: asn1.RawValue{FullBytes: sid}, DigestAlgorithm: algSeq(sha512),
		SignedAttrs: asn1.RawValue{Bytes: bytes.Join(attrs, nil)}, SignatureAlgorithm: algSeq(vOidEd25519), Signature: sig}}
	return encodeRawSignedData(t, &sd)
}
