package callback

import (
	"bytes"
	"crypto"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/securesign/securesign/signer"
)

// decodeVectors are JSON texts on the edges of what the reader accepts.
var decodeVectors = []string{
	`{"requestId":"r","success":true,"signatureBase64":"AQ==","v":1,"signaturesBase64":["AQ=="],"certificate":{"subjectCN":"x"}}`,
	`{"requestId":"r","success":false,"error":"SS_PIN_INVALID","message":"Wrong PIN","v":1,"pinTriesLeft":2}`,
	`{"requestId":"r","success":false,"error":"SS_SIGN_CANCELLED","success":true}`,
	`{"requestId":"r","Success":true}`,
	` {"requestId":"r","success":true} `,
	"\t\r\n{\"requestId\" : \"r\" ,\n\"success\"\t:\rtrue}\n",
	`{"requestId":"r","success":true}{}`,
	`{"requestId":"r","success":true}}`,
	`{"requestId":"r","success":true}]`,
	`{"requestId":"r","success":true} x`,
	`{"requestId":"r","success":true,}`,
	`{"requestId":"r",,"success":true}`,
	`{"requestId":"r" "success":true}`,
	`{"requestId":"r","success":true`,
	`{"requestId":"r","success":tru}`,
	`{"requestId":"r","success":truex}`,
	`{"requestId":"r","success":null}`,
	`{"requestId":"r","success":null,"error":"SS_X"}`,
	`{"requestId":null,"success":true}`,
	`{"requestId":"","success":true}`,
	`{"requestId":7,"success":true}`,
	`{"requestId":"r","success":"true"}`,
	`{"requestId":"r","success":1}`,
	`{"requestId":"r","success":[]}`,
	`{"requestId":"r","success":{}}`,
	`{"requestId":["r"],"success":true}`,
	`{"requestId":{"a":1},"success":true}`,
	`{"requ\u0065stId":"r","success":true}`,
	`{"requestId":"r","requ\u0065stId":"s","success":true}`,
	`{"requestId":"r\u0000\n\"\\\/\b\f\r\t","success":true}`,
	`{"requestId":"\ud83d\ude00","success":true}`,
	`{"requestId":"\ud83d","success":true}`,
	`{"requestId":"\ude00\ud83d","success":true}`,
	`{"requestId":"\ud83d\u0041","success":true}`,
	`{"requestId":"\ud83d\ud83d\ude00","success":true}`,
	`{"requestId":"\ud83d\u12","success":true}`,
	`{"requestId":"\u12G4","success":true}`,
	`{"requestId":"\x","success":true}`,
	`{"requestId":"\'","success":true}`,
	"{\"requestId\":\"a\tb\",\"success\":true}",
	`{"requestId":"r","success":true,"x":{"\ud800":1,"\udc00":2}}`,
	`{"requestId":"r","success":true,"x":{"\ufffd":1,"\udc00":2}}`,
	`{"requestId":"r","success":true,"x":{"a":1,"b":{"a":1}}}`,
	`{"requestId":"r","success":true,"x":{"a":1,"a":2}}`,
	`{"requestId":"r","success":true,"x":[{"a":1},{"a":2}]}`,
	`{"requestId":"r","success":true,"x":[[[[[[[1]]]]]]]}`,
	`{"requestId":"r","success":true,"x":[[[[[[[[1]]]]]]]]}`,
	`{"requestId":"r","success":true,"x":{"a":{"a":{"a":{"a":{"a":{"a":{}}}}}}}}`,
	`{"requestId":"r","success":true,"x":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{}}}}}}}}}`,
	`{"requestId":"r","success":true,"certificate":{"x":[[[[[[1]]]]]]}}`,
	`{"requestId":"r","success":true,"certificate":{"x":[[[[[[[1]]]]]]]}}`,
	`{"requestId":"r","success":true,"chainBase64":[[[[[[[1]]]]]]]}`,
	`{"requestId":"r","success":true,"chainBase64":[[[[[[[[1]]]]]]]]}`,
	`{"requestId":"r","success":true,"x":[1,-0,0.5,-1.5e10,1E+2,1e-2,true,false,null,"s",{},[]]}`,
	`{"requestId":"r","success":true,"x":01}`,
	`{"requestId":"r","success":true,"x":-}`,
	`{"requestId":"r","success":true,"x":1.}`,
	`{"requestId":"r","success":true,"x":.5}`,
	`{"requestId":"r","success":true,"x":1e}`,
	`{"requestId":"r","success":true,"x":+1}`,
	`{"requestId":"r","success":true,"x":NaN}`,
	`{"requestId":"r","success":true,"v":1}`,
	`{"requestId":"r","success":true,"v":2}`,
	`{"requestId":"r","success":true,"v":-0}`,
	`{"requestId":"r","success":true,"v":0}`,
	`{"requestId":"r","success":true,"v":1.0}`,
	`{"requestId":"r","success":true,"v":1e0}`,
	`{"requestId":"r","success":true,"v":"1"}`,
	`{"requestId":"r","success":true,"v":null}`,
	`{"requestId":"r","success":true,"v":99999999999999999999}`,
	`{"requestId":"r","success":true,"v":-9223372036854775808}`,
	`{"requestId":"","success":true,"v":2}`,
	`{"success":true,"v":2}`,
	`{"requestId":"r","v":2}`,
	`{"requestId":"r","success":false,"v":2}`,
	`{"requestId":"r","success":false,"error":"SS_X","pinTriesLeft":null}`,
	`{"requestId":"r","success":false,"error":"SS_X","pinTriesLeft":-3}`,
	`{"requestId":"r","success":false,"error":"SS_X","pinTriesLeft":2.5}`,
	`{"requestId":"r","success":false,"error":"SS_X","pinTriesLeft":"2"}`,
	`{"requestId":"r","success":false,"error":null}`,
	`{"requestId":"r","success":false,"error":7}`,
	`{"requestId":"r","success":true,"signaturesBase64":[]}`,
	`{"requestId":"r","success":true,"signaturesBase64":[null,"a",null]}`,
	`{"requestId":"r","success":true,"signaturesBase64":["a",1]}`,
	`{"requestId":"r","success":true,"signaturesBase64":["a",{"x":1,"x":2}]}`,
	`{"requestId":"r","success":true,"signaturesBase64":"a"}`,
	`{"requestId":"r","success":true,"signaturesBase64":["a",]}`,
	`{"requestId":"r","success":true,"chainBase64":[ ]}`,
	`{"requestId":"r","success":true,"chainBase64":null}`,
	`{"requestId":"r","success":true,"certificate":null}`,
	`{"requestId":"r","success":true,"certificate":{}}`,
	`{"requestId":"r","success":true,"certificate":[]}`,
	`{"requestId":"r","success":true,"certificate":"x"}`,
	`{"requestId":"r","success":true,"certificate":{"SUBJECTCN":"a","SerialNumber":"b","validto":"c"}}`,
	`{"requestId":"r","success":true,"certificate":{"subjectCN":"a","SubjectCN":"b"}}`,
	`{"requestId":"r","success":true,"certificate":{"SubjectCN":"b","subjectCN":"a"}}`,
	`{"requestId":"r","success":true,"certificate":{"subjectCN":"a","SubjectCN":null}}`,
	`{"requestId":"r","success":true,"certificate":{"subjectCN":"a","subjectCN":"b"}}`,
	`{"requestId":"r","success":true,"certificate":{"ſubjectCN":"a","\u017ferialNumber":"b"}}`,
	`{"requestId":"r","success":true,"certificate":{"subjectCN":1}}`,
	`{"requestId":"r","success":true,"certificate":{"subjectCN":"a","other":{"x":[1,{"y":2}]}}}`,
	`{"requestId":"r","success":true,"certificate":{"subjectCN":"a",}}`,
	`{"requestId":"r","success":true,"certificate":{"subjectCN":"a"},"certificate":null}`,
	`{"requestId":"r","success":false,"error":"SS_X","message":"\u003c\u0026\u003e ÿ राजेश"}`,
	`{"requestId":"r","success":false,"error":"SS_X","message":7,"v":"x","requestId":1}`,
	`{"requestId":7,"success":false,"v":1.5}`,
	`{"v":1.5,"requestId":7}`,
	`{"requestId":"r","success":true,"x":"\ud83d\ude00","y":"\u00e9"}`,
	`{}`,
	`{ }`,
	`[]`,
	`"x"`,
	`null`,
	`1`,
	``,
	` `,
	`hello`,
	`{"a":}`,
	`{"a"}`,
	`{a:1}`,
	`{"requestId":"r","success":true,"":1,"":2}`,
	"{\"requestId\":\"r\xff\",\"success\":true}",
	"{\"requestId\":\"r\",\"success\":true}\x00",
	"\ufeff{\"requestId\":\"r\",\"success\":true}",
	"{\"requestId\":\"r\u2028\",\"success\":true}",
}

