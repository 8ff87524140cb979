package callback

// The reader of ss_result JSON before decode.go: encoding/json with a
// separate duplicate-key scan. Kept as the reference the one-pass reader
// must agree with (FuzzDecodeJSONEquivalence).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

func oldDecodeJSON(raw []byte) (*Result, error) {
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("%w: JSON is not UTF-8", ErrMalformed)
	}
	if err := oldCheckDuplicateKeys(raw); err != nil {
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

// oldCheckDuplicateKeys refuses an object with a key twice at any depth, as in
// {"success":false,…,"success":true}: parsers disagree on which one wins.
func oldCheckDuplicateKeys(raw []byte) error {
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

// oldDecodeB64 is decodeB64 before it mapped bytes itself.
func oldDecodeB64(s string) ([]byte, error) {
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
