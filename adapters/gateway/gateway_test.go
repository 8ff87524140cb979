package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pdf"
	"github.com/securesign/securesign/signer"
)

func digest(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// TestHashSession is the token flow for a bare hash: create, sign outside
// the gateway, deliver, read the status; then replay and conflict.
func TestHashSession(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		g := newTestGW(t, st)
		k := testpki.Key(t, testpki.RSA2048, 1)
		issued := g.issueCSR(g.key, "cust-1", k)
		app := appSigner(t, k, issued)

		out := g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("loan agreement")), "hashAlgo": "SHA256", "certSerial": issued["serialNumber"]})
		rid := out["requestId"].(string)
		if st := g.must(200, "GET", "/v1/sessions/"+rid, g.key, nil)["status"]; st != "pending" {
			t.Fatalf("status before callback = %v", st)
		}
		if res, png := g.raw("GET", "/v1/sessions/"+rid+"/qr.png", g.key, nil); res.StatusCode != 200 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Errorf("QR: %d, %d bytes", res.StatusCode, len(png))
		}
		enc := signLink(t, g, out["deepLink"].(string), app)
		if code, ans := g.postResult(enc); code != 200 || ans["status"] != "signed" {
			t.Fatalf("callback = %d %v", code, ans)
		}
		// The verified chain is kept for the signer's next results.
		if n := g.srv.chains.Len(); n != 1 {
			t.Errorf("chain cache holds %d chains after one result, want 1", n)
		}
		s := g.must(200, "GET", "/v1/sessions/"+rid, g.key, nil)
		if s["status"] != "signed" || len(s["signaturesBase64"].([]any)) != 1 || s["certificateBase64"] == "" {
			t.Fatalf("status after callback = %v", s)
		}
		// The same result again: same answer, nothing changes.
		if code, ans := g.postResult(enc); code != 200 || ans["outcome"] != "duplicate" {
			t.Errorf("replay = %d %v", code, ans)
		}
		// A different result for the completed request: 409.
		fail, _ := callback.Encode(&callback.Result{RequestID: rid, Success: false, Error: callback.CodeSignCancelled, Message: "cancelled"})
		if code, ans := g.postResult(fail); code != 409 || ans["error"] != CodeConflict {
			t.Errorf("conflicting result = %d %v", code, ans)
		}
		if s2 := g.must(200, "GET", "/v1/sessions/"+rid, g.key, nil); s2["status"] != "signed" {
			t.Errorf("a failure overwrote the success: %v", s2)
		}
		// The mobile path: GET with ss_result, answered with a page.
		res, page := g.raw("GET", "/v1/callback?ss_result="+urlQueryEscape(enc), "", nil)
		if res.StatusCode != 200 || !bytes.Contains(page, []byte("Signed")) {
			t.Errorf("GET callback = %d %s", res.StatusCode, page)
		}
		logs := g.srv.store
		if n, err := logs.VerifyAudit(context.Background(), DevTenantID); err != nil || n < 4 {
			t.Errorf("audit chain: %d entries, %v", n, err)
		}
		// One "accepted" entry, written with the completion (same
		// transaction), worded as the verifier's outcome; the replays are
		// audited as such.
		es, err := logs.AuditLogs(context.Background(), AuditFilter{TenantID: DevTenantID, RequestID: rid})
		if err != nil {
			t.Fatal(err)
		}
		outcomes := map[string]int{}
		for _, e := range es {
			if e.Action != "session.result" {
				continue
			}
			outcomes[e.Outcome]++
			if e.Outcome == "accepted" && (e.CertSerial == "" || !strings.HasPrefix(e.Detail, "signed: 1 signature(s) by ")) {
				t.Errorf("accepted audit entry %+v", e)
			}
		}
		if outcomes["accepted"] != 1 || outcomes["duplicate"] != 2 {
			t.Errorf("session.result audit outcomes %v, want 1 accepted and 2 duplicates", outcomes)
		}
	})
}

