// Package sigpkg is the signing package of protocol 1.2 (docs/protocol.md
// §6): what a signing app fetches, before it asks for the PIN, to prove that
// each digest of a deep link belongs to a document it can show the user.
//
// A package is JSON. Per document it holds a display name, the prepared PDF
// (inline, or a URL with its SHA-256), the DER signed attributes whose hash
// is the digest the app signs, and the ByteRange. [Check] verifies a package
// against a link's expectations; [Fetcher.Verify] fetches and checks the
// package a link names. [Build] writes one, e.g. from pdf.PreparedSignature's
// SignedAttributes, ByteRange and the prepared file.
//
// Every error is a [*Error] naming the failed check; it wraps
// deeplink.ErrPackage, which maps to SS_LINK_INVALID.
package sigpkg

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	_ "crypto/sha512" // SHA-384 and SHA-512 digests

	"github.com/securesign/securesign/deeplink"
)

// Version is the package format version this package reads and writes.
const Version = "1.2"

// Limits of a package.
const (
	// MaxDocuments is the largest batch in one package.
	MaxDocuments = 50
	// MaxPackageSize bounds the package's JSON, inline PDFs included.
	MaxPackageSize = 64 << 20
	// MaxPDFSize bounds one prepared PDF.
	MaxPDFSize = 32 << 20
	// MaxTotalPDFSize bounds the PDFs of one package together.
	MaxTotalPDFSize = 128 << 20
	// MaxSignedAttrsSize bounds one document's signed attributes.
	MaxSignedAttrsSize = 16 << 10
)

// Names of the checks, as Error.Check reports them.
const (
	CheckPackageHash   = "package-hash"   // SHA-256 of the package bytes vs the link's pkgSha256
	CheckFormat        = "format"         // the package's JSON and its limits
	CheckRequest       = "request"        // requestId, hashAlgo and document count vs the link
	CheckFetch         = "fetch"          // getting the package or a PDF
	CheckPDFHash       = "pdf-hash"       // SHA-256 of a fetched PDF vs pdfSha256
	CheckDigest        = "digest"         // hash of the signed attributes vs the link's digest
	CheckSignedAttrs   = "signed-attrs"   // the signed attributes are a DER SET with one messageDigest
	CheckByteRange     = "byte-range"     // the ByteRange covers all but exactly the empty /Contents
	CheckMessageDigest = "message-digest" // messageDigest vs the PDF's hash over its ByteRange
	CheckPresent       = "present"        // the link names a package (for an app that requires one)
)

// Error is a package that fails a check. Document is the 1-based document
// concerned, 0 for the package as a whole.
type Error struct {
	Check    string
	Document int
	Name     string
	Detail   string
	// Err is the cause of a fetch failure, when there is one: an
	// *OriginError for a URL on an origin the app does not take packages
	// from.
	Err error
}

func (e *Error) Error() string {
	s := "sigpkg: check " + e.Check + " failed"
	if e.Document > 0 {
		s += " for document " + strconv.Itoa(e.Document)
		if e.Name != "" {
			s += " (" + strconv.Quote(e.Name) + ")"
		}
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns deeplink.ErrPackage, so the error maps to SS_LINK_INVALID,
// and Err when set.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{deeplink.ErrPackage, e.Err}
	}
	return []error{deeplink.ErrPackage}
}

// Missing is the refusal of an app that signs only what it can show: l
// is a sign link that names no package (CheckPresent). It is nil for a
// link that names one, and for a register link (nothing is shown for a
// registration).
func Missing(l *deeplink.Link) *Error {
	if l.PackageURL != "" || l.Action != deeplink.ActionSign {
		return nil
	}
	return fail(CheckPresent, 0, "", "the link names no signing package, so its document cannot be shown or checked, and this app signs only documents it can show")
}

func fail(check string, doc int, name, format string, args ...any) *Error {
	return &Error{Check: check, Document: doc, Name: name, Detail: fmt.Sprintf(format, args...)}
}

// Package is a signing package.
type Package struct {
	Version   string     `json:"version"`
	RequestID string     `json:"requestId"`
	HashAlgo  string     `json:"hashAlgo"` // SHA256, SHA384 or SHA512, as in the link
	Documents []Document `json:"documents"`
}

// Document is one document of a package, in the order of the link's
// digests and of the signatures of the result.
type Document struct {
	// Name is shown to the user; the rules of the link's doc apply.
	Name string `json:"name"`
	// PDF is the prepared PDF inline (base64 in JSON), or empty when
	// PDFURL names it.
	PDF []byte `json:"pdf,omitempty"`
	// PDFURL and PDFSHA256 (lower-case hex) locate a prepared PDF that is
	// not inline.
	PDFURL    string `json:"pdfUrl,omitempty"`
	PDFSHA256 string `json:"pdfSha256,omitempty"`
	// SignedAttrs is the DER SET of CMS signed attributes; its hash is the
	// digest the app signs.
	SignedAttrs []byte `json:"signedAttrs"`
	// ByteRange is the prepared PDF's /ByteRange.
	ByteRange [4]int64 `json:"byteRange"`
}

