package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/examples/mobile/mobileapp"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pdf"
	"github.com/securesign/securesign/signer"
)

// testPortal runs the example portal on a loopback port.
func testPortal(t *testing.T, h *testpki.Hierarchy) (*Portal, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://" + ln.Addr().String()
	key, err := deeplink.NewSigningKey("portal-test", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(h.Root.Cert)
	p := NewPortal(origin, key, roots)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: p.Handler()}}
	srv.Start()
	t.Cleanup(srv.Close)
	return p, origin
}

func uploadPDF(t *testing.T, origin string, data []byte) string {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("pdf", "contract.pdf")
	fw.Write(data)
	mw.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Post(origin+"/upload", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/doc/") {
		t.Fatalf("upload: %s, Location %q", resp.Status, loc)
	}
	return strings.TrimPrefix(loc, "/doc/")
}

// scanQR renders the document page (which issues the link) and decodes its
// QR code image, as the phone's camera would.
func scanQR(t *testing.T, origin, id, kind string) string {
	t.Helper()
	resp, err := http.Get(origin + "/doc/" + id)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Get(origin + "/doc/" + id + "/qr/" + kind + ".png")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	img, err := png.Decode(resp.Body)
	if err != nil {
		t.Fatalf("QR image: %v", err)
	}
	link, err := mobileapp.LinkFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	return link
}

func docStatus(t *testing.T, origin, id string) string {
	resp, err := http.Get(origin + "/doc/" + id + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct{ Status string }
	json.NewDecoder(resp.Body).Decode(&s)
	return s.Status
}

func TestMobileAppAgainstPortal(t *testing.T) {
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.P256, testpki.Options{CommonName: "Priya Sharma"})
	_, origin := testPortal(t, h)

	// The user's key, as a PKCS#12 file (the stand-in for a phone keystore).
	p12, err := pkcs12.Modern.Encode(leaf.Key, leaf.Cert, leaf.Chain, "test")
	if err != nil {
		t.Fatal(err)
	}
	key, err := signer.LoadPKCS12(p12, "test")
	if err != nil {
		t.Fatal(err)
	}
	var asked []*mobileapp.Request
	app := &mobileapp.App{AllowedOrigins: []string{origin}, RequireSigned: true, Signer: key,
		Confirm: func(r *mobileapp.Request) bool { asked = append(asked, r); return true }}
	ctx := context.Background()

	id := uploadPDF(t, origin, testpdf.Minimal("Mobile contract"))
	link := scanQR(t, origin, id, "register")
	out, err := app.Handle(ctx, link)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	if !strings.HasSuffix(out.FinalURL, "/doc/"+id) {
		t.Errorf("after the callback the browser is at %q, want the document page", out.FinalURL)
	}
	// The redirect shows the document page, which issues the sign link.
	if s := docStatus(t, origin, id); s != StatusRegistered && s != StatusPending {
		t.Fatalf("status after registration %q", s)
	}

	link = scanQR(t, origin, id, "sign")
	if _, err := app.Handle(ctx, link); err != nil {
		t.Fatalf("sign: %v", err)
	}
	if s := docStatus(t, origin, id); s != StatusSigned {
		t.Fatalf("status after signing %q", s)
	}
	if len(asked) != 2 || !asked[0].Verified || asked[1].Doc != "contract.pdf" || asked[1].Digests != 1 {
		t.Errorf("the user was shown %+v", asked)
	}
	resp, err := http.Get(origin + "/doc/" + id + "/signed.pdf")
	if err != nil {
		t.Fatal(err)
	}
	signed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	roots := x509.NewCertPool()
	roots.AddCert(h.Root.Cert)
	rep, err := pdf.Verify(ctx, bytes.NewReader(signed), int64(len(signed)), pdf.VerifyOptions{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid {
		t.Fatalf("signed PDF not valid: %+v", rep)
	}

	// A replayed result changes nothing; a link for another origin is refused.
	other := &mobileapp.App{AllowedOrigins: []string{"https://bank.example"}, Signer: key}
	if _, err := other.Handle(ctx, scanQR(t, origin, uploadPDF(t, origin, testpdf.Minimal("x")), "register")); err == nil {
		t.Error("a portal off the allowlist was served")
	}
}

func TestMobileAppDecline(t *testing.T) {
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.RSA2048, testpki.Options{})
	key, _ := signer.NewSoftware(leaf.Key, leaf.Cert, leaf.Chain)
	_, origin := testPortal(t, h)
	app := &mobileapp.App{AllowedOrigins: []string{origin}, Signer: key, Confirm: func(*mobileapp.Request) bool { return false }}
	id := uploadPDF(t, origin, testpdf.Minimal("declined"))
	if _, err := app.Handle(context.Background(), scanQR(t, origin, id, "register")); err == nil {
		t.Fatal("declining reported success")
	}
	if s := docStatus(t, origin, id); s != StatusCancelled {
		t.Fatalf("status %q, want cancelled", s)
	}
}
