package callback

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The ss_result JSON reader. A result reaches the gateway from anyone on
// every callback, so it is read in one pass over the text, straight into
// the Result, instead of encoding/json's three (a duplicate-key scan, a
// map of raw fields, one Unmarshal per field). What it accepts and refuses
// is exactly what that reading accepted and refused (FuzzDecodeJSONEquivalence
// holds it against the old code, kept in the tests):
//   - RFC 8259 JSON, valid UTF-8, one object with only whitespace around it;
//   - objects and arrays nested at most maxDepth deep, anywhere;
//   - no key twice in any object, keys compared after unescaping;
//   - top-level names matched exactly, unknown ones ignored; inside
//     "certificate" encoding/json's rules (exact, else case-folded match);
//   - null leaves a field as it is; a value of the wrong type is an error;
//   - strings unescaped as encoding/json does (a lone surrogate escape
//     becomes U+FFFD).

// maxDepth bounds the nesting of objects and arrays; the top object is 1.
const maxDepth = 8

// Field indexes, in the order the old reader checked them: with several
// wrongly typed fields, the error names the first in this order.
const (
	fRequestID = iota
	fSuccess
	fSignatureBase64
	fSignedAt
	fCertificate
	fError
	fMessage
	fV
	fSignaturesBase64
	fSignAlgo
	fCertificateBase64
	fChainBase64
	fPINTriesLeft
	fNone
)

var fieldNames = [...]string{"requestId", "success", "signatureBase64", "signedAt", "certificate", "error", "message",
	"v", "signaturesBase64", "signAlgo", "certificateBase64", "chainBase64", "pinTriesLeft"}

func fieldOf(key string) int {
	for i, n := range fieldNames {
		if n == key {
			return i
		}
	}
	return fNone
}

// jsonReader reads JSON text s from i. err is the first syntax error; a
// wrongly typed field is typeErr (of field typeField) and reading goes on,
// so that a syntax error anywhere wins, as it did.
type jsonReader struct {
	s         string
	i         int
	err       error
	typeErr   error
	typeField int
}

func decodeJSON(raw []byte) (*Result, error) {
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("%w: JSON is not UTF-8", ErrMalformed)
	}
	d := &jsonReader{s: string(raw), typeField: fNone}
	r, hasSuccess := d.result()
	if d.err != nil {
		return nil, d.err
	}
	if d.typeErr != nil {
		return nil, d.typeErr
	}
	if !hasSuccess {
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
	return r, nil
}

func (d *jsonReader) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad JSON: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (d *jsonReader) syntax(what string) {
	if d.i >= len(d.s) {
		d.fail("unexpected end of JSON input")
		return
	}
	d.fail("invalid character %q %s at offset %d", d.s[d.i], what, d.i)
}

// wrongType records that field f holds a value of the wrong type.
func (d *jsonReader) wrongType(f int, value, goType string) {
	if f < d.typeField {
		d.typeField = f
		d.typeErr = fmt.Errorf("%w: field %q: json: cannot unmarshal %s into Go value of type %s", ErrMalformed, fieldNames[f], value, goType)
	}
}

func (d *jsonReader) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next byte, 0 at the end.
func (d *jsonReader) peek() byte {
	if d.i < len(d.s) {
		return d.s[d.i]
	}
	return 0
}

