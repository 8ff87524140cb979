package desktop

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/signer"
)

// deliveryTimeout bounds a delivery with its retries (the protocol's two
// minutes, plus slack for the last attempt).
const deliveryTimeout = 150 * time.Second

// pageView is what the template shows.
type pageView struct {
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
	Expires      string
	Certs        []certView
	TokenErrors  []string
	Error        string
	FinalTry     bool
	Outcome      *outcomeView
}

type certView struct {
	ID, Display, Subject, Issuer, Serial, KeyType, Token, Reason string
	Disabled, Selected                                           bool
}

type outcomeView struct {
	State   string // "signed", "cancelled", "failed", "refused"
	Title   string
	Class   string // alert class: ok, warn, bad
	Message string
	Detail  string
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

// refusedSession shows a link that failed the checks; reported says
// whether the portal is being told.
func refusedSession(base context.Context, app *App, err error, reported bool) *session {
	s := newSession(base, app, nil, nil, nil)
	detail := "Nothing was signed and nothing was sent."
	if reported {
		detail = "Nothing was signed; the portal is told (" + string(Code(err)) + ")."
	}
	s.finish(&outcomeView{State: "refused", Title: "Request refused", Class: "bad", Message: userMessage(err), Detail: detail})
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
func ShortName(cn string) string {
	f := strings.Fields(cn)
	if len(f) < 2 {
		return cn
	}
	last := []rune(f[len(f)-1])
	return strings.Join(f[:len(f)-1], " ") + " " + string(last[0]) + "."
}

// CertLine is the one-line summary: "Rajesh K. | 4A3B2C1D | valid until 2027".
func CertLine(c *Cert) string {
	serial := signer.FormatSerial(c.Certificate.SerialNumber)
	if len(serial) > 8 {
		serial = serial[:8]
	}
	return fmt.Sprintf("%s | %s | valid until %d", ShortName(c.Certificate.Subject.CommonName), serial, c.Certificate.NotAfter.Year())
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

func (s *session) view(_ context.Context, errMsg string) *pageView {
	if s.outcome != nil {
		return &pageView{Origin: "", Outcome: s.outcome}
	}
	req := s.chk.Request()
	v := &pageView{
		CSRF: s.csrf, Action: string(req.Action), Origin: req.Origin,
		Verified: s.chk.Verified, VerifyNote: s.chk.Note, Doc: req.Doc,
		HashAlgo: hashName(req), RequestID: req.RequestID, Error: errMsg,
	}
	if s.chk.Verified {
		v.Org = req.Org
	}
	if !req.Expires.IsZero() {
		v.Expires = req.Expires.Local().Format("15:04:05 (2 Jan 2006)")
	} else {
		v.Expires = "not stated (legacy link)"
	}
	for _, d := range req.Hashes {
		v.Fingerprints = append(v.Fingerprints, Fingerprint(d))
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
		cv := certView{ID: c.ID, Display: CertLine(c), Subject: c.Certificate.Subject.CommonName,
			Issuer: c.Certificate.Issuer.CommonName, Serial: signer.FormatSerial(c.Certificate.SerialNumber),
			KeyType: c.KeyType, Token: c.Token}
		switch {
		case matchCert(req, c.Certificate) != nil:
			cv.Disabled, cv.Reason = true, "Not the certificate "+req.Origin+" asks for."
		case now.After(c.Certificate.NotAfter) || now.Before(c.Certificate.NotBefore):
			cv.Disabled, cv.Reason = true, "Expired or not yet valid."
		}
		if !cv.Disabled && !selected {
			cv.Selected, selected = true, true
		}
		v.Certs = append(v.Certs, cv)
	}
	for _, e := range s.tokErrs {
		v.TokenErrors = append(v.TokenErrors, "Could not read: "+e.Error())
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
func (s *session) submit(ctx context.Context, certID string, pin []byte) *pageView {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.outcome != nil {
		return s.view(ctx, "")
	}
	var cert *Cert
	for i := range s.certs {
		if subtle.ConstantTimeCompare([]byte(s.certs[i].ID), []byte(certID)) == 1 {
			cert = &s.certs[i]
		}
	}
	if cert == nil {
		return s.view(ctx, "Choose a certificate.")
	}
	if len(pin) == 0 {
		return s.view(ctx, "Type the token PIN.")
	}
	res, err := s.app.Sign(ctx, s.chk, *cert, pin)
	clear(pin)
	var pe *signer.PINError
	switch {
	case err == nil:
		return s.deliver(res, nil)
	case errors.Is(err, signer.ErrPINIncorrect):
		// Wrong PIN: the user may try again; nothing goes to the portal.
		if !errors.As(err, &pe) {
			pe = &signer.PINError{TriesLeft: -1, Err: err}
		}
		s.lastPIN = pe
		return s.view(ctx, pinMessage(pe))
	case errors.Is(err, ErrCertMismatch), errors.Is(err, ErrCertExpired):
		return s.view(ctx, userMessage(err))
	default:
		return s.deliver(s.app.Failure(s.chk, err), err)
	}
}

func pinMessage(pe *signer.PINError) string {
	switch {
	case pe.FinalTry || pe.TriesLeft == 1:
		return "Wrong PIN. Final try: one more wrong PIN locks the token."
	case pe.TriesLeft > 1:
		return fmt.Sprintf("Wrong PIN. %d tries left.", pe.TriesLeft)
	case pe.CountLow:
		return "Wrong PIN. Few tries left before the token locks."
	}
	return "Wrong PIN. Tries left: not reported by the token."
}

func (s *session) cancel(ctx context.Context) *pageView {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.outcome != nil {
		return s.view(ctx, "")
	}
	return s.deliver(s.app.Failure(s.chk, ErrCancelled), ErrCancelled)
}

// deliver sends r and records the outcome. cause is nil for a success.
func (s *session) deliver(r *callback.Result, cause error) *pageView {
	ctx, cancel := context.WithTimeout(s.base, deliveryTimeout)
	defer cancel()
	derr := s.app.Deliver(ctx, s.chk, r)
	origin := s.chk.Request().Origin
	o := &outcomeView{}
	switch {
	case cause == nil && derr == nil:
		o.State, o.Title, o.Class = "signed", "Signed", "ok"
		o.Message = "Signed and sent to " + origin + "."
		o.Detail = "The portal page shows the result."
	case cause == nil:
		o.State, o.Title, o.Class = "failed", "Signed, not delivered", "bad"
		o.Message = "The signature was made, but " + origin + " could not be reached: " + derr.Error()
		o.Detail = "Start again from the portal."
	case errors.Is(cause, ErrCancelled):
		o.State, o.Title, o.Class = "cancelled", "Cancelled", "warn"
		o.Message = "Nothing was signed. " + origin + " was told you cancelled."
	default:
		o.State, o.Title, o.Class = "failed", "Not signed", "bad"
		o.Message = userMessage(cause)
		o.Detail = "The portal was told (" + string(r.Error) + ")."
		if derr != nil {
			o.Detail = "The portal could not be told: " + derr.Error() + "."
		}
	}
	s.finish(o)
	return s.view(context.Background(), "")
}

// userMessage is an error as the page shows it.
func userMessage(err error) string {
	switch {
	case errors.Is(err, signer.ErrPINLocked):
		return "The token's PIN is locked. Unblock it with the tool of your token's maker."
	case errors.Is(err, signer.ErrTokenNotFound):
		return "No token found. Plug in your DSC token."
	case errors.Is(err, deeplink.ErrExpired):
		return "This request has expired. Start again from the portal."
	case errors.Is(err, ErrOriginNotAllowed):
		return err.Error() + "."
	}
	return err.Error()
}