// TestTamperedAndForeignResults: each rejected with a code, state unchanged.
func TestTamperedAndForeignResults(t *testing.T) {
	g := newTestGW(t, nil)
	k := testpki.Key(t, testpki.P256, 2)
	app := appSigner(t, k, g.issueCSR(g.key, "cust-2", k))
	out := g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashes": []string{b64(digest("a")), b64(digest("b"))}})
	rid := out["requestId"].(string)
	enc := signLink(t, g, out["deepLink"].(string), app)
	r, err := callback.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	// Swap the two signatures: each is valid, but not for its digest.
	r.SignaturesBase64[0], r.SignaturesBase64[1] = r.SignaturesBase64[1], r.SignaturesBase64[0]
	r.SignatureBase64 = r.SignaturesBase64[0]
	swapped, _ := callback.Encode(r)
	// A certificate from another hierarchy, not trusted by the gateway.
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.P256, testpki.Options{Slot: 3})
	foreign := appSignerFrom(t, leaf)
	foreignEnc := signLink(t, g, out["deepLink"].(string), foreign)
	for name, tc := range map[string]struct {
		enc  string
		code int
	}{
		"swapped signatures": {swapped, 422},
		"untrusted cert":     {foreignEnc, 422},
		"not base64":         {"%%%", 422},
		"truncated":          {enc[:len(enc)/2], 422},
		"unknown request":    {mustEncodeFail(t, "unknown-request-0001"), 404},
	} {
		code, ans := g.postResult(tc.enc)
		if code != tc.code || ans["success"] != false || !strings.HasPrefix(ans["error"].(string), "SS_") {
			t.Errorf("%s: %d %v", name, code, ans)
		}
		if s := g.must(200, "GET", "/v1/sessions/"+rid, g.key, nil); s["status"] != "pending" {
			t.Fatalf("%s changed the session: %v", name, s)
		}
	}
	if code, _ := g.postResult(enc); code != 200 {
		t.Fatalf("the genuine result was refused after the forgeries: %d", code)
	}
}

