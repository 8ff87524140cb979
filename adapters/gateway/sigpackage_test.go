package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/deeplink/sigpkg"
	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
)

// getURL fetches an absolute URL of the gateway without credentials.
func getURL(t testing.TB, u string) (int, []byte) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// checkPackage checks the package of a gateway link twice, as an app does:
// sigpkg.Fetcher.Verify, and sigpkg.Check over the bytes fetched here.
func checkPackage(t testing.TB, link string) (*deeplink.Link, []sigpkg.Verified) {
	t.Helper()
	l, err := deeplink.Parse(link, time.Now())
	if err != nil {
		t.Fatalf("link: %v", err)
	}
	if l.PackageURL == "" || l.PackageSHA256 == "" {
		t.Fatalf("link without a package: %s", link)
	}
	docs, err := (&sigpkg.Fetcher{}).Verify(context.Background(), l)
	if err != nil {
		t.Fatalf("Fetcher.Verify: %v", err)
	}
	code, raw := getURL(t, l.PackageURL)
	if code != 200 {
		t.Fatalf("package: %d %s", code, raw)
	}
	again, err := sigpkg.Check(raw, sigpkg.ExpectOf(l), func(i int, d *sigpkg.Document) ([]byte, error) {
		code, b := getURL(t, d.PDFURL)
		if code != 200 {
			return nil, fmt.Errorf("%s: %d", d.PDFURL, code)
		}
		return b, nil
	})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if len(again) != len(docs) {
		t.Fatalf("Check gave %d documents, Verify %d", len(again), len(docs))
	}
	for i := range docs {
		if !bytes.Equal(docs[i].Digest, again[i].Digest) || !bytes.Equal(docs[i].PDF, again[i].PDF) {
			t.Errorf("document %d differs between Verify and Check", i+1)
		}
	}
	return l, docs
}

