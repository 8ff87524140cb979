package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/deeplink/sigpkg"
	"github.com/securesign/securesign/internal/i18n"
	"github.com/securesign/securesign/pdf"
	"github.com/securesign/securesign/signer"
)

//go:embed templates/*.html static/*
var assets embed.FS

var tmpl = template.Must(template.New("").Funcs(template.FuncMap{
	"serial": func(c *x509.Certificate) string { return signer.FormatSerial(c.SerialNumber) },
	"date":   func(t time.Time) string { return t.Format("2 Jan 2006") },
}).ParseFS(assets, "templates/*.html"))

// maxUpload bounds an uploaded PDF.
const maxUpload = 20 << 20

// linkLifetime is how long a deep link is valid (the protocol allows 15 min).
const linkLifetime = 10 * time.Minute

// Status of a document.
const (
	StatusUploaded   = "uploaded"   // no certificate registered yet
	StatusRegistered = "registered" // certificate known, ready to sign
	StatusPending    = "pending"    // sign link issued, waiting for the app
	StatusSigned     = "signed"
	StatusCancelled  = "cancelled"
	StatusFailed     = "failed"
)

// Portal is the example portal: documents in memory, the callback and
// deeplink packages for the protocol, pdf for the signature.
type Portal struct {
	// Origin is the portal's public origin, scheme://host[:port].
	Origin string
	// LinkKey signs the deep links; its public half is served as JWKS.
	LinkKey *deeplink.SigningKey
	// Roots are the trust anchors for users' certificates.
	Roots *x509.CertPool
	// Intermediates help build users' chains when results carry none.
	Intermediates []*x509.Certificate
	// SignOptions are used for every PDF signature.
	SignOptions pdf.SignOptions
	// Log receives events.
	Log *slog.Logger

	store    *callback.MemoryStore
	verifier *callback.Verifier

	mu      sync.Mutex
	docs    map[string]*document
	reqs    map[string]*document // requestId → document
	changed chan struct{}        // closed at a status change (watch.go)

	// tamperPackage, set only by tests, plays a dishonest portal: it
	// changes a signing package before its digest goes into the link.
	tamperPackage func(*sigpkg.Package)
}

// document is one uploaded PDF and where its signing stands.
type document struct {
	ID     string
	Name   string
	PDF    []byte
	Status string
	Code   string // SS_* code of the last failure
	Detail string

	Cert  *x509.Certificate // registered certificate
	Chain []*x509.Certificate

	RegisterLink, RegisterID string
	RegisterExp              time.Time
	SignLink, SignID         string
	SignExp                  time.Time
	prepared                 *preparedDoc
	// pkg is the sign link's signing package (protocol 1.2 §6), served at
	// /pkg/{SignID} until SignExp.
	pkg []byte

	Signed   []byte
	Report   *pdf.Report
	SignedAt time.Time // signedAt: the signature's timestamp, else when it arrived
	AtTS     bool      // SignedAt is the timestamp's time
}

// NewPortal returns a portal for origin.
func NewPortal(origin string, key *deeplink.SigningKey, roots *x509.CertPool) *Portal {
	p := &Portal{Origin: origin, LinkKey: key, Roots: roots, store: callback.NewMemoryStore(),
		docs: map[string]*document{}, reqs: map[string]*document{},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	p.verifier = &callback.Verifier{Store: p.store, Roots: roots}
	return p
}

// SetIntermediates sets extra intermediates for chain building.
func (p *Portal) SetIntermediates(certs []*x509.Certificate) {
	p.Intermediates = certs
	p.verifier.Intermediates = certs
}

func newID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Handler returns the portal's routes.
func (p *Portal) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.index)
	mux.HandleFunc("POST /upload", p.upload)
	mux.HandleFunc("GET /doc/{id}", p.docPage)
	mux.HandleFunc("GET /doc/{id}/status", p.status)
	mux.HandleFunc("GET /doc/{id}/watch", p.watch)
	mux.HandleFunc("GET /doc/{id}/qr/{kind}", p.qr)
	mux.HandleFunc("POST /doc/{id}/retry", p.retry)
	mux.HandleFunc("GET /doc/{id}/signed.pdf", p.download)
	mux.HandleFunc("GET /doc/{id}/report.json", p.report)
	mux.HandleFunc("GET /pkg/{requestId}", p.servePackage)
	mux.HandleFunc("POST /callback", p.callback)
	mux.HandleFunc("GET /callback", p.callback)
	mux.HandleFunc("GET /.well-known/securesign-keys.json", p.jwks)
	mux.Handle("GET /static/", http.FileServerFS(assets))
	return securityHeaders(mux)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