// result reads the top-level object.
func (d *jsonReader) result() (r *Result, hasSuccess bool) {
	r = &Result{}
	d.ws()
	if d.peek() != '{' {
		if d.i >= len(d.s) {
			d.fail("unexpected end of JSON input")
		} else {
			d.err = fmt.Errorf("%w: not a JSON object", ErrMalformed)
		}
		return r, false
	}
	d.i++
	d.members(func(key string) {
		switch f := fieldOf(key); f {
		case fRequestID:
			d.stringField(f, &r.RequestID, "string")
		case fSignatureBase64:
			d.stringField(f, &r.SignatureBase64, "string")
		case fSignedAt:
			d.stringField(f, &r.SignedAt, "string")
		case fMessage:
			d.stringField(f, &r.Message, "string")
		case fSignAlgo:
			d.stringField(f, &r.SignAlgo, "string")
		case fCertificateBase64:
			d.stringField(f, &r.CertificateBase64, "string")
		case fError:
			var s string
			d.stringField(f, &s, "callback.Code")
			r.Error = Code(s)
		case fSuccess:
			hasSuccess = true
			d.boolField(f, &r.Success)
		case fV:
			d.intField(f, &r.V, "int")
		case fPINTriesLeft:
			var n int
			if d.intField(f, &n, "*int") {
				r.PINTriesLeft = &n
			}
		case fSignaturesBase64:
			d.stringsField(f, &r.SignaturesBase64)
		case fChainBase64:
			d.stringsField(f, &r.ChainBase64)
		case fCertificate:
			d.certificate(f, &r.Certificate)
		default:
			d.skip(1)
		}
	})
	if d.err == nil {
		d.ws()
		if d.i < len(d.s) {
			d.err = fmt.Errorf("%w: data after the JSON object", ErrMalformed)
		}
	}
	return r, hasSuccess
}

// colon reads the ':' after a key and the whitespace around it.
func (d *jsonReader) colon() {
	d.ws()
	if d.peek() != ':' {
		d.syntax("after object key")
		return
	}
	d.i++
	d.ws()
}

// next reads what follows a member or element: ',' (true: another one
// follows) or end (false).
func (d *jsonReader) next(end byte) bool {
	if d.err != nil {
		return false
	}
	d.ws()
	switch d.peek() {
	case ',':
		d.i++
		return true
	case end:
		d.i++
		return false
	}
	d.syntax("after a value")
	return false
}

// stringField reads a string into *dst; null leaves it.
func (d *jsonReader) stringField(f int, dst *string, goType string) {
	switch c := d.peek(); c {
	case '"':
		*dst = d.str()
	case 'n':
		d.literal("null")
	default:
		d.wrongValue(f, goType, 1)
	}
}

// wrongValue skips a value that does not fit field f, after recording so.
func (d *jsonReader) wrongValue(f int, goType string, depth int) {
	start := d.i
	kind := d.skip(depth)
	if d.err != nil {
		return
	}
	if kind == "number" && (goType == "int" || goType == "*int") {
		kind = "number " + d.s[start:d.i]
	}
	d.wrongType(f, kind, goType)
}

func (d *jsonReader) boolField(f int, dst *bool) {
	switch d.peek() {
	case 't':
		if d.literal("true") {
			*dst = true
		}
	case 'f':
		if d.literal("false") {
			*dst = false
		}
	case 'n':
		d.literal("null")
	default:
		d.wrongValue(f, "bool", 1)
	}
}

