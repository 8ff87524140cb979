package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pdf"
	"github.com/securesign/securesign/pki"
	"golang.org/x/crypto/ocsp"
)

// adminTenant creates a tenant with the real binary's admin command
// against the running gateway's database and returns its API key.
func adminTenant(t *testing.T, data, id, name string) string {
	t.Helper()
	out, err := exec.Command(securesignBinary(t), "gateway", "admin", "tenant-create", "--data", data, "--tenant", id, "--name", name, "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("tenant-create: %v\n%s", err, out)
	}
	var ans struct {
		APIKey string `json:"apiKey"`
	}
	if err := json.Unmarshal(out, &ans); err != nil || ans.APIKey == "" {
		t.Fatalf("tenant-create answer: %v %s", err, out)
	}
	return ans.APIKey
}

// attackerTSA is a time-stamping authority outside the gateway whose
// clock says what its owner wants; its root is trusted by the gateway as a
// DSC root (--trust), as a licensed CA's would be.
type attackerTSA struct {
	root *pki.CA
	at   atomic.Int64 // Unix seconds the TSA claims
	url  string
}

func newAttackerTSA(t *testing.T) *attackerTSA {
	t.Helper()
	a := &attackerTSA{}
	a.at.Store(time.Now().Add(-10 * time.Minute).Unix())
	now := func() time.Time { return time.Unix(a.at.Load(), 0) }
	ctx := context.Background()
	h, err := pki.NewHierarchy(ctx, pki.HierarchyOptions{Name: "Licensed DSC", Organization: "Licensed DSC CA", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.New(ctx, pki.Config{Cert: h.Issuing, Key: h.IssuingKey, Chain: []*x509.Certificate{h.Root}, Store: pki.NewMemoryStore(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	a.root = ca
	srv := httptest.NewServer(ca.TSA())
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

// TestE2ETrustBoundaries is issue 13's attacks on the real binary, over
// HTTP, with two tenants: each reproduced, each refused with an SS_ code
// and nothing changed.
func TestE2ETrustBoundaries(t *testing.T) {
	data := t.TempDir()
	tsa := newAttackerTSA(t)
	dsc := testpki.NewHierarchy(t) // a DSC hierarchy both tenants' users hold tokens of
	trustDir := t.TempDir()
	writeFile := func(name string, b []byte) string {
		p := filepath.Join(trustDir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	licensed := writeFile("licensed.pem", testpki.PEM(tsa.root.Root()))
	dscRoots := writeFile("dsc.pem", testpki.PEM(dsc.Root.Cert))
	p := startGatewayArgs(t, data, "127.0.0.1:0", []string{"--trust", licensed, "--trust", dscRoots})
	keyA := p.key
	keyB := adminTenant(t, data, "bank-b", "Bank B")
	a, b := p.client(data, keyA), p.client(data, keyB)

	t.Run("each tenant's links carry its own key and name", func(t *testing.T) {
		kids := map[string]string{}
		for name, tc := range map[string]struct {
			g        *testGW
			key, org string
		}{"A": {a, keyA, "Development tenant"}, "B": {b, keyB, "Bank B"}} {
			out := tc.g.must(201, "POST", "/v1/sign/hash", tc.key, map[string]any{"hashBase64": b64(digest("org " + name))})
			l, err := deeplink.Parse(out["deepLink"].(string), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if l.Org != tc.org {
				t.Errorf("%s: org %q, want %q", name, l.Org, tc.org)
			}
			kids[name] = l.KID
			// The tenant's own JWKS verifies its links, and only its keys.
			var own deeplink.KeySet
			_, raw := tc.g.raw("GET", "/v1/link-keys", tc.key, nil)
			if err := json.Unmarshal(raw, &own); err != nil {
				t.Fatal(err)
			}
			if err := l.Verify(&own); err != nil {
				t.Errorf("%s: own JWKS does not verify its link: %v", name, err)
			}
			if len(own.Keys) != 1 || own.Keys[0].KID != l.KID {
				t.Errorf("%s: /v1/link-keys lists %v", name, own.Keys)
			}
		}
		if kids["A"] == kids["B"] || !strings.HasPrefix(kids["B"], "bank-b-") {
			t.Errorf("link keys: %v", kids)
		}
		var all deeplink.KeySet
		_, raw := a.raw("GET", deeplink.WellKnownPath, "", nil)
		if err := json.Unmarshal(raw, &all); err != nil {
			t.Fatal(err)
		}
		for _, kid := range kids {
			if _, ok := all.Lookup(kid); !ok {
				t.Errorf("the gateway's JWKS lacks %s", kid)
			}
		}
	})

	t.Run("TSA and OCSP profiles are refused, the OTP is not spent", func(t *testing.T) {
		uid := a.newUser(keyA, "svc-hunter")
		oid, code := a.otp(keyA, uid, "issue")
		k := testpki.Key(t, testpki.P256, 50)
		for _, prof := range []string{"tsa", "ocsp"} {
			a.wantErr(422, CodeProfileNotAllowed, "POST", "/v1/certificates/issue", keyA,
				map[string]any{"userId": uid, "otpId": oid, "otp": code, "profile": prof, "csrPem": csrPEM(t, k)})
		}
		a.must(201, "POST", "/v1/certificates/issue", keyA, map[string]any{"userId": uid, "otpId": oid, "otp": code, "csrPem": csrPEM(t, k)})
	})

	t.Run("a back-dated timestamp from an outside TSA does not rescue a revoked signer", func(t *testing.T) {
		k := testpki.Key(t, testpki.P256, 51)
		issued := a.issueCSR(keyA, "revoked-signer", k)
		app := appSigner(t, k, issued)
		// The tenant holds the key; the certificate is revoked for
		// keyCompromise. The TSA dates the signature before that.
		tsa.at.Store(app.Certificate().NotBefore.Add(30 * time.Second).Unix())
		time.Sleep(1100 * time.Millisecond) // revocation strictly after the claimed time
		a.must(200, "POST", "/v1/certificates/"+issued["certificateId"].(string)+"/revoke", keyA, map[string]any{"reason": "keyCompromise"})
		var out bytes.Buffer
		src := testpdf.Minimal("back-dated")
		if err := pdf.Sign(context.Background(), &out, bytes.NewReader(src), int64(len(src)), app,
			pdf.SignOptions{Level: pdf.LevelBT, Timestamper: &pki.TSAClient{URL: tsa.url}}); err != nil {
			t.Fatal(err)
		}
		rep := a.must(200, "POST", "/v1/verify/pdf", keyA, map[string]any{"pdfBase64": base64.StdEncoding.EncodeToString(out.Bytes())})
		sig := rep["signatures"].([]any)[0].(map[string]any)
		if sig["indication"] == "TOTAL_PASSED" || rep["valid"] != false || sig["revocation"] != "revoked" {
			t.Fatalf("back-dated timestamp rescued a revoked signer: %v %v %v", sig["indication"], sig["revocation"], sig["messages"])
		}
		// The attack as it was: a validator that believes any TSA under its
		// signer roots (pdf.Verify before TSARoots) calls it valid.
		pool := x509.NewCertPool()
		pool.AddCert(tsa.root.Root())
		pool.AddCert(rootOf(t, a))
		lr, err := pdf.Verify(context.Background(), bytes.NewReader(out.Bytes()), int64(out.Len()),
			pdf.VerifyOptions{Roots: pool, Revocation: pki.NewRevocationChecker(pki.RevocationOptions{HardFail: true})})
		if err != nil {
			t.Fatal(err)
		}
		if s := lr.Signatures[0]; s.Indication != pdf.TotalPassed {
			t.Errorf("the attack does not reproduce with signer roots as TSA roots: %s %s %v", s.Indication, s.Revocation, s.Messages)
		}
	})

	t.Run("a forged OCSP answer made outside the gateway does not rescue a revoked signer", func(t *testing.T) {
		k := testpki.Key(t, testpki.P256, 55)
		issued := a.issueCSR(keyA, "revoked-signer-2", k)
		app := appSigner(t, k, issued)
		a.must(200, "POST", "/v1/certificates/"+issued["certificateId"].(string)+"/revoke", keyA, map[string]any{"reason": "keyCompromise"})
		// A responder certificate from the licensed CA the gateway trusts
		// for DSCs, answering "good" about the gateway's certificate.
		rk := testpki.Key(t, testpki.P256, 56)
		tsa.at.Store(time.Now().Unix())
		responder, err := tsa.root.Issue(context.Background(), rk.Public(), pki.Subject{CommonName: "SecureSign Dev CA OCSP Responder", Country: "IN"}, pki.ProfileOCSP)
		if err != nil {
			t.Fatal(err)
		}
		issuer := certFromPEM(t, issued["chainPem"].(string))
		now := time.Now()
		forged, err := ocsp.CreateResponse(issuer, responder, ocsp.Response{Status: ocsp.Good, SerialNumber: app.Certificate().SerialNumber,
			ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour), Certificate: responder}, rk)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		src := testpdf.Minimal("forged OCSP")
		err = pdf.Sign(context.Background(), &out, bytes.NewReader(src), int64(len(src)), app, pdf.SignOptions{Level: pdf.LevelBLT,
			Timestamper: &pki.TSAClient{URL: p.url + "/pki/tsa"},
			Revocation:  &forgingSource{real: pki.NewRevocationChecker(pki.RevocationOptions{}), signer: app.Certificate(), forged: forged}})
		if err != nil {
			t.Fatal(err)
		}
		rep := a.must(200, "POST", "/v1/verify/pdf", keyA, map[string]any{"pdfBase64": base64.StdEncoding.EncodeToString(out.Bytes())})
		sig := rep["signatures"].([]any)[0].(map[string]any)
		if sig["indication"] != "TOTAL_FAILED" || sig["revocation"] != "revoked" {
			t.Fatalf("forged OCSP answer: %v %v %v", sig["indication"], sig["revocation"], sig["messages"])
		}
	})

	kA := testpki.Key(t, testpki.P256, 52)
	issuedA := a.issueCSR(keyA, "bob-victim", kA)
	appA := appSigner(t, kA, issuedA)

	t.Run("A's certificate does not complete B's session", func(t *testing.T) {
		out := b.must(201, "POST", "/v1/sign/hash", keyB, map[string]any{"hashBase64": b64(digest("tenant B's loan"))})
		enc := signLink(t, b, out["deepLink"].(string), appA)
		code, ans := b.postResult(enc)
		if code != 422 || ans["error"] != "SS_CERT_MISMATCH" {
			t.Fatalf("A's certificate on B's session: %d %v", code, ans)
		}
		if s := b.must(200, "GET", "/v1/sessions/"+out["requestId"].(string), keyB, nil); s["status"] != "pending" {
			t.Fatalf("the refused result changed B's session: %v", s["status"])
		}
		// The same certificate still completes its own tenant's session.
		own := a.must(201, "POST", "/v1/sign/hash", keyA, map[string]any{"hashBase64": b64(digest("tenant A's loan"))})
		if code, ans := a.postResult(signLink(t, a, own["deepLink"].(string), appA)); code != 200 || ans["status"] != "signed" {
			t.Fatalf("A's own session: %d %v", code, ans)
		}
	})

	t.Run("A's certificate does not register with B's user", func(t *testing.T) {
		carol := b.newUser(keyB, "carol") // named like A's user: the name rule alone would pass
		out := b.must(201, "POST", "/v1/register", keyB, map[string]any{"userId": carol})
		code, ans := b.postResult(registerLink(t, b, out["deepLink"].(string), appA))
		if code != 422 || ans["error"] != "SS_CERT_MISMATCH" {
			t.Fatalf("A's certificate registered for B's user: %d %v", code, ans)
		}
		if l := b.must(200, "GET", "/v1/certificates?userId="+carol, keyB, nil)["certificates"].([]any); len(l) != 0 {
			t.Fatalf("a certificate was stored for B's user: %v", l)
		}
	})

	t.Run("a register result for another person's DSC is refused", func(t *testing.T) {
		other := dsc.Issue(t, testpki.P256, testpki.Options{Slot: 53, CommonName: "Somebody Else"})
		uid := b.newUser(keyB, "rajesh-b")
		out := b.must(201, "POST", "/v1/register", keyB, map[string]any{"userId": uid})
		code, ans := b.postResult(registerLink(t, b, out["deepLink"].(string), appSignerFrom(t, other)))
		if code != 422 || ans["error"] != "SS_CERT_MISMATCH" {
			t.Fatalf("a stranger's DSC registered: %d %v", code, ans)
		}
		// A portal that pinned the certificate (certSha256) vouches for it.
		sum := sha256.Sum256(other.Cert.Raw)
		out = b.must(201, "POST", "/v1/register", keyB, map[string]any{"userId": uid, "certSha256": hex.EncodeToString(sum[:])})
		if code, ans := b.postResult(registerLink(t, b, out["deepLink"].(string), appSignerFrom(t, other))); code != 200 {
			t.Fatalf("pinned registration: %d %v", code, ans)
		}
	})

	t.Run("the same DSC registers with two tenants", func(t *testing.T) {
		token := appSignerFrom(t, dsc.Issue(t, testpki.P256, testpki.Options{Slot: 54}))
		ids := map[string]string{}
		for name, g := range map[string]*testGW{"A": a, "B": b} {
			uid := g.newUser(g.key, "dsc-holder")
			out := g.must(201, "POST", "/v1/register", g.key, map[string]any{"userId": uid})
			if code, ans := g.postResult(registerLink(t, g, out["deepLink"].(string), token)); code != 200 {
				t.Fatalf("%s: register = %d %v", name, code, ans)
			}
			s := g.must(200, "GET", "/v1/sessions/"+out["requestId"].(string), g.key, nil)
			id, _ := s["certificateId"].(string)
			if id == "" {
				t.Fatalf("%s: no certificate id: %v", name, s)
			}
			ids[name] = id
			// The record is this tenant's and usable: a PDF session for it.
			c := g.must(200, "GET", "/v1/certificates/"+id, g.key, nil)
			if c["userId"] != uid {
				t.Fatalf("%s: certificate %s belongs to %v, want %s", name, id, c["userId"], uid)
			}
			hs := g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("dsc " + name)), "certSerial": c["serialNumber"]})
			if code, ans := g.postResult(signLink(t, g, hs["deepLink"].(string), token)); code != 200 || ans["status"] != "signed" {
				t.Fatalf("%s: signing with the registered DSC: %d %v", name, code, ans)
			}
		}
		if ids["A"] == ids["B"] {
			t.Fatalf("both tenants got the certificate id %s", ids["A"])
		}
		b.wantErr(404, CodeNotFound, "GET", "/v1/certificates/"+ids["A"], keyB, nil)
	})

	t.Run("a forged cancel followed by the real signature ends signed", func(t *testing.T) {
		out := a.must(201, "POST", "/v1/sign/hash", keyA, map[string]any{"hashBase64": b64(digest("blocked?"))})
		rid := out["requestId"].(string)
		if code, ans := a.postResult(mustEncodeFail(t, rid)); code != 200 || ans["status"] != "failed" {
			t.Fatalf("forged cancel: %d %v", code, ans)
		}
		if s := a.must(200, "GET", "/v1/sessions/"+rid, keyA, nil); s["status"] != "failed" || s["error"] != "SS_SIGN_CANCELLED" {
			t.Fatalf("after the cancel: %v", s)
		}
		if code, _ := a.postResult(mustEncodeFail(t, rid)); code != 200 {
			t.Errorf("the same cancel again: %d, want 200 (duplicate)", code)
		}
		if code, ans := a.postResult(signLink(t, a, out["deepLink"].(string), appA)); code != 200 || ans["status"] != "signed" {
			t.Fatalf("real signature after the cancel: %d %v", code, ans)
		}
		if s := a.must(200, "GET", "/v1/sessions/"+rid, keyA, nil); s["status"] != "signed" {
			t.Fatalf("final status %v", s["status"])
		}
		if code, _ := a.postResult(mustEncodeFail(t, rid)); code != 409 {
			t.Errorf("a cancel after the signature: %d, want 409", code)
		}
	})
	p.stop()
}

// rootOf returns the gateway's root from /pki/ca.pem.
func rootOf(t *testing.T, g *testGW) *x509.Certificate {
	t.Helper()
	_, caPEM := g.raw("GET", "/pki/ca.pem", "", nil)
	for rest := caPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if c.IsCA && bytes.Equal(c.RawIssuer, c.RawSubject) {
			return c
		}
	}
	t.Fatal("no root in /pki/ca.pem")
	return nil
}
