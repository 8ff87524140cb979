package pdf

import (
	"crypto/x509"
	"errors"
	"time"

	"github.com/securesign/securesign/pdf/internal/syntax"
	"github.com/securesign/securesign/pki"
)

// Report is the outcome of Verify. It marshals to the "Validation report"
// JSON of the SecureSign protocol (docs/protocol.md §5).
type Report struct {
	// Valid is true when there is at least one signature and every one is
	// TOTAL_PASSED.
	Valid bool `json:"valid"`
	// ValidationTime is the time signatures were judged at (RFC 3339, UTC):
	// VerifyOptions.Now, or the current time. A signature with a trusted
	// timestamp has its chain judged at the timestamp's time instead.
	ValidationTime string            `json:"validationTime"`
	Signatures     []SignatureReport `json:"signatures"`
}

// SignatureReport describes one signature or document timestamp.
type SignatureReport struct {
	Field string `json:"field"`
	// Kind is "signature" (approval or certification signature) or
	// "document-timestamp" (an RFC 3161 token over the document).
	Kind   string             `json:"kind"`
	Signer CertificateSummary `json:"signer"`
	// SigningTime is the time the signer claims (/M or the signingTime
	// attribute), RFC 3339; it is not trusted for validation. Both are in
	// the signed data, so they are fixed when the signature is prepared:
	// with Prepare/Finish (a token signing a prepared digest) that is
	// before the signer saw the document, not the moment of the PIN.
	SigningTime string `json:"signingTime"`
	// Timestamp is the signature timestamp (B-T and above), null when
	// there is none: its time (the TSA's genTime) proves the signature
	// existed then, and is the time to show as "signed at".
	Timestamp *TimestampSummary `json:"timestamp"`
	// Level is the PAdES baseline level reached ("B-B", "B-T", "B-LT",
	// "B-LTA"); empty for a signature that is not PAdES (adbe.pkcs7.detached)
	// or a document timestamp.
	Level string `json:"level"`
	// Integrity is "ok", "failed" (ByteRange, digest or CMS signature do
	// not verify, or the structure is malformed) or "unsupported" (the
	// algorithm or encoding is one this validator does not check: nothing
	// is known about the signature either way).
	Integrity string `json:"integrity"`
	// Coverage is "whole-file", "whole-revision" or "partial".
	Coverage string `json:"coverage"`
	// ModifiedAfter is the most serious kind of change made after this
	// signature: "none", "signatures-and-timestamps", "dss",
	// "form-filling", "annotations" or "other".
	ModifiedAfter string `json:"modifiedAfter"`
	// Chain is "trusted", "untrusted", "expired" or "invalid".
	Chain string `json:"chain"`
	// Revocation is "good", "revoked", "unknown" or "not-checked".
	Revocation    string   `json:"revocation"`
	Indication    string   `json:"indication"`
	SubIndication string   `json:"subIndication"`
	Messages      []string `json:"messages"`
}

// CertificateSummary names a certificate.
type CertificateSummary struct {
	Subject      string `json:"subject"`
	Issuer       string `json:"issuer"`
	SerialNumber string `json:"serialNumber"` // lowercase hex
	SHA256       string `json:"sha256"`       // lowercase hex of the DER
}

// TimestampSummary is a verified RFC 3161 signature timestamp.
type TimestampSummary struct {
	Time string `json:"time"` // RFC 3339, UTC
	TSA  string `json:"tsa"`  // the TSA certificate's subject
}

// ETSI EN 319 102-1 indications.
const (
	TotalPassed   = "TOTAL_PASSED"
	Indeterminate = "INDETERMINATE"
	TotalFailed   = "TOTAL_FAILED"
)

// ETSI EN 319 102-1 sub-indications used in reports.
const (
	SubFormatFailure            = "FORMAT_FAILURE"
	SubHashFailure              = "HASH_FAILURE"
	SubSigCryptoFailure         = "SIG_CRYPTO_FAILURE"
	SubRevoked                  = "REVOKED"
	SubRevokedNoPOE             = "REVOKED_NO_POE"
	SubExpired                  = "EXPIRED"
	SubNotYetValid              = "NOT_YET_VALID"
	SubOutOfBoundsNoPOE         = "OUT_OF_BOUNDS_NO_POE"
	SubNoCertificateChainFound  = "NO_CERTIFICATE_CHAIN_FOUND"
	SubNoSigningCertificate     = "NO_SIGNING_CERTIFICATE_FOUND"
	SubChainConstraintsFailure  = "CHAIN_CONSTRAINTS_FAILURE"
	SubCryptoConstraintsFailure = "CRYPTO_CONSTRAINTS_FAILURE"
	SubSigConstraintsFailure    = "SIG_CONSTRAINTS_FAILURE"
	SubTryLater                 = "TRY_LATER"
)

// Signature kinds (SignatureReport.Kind).
const (
	KindSignature         = "signature"
	KindDocumentTimestamp = "document-timestamp"
)

// Integrity values (SignatureReport.Integrity).
const (
	IntegrityOK          = "ok"
	IntegrityFailed      = "failed"
	IntegrityUnsupported = "unsupported"
)

// Modification kinds (SignatureReport.ModifiedAfter), least to most serious.
const (
	ModNone          = "none"
	ModSignatures    = "signatures-and-timestamps"
	ModDSS           = "dss"
	ModFormFilling   = "form-filling"
	ModAnnotations   = "annotations"
	ModOther         = "other"
	CoverageWhole    = "whole-file"
	CoverageRevision = "whole-revision"
	CoveragePartial  = "partial"
)