// TestSigningPackage: a token PDF session's link names a package that a
// signing app verifies (protocol 1.2 §6), end to end through the HTTP
// server, with both stores; the package URL opens nothing else, for
// nobody else, and not after the session.
func TestSigningPackage(t *testing.T) {
	pdfsig := testenv.LookPath(t, "pdfsig", "poppler-utils")
	eachStore(t, func(t *testing.T, st Store) {
		g := newTestGW(t, st)
		k := testpki.Key(t, testpki.P256, 40)
		issued := g.issueCSR(g.key, "cust-pkg", k)
		app := appSigner(t, k, issued)
		input := testpdf.Minimal("package")
		out := g.must(201, "POST", "/v1/sign/pdf", g.key, map[string]any{"pdfBase64": b64(input), "certSerial": issued["serialNumber"],
			"doc": "Personal Loan Agreement", "visible": true})
		rid := out["requestId"].(string)
		l, docs := checkPackage(t, out["deepLink"].(string))
		if out["packageUrl"] != l.PackageURL || out["packageSha256"] != l.PackageSHA256 {
			t.Errorf("answer names package %v %v, link %s %s", out["packageUrl"], out["packageSha256"], l.PackageURL, l.PackageSHA256)
		}
		if !strings.HasPrefix(l.PackageURL, g.url+"/v1/packages/"+rid+"?cap=") {
			t.Errorf("pkgUrl %s is not the gateway's capability URL", l.PackageURL)
		}
		// One document fits the link: its digest stays there for 1.1 apps,
		// and it is the one the package proves.
		if len(docs) != 1 || docs[0].Name != "Personal Loan Agreement" || len(l.Hashes) != 1 || !bytes.Equal(l.Hashes[0], docs[0].Digest) {
			t.Fatalf("package documents %+v, link digests %x", docs, l.Hashes)
		}
		// The prepared PDF is the input plus one revision.
		if !bytes.HasPrefix(docs[0].PDF, input) {
			t.Error("the prepared PDF does not start with the uploaded one")
		}

		// What a capability does not open.
		pkgURL, _ := url.Parse(l.PackageURL)
		capTok := pkgURL.Query().Get("cap")
		pdfURL := g.url + "/v1/packages/" + rid + "/1.pdf?cap=" + url.QueryEscape(capTok)
		if code, b := getURL(t, pdfURL); code != 200 || !bytes.Equal(b, docs[0].PDF) {
			t.Fatalf("PDF by its URL: %d", code)
		}
		watchCap := mustQuery(t, out["watchUrl"].(string), "cap")
		other := g.must(201, "POST", "/v1/sign/pdf", g.key, map[string]any{"pdfBase64": b64(testpdf.Minimal("other")), "certSerial": issued["serialNumber"]})
		otherCap := mustQuery(t, other["packageUrl"].(string), "cap")
		hash := g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("no package"))})
		if hash["packageUrl"] != nil {
			t.Errorf("a hash session has a package: %v", hash["packageUrl"])
		}
		hashRID := hash["requestId"].(string)
		for name, path := range map[string]string{
			"no cap":                 "/v1/packages/" + rid,
			"wrong cap":              "/v1/packages/" + rid + "?cap=" + url.QueryEscape(capTok[:len(capTok)-2]+"AA"),
			"longer expiry":          "/v1/packages/" + rid + "?cap=" + url.QueryEscape("9"+capTok),
			"the watch cap":          "/v1/packages/" + rid + "?cap=" + url.QueryEscape(watchCap),
			"another session's cap":  "/v1/packages/" + rid + "?cap=" + url.QueryEscape(otherCap),
			"the cap on a PDF of it": "/v1/packages/" + rid + "/1.pdf?cap=" + url.QueryEscape(otherCap),
			"document 0":             "/v1/packages/" + rid + "/0.pdf?cap=" + url.QueryEscape(capTok),
			"document 2 of 1":        "/v1/packages/" + rid + "/2.pdf?cap=" + url.QueryEscape(capTok),
			"document 01":            "/v1/packages/" + rid + "/01.pdf?cap=" + url.QueryEscape(capTok),
			"the prepared file name": "/v1/packages/" + rid + "/" + rid + "-0.prepared.pdf?cap=" + url.QueryEscape(capTok),
			"a hash session":         "/v1/packages/" + hashRID + "?cap=" + url.QueryEscape(capToken(g.srv.capKey, capPackage, hashRID, time.Now().Add(time.Hour))),
			"the watch view":         "/v1/watch/" + rid + "?cap=" + url.QueryEscape(capTok),
		} {
			if code, _ := g.call("GET", path, "", nil); code != 404 {
				t.Errorf("%s: %d, want 404", name, code)
			}
		}
		// The API key is no capability.
		g.wantErr(404, CodeNotFound, "GET", "/v1/packages/"+rid, g.key, nil)
		// Read-only.
		if res, _ := g.raw("POST", "/v1/packages/"+rid+"?cap="+url.QueryEscape(capTok), "", "{}"); res.StatusCode != 405 {
			t.Errorf("POST to the package: %d, want 405", res.StatusCode)
		}

		// Another tenant: its own package capability opens its own session
		// only, and its API key opens nothing of ours.
		ctx := context.Background()
		if err := st.CreateTenant(ctx, &Tenant{ID: "other", Name: "Other Bank", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		otherKey, _, err := NewAPIKey(ctx, st, "other", "k", true, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ok := testpki.Key(t, testpki.P256, 41)
		oIssued := g.issueCSR(otherKey, "cust-other", ok)
		theirs := g.must(201, "POST", "/v1/sign/pdf", otherKey, map[string]any{"pdfBase64": b64(testpdf.Minimal("theirs")), "certSerial": oIssued["serialNumber"]})
		checkPackage(t, theirs["deepLink"].(string))
		theirCap := mustQuery(t, theirs["packageUrl"].(string), "cap")
		for _, path := range []string{"/v1/packages/" + rid + "?cap=" + url.QueryEscape(theirCap), "/v1/packages/" + rid + "/1.pdf?cap=" + url.QueryEscape(theirCap)} {
			if code, _ := g.call("GET", path, otherKey, nil); code != 404 {
				t.Errorf("other tenant, %s: %d, want 404", path, code)
			}
		}

		// The app signs what the package proved; the session finishes,
		// and the signed PDF is valid for pdfsig.
		enc := signLink(t, g, out["deepLink"].(string), app)
		if code, ans := g.postResult(enc); code != 200 || ans["status"] != "signed" {
			t.Fatalf("callback = %d %v", code, ans)
		}
		res, signed := g.raw("GET", "/v1/sessions/"+rid+"/pdf", g.key, nil)
		if res.StatusCode != 200 {
			t.Fatalf("download = %d", res.StatusCode)
		}
		path := filepath.Join(t.TempDir(), "signed.pdf")
		os.WriteFile(path, signed, 0o600) //nolint:errcheck
		if rep, err := exec.Command(pdfsig, path).CombinedOutput(); !strings.Contains(string(rep), "Signature is Valid") {
			t.Errorf("pdfsig: %v\n%s", err, rep)
		}
		// Signed: the package is not served any more.
		if code, _ := getURL(t, l.PackageURL); code != 404 {
			t.Errorf("package of a signed session: %d, want 404", code)
		}
		if code, _ := getURL(t, pdfURL); code != 404 {
			t.Errorf("PDF of a signed session: %d, want 404", code)
		}
		// Expired: the other session's package goes with it.
		if code, _ := getURL(t, other["packageUrl"].(string)); code != 200 {
			t.Fatalf("package before expiry: %d", code)
		}
		g.clock.Advance(g.srv.cfg.SessionTTL + time.Second)
		if code, _ := getURL(t, other["packageUrl"].(string)); code != 404 {
			t.Errorf("package after expiry: %d, want 404", code)
		}
	})
}

