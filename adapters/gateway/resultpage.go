package gateway

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"html/template"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/internal/i18n"
	"github.com/securesign/securesign/signer"
)

// resultMessages is the result page's one catalogue: the page a phone's
// browser shows after the Mobile App delivered ss_result with GET
// /v1/callback and the session has no returnUrl (or the result was refused).
var resultMessages = i18n.Catalog{
	"en": {
		"t_signed":     "Signed",
		"m_signed_doc": "You signed %s.",
		"m_signed":     "You signed the document.",
		"m_registered": "Your certificate is registered. Nothing was signed.",
		"for":          "for %s",
		"with":         "With certificate %s",
		"at":           "On %s",
		"at_arrived":   "when your signature reached the signing service",
		"t_cancelled":  "Cancelled",
		"m_cancelled":  "You cancelled. Nothing was signed.",
		"t_failed":     "Not signed",
		"m_failed":     "Signing did not complete. Nothing was signed.",
		"t_refused":    "This result was not accepted",
		"m_refused":    "The signing link may have expired or been used already. Start again on the website.",
		"back":         "Back to %s",
		"close":        "You can close this window.",
		"details":      "Details",
		"cert_line":    "%s | %s | valid until %d",
	},
	"hi": {
		"t_signed":     "हस्ताक्षर हो गए",
		"m_signed_doc": "आपने %s पर हस्ताक्षर कर दिए।",
		"m_signed":     "आपने दस्तावेज़ पर हस्ताक्षर कर दिए।",
		"m_registered": "आपका प्रमाणपत्र पंजीकृत हो गया। किसी चीज़ पर हस्ताक्षर नहीं हुआ।",
		"for":          "%s के लिए",
		"with":         "प्रमाणपत्र: %s",
		"at":           "समय: %s",
		"at_arrived":   "जब आपका हस्ताक्षर हस्ताक्षर सेवा तक पहुँचा",
		"t_cancelled":  "रद्द किया गया",
		"m_cancelled":  "आपने रद्द कर दिया। किसी चीज़ पर हस्ताक्षर नहीं हुआ।",
		"t_failed":     "हस्ताक्षर नहीं हुए",
		"m_failed":     "हस्ताक्षर पूरे नहीं हुए। किसी चीज़ पर हस्ताक्षर नहीं हुआ।",
		"t_refused":    "यह परिणाम स्वीकार नहीं किया गया",
		"m_refused":    "हो सकता है हस्ताक्षर लिंक की समय-सीमा समाप्त हो गई हो या उसका उपयोग पहले ही हो चुका हो। वेबसाइट पर फिर से शुरू करें।",
		"back":         "%s पर वापस जाएँ",
		"close":        "आप यह विंडो बंद कर सकते हैं।",
		"details":      "विवरण",
		"cert_line":    "%s | %s | %d तक मान्य",
	},
}

// resultView is what the result page shows; the template escapes it all.
type resultView struct {
	Lang, Nonce, State   string
	Title, Message, Org  string
	Cert                 string
	At                   template.HTML
	AtNote               string // where At comes from
	Back, BackURL, Close string
	DetailsLabel         string
	Details              []string
}

// resultInput is what callbackGET knows of a result.
type resultInput struct {
	lang     string
	err      *apiError // refused before or by verification
	outcome  *callback.Outcome
	sess     *Session
	org      string
	returnTo string // returnUrl with requestId and status, when known
}

