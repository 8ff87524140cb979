package mobileapp_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securesign/securesign/adapters/gateway"
	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/deeplink/sigpkg"
	"github.com/securesign/securesign/examples/mobile/mobileapp"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

// devGateway is the reference gateway in dev mode behind httptest, and a
// user's key whose CA it trusts.
type devGateway struct {
	t      *testing.T
	ctx    context.Context
	base   string
	apiKey string
	data   string
	key    signer.Signer
}

func startGateway(t *testing.T, mods ...func(*gateway.Config)) *devGateway {
	t.Helper()
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.RSA2048, testpki.Options{CommonName: "Rajesh Kumar"})
	dir := t.TempDir()
	rootPEM := filepath.Join(dir, "root.pem")
	os.WriteFile(rootPEM, testpki.PEM(h.Root.Cert), 0o600)

	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	// Bounded, so a hung store fails this test instead of the whole run.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	data := filepath.Join(dir, "data")
	cfg := gateway.Config{Dev: true, DataDir: data, PublicURL: base,
		TrustFiles: []string{rootPEM}, Revocation: "off", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, m := range mods {
		m(&cfg)
	}
	srv, err := gateway.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	apiKey, err := gateway.EnsureDevTenant(ctx, srv.Store(), time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	key, err := signer.NewSoftware(leaf.Key, leaf.Cert, leaf.Chain)
	if err != nil {
		t.Fatal(err)
	}
	return &devGateway{t: t, ctx: ctx, base: base, apiKey: apiKey, data: data, key: key}
}

func (g *devGateway) call(method, path string, body any) map[string]any {
	g.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(g.ctx, method, g.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+g.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 && resp.StatusCode != 201 {
		g.t.Fatalf("%s %s: %s %v", method, path, resp.Status, out)
	}
	return out
}

// register registers the user's certificate with the tenant through a
// register link answered by the mobile app, so PDF sessions can name it.
func (g *devGateway) register() string {
	g.t.Helper()
	reg := g.call("POST", "/v1/register", map[string]any{"doc": "Register your DSC"})
	app := &mobileapp.App{AllowedOrigins: []string{g.base}, RequireSigned: true, Signer: g.key}
	if _, err := app.Handle(g.ctx, reg["deepLink"].(string)); err != nil {
		g.t.Fatalf("register: %v", err)
	}
	return g.key.Certificate().SerialNumber.Text(16)
}

// countingSigner counts signatures: the attacks must make none.
type countingSigner struct {
	signer.Signer
	mu sync.Mutex
	n  int
}

func (c *countingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.Signer.Sign(r, digest, opts)
}

func (c *countingSigner) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestAgainstGateway completes a hash-signing session of the reference
// gateway (dev mode) with the mobile client: the gateway makes the link, the
// app signs and opens /v1/callback?ss_result=…, the session turns signed.
func TestAgainstGateway(t *testing.T) {
	g := startGateway(t)
	d := sha256.Sum256([]byte("loan agreement"))
	sess := g.call("POST", "/v1/sign/hash", map[string]any{"hashBase64": base64.StdEncoding.EncodeToString(d[:]), "hashAlgo": "SHA256"})
	link, _ := sess["deepLink"].(string)
	reqID, _ := sess["requestId"].(string)
	if link == "" || reqID == "" {
		t.Fatalf("session: %v", sess)
	}

	var shown *mobileapp.Request
	app := &mobileapp.App{AllowedOrigins: []string{g.base}, RequireSigned: true, Signer: g.key,
		Confirm: func(r *mobileapp.Request) bool { shown = r; return true }}
	out, err := app.Handle(g.ctx, link)
	if err != nil {
		t.Fatalf("mobile app: %v", err)
	}
	if out.Status != 200 {
		t.Errorf("callback answered %d", out.Status)
	}
	// The gateway's link names the tenant, under the tenant's own key.
	if shown == nil || !shown.Verified || shown.Org != "Development tenant" {
		t.Errorf("the app showed %+v, want the verified tenant name", shown)
	}
	// A bare digest: no document to show, and the user is told so.
	if shown.Warning != mobileapp.NoDocumentWarning || len(shown.Documents) != 0 {
		t.Errorf("a link without a package showed warning %q, documents %v", shown.Warning, shown.Documents)
	}
	st := g.call("GET", "/v1/sessions/"+reqID, nil)
	if st["status"] != "signed" {
		t.Fatalf("session status %v", st)
	}
}

// TestRequirePackageAgainstGateway: an app that requires packages refuses
// the gateway's bare-digest link before asking, signs nothing, and the
// gateway records SS_LINK_INVALID.
func TestRequirePackageAgainstGateway(t *testing.T) {
	g := startGateway(t)
	d := sha256.Sum256([]byte("loan agreement"))
	sess := g.call("POST", "/v1/sign/hash", map[string]any{"hashBase64": base64.StdEncoding.EncodeToString(d[:]), "hashAlgo": "SHA256"})
	link, _ := sess["deepLink"].(string)
	reqID, _ := sess["requestId"].(string)
	signer := &countingSigner{Signer: g.key}
	asked := false
	app := &mobileapp.App{AllowedOrigins: []string{g.base}, RequireSigned: true, RequirePackage: true, Signer: signer,
		Confirm: func(*mobileapp.Request) bool { asked = true; return true }}
	_, err := app.Handle(g.ctx, link)
	var pe *sigpkg.Error
	if !errors.As(err, &pe) || pe.Check != sigpkg.CheckPresent {
		t.Fatalf("a link without a package: %v", err)
	}
	if asked || signer.count() != 0 {
		t.Errorf("asked %v, signed %d times", asked, signer.count())
	}
	st := g.call("GET", "/v1/sessions/"+reqID, nil)
	if st["status"] != "failed" || !strings.Contains(fmt.Sprint(st), "SS_LINK_INVALID") {
		t.Errorf("session %v, want failed with SS_LINK_INVALID", st)
	}
}

// TestPackageAgainstGateway: a PDF session of the gateway; the app fetches
// and checks its signing package before asking, saves the PDF where the
// user can open it, signs the digest the package proved, and the gateway
// finishes the signed PDF.
func TestPackageAgainstGateway(t *testing.T) {
	g := startGateway(t)
	serial := g.register()
	input := testpdf.Minimal("Personal Loan Agreement Rs 5,00,000")
	sess := g.call("POST", "/v1/sign/pdf", map[string]any{"pdfBase64": base64.StdEncoding.EncodeToString(input), "certSerial": serial,
		"doc": "Personal Loan Agreement"})
	reqID := sess["requestId"].(string)
	save := t.TempDir()
	cs := &countingSigner{Signer: g.key}
	var shown *mobileapp.Request
	app := &mobileapp.App{AllowedOrigins: []string{g.base}, RequireSigned: true, Signer: cs, SaveDir: save,
		Confirm: func(r *mobileapp.Request) bool {
			shown = r
			// The user opens the document before agreeing: it is there.
			for _, d := range r.Documents {
				if _, err := os.Stat(d.Path); err != nil {
					t.Errorf("document to open: %v", err)
				}
			}
			return true
		}}
	out, err := app.Handle(g.ctx, sess["deepLink"].(string))
	if err != nil {
		t.Fatalf("mobile app: %v", err)
	}
	if shown == nil || shown.Warning != "" || len(shown.Documents) != 1 || shown.Digests != 1 {
		t.Fatalf("the app showed %+v", shown)
	}
	doc := shown.Documents[0]
	if doc.Name != "Personal Loan Agreement" || filepath.Dir(doc.Path) != save || len(out.Documents) != 1 || out.Documents[0] != doc {
		t.Errorf("document %+v, outcome documents %+v", doc, out.Documents)
	}
	saved, err := os.ReadFile(doc.Path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(saved)
	if !bytes.HasPrefix(saved, input) || hex.EncodeToString(sum[:]) != doc.SHA256 {
		t.Error("the saved PDF is not the prepared upload")
	}
	if fi, _ := os.Stat(doc.Path); fi.Mode().Perm() != 0o600 {
		t.Errorf("saved with mode %v", fi.Mode().Perm())
	}
	if cs.count() != 1 {
		t.Errorf("%d signatures, want 1", cs.count())
	}
	st := g.call("GET", "/v1/sessions/"+reqID, nil)
	if st["status"] != "signed" || st["signedPdfBase64"] == nil {
		t.Fatalf("session status %v", st["status"])
	}
}

// hostilePortal is a portal that makes its own links (signed with its own
// key, which the app trusts) from the gateway's real packages, and records
// what the app reports to its callback.
type hostilePortal struct {
	srv     *httptest.Server
	key     *deeplink.SigningKey
	mu      sync.Mutex
	pkgs    map[string][]byte
	results []*callback.Result
}

func newHostilePortal(t *testing.T) *hostilePortal {
	k, err := deeplink.NewSigningKey("evil-1", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := &hostilePortal{key: k, pkgs: map[string][]byte{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if r.URL.Path == "/cb" {
			if res, err := callback.Decode(r.URL.Query().Get("ss_result")); err == nil {
				p.results = append(p.results, res)
			}
			return
		}
		b, ok := p.pkgs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// link serves docs as a package and returns a signed link asking for
// digests under doc.
func (p *hostilePortal) link(t *testing.T, reqID, doc string, docs []sigpkg.Document, digests [][]byte) string {
	t.Helper()
	raw, err := sigpkg.Build(&sigpkg.Package{RequestID: reqID, Documents: docs})
	if err != nil {
		t.Fatal(err)
	}
	path := "/pkg/" + reqID
	p.mu.Lock()
	p.pkgs[path] = raw
	p.mu.Unlock()
	link, err := deeplink.Build(&deeplink.Request{Action: deeplink.ActionSign, RequestID: reqID, Hashes: digests,
		CallbackURL: p.srv.URL + "/cb", Origin: p.srv.URL, Expires: time.Now().Add(10 * time.Minute), Doc: doc, Org: "Example Bank",
		PackageURL: p.srv.URL + path, PackageSHA256: sigpkg.Digest(raw)}, p.key)
	if err != nil {
		t.Fatal(err)
	}
	return link
}

func (p *hostilePortal) last() *callback.Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.results) == 0 {
		return nil
	}
	return p.results[len(p.results)-1]
}

// gatewayDocument fetches the one document of a gateway session's package,
// PDF inline: what a portal holds after making the session.
func gatewayDocument(t *testing.T, sess map[string]any) sigpkg.Document {
	t.Helper()
	get := func(u string) []byte {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", u, res.StatusCode)
		}
		return b
	}
	p, err := sigpkg.Parse(get(sess["packageUrl"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	d := p.Documents[0]
	d.PDF, d.PDFURL, d.PDFSHA256 = get(d.PDFURL), "", ""
	return d
}

func attrsDigest(d sigpkg.Document) []byte {
	h := sha256.Sum256(d.SignedAttrs)
	return h[:]
}

// TestPackageAttacks: the two attacks of issue 19 against the mobile app,
// on the gateway's real prepared PDFs. (a) The prepared PDF is changed
// after the link was made: in the gateway's store (the link's pdfSha256
// refuses it), or by a portal that serves an edited copy with the same
// size (the signed attributes' messageDigest refuses it). (b) A portal puts
// the loan's digest under a harmless name and the harmless document. Each
// is refused before the user is asked, with a message naming the check,
// reported to the link's callback as SS_LINK_INVALID, and nothing is signed
// or saved.
func TestPackageAttacks(t *testing.T) {
	g := startGateway(t)
	serial := g.register()
	newSession := func(text, doc string) map[string]any {
		return g.call("POST", "/v1/sign/pdf", map[string]any{"pdfBase64": base64.StdEncoding.EncodeToString(testpdf.Minimal(text)),
			"certSerial": serial, "doc": doc})
	}
	portal := newHostilePortal(t)
	trusted := &deeplink.KeySet{Keys: []deeplink.PublicKey{portal.key.Public()}}

	run := func(t *testing.T, link, origin, check string) (*mobileapp.Outcome, error) {
		t.Helper()
		save := t.TempDir()
		cs := &countingSigner{Signer: g.key}
		asked := false
		app := &mobileapp.App{AllowedOrigins: []string{origin}, RequireSigned: true, Signer: cs, SaveDir: save, TrustedKeys: trusted,
			Confirm: func(*mobileapp.Request) bool { asked = true; return true }}
		out, err := app.Handle(g.ctx, link)
		var pe *sigpkg.Error
		if !errors.As(err, &pe) || pe.Check != check || !errors.Is(err, deeplink.ErrPackage) {
			t.Fatalf("err = %v, want the %s check", err, check)
		}
		if !strings.Contains(err.Error(), "refused before signing") || !strings.Contains(err.Error(), check) {
			t.Errorf("message %q does not say what was refused", err)
		}
		if asked || cs.count() != 0 {
			t.Errorf("asked the user: %v, signatures: %d", asked, cs.count())
		}
		if out == nil || out.Result == nil || out.Result.Success || out.Result.Error != callback.CodeLinkInvalid {
			t.Errorf("reported %+v, want SS_LINK_INVALID", out)
		}
		if len(out.Documents) != 0 {
			t.Errorf("documents %v", out.Documents)
		}
		if left, _ := os.ReadDir(save); len(left) != 0 {
			t.Errorf("saved %d files", len(left))
		}
		return out, err
	}

	t.Run("PDF swapped in the gateway's store", func(t *testing.T) {
		loan := newSession("Personal Loan Agreement Rs 5,00,000", "Personal Loan Agreement")
		rid := loan["requestId"].(string)
		prepared := filepath.Join(g.data, "files", rid+"-0.prepared.pdf")
		b, err := os.ReadFile(prepared)
		if err != nil {
			t.Fatalf("the dir store's prepared file: %v", err)
		}
		os.WriteFile(prepared, bytes.Replace(b, []byte("Rs 5,00,000"), []byte("Rs 9,00,000"), 1), 0o600)
		run(t, loan["deepLink"].(string), g.base, sigpkg.CheckPDFHash)
		// The report reached the gateway: the session failed, unsigned.
		st := g.call("GET", "/v1/sessions/"+rid, nil)
		if st["status"] != "failed" || st["error"] != string(callback.CodeLinkInvalid) || !strings.Contains(st["message"].(string), sigpkg.CheckPDFHash) {
			t.Errorf("session after the refusal: %v", st)
		}
	})

	loan := gatewayDocument(t, newSession("Personal Loan Agreement Rs 5,00,000", "Personal Loan Agreement"))
	harmless := gatewayDocument(t, newSession("Newsletter consent, nothing else", "Newsletter consent"))

	t.Run("PDF swapped by the portal", func(t *testing.T) {
		swapped := loan
		swapped.PDF = bytes.Replace(loan.PDF, []byte("Rs 5,00,000"), []byte("Rs 9,00,000"), 1)
		rid := "evil-swap-0001"
		run(t, portal.link(t, rid, "Personal Loan Agreement", []sigpkg.Document{swapped}, [][]byte{attrsDigest(loan)}), portal.srv.URL, sigpkg.CheckMessageDigest)
		if r := portal.last(); r == nil || r.RequestID != rid || r.Error != callback.CodeLinkInvalid || !strings.Contains(r.Message, sigpkg.CheckMessageDigest) {
			t.Errorf("the portal received %+v", r)
		}
	})

	t.Run("another document's digest under a harmless name", func(t *testing.T) {
		rid := "evil-name-0001"
		run(t, portal.link(t, rid, "Newsletter consent", []sigpkg.Document{harmless}, [][]byte{attrsDigest(loan)}), portal.srv.URL, sigpkg.CheckDigest)
		if r := portal.last(); r == nil || r.RequestID != rid || r.Error != callback.CodeLinkInvalid || !strings.Contains(r.Message, sigpkg.CheckDigest) {
			t.Errorf("the portal received %+v", r)
		}
	})
}

// TestPackageOrigins: a portal's own link (its callbackUrl, made by the
// gateway with --package-on-portal-links) names the gateway's package. The
// app refuses it until the gateway's origin is one of its package origins,
// naming that origin and the setting, and reports the refusal to the
// portal; with the setting it checks the package and signs. A package on a
// third origin is refused even so.
func TestPackageOrigins(t *testing.T) {
	g := startGateway(t, func(c *gateway.Config) { c.PackageOnPortalLinks = true })
	serial := g.register()
	portal := newHostilePortal(t) // here an honest portal: its callback records what the app reports
	b, _ := json.Marshal(g.call("GET", "/v1/link-keys", nil))
	var trusted deeplink.KeySet
	if err := json.Unmarshal(b, &trusted); err != nil || len(trusted.Keys) == 0 {
		t.Fatalf("the tenant's link keys: %s (%v)", b, err)
	}
	trusted.Keys = append(trusted.Keys, portal.key.Public())
	newSession := func() map[string]any {
		return g.call("POST", "/v1/sign/pdf", map[string]any{"pdfBase64": base64.StdEncoding.EncodeToString(testpdf.Minimal("Personal Loan Agreement Rs 5,00,000")),
			"certSerial": serial, "doc": "Personal Loan Agreement", "callbackUrl": portal.srv.URL + "/cb"})
	}
	handle := func(t *testing.T, link string, pkgOrigins []string) (*mobileapp.Outcome, int, bool, error) {
		t.Helper()
		cs := &countingSigner{Signer: g.key}
		asked := false
		app := &mobileapp.App{AllowedOrigins: []string{portal.srv.URL}, RequireSigned: true, Signer: cs, SaveDir: t.TempDir(), TrustedKeys: &trusted,
			Confirm: func(*mobileapp.Request) bool { asked = true; return true }}
		if pkgOrigins != nil {
			app.Packages = &sigpkg.Fetcher{PackageOrigins: pkgOrigins}
		}
		out, err := app.Handle(g.ctx, link)
		return out, cs.count(), asked, err
	}
	refused := func(t *testing.T, out *mobileapp.Outcome, n int, asked bool, err error, origin string) {
		t.Helper()
		var oe *sigpkg.OriginError
		if !errors.As(err, &oe) || oe.Origin != origin {
			t.Fatalf("err = %v, want a refusal of %s", err, origin)
		}
		for _, want := range []string{origin, "--package-origin", portal.srv.URL} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q does not name %q", err, want)
			}
		}
		if asked || n != 0 {
			t.Errorf("asked the user: %v, signatures: %d", asked, n)
		}
		if out == nil || out.Result == nil || out.Result.Error != callback.CodeLinkInvalid {
			t.Errorf("reported %+v, want SS_LINK_INVALID", out)
		}
		if r := portal.last(); r == nil || r.Error != callback.CodeLinkInvalid || !strings.Contains(r.Message, origin) {
			t.Errorf("the portal received %+v", r)
		}
	}

	sess := newSession()
	link := sess["deepLink"].(string)
	if l, err := deeplink.Parse(link, time.Now()); err != nil || l.Origin != portal.srv.URL || !strings.HasPrefix(l.PackageURL, g.base+"/") {
		t.Fatalf("the portal's link: %+v, %v", l, err)
	}
	t.Run("gateway not configured", func(t *testing.T) {
		out, n, asked, err := handle(t, link, nil)
		refused(t, out, n, asked, err, g.base)
	})
	t.Run("gateway configured", func(t *testing.T) {
		out, n, asked, err := handle(t, newSession()["deepLink"].(string), []string{g.base})
		if err != nil || !asked || n != 1 || len(out.Documents) != 1 || out.Result == nil || !out.Result.Success {
			t.Fatalf("with the gateway's origin: %+v, %v (asked %v, %d signatures)", out, err, asked, n)
		}
		if r := portal.last(); r == nil || !r.Success {
			t.Errorf("the portal received %+v", r)
		}
	})
	t.Run("package on a third origin", func(t *testing.T) {
		doc := gatewayDocument(t, newSession())
		rid := "third-origin-0001"
		raw, err := sigpkg.Build(&sigpkg.Package{RequestID: rid, Documents: []sigpkg.Document{doc}})
		if err != nil {
			t.Fatal(err)
		}
		third := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(raw) }))
		t.Cleanup(third.Close)
		l, err := deeplink.Build(&deeplink.Request{Action: deeplink.ActionSign, RequestID: rid, Hashes: [][]byte{attrsDigest(doc)},
			CallbackURL: portal.srv.URL + "/cb", Origin: portal.srv.URL, Expires: time.Now().Add(10 * time.Minute), Doc: "Personal Loan Agreement",
			PackageURL: third.URL + "/pkg", PackageSHA256: sigpkg.Digest(raw)}, portal.key)
		if err != nil {
			t.Fatal(err)
		}
		out, n, asked, err := handle(t, l, []string{g.base})
		refused(t, out, n, asked, err, third.URL)
	})
}
