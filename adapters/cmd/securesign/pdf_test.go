package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pdf"
)

func runPDFCLI(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}
	code := run(context.Background(), e, append([]string{"pdf"}, args...))
	return code, out.String(), errb.String()
}

// minimalPDF is a one-page document with a classic xref table.
func minimalPDF() []byte {
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	var offs []int
	for i, o := range objs {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, x)
	return b.Bytes()
}

func TestPDFCLI(t *testing.T) {
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.RSA2048, testpki.Options{CommonName: "Rajesh Kumar"})
	dir := t.TempDir()
	p12, err := pkcs12.Modern.Encode(leaf.Key, leaf.Cert, leaf.Chain, "secret")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"in.pdf":    minimalPDF(),
		"user.p12":  p12,
		"root.pem":  testpki.PEM(h.Root.Cert),
		"cert.pem":  testpki.PEM(leaf.Cert),
		"chain.pem": testpki.PEM(leaf.Chain...),
	}
	for n, b := range files {
		os.WriteFile(filepath.Join(dir, n), b, 0o600)
	}
	p := func(n string) string { return filepath.Join(dir, n) }
	vars := map[string]string{"P12PASS": "secret"}

	// One-shot signing, visible, then our own verify.
	code, _, stderr := runPDFCLI(t, vars, "sign", "--in", p("in.pdf"), "--out", p("signed.pdf"),
		"--p12", p("user.p12"), "--p12-pass-env", "P12PASS", "--visible", "--page", "1", "--rect", "300,50,220,60",
		"--reason", "Loan agreement", "--location", "Bengaluru")
	if code != 0 {
		t.Fatalf("sign: exit %d: %s", code, stderr)
	}
	if code, out, stderr := runPDFCLI(t, nil, "verify", "--in", p("signed.pdf"), "--trust", p("root.pem"), "--json"); code != 0 {
		t.Fatalf("verify: exit %d: %s %s", code, out, stderr)
	}
	// The text report says which time is claimed and that none is proven.
	if code, out, stderr := runPDFCLI(t, nil, "verify", p("signed.pdf"), "--trust", p("root.pem")); code != 0 ||
		!strings.Contains(out, "    claimed signing time: 20") || !strings.Contains(out, "(written when the signature was prepared; not proof)") ||
		!strings.Contains(out, "    no signature timestamp: nothing proves when it was signed") {
		t.Errorf("verify text: exit %d:\n%s%s", code, out, stderr)
	}
	// Separate TSA and responder trust (a B-B file: they change nothing).
	if code, out, stderr := runPDFCLI(t, nil, "verify", "--in", p("signed.pdf"), "--trust", p("root.pem"), "--tsa-trust", p("root.pem"),
		"--ocsp-responder", p("chain.pem")+"="+p("cert.pem")); code != 0 {
		t.Fatalf("verify with --tsa-trust and --ocsp-responder: exit %d: %s %s", code, out, stderr)
	}
	if code, _, stderr := runPDFCLI(t, nil, "verify", "--in", p("signed.pdf"), "--trust", p("root.pem"), "--ocsp-responder", p("chain.pem")); code == 0 || !strings.Contains(stderr, "ISSUER.pem=RESPONDERS.pem") {
		t.Errorf("--ocsp-responder without '=': exit %d: %s", code, stderr)
	}
	// Untrusted: exit 1.
	if code, _, _ := runPDFCLI(t, nil, "verify", "--in", p("signed.pdf")); code != 1 {
		t.Errorf("verify without trust anchors: exit %d, want 1", code)
	}
	// --at: the report says which time; five years on, the certificate has
	// expired and nothing proves when it signed; a bad time is refused
	if code, out, stderr := runPDFCLI(t, nil, "verify", "--in", p("signed.pdf"), "--trust", p("root.pem"), "--at", "2031-06-01T00:00:00Z"); code != 1 ||
		!strings.Contains(out, "validation time: 2031-06-01T00:00:00Z") || !strings.Contains(out, "OUT_OF_BOUNDS_NO_POE") {
		t.Errorf("verify --at in five years: exit %d: %s %s", code, out, stderr)
	}
	if code, _, stderr := runPDFCLI(t, nil, "verify", "--in", p("signed.pdf"), "--at", "yesterday"); code == 0 || !strings.Contains(stderr, "RFC 3339") {
		t.Errorf("verify --at yesterday: exit %d: %s", code, stderr)
	}
	// a trust anchor with a negative serial: accepted, with a warning
	os.WriteFile(p("negroot.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: testpki.WithNegativeSerial(t, h.Root.Cert, h.Root.Key)}), 0o600)
	if code, out, stderr := runPDFCLI(t, nil, "verify", "--in", p("signed.pdf"), "--trust", p("negroot.pem")); code != 0 || !strings.Contains(stderr, "negative serial number") {
		t.Errorf("verify with a negative-serial trust anchor: exit %d: %s %s", code, out, stderr)
	}

	// Two-phase.
	code, out, stderr := runPDFCLI(t, nil, "prepare", "--in", p("in.pdf"), "--cert", p("cert.pem"), "--chain", p("chain.pem"), "--state", p("state"))
	if code != 0 {
		t.Fatalf("prepare: exit %d: %s", code, stderr)
	}
	digest, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
	if err != nil || len(digest) != 32 {
		t.Fatalf("prepare printed %q", out)
	}
	wrong, _ := leaf.Key.Sign(rand.Reader, make([]byte, 32), crypto.SHA256)
	if code, _, stderr := runPDFCLI(t, nil, "finish", "--state", p("state"), "--signature-base64", base64.StdEncoding.EncodeToString(wrong), "--out", p("two.pdf")); code == 0 || !strings.Contains(stderr, "does not match") {
		t.Errorf("finish with a wrong signature: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(p("two.pdf")); !os.IsNotExist(err) {
		t.Error("failed finish left an output")
	}
	sig, _ := leaf.Key.Sign(rand.Reader, digest, crypto.SHA256)
	if code, _, stderr := runPDFCLI(t, nil, "finish", "--state", p("state"), "--signature-base64", base64.StdEncoding.EncodeToString(sig), "--out", p("two.pdf")); code != 0 {
		t.Fatalf("finish: exit %d: %s", code, stderr)
	}
	if code, out, stderr := runPDFCLI(t, nil, "verify", "--in", p("two.pdf"), "--trust", p("root.pem")); code != 0 {
		t.Fatalf("verify two-phase: exit %d: %s %s", code, out, stderr)
	}
	rep, err := pdf.VerifyFile(context.Background(), p("two.pdf"), pdf.VerifyOptions{})
	if err != nil || len(rep.Signatures) != 1 {
		t.Fatalf("VerifyFile: %v", err)
	}

	// Usage errors and help.
	if code, _, _ := runPDFCLI(t, nil, "sign", "-h"); code != 0 {
		t.Errorf("sign -h: exit %d", code)
	}
	if code, _, _ := runPDFCLI(t, nil, "sign", "--in", p("in.pdf")); code != 2 {
		t.Errorf("sign without --out: exit %d, want 2", code)
	}
	if code, _, stderr := runPDFCLI(t, vars, "sign", "--in", p("in.pdf"), "--out", p("x.pdf"), "--p12", p("user.p12"), "--p12-pass-env", "P12PASS", "--level", "B-T"); code != 1 || !strings.Contains(stderr, "Timestamper") {
		t.Errorf("B-T without --tsa: exit %d: %s", code, stderr)
	}
}

// TestPDFCLIPasswordAndRepair: --password-env opens a user-password PDF
// (sign and verify); a damaged unsigned input is repaired and says so.
func TestPDFCLIPasswordAndRepair(t *testing.T) {
	qpdf := testenv.LookPath(t, "qpdf", "qpdf")
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.RSA2048, testpki.Options{CommonName: "Rajesh Kumar"})
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	p12, err := pkcs12.Modern.Encode(leaf.Key, leaf.Cert, leaf.Chain, "secret")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p("user.p12"), p12, 0o600)
	os.WriteFile(p("root.pem"), testpki.PEM(h.Root.Cert), 0o600)
	os.WriteFile(p("in.pdf"), minimalPDF(), 0o600)
	if out, err := exec.Command(qpdf, "--encrypt", "doc-secret", "owner", "256", "--", p("in.pdf"), p("enc.pdf")).CombinedOutput(); err != nil {
		t.Fatalf("qpdf: %v\n%s", err, out)
	}
	vars := map[string]string{"P12PASS": "secret", "PDFPW": "doc-secret"}
	sign := func(in, out string, extra ...string) (int, string, string) {
		return runPDFCLI(t, vars, append([]string{"sign", "--in", in, "--out", out, "--p12", p("user.p12"), "--p12-pass-env", "P12PASS"}, extra...)...)
	}
	if code, _, stderr := sign(p("enc.pdf"), p("x.pdf")); code != 1 || !strings.Contains(stderr, "password") {
		t.Errorf("user-password PDF without --password-env: exit %d: %s", code, stderr)
	}
	if code, _, stderr := sign(p("enc.pdf"), p("enc-signed.pdf"), "--password-env", "PDFPW"); code != 0 {
		t.Fatalf("sign with --password-env: exit %d: %s", code, stderr)
	}
	if code, out, stderr := runPDFCLI(t, vars, "verify", "--in", p("enc-signed.pdf"), "--trust", p("root.pem"), "--password-env", "PDFPW"); code != 0 {
		t.Fatalf("verify with --password-env: exit %d: %s %s", code, out, stderr)
	}
	if code, _, stderr := runPDFCLI(t, vars, "verify", "--in", p("enc-signed.pdf")); code != 1 || !strings.Contains(stderr, "password") {
		t.Errorf("verify without the password: exit %d: %s", code, stderr)
	}

	// a damaged (unsigned) input: the catalog's xref entry points into it
	damaged := bytes.Replace(minimalPDF(), []byte("0000000009 00000 n"), []byte("0000000012 00000 n"), 1)
	os.WriteFile(p("damaged.pdf"), damaged, 0o600)
	code, out, stderr := sign(p("damaged.pdf"), p("repaired.pdf"))
	if code != 0 || !strings.HasPrefix(out, "repaired: ") {
		t.Fatalf("sign damaged: exit %d: %q %s", code, out, stderr)
	}
	code, out, stderr = sign(p("damaged.pdf"), p("repaired2.pdf"), "--json")
	if code != 0 || !strings.Contains(out, `"repaired": true`) {
		t.Fatalf("sign damaged --json: exit %d: %q %s", code, out, stderr)
	}
	code, out, _ = sign(p("in.pdf"), p("plain.pdf"), "--json")
	if code != 0 || !strings.Contains(out, `"repaired": false`) {
		t.Fatalf("sign --json: exit %d: %q", code, out)
	}
}