// buildResultView words the outcome for a bank customer; codes and ids go
// under Details.
func buildResultView(in resultInput) *resultView {
	p := resultMessages.Printer(in.lang, "en")
	v := &resultView{Lang: p.Lang, DetailsLabel: p.T("details"), Close: p.T("close")}
	if in.org != "" {
		v.Org = p.T("for", in.org)
	}
	if in.returnTo != "" {
		host := in.returnTo
		if u, err := url.Parse(in.returnTo); err == nil && u.Host != "" {
			host = u.Host
		}
		if in.org != "" {
			host = in.org
		}
		v.Back, v.BackURL = p.T("back", host), in.returnTo
	}
	o := in.outcome
	if o != nil && o.RequestID != "" {
		v.Details = append(v.Details, "Request "+o.RequestID)
	}
	switch {
	case in.err != nil:
		v.State, v.Title, v.Message = "refused", p.T("t_refused"), p.T("m_refused")
		v.Details = append(v.Details, in.err.Code+": "+in.err.Msg)
	case !o.Success():
		code, msg := string(o.Code), ""
		if o.Completion != nil {
			msg = o.Completion.Message
		}
		if o.Code == callback.CodeSignCancelled {
			v.State, v.Title, v.Message = "cancelled", p.T("t_cancelled"), p.T("m_cancelled")
		} else {
			v.State, v.Title, v.Message = "failed", p.T("t_failed"), p.T("m_failed")
		}
		v.Details = append(v.Details, strings.TrimSuffix(code+": "+msg, ": "))
	default:
		v.State, v.Title, v.Message = "signed", p.T("t_signed"), p.T("m_signed")
		if s := in.sess; s != nil {
			switch {
			case s.Action == "register":
				v.Message = p.T("m_registered")
			case s.Doc != "":
				v.Message = p.T("m_signed_doc", s.Doc)
			}
			if c := s.Completion; c != nil {
				if cert, err := x509.ParseCertificate(c.Certificate); err == nil {
					serial := signer.FormatSerial(cert.SerialNumber)
					v.Cert = p.T("with", p.T("cert_line", i18n.ShortName(cert.Subject.CommonName), serial[:min(8, len(serial))], cert.NotAfter.Year()))
					v.Details = append(v.Details, "Certificate "+cert.Subject.String()+", serial "+serial)
				}
				// When the customer signed: the moment the gateway took their
				// signature. Not the PDF's signing time: that is in the signed
				// data, so it was fixed when the PDF was prepared, before they
				// saw it (sessions' PDFs are finished without a timestamp).
				if !c.CompletedAt.IsZero() {
					at := c.CompletedAt.UTC()
					v.At = p.HTML("at", i18n.Time(at.Format(time.RFC3339), at.Format("15:04 UTC, 2 Jan 2006")))
					v.AtNote = p.T("at_arrived")
				}
			}
		}
		if o.Kind == callback.Duplicate {
			v.Details = append(v.Details, "This result had already been received.")
		}
	}
	return v
}

func renderResult(w io.Writer, v *resultView) error { return resultPage.Execute(w, v) }

// resultCSP allows the page's own style and its one script (times in the
// viewer's zone), nothing else.
func resultCSP(nonce string) string {
	return "default-src 'none'; style-src 'nonce-" + nonce + "'; script-src 'nonce-" + nonce + "'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

var resultPage = template.Must(template.New("r").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>SecureSign: {{.Title}}</title>
<style nonce="{{.Nonce}}">
body { margin:0; background:#f6f8fa; color:#1b1f24; font:17px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif; }
header { background:#0d2a4a; color:#fff; padding:12px 20px; font-weight:600; }
main { max-width:36em; margin:0 auto; padding:20px 16px 40px; }
.card { background:#fff; border:1px solid #d0d7de; border-radius:10px; padding:18px 20px; }
h1 { font-size:26px; margin:0 0 4px; }
.org { color:#57606a; margin:0 0 12px; }
.msg { border-radius:8px; padding:12px 14px; font-weight:600; margin:0 0 12px; }
.signed .msg { background:#dafbe1; color:#1a7f37; } .cancelled .msg { background:#fff8c5; color:#7d5a00; }
.failed .msg, .refused .msg { background:#ffebe9; color:#cf222e; }
ul { padding-left:20px; } .back { display:inline-block; background:#0b5cad; color:#fff; font-weight:700; padding:12px 24px; border-radius:8px; text-decoration:none; }
.muted { color:#57606a; } details { margin-top:14px; font-size:15px; } summary { cursor:pointer; color:#0b5cad; font-weight:600; }
code { font-size:14px; word-break:break-all; }
</style></head>
<body><header>SecureSign</header>
<main><div class="card {{.State}}" id="result" data-state="{{.State}}">
<h1>{{.Title}}</h1>{{if .Org}}<p class="org">{{.Org}}</p>{{end}}
<p class="msg" id="message">{{.Message}}</p>
{{if or .Cert .At}}<ul>{{if .Cert}}<li id="cert">{{.Cert}}</li>{{end}}{{if .At}}<li id="at">{{.At}}{{with .AtNote}} <span class="muted">({{.}})</span>{{end}}</li>{{end}}</ul>{{end}}
{{if .BackURL}}<p><a class="back" id="back" href="{{.BackURL}}">{{.Back}}</a></p>{{else}}<p class="muted" id="close">{{.Close}}</p>{{end}}
{{if .Details}}<details><summary>{{.DetailsLabel}}</summary>{{range .Details}}<p><code>{{.}}</code></p>{{end}}</details>{{end}}
</div></main>
<script nonce="{{.Nonce}}">
for (const t of document.querySelectorAll("time[datetime]")) {
  const d = new Date(t.dateTime);
  if (isNaN(d)) continue;
  try { t.textContent = d.toLocaleString(document.documentElement.lang === "hi" ? "hi-IN" : undefined,
    {day: "numeric", month: "short", year: "numeric", hour: "numeric", minute: "2-digit", timeZoneName: "short"}); } catch (e) {}
}
</script>
</body></html>`))
