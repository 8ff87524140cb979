package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/securesign/securesign/internal/testpdf"
)

// protocolSteps returns, for each "**Step N" of docs/protocol.md §4, the
// JSON blocks that follow it (request body first, then answers).
func protocolSteps(t *testing.T) map[string][]string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	start, end := strings.Index(s, "\n## 4. "), strings.Index(s, "\n## 5. ")
	if start < 0 || end < start {
		t.Fatal("docs/protocol.md has no section 4 before section 5")
	}
	s = s[start:end]
	steps := map[string][]string{}
	stepRe := regexp.MustCompile(`\*\*Step (\d+)`)
	blockRe := regexp.MustCompile("(?s)```json\n(.*?)\n```")
	locs := stepRe.FindAllStringSubmatchIndex(s, -1)
	for i, l := range locs {
		stop := len(s)
		if i+1 < len(locs) {
			stop = locs[i+1][0]
		}
		for _, b := range blockRe.FindAllStringSubmatch(s[l[1]:stop], -1) {
			steps[s[l[2]:l[3]]] = append(steps[s[l[2]:l[3]]], b[1])
		}
	}
	return steps
}

// docIDs are the example values of docs/protocol.md §4 that a real run
// replaces with its own.
var docIDs = struct {
	user, issueOTP, issueCode, cert, signOTP, signCode, docSHA256, pdf string
}{"usr_6bb41bd217ca5d7476e5ba5d", "otp_216449250ac1be87d59c1556", "440616", "crt_e3f1836d82a54feb613e72f4",
	"otp_5a0e8c1f3b7d29e4a6c81d07", "731605", "9f2c6d1a0b7e4c3d8a5f1e2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d", "JVBERi0xLjcKJeLjz9MK…"}

// fill replaces the page's example values in body with this run's (old,
// new pairs), failing when the page no longer has one of them there.
func fill(t *testing.T, step, body string, oldnew ...string) string {
	t.Helper()
	for i := 0; i < len(oldnew); i += 2 {
		if !strings.Contains(body, oldnew[i]) {
			t.Fatalf("step %s's body no longer has %q: update docIDs or the page", step, oldnew[i])
		}
	}
	return strings.NewReplacer(oldnew...).Replace(body)
}

// consentBound is whether this build binds sign codes to the operation
// (docs/protocol.md §3.5): steps 4 and 5 of §4 need it.
// TODO(merge): true once the consent work is in, then delete the switch.
const consentBound = true

// TestOnboardingAsDocumented: the real binary, over HTTP, given exactly
// the bodies docs/protocol.md §4 shows (only ids, codes and the PDF
// replaced by this run's), answers as the page says. The page cannot
// drift from the gateway without this test failing.
func TestOnboardingAsDocumented(t *testing.T) {
	steps := protocolSteps(t)
	for _, n := range []string{"1", "2", "3", "4", "5"} {
		if len(steps[n]) == 0 {
			t.Fatalf("docs/protocol.md §4 has no JSON body for step %s", n)
		}
	}
	data := t.TempDir()
	p := startGateway(t, data, "127.0.0.1:0")
	g := p.client(data, p.key)

	// Step 1: create the user; the answer has the members the page shows.
	body := steps["1"][0]
	user := g.must(201, "POST", "/v1/users", p.key, body)
	uid, _ := user["userId"].(string)
	if len(steps["1"]) < 2 {
		t.Fatal("step 1 shows no answer")
	}
	var docUser map[string]any
	if err := json.Unmarshal([]byte(steps["1"][1]), &docUser); err != nil {
		t.Fatalf("step 1's answer in the page: %v", err)
	}
	docUser["userId"], docUser["createdAt"] = uid, user["createdAt"]
	if diff := cmp.Diff(docUser, user); diff != "" {
		t.Errorf("step 1 answer (-page +gateway):\n%s", diff)
	}
	if e := g.wantErr(409, CodeConflict, "POST", "/v1/users", p.key, body); e["userId"] != uid {
		t.Errorf("the same body again = %v, want 409 with userId %s", e, uid)
	}
	var noPIN map[string]any
	json.Unmarshal([]byte(body), &noPIN) //nolint:errcheck
	delete(noPIN, "postalCode")
	noPIN["externalId"] = "cust-10294"
	if e := g.wantErr(422, CodeUnprocessable, "POST", "/v1/users", p.key, noPIN); e["message"] != "postalCode is required by the individual-signing profile" {
		t.Errorf("without postalCode: %v", e["message"])
	}

	// Step 2: a code for issuance.
	otp := g.must(201, "POST", "/v1/users/"+uid+"/otp", p.key, steps["2"][0])
	oid, _ := otp["otpId"].(string)
	code := otpCode(t, data, oid)

	// Step 3: issue with the key held by the gateway.
	body = fill(t, "3", steps["3"][0], docIDs.user, uid, docIDs.issueOTP, oid, `"`+docIDs.issueCode+`"`, `"`+code+`"`)
	cert := g.must(201, "POST", "/v1/certificates/issue", p.key, body)
	if cert["keyLocation"] != "server" || cert["userId"] != uid || !strings.Contains(cert["subject"].(string), "ST=Karnataka") {
		t.Errorf("step 3 answer = %v", cert)
	}
	for _, m := range []string{"certificateId", "serialNumber", "sha256", "certificatePem", "chainPem", "notBefore", "notAfter", "status"} {
		if cert[m] == nil || cert[m] == "" {
			t.Errorf("step 3 answer has no %s", m)
		}
	}
	// Steps 4 and 5 carry the page's values this run replaces.
	fill(t, "4", steps["4"][0], docIDs.cert, "", docIDs.docSHA256, "")
	fill(t, "5", steps["5"][0], docIDs.cert, "", docIDs.signOTP, "", `"`+docIDs.signCode+`"`, "", docIDs.pdf, "")
	if !consentBound {
		t.Log("steps 4 and 5 wait for sign codes bound to the operation (consentBound)")
		return
	}

	// Step 4: a code naming this PDF.
	cid := cert["certificateId"].(string)
	pdfBytes := testpdf.Minimal("Personal Loan Agreement")
	sum := sha256.Sum256(pdfBytes)
	body = fill(t, "4", steps["4"][0], docIDs.cert, cid, docIDs.docSHA256, hex.EncodeToString(sum[:]))
	otp = g.must(201, "POST", "/v1/users/"+uid+"/otp", p.key, body)
	oid = otp["otpId"].(string)
	code = otpCode(t, data, oid)

	// Step 5: sign it.
	body = fill(t, "5", steps["5"][0], docIDs.cert, cid, docIDs.signOTP, oid, `"`+docIDs.signCode+`"`, `"`+code+`"`, docIDs.pdf, b64(pdfBytes))
	signed := g.must(200, "POST", "/v1/sign/pdf", p.key, body)
	if len(steps["5"]) < 2 {
		t.Fatal("step 5 shows no answer")
	}
	var docSigned map[string]any
	if err := json.Unmarshal([]byte(steps["5"][1]), &docSigned); err != nil {
		t.Fatalf("step 5's answer in the page: %v", err)
	}
	if diff := cmp.Diff(slices.Sorted(maps.Keys(docSigned)), slices.Sorted(maps.Keys(signed))); diff != "" {
		t.Errorf("step 5 answer members (-page +gateway):\n%s", diff)
	}
}