func (p *Portal) render(w http.ResponseWriter, name string, data any) {
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, name, data); err != nil {
		p.Log.Error("template", "err", err)
		http.Error(w, "internal error", 500)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b.Bytes())
}

func (p *Portal) index(w http.ResponseWriter, r *http.Request) {
	pr := messages.Printer(pageLang(r), "en")
	p.render(w, "index.html", &docView{p: pr, Lang: pr.Lang, Origin: p.Origin})
}

func (p *Portal) upload(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload+1<<16)
	f, hdr, err := r.FormFile("pdf")
	if err != nil {
		http.Error(w, "choose a PDF file", http.StatusBadRequest)
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUpload+1))
	if err != nil || len(data) > maxUpload {
		http.Error(w, "PDF too large (20 MiB at most)", http.StatusRequestEntityTooLarge)
		return
	}
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		http.Error(w, "not a PDF", http.StatusUnsupportedMediaType)
		return
	}
	name := hdr.Filename
	if len([]rune(name)) > 100 {
		name = string([]rune(name)[:100])
	}
	d := &document{ID: newID(), Name: name, PDF: data, Status: StatusUploaded}
	p.mu.Lock()
	p.docs[d.ID] = d
	p.mu.Unlock()
	http.Redirect(w, r, "/doc/"+d.ID, http.StatusSeeOther)
}

func (p *Portal) doc(r *http.Request) *document {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.docs[r.PathValue("id")]
}

// docView is what doc.html shows; built under p.mu.
type docView struct {
	p                                                  *i18n.Printer
	Lang                                               string
	Phone                                              bool // the browser says it is a phone (the CSS decides too)
	ID, Name, Origin, Status, StatusText, Code, Detail string
	// CertLine is the certificate in plain form; SignedAt (RFC 3339, UTC)
	// and SignedAtText (fallback, zone named) when the document is signed,
	// SignedAtSource saying where that time comes from.
	CertLine, SignedAt, SignedAtText, SignedAtSource string
	ExpiresISO                                       string
	Cert                                             *x509.Certificate
	// Link is a securesign:// URL that deeplink.Build made; html/template
	// would otherwise replace the unknown scheme with "#ZgotmplZ".
	Link       template.URL
	LinkKind   string
	HasSigned  bool
	Report     *pdf.Report
	ReportJSON string
	Expires    string
	// Fingerprint is what the Desktop Software shows of the digest.
	Fingerprint string
}

// fingerprint writes the first 8 bytes of a digest as the Desktop Software
// shows them ("D201 3C32 0DA9 8527 …"), so the user can compare the two.
func fingerprint(d []byte) string {
	h := strings.ToUpper(hex.EncodeToString(d[:min(8, len(d))]))
	var parts []string
	for i := 0; i < len(h); i += 4 {
		parts = append(parts, h[i:min(i+4, len(h))])
	}
	return strings.Join(parts, " ") + " …"
}