// intField reads an integer into *dst and reports whether it did.
func (d *jsonReader) intField(f int, dst *int, goType string) bool {
	switch c := d.peek(); {
	case c == '-' || '0' <= c && c <= '9':
		num := d.number()
		if d.err != nil {
			return false
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || int64(int(n)) != n {
			d.wrongType(f, "number "+num, goType)
			return false
		}
		*dst = int(n)
		return true
	case c == 'n':
		d.literal("null")
	default:
		d.wrongValue(f, goType, 1)
	}
	return false
}

// stringsField reads an array of strings (null elements are "") into *dst.
func (d *jsonReader) stringsField(f int, dst *[]string) {
	switch d.peek() {
	case 'n':
		d.literal("null")
		return
	case '[':
	default:
		d.wrongValue(f, "[]string", 1)
		return
	}
	d.i++ // at depth 2, within maxDepth
	out := []string{}
	d.ws()
	if d.peek() == ']' {
		d.i++
		*dst = out
		return
	}
	for d.err == nil {
		d.ws()
		switch d.peek() {
		case '"':
			out = append(out, d.str())
		case 'n':
			d.literal("null")
			out = append(out, "")
		default:
			d.wrongValue(f, "string", 2)
		}
		if !d.next(']') {
			break
		}
	}
	*dst = out
}

// certificate reads the display summary as encoding/json reads a struct:
// a name matches a field exactly or, failing that, case-folded.
func (d *jsonReader) certificate(f int, dst **CertSummary) {
	switch d.peek() {
	case 'n':
		d.literal("null")
		return
	case '{':
	default:
		d.wrongValue(f, "*callback.CertSummary", 1)
		return
	}
	d.i++
	c := &CertSummary{}
	*dst = c
	d.members(func(key string) {
		var dst *string
		switch {
		case structNameMatch(key, "subjectCN", "SUBJECTCN"):
			dst = &c.SubjectCN
		case structNameMatch(key, "serialNumber", "SERIALNUMBER"):
			dst = &c.SerialNumber
		case structNameMatch(key, "validTo", "VALIDTO"):
			dst = &c.ValidTo
		}
		switch p := d.peek(); {
		case dst == nil:
			d.skip(2)
		case p == '"':
			*dst = d.str()
		case p == 'n':
			d.literal("null")
		default:
			d.wrongValue(f, "string", 2)
		}
	})
}

// members reads an object's members after its '{' through its '}': each
// key once (a repeated key is malformed), its ':', and then value, which
// reads the member's value.
func (d *jsonReader) members(value func(key string)) {
	var keys keySet
	d.ws()
	if d.peek() == '}' {
		d.i++
		return
	}
	for d.err == nil {
		d.ws()
		key := d.str()
		if d.err != nil {
			return
		}
		if !keys.add(key) {
			d.err = fmt.Errorf("%w: key %q twice", ErrMalformed, key)
			return
		}
		d.colon()
		value(key)
		if !d.next('}') {
			return
		}
	}
}

// structNameMatch is encoding/json's match of an object key to a struct
// field: the exact name, else the same after case folding (folded is the
// name folded: ASCII upper case).
func structNameMatch(key, name, folded string) bool {
	if key == name {
		return true
	}
	var buf [64]byte
	out := buf[:0]
	for i := 0; i < len(key); {
		if len(out) > len(folded) {
			return false
		}
		c := key[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(key[i:])
		out = utf8.AppendRune(out, foldRune(r))
		i += n
	}
	return string(out) == folded
}

// foldRune is encoding/json's: the smallest rune of r's fold set.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// skip reads any value at nesting depth (of the object or array holding
// it), checking syntax, depth and duplicate keys, and returns its kind as
// encoding/json names it in type errors.
func (d *jsonReader) skip(depth int) string {
	switch c := d.peek(); {
	case c == '"':
		d.str()
		return "string"
	case c == '{':
		d.i++
		if depth+1 > maxDepth {
			d.fail("JSON nested too deeply")
			return ""
		}
		var keys keySet
		d.ws()
		if d.peek() == '}' {
			d.i++
			return "object"
		}
		for d.err == nil {
			d.ws()
			key := d.str()
			if d.err != nil {
				break
			}
			if !keys.add(key) {
				d.err = fmt.Errorf("%w: key %q twice", ErrMalformed, key)
				break
			}
			d.colon()
			d.skip(depth + 1)
			if !d.next('}') {
				break
			}
		}
		return "object"
	case c == '[':
		d.i++
		if depth+1 > maxDepth {
			d.fail("JSON nested too deeply")
			return ""
		}
		d.ws()
		if d.peek() == ']' {
			d.i++
			return "array"
		}
		for d.err == nil {
			d.ws()
			d.skip(depth + 1)
			if !d.next(']') {
				break
			}
		}
		return "array"
	case c == 't':
		d.literal("true")
		return "bool"
	case c == 'f':
		d.literal("false")
		return "bool"
	case c == 'n':
		d.literal("null")
		return "null"
	case c == '-' || '0' <= c && c <= '9':
		d.number()
		return "number"
	}
	d.syntax("looking for beginning of value")
	return ""
}

func (d *jsonReader) literal(lit string) bool {
	if len(d.s)-d.i >= len(lit) && d.s[d.i:d.i+len(lit)] == lit {
		d.i += len(lit)
		return true
	}
	for k := 0; k < len(lit) && d.i < len(d.s) && d.s[d.i] == lit[k]; k++ {
		d.i++
	}
	d.syntax("in literal " + lit)
	return false
}

// number reads a number (RFC 8259 grammar) and returns its text.
func (d *jsonReader) number() string {
	start := d.i
	s := d.s
	i := d.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		d.i = i
		d.syntax("in numeric literal")
		return ""
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			d.i = i
			d.syntax("after decimal point in numeric literal")
			return ""
		}
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			d.i = i
			d.syntax("in exponent of numeric literal")
			return ""
		}
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	d.i = i
	return s[start:i]
}