// checkDecodeSame fails t unless the one-pass reader and the old one agree
// on raw: both refuse (for the same reason class and, for the checks after
// parsing, in the same words) or both return the same Result.
func checkDecodeSame(t *testing.T, raw []byte) {
	t.Helper()
	want, wantErr := oldDecodeJSON(bytes.Clone(raw))
	got, err := decodeJSON(raw)
	if (wantErr == nil) != (err == nil) {
		t.Fatalf("%q: old reader %v, new reader %v", raw, wantErr, err)
	}
	if wantErr != nil {
		for _, sentinel := range []error{ErrMalformed, ErrUnsupportedVersion, ErrTooLarge} {
			if errors.Is(wantErr, sentinel) != errors.Is(err, sentinel) {
				t.Fatalf("%q: old reader %v, new reader %v", raw, wantErr, err)
			}
		}
		// Past the syntax, the same checks run in the same order.
		semantic := strings.Contains(wantErr.Error(), ": field ") || strings.Contains(wantErr.Error(), ": no \"") ||
			strings.Contains(wantErr.Error(), "a failure without") || errors.Is(wantErr, ErrUnsupportedVersion)
		if semantic {
			field := func(e error) string {
				s := e.Error()
				if i := strings.Index(s, ": json:"); i >= 0 {
					return s[:i]
				}
				return s
			}
			if field(wantErr) != field(err) {
				t.Fatalf("%q: old reader %v, new reader %v", raw, wantErr, err)
			}
		}
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%q: results differ (-old +new):\n%s", raw, diff)
	}
}

