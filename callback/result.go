package callback

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Version is the protocol version results carry in "v".
const Version = 1

// MaxEncodedSize is the largest ss_result, encoded, that Decode accepts.
const MaxEncodedSize = 64 << 10

// MaxRedirectSize is the largest encoded result RedirectURL puts in a URL;
// larger ones go by POST.
const MaxRedirectSize = 8000

// Result is ss_result: what the signing app returns. Field names and forms
// follow docs/protocol.md §2: the legacy fields (requestId, success,
// signatureBase64, signedAt, certificate, error, message) and the
// extensions. Binary values stay in their wire form (standard base64)
// here; [Result.Signatures] and [Result.Certificates] decode them.
type Result struct {
	RequestID       string       `json:"requestId"`
	Success         bool         `json:"success"`
	SignatureBase64 string       `json:"signatureBase64,omitempty"`
	SignedAt        string       `json:"signedAt,omitempty"`
	Certificate     *CertSummary `json:"certificate,omitempty"`
	Error           Code         `json:"error,omitempty"`
	Message         string       `json:"message,omitempty"`

	// Extensions.
	V                 int      `json:"v,omitempty"`
	SignaturesBase64  []string `json:"signaturesBase64,omitempty"`
	SignAlgo          string   `json:"signAlgo,omitempty"`
	CertificateBase64 string   `json:"certificateBase64,omitempty"`
	ChainBase64       []string `json:"chainBase64,omitempty"`
	// PINTriesLeft is set with SS_PIN_INVALID when the token tells.
	PINTriesLeft *int `json:"pinTriesLeft,omitempty"`
}

// CertSummary is the display summary of the signer certificate.
type CertSummary struct {
	SubjectCN    string `json:"subjectCN,omitempty"`
	SerialNumber string `json:"serialNumber,omitempty"`
	ValidTo      string `json:"validTo,omitempty"`
}

// maxSignatures bounds the signatures (MaxHashes of deeplink) and chain
// certificates a result may carry.
const (
	maxSignatures = 50
	maxChain      = 10
)

// Signatures returns the decoded signatures: signaturesBase64 when present
// (and then signatureBase64, if present, must equal its first element),
// else signatureBase64 alone.
func (r *Result) Signatures() ([][]byte, error) {
	list := r.SignaturesBase64
	if len(list) == 0 {
		if r.SignatureBase64 == "" {
			return nil, nil
		}
		list = []string{r.SignatureBase64}
	} else if r.SignatureBase64 != "" && r.SignatureBase64 != list[0] {
		return nil, fmt.Errorf("%w: signatureBase64 is not the first of signaturesBase64", ErrMalformed)
	}
	if len(list) > maxSignatures {
		return nil, fmt.Errorf("%w: %d signatures, at most %d", ErrSignatureCount, len(list), maxSignatures)
	}
	out := make([][]byte, len(list))
	for i, s := range list {
		b, err := decodeB64(s)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("%w: signature %d is not base64", ErrMalformed, i+1)
		}
		out[i] = b
	}
	return out, nil
}

// Certificates returns the parsed certificateBase64 (nil when absent) and
// chainBase64.
func (r *Result) Certificates() (*x509.Certificate, []*x509.Certificate, error) {
	return r.certificates(x509.ParseCertificate)
}

// certificates is Certificates with parse for x509.ParseCertificate.
func (r *Result) certificates(parse func(der []byte) (*x509.Certificate, error)) (*x509.Certificate, []*x509.Certificate, error) {
	var leaf *x509.Certificate
	if r.CertificateBase64 != "" {
		der, err := decodeB64(r.CertificateBase64)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: certificateBase64 is not base64", ErrCertificate)
		}
		if leaf, err = parse(der); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrCertificate, err)
		}
	}
	if len(r.ChainBase64) > maxChain {
		return nil, nil, fmt.Errorf("%w: %d chain certificates, at most %d", ErrCertificate, len(r.ChainBase64), maxChain)
	}
	var chain []*x509.Certificate
	for i, s := range r.ChainBase64 {
		der, err := decodeB64(s)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: chainBase64[%d] is not base64", ErrCertificate, i)
		}
		c, err := parse(der)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: chainBase64[%d]: %v", ErrCertificate, i, err)
		}
		chain = append(chain, c)
	}
	return leaf, chain, nil
}

// Encode writes r as ss_result: JSON, standard base64 with padding. A zero
// V is written as 1.
func Encode(r *Result) (string, error) {
	if r == nil || r.RequestID == "" {
		return "", fmt.Errorf("%w: no requestId", ErrMalformed)
	}
	if !r.Success && r.Error == "" {
		return "", fmt.Errorf("%w: a failure needs an error code", ErrMalformed)
	}
	c := *r
	if c.V == 0 {
		c.V = Version
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&c); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// Decode reads ss_result: standard or URL-safe base64, padded or not (a
// space is read as "+", which un-escaped form data turns it into), at most
// MaxEncodedSize bytes, holding one JSON object. The JSON is read strictly:
// valid UTF-8, no duplicated keys, the right types, nothing after the
// object, and field names matched exactly (not case-insensitively, as
// encoding/json would). Unknown fields are ignored. A failure must name
// its error code; "v" must be absent (legacy) or 1.
func Decode(s string) (*Result, error) {
	if len(s) > MaxEncodedSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(s), MaxEncodedSize)
	}
	raw, err := decodeB64(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64", ErrMalformed)
	}
	return decodeJSON(raw)
}

// rawStdStrict is the decoder of decodeB64 (Strict copies the encoding,
// so it is made once).
var rawStdStrict = base64.RawStdEncoding.Strict()

// decodeB64 accepts both alphabets, padded or not.
func decodeB64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.IndexByte(s, '-') >= 0 || strings.IndexByte(s, '_') >= 0 || strings.IndexByte(s, ' ') >= 0 {
		// Byte by byte: these are ASCII, and any byte that is not base64
		// (as a broken UTF-8 sequence) fails the decoding either way.
		b := []byte(s)
		for i, c := range b {
			switch c {
			case '-', ' ':
				b[i] = '+'
			case '_':
				b[i] = '/'
			}
		}
		out := make([]byte, rawStdStrict.DecodedLen(len(b)))
		n, err := rawStdStrict.Decode(out, b)
		return out[:n], err
	}
	return rawStdStrict.DecodeString(s)
}
