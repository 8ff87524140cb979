package gateway

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ocsp"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pdf"
	"github.com/securesign/securesign/pki"
)

// colonHex writes a lowercase hex serial as upper-case octets joined by
// colons, as openssl and certificate viewers show it.
func colonHex(h string) string {
	if len(h)%2 == 1 {
		h = "0" + h
	}
	var parts []string
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, strings.ToUpper(h[i:i+2]))
	}
	return strings.Join(parts, ":")
}

// TestFixSessionCertSerialForms: a session's certSerial binds the callback
// to that certificate whatever hex form the portal used; another
// certificate of the same CA is refused.
func TestFixSessionCertSerialForms(t *testing.T) {
	g := newTestGW(t, nil)
	k1, k2 := testpki.Key(t, testpki.P256, 21), testpki.Key(t, testpki.P256, 22)
	issued := g.issueCSR(g.key, "cust-serial-1", k1)
	right := appSigner(t, k1, issued)
	wrong := appSigner(t, k2, g.issueCSR(g.key, "cust-serial-2", k2))
	hexSerial := issued["serialNumber"].(string)
	for name, form := range map[string]string{
		"lower":      hexSerial,
		"upper":      strings.ToUpper(hexSerial),
		"0x":         "0x" + hexSerial,
		"colons":     colonHex(hexSerial),
		"serial=":    "serial=" + strings.ToUpper(hexSerial),
		"lead zeros": "00" + hexSerial,
	} {
		t.Run(name, func(t *testing.T) {
			out := g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("serial " + name)), "certSerial": form})
			rid, link := out["requestId"].(string), out["deepLink"].(string)
			l, err := deeplink.Parse(link, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if l.CertSerial != hexSerial {
				t.Errorf("link certSerial = %q, want canonical %q", l.CertSerial, hexSerial)
			}
			if code, ans := g.postResult(signLink(t, g, link, wrong)); code == 200 {
				t.Fatalf("a result from another certificate was accepted: %v", ans)
			}
			if s := g.must(200, "GET", "/v1/sessions/"+rid, g.key, nil); s["status"] != "pending" {
				t.Fatalf("the wrong certificate changed the session: %v", s)
			}
			if code, ans := g.postResult(signLink(t, g, link, right)); code != 200 || ans["status"] != "signed" {
				t.Fatalf("the named certificate was refused: %d %v", code, ans)
			}
		})
	}
	for _, path := range []string{"/v1/sign/hash", "/v1/sign/pdf"} {
		body := map[string]any{"hashBase64": b64(digest("bad serial")), "certSerial": "12:zz:34"}
		if path == "/v1/sign/pdf" {
			body = map[string]any{"pdfBase64": b64(testpdf.Minimal("bad serial")), "certSerial": "12:zz:34"}
		}
		e := g.wantErr(400, CodeBadRequest, "POST", path, g.key, body)
		if !strings.Contains(e["message"].(string), "certSerial") {
			t.Errorf("%s: message %q does not name certSerial", path, e["message"])
		}
	}

	// A stored serial that does not parse fails the callback instead of
	// dropping the certificate check.
	ctx := context.Background()
	bad := &Session{RequestID: "bad-stored-serial-0001", TenantID: DevTenantID, Kind: "hash", Action: "sign",
		Hashes: [][]byte{digest("x")}, HashAlgo: "SHA256", Origin: g.url, CertSerial: "not hex",
		ExpiresAt: time.Now().Add(time.Hour), CreatedAt: time.Now(), State: []byte("{}")}
	if err := g.srv.store.CreateSession(ctx, bad, nil); err != nil {
		t.Fatal(err)
	}
	cs := &callbackStore{st: g.srv.store}
	if p, _, err := cs.Pending(ctx, bad.RequestID); err == nil {
		t.Fatalf("Pending with an unparseable stored serial = %+v, want an error", p)
	}
}