func mustEncodeFail(t *testing.T, rid string) string {
	enc, err := callback.Encode(&callback.Result{RequestID: rid, Success: false, Error: callback.CodeSignCancelled})
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func appSignerFrom(t *testing.T, l *testpki.Leaf) signer.Signer {
	s, err := signer.NewSoftware(l.Key, l.Cert, l.Chain)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAuthentication(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		g := newTestGW(t, st)
		body := map[string]any{"hashBase64": b64(digest("x"))}
		g.wantErr(401, CodeUnauthorized, "POST", "/v1/sign/hash", "", body)
		g.wantErr(401, CodeUnauthorized, "POST", "/v1/sign/hash", "ss_test_nonsense", body)
		wrong := g.key[:len(g.key)-4] + "aaaa"
		g.wantErr(401, CodeUnauthorized, "POST", "/v1/sign/hash", wrong, body)
		// X-SecureSign-Api-Key works too.
		g.must(201, "POST", "/v1/sign/hash", "", body, "X-SecureSign-Api-Key", g.key)
		// Access tokens: work, expire, cannot mint tokens.
		tok := g.must(200, "POST", "/v1/auth/token", g.key, nil)
		at := tok["access_token"].(string)
		if tok["token_type"] != "Bearer" || tok["expires_in"].(float64) <= 0 {
			t.Fatalf("token answer %v", tok)
		}
		g.must(201, "POST", "/v1/sign/hash", at, body)
		g.wantErr(401, CodeUnauthorized, "POST", "/v1/auth/token", at, nil)
		g.clock.Advance(16 * time.Minute)
		g.wantErr(401, CodeUnauthorized, "POST", "/v1/sign/hash", at, body)
		// Revoked key, and its tokens, stop working.
		ctx := context.Background()
		key2, k2, err := NewAPIKey(ctx, st, DevTenantID, "second", false, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		at2 := g.must(200, "POST", "/v1/auth/token", key2, nil)["access_token"].(string)
		if err := st.RevokeAPIKey(ctx, DevTenantID, k2.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		// Revocation (by the admin command, another process) takes effect
		// once the gateway's cached key record is older than its TTL.
		g.clock.Advance(apiKeyCacheTTL)
		g.wantErr(401, CodeUnauthorized, "POST", "/v1/sign/hash", key2, body)
		g.wantErr(401, CodeUnauthorized, "POST", "/v1/sign/hash", at2, body)
		// A disabled tenant's keys stop working.
		if err := st.SetTenantDisabled(ctx, DevTenantID, true); err != nil {
			t.Fatal(err)
		}
		g.clock.Advance(apiKeyCacheTTL)
		g.wantErr(401, CodeUnauthorized, "POST", "/v1/sign/hash", g.key, body)
		// Nothing leaked into the logs.
		if strings.Contains(g.logs.String(), g.key) || strings.Contains(g.logs.String(), at) {
			t.Error("a credential appears in the logs")
		}
	})
}

// TestTenantIsolation: another tenant's ids answer 404.
func TestTenantIsolation(t *testing.T) {
	g := newTestGW(t, nil)
	ctx := context.Background()
	if err := g.srv.store.CreateTenant(ctx, &Tenant{ID: "other", Name: "Other", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	other, _, err := NewAPIKey(ctx, g.srv.store, "other", "k", true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	k := testpki.Key(t, testpki.P256, 4)
	issued := g.issueCSR(g.key, "cust-4", k)
	rid := g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("t"))})["requestId"].(string)
	uid := issued["userId"].(string)
	for _, path := range []string{"/v1/sessions/" + rid, "/v1/sessions/" + rid + "/qr.png", "/v1/certificates/" + issued["serialNumber"].(string),
		"/v1/certificates/" + issued["certificateId"].(string)} {
		g.wantErr(404, CodeNotFound, "GET", path, other, nil)
	}
	g.wantErr(404, CodeNotFound, "POST", "/v1/users/"+uid+"/otp", other, map[string]any{"purpose": "sign"})
	oid, _ := g.otp(g.key, uid, "issue")
	g.wantErr(404, CodeNotFound, "GET", "/v1/dev/otp/"+oid, other, nil)
	g.wantErr(404, CodeNotFound, "POST", "/v1/certificates/"+issued["serialNumber"].(string)+"/revoke", other, nil)
	if l := g.must(200, "GET", "/v1/certificates", other, nil)["certificates"].([]any); len(l) != 0 {
		t.Errorf("other tenant lists %d certificates", len(l))
	}
	if l := g.must(200, "GET", "/v1/audit/logs", other, nil)["entries"].([]any); len(l) != 0 {
		t.Errorf("other tenant sees %d audit entries", len(l))
	}
	// The revoke did not happen.
	if s := g.must(200, "GET", "/v1/certificates/"+issued["serialNumber"].(string), g.key, nil); s["status"] != "active" {
		t.Errorf("certificate after the other tenant's revoke: %v", s["status"])
	}
}

func TestAllowlist(t *testing.T) {
	g := newTestGW(t, nil, func(c *Config) { c.Dev = false; c.MasterKey = bytes.Repeat([]byte{7}, 32) })
	h := b64(digest("allow"))
	for _, u := range []string{"https://evil.example/cb", "https://portal.example.evil/cb"} {
		g.wantErr(403, CodeDomainNotAllowed, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": h, "callbackUrl": u})
	}
	g.wantErr(403, CodeDomainNotAllowed, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": h, "returnUrl": "https://evil.example/done"})
	g.wantErr(400, CodeBadRequest, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": h, "callbackUrl": "https://portal@evil.example/cb"})
	g.wantErr(400, CodeBadRequest, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": h, "callbackUrl": "javascript:alert(1)"})
	if n, _ := g.srv.store.CountPendingSessions(context.Background(), DevTenantID, time.Now()); n != 0 {
		t.Fatalf("refused calls left %d sessions", n)
	}
	if err := g.srv.store.AddOrigin(context.Background(), DevTenantID, "https://portal.example"); err != nil {
		t.Fatal(err)
	}
	g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": h, "callbackUrl": "https://portal.example/cb", "returnUrl": "https://portal.example/done"})
	v := g.must(200, "POST", "/v1/auth/validate", g.key, map[string]any{"origin": "https://portal.example", "platform": "web"})
	if v["allowed"] != true || v["tenantId"] != DevTenantID {
		t.Errorf("validate = %v", v)
	}
	if v := g.must(200, "POST", "/v1/auth/validate", g.key, map[string]any{"origin": "https://evil.example"}); v["allowed"] != false {
		t.Errorf("validate evil = %v", v)
	}
}

func TestRequestValidation(t *testing.T) {
	g := newTestGW(t, nil, func(c *Config) { c.MaxJSONBytes = 4096; c.MaxBodyBytes = 64 << 10 })
	for name, body := range map[string]string{
		"malformed":     `{"hashBase64":`,
		"unknown field": `{"hashBase64":"` + b64(digest("x")) + `","evil":1}`,
		"wrong type":    `{"hashBase64":5}`,
		"trailing":      `{"hashBase64":"` + b64(digest("x")) + `"} {}`,
		"bad length":    `{"hashBase64":"AAAA"}`,
		"bad algo":      `{"hashBase64":"` + b64(digest("x")) + `","hashAlgo":"MD5"}`,
		"empty":         ``,
	} {
		st, out := g.call("POST", "/v1/sign/hash", g.key, body)
		if st != 400 || out["error"] != CodeBadRequest {
			t.Errorf("%s: %d %v", name, st, out)
		}
	}
	big := `{"hashBase64":"` + strings.Repeat("A", 8000) + `"}`
	g.wantErr(413, CodeTooLarge, "POST", "/v1/sign/hash", g.key, big)
	bigPDF := `{"pdfBase64":"` + strings.Repeat("QUFB", 30000) + `","certSerial":"01"}`
	g.wantErr(413, CodeTooLarge, "POST", "/v1/sign/pdf", g.key, bigPDF)
	g.wantErr(400, CodeBadRequest, "POST", "/v1/sign/pdf", g.key, `{"pdfBase64":"@@@@","certSerial":"01"}`)
	g.wantErr(404, CodeNotFound, "GET", "/v1/nothing", g.key, nil)
	if n, _ := g.srv.store.CountPendingSessions(context.Background(), DevTenantID, time.Now()); n != 0 {
		t.Fatalf("refused calls left %d sessions", n)
	}
}

func TestIdempotency(t *testing.T) {
	g := newTestGW(t, nil)
	body := map[string]any{"hashBase64": b64(digest("idem"))}
	a := g.must(201, "POST", "/v1/sign/hash", g.key, body, "Idempotency-Key", "k-1")
	res, raw := g.raw("POST", "/v1/sign/hash", g.key, body, "Idempotency-Key", "k-1")
	if res.StatusCode != 201 || res.Header.Get("Idempotent-Replayed") != "true" || !bytes.Contains(raw, []byte(a["requestId"].(string))) {
		t.Fatalf("replay = %d %s", res.StatusCode, raw)
	}
	g.wantErr(422, CodeIdempotencyMismatch, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("other"))}, "Idempotency-Key", "k-1")
	if n, _ := g.srv.store.CountPendingSessions(context.Background(), DevTenantID, time.Now()); n != 1 {
		t.Fatalf("%d sessions, want 1", n)
	}
	// A failed call does not burn the key.
	g.wantErr(400, CodeBadRequest, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": "AAAA"}, "Idempotency-Key", "k-2")
	g.must(201, "POST", "/v1/sign/hash", g.key, body, "Idempotency-Key", "k-2")
}

func TestRateLimit(t *testing.T) {
	g := newTestGW(t, nil, func(c *Config) { c.RateLimitRPM = 3 })
	for i := 0; i < 3; i++ {
		g.must(200, "GET", "/v1/certificates", g.key, nil)
	}
	res, _ := g.raw("GET", "/v1/certificates", g.key, nil)
	if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" {
		t.Fatalf("4th request = %d", res.StatusCode)
	}
}

// TestOTPBruteForce: locked after 5 wrong codes, the right one then fails
// too, and no certificate was issued.
func TestOTPBruteForce(t *testing.T) {
	g := newTestGW(t, nil)
	uid := g.newUser(g.key, "cust-otp")
	oid, code := g.otp(g.key, uid, "issue")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	req := map[string]any{"userId": uid, "otpId": oid, "otp": wrong, "keyAlgo": "ECDSA-P256"}
	for i := 1; i < 5; i++ {
		g.wantErr(401, CodeOTPInvalid, "POST", "/v1/certificates/issue", g.key, req)
	}
	g.wantErr(423, CodeOTPLocked, "POST", "/v1/certificates/issue", g.key, req)
	req["otp"] = code
	g.wantErr(423, CodeOTPLocked, "POST", "/v1/certificates/issue", g.key, req)
	if l := g.must(200, "GET", "/v1/certificates", g.key, nil)["certificates"].([]any); len(l) != 0 {
		t.Fatalf("%d certificates issued", len(l))
	}
	// OTP for another purpose does not work; a fresh one does, once.
	oid2, code2 := g.signOTPHashes(g.key, uid, g.serverKeyFor(uid), digest("other purpose"))
	if dev := g.must(200, "GET", "/v1/dev/otp/"+oid2, g.key, nil); dev["code"] != code2 {
		t.Errorf("dev OTP endpoint = %v", dev)
	}
	g.wantErr(404, CodeNotFound, "POST", "/v1/certificates/issue", g.key, map[string]any{"userId": uid, "otpId": oid2, "otp": code2, "keyAlgo": "ECDSA-P256"})
	oid3, code3 := g.otp(g.key, uid, "issue")
	ok := map[string]any{"userId": uid, "otpId": oid3, "otp": code3, "keyAlgo": "ECDSA-P256"}
	g.must(201, "POST", "/v1/certificates/issue", g.key, ok)
	g.wantErr(401, CodeOTPExpired, "POST", "/v1/certificates/issue", g.key, ok)
	if strings.Contains(g.logs.String(), code3) {
		t.Error("an OTP appears in the logs")
	}
}

// TestRemoteSigning: server-held key, PDF signed after the user's OTP, and
// the CSC API over the same credential.
func TestRemoteSigning(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		g := newTestGW(t, st)
		uid := g.newUser(g.key, "cust-remote")
		oid, code := g.otp(g.key, uid, "issue")
		issued := g.must(201, "POST", "/v1/certificates/issue", g.key, map[string]any{"userId": uid, "otpId": oid, "otp": code, "keyAlgo": "ECDSA-P256"})
		if issued["keyLocation"] != "server" {
			t.Fatalf("issued %v", issued)
		}
		cid := issued["certificateId"].(string)
		remotePDF := testpdf.Minimal("remote")
		soid, scode := g.signOTPDocs(g.key, uid, cid, remotePDF)
		out := g.must(200, "POST", "/v1/sign/pdf", g.key, map[string]any{"pdfBase64": b64(remotePDF), "certificateId": cid, "otpId": soid, "otp": scode, "reason": "Loan agreement"})
		signed, _ := base64.StdEncoding.DecodeString(out["signedPdfBase64"].(string))
		rep, err := pdf.Verify(context.Background(), bytes.NewReader(signed), int64(len(signed)), pdf.VerifyOptions{Roots: g.srv.roots})
		if err != nil || !rep.Valid {
			t.Fatalf("signed PDF: %v %+v", err, rep)
		}
		// The server-key variant of sign/hash.
		hoid, hcode := g.signOTPHashes(g.key, uid, cid, digest("server hash"))
		hs := g.must(200, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("server hash")), "certificateId": cid, "otpId": hoid, "otp": hcode})
		if hs["signAlgo"] != "ECDSA" || len(hs["signaturesBase64"].([]any)) != 1 {
			t.Errorf("server-key sign/hash = %v", hs)
		}
		// Idempotent replay streams the same document again.
		ioid, icode := g.signOTPDocs(g.key, uid, cid, testpdf.Minimal("idem"))
		ireq := map[string]any{"pdfBase64": b64(testpdf.Minimal("idem")), "certificateId": cid, "otpId": ioid, "otp": icode}
		first := g.must(200, "POST", "/v1/sign/pdf", g.key, ireq, "Idempotency-Key", "pdf-1")
		again := g.must(200, "POST", "/v1/sign/pdf", g.key, ireq, "Idempotency-Key", "pdf-1")
		if first["signedPdfBase64"] != again["signedPdfBase64"] || first["signedPdfBase64"] == nil {
			t.Error("idempotent replay of a PDF signature differs")
		}
		// The same OTP cannot sign twice.
		g.wantErr(401, CodeOTPExpired, "POST", "/v1/sign/pdf", g.key, map[string]any{"pdfBase64": b64(remotePDF), "certificateId": cid, "otpId": soid, "otp": scode})

		// CSC: list, info, authorize (OTP → SAD), signHash, SAD single use.
		list := g.must(200, "POST", "/csc/v2/credentials/list", g.key, map[string]any{})
		if ids := list["credentialIDs"].([]any); len(ids) != 1 || ids[0] != cid {
			t.Fatalf("credentials/list = %v", list)
		}
		info := g.must(200, "POST", "/csc/v2/credentials/info", g.key, map[string]any{"credentialID": cid, "certificates": "chain", "certInfo": true})
		if info["key"].(map[string]any)["status"] != "enabled" {
			t.Fatalf("credentials/info = %v", info)
		}
		h := b64(digest("csc"))
		aoid, acode := g.signOTPHashes(g.key, uid, cid, digest("csc"))
		auth := g.must(200, "POST", "/csc/v2/credentials/authorize", g.key, map[string]any{"credentialID": cid, "numSignatures": 1, "hashes": []string{h},
			"authData": []map[string]string{{"id": "otpId", "value": aoid}, {"id": "otp", "value": acode}}})
		sad := auth["SAD"].(string)
		sign := map[string]any{"credentialID": cid, "SAD": sad, "hashes": []string{h}, "signAlgo": "1.2.840.10045.4.3.2"}
		sigs := g.must(200, "POST", "/csc/v2/signatures/signHash", g.key, sign)
		if len(sigs["signatures"].([]any)) != 1 {
			t.Fatalf("signHash = %v", sigs)
		}
		st2, again := g.call("POST", "/csc/v2/signatures/signHash", g.key, sign)
		if st2 != 400 || again["error"] != "invalid_request" || again["error_description"] == "" {
			t.Errorf("SAD reuse = %d %v", st2, again)
		}
		st3, e := g.call("POST", "/csc/v2/credentials/info", "", map[string]any{"credentialID": cid})
		if st3 != 401 || e["error"] != "invalid_token" {
			t.Errorf("CSC without key = %d %v", st3, e)
		}
		// Revocation: the credential stops signing.
		g.must(200, "POST", "/v1/certificates/"+cid+"/revoke", g.key, map[string]any{"reason": "keyCompromise"})
		g.wantErr(422, CodeUnprocessable, "POST", "/v1/sign/pdf", g.key, map[string]any{"pdfBase64": b64(testpdf.Minimal("revoked")), "certificateId": cid, "otpId": "otp_x", "otp": "123456"})
		g.wantErr(422, CodeUnprocessable, "POST", "/v1/users/"+uid+"/otp", g.key, map[string]any{"purpose": "sign", "certificateId": cid, "hashes": []string{b64(digest("r"))}, "hashAlgo": "SHA256"})
	})
}