func (p *Portal) docPage(w http.ResponseWriter, r *http.Request) {
	d := p.doc(r)
	if d == nil {
		http.NotFound(w, r)
		return
	}
	if err := p.ensureLink(r.Context(), d); err != nil {
		p.Log.Error("link", "err", err)
	}
	pr := messages.Printer(pageLang(r), "en")
	p.mu.Lock()
	v := docView{p: pr, Lang: pr.Lang, Phone: onPhone(r), ID: d.ID, Name: d.Name, Origin: p.Origin, Status: d.Status,
		StatusText: pr.T(statusID(d)), Code: d.Code, Detail: d.Detail, Cert: d.Cert, HasSigned: d.Signed != nil, Report: d.Report}
	if d.Cert != nil {
		v.CertLine = certLine(pr, d.Cert)
	}
	if !d.SignedAt.IsZero() {
		v.SignedAt, v.SignedAtText = d.SignedAt.UTC().Format(time.RFC3339), d.SignedAt.UTC().Format("15:04 UTC, 2 Jan 2006")
		v.SignedAtSource = pr.T("at_arrived")
		if d.AtTS {
			v.SignedAtSource = pr.T("at_timestamp")
		}
	}
	exp := func(t time.Time) string {
		v.ExpiresISO = t.UTC().Format(time.RFC3339)
		return t.UTC().Format("15:04 UTC, 2 Jan 2006")
	}
	switch d.Status {
	case StatusUploaded:
		v.Link, v.LinkKind, v.Expires = template.URL(d.RegisterLink), "register", exp(d.RegisterExp)
	case StatusRegistered, StatusPending:
		v.Link, v.LinkKind, v.Expires = template.URL(d.SignLink), "sign", exp(d.SignExp)
		if d.prepared != nil {
			v.Fingerprint = fingerprint(d.prepared.Digest)
		}
	}
	if d.Report != nil {
		b, _ := json.MarshalIndent(d.Report, "", "  ")
		v.ReportJSON = string(b)
	}
	p.mu.Unlock()
	p.render(w, "doc.html", &v)
}

// TimeT renders message id with its one %s as a <time> element.
func (v *docView) TimeT(id, iso, text string) template.HTML {
	return v.p.HTML(id, i18n.Time(iso, text))
}

// FingerprintNote asks the user to compare the site and the digest's
// fingerprint with what the Desktop Software shows.
func (v *docView) FingerprintNote() template.HTML {
	return v.p.HTML("check_fp", i18n.Elem("strong", "fp-origin", v.Origin), i18n.Elem("code", "fingerprint", v.Fingerprint))
}

// T renders message id in the page's language.
func (v *docView) T(id string, args ...any) string { return v.p.T(id, args...) }

// FailedText is a failure in plain words: what the code means for the
// customer and what to do, or the general message for other codes.
func (v *docView) FailedText() string {
	if v.Code != "" && v.p.Has("m_"+v.Code) {
		return v.p.T("m_" + v.Code)
	}
	return v.p.T("m_failed")
}

// statusID is the catalogue id of the document's status line.
func statusID(d *document) string {
	switch d.Status {
	case StatusUploaded:
		return "st_uploaded"
	case StatusRegistered, StatusPending:
		return "st_pending"
	case StatusSigned, StatusCancelled:
		return "st_" + d.Status
	}
	return "st_failed"
}

func statusText(d *document) string {
	switch d.Status {
	case StatusUploaded:
		return "Step 1: register your DSC certificate"
	case StatusRegistered, StatusPending:
		return "Waiting for your signature"
	case StatusSigned:
		return "Signed"
	case StatusCancelled:
		return "Cancelled"
	}
	return "Failed"
}

