package callback

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Version is the protocol version results carry in "v".
const Version = 1

// MaxEncodedSize is the largest ss_result, encoded, that Decode accepts.
const MaxEncodedSize = 64 << 10

// MaxRedirectSize is the largest encoded result RedirectURL puts in a URL;
// larger ones go by POST.
const MaxRedirectSize = 8000

// Result is ss_result: what the signing app returns. Field names and forms
// follow PROTOCOL.md §2: the legacy fields (requestId, success,
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

// decodeB64 accepts both alphabets, padded or not.
func decodeB64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.Map(func(r rune) rune {
		switch r {
		case '-':
			return '+'
		case '_':
			return '/'
		case ' ':
			return '+'
		}
		return r
	}, s)
	return base64.RawStdEncoding.Strict().DecodeString(s)
}

func decodeJSON(raw []byte) (*Result, error) {
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("%w: JSON is not UTF-8", ErrMalformed)
	}
	if err := checkDuplicateKeys(raw); err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	var r Result
	for _, f := range []struct {
		name string
		dst  any
	}{
		{"requestId", &r.RequestID}, {"success", &r.Success}, {"signatureBase64", &r.SignatureBase64},
		{"signedAt", &r.SignedAt}, {"certificate", &r.Certificate}, {"error", &r.Error}, {"message", &r.Message},
		{"v", &r.V}, {"signaturesBase64", &r.SignaturesBase64}, {"signAlgo", &r.SignAlgo},
		{"certificateBase64", &r.CertificateBase64}, {"chainBase64", &r.ChainBase64}, {"pinTriesLeft", &r.PINTriesLeft},
	} {
		v, ok := fields[f.name]
		if !ok || string(v) == "null" {
			continue
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return nil, fmt.Errorf("%w: field %q: %v", ErrMalformed, f.name, err)
		}
	}
	if _, ok := fields["success"]; !ok {
		return nil, fmt.Errorf("%w: no \"success\"", ErrMalformed)
	}
	if r.RequestID == "" {
		return nil, fmt.Errorf("%w: no \"requestId\"", ErrMalformed)
	}
	if r.V != 0 && r.V != Version {
		return nil, fmt.Errorf("%w: v=%d", ErrUnsupportedVersion, r.V)
	}
	if !r.Success && r.Error == "" {
		return nil, fmt.Errorf("%w: a failure without \"error\"", ErrMalformed)
	}
	return &r, nil
}

// checkDuplicateKeys refuses an object with a key twice at any depth, as in
// {"success":false,…,"success":true}: parsers disagree on which one wins.
func checkDuplicateKeys(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	type frame struct {
		obj  bool
		keys map[string]bool
		key  bool // next string token is a key
	}
	var stack []*frame
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) && depth == 0 {
				return nil
			}
			return fmt.Errorf("%w: bad JSON: %v", ErrMalformed, err)
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if depth == 0 && t != '{' {
					return fmt.Errorf("%w: not a JSON object", ErrMalformed)
				}
				depth++
				if depth > 8 {
					return fmt.Errorf("%w: JSON nested too deeply", ErrMalformed)
				}
				if top != nil && top.obj {
					top.key = true
				}
				stack = append(stack, &frame{obj: t == '{', keys: map[string]bool{}, key: t == '{'})
			case '}', ']':
				depth--
				stack = stack[:len(stack)-1]
				if depth == 0 && dec.More() {
					return fmt.Errorf("%w: data after the JSON object", ErrMalformed)
				}
			}
		default:
			if top == nil {
				return fmt.Errorf("%w: not a JSON object", ErrMalformed)
			}
			if top.obj && top.key {
				k, _ := t.(string)
				if top.keys[k] {
					return fmt.Errorf("%w: key %q twice", ErrMalformed, k)
				}
				top.keys[k] = true
				top.key = false
			} else if top.obj {
				top.key = true
			}
		}
	}
}