// TestPrintTimes: a timestamp is shown as what proves the time; a document
// timestamp has no claimed time and needs no "no timestamp" line.
func TestPrintTimes(t *testing.T) {
	for _, c := range []struct {
		s    pdf.SignatureReport
		want string
	}{
		{pdf.SignatureReport{Kind: pdf.KindSignature, SigningTime: "2026-12-07T10:00:00Z", Timestamp: &pdf.TimestampSummary{Time: "2026-12-07T10:04:31Z", TSA: "CN=TSA"}},
			"    claimed signing time: 2026-12-07T10:00:00Z (written when the signature was prepared; not proof)\n    timestamp: 2026-12-07T10:04:31Z by CN=TSA (the signature existed then)\n"},
		{pdf.SignatureReport{Kind: pdf.KindSignature, SigningTime: "2026-12-07T10:00:00Z"},
			"    claimed signing time: 2026-12-07T10:00:00Z (written when the signature was prepared; not proof)\n    no signature timestamp: nothing proves when it was signed\n"},
		{pdf.SignatureReport{Kind: pdf.KindDocumentTimestamp, Timestamp: &pdf.TimestampSummary{Time: "2026-12-07T10:05:00Z", TSA: "CN=TSA"}},
			"    timestamp: 2026-12-07T10:05:00Z by CN=TSA (the document existed then)\n"},
	} {
		var b bytes.Buffer
		printTimes(&b, c.s)
		if b.String() != c.want {
			t.Errorf("got\n%swant\n%s", b.String(), c.want)
		}
	}
}