// TestPDFSession is the token flow for a PDF: prepare, sign the digest from
// the link outside the gateway, callback, download, validate.
func TestPDFSession(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		g := newTestGW(t, st)
		k := testpki.Key(t, testpki.RSA2048, 5)
		issued := g.issueCSR(g.key, "cust-pdf", k)
		app := appSigner(t, k, issued)
		out := g.must(201, "POST", "/v1/sign/pdf", g.key, map[string]any{"pdfBase64": b64(testpdf.Minimal("token")), "certSerial": issued["serialNumber"], "level": "B-T", "reason": "Loan"})
		rid := out["requestId"].(string)
		enc := signLink(t, g, out["deepLink"].(string), app)
		if code, ans := g.postResult(enc); code != 200 || ans["status"] != "signed" {
			t.Fatalf("callback = %d %v", code, ans)
		}
		s := g.must(200, "GET", "/v1/sessions/"+rid, g.key, nil)
		signed, err := base64.StdEncoding.DecodeString(s["signedPdfBase64"].(string))
		if err != nil || len(signed) == 0 {
			t.Fatalf("no signed PDF: %v", s)
		}
		rep, err := pdf.Verify(context.Background(), bytes.NewReader(signed), int64(len(signed)), pdf.VerifyOptions{Roots: g.srv.roots})
		if err != nil || !rep.Valid || rep.Signatures[0].Level != "B-T" {
			t.Fatalf("signed PDF: %v %+v", err, rep)
		}
		// The raw download is the same document.
		if res, raw := g.raw("GET", "/v1/sessions/"+rid+"/pdf", g.key, nil); res.StatusCode != 200 || !bytes.Equal(raw, signed) {
			t.Errorf("download: %d, %d bytes", res.StatusCode, len(raw))
		}
		// The validation endpoint says the same.
		v := g.must(200, "POST", "/v1/verify/pdf", g.key, map[string]any{"pdfBase64": b64(signed)})
		if v["valid"] != true || v["validationTime"] == "" {
			t.Errorf("verify/pdf = %v", v)
		}
		// as of a chosen time: the report says which (the B-T signature is
		// judged as of its timestamp, so it stays valid)
		v = g.must(200, "POST", "/v1/verify/pdf", g.key, map[string]any{"pdfBase64": b64(signed), "validationTime": "2036-06-01T00:00:00Z"})
		if v["valid"] != true || v["validationTime"] != "2036-06-01T00:00:00Z" {
			t.Errorf("verify/pdf at 2036 = %v", v)
		}
		g.wantErr(400, CodeBadRequest, "POST", "/v1/verify/pdf", g.key, map[string]any{"pdfBase64": b64(signed), "validationTime": "tomorrow"})
		// A malformed PDF is a 422 and opens no session.
		before, _ := g.srv.store.CountPendingSessions(context.Background(), DevTenantID, time.Now())
		g.wantErr(422, CodeUnprocessable, "POST", "/v1/sign/pdf", g.key, map[string]any{"pdfBase64": b64([]byte("%PDF-1.7 garbage")), "certSerial": issued["serialNumber"]})
		if after, _ := g.srv.store.CountPendingSessions(context.Background(), DevTenantID, time.Now()); after != before {
			t.Error("a malformed PDF opened a session")
		}
		g.wantErr(404, "SS_CERT_NOT_FOUND", "POST", "/v1/sign/pdf", g.key, map[string]any{"pdfBase64": b64(testpdf.Minimal("x")), "certSerial": "abcdef"})
	})
}

