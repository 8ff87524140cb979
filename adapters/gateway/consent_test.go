package gateway

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/securesign/securesign/internal/testpki"
)

func testRSAPublic(t testing.TB) *rsa.PublicKey {
	return &testpki.Key(t, testpki.RSA2048, 30).(*rsa.PrivateKey).PublicKey
}

func sum(s string) []byte { b := sha256.Sum256([]byte(s)); return b[:] }

func TestNewConsent(t *testing.T) {
	h1, h2 := sum("one"), sum("two")
	docA := ConsentDocument{SHA256: sum("A"), Name: " Loan agreement.pdf "}
	tests := []struct {
		name   string
		cert   string
		algo   string
		hashes [][]byte
		docs   []ConsentDocument
		field  string // ConsentError.Field, "" for success
		want   *Consent
	}{
		{"digests", "crt_1", "SHA256", [][]byte{h1, h2}, nil, "", &Consent{CertificateID: "crt_1", HashAlgo: "SHA256", Hashes: [][]byte{h1, h2}}},
		{"document, name trimmed", "crt_1", "", nil, []ConsentDocument{docA}, "",
			&Consent{CertificateID: "crt_1", Documents: []ConsentDocument{{SHA256: sum("A"), Name: "Loan agreement.pdf"}}}},
		{"no certificate", "", "SHA256", [][]byte{h1}, nil, "certificateId", nil},
		{"nothing named", "crt_1", "", nil, nil, "hashes", nil},
		{"both", "crt_1", "SHA256", [][]byte{h1}, []ConsentDocument{docA}, "documents", nil},
		{"hashes without algo", "crt_1", "", [][]byte{h1}, nil, "hashAlgo", nil},
		{"unknown algo", "crt_1", "MD5", [][]byte{h1}, nil, "hashAlgo", nil},
		{"digest of the wrong size", "crt_1", "SHA384", [][]byte{h1}, nil, "hashes", nil},
		{"algo with documents", "crt_1", "SHA256", nil, []ConsentDocument{docA}, "hashAlgo", nil},
		{"short document digest", "crt_1", "", nil, []ConsentDocument{{SHA256: h1[:20], Name: "x"}}, "documents", nil},
		{"unnamed document", "crt_1", "", nil, []ConsentDocument{{SHA256: h1, Name: "  "}}, "documents", nil},
		{"bidi override in a name", "crt_1", "", nil, []ConsentDocument{{SHA256: h1, Name: "invoice\u202efdp.exe"}}, "documents", nil},
		{"control character in a name", "crt_1", "", nil, []ConsentDocument{{SHA256: h1, Name: "a\nb"}}, "documents", nil},
		{"long name", "crt_1", "", nil, []ConsentDocument{{SHA256: h1, Name: strings.Repeat("x", 121)}}, "documents", nil},
		{"51 digests", "crt_1", "SHA256", bytes.SplitAfter(bytes.Repeat(h1, 51), h1)[:51], nil, "hashes", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NewConsent(tc.cert, tc.algo, tc.hashes, tc.docs)
			var ce *ConsentError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("NewConsent: %v", err)
			case tc.field != "" && (!errors.As(err, &ce) || ce.Field != tc.field):
				t.Fatalf("NewConsent = %v, want a ConsentError on %s", err, tc.field)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("consent (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConsentCheck(t *testing.T) {
	docA := ConsentDocument{SHA256: sum("A"), Name: "A.pdf"}
	docB := ConsentDocument{SHA256: sum("B"), Name: "B.pdf"}
	h1, h2 := sum("one"), sum("two")
	var fifty [][]byte
	for i := range 50 {
		fifty = append(fifty, sum(string(rune('a'+i))))
	}
	approvedDocs := &Consent{CertificateID: "crt_1", Documents: []ConsentDocument{docA, docB}}
	approvedHashes := &Consent{CertificateID: "crt_1", HashAlgo: "SHA256", Hashes: [][]byte{h1, h2}}
	approvedAny := &Consent{CertificateID: "crt_1", AnyDigests: true}
	tests := []struct {
		name     string
		approved *Consent
		op       *Consent
		ok       bool
	}{
		{"same documents", approvedDocs, &Consent{CertificateID: "crt_1", Documents: []ConsentDocument{{SHA256: sum("A")}, {SHA256: sum("B")}}}, true},
		{"same documents, other order", approvedDocs, &Consent{CertificateID: "crt_1", Documents: []ConsentDocument{docB, docA}}, true},
		{"one of the two documents", approvedDocs, &Consent{CertificateID: "crt_1", Documents: []ConsentDocument{docA}}, false},
		{"document A twice", approvedDocs, &Consent{CertificateID: "crt_1", Documents: []ConsentDocument{docA, docA}}, false},
		{"another document", &Consent{CertificateID: "crt_1", Documents: []ConsentDocument{docA}}, &Consent{CertificateID: "crt_1", Documents: []ConsentDocument{docB}}, false},
		{"documents approved, digests used", approvedDocs, &Consent{CertificateID: "crt_1", HashAlgo: "SHA256", Hashes: [][]byte{sum("A"), sum("B")}}, false},
		{"another certificate", approvedDocs, &Consent{CertificateID: "crt_2", Documents: []ConsentDocument{docA, docB}}, false},
		{"same digests", approvedHashes, &Consent{CertificateID: "crt_1", HashAlgo: "SHA256", Hashes: [][]byte{h2, h1}}, true},
		{"50 hidden digests", approvedHashes, &Consent{CertificateID: "crt_1", HashAlgo: "SHA256", Hashes: append([][]byte{h1, h2}, fifty...)}, false},
		{"other digests", approvedHashes, &Consent{CertificateID: "crt_1", HashAlgo: "SHA256", Hashes: fifty[:2]}, false},
		{"another hash algorithm", approvedHashes, &Consent{CertificateID: "crt_1", HashAlgo: "SHA384", Hashes: [][]byte{h1, h2}}, false},
		{"digests approved, documents used", approvedHashes, &Consent{CertificateID: "crt_1", Documents: []ConsentDocument{{SHA256: h1}, {SHA256: h2}}}, false},
		{"no consent stored", nil, &Consent{CertificateID: "crt_1"}, false},
		{"CSC sendOTP code at authorize", approvedAny, &Consent{CertificateID: "crt_1", AnyDigests: true}, true},
		{"CSC sendOTP code, other credential", approvedAny, &Consent{CertificateID: "crt_2", AnyDigests: true}, false},
		{"CSC sendOTP code for exact digests", approvedAny, &Consent{CertificateID: "crt_1", HashAlgo: "SHA256", Hashes: [][]byte{h1}}, false},
		{"exact code for CSC sendOTP flow", approvedHashes, &Consent{CertificateID: "crt_1", AnyDigests: true}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.approved.Check(tc.op)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrOTPMismatch)) {
				t.Errorf("Check = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestConsentSummary(t *testing.T) {
	docs := &Consent{CertificateID: "crt_1", Documents: []ConsentDocument{
		{SHA256: bytes.Repeat([]byte{0x3f, 0xa2, 0xb4, 0xc1}, 8), Name: "Loan agreement.pdf"},
		{SHA256: bytes.Repeat([]byte{0x9b, 0x0c}, 16), Name: "Annex \"B\".pdf"}}}
	hashes := &Consent{CertificateID: "crt_1", HashAlgo: "SHA256", Hashes: [][]byte{bytes.Repeat([]byte{0xde, 0xad}, 16)}}
	cert := `"Rajesh Kumar" (serial 4a3b)`
	tests := []struct {
		c    *Consent
		want string
	}{
		{docs, `Sign 2 documents with certificate "Rajesh Kumar" (serial 4a3b): "Loan agreement.pdf" (3fa2b4c1), "Annex \"B\".pdf" (9b0c9b0c)`},
		{hashes, `Sign 1 SHA256 digest with certificate "Rajesh Kumar" (serial 4a3b): deaddead`},
		{&Consent{CertificateID: "crt_1", AnyDigests: true}, `Authorise one signing request with certificate "Rajesh Kumar" (serial 4a3b) (the client names the documents after this code)`},
	}
	for _, tc := range tests {
		if got := tc.c.Summary(cert); got != tc.want {
			t.Errorf("Summary:\n got %s\nwant %s", got, tc.want)
		}
	}
}

func TestOTPMAC(t *testing.T) {
	k1, err := otpMACKey([]byte("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := otpMACKey([]byte("0123456789abcdeg"))
	salt := []byte("salt")
	m := otpMAC(k1, salt, "otp_1", "123456")
	bare := sha256.Sum256(append(append(salt, 0), "123456"...))
	for name, other := range map[string][32]byte{
		"other master key": otpMAC(k2, salt, "otp_1", "123456"),
		"other otp id":     otpMAC(k1, salt, "otp_2", "123456"),
		"other code":       otpMAC(k1, salt, "otp_1", "123457"),
		"bare hash":        bare,
	} {
		if m == other {
			t.Errorf("MAC equals the one with %s", name)
		}
	}
	if _, err := otpMACKey([]byte("short")); err == nil {
		t.Error("a short master key gives an OTP key")
	}
}

// FuzzCSCSignSpec: signAlgo, hashAlgorithmOID and signAlgoParams from a
// client never panic, and what is accepted is signable with the key.
func FuzzCSCSignSpec(f *testing.F) {
	key := testRSAPublic(f)
	f.Add(oidPSS, oidSHA256, "MDSgDzANBglghkgBZQMEAgEFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgEFAKIDAgEg")
	f.Add(oidPSS, "", "")
	f.Add(oidRSA256, oidSHA384, "")
	f.Add(oidRSA, oidSHA256, "BQA=")
	f.Add(oidECDSA, "", "MAA=")
	f.Fuzz(func(t *testing.T, algo, hashOID, params string) {
		spec, err := cscSignSpecOf(algo, hashOID, params, key)
		if err != nil {
			return
		}
		if spec.Hash.Size() == 0 || (spec.Alg == "RSA-PSS" && (spec.Salt < 1 || spec.Salt > 256-spec.Hash.Size()-2)) {
			t.Fatalf("accepted %+v", spec)
		}
	})
}
