package desktop

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"html/template"
	"strings"
	"sync"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/deeplink/sigpkg"
	"github.com/securesign/securesign/internal/i18n"
	"github.com/securesign/securesign/signer"
)

// deliveryTimeout bounds a delivery with its retries (the protocol's two
// minutes, plus slack for the last attempt).
const deliveryTimeout = 150 * time.Second

// pageView is what the template shows.
type pageView struct {
	p                 *i18n.Printer
	Lang              string
	Nonce, Base, CSRF string
	Action            string
	Origin            string
	// Org is the link's org, set only when its signature verified
	// (PROTOCOL 1.1 §1): an unverified link shows no organisation.
	Org          string
	Verified     bool
	VerifyNote   string
	Doc          string
	Fingerprints []string
	HashAlgo     string
	RequestID    string
	// Expires is RFC 3339 in UTC for <time datetime>; ExpiresText the
	// fallback text, in this computer's zone with the zone named.
	Expires, ExpiresText string
	Certs                []certView
	TokenErrors          []string
	Error                string
	FinalTry             bool
	Outcome              *outcomeView
	// Documents are the signing package's documents, shown before the
	// PIN; MarkCSS places their signature marks.
	Documents []docView
	MarkCSS   template.CSS
	// NoDocument is a sign request without a package: the page warns that
	// it cannot show what is signed.
	NoDocument bool
}

// P is the page's printer.
func (v *pageView) P() *i18n.Printer { return v.p }

// ExpiresAt is the expiry sentence with its time.
func (v *pageView) ExpiresAt() template.HTML {
	return withTime(v.p, "expires", v.Expires, v.ExpiresText)
}

// PagesLine says how many pages d has and where the signature goes.
func (v *pageView) PagesLine(d docView) string { return d.pagesLine(v.p) }

// T renders message id in the page's language.
func (v *pageView) T(id string, args ...any) string { return v.p.T(id, args...) }

// Asker is the first thing the page says: who asks for what.
func (v *pageView) Asker() template.HTML {
	who := part{"asker", v.Origin}
	if v.Org != "" {
		who = part{"org", v.Org}
	}
	switch {
	case v.Action == "register":
		return emph(v.p, "ask_register", who)
	case v.Doc != "":
		return emph(v.p, "ask_sign_doc", who, part{"doc", v.Doc})
	}
	return emph(v.p, "ask_sign", who)
}

// Via names the website the request came through.
func (v *pageView) Via() template.HTML {
	return template.HTML(strings.Replace(string(emph(v.p, "via", part{"origin", v.Origin})), "<strong ", `<strong class="mono" `, 1))
}

type certView struct {
	ID, Display, Subject, Issuer, Serial, KeyType, Token, Reason string
	Disabled, Selected                                           bool
}

// outcomeView is how a request ended, language-neutral until rendered.
type outcomeView struct {
	State   string // "signed", "cancelled", "failed", "refused"
	Class   string // alert class: ok, warn, bad
	title   string
	message msg
	// Doc, Cert and At repeat what was signed, with which certificate
	// (its plain line) and when; set for a signature.
	Doc    string
	cert   *Cert
	At     time.Time
	AtText string
	// Detail is technical (codes, errors): shown under "Details".
	Detail string
	// Check names the signing package check that refused the request.
	Check string
	// note is advice under the message, if any.
	note msg
}

// outcomeText is an outcome rendered in one language.
type outcomeText struct {
	*outcomeView
	Title, Message, Cert, Note string
	At                         template.HTML
}

func (o *outcomeView) Render(p *i18n.Printer) *outcomeText {
	t := &outcomeText{outcomeView: o, Title: p.T(o.title), Message: p.T(o.message.ID, o.message.Args...)}
	if o.note.ID != "" {
		t.Note = p.T(o.note.ID, o.note.Args...)
	}
	if o.cert != nil {
		t.Cert = certLine(p, o.cert)
	}
	if !o.At.IsZero() {
		t.At = withTime(p, "signed_at", o.At.UTC().Format(time.RFC3339), o.AtText)
	}
	return t
}

// session is one request on the page.
type session struct {
	app     *App
	base    context.Context // for deliveries, which outlive the HTTP request
	token   string
	csrf    string
	chk     *Checked
	certs   []Cert
	tokErrs []error
	pages   *docPages // the package's documents; nil without a package

	mu       sync.Mutex // one submission at a time
	outcome  *outcomeView
	lastPIN  *signer.PINError
	done     chan struct{}
	doneOnce sync.Once
}

func newSession(base context.Context, app *App, chk *Checked, certs []Cert, errs []error) *session {
	return &session{app: app, base: base, token: randomToken(), csrf: randomToken(),
		chk: chk, certs: certs, tokErrs: errs, done: make(chan struct{})}
}