// str reads a string and returns it unescaped. Without escapes it is a
// substring of the text (no copy).
func (d *jsonReader) str() string {
	if d.err != nil {
		return ""
	}
	if d.peek() != '"' {
		d.syntax("looking for beginning of a string")
		return ""
	}
	start := d.i + 1
	for i := start; i < len(d.s); i++ {
		switch c := d.s[i]; {
		case c == '"':
			d.i = i + 1
			return d.s[start:i]
		case c == '\\':
			return d.strEscaped(start, i)
		case c < 0x20:
			d.i = i
			d.syntax("in string literal")
			return ""
		}
	}
	d.i = len(d.s)
	d.syntax("in string literal")
	return ""
}

// strEscaped is str for a string with an escape at i, unescaping as
// encoding/json does.
func (d *jsonReader) strEscaped(start, i int) string {
	s := d.s
	b := make([]byte, 0, len(s)-start)
	b = append(b, s[start:i]...)
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			d.i = i + 1
			return string(b)
		case c < 0x20:
			d.i = i
			d.syntax("in string literal")
			return ""
		case c != '\\':
			b = append(b, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			d.i = len(s)
			d.syntax("in string escape code")
			return ""
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(s, i)
			if r < 0 {
				d.i = i + 2
				for k := 0; k < 4 && d.i < len(s) && isHex(s[d.i]); k++ {
					d.i++
				}
				d.syntax("in \\u hexadecimal character escape")
				return ""
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if dec := utf16.DecodeRune(r, hex4(s, i)); dec != unicode.ReplacementChar {
					b = utf8.AppendRune(b, dec)
					i += 6
					continue
				}
				r = unicode.ReplacementChar
			}
			b = utf8.AppendRune(b, r)
			continue
		default:
			d.i = i + 1
			d.syntax("in string escape code")
			return ""
		}
		i += 2
	}
	d.i = len(s)
	d.syntax("in string literal")
	return ""
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// hex4 decodes \uXXXX at s[i:], or returns -1.
func hex4(s string, i int) rune {
	if i+6 > len(s) || s[i] != '\\' || s[i+1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range []byte(s[i+2 : i+6]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// keySet is the keys of one object: a few in place, a map past that.
type keySet struct {
	small [16]string
	n     int
	m     map[string]struct{}
}

// add adds k and reports whether it was new.
func (ks *keySet) add(k string) bool {
	if ks.m != nil {
		if _, ok := ks.m[k]; ok {
			return false
		}
		ks.m[k] = struct{}{}
		return true
	}
	for _, x := range ks.small[:ks.n] {
		if x == k {
			return false
		}
	}
	if ks.n < len(ks.small) {
		ks.small[ks.n] = k
		ks.n++
		return true
	}
	ks.m = make(map[string]struct{}, 2*len(ks.small))
	for _, x := range ks.small {
		ks.m[x] = struct{}{}
	}
	ks.m[k] = struct{}{}
	return true
}
