package desktop

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/deeplink/sigpkg"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/pdf"
)

// TestPackageOrigins: a link on the portal's origin A whose package (and
// PDF) is on a gateway's origin G is refused until G is one of the
// policy's packageOrigins, with a message naming G and the setting, and
// accepted with it; a package, or a PDF, on a third origin is refused even
// with G configured.
func TestPackageOrigins(t *testing.T) {
	ks := newFakeKeystore(t)
	in := testpdf.Minimal("Personal Loan Agreement 4711")
	var prepared bytes.Buffer
	ps, err := pdf.Prepare(context.Background(), &prepared, bytes.NewReader(in), int64(len(in)), ks.leaf.Cert, ks.leaf.Chain, pdf.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// Each server serves what pkgs holds under its host and path.
	pkgs := map[string][]byte{}
	serve := func(w http.ResponseWriter, r *http.Request) {
		if b, ok := pkgs[r.Host+r.URL.Path]; ok {
			w.Write(b)
			return
		}
		w.WriteHeader(http.StatusOK) // the portal's callback
	}
	portal := httptest.NewServer(http.HandlerFunc(serve))
	gateway := httptest.NewServer(http.HandlerFunc(serve))
	third := httptest.NewServer(http.HandlerFunc(serve))
	for _, s := range []*httptest.Server{portal, gateway, third} {
		t.Cleanup(s.Close)
	}
	host := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }
	k := linkKey(t)
	n := 0
	link := func(t *testing.T, pkgSrv, pdfSrv *httptest.Server) string {
		t.Helper()
		n++
		reqID := "req-pkgorigin-" + testID([]byte{byte(n)})
		pkgs[host(pdfSrv)+"/"+reqID+"/1.pdf"] = prepared.Bytes()
		raw, err := sigpkg.Build(&sigpkg.Package{RequestID: reqID, Documents: []sigpkg.Document{{
			Name: "Personal Loan Agreement", PDFURL: pdfSrv.URL + "/" + reqID + "/1.pdf", PDFSHA256: sigpkg.Digest(prepared.Bytes()),
			SignedAttrs: ps.SignedAttributes(), ByteRange: ps.ByteRange()}}})
		if err != nil {
			t.Fatal(err)
		}
		pkgs[host(pkgSrv)+"/"+reqID] = raw
		l, err := deeplink.Build(&deeplink.Request{Action: deeplink.ActionSign, RequestID: reqID, Hashes: [][]byte{ps.Digest},
			HashAlgo: crypto.SHA256, CallbackURL: portal.URL + "/cb", Origin: portal.URL, Expires: time.Now().Add(10 * time.Minute),
			PackageURL: pkgSrv.URL + "/" + reqID, PackageSHA256: sigpkg.Digest(raw)}, k)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	newApp := func(pkgOrigins ...string) *App {
		return &App{Policy: Policy{AllowedOrigins: []string{portal.URL}, PackageOrigins: pkgOrigins}, Keystore: ks,
			TrustedKeys: &deeplink.KeySet{Keys: []deeplink.PublicKey{k.Public()}}}
	}

	cases := []struct {
		name           string
		pkgOrigins     []string
		pkgSrv, pdfSrv *httptest.Server
		refused        string // the origin refused; "" accepted
	}{
		{"gateway not configured", nil, gateway, gateway, gateway.URL},
		{"gateway configured", []string{gateway.URL}, gateway, gateway, ""},
		{"gateway configured, not canonical", []string{strings.Replace(gateway.URL, "http://", "HTTP://", 1) + "/"}, gateway, gateway, ""},
		{"portal's own package, nothing configured", nil, portal, portal, ""},
		{"package on a third origin", []string{gateway.URL}, third, third, third.URL},
		{"PDF on a third origin", []string{gateway.URL}, gateway, third, third.URL},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			app := newApp(c.pkgOrigins...)
			chk, err := app.Check(context.Background(), link(t, c.pkgSrv, c.pdfSrv))
			if c.refused == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(chk.Documents) != 1 || !bytes.Equal(chk.Documents[0].PDF, prepared.Bytes()) {
					t.Fatalf("documents %+v", chk.Documents)
				}
				return
			}
			var oe *sigpkg.OriginError
			if err == nil || chk == nil || !errors.As(err, &oe) || oe.Origin != c.refused {
				t.Fatalf("got %v, want a refusal of %s", err, c.refused)
			}
			for _, want := range []string{c.refused, "packageOrigins", "--package-origin", portal.URL} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q does not name %q", err, want)
				}
			}
			if got := Code(err); got != callback.CodeLinkInvalid {
				t.Errorf("code %s, want SS_LINK_INVALID", got)
			}
			if msg, check := packageMessage(err); msg.ID != "pkg_origin" || check != sigpkg.CheckFetch || len(msg.Args) != 1 || msg.Args[0] != c.refused {
				t.Errorf("page message %+v (%s)", msg, check)
			}
		})
	}

	// The page says it in plain words, naming the origin, with no PIN field.
	app := newApp()
	app.OpenBrowser = func(context.Context, string) error { return nil }
	ui, err := app.NewUI()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go ui.Serve(ctx)
	page, _ := ui.Open(ctx, link(t, gateway, gateway))
	_, body := get(t, page, nil)
	for _, want := range []string{`data-state="refused"`, `data-check="fetch"`, "The document is kept at", gateway.URL, "package origins", "Nothing was signed"} {
		if !strings.Contains(body, want) {
			t.Errorf("refusal page lacks %q", want)
		}
	}
	if strings.Contains(body, `type="password"`) {
		t.Error("refusal page offers a PIN field")
	}
}