func mustQuery(t testing.TB, u, name string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil || p.Query().Get(name) == "" {
		t.Fatalf("%s has no %s: %v", u, name, err)
	}
	return p.Query().Get(name)
}

// TestSigningPackageBatch50: 50 PDFs in one batch go into one link of at
// most 2048 bytes (no digests in it: the package carries them), and the
// app signs all 50 under one PIN entry.
func TestSigningPackageBatch50(t *testing.T) {
	g := newTestGW(t, nil)
	k := testpki.Key(t, testpki.P256, 42)
	issued := g.issueCSR(g.key, "cust-batch", k)
	app := appSigner(t, k, issued)
	items := make([]map[string]any, 50)
	for i := range items {
		items[i] = map[string]any{"pdfBase64": b64(testpdf.Minimal(fmt.Sprintf("batch document %d", i+1)))}
	}
	items[1]["name"] = "NACH Mandate"
	// A name follows the rules of doc, and only a PDF has one.
	bad := func(name string) []map[string]any {
		return []map[string]any{{"pdfBase64": b64(testpdf.Minimal("x")), "name": name}}
	}
	for _, tc := range []struct {
		items []map[string]any
		msg   string
	}{
		{bad("Loan \u202eAgreement"), "items[0].name"},
		{bad("   "), "items[0].name must not be blank"},
		{bad(strings.Repeat("n", 201)), "name"},
		{[]map[string]any{{"hashBase64": b64(digest("h")), "name": "A digest"}}, "items[0].name: only a PDF item has a name"},
	} {
		e := g.wantErr(400, CodeBadRequest, "POST", "/v1/sign/batch", g.key, map[string]any{"items": tc.items, "certSerial": issued["serialNumber"]})
		if !strings.Contains(e["message"].(string), tc.msg) {
			t.Errorf("message %q does not name %q", e["message"], tc.msg)
		}
	}
	out := g.must(201, "POST", "/v1/sign/batch", g.key, map[string]any{"items": items, "certSerial": issued["serialNumber"], "doc": "Home loan file"})
	if out["sessions"] != nil {
		t.Fatalf("a PDF batch was split: %v", out["sessions"])
	}
	link := out["deepLink"].(string)
	if len(link) > deeplink.MaxLinkLength {
		t.Fatalf("link of %d bytes", len(link))
	}
	l, docs := checkPackage(t, link)
	_, raw := getURL(t, l.PackageURL)
	t.Logf("50 PDFs: link %d bytes, package %d bytes", len(link), len(raw))
	if len(l.Hashes) != 0 || len(docs) != 50 {
		t.Fatalf("link digests %d, package documents %d; want 0 and 50", len(l.Hashes), len(docs))
	}
	if docs[0].Name != "Home loan file (1 of 50)" || docs[1].Name != "NACH Mandate" || docs[49].Name != "Home loan file (50 of 50)" {
		t.Errorf("names %q, %q … %q", docs[0].Name, docs[1].Name, docs[49].Name)
	}
	for i, d := range docs {
		if !bytes.Contains(d.PDF, fmt.Appendf(nil, "batch document %d)", i+1)) {
			t.Errorf("document %d is not the %d-th upload", i+1, i+1)
		}
	}
	enc := signLink(t, g, link, app)
	if code, ans := g.postResult(enc); code != 200 || ans["status"] != "signed" {
		t.Fatalf("callback = %d %v", code, ans)
	}
	s := g.must(200, "GET", "/v1/sessions/"+l.RequestID, g.key, nil)
	if n := len(s["signedPdfsBase64"].([]any)); n != 50 {
		t.Errorf("%d signed PDFs", n)
	}
}

