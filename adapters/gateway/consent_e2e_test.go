package gateway

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/securesign/securesign/internal/testpdf"
)

// outboxLine is the dev outbox's record of the code otpID.
func outboxLine(t *testing.T, dir, otpID string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "dev-otp-outbox.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]string
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["otpId"] == otpID {
			return m
		}
	}
	t.Fatalf("OTP %s not in the outbox", otpID)
	return nil
}

// TestE2EConsentBoundToOperation (issue 13, attack 2, on the real binary
// over HTTP): a portal shows the customer document A and asks for a code;
// the code it gets does not sign document B, 50 hidden digests, or with
// another certificate, and the message the customer got names document A.
func TestE2EConsentBoundToOperation(t *testing.T) {
	data := t.TempDir()
	first := startGateway(t, data, "127.0.0.1:0")
	key := first.key
	first.stop()
	// A second tenant, made by the operator while the gateway is down.
	out, err := exec.Command(securesignBinary(t), "gateway", "admin", "tenant-create", "--data", data, "--tenant", "other", "--name", "Other Bank", "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("tenant-create: %v %s", err, out)
	}
	var other struct{ APIKey string }
	if err := json.Unmarshal(out, &other); err != nil {
		t.Fatalf("tenant-create: %q %v", out, err)
	}
	p := startGateway(t, data, "127.0.0.1:0")
	p.key = key
	g := p.client(data, p.key)

	uid := g.newUser(p.key, "consent-user")
	cid := g.serverKeyFor(uid)
	cid2 := g.serverKeyFor(uid)
	docA, docB := testpdf.Minimal("Loan agreement: 5,00,000 INR"), testpdf.Minimal("Guarantee: 50,00,000 INR")
	sumA := sha256.Sum256(docA)
	otpFor := func(body map[string]any) (string, string, map[string]any) {
		t.Helper()
		body["purpose"] = "sign"
		ans := g.must(201, "POST", "/v1/users/"+uid+"/otp", p.key, body)
		id := ans["otpId"].(string)
		return id, otpCode(t, data, id), ans
	}
	docsA := []map[string]string{{"sha256": hex.EncodeToString(sumA[:]), "name": "Loan agreement.pdf"}}

	// The message that carries the code says who asks and what it signs.
	oid, code, ans := otpFor(map[string]any{"certificateId": cid, "documents": docsA})
	line := outboxLine(t, data, oid)
	if !strings.HasPrefix(line["summary"], "Development tenant: ") {
		t.Errorf("outbox summary %q does not start with the tenant's name", line["summary"])
	}
	for _, want := range []string{`"Loan agreement.pdf"`, hex.EncodeToString(sumA[:4]), "Sign 1 document"} {
		if !strings.Contains(line["summary"], want) {
			t.Errorf("outbox summary %q does not name %s", line["summary"], want)
		}
	}
	if ans["summary"] != line["summary"] {
		t.Errorf("answer summary %q, outbox %q", ans["summary"], line["summary"])
	}

	// Document B with A's code: refused, and the code is spent.
	signPDF := func(doc []byte, cert, oid, code string) map[string]any {
		return map[string]any{"pdfBase64": b64(doc), "certificateId": cert, "otpId": oid, "otp": code}
	}
	e := g.wantErr(422, CodeOTPMismatch, "POST", "/v1/sign/pdf", p.key, signPDF(docB, cid, oid, code))
	if !strings.Contains(e["message"].(string), "spent") {
		t.Errorf("mismatch message %q does not say the code is spent", e["message"])
	}
	g.wantErr(401, CodeOTPExpired, "POST", "/v1/sign/pdf", p.key, signPDF(docA, cid, oid, code))

	// A's code for 50 hidden digests (sign/hash and sign/batch) or for A
	// with the user's other certificate: refused, spent.
	var fifty []string
	var items []map[string]string
	for i := range 50 {
		d := sha256.Sum256(fmt.Appendf(nil, "hidden %d", i))
		fifty = append(fifty, b64(d[:]))
		items = append(items, map[string]string{"hashBase64": b64(d[:])})
	}
	for _, tc := range []struct {
		path string
		body func(oid, code string) map[string]any
	}{
		{"/v1/sign/hash", func(oid, code string) map[string]any {
			return map[string]any{"hashes": fifty, "certificateId": cid, "otpId": oid, "otp": code}
		}},
		{"/v1/sign/batch", func(oid, code string) map[string]any {
			return map[string]any{"items": items, "certificateId": cid, "otpId": oid, "otp": code}
		}},
		{"/v1/sign/pdf", func(oid, code string) map[string]any { return signPDF(docA, cid2, oid, code) }},
	} {
		oid, code, _ := otpFor(map[string]any{"certificateId": cid, "documents": docsA})
		g.wantErr(422, CodeOTPMismatch, "POST", tc.path, p.key, tc.body(oid, code))
		g.wantErr(401, CodeOTPExpired, "POST", "/v1/sign/pdf", p.key, signPDF(docA, cid, oid, code))
	}

	// A code for one digest does not sign it with 49 more (50, the most a
	// call takes).
	one := sha256.Sum256([]byte("shown digest"))
	hoid, hcode, hans := otpFor(map[string]any{"certificateId": cid, "hashes": []string{b64(one[:])}, "hashAlgo": "SHA256"})
	if s := hans["summary"].(string); !strings.Contains(s, "1 SHA256 digest") || !strings.Contains(s, hex.EncodeToString(one[:4])) {
		t.Errorf("digest summary %q", s)
	}
	g.wantErr(422, CodeOTPMismatch, "POST", "/v1/sign/hash", p.key, map[string]any{"hashes": append([]string{b64(one[:])}, fifty[:49]...), "certificateId": cid, "otpId": hoid, "otp": hcode})
	g.wantErr(401, CodeOTPExpired, "POST", "/v1/sign/hash", p.key, map[string]any{"hashBase64": b64(one[:]), "certificateId": cid, "otpId": hoid, "otp": hcode})

	// The approved operation signs: a wrong code first changes nothing but
	// the attempt count.
	oid, code, _ = otpFor(map[string]any{"certificateId": cid, "documents": docsA})
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	g.wantErr(401, CodeOTPInvalid, "POST", "/v1/sign/pdf", p.key, signPDF(docA, cid, oid, wrong))
	signed := g.must(200, "POST", "/v1/sign/pdf", p.key, signPDF(docA, cid, oid, code))
	pdfBytes, _ := base64.StdEncoding.DecodeString(signed["signedPdfBase64"].(string))
	if !bytes.HasPrefix(pdfBytes, docA) || len(pdfBytes) <= len(docA) {
		t.Error("the signed PDF is not an incremental update of document A")
	}
	rep := g.must(200, "POST", "/v1/verify/pdf", p.key, map[string]any{"pdfBase64": signed["signedPdfBase64"]})
	if rep["valid"] != true {
		t.Errorf("signed document A does not validate: %v", rep)
	}
	g.wantErr(401, CodeOTPExpired, "POST", "/v1/sign/pdf", p.key, signPDF(docA, cid, oid, code))
	hoid, hcode, _ = otpFor(map[string]any{"certificateId": cid, "hashes": []string{b64(one[:])}, "hashAlgo": "SHA256"})
	g.must(200, "POST", "/v1/sign/hash", p.key, map[string]any{"hashBase64": b64(one[:]), "certificateId": cid, "otpId": hoid, "otp": hcode})

	// Existing integrations are told which new field to send.
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"purpose": "sign"}, "certificateId"},
		{map[string]any{"purpose": "sign", "certificateId": cid}, "hashes"},
		{map[string]any{"purpose": "sign", "certificateId": cid, "hashes": []string{b64(one[:])}}, "hashAlgo"},
	} {
		e := g.wantErr(422, CodeConsentRequired, "POST", "/v1/users/"+uid+"/otp", p.key, tc.body)
		if !strings.HasPrefix(e["message"].(string), tc.field+":") {
			t.Errorf("%v: message %q does not name %s", tc.body, e["message"], tc.field)
		}
	}
	// Another tenant cannot name this tenant's certificate or user.
	ouid := g.newUser(other.APIKey, "other-user")
	g.wantErr(422, CodeUnprocessable, "POST", "/v1/users/"+ouid+"/otp", other.APIKey, map[string]any{"purpose": "sign", "certificateId": cid, "documents": docsA})
	g.wantErr(404, CodeNotFound, "POST", "/v1/users/"+uid+"/otp", other.APIKey, map[string]any{"purpose": "sign", "certificateId": cid, "documents": docsA})

	// At most 3 unused codes per user (a fresh user: the per-user send
	// limit, 10 an hour by default, is near for the first).
	uid3 := g.newUser(p.key, "consent-limit")
	cid3 := g.serverKeyFor(uid3)
	limited := map[string]any{"purpose": "sign", "certificateId": cid3, "documents": docsA}
	for range 3 {
		g.must(201, "POST", "/v1/users/"+uid3+"/otp", p.key, limited)
	}
	e = g.wantErr(429, CodeRateLimited, "POST", "/v1/users/"+uid3+"/otp", p.key, limited)
	if !strings.Contains(e["message"].(string), "3 unused") {
		t.Errorf("limit message %q", e["message"])
	}

	// The mismatches are in the audit log; no code is in the logs.
	logs := g.must(200, "GET", "/v1/audit/logs", p.key, nil)
	raw, _ := json.Marshal(logs)
	if n := strings.Count(string(raw), CodeOTPMismatch); n != 5 {
		t.Errorf("%d audited mismatches, want 5", n)
	}
	p.stop()
	if strings.Contains(p.stderr.String(), code) {
		t.Error("a code appears in the gateway's logs")
	}
}