func certFromPEM(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode([]byte(s))
	if blk == nil {
		t.Fatalf("no PEM in %q", s)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writePEM(t *testing.T, path string, certs ...*x509.Certificate) {
	t.Helper()
	if err := os.WriteFile(path, testpki.PEM(certs...), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestFixIssuingCARevocation: a new gateway CA's issuing certificate names
// the root CRL the gateway serves, B-LT PDFs then carry revocation data for
// the whole chain (a hard-fail check passes), and openssl finds every CRL
// of the chain.
func TestFixIssuingCARevocation(t *testing.T) {
	g := newTestGW(t, nil, func(c *Config) { c.Revocation = "hard" })
	ca := g.srv.CA()
	inter, root := ca.Certificate(), ca.Root()
	if diff := cmp.Diff([]string{g.url + "/pki" + pki.RootCRLPath}, inter.CRLDistributionPoints); diff != "" {
		t.Errorf("issuing CA CRL distribution points (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{g.url + "/pki" + pki.RootCertPath}, inter.IssuingCertificateURL); diff != "" {
		t.Errorf("issuing CA caIssuers (-want +got):\n%s", diff)
	}
	res, raw := g.raw("GET", "/pki/crl/root", "", nil)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pkix-crl" {
		t.Fatalf("GET /pki/crl/root = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	rootCRL, err := x509.ParseRevocationList(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := rootCRL.CheckSignatureFrom(root); err != nil {
		t.Errorf("root CRL: %v", err)
	}
	if res, raw := g.raw("GET", "/pki/root.crt", "", nil); res.StatusCode != 200 || !bytes.Equal(raw, root.Raw) {
		t.Errorf("GET /pki/root.crt = %d, %d bytes", res.StatusCode, len(raw))
	}

	// A B-LT signature with a server-held key.
	uid := g.newUser(g.key, "cust-blt")
	oid, code := g.otp(g.key, uid, "issue")
	issued := g.must(201, "POST", "/v1/certificates/issue", g.key, map[string]any{"userId": uid, "otpId": oid, "otp": code, "keyAlgo": "ECDSA-P256"})
	bltPDF := testpdf.Minimal("B-LT")
	soid, scode := g.signOTPDocs(g.key, uid, issued["certificateId"].(string), bltPDF)
	out := g.must(200, "POST", "/v1/sign/pdf", g.key, map[string]any{"pdfBase64": b64(bltPDF), "certificateId": issued["certificateId"],
		"otpId": soid, "otp": scode, "level": "B-LT"})
	signed, _ := base64.StdEncoding.DecodeString(out["signedPdfBase64"].(string))
	// Offline: only what the PDF embeds.
	rep, err := pdf.Verify(context.Background(), bytes.NewReader(signed), int64(len(signed)), pdf.VerifyOptions{Roots: g.srv.roots})
	if err != nil || !rep.Valid || rep.Signatures[0].Level != "B-LT" || rep.Signatures[0].Revocation != "good" {
		t.Fatalf("B-LT PDF, embedded data only: %v %+v", err, rep)
	}
	// Online, hard fail, as the gateway in "hard" mode validates.
	hard := pki.NewRevocationChecker(pki.RevocationOptions{HardFail: true})
	rep, err = pdf.Verify(context.Background(), bytes.NewReader(signed), int64(len(signed)), pdf.VerifyOptions{Roots: g.srv.roots, Revocation: hard})
	if err != nil || !rep.Valid || rep.Signatures[0].Revocation != "good" {
		t.Fatalf("B-LT PDF, hard-fail revocation: %v %+v", err, rep)
	}
	if v := g.must(200, "POST", "/v1/verify/pdf", g.key, map[string]any{"pdfBase64": b64(signed)}); v["valid"] != true {
		t.Errorf("verify/pdf in hard mode = %v", v)
	}

	// openssl: every certificate of the chain has its CRL.
	openssl := testenv.LookPath(t, "openssl", "openssl")
	dir := t.TempDir()
	leaf := certFromPEM(t, issued["certificatePem"].(string))
	writePEM(t, filepath.Join(dir, "root.pem"), root)
	writePEM(t, filepath.Join(dir, "inter.pem"), inter)
	writePEM(t, filepath.Join(dir, "leaf.pem"), leaf)
	_, crl := g.raw("GET", "/pki/crl", "", nil)
	for name, der := range map[string][]byte{"root.crl": raw, "ca.crl": crl} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(openssl, "verify", "-crl_check_all", "-CAfile", "root.pem", "-untrusted", "inter.pem",
		"-CRLfile", "root.crl", "-CRLfile", "ca.crl", "leaf.pem")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "leaf.pem: OK") {
		t.Fatalf("openssl verify -crl_check_all: %v\n%s", err, b)
	}
}

// TestFixOldCADataOpens: a data directory whose CA was made before the
// gateway kept the root key still opens; its issuing CA names no CRL and
// /pki/crl/root answers 404.
func TestFixOldCADataOpens(t *testing.T) {
	ctx := context.Background()
	st := newSQLiteStore(t)
	dir := t.TempDir()
	master, err := devMasterKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := PKIStore(st)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := pki.NewSoftwareKeyStore(ps, master)
	if err != nil {
		t.Fatal(err)
	}
	h, err := pki.NewHierarchy(ctx, pki.HierarchyOptions{Name: "Old Gateway", KeyType: pki.P256})
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Put(ctx, "gateway-ca-issuing-old", h.IssuingKey); err != nil {
		t.Fatal(err)
	}
	// The setting exactly as the earlier gateway wrote it.
	old := []byte(`{"root":"` + base64.StdEncoding.EncodeToString(h.Root.Raw) + `","issuing":"` +
		base64.StdEncoding.EncodeToString(h.Issuing.Raw) + `","issuingKey":"gateway-ca-issuing-old"}`)
	if _, err := st.PutSetting(ctx, "ca", old, true); err != nil {
		t.Fatal(err)
	}
	g := newTestGWOn(t, st, dir)
	if !g.srv.CA().Certificate().Equal(h.Issuing) || len(g.srv.CA().Certificate().CRLDistributionPoints) != 0 {
		t.Fatal("the stored CA was not reused as it was")
	}
	if res, _ := g.raw("GET", "/pki/crl/root", "", nil); res.StatusCode != 404 {
		t.Errorf("GET /pki/crl/root without a root key = %d, want 404", res.StatusCode)
	}
	if res, raw := g.raw("GET", "/pki/root.crt", "", nil); res.StatusCode != 200 || !bytes.Equal(raw, h.Root.Raw) {
		t.Errorf("GET /pki/root.crt = %d", res.StatusCode)
	}
	// It still issues and signs.
	k := testpki.Key(t, testpki.P256, 23)
	leaf := certFromPEM(t, g.issueCSR(g.key, "cust-old", k)["certificatePem"].(string))
	if err := leaf.CheckSignatureFrom(h.Issuing); err != nil {
		t.Error(err)
	}
}

// newTestGWOn is newTestGW on a given store and data directory.
func newTestGWOn(t *testing.T, st Store, dir string, mods ...func(*Config)) *testGW {
	t.Helper()
	g := newTestGW(t, st, append([]func(*Config){func(c *Config) { c.DataDir = dir }}, mods...)...)
	g.dir = dir // where the dev OTP outbox is
	return g
}

func pkiCertCount(t *testing.T, st Store) int {
	t.Helper()
	var n int
	if err := sqlBaseT(t, st).r.QueryRowContext(context.Background(), "SELECT count(*) FROM pki_certs").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFixServiceCertsPersist: the OCSP responder and TSA keys and
// certificates are made once and reused by later starts (the store does not
// grow); the OCSP responder's is renewed near expiry; the CA's OCSP
// responder answers for both.
func TestFixServiceCertsPersist(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		ctx := context.Background()
		dir := t.TempDir()
		clock := &testClock{}
		start := func() *Server {
			t.Helper()
			srv, err := NewWithStore(ctx, Config{Dev: true, DataDir: dir, PublicURL: "http://127.0.0.1:9", Now: clock.Now,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, st)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			return srv
		}
		serials := func(s *Server) [2]string {
			return [2]string{s.CA().OCSPSigner().Certificate().SerialNumber.Text(16), s.CA().TSASigner().Certificate().SerialNumber.Text(16)}
		}
		s1 := start()
		n1, svc1 := pkiCertCount(t, st), serials(s1)
		if n1 != 2 {
			t.Errorf("first start stored %d certificates, want 2 (OCSP, TSA)", n1)
		}
		s2 := start()
		if n2 := pkiCertCount(t, st); n2 != n1 {
			t.Errorf("a restart grew the store from %d to %d certificates", n1, n2)
		}
		if diff := cmp.Diff(svc1, serials(s2)); diff != "" {
			t.Errorf("a restart changed the service certificates (-first +second):\n%s", diff)
		}
		// Both are answered for by the responder (they are in the store).
		for _, c := range []*x509.Certificate{s2.CA().OCSPSigner().Certificate(), s2.CA().TSASigner().Certificate()} {
			if st := ocspStatus(t, s2.CA(), c); st != ocsp.Good {
				t.Errorf("%s: OCSP status %d, want good", c.Subject.CommonName, st)
			}
		}
		// 80 days on, the 90-day OCSP certificate is renewed, the TSA's kept.
		clock.Advance(80 * 24 * time.Hour)
		s3 := start()
		svc3 := serials(s3)
		if svc3[0] == svc1[0] || svc3[1] != svc1[1] {
			t.Errorf("after 80 days: service serials %v, were %v; want a new OCSP and the same TSA certificate", svc3, svc1)
		}
		if n3 := pkiCertCount(t, st); n3 != n1+1 {
			t.Errorf("renewal: %d certificates, want %d", n3, n1+1)
		}
		if s4 := start(); serials(s4) != svc3 {
			t.Error("the renewed OCSP certificate was not reused")
		}
	})
}

func ocspStatus(t *testing.T, ca *pki.CA, c *x509.Certificate) int {
	t.Helper()
	req, err := ocsp.CreateRequest(c, ca.Certificate(), nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.RespondOCSP(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ocsp.ParseResponseForCert(der, c, ca.Certificate())
	if err != nil {
		t.Fatal(err)
	}
	return r.Status
}

// TestFixOCSPOverHTTP: the gateway's OCSP responder through its router:
// openssl's POST, and GET requests whose base64 holds "//", "+" and "=",
// raw and percent-escaped.
func TestFixOCSPOverHTTP(t *testing.T) {
	g := newTestGW(t, nil)
	ca := g.srv.CA()
	inter, root := ca.Certificate(), ca.Root()

	openssl := testenv.LookPath(t, "openssl", "openssl")
	dir := t.TempDir()
	k := testpki.Key(t, testpki.P256, 24)
	leaf := certFromPEM(t, g.issueCSR(g.key, "cust-ocsp", k)["certificatePem"].(string))
	writePEM(t, filepath.Join(dir, "root.pem"), root)
	writePEM(t, filepath.Join(dir, "inter.pem"), inter)
	writePEM(t, filepath.Join(dir, "leaf.pem"), leaf)
	cmd := exec.Command(openssl, "ocsp", "-issuer", "inter.pem", "-cert", "leaf.pem", "-url", g.url+"/pki/ocsp",
		"-CAfile", "root.pem", "-verify_other", "inter.pem")
	cmd.Dir = dir
	b, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "Response verify OK") || !strings.Contains(string(b), "leaf.pem: good") {
		t.Fatalf("openssl ocsp (POST): %v\n%s", err, b)
	}

	// Nonces until the request's base64 holds "//", "+" and "=" padding: a
	// GET for it must reach the responder unchanged.
	enc, nonce := ocspRequestWithNonce(t, leaf, inter, func(e string) bool {
		return strings.Contains(e, "//") && strings.Contains(e, "+") && strings.HasSuffix(e, "=")
	})
	escapeAll := strings.NewReplacer("/", "%2F", "+", "%2B", "=", "%3D")
	for name, path := range map[string]string{
		"raw":         "/pki/ocsp/" + enc,
		"path-escape": "/pki/ocsp/" + url.PathEscape(enc),
		"all escaped": "/pki/ocsp/" + escapeAll.Replace(enc),
	} {
		t.Run(name, func(t *testing.T) {
			res, body := g.raw("GET", path, "", nil)
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/ocsp-response" {
				t.Fatalf("GET = %d %s %q", res.StatusCode, res.Header.Get("Content-Type"), body)
			}
			r, err := ocsp.ParseResponseForCert(body, leaf, inter)
			if err != nil {
				t.Fatalf("response: %v", err)
			}
			if r.Status != ocsp.Good {
				t.Errorf("status %d, want good", r.Status)
			}
			if !bytes.Contains(body, nonce) {
				t.Error("the response does not echo the request's nonce")
			}
		})
	}
}

var oidNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}

// ocspRequestWithNonce returns the base64 of an OCSP request for leaf with
// the first random nonce (RFC 8954) whose encoding satisfies want, and the
// nonce.
func ocspRequestWithNonce(t *testing.T, leaf, issuer *x509.Certificate, want func(string) bool) (string, []byte) {
	t.Helper()
	base, err := ocsp.CreateRequest(leaf, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		t.Fatal(err)
	}
	type tbs struct {
		RequestList asn1.RawValue
		Extensions  []pkix.Extension `asn1:"explicit,tag:2,optional"`
	}
	var req struct{ TBSRequest tbs }
	if rest, err := asn1.Unmarshal(base, &req); err != nil || len(rest) > 0 {
		t.Fatalf("OCSP request: %v", err)
	}
	for i := 0; i < 100000; i++ {
		nonce := make([]byte, 16+i%3) // lengths vary the padding
		rand.Read(nonce)
		v, _ := asn1.Marshal(nonce)
		req.TBSRequest.Extensions = []pkix.Extension{{Id: oidNonce, Value: v}}
		der, err := asn1.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if e := base64.StdEncoding.EncodeToString(der); want(e) {
			return e, nonce
		}
	}
	t.Fatal("no nonce gave a wanted encoding")
	return "", nil
}

// TestCertRevokedCode: a signing refused because the revocation data says
// the certificate is revoked answers 422 SS_CERT_REVOKED, from the sign
// path (pdfError) and from any other (toAPIError).
func TestCertRevokedCode(t *testing.T) {
	err := fmt.Errorf("pdf: building the DSS: %w: %q revoked", pdf.ErrCertificateRevoked, "CN=x")
	for _, e := range []error{err, pdfError(err)} {
		ae := toAPIError(e)
		if ae.Status != http.StatusUnprocessableEntity || ae.Code != CodeCertRevoked {
			t.Errorf("%v -> %d %s", e, ae.Status, ae.Code)
		}
	}
}