// TestSigningPackageAcrossInstances: two gateways on one PostgreSQL; the
// package of a session made on the first is served, byte for byte, by the
// second (state in the store, PDFs as large objects).
func TestSigningPackageAcrossInstances(t *testing.T) {
	a, b := twoInstances(t)
	k := testpki.Key(t, testpki.P256, 43)
	issued := a.issueCSR(a.key, "multi-pkg", k)
	out := a.must(201, "POST", "/v1/sign/pdf", a.key, map[string]any{"pdfBase64": b64(testpdf.Minimal("two instances")), "certSerial": issued["serialNumber"]})
	_, docs := checkPackage(t, out["deepLink"].(string))
	pkgURL := out["packageUrl"].(string)
	code, raw := getURL(t, strings.Replace(pkgURL, a.url, b.url, 1))
	if code != 200 || sigpkg.Digest(raw) != out["packageSha256"] {
		t.Fatalf("package from B: %d", code)
	}
	p, err := sigpkg.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	code, pdfBytes := getURL(t, strings.Replace(p.Documents[0].PDFURL, a.url, b.url, 1))
	if code != 200 || !bytes.Equal(pdfBytes, docs[0].PDF) {
		t.Fatalf("PDF from B: %d, %d bytes", code, len(pdfBytes))
	}
}

