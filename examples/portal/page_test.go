package main

import (
	"bytes"
	"strings"
	"testing"
)

// The document page renders at every step, in both languages, and a phone
// gets the Mobile App path first.
func TestDocPageRenders(t *testing.T) {
	for _, lang := range []string{"en", "hi"} {
		for _, st := range []string{StatusUploaded, StatusPending, StatusSigned, StatusCancelled, StatusFailed} {
			pr := messages.Printer(lang, "en")
			v := &docView{p: pr, Lang: lang, Phone: true, ID: "d1", Name: "Personal Loan Agreement", Origin: "https://bank.example",
				Status: st, StatusText: pr.T(statusID(&document{Status: st})), Code: "SS_SIGN_CANCELLED", Detail: "cancelled by the user",
				CertLine: "Rajesh K. | 4A3B2C1D | valid until 2027", SignedAt: "2026-12-07T10:00:00Z", SignedAtText: "10:00 UTC, 7 Dec 2026",
				HasSigned: st == StatusSigned, Link: "securesign://sign?x", LinkKind: "sign", Expires: "10:10 UTC", ExpiresISO: "2026-12-07T10:10:00Z",
				Fingerprint: "D201 3C32 …"}
			var b bytes.Buffer
			if err := tmpl.ExecuteTemplate(&b, "doc.html", v); err != nil {
				t.Fatalf("%s/%s: %v", lang, st, err)
			}
			page := b.String()
			if !strings.Contains(page, `class="phone"`) || !strings.Contains(page, `id="app-link"`) {
				t.Errorf("%s/%s: no phone layout", lang, st)
			}
			if i := strings.Index(page, "SS_SIGN_CANCELLED"); i >= 0 && i < strings.Index(page, "<details>") {
				t.Errorf("%s/%s: code in front of Details", lang, st)
			}
			if st == StatusSigned && !strings.Contains(page, `<time datetime="2026-12-07T10:00:00Z">`) {
				t.Errorf("%s: no signing time", lang)
			}
		}
	}
}

// A failure says in plain words what its code means for the customer; a
// code without its own message gets the general one.
func TestFailedText(t *testing.T) {
	for _, tc := range []struct{ lang, code, want string }{
		{"en", "SS_LINK_INVALID", "stopped this request before asking for your PIN"},
		{"hi", "SS_LINK_INVALID", "PIN माँगने से पहले"},
		{"en", "SS_PIN_BLOCKED", "PIN is blocked"},
		{"en", "SS_CERT_MISMATCH", "not the one you registered"},
		{"en", "SS_INTERNAL", "Signing did not complete"},
		{"en", "", "Signing did not complete"},
		{"hi", "SS_SOMETHING_NEW", "हस्ताक्षर पूरे नहीं हुए"},
	} {
		v := &docView{p: messages.Printer(tc.lang, "en"), Code: tc.code}
		if got := v.FailedText(); !strings.Contains(got, tc.want) {
			t.Errorf("%s %q: %q", tc.lang, tc.code, got)
		}
	}
}
