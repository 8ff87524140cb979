package gateway

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pdf"
	"github.com/securesign/securesign/pki"
	"golang.org/x/crypto/ocsp"
)

func TestIssueProfile(t *testing.T) {
	for _, tc := range []struct {
		requested string
		tenant    []string
		want      string
		refused   bool
	}{
		{"", nil, pki.ProfileIndividualSigning, false},
		{pki.ProfileDocumentSigner, nil, pki.ProfileDocumentSigner, false},
		{pki.ProfileTSA, nil, "", true},
		{pki.ProfileOCSP, nil, "", true},
		{pki.ProfileOCSP, []string{pki.ProfileOCSP}, "", true}, // a tenant list cannot widen
		{pki.ProfileDocumentSigner, []string{pki.ProfileIndividualSigning}, "", true},
		{"", []string{pki.ProfileIndividualSigning}, pki.ProfileIndividualSigning, false},
	} {
		got, err := issueProfile(tc.requested, tc.tenant)
		if tc.refused != errors.Is(err, ErrProfileNotAllowed) || got != tc.want {
			t.Errorf("issueProfile(%q, %q) = %q, %v", tc.requested, tc.tenant, got, err)
		}
	}
}

func TestTenantTrustAllow(t *testing.T) {
	gw, dsc, other := testpki.NewHierarchy(t), testpki.NewHierarchy(t), testpki.NewHierarchy(t)
	gwLeaf := gw.Issue(t, testpki.P256, testpki.Options{Slot: 40})
	dscLeaf := dsc.Issue(t, testpki.P256, testpki.Options{Slot: 41})
	otherLeaf := other.Issue(t, testpki.P256, testpki.Options{Slot: 42})
	tt := tenantTrust{gatewayRoot: gw.Root.Cert}
	tt.addAnchors([]*x509.Certificate{dsc.Root.Cert}, nil)
	tt.addAnchors([]*x509.Certificate{other.Root.Cert}, []string{"bank"})
	chain := func(l *testpki.Leaf, root *x509.Certificate) []*x509.Certificate {
		return append(append([]*x509.Certificate{l.Cert}, l.Chain...), root)
	}
	issuedTo := func(tenant, user string) []*Certificate {
		return []*Certificate{{TenantID: tenant, UserID: user, Source: "issued", DER: gwLeaf.Cert.Raw}}
	}
	for _, tc := range []struct {
		name, tenant, user string
		chain              []*x509.Certificate
		records            []*Certificate
		ok                 bool
	}{
		{"gateway cert, its tenant", "a", "", chain(gwLeaf, gw.Root.Cert), issuedTo("a", "u1"), true},
		{"gateway cert, its user", "a", "u1", chain(gwLeaf, gw.Root.Cert), issuedTo("a", "u1"), true},
		{"gateway cert, another user", "a", "u2", chain(gwLeaf, gw.Root.Cert), issuedTo("a", "u1"), false},
		{"gateway cert, another tenant", "b", "", chain(gwLeaf, gw.Root.Cert), nil, false},
		{"gateway cert, only registered here", "b", "", chain(gwLeaf, gw.Root.Cert),
			[]*Certificate{{TenantID: "b", Source: "registered", DER: gwLeaf.Cert.Raw}}, false},
		{"DSC under --trust, any tenant", "b", "", chain(dscLeaf, dsc.Root.Cert), nil, true},
		{"DSC under --trust-for bank", "bank", "", chain(otherLeaf, other.Root.Cert), nil, true},
		{"DSC under --trust-for bank, other tenant", "a", "", chain(otherLeaf, other.Root.Cert), nil, false},
	} {
		err := tt.allow(tc.tenant, tc.user, tc.chain, tc.records)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, callback.ErrCertMismatch)) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if err != nil && callback.CodeOf(err) != callback.CodeCertMismatch {
			t.Errorf("%s: code %s", tc.name, callback.CodeOf(err))
		}
	}
}

func TestRegisterMatches(t *testing.T) {
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.P256, testpki.Options{Slot: 43, CommonName: "RAJESH  KUMAR"}).Cert
	u := &User{ID: "u1", Name: "Rajesh Kumar"}
	other := &User{ID: "u2", Name: "Carol Victim"}
	for _, tc := range []struct {
		name    string
		user    *User
		pinned  bool
		records []*Certificate
		ok      bool
	}{
		{"name equal ignoring case and spaces", u, false, nil, true},
		{"another name", other, false, nil, false},
		{"another name, pinned by the portal", other, true, nil, true},
		{"registered to another user already", u, true, []*Certificate{{UserID: "u9", Source: "registered", DER: leaf.Raw}}, false},
		{"registered to this user already", u, false, []*Certificate{{UserID: "u1", Source: "registered", DER: leaf.Raw}}, true},
	} {
		if err := registerMatches(leaf, tc.user, tc.pinned, tc.records); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	for a, b := range map[string]string{"": "", "  ": "x", "Ramesh": "Rajesh"} {
		if sameName(a, b) {
			t.Errorf("sameName(%q, %q)", a, b)
		}
	}
}