// TestSigningPackagePortalOrigin: a link on the portal's own origin (its
// own callbackUrl) names the gateway's package only when its digests do
// not fit it: an app takes a package from the gateway's origin only when
// configured to, so a link that fits stays as in 1.1; a 50-PDF batch, which
// could not be one link before, gets the package and verifies for an app
// that trusts the gateway's origin (and for no other).
func TestSigningPackagePortalOrigin(t *testing.T) {
	g := newTestGW(t, nil)
	portal := "http://127.0.0.1:1"
	if err := g.srv.store.AddOrigin(context.Background(), DevTenantID, portal); err != nil {
		t.Fatal(err)
	}
	k := testpki.Key(t, testpki.P256, 44)
	issued := g.issueCSR(g.key, "cust-portal", k)
	one := g.must(201, "POST", "/v1/sign/pdf", g.key, map[string]any{"pdfBase64": b64(testpdf.Minimal("portal origin")),
		"certSerial": issued["serialNumber"], "callbackUrl": portal + "/cb"})
	l, err := deeplink.Parse(one["deepLink"].(string), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if l.Origin != portal || l.PackageURL != "" || len(l.Hashes) != 1 || one["packageUrl"] != nil {
		t.Errorf("one PDF on the portal's origin: origin %s, pkgUrl %q, %d digests, packageUrl %v", l.Origin, l.PackageURL, len(l.Hashes), one["packageUrl"])
	}
	items := make([]map[string]any, 50)
	for i := range items {
		items[i] = map[string]any{"pdfBase64": b64(testpdf.Minimal(fmt.Sprintf("portal batch %d", i+1)))}
	}
	batch := g.must(201, "POST", "/v1/sign/batch", g.key, map[string]any{"items": items, "certSerial": issued["serialNumber"], "callbackUrl": portal + "/cb"})
	if l, err = deeplink.Parse(batch["deepLink"].(string), time.Now()); err != nil {
		t.Fatal(err)
	}
	if l.PackageURL == "" || len(l.Hashes) != 0 || batch["packageUrl"] != l.PackageURL {
		t.Fatalf("50 PDFs on the portal's origin: pkgUrl %q, %d digests", l.PackageURL, len(l.Hashes))
	}
	if _, err := (&sigpkg.Fetcher{}).Verify(context.Background(), l); err == nil {
		t.Error("an app that does not trust the gateway's origin took its package")
	}
	docs, err := (&sigpkg.Fetcher{PackageOrigins: []string{g.url}}).Verify(context.Background(), l)
	if err != nil || len(docs) != 50 {
		t.Fatalf("with the gateway's origin trusted: %d documents, %v", len(docs), err)
	}
}

// TestSigningPackageOnPortalLinks: with Config.PackageOnPortalLinks a
// one-PDF link on the portal's own origin names the gateway's package and
// keeps its digest (it fits, for 1.1 apps); an app configured with the
// gateway's origin checks it, one that is not refuses it naming the origin.
func TestSigningPackageOnPortalLinks(t *testing.T) {
	g := newTestGW(t, nil, func(c *Config) { c.PackageOnPortalLinks = true })
	portal := "http://127.0.0.1:1"
	if err := g.srv.store.AddOrigin(context.Background(), DevTenantID, portal); err != nil {
		t.Fatal(err)
	}
	k := testpki.Key(t, testpki.P256, 46)
	issued := g.issueCSR(g.key, "cust-portal-always", k)
	one := g.must(201, "POST", "/v1/sign/pdf", g.key, map[string]any{"pdfBase64": b64(testpdf.Minimal("portal origin, package always")),
		"certSerial": issued["serialNumber"], "callbackUrl": portal + "/cb"})
	l, err := deeplink.Parse(one["deepLink"].(string), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if l.Origin != portal || l.PackageURL == "" || len(l.Hashes) != 1 || one["packageUrl"] != l.PackageURL {
		t.Fatalf("one PDF on the portal's origin: origin %s, pkgUrl %q, %d digests, packageUrl %v", l.Origin, l.PackageURL, len(l.Hashes), one["packageUrl"])
	}
	var oe *sigpkg.OriginError
	if _, err := (&sigpkg.Fetcher{}).Verify(context.Background(), l); !errors.As(err, &oe) || oe.Origin != g.url {
		t.Errorf("an app without the gateway's origin: %v, want a refusal of %s", err, g.url)
	}
	docs, err := (&sigpkg.Fetcher{PackageOrigins: []string{g.url}}).Verify(context.Background(), l)
	if err != nil || len(docs) != 1 || !bytes.Equal(docs[0].Digest, l.Hashes[0]) {
		t.Fatalf("with the gateway's origin: %d documents, %v", len(docs), err)
	}
}

// BenchmarkPackagePDF serves a 16 MB prepared PDF of a signing package
// from each document store, through the HTTP server. B/op (client and
// server in one process) stays far below the PDF's size: it is streamed.
func BenchmarkPackagePDF(b *testing.B) {
	benchStores(b, func(b *testing.B, st Store) {
		g := newTestGW(b, st)
		k := testpki.Key(b, testpki.P256, 45)
		issued := g.issueCSR(g.key, "bench-pkg", k)
		doc := testpdf.Bytes(testpdf.Options{PadBytes: 16 << 20})
		out := g.must(201, "POST", "/v1/sign/pdf", g.key, map[string]any{"pdfBase64": b64(doc), "certSerial": issued["serialNumber"]})
		p, err := sigpkg.Parse(func() []byte { _, raw := getURL(b, out["packageUrl"].(string)); return raw }())
		if err != nil {
			b.Fatal(err)
		}
		u := p.Documents[0].PDFURL
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			res, err := http.Get(u)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || n < int64(len(doc)) {
				b.Fatalf("%d, %d bytes", res.StatusCode, n)
			}
		}
	})
}

// TestSigningPackageInLinkPerRequest: without --package-on-portal-links, a
// link on the portal's own origin names the package only when the portal
// asks with packageInLink (one PDF and a batch), so one portal whose users
// are ready need not wait for the operator's switch.
func TestSigningPackageInLinkPerRequest(t *testing.T) {
	g := newTestGW(t, nil)
	portal := "http://127.0.0.1:1"
	if err := g.srv.store.AddOrigin(context.Background(), DevTenantID, portal); err != nil {
		t.Fatal(err)
	}
	k := testpki.Key(t, testpki.P256, 47)
	issued := g.issueCSR(g.key, "cust-portal-per-request", k)
	link := func(out map[string]any) *deeplink.Link {
		t.Helper()
		l, err := deeplink.Parse(out["deepLink"].(string), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if l.Origin != portal {
			t.Fatalf("link origin %s, want the portal's", l.Origin)
		}
		return l
	}
	body := func(text string, inLink bool) map[string]any {
		m := map[string]any{"pdfBase64": b64(testpdf.Minimal(text)), "certSerial": issued["serialNumber"], "callbackUrl": portal + "/cb"}
		if inLink {
			m["packageInLink"] = true
		}
		return m
	}
	if l := link(g.must(201, "POST", "/v1/sign/pdf", g.key, body("not asked", false))); l.PackageURL != "" {
		t.Errorf("a portal link names the package unasked: %s", l.PackageURL)
	}
	l := link(g.must(201, "POST", "/v1/sign/pdf", g.key, body("asked", true)))
	if l.PackageURL == "" || len(l.Hashes) != 1 {
		t.Fatalf("packageInLink: pkgUrl %q, %d digests (they stay for 1.1 apps)", l.PackageURL, len(l.Hashes))
	}
	if docs, err := (&sigpkg.Fetcher{PackageOrigins: []string{g.url}}).Verify(context.Background(), l); err != nil || len(docs) != 1 {
		t.Fatalf("the named package: %d documents, %v", len(docs), err)
	}
	batch := g.must(201, "POST", "/v1/sign/batch", g.key, map[string]any{"certSerial": issued["serialNumber"], "callbackUrl": portal + "/cb",
		"packageInLink": true, "items": []map[string]any{{"pdfBase64": b64(testpdf.Minimal("one"))}, {"pdfBase64": b64(testpdf.Minimal("two"))}}})
	if l := link(batch); l.PackageURL == "" || batch["packageUrl"] != l.PackageURL {
		t.Errorf("batch with packageInLink: pkgUrl %q, packageUrl %v", l.PackageURL, batch["packageUrl"])
	}
}