func TestRegisterFlow(t *testing.T) {
	g := newTestGW(t, nil, func(c *Config) {})
	k := testpki.Key(t, testpki.P256, 6)
	issued := g.issueCSR(g.key, "cust-reg", k)
	app := appSigner(t, k, issued)
	out := g.must(201, "POST", "/v1/register", g.key, map[string]any{"userId": issued["userId"]})
	enc := registerLink(t, g, out["deepLink"].(string), app)
	if code, ans := g.postResult(enc); code != 200 {
		t.Fatalf("register callback = %d %v", code, ans)
	}
	s := g.must(200, "GET", "/v1/sessions/"+out["requestId"].(string), g.key, nil)
	if s["status"] != "signed" || s["certificateId"] == nil {
		t.Fatalf("register status = %v", s)
	}
	list := g.must(200, "GET", "/v1/certificates?userId="+issued["userId"].(string), g.key, nil)["certificates"].([]any)
	if len(list) != 2 {
		t.Fatalf("%d certificates after registration, want issued + registered", len(list))
	}
}

func TestHealthMetricsKeys(t *testing.T) {
	g := newTestGW(t, nil)
	g.must(200, "GET", "/healthz", "", nil)
	g.must(200, "GET", "/readyz", "", nil)
	res, body := g.raw("GET", "/metrics", "", nil)
	if res.StatusCode != 200 || !bytes.Contains(body, []byte("securesign_http_requests_total")) {
		t.Errorf("metrics: %d", res.StatusCode)
	}
	res, body = g.raw("GET", "/pki/ca.pem", "", nil)
	if res.StatusCode != 200 || !bytes.Contains(body, []byte("BEGIN CERTIFICATE")) {
		t.Errorf("ca.pem: %d", res.StatusCode)
	}
	res, _ = g.raw("GET", "/pki/crl", "", nil)
	if res.StatusCode != 200 {
		t.Errorf("crl: %d", res.StatusCode)
	}
	if st, out := g.call("GET", "/csc/v2/info", "", nil); st != http.StatusOK || out["specs"] == nil {
		t.Errorf("csc info: %d %v", st, out)
	}
}

