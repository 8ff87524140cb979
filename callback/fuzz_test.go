package callback

import (
	"encoding/base64"
	"testing"
)

// FuzzDecodeResult: Decode never panics; what it accepts re-encodes and
// decodes to the same result.
func FuzzDecodeResult(f *testing.F) {
	for _, s := range []string{
		`{"requestId":"r","success":true,"signatureBase64":"AQ==","v":1,"signaturesBase64":["AQ=="],"certificate":{"subjectCN":"x"}}`,
		`{"requestId":"r","success":false,"error":"SS_PIN_INVALID","message":"Wrong PIN","v":1,"pinTriesLeft":2}`,
		`{"requestId":"r","success":false,"error":"SS_SIGN_CANCELLED","success":true}`,
		`{"requestId":"r","Success":true}`,
	} {
		f.Add(base64.StdEncoding.EncodeToString([]byte(s)))
		f.Add(base64.RawURLEncoding.EncodeToString([]byte(s)))
	}
	f.Add("!!")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Decode(s)
		if err != nil {
			return
		}
		e, err := Encode(r)
		if err != nil {
			t.Fatalf("decoded result does not encode: %v", err)
		}
		r2, err := Decode(e)
		if err != nil {
			t.Fatalf("re-encoded result does not decode: %v", err)
		}
		if r2.RequestID != r.RequestID || r2.Success != r.Success || r2.Error != r.Error ||
			len(r2.SignaturesBase64) != len(r.SignaturesBase64) || r2.CertificateBase64 != r.CertificateBase64 {
			t.Fatalf("round trip changed the result: %+v vs %+v", r, r2)
		}
		// Accessors never panic either.
		_, _ = r.Signatures()
		_, _, _ = r.Certificates()
		_, _ = resultHash(r)
	})
}