// Parse decodes a package and checks its format and limits; it checks no
// digest.
func Parse(data []byte) (*Package, error) {
	if len(data) > MaxPackageSize {
		return nil, fail(CheckFormat, 0, "", "%d bytes, at most %d", len(data), MaxPackageSize)
	}
	if err := checkMembers(data); err != nil {
		return nil, fail(CheckFormat, 0, "", "%v", err)
	}
	var p Package
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fail(CheckFormat, 0, "", "not a package: %v", err)
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

func (p *Package) validate() error {
	if p.Version != Version {
		return fail(CheckFormat, 0, "", "version %q, want %q", p.Version, Version)
	}
	if err := deeplink.CheckDoc(p.RequestID); err != nil || p.RequestID == "" {
		return fail(CheckFormat, 0, "", "bad requestId")
	}
	if _, ok := deeplink.ParseHashAlgo(p.HashAlgo); !ok {
		return fail(CheckFormat, 0, "", "hashAlgo %q", p.HashAlgo)
	}
	if n := len(p.Documents); n == 0 || n > MaxDocuments {
		return fail(CheckFormat, 0, "", "%d documents, want 1 to %d", n, MaxDocuments)
	}
	var total int64
	for i := range p.Documents {
		d := &p.Documents[i]
		n := i + 1
		if d.Name == "" {
			return fail(CheckFormat, n, "", "no name")
		}
		if err := deeplink.CheckDoc(d.Name); err != nil {
			return fail(CheckFormat, n, "", "bad name: %v", err)
		}
		switch {
		case len(d.PDF) > 0 && d.PDFURL != "", len(d.PDF) == 0 && d.PDFURL == "":
			return fail(CheckFormat, n, d.Name, "want exactly one of pdf and pdfUrl")
		case len(d.PDF) > MaxPDFSize:
			return fail(CheckFormat, n, d.Name, "PDF of %d bytes, at most %d", len(d.PDF), MaxPDFSize)
		case d.PDFURL != "":
			if len(d.PDFURL) > deeplink.MaxPackageURLLength {
				return fail(CheckFormat, n, d.Name, "pdfUrl longer than %d bytes", deeplink.MaxPackageURLLength)
			}
			if _, err := deeplink.OriginOf(d.PDFURL); err != nil {
				return fail(CheckFormat, n, d.Name, "pdfUrl: %v", err)
			}
			if !isLowerHex(d.PDFSHA256, 64) {
				return fail(CheckFormat, n, d.Name, "pdfSha256 is not 64 lower-case hex digits")
			}
		case d.PDFSHA256 != "":
			return fail(CheckFormat, n, d.Name, "pdfSha256 without pdfUrl")
		}
		total += int64(len(d.PDF))
		if len(d.SignedAttrs) == 0 || len(d.SignedAttrs) > MaxSignedAttrsSize {
			return fail(CheckFormat, n, d.Name, "signedAttrs of %d bytes, want 1 to %d", len(d.SignedAttrs), MaxSignedAttrsSize)
		}
	}
	if total > MaxTotalPDFSize {
		return fail(CheckFormat, 0, "", "inline PDFs of %d bytes, at most %d", total, MaxTotalPDFSize)
	}
	return nil
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Build checks p by every rule Parse applies and writes it as JSON. A
// document's Version and HashAlgo default to Version and SHA256.
func Build(p *Package) ([]byte, error) {
	q := *p
	if q.Version == "" {
		q.Version = Version
	}
	if q.HashAlgo == "" {
		q.HashAlgo = "SHA256"
	}
	if err := q.validate(); err != nil {
		return nil, err
	}
	data, err := json.Marshal(&q)
	if err != nil {
		return nil, err
	}
	if len(data) > MaxPackageSize {
		return nil, fail(CheckFormat, 0, "", "%d bytes, at most %d", len(data), MaxPackageSize)
	}
	return data, nil
}

// Digest returns the lower-case hex SHA-256 of a package's bytes: the
// link's pkgSha256.
func Digest(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// Expect is what the link says about its package.
type Expect struct {
	RequestID     string
	HashAlgo      crypto.Hash
	PackageSHA256 string // the link's pkgSha256
	// Hashes are the link's digests. Empty means the link carries none and
	// the package's (bound by PackageSHA256) are signed.
	Hashes [][]byte
}

// ExpectOf returns the expectations of a link with a package.
func ExpectOf(l *deeplink.Link) Expect {
	return Expect{RequestID: l.RequestID, HashAlgo: l.HashAlgo, PackageSHA256: l.PackageSHA256, Hashes: l.Hashes}
}

// Verified is one checked document: what the app shows and signs.
type Verified struct {
	Name   string
	PDF    []byte
	Digest []byte // hash of the signed attributes: what the key signs
	// Hash is the digest algorithm of Digest.
	Hash crypto.Hash
	// ByteRange is the checked /ByteRange: it finds the signature's field
	// (pdf.ReadLayout) to show where the signature will sit.
	ByteRange [4]int64
}

// Loader returns the prepared PDF of document i (0-based) of a package
// that names it by URL; Check compares it with pdfSha256.
type Loader func(i int, d *Document) ([]byte, error)

// Check verifies raw, a package's bytes, against a link's expectations:
// its SHA-256 is pkgSha256; its requestId, hashAlgo and document count
// match the link; and for every document, the hash of the signed attributes
// is the link's digest, their messageDigest is the hash of the prepared PDF
// over its ByteRange, and the ByteRange covers the whole PDF but exactly the
// empty /Contents hex string. load fetches PDFs given by URL (nil refuses
// them). The first failure is returned; nothing is returned half-checked.
func Check(raw []byte, exp Expect, load Loader) ([]Verified, error) {
	if exp.PackageSHA256 == "" || subtle.ConstantTimeCompare([]byte(Digest(raw)), []byte(exp.PackageSHA256)) != 1 {
		return nil, fail(CheckPackageHash, 0, "", "the package's SHA-256 is not the link's pkgSha256")
	}
	p, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	h, _ := deeplink.ParseHashAlgo(p.HashAlgo)
	if p.RequestID != exp.RequestID {
		return nil, fail(CheckRequest, 0, "", "package for request %q, link %q", p.RequestID, exp.RequestID)
	}
	if h != exp.HashAlgo {
		return nil, fail(CheckRequest, 0, "", "package hashAlgo %s, link %s", p.HashAlgo, hashAlgoName(exp.HashAlgo))
	}
	if len(exp.Hashes) > 0 && len(exp.Hashes) != len(p.Documents) {
		return nil, fail(CheckRequest, 0, "", "%d documents for %d digests", len(p.Documents), len(exp.Hashes))
	}
	out := make([]Verified, 0, len(p.Documents))
	var total int64
	for i := range p.Documents {
		d := &p.Documents[i]
		n := i + 1
		pdf := d.PDF
		if d.PDFURL != "" {
			if load == nil {
				return nil, fail(CheckFetch, n, d.Name, "the PDF is given by URL and fetching is off")
			}
			if pdf, err = load(i, d); err != nil {
				e := fail(CheckFetch, n, d.Name, "%v", err)
				e.Err = err
				return nil, e
			}
			if total += int64(len(pdf)); len(pdf) > MaxPDFSize || total > MaxTotalPDFSize {
				return nil, fail(CheckFetch, n, d.Name, "PDFs larger than the limits")
			}
			if s := sha256.Sum256(pdf); hex.EncodeToString(s[:]) != d.PDFSHA256 {
				return nil, fail(CheckPDFHash, n, d.Name, "the fetched PDF's SHA-256 is not pdfSha256")
			}
		}
		digest, err := CheckDocument(h, d.SignedAttrs, d.ByteRange, pdf)
		if err != nil {
			err.Document, err.Name = n, d.Name
			return nil, err
		}
		if len(exp.Hashes) > 0 && !bytes.Equal(digest, exp.Hashes[i]) {
			return nil, fail(CheckDigest, n, d.Name, "the hash of the signed attributes is not the link's digest %d", n)
		}
		out = append(out, Verified{Name: d.Name, PDF: pdf, Digest: digest, Hash: h, ByteRange: d.ByteRange})
	}
	return out, nil
}

var oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}

// CheckDocument checks one document: the signed attributes are a DER SET
// with exactly one messageDigest, which is the hash h of pdf over
// byteRange, and byteRange covers pdf but exactly its empty /Contents. It
// returns the hash of the signed attributes: the digest to sign.
func CheckDocument(h crypto.Hash, signedAttrs []byte, byteRange [4]int64, pdf []byte) ([]byte, *Error) {
	md, err := messageDigest(signedAttrs)
	if err != nil {
		return nil, fail(CheckSignedAttrs, 0, "", "%v", err)
	}
	if err := checkByteRange(byteRange, pdf); err != nil {
		return nil, fail(CheckByteRange, 0, "", "%v", err)
	}
	a, b, c := byteRange[1], byteRange[2], byteRange[3]
	hh := h.New()
	hh.Write(pdf[:a])
	hh.Write(pdf[b : b+c])
	if !bytes.Equal(hh.Sum(nil), md) {
		return nil, fail(CheckMessageDigest, 0, "", "the signed attributes' messageDigest is not the PDF's hash over its ByteRange")
	}
	ah := h.New()
	ah.Write(signedAttrs)
	return ah.Sum(nil), nil
}

// messageDigest returns the value of the one messageDigest attribute of a
// DER SET OF Attribute (RFC 5652 §5.3).
func messageDigest(der []byte) ([]byte, error) {
	var set asn1.RawValue
	rest, err := asn1.Unmarshal(der, &set)
	if err != nil || len(rest) != 0 || set.Class != asn1.ClassUniversal || set.Tag != asn1.TagSet || !set.IsCompound {
		return nil, fmt.Errorf("signed attributes are not one DER SET")
	}
	var md []byte
	found := 0
	for in := set.Bytes; len(in) > 0; {
		var attr struct {
			Type   asn1.ObjectIdentifier
			Values asn1.RawValue `asn1:"set"`
		}
		if in, err = asn1.Unmarshal(in, &attr); err != nil {
			return nil, fmt.Errorf("bad attribute: %v", err)
		}
		if !attr.Type.Equal(oidMessageDigest) {
			continue
		}
		found++
		var v []byte
		r, err := asn1.Unmarshal(attr.Values.Bytes, &v)
		if err != nil || len(r) != 0 {
			return nil, fmt.Errorf("messageDigest is not one OCTET STRING")
		}
		md = v
	}
	if found != 1 {
		return nil, fmt.Errorf("%d messageDigest attributes, want 1", found)
	}
	return md, nil
}

// checkByteRange checks that br is [0 a b c] with b+c the PDF's size, that
// pdf[a:b] is "<" hex zeros ">" right after "/Contents", and that the
// /ByteRange written before it states br.
func checkByteRange(br [4]int64, pdf []byte) error {
	size := int64(len(pdf))
	a, b, c := br[1], br[2], br[3]
	switch {
	case br[0] != 0:
		return fmt.Errorf("starts at %d, not 0", br[0])
	case a <= 0 || b < a+2 || c < 0 || b > size || c > size-b:
		return fmt.Errorf("%v does not fit a file of %d bytes", br, size)
	case b+c != size:
		return fmt.Errorf("%v leaves %d bytes at the end uncovered", br, size-b-c)
	case pdf[a] != '<' || pdf[b-1] != '>':
		return fmt.Errorf("the gap is not a hex string")
	}
	for _, ch := range pdf[a+1 : b-1] {
		if ch != '0' {
			return fmt.Errorf("the gap is not an empty /Contents (a non-zero byte)")
		}
	}
	before := bytes.TrimRight(pdf[:a], " \t\r\n\f\x00")
	if !bytes.HasSuffix(before, []byte("/Contents")) {
		return fmt.Errorf("the gap is not the value of /Contents")
	}
	// The signature dictionary's own /ByteRange, which a validator will
	// read, must say the same; look for it in the dictionary around the gap.
	lo := max(0, a-4096)
	hi := min(size, b+4096)
	var stated [][]byte
	for _, win := range [][]byte{pdf[lo:a], pdf[b:hi]} {
		if i := bytes.LastIndex(win, []byte("/ByteRange")); i >= 0 {
			stated = append(stated, win[i+len("/ByteRange"):])
		}
	}
	if len(stated) != 1 {
		return fmt.Errorf("want one /ByteRange next to /Contents, found %d", len(stated))
	}
	got, ok := parseRange(stated[0])
	if !ok || got != br {
		return fmt.Errorf("the PDF's /ByteRange is not %v", br)
	}
	return nil
}

// parseRange reads "[n n n n]" after optional white space.
func parseRange(s []byte) ([4]int64, bool) {
	var r [4]int64
	s = bytes.TrimLeft(s, " \t\r\n\f\x00")
	if len(s) == 0 || s[0] != '[' {
		return r, false
	}
	s = s[1:]
	for i := range r {
		s = bytes.TrimLeft(s, " \t\r\n\f\x00")
		j := 0
		for j < len(s) && j < 19 && '0' <= s[j] && s[j] <= '9' {
			j++
		}
		if j == 0 {
			return r, false
		}
		n, err := strconv.ParseInt(string(s[:j]), 10, 64)
		if err != nil {
			return r, false
		}
		r[i], s = n, s[j:]
	}
	s = bytes.TrimLeft(s, " \t\r\n\f\x00")
	return r, len(s) > 0 && s[0] == ']'
}

// hashAlgoName names h for a message ("" for a hash the protocol lacks).
func hashAlgoName(h crypto.Hash) string {
	n, _ := deeplink.HashAlgoName(h)
	return n
}
