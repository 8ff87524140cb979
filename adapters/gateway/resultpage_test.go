package gateway

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/securesign/securesign/callback"
)

// Every message id of the result page exists in English and Hindi.
func TestResultMessagesComplete(t *testing.T) {
	for _, miss := range resultMessages.Missing() {
		t.Errorf("missing: %s", miss)
	}
	for _, id := range resultMessages.VerbsMatch("en") {
		t.Errorf("fmt verbs differ: %s", id)
	}
}

// The result page speaks to the customer first; codes wait under Details;
// it always says where to go next.
func TestResultPageWording(t *testing.T) {
	cancelled := &callback.Outcome{Kind: callback.Accepted, RequestID: "req-1", Code: callback.CodeSignCancelled,
		Completion: &callback.Completion{Code: callback.CodeSignCancelled, Message: "cancelled by the user"}}
	for _, tt := range []struct {
		name         string
		in           resultInput
		want, absent []string
	}{
		{"cancelled", resultInput{lang: "en", outcome: cancelled, org: "Example Bank"},
			[]string{"You cancelled. Nothing was signed.", "for Example Bank", "You can close this window.", "<summary>Details</summary>", "SS_SIGN_CANCELLED"},
			[]string{`id="back"`}},
		{"cancelled, Hindi", resultInput{lang: "hi", outcome: cancelled},
			[]string{`lang="hi"`, "आपने रद्द कर दिया", "विंडो बंद"}, nil},
		{"signed: the time is when the signature arrived, said so", resultInput{lang: "en",
			outcome: &callback.Outcome{Kind: callback.Accepted, RequestID: "req-3", Completion: &callback.Completion{Success: true}},
			sess:    &Session{Action: "sign", Doc: "Personal Loan Agreement", Completion: &Completion{Success: true, CompletedAt: time.Date(2026, 12, 7, 10, 4, 58, 0, time.UTC)}}},
			[]string{"You signed Personal Loan Agreement.", `<time datetime="2026-12-07T10:04:58Z">`, "(when your signature reached the signing service)"}, nil},
		{"refused, way back", resultInput{lang: "en", outcome: &callback.Outcome{Kind: callback.Rejected, RequestID: "req-2"},
			err: &apiError{Status: 409, Code: CodeConflict, Msg: "already completed"}, returnTo: "https://bank.example/done?requestId=req-2"},
			[]string{"This result was not accepted", `href="https://bank.example/done?requestId=req-2"`, "Back to bank.example", "already completed"},
			[]string{"You can close this window."}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := renderResult(&b, buildResultView(tt.in)); err != nil {
				t.Fatal(err)
			}
			page := b.String()
			for _, w := range tt.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q:\n%s", w, page)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(page, a) {
					t.Errorf("page has %q", a)
				}
			}
			// The code is not in front of the customer: only inside <details>.
			if i := strings.Index(page, "SS_"); i >= 0 && i < strings.Index(page, "<details>") {
				t.Errorf("an SS_ code before Details")
			}
		})
	}
}