func TestDecodeJSONSameAsOld(t *testing.T) {
	for _, v := range decodeVectors {
		checkDecodeSame(t, []byte(v))
	}
	for _, r := range goldenResults() {
		s := enc(t, r)
		raw, err := decodeB64(s)
		if err != nil {
			t.Fatal(err)
		}
		checkDecodeSame(t, raw)
	}
	// Many keys (the key set's map), at the top and nested.
	var b strings.Builder
	b.WriteString(`{"requestId":"r","success":true`)
	for i := range 40 {
		b.WriteString(`,"k` + strings.Repeat("x", i) + `":{"a":1,"b":2}`)
	}
	checkDecodeSame(t, []byte(b.String()+"}"))
	checkDecodeSame(t, []byte(b.String()+`,"kxxx":1}`))
	checkDecodeSame(t, []byte(b.String()+`,"k":1}`))
}

// FuzzDecodeJSONEquivalence: the one-pass reader accepts and refuses
// exactly what the old encoding/json reader did, with the same result.
func FuzzDecodeJSONEquivalence(f *testing.F) {
	for _, v := range decodeVectors {
		f.Add([]byte(v))
	}
	for _, r := range goldenResults() {
		raw, _ := decodeB64(enc(f, r))
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkDecodeSame(t, raw)
	})
}

// FuzzDecodeB64Equivalence: decodeB64 reads what it read before.
func FuzzDecodeB64Equivalence(f *testing.F) {
	for _, s := range []string{"", "AQ==", "AQ", "A-_B", "A+/B", "A B=", "AQ=\n=", "A\r\nQ", "AQ==AQ", "ÿÿ", "-\xff_", "AQ-\xe0", "=", "A", "AB=C"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, wantErr := oldDecodeB64(s)
		got, err := decodeB64(s)
		if (wantErr == nil) != (err == nil) || (err == nil && !bytes.Equal(want, got)) {
			t.Fatalf("%q: old %x %v, new %x %v", s, want, wantErr, got, err)
		}
	})
}

// benchPayload is a typical success: RSA-2048 signature, leaf and one
// intermediate.
func benchPayload(b *testing.B) string {
	f := newFixture(b)
	d := sum(crypto.SHA256, "bench")
	sig := sign(b, f.rsa, signer.RSAPKCS1v15, crypto.SHA256, [][]byte{d})
	r, err := NewSuccess("bench-000000001", signer.RSAPKCS1v15, sig, f.rsa.Cert, f.rsa.Chain, f.now)
	if err != nil {
		b.Fatal(err)
	}
	return url.QueryEscape(enc(b, r)) // as a form body carries it, unescaped below
}

func BenchmarkDecodeResult(b *testing.B) {
	s, _ := url.QueryUnescape(benchPayload(b))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeResultOld is the encoding/json reader it replaced.
func BenchmarkDecodeResultOld(b *testing.B) {
	s, _ := url.QueryUnescape(benchPayload(b))
	b.ReportAllocs()
	for b.Loop() {
		raw, err := oldDecodeB64(s)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := oldDecodeJSON(raw); err != nil {
			b.Fatal(err)
		}
	}
}