// TestE2ECSCOAuth: the real binary serves the CSC OAuth consent flow and
// honours signAlgoParams: the user approves two labelled digests on the
// gateway's page, and the token signs exactly those with RSASSA-PSS salt
// 222, which openssl verifies with that salt length.
func TestE2ECSCOAuth(t *testing.T) {
	data := t.TempDir()
	p := startGateway(t, data, "127.0.0.1:0")
	g := p.client(data, p.key)
	_, cid, cert := g.issueServerKey("e2e-oauth", "RSA-2048")
	o := newOAuthClient(g)
	a, b := digest("e2e contract"), digest("e2e annex")
	page, code := o.start(cid, []string{"Contract", "Annex"}, a, b)
	if res, html := o.do("GET", page, nil); res.StatusCode != 200 || !strings.Contains(html, "Contract") || !strings.Contains(html, hex.EncodeToString(a)[:8]) ||
		!strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("consent page = %d %v\n%s", res.StatusCode, res.Header, html)
	}
	q := codeFrom(t, first(o.approve(page, code)))
	st, tok := o.token(q.Get("code"), o.verifier)
	if st != 200 {
		t.Fatalf("token = %d %v", st, tok)
	}
	st, out := g.call("POST", "/csc/v2/signatures/signHash", tok["access_token"].(string), map[string]any{"credentialID": cid,
		"hashes": b64s(a, b), "hashAlgorithmOID": oidSHA256, "signAlgo": oidPSS, "signAlgoParams": pssParamsB64(t, oidSHA256, oidSHA256, 222)})
	if st != 200 {
		t.Fatalf("signHash = %d %v", st, out)
	}
	for i, sig := range sigsOf(t, out, 2) {
		opensslVerifyDigest(t, cert, [][]byte{a, b}[i], sig, "digest:sha256", "rsa_padding_mode:pss", "rsa_pss_saltlen:222", "rsa_mgf1_md:sha256")
	}
	if st, _ := o.token(q.Get("code"), o.verifier); st != 400 {
		t.Errorf("replayed code = %d", st)
	}
	p.stop()
}