// ensureLink makes the deep link the document's state needs, or a fresh one
// when the last has expired.
func (p *Portal) ensureLink(ctx context.Context, d *document) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer func(was string) {
		if d.Status != was {
			p.changedLocked()
		}
	}(d.Status)
	now := time.Now()
	switch d.Status {
	case StatusUploaded:
		if d.RegisterLink != "" && now.Before(d.RegisterExp) {
			return nil
		}
		ch := make([]byte, deeplink.ChallengeSize)
		rand.Read(ch)
		req := &deeplink.Request{Action: deeplink.ActionRegister, RequestID: newID(), CallbackURL: p.Origin + "/callback",
			Origin: p.Origin, Expires: now.Add(linkLifetime).Truncate(time.Second), Challenge: ch, Doc: d.Name}
		link, err := deeplink.Build(req, p.LinkKey)
		if err != nil {
			return err
		}
		if err := p.store.Add(&callback.Pending{RequestID: req.RequestID, Action: req.Action, Origin: req.Origin,
			Challenge: ch, ExpiresAt: req.Expires}); err != nil {
			return err
		}
		d.RegisterLink, d.RegisterID, d.RegisterExp = link, req.RequestID, req.Expires
		p.reqs[req.RequestID] = d
	case StatusRegistered, StatusPending:
		if d.SignLink != "" && now.Before(d.SignExp) {
			return nil
		}
		prep, err := prepare(ctx, d.PDF, d.Cert, d.Chain, p.SignOptions)
		if err != nil {
			d.Status, d.Code, d.Detail = StatusFailed, string(callback.CodeOf(err)), err.Error()
			return err
		}
		// The link keeps its digest (hashBase64), so 1.1 apps still sign;
		// a 1.2 app checks it against the package's document.
		req := &deeplink.Request{Action: deeplink.ActionSign, RequestID: newID(), Hashes: [][]byte{prep.Digest},
			HashAlgo: prep.Hash, CallbackURL: p.Origin + "/callback", Origin: p.Origin,
			Expires: now.Add(linkLifetime).Truncate(time.Second), Doc: d.Name,
			CertSerial: signer.FormatSerial(d.Cert.SerialNumber)}
		pkg, err := p.buildPackage(req, d.Name, prep)
		if err != nil {
			return err
		}
		req.PackageURL, req.PackageSHA256 = p.Origin+"/pkg/"+req.RequestID, sigpkg.Digest(pkg)
		link, err := deeplink.Build(req, p.LinkKey)
		if err != nil {
			return err
		}
		if err := p.store.Add(&callback.Pending{RequestID: req.RequestID, Action: req.Action, Hashes: req.Hashes,
			HashAlgo: req.HashAlgo, Origin: req.Origin, RegisteredCert: d.Cert, CertSerial: d.Cert.SerialNumber,
			ExpiresAt: req.Expires}); err != nil {
			return err
		}
		d.SignLink, d.SignID, d.SignExp, d.prepared, d.pkg = link, req.RequestID, req.Expires, prep, pkg
		d.Status = StatusPending
		p.reqs[req.RequestID] = d
	}
	return nil
}

// buildPackage makes the signing package of a sign link: the prepared PDF
// inline, its signed attributes and ByteRange, from pdf.Prepare's result.
func (p *Portal) buildPackage(req *deeplink.Request, name string, prep *preparedDoc) ([]byte, error) {
	pkg := &sigpkg.Package{RequestID: req.RequestID, HashAlgo: strings.ReplaceAll(prep.Hash.String(), "-", ""),
		Documents: []sigpkg.Document{{Name: name, PDF: prep.file, SignedAttrs: prep.SignedAttributes(), ByteRange: prep.ByteRange()}}}
	if p.tamperPackage != nil {
		p.tamperPackage(pkg)
	}
	return sigpkg.Build(pkg)
}

// servePackage serves a sign link's signing package while the link lives.
// The path's request id is 128 random bits: whoever has it has the link.
func (p *Portal) servePackage(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	d := p.reqs[r.PathValue("requestId")]
	var pkg []byte
	if d != nil && d.SignID == r.PathValue("requestId") && time.Now().Before(d.SignExp) {
		pkg = d.pkg
	}
	p.mu.Unlock()
	if pkg == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(pkg)
}

// retry starts over after a cancel or failure.
func (p *Portal) retry(w http.ResponseWriter, r *http.Request) {
	d := p.doc(r)
	if d == nil {
		http.NotFound(w, r)
		return
	}
	p.mu.Lock()
	if d.Status == StatusCancelled || d.Status == StatusFailed {
		d.SignLink, d.RegisterLink, d.Code, d.Detail = "", "", "", ""
		if d.Cert != nil {
			d.Status = StatusRegistered
		} else {
			d.Status = StatusUploaded
		}
		p.changedLocked()
	}
	p.mu.Unlock()
	http.Redirect(w, r, "/doc/"+d.ID, http.StatusSeeOther)
}