// forgingSource is a B-LT revocation source that answers for the signer
// with a forged OCSP response and asks the real one about the rest.
type forgingSource struct {
	real   pdf.RevocationSource
	signer *x509.Certificate
	forged []byte
}

func (f *forgingSource) Check(ctx context.Context, cert, issuer *x509.Certificate) (*pki.RevocationStatus, error) {
	if cert.Equal(f.signer) {
		return &pki.RevocationStatus{State: pki.StateGood, Source: pki.SourceOCSP, OCSPResponse: f.forged, ThisUpdate: time.Now()}, nil
	}
	return f.real.Check(ctx, cert, issuer)
}

// TestForgedOCSPFromTenantResponder is the issue's first attack in
// process: a tenant holds an OCSP responder certificate from the gateway's
// CA (one issued before 1.1; the API refuses them now) and embeds a forged
// "good" answer for a signer revoked for keyCompromise. /v1/verify/pdf
// must not believe it.
func TestForgedOCSPFromTenantResponder(t *testing.T) {
	g := newTestGW(t, nil)
	ctx := context.Background()
	k := testpki.Key(t, testpki.P256, 44)
	issued := g.issueCSR(g.key, "ocsp-victim", k)
	app := appSigner(t, k, issued)
	g.must(200, "POST", "/v1/certificates/"+issued["certificateId"].(string)+"/revoke", g.key, map[string]any{"reason": "keyCompromise"})

	rk := testpki.Key(t, testpki.P256, 45)
	responder, err := g.srv.ca.Issue(ctx, rk.Public(), pki.Subject{CommonName: "SecureSign Dev CA OCSP Responder", Country: "IN"}, pki.ProfileOCSP)
	if err != nil {
		t.Fatal(err)
	}
	issuer := g.srv.ca.Certificate()
	now := time.Now()
	forged, err := ocsp.CreateResponse(issuer, responder, ocsp.Response{Status: ocsp.Good, SerialNumber: app.Certificate().SerialNumber,
		ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour), Certificate: responder}, rk)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 6960 alone accepts it: this is what the attack relied on.
	if _, err := ocsp.ParseResponseForCert(forged, app.Certificate(), issuer); err != nil {
		t.Fatalf("the forged answer does not even parse: %v", err)
	}
	real := pki.NewRevocationChecker(pki.RevocationOptions{})
	var out bytes.Buffer
	src := testpdf.Minimal("forged OCSP")
	err = pdf.Sign(ctx, &out, bytes.NewReader(src), int64(len(src)), app, pdf.SignOptions{Level: pdf.LevelBLT, Timestamper: g.srv.tsa,
		Revocation: &forgingSource{real: real, signer: app.Certificate(), forged: forged}})
	if err != nil {
		t.Fatal(err)
	}
	rep := g.must(200, "POST", "/v1/verify/pdf", g.key, map[string]any{"pdfBase64": base64.StdEncoding.EncodeToString(out.Bytes())})
	sig := rep["signatures"].([]any)[0].(map[string]any)
	if sig["indication"] == "TOTAL_PASSED" || sig["revocation"] != "revoked" {
		t.Fatalf("the forged OCSP answer rescued a revoked signer: %v %v %v", sig["indication"], sig["revocation"], sig["messages"])
	}
	// The library user gets the same with PinResponders.
	o := pdf.VerifyOptions{Roots: g.srv.roots, Intermediates: g.srv.ca.ChainCerts(), OCSPResponders: pki.PinResponders(issuer)}
	lr, err := pdf.Verify(ctx, bytes.NewReader(out.Bytes()), int64(out.Len()), o)
	if err != nil {
		t.Fatal(err)
	}
	if s := lr.Signatures[0]; s.Revocation == "good" {
		t.Errorf("pdf.Verify with PinResponders believed the forged answer: %+v", s)
	}
	// Without one, RFC 6960 alone believes the tenant's responder: the
	// attack as it was.
	o.OCSPResponders = nil
	lr, _ = pdf.Verify(ctx, bytes.NewReader(out.Bytes()), int64(out.Len()), o)
	if s := lr.Signatures[0]; s.Revocation != "good" {
		t.Errorf("the attack does not reproduce without a responder policy: %s", s.Revocation)
	}
}