// refusedSession shows a link that failed the checks; chk, when not nil,
// is the link whose portal is being told.
func refusedSession(base context.Context, app *App, err error, chk *Checked) *session {
	reported := chk != nil
	s := newSession(base, app, nil, nil, nil)
	detail := "Nothing was sent."
	if reported {
		detail = "The portal is told (" + string(Code(err)) + ")."
	}
	o := &outcomeView{State: "refused", title: "t_refused", Class: "bad", message: userMessage(err), Detail: err.Error() + ". " + detail}
	if isPackageErr(err) {
		o.message, o.Check = packageMessage(err)
		if reported && o.Check != sigpkg.CheckFetch {
			o.note = m("pkg_advice", chk.Request().Origin)
		}
	}
	s.finish(o)
	return s
}

func (s *session) finish(o *outcomeView) {
	s.outcome = o
	s.doneOnce.Do(func() { close(s.done) })
}

func (s *session) finished() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *session) checkCSRF(got []byte) bool {
	return subtle.ConstantTimeCompare(got, []byte(s.csrf)) == 1
}

// Fingerprint shows the first 8 bytes of a digest in groups of two bytes:
// enough to compare with what the portal shows, short enough to read.
func Fingerprint(d []byte) string {
	if len(d) > 8 {
		d = d[:8]
	}
	h := strings.ToUpper(hex.EncodeToString(d))
	var parts []string
	for i := 0; i < len(h); i += 4 {
		parts = append(parts, h[i:min(i+4, len(h))])
	}
	return strings.Join(parts, " ") + " …"
}

// ShortName turns "Rajesh Kumar" into "Rajesh K.".
func ShortName(cn string) string { return i18n.ShortName(cn) }

// CertLine is the one-line summary: "Rajesh K. | 4A3B2C1D | valid until 2027".
func CertLine(c *Cert) string { return certLine(messages.Printer("en", "en"), c) }

func certLine(p *i18n.Printer, c *Cert) string {
	serial := signer.FormatSerial(c.Certificate.SerialNumber)
	if len(serial) > 8 {
		serial = serial[:8]
	}
	return p.T("cert_line", ShortName(c.Certificate.Subject.CommonName), serial, c.Certificate.NotAfter.Year())
}

func hashName(req *deeplink.Request) string {
	switch req.HashAlgo.String() {
	case "SHA-384":
		return "SHA-384"
	case "SHA-512":
		return "SHA-512"
	}
	return "SHA-256"
}

func (s *session) view(_ context.Context, lang string, errMsg msg) *pageView {
	p := messages.Printer(lang, "en")
	if s.outcome != nil {
		return &pageView{p: p, Lang: p.Lang, Outcome: s.outcome}
	}
	req := s.chk.Request()
	v := &pageView{p: p, Lang: p.Lang,
		CSRF: s.csrf, Action: string(req.Action), Origin: req.Origin,
		Verified: s.chk.Verified, VerifyNote: s.chk.Note, Doc: req.Doc,
		HashAlgo: hashName(req), RequestID: req.RequestID,
	}
	if errMsg.ID != "" {
		v.Error = p.T(errMsg.ID, errMsg.Args...)
	}
	if s.chk.Verified {
		v.Org = req.Org
	}
	if !req.Expires.IsZero() {
		v.Expires = req.Expires.UTC().Format(time.RFC3339)
		v.ExpiresText = req.Expires.Local().Format("15:04 MST, 2 Jan 2006")
	}
	for _, d := range req.Hashes {
		v.Fingerprints = append(v.Fingerprints, Fingerprint(d))
	}
	if s.pages != nil {
		v.Documents, v.MarkCSS = s.pages.documents("/r/" + s.token + "/")
	} else if req.Action == deeplink.ActionSign {
		v.NoDocument = true
	}
	if len(req.Hashes) == 0 {
		// A signing package carries the digests (protocol 1.2 §6).
		for _, d := range s.chk.Documents {
			v.Fingerprints = append(v.Fingerprints, Fingerprint(d.Digest))
		}
	}
	now := s.app.now()
	selected := false
	for i := range s.certs {
		c := &s.certs[i]
		cv := certView{ID: c.ID, Display: certLine(p, c), Subject: c.Certificate.Subject.String(),
			Issuer: c.Certificate.Issuer.CommonName, Serial: signer.FormatSerial(c.Certificate.SerialNumber),
			KeyType: c.KeyType, Token: c.Token}
		switch {
		case matchCert(req, c.Certificate) != nil:
			cv.Disabled, cv.Reason = true, p.T("not_this_cert", req.Origin)
		case now.After(c.Certificate.NotAfter) || now.Before(c.Certificate.NotBefore):
			cv.Disabled, cv.Reason = true, p.T("cert_expired")
		}
		if !cv.Disabled && !selected {
			cv.Selected, selected = true, true
		}
		v.Certs = append(v.Certs, cv)
	}
	for _, e := range s.tokErrs {
		v.TokenErrors = append(v.TokenErrors, p.T("token_error")+" ("+e.Error()+")")
	}
	if p := s.lastPIN; p != nil {
		v.FinalTry = p.FinalTry || p.TriesLeft == 1
	} else {
		for _, c := range s.certs {
			if c.PINFinalTry {
				v.FinalTry = true // the token says so before any try here
			}
		}
	}
	return v
}