func (p *Portal) status(w http.ResponseWriter, r *http.Request) {
	d := p.doc(r)
	if d == nil {
		http.NotFound(w, r)
		return
	}
	p.mu.Lock()
	body := statusBody(d)
	p.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

func (p *Portal) qr(w http.ResponseWriter, r *http.Request) {
	d := p.doc(r)
	if d == nil {
		http.NotFound(w, r)
		return
	}
	p.mu.Lock()
	link := d.SignLink
	if r.PathValue("kind") == "register.png" {
		link = d.RegisterLink
	}
	p.mu.Unlock()
	if link == "" {
		http.NotFound(w, r)
		return
	}
	png, err := deeplink.QRPNG(link)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(png)
}

func (p *Portal) download(w http.ResponseWriter, r *http.Request) {
	d := p.doc(r)
	if d == nil {
		http.NotFound(w, r)
		return
	}
	p.mu.Lock()
	b, name := d.Signed, d.Name
	p.mu.Unlock()
	if b == nil {
		http.Error(w, "not signed yet", http.StatusConflict)
		return
	}
	name = strings.TrimSuffix(name, ".pdf") + "-signed.pdf"
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", strings.Map(func(r rune) rune {
		if r < 0x20 || r == '"' || r == '\\' || r > 0x7e {
			return '_'
		}
		return r
	}, name)))
	w.Write(b)
}

func (p *Portal) report(w http.ResponseWriter, r *http.Request) {
	d := p.doc(r)
	if d == nil {
		http.NotFound(w, r)
		return
	}
	p.mu.Lock()
	rep := d.Report
	p.mu.Unlock()
	if rep == nil {
		http.Error(w, "not signed yet", http.StatusConflict)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(rep)
}

func (p *Portal) jwks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	json.NewEncoder(w).Encode(deeplink.KeySet{Keys: []deeplink.PublicKey{p.LinkKey.Public()}})
}

// callback receives ss_result: POST from the Desktop Software, GET from the
// Mobile App.
func (p *Portal) callback(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, callback.MaxEncodedSize+1024)
	var enc string
	if r.Method == http.MethodPost {
		enc = r.PostFormValue("ss_result")
	} else {
		enc = r.URL.Query().Get("ss_result")
	}
	out, err := p.verifier.Verify(r.Context(), enc)
	if err != nil {
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	status := http.StatusOK
	switch out.Kind {
	case callback.Accepted:
		p.complete(r.Context(), out)
	case callback.Conflict:
		status = http.StatusConflict
	case callback.Rejected:
		status = http.StatusUnprocessableEntity
	}
	p.Log.Info("callback", "requestId", out.RequestID, "kind", out.Kind, "code", out.Code, "detail", out.Detail)
	if r.Method == http.MethodGet {
		p.mu.Lock()
		d := p.reqs[out.RequestID]
		p.mu.Unlock()
		if d != nil && status == http.StatusOK {
			http.Redirect(w, r, "/doc/"+d.ID, http.StatusSeeOther)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"success": status == http.StatusOK, "outcome": string(out.Kind), "error": out.Code, "message": out.Detail})
}

// complete applies an accepted result to its document.
func (p *Portal) complete(ctx context.Context, out *callback.Outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.changedLocked()
	d := p.reqs[out.RequestID]
	if d == nil {
		return
	}
	c := out.Completion
	if !c.Success {
		if c.Code == callback.CodeSignCancelled {
			d.Status = StatusCancelled
		} else {
			d.Status = StatusFailed
		}
		d.Code, d.Detail = string(c.Code), c.Message
		return
	}
	switch out.RequestID {
	case d.RegisterID:
		d.Cert, d.Chain, d.Status = c.Certificate, c.Chain, StatusRegistered
		if len(d.Chain) == 0 {
			d.Chain = p.Intermediates
		}
		d.SignLink = ""
	case d.SignID:
		signed, err := finish(ctx, d.prepared, c.Signatures[0], p.SignOptions)
		if err != nil {
			d.Status, d.Code, d.Detail = StatusFailed, string(callback.CodeOf(err)), err.Error()
			return
		}
		rep, err := pdf.Verify(ctx, bytes.NewReader(signed), int64(len(signed)), pdf.VerifyOptions{Roots: p.Roots, Intermediates: append(d.Chain, p.Intermediates...)})
		if err != nil {
			d.Status, d.Code, d.Detail = StatusFailed, string(callback.CodeOf(err)), "validation: "+err.Error()
			return
		}
		d.Signed, d.Report, d.Status = signed, rep, StatusSigned
		d.SignedAt, d.AtTS = signedAt(rep, time.Now())
	}
}