// TestExpiredAndRedirect: a result after expiry is refused and changes
// nothing; the mobile GET of an accepted result goes to the returnUrl.
func TestExpiredAndRedirect(t *testing.T) {
	g := newTestGW(t, nil)
	if err := g.srv.store.AddOrigin(context.Background(), DevTenantID, "https://portal.example"); err != nil {
		t.Fatal(err)
	}
	k := testpki.Key(t, testpki.P256, 7)
	app := appSigner(t, k, g.issueCSR(g.key, "cust-exp", k))
	late := g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("late"))})
	enc := signLink(t, g, late["deepLink"].(string), app)
	ok := g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("ok")), "returnUrl": "https://portal.example/done?x=1"})
	okEnc := signLink(t, g, ok["deepLink"].(string), app)

	res, _ := g.raw("GET", "/v1/callback?ss_result="+urlQueryEscape(okEnc), "", nil)
	if loc := res.Header.Get("Location"); res.StatusCode != 303 || !strings.HasPrefix(loc, "https://portal.example/done?") || !strings.Contains(loc, "status=signed") {
		t.Errorf("GET callback = %d %q", res.StatusCode, loc)
	}
	g.clock.Advance(11 * time.Minute)
	code, ans := g.postResult(enc)
	if code != 422 || !strings.HasPrefix(ans["error"].(string), "SS_") {
		t.Errorf("late result = %d %v", code, ans)
	}
	if s := g.must(200, "GET", "/v1/sessions/"+late["requestId"].(string), g.key, nil); s["status"] != "expired" {
		t.Errorf("late session status = %v", s["status"])
	}
}