// submit signs with the chosen certificate and PIN. A wrong PIN keeps the
// request open (the portal stays pending) and says how many tries are left.
func (s *session) submit(ctx context.Context, lang, certID string, pin []byte) *pageView {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.outcome != nil {
		return s.view(ctx, lang, msg{})
	}
	var cert *Cert
	for i := range s.certs {
		if subtle.ConstantTimeCompare([]byte(s.certs[i].ID), []byte(certID)) == 1 {
			cert = &s.certs[i]
		}
	}
	if cert == nil {
		return s.view(ctx, lang, m("choose_cert"))
	}
	if len(pin) == 0 {
		return s.view(ctx, lang, m("type_pin"))
	}
	res, err := s.app.Sign(ctx, s.chk, *cert, pin)
	clear(pin)
	var pe *signer.PINError
	switch {
	case err == nil:
		return s.deliver(lang, cert, res, nil)
	case errors.Is(err, signer.ErrPINIncorrect):
		// Wrong PIN: the user may try again; nothing goes to the portal.
		if !errors.As(err, &pe) {
			pe = &signer.PINError{TriesLeft: -1, Err: err}
		}
		s.lastPIN = pe
		return s.view(ctx, lang, pinMessage(pe))
	case errors.Is(err, ErrCertMismatch), errors.Is(err, ErrCertExpired):
		return s.view(ctx, lang, userMessage(err))
	default:
		return s.deliver(lang, nil, s.app.Failure(s.chk, err), err)
	}
}

func pinMessage(pe *signer.PINError) msg {
	switch {
	case pe.FinalTry || pe.TriesLeft == 1:
		return m("pin_final")
	case pe.TriesLeft > 1:
		return m("pin_left", pe.TriesLeft)
	case pe.CountLow:
		return m("pin_low")
	}
	return m("pin_unknown")
}

func (s *session) cancel(ctx context.Context, lang string) *pageView {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.outcome != nil {
		return s.view(ctx, lang, msg{})
	}
	return s.deliver(lang, nil, s.app.Failure(s.chk, ErrCancelled), ErrCancelled)
}

// deliver sends r and records the outcome. cause is nil for a success,
// made with cert.
func (s *session) deliver(lang string, cert *Cert, r *callback.Result, cause error) *pageView {
	ctx, cancel := context.WithTimeout(s.base, deliveryTimeout)
	defer cancel()
	derr := s.app.Deliver(ctx, s.chk, r)
	req := s.chk.Request()
	who := req.Origin
	if s.chk.Verified && req.Org != "" {
		who = req.Org
	}
	o := &outcomeView{Detail: "Request " + req.RequestID + "."}
	switch {
	case cause == nil && derr == nil:
		o.State, o.title, o.Class = "signed", "t_signed", "ok"
		doc := req.Doc
		if doc == "" && len(s.chk.Documents) == 1 {
			doc = s.chk.Documents[0].Name // the package names it (protocol 1.2 §6)
		}
		o.message = m("m_signed_nodoc", who)
		if doc != "" {
			o.message = m("m_signed", doc, who)
		}
		o.Doc, o.cert = doc, cert
		o.At = s.app.now()
		o.AtText = o.At.Local().Format("15:04 MST, 2 Jan 2006")
		o.Detail += " Sent to " + req.Origin + "."
	case cause == nil:
		o.State, o.title, o.Class = "failed", "t_undelivered", "bad"
		o.message = m("m_undelivered", who)
		o.Detail += " " + derr.Error() + "."
	case errors.Is(cause, ErrCancelled):
		o.State, o.title, o.Class = "cancelled", "t_cancelled", "warn"
		o.message = m("m_cancelled")
		o.Detail += " " + req.Origin + " was told (" + string(r.Error) + ")."
	default:
		o.State, o.title, o.Class = "failed", "t_failed", "bad"
		o.message = userMessage(cause)
		o.Detail += " " + cause.Error() + ". The portal was told (" + string(r.Error) + ")."
		if derr != nil {
			o.Detail += " The portal could not be told: " + derr.Error() + "."
		}
	}
	s.finish(o)
	return s.view(context.Background(), lang, msg{})
}

// userMessage is an error as the page shows it.
func userMessage(err error) msg {
	switch {
	case errors.Is(err, signer.ErrPINLocked):
		return m("pin_locked")
	case errors.Is(err, signer.ErrTokenNotFound):
		return m("no_token")
	case errors.Is(err, deeplink.ErrExpired):
		return m("expired")
	case errors.Is(err, ErrOriginNotAllowed):
		return m("not_allowed")
	case errors.Is(err, ErrCertMismatch):
		return m("cert_mismatch")
	case errors.Is(err, ErrCertExpired):
		return m("cert_expired")
	case isPackageErr(err):
		mm, _ := packageMessage(err)
		return mm
	}
	return m("other_error")
}