// Limits bounds the resources one verification may use on hostile input.
// Zero fields take the value of DefaultLimits; a *LimitError names the
// field that was exceeded.
type Limits struct {
	MaxObjects      int   // in-use objects in one revision (1,000,000)
	MaxXrefEntries  int   // xref entries over all sections (2,000,000)
	MaxDepth        int   // nesting of arrays and dictionaries (256)
	MaxObjectTokens int   // tokens in one object (1M)
	MaxStreamBytes  int64 // decoded bytes of one stream (64 MiB)
	MaxTotalBytes   int64 // decoded bytes of all streams together (192 MiB)
	MaxRevisions    int   // xref sections in the /Prev chain (1000)
	MaxRefChain     int   // references followed to reach one value (32)
	MaxStringBytes  int   // one string, e.g. /Contents (16 MiB)
	// Timeout bounds the whole Verify call, hashing included (2 s); raise
	// it for documents of several hundred megabytes; negative means none.
	Timeout time.Duration
}

// DefaultLimits are the limits used for zero fields of Limits: about 2 s
// and well under 256 MiB of memory for any input.
var DefaultLimits = Limits{
	MaxObjects:      syntax.DefaultLimits.MaxObjects,
	MaxXrefEntries:  syntax.DefaultLimits.MaxXrefEntries,
	MaxDepth:        syntax.DefaultLimits.MaxDepth,
	MaxObjectTokens: syntax.DefaultLimits.MaxObjectTokens,
	MaxStreamBytes:  syntax.DefaultLimits.MaxStreamBytes,
	MaxTotalBytes:   syntax.DefaultLimits.MaxTotalBytes,
	MaxRevisions:    syntax.DefaultLimits.MaxRevisions,
	MaxRefChain:     syntax.DefaultLimits.MaxRefChain,
	MaxStringBytes:  syntax.DefaultLimits.MaxStringBytes,
	Timeout:         syntax.DefaultLimits.Timeout,
}

func (l Limits) syntax() syntax.Limits {
	return syntax.Limits{
		MaxObjects: l.MaxObjects, MaxXrefEntries: l.MaxXrefEntries, MaxDepth: l.MaxDepth,
		MaxObjectTokens: l.MaxObjectTokens, MaxStreamBytes: l.MaxStreamBytes, MaxTotalBytes: l.MaxTotalBytes,
		MaxRevisions: l.MaxRevisions, MaxRefChain: l.MaxRefChain, MaxStringBytes: l.MaxStringBytes,
		Timeout: l.Timeout,
	}.WithDefaults()
}

// LimitError reports which limit a document exceeded (errors.As).
type LimitError = syntax.LimitError

// SyntaxError reports malformed input at a byte offset (errors.As). Verify
// also wraps it with ErrMalformed.
type SyntaxError = syntax.SyntaxError

// ErrLimit is matched by errors.Is for every *LimitError.
var ErrLimit = syntax.ErrLimit

// VerifyOptions configures Verify.
type VerifyOptions struct {
	// Roots are the trust anchors for signer certificates, and for TSA
	// certificates too unless TSARoots or TSACertificates is set. Nil
	// means nothing is trusted (every chain is "untrusted").
	Roots *x509.CertPool
	// TSARoots and TSACertificates separate timestamp trust from signer
	// trust. When either is set, a timestamp (a signature timestamp or a
	// document timestamp) proves its time only if the TSA's certificate
	// is one of TSACertificates (compared byte for byte and valid at the
	// timestamp's time) or chains to TSARoots; a timestamp from any other
	// TSA is not trusted, even when its certificate chains to Roots and
	// has the timeStamping usage. When both are empty, Roots decide, as in
	// earlier versions.
	//
	// Set them whenever a CA under Roots issues certificates to parties
	// that must not date signatures: one such timeStamping certificate can
	// back-date a signature to before its signer's revocation. The gateway
	// pins its own time-stamping unit and the operator's TSA anchors.
	TSARoots        *x509.CertPool
	TSACertificates []*x509.Certificate
	// OCSPResponders decides which delegated OCSP responders count, in the
	// DSS, the signature's revocation attribute and online (see
	// [pki.ResponderPolicy] and [pki.PinResponders]); nil believes every
	// responder RFC 6960 allows, or Revocation's policy when it has one.
	OCSPResponders pki.ResponderPolicy
	// Intermediates help build chains, in addition to the certificates in
	// the signatures and the DSS.
	Intermediates []*x509.Certificate
	// Revocation enables online OCSP/CRL checks; nil means embedded data
	// (DSS, Adobe revocation attribute) only.
	Revocation *pki.RevocationChecker
	// Limits bounds the work done on hostile input.
	Limits Limits
	// Password opens an encrypted document that needs a user password
	// (the owner password works too). Documents encrypted with an empty
	// user password need none.
	Password []byte
	// Now returns the validation time; nil means time.Now. A signature
	// without a trusted timestamp has its chain and revocation judged as
	// of that time, so an old document can be validated as of a date on
	// which its certificates were still valid; one with a trusted
	// timestamp is judged as of the timestamp. Report.ValidationTime says
	// which time was used.
	Now func() time.Time
}

var errNoRoots = errors.New("no trust anchors configured")
