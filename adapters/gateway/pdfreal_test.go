package gateway

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpdf"
)

// TestSignPDFPasswordAndRepaired: a user-password PDF is signed with the
// request's password (and refused without it, before the OTP is spent); a
// damaged unsigned PDF is signed after a repair the answer reports.
func TestSignPDFPasswordAndRepaired(t *testing.T) {
	qpdf := testenv.LookPath(t, "qpdf", "qpdf")
	g := newTestGW(t, nil)
	uid := g.newUser(g.key, "cust-pdf-password")
	oid, code := g.otp(g.key, uid, "issue")
	issued := g.must(201, "POST", "/v1/certificates/issue", g.key, map[string]any{"userId": uid, "otpId": oid, "otp": code, "keyAlgo": "ECDSA-P256"})
	dir := t.TempDir()
	in, enc := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "enc.pdf")
	os.WriteFile(in, testpdf.Minimal("password"), 0o600)
	if out, err := exec.Command(qpdf, "--encrypt", "doc-secret", "owner", "256", "--", in, enc).CombinedOutput(); err != nil {
		t.Fatalf("qpdf: %v\n%s", err, out)
	}
	encrypted, _ := os.ReadFile(enc)

	cid := issued["certificateId"].(string)
	soid, scode := g.signOTPDocs(g.key, uid, cid, encrypted)
	body := map[string]any{"pdfBase64": b64(encrypted), "certificateId": issued["certificateId"], "otpId": soid, "otp": scode}
	if st, ans := g.call("POST", "/v1/sign/pdf", g.key, body); st != 422 || !strings.Contains(ans["message"].(string), "password") {
		t.Fatalf("without password: %d %v", st, ans)
	}
	body["password"] = "wrong"
	if st, _ := g.call("POST", "/v1/sign/pdf", g.key, body); st != 422 {
		t.Fatalf("wrong password: %d", st)
	}
	// the same OTP still works: the refusals did not spend it
	body["password"] = "doc-secret"
	out := g.must(200, "POST", "/v1/sign/pdf", g.key, body)
	if out["repaired"] != false {
		t.Errorf("repaired = %v, want false", out["repaired"])
	}
	signed, _ := base64.StdEncoding.DecodeString(out["signedPdfBase64"].(string))
	if !bytes.HasPrefix(signed, encrypted) {
		t.Error("the signed PDF does not extend the encrypted input")
	}

	damaged := shiftFirstXrefEntry(testpdf.Minimal("damaged"))
	soid, scode = g.signOTPDocs(g.key, uid, cid, damaged)
	out = g.must(200, "POST", "/v1/sign/pdf", g.key, map[string]any{"pdfBase64": b64(damaged), "certificateId": issued["certificateId"], "otpId": soid, "otp": scode})
	if out["repaired"] != true {
		t.Errorf("damaged input: repaired = %v, want true", out["repaired"])
	}
}

// shiftFirstXrefEntry points the first in-use xref entry 3 bytes too far.
func shiftFirstXrefEntry(d []byte) []byte {
	i := bytes.Index(d, []byte(" 00000 n"))
	if i < 10 {
		return d
	}
	off := 0
	for _, c := range d[i-10 : i] {
		off = off*10 + int(c-'0')
	}
	out := append([]byte(nil), d...)
	copy(out[i-10:i], fmt.Sprintf("%010d", off+3))
	return out
}