// TestProfilesRefusedKeepOTP: tsa and ocsp are refused with a clear code
// and the OTP stays usable; an operator can narrow a tenant further.
func TestProfilesRefusedKeepOTP(t *testing.T) {
	g := newTestGW(t, nil)
	uid := g.newUser(g.key, "profiles")
	oid, code := g.otp(g.key, uid, "issue")
	k := testpki.Key(t, testpki.P256, 46)
	for _, p := range []string{pki.ProfileTSA, pki.ProfileOCSP} {
		g.wantErr(http.StatusUnprocessableEntity, CodeProfileNotAllowed, "POST", "/v1/certificates/issue", g.key,
			map[string]any{"userId": uid, "otpId": oid, "otp": code, "profile": p, "csrPem": csrPEM(t, k)})
	}
	if err := SetTenantProfiles(context.Background(), g.srv.store, DevTenantID, []string{pki.ProfileIndividualSigning}); err != nil {
		t.Fatal(err)
	}
	g.wantErr(http.StatusUnprocessableEntity, CodeProfileNotAllowed, "POST", "/v1/certificates/issue", g.key,
		map[string]any{"userId": uid, "otpId": oid, "otp": code, "profile": pki.ProfileDocumentSigner, "csrPem": csrPEM(t, k)})
	got := g.must(201, "POST", "/v1/certificates/issue", g.key,
		map[string]any{"userId": uid, "otpId": oid, "otp": code, "csrPem": csrPEM(t, k)})
	if got["certificateId"] == nil {
		t.Fatalf("issue after refusals: %v", got)
	}
	// Config names the tenant: it wins over the admin setting.
	g2 := newTestGW(t, nil, func(c *Config) { c.TenantProfiles = map[string][]string{DevTenantID: {pki.ProfileDocumentSigner}} })
	uid2 := g2.newUser(g2.key, "profiles-cfg")
	oid2, code2 := g2.otp(g2.key, uid2, "issue")
	g2.wantErr(http.StatusUnprocessableEntity, CodeProfileNotAllowed, "POST", "/v1/certificates/issue", g2.key,
		map[string]any{"userId": uid2, "otpId": oid2, "otp": code2, "csrPem": csrPEM(t, k)})
	if _, err := (Config{TenantProfiles: map[string][]string{"x": {pki.ProfileOCSP}}}).withDefaults(); err == nil {
		t.Error("Config could allow the ocsp profile")
	}
	if err := SetTenantProfiles(context.Background(), g.srv.store, DevTenantID, []string{pki.ProfileTSA}); !errors.Is(err, ErrProfileNotAllowed) {
		t.Errorf("an operator could allow tsa: %v", err)
	}
	ps, _ := TenantProfiles(context.Background(), g.srv.store, DevTenantID)
	if diff := cmp.Diff([]string{pki.ProfileIndividualSigning}, ps); diff != "" {
		t.Error(diff)
	}
}

// TestPDFSessionAfterForgedCancel: PROTOCOL 1.1 §3 for a PDF session on
// both stores: a cancel marks it failed, the real signature still
// completes it and the signed PDF is made.
func TestPDFSessionAfterForgedCancel(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		g := newTestGW(t, st)
		k := testpki.Key(t, testpki.P256, 47)
		issued := g.issueCSR(g.key, "cust-pdf-cancel", k)
		app := appSigner(t, k, issued)
		out := g.must(201, "POST", "/v1/sign/pdf", g.key, map[string]any{"pdfBase64": b64(testpdf.Minimal("cancel")), "certSerial": issued["serialNumber"]})
		rid := out["requestId"].(string)
		if code, ans := g.postResult(mustEncodeFail(t, rid)); code != 200 || ans["status"] != "failed" {
			t.Fatalf("cancel: %d %v", code, ans)
		}
		if code, ans := g.postResult(signLink(t, g, out["deepLink"].(string), app)); code != 200 || ans["status"] != "signed" {
			t.Fatalf("signature after the cancel: %d %v", code, ans)
		}
		s := g.must(200, "GET", "/v1/sessions/"+rid, g.key, nil)
		if s["status"] != "signed" || s["signedPdfBase64"] == nil || s["error"] != nil {
			t.Fatalf("session: status %v error %v pdf %t", s["status"], s["error"], s["signedPdfBase64"] != nil)
		}
		// An expired session takes no signature, after a failure either.
		out = g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("late"))})
		rid = out["requestId"].(string)
		g.postResult(mustEncodeFail(t, rid))
		enc := signLink(t, g, out["deepLink"].(string), app)
		g.clock.Advance(time.Hour)
		if code, ans := g.postResult(enc); code != 422 || ans["error"] != "SS_LINK_EXPIRED" {
			t.Errorf("signature after expiry: %d %v", code, ans)
		}
	})
}
