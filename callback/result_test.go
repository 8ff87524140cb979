package callback

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

func TestEncodeDecode(t *testing.T) {
	two := 2
	tests := []*Result{
		{
			RequestID: "r1", Success: true, SignatureBase64: "AQID", SignedAt: "2026-06-22T10:30:00Z",
			Certificate:      &CertSummary{SubjectCN: "राजेश कुमार <&>", SerialNumber: "4a3b2c1d", ValidTo: "2027-01-01"},
			V:                1,
			SignaturesBase64: []string{"AQID", "BAUG"}, SignAlgo: "ECDSA", CertificateBase64: "MIIB", ChainBase64: []string{"MIIC"},
		},
		{RequestID: "r2", Success: false, Error: CodePINInvalid, Message: "Wrong PIN", V: 1, PINTriesLeft: &two},
	}
	for _, r := range tests {
		s := enc(t, r)
		if _, err := base64.StdEncoding.Strict().DecodeString(s); err != nil {
			t.Errorf("Encode did not write padded standard base64: %v", err)
		}
		got, err := Decode(s)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestDecode(t *testing.T) {
	b := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	// A payload whose base64 has + and / in it, to tell the alphabets apart.
	j := `{"requestId":"req-1","success":false,"error":"SS_SIGN_CANCELLED","message":"ÿÿÿ>>>???"}`
	std := b(j)
	if !strings.ContainsAny(std, "+/") {
		t.Fatal("test payload has no + or /")
	}
	tests := []struct {
		name, in string
		want     error // nil: decodes
	}{
		{"standard padded", std, nil},
		{"standard unpadded", strings.TrimRight(std, "="), nil},
		{"URL-safe padded", strings.NewReplacer("+", "-", "/", "_").Replace(std), nil},
		{"URL-safe unpadded", strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(std), "="), nil},
		{"form-decoded plus", strings.ReplaceAll(std, "+", " "), nil},
		{"legacy without v", b(`{"requestId":"r","success":true,"signatureBase64":"AQ=="}`), nil},
		{"unknown fields ignored", b(`{"requestId":"r","success":true,"future":{"x":[1,2]},"signatureBase64":"AQ=="}`), nil},
		{"null fields", b(`{"requestId":"r","success":true,"certificate":null,"chainBase64":null}`), nil},
		{"too large", strings.Repeat("A", MaxEncodedSize+1), ErrTooLarge},
		{"empty", "", ErrMalformed},
		{"not base64", "%%%%", ErrMalformed},
		{"bad padding", std[:len(std)-1] + "=", ErrMalformed},
		{"not JSON", b("hello"), ErrMalformed},
		{"truncated JSON", b(`{"requestId":"r","success":tru`), ErrMalformed},
		{"trailing data", b(`{"requestId":"r","success":true}{}`), ErrMalformed},
		{"trailing garbage", b(`{"requestId":"r","success":true} x`), ErrMalformed},
		{"array", b(`[]`), ErrMalformed},
		{"string", b(`"x"`), ErrMalformed},
		{"null", b(`null`), ErrMalformed},
		{"no success", b(`{"requestId":"r"}`), ErrMalformed},
		{"no requestId", b(`{"success":true}`), ErrMalformed},
		{"success as string", b(`{"requestId":"r","success":"true"}`), ErrMalformed},
		{"requestId as number", b(`{"requestId":7,"success":true}`), ErrMalformed},
		{"duplicate key", b(`{"requestId":"r","success":false,"error":"SS_SIGN_CANCELLED","success":true}`), ErrMalformed},
		{"duplicate nested key", b(`{"requestId":"r","success":true,"certificate":{"subjectCN":"a","subjectCN":"b"}}`), ErrMalformed},
		{"case-folded key is not the field", b(`{"requestId":"r","Success":true}`), ErrMalformed},
		{"invalid UTF-8", b("{\"requestId\":\"r\xff\",\"success\":true}"), ErrMalformed},
		{"NUL", b("{\"requestId\":\"r\",\"success\":true}\x00"), ErrMalformed},
		{"failure without error", b(`{"requestId":"r","success":false}`), ErrMalformed},
		{"version 2", b(`{"requestId":"r","success":true,"v":2}`), ErrUnsupportedVersion},
		{"deep nesting", b(`{"requestId":"r","success":true,"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Decode(tc.in)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if r.RequestID == "" {
					t.Error("no requestId")
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("Decode: %v, want %v", err, tc.want)
			}
		})
	}
	r, err := Decode(std)
	if err != nil || r.Message != "ÿÿÿ>>>???" || r.Error != CodeSignCancelled {
		t.Errorf("decoded %+v, %v", r, err)
	}
}

func TestCodeOf(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("outer: %w", err) }
	_, linkErr := deeplink.Parse("securesign://sign?requestId=x", testNowLink)
	_, expErr := deeplink.Parse("securesign://sign?requestId=abcdefgh&hashBase64=47DEQpj8HBSa%2B%2FTImW%2B5JCeuQeRkm5NMpJWZG3hSuFU%3D&callbackUrl=https%3A%2F%2Fa.example%2Fcb&origin=https%3A%2F%2Fa.example&exp=1000", testNowLink)
	tests := []struct {
		err  error
		want Code
	}{
		{nil, ""},
		{&signer.PINError{TriesLeft: 2, Err: signer.ErrPINIncorrect}, CodePINInvalid},
		{wrap(signer.ErrPINIncorrect), CodePINInvalid},
		{&signer.PINError{TriesLeft: 0, Err: signer.ErrPINLocked}, CodePINBlocked},
		{wrap(signer.ErrTokenNotFound), CodeTokenNotFound},
		{wrap(signer.ErrCertNotFound), CodeCertNotFound},
		{wrap(signer.ErrKeyNotFound), CodeCertNotFound},
		{wrap(signer.ErrUnsupportedAlgorithm), CodeUnsupported},
		{signer.ErrSignatureInvalid, CodeInternal},
		{linkErr, CodeLinkInvalid},
		{expErr, CodeLinkExpired},
		{wrap(deeplink.ErrSignature), CodeLinkInvalid},
		{wrap(deeplink.ErrUnknownKey), CodeLinkInvalid},
		{wrap(deeplink.ErrFetch), CodeLinkInvalid},
		{wrap(deeplink.ErrUnsupportedDocumentType), CodeUnsupported},
		{wrap(deeplink.ErrUnsupportedHashAlgo), CodeUnsupported},
		{wrap(pki.ErrOutsideValidity), CodeCertExpired},
		{wrap(pki.ErrUntrusted), CodeCertUntrusted},
		{wrap(pki.ErrRevoked), CodeCertMismatch},
		{wrap(pki.ErrKeyUsage), CodeCertMismatch},
		{wrap(pki.ErrRevocationUnknown), CodeCertMismatch},
		{ErrCancelled, CodeSignCancelled},
		{context.Canceled, CodeSignCancelled},
		{context.DeadlineExceeded, CodeInternal},
		{ErrDomainNotAllowed, CodeDomainNotAllowed},
		{ErrExpired, CodeLinkExpired},
		{ErrCertMismatch, CodeCertMismatch},
		{ErrCertExpired, CodeCertExpired},
		{ErrKeyUsage, CodeCertMismatch},
		{ErrUnsupportedVersion, CodeUnsupported},
		{wrap(&CodeError{Code: CodeCertMismatch, Message: "user picked another"}), CodeCertMismatch},
		{errors.New("disk on fire"), CodeInternal},
	}
	for _, tc := range tests {
		if got := CodeOf(tc.err); got != tc.want {
			t.Errorf("CodeOf(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
	for _, c := range Codes() {
		if !c.Known() || c.Message() == "" || !strings.HasPrefix(string(c), "SS_") {
			t.Errorf("code %s", c)
		}
	}
	if len(Codes()) != 15 {
		t.Errorf("%d codes, the protocol has 15", len(Codes()))
	}
}

func TestNewFailure(t *testing.T) {
	r := NewFailure("req-1", fmt.Errorf("login: %w", &signer.PINError{TriesLeft: 2, Err: signer.ErrPINIncorrect}))
	if r.Error != CodePINInvalid || r.PINTriesLeft == nil || *r.PINTriesLeft != 2 || r.V != 1 || r.Success {
		t.Errorf("%+v", r)
	}
	r = NewFailure("req-1", &signer.PINError{TriesLeft: -1, Err: signer.ErrPINIncorrect})
	if r.PINTriesLeft != nil {
		t.Error("unknown tries left reported")
	}
	r = NewFailure("req-1", ErrCancelled)
	if r.Error != CodeSignCancelled || r.Message == "" {
		t.Errorf("%+v", r)
	}
	if _, err := Encode(r); err != nil {
		t.Error(err)
	}
}

// What docs/protocol.md shows: the consumer-side decode of the spec's examples.
func TestProtocolExamples(t *testing.T) {
	for _, j := range []string{
		`{"requestId":"…","success":true,"signatureBase64":"AQ==","signedAt":"2026-06-22T10:30:00Z",
 "certificate":{"subjectCN":"Rajesh Kumar","serialNumber":"4a3b2c1d","validTo":"2027-01-01"},
 "v":1,"signaturesBase64":["AQ=="],"signAlgo":"RSA-PKCS1-v1_5","certificateBase64":"AQ==","chainBase64":["AQ=="]}`,
		`{"requestId":"…","success":false,"error":"SS_PIN_INVALID","message":"Wrong PIN","v":1,"pinTriesLeft":2}`,
	} {
		r, err := Decode(base64.StdEncoding.EncodeToString([]byte(j)))
		if err != nil {
			t.Fatal(err)
		}
		if r.Success && r.Certificate.SubjectCN != "Rajesh Kumar" || !r.Success && *r.PINTriesLeft != 2 {
			t.Errorf("%+v", r)
		}
	}
}
