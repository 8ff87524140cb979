// Command remote is an example client of the gateway's remote-signing API:
// the user's key is generated and kept by the gateway, and every use needs
// a one-time code the user receives.
//
// Against a development gateway (go run ./adapters/cmd/securesign gateway --dev):
//
//	SECURESIGN_API_KEY=ss_test_… go run ./examples/remote
//
// Another gateway: -gateway URL or SECURESIGN_GATEWAY. It writes one file,
// the signed PDF, to -out (default: the OS temporary directory) and prints
// its path at the end.
//
// It onboards a user, issues a certificate with a server-held key (OTP
// "issue"), signs a PDF with it (OTP "sign"), checks the result with the
// validation endpoint, and signs a bare hash through the CSC API v2
// (credentials/authorize → SAD → signatures/signHash). In dev mode the
// codes are read from the gateway's OTP outbox file; otherwise the program
// asks for them on the terminal, as a portal would ask its user.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "remote:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("remote", flag.ContinueOnError)
	gw := fs.String("gateway", envOr("SECURESIGN_GATEWAY", "http://127.0.0.1:8080"), "gateway base URL (env SECURESIGN_GATEWAY)")
	outbox := fs.String("outbox", filepath.Join(envOr("SECURESIGN_DATA", "securesign-data"), "dev-otp-outbox.jsonl"),
		"dev gateway's OTP outbox (default in $SECURESIGN_DATA, as the gateway's --data); \"\" asks for codes on the terminal")
	in := fs.String("in", "", "PDF to sign (e.g. testdata/agreement.pdf); empty signs a generated one-page PDF")
	outPath := fs.String("out", filepath.Join(os.TempDir(), "securesign-remote-signed.pdf"), "where to write the signed PDF")
	ext := fs.String("user", fmt.Sprintf("remote-demo-%d", time.Now().Unix()), "the user's externalId in your system")
	if err := fs.Parse(args); err != nil {
		return err
	}
	key := os.Getenv("SECURESIGN_API_KEY")
	if key == "" {
		return errors.New("set SECURESIGN_API_KEY to the key the gateway printed (api key: ss_test_…)")
	}
	c := &Client{BaseURL: strings.TrimRight(*gw, "/"), APIKey: key, HTTP: &http.Client{Timeout: 2 * time.Minute}}
	codes := codeSource(*outbox)

	// 1. Onboard the user. The default certificate profile needs state and
	//    postal code, as CCA guidelines do for individuals.
	var user struct{ UserID string }
	if err := c.Do(ctx, "POST", "/v1/users", map[string]any{"externalId": *ext, "name": "Rajesh Kumar",
		"email": "rajesh@example.in", "state": "Karnataka", "postalCode": "560001"}, &user); err != nil {
		return err
	}
	fmt.Fprintf(out, "user          %s\n", user.UserID)

	// 2. Issue a certificate; the gateway generates and keeps the key.
	otpID, code, err := c.OTP(ctx, user.UserID, map[string]any{"purpose": "issue"}, codes)
	if err != nil {
		return err
	}
	var cert struct {
		CertificateID, SerialNumber, KeyLocation, NotAfter string
	}
	if err := c.Do(ctx, "POST", "/v1/certificates/issue", map[string]any{"userId": user.UserID, "otpId": otpID, "otp": code, "keyAlgo": "ECDSA-P256"}, &cert); err != nil {
		return err
	}
	fmt.Fprintf(out, "certificate   %s serial %s, key on the %s, valid to %s\n", cert.CertificateID, cert.SerialNumber, cert.KeyLocation, cert.NotAfter)

	// 3. Sign a PDF with it, after a fresh OTP for "sign" that names the
	//    certificate and the document (its SHA-256 as it will be
	//    uploaded): the user's message says what they approve, and the
	//    code signs that document only.
	doc := samplePDF()
	if *in != "" {
		if doc, err = os.ReadFile(*in); err != nil {
			return err
		}
	}
	docSum := sha256.Sum256(doc)
	otpID, code, err = c.OTP(ctx, user.UserID, map[string]any{"purpose": "sign", "certificateId": cert.CertificateID,
		"documents": []map[string]string{{"sha256": hex.EncodeToString(docSum[:]), "name": "Loan agreement"}}}, codes)
	if err != nil {
		return err
	}
	var signed struct{ SignedPdfBase64, SignatureField string }
	if err := c.Do(ctx, "POST", "/v1/sign/pdf", map[string]any{"pdfBase64": base64.StdEncoding.EncodeToString(doc), "certificateId": cert.CertificateID,
		"otpId": otpID, "otp": code, "reason": "Loan agreement", "location": "Bengaluru", "level": "B-T"}, &signed); err != nil {
		return err
	}
	pdf, err := base64.StdEncoding.DecodeString(signed.SignedPdfBase64)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*outPath, pdf, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "signed PDF    %s (%d bytes, field %s)\n", *outPath, len(pdf), signed.SignatureField)

	// 4. Validate it with the gateway (the same report as `securesign pdf verify`).
	var report struct {
		Valid      bool
		Signatures []struct{ Indication, Level, Chain string }
	}
	if err := c.Do(ctx, "POST", "/v1/verify/pdf", map[string]any{"pdfBase64": signed.SignedPdfBase64}, &report); err != nil {
		return err
	}
	for _, s := range report.Signatures {
		fmt.Fprintf(out, "validation    valid=%v %s level %s chain %s\n", report.Valid, s.Indication, s.Level, s.Chain)
	}

	// 5. CSC API v2: authorize one hash with an OTP, get a SAD, sign it.
	digest := sha256.Sum256([]byte("invoice 2026-0042"))
	h := base64.StdEncoding.EncodeToString(digest[:])
	otpID, code, err = c.OTP(ctx, user.UserID, map[string]any{"purpose": "sign", "certificateId": cert.CertificateID,
		"hashes": []string{h}, "hashAlgo": "SHA256"}, codes)
	if err != nil {
		return err
	}
	var auth struct {
		SAD       string
		ExpiresIn int
	}
	if err := c.Do(ctx, "POST", "/csc/v2/credentials/authorize", map[string]any{"credentialID": cert.CertificateID, "numSignatures": 1,
		"hashes": []string{h}, "authData": []map[string]string{{"id": "otpId", "value": otpID}, {"id": "otp", "value": code}}}, &auth); err != nil {
		return err
	}
	var sigs struct{ Signatures []string }
	if err := c.Do(ctx, "POST", "/csc/v2/signatures/signHash", map[string]any{"credentialID": cert.CertificateID, "SAD": auth.SAD,
		"hashes": []string{h}, "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "signAlgo": "1.2.840.10045.4.3.2"}, &sigs); err != nil {
		return err
	}
	fmt.Fprintf(out, "CSC signHash  %d signature(s), SAD valid %d s and now spent\n", len(sigs.Signatures), auth.ExpiresIn)
	fmt.Fprintf(out, "\nThe signed PDF is %s\n", *outPath)
	return nil
}

// Client calls the gateway with an API key.
type Client struct {
	BaseURL string
	APIKey  string
	HTTP    *http.Client
}

// APIError is the gateway's error answer.
type APIError struct {
	Status  int
	Code    string `json:"error"`
	Message string `json:"message"`
	Desc    string `json:"error_description"` // CSC's format
}

func (e *APIError) Error() string {
	return fmt.Sprintf("gateway answered %d %s: %s%s", e.Status, e.Code, e.Message, e.Desc)
}

// Do sends body as JSON and decodes the answer into out.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.APIKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 200<<20))
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		e := &APIError{Status: res.StatusCode}
		json.Unmarshal(raw, e) //nolint:errcheck
		return fmt.Errorf("%s %s: %w", method, path, e)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// OTP asks the gateway to send the user a code (req: purpose and, for
// "sign", what the code approves) and returns the code's id and the code,
// as the user reports it.
func (c *Client) OTP(ctx context.Context, userID string, req map[string]any, codes func(otpID string) (string, error)) (string, string, error) {
	var o struct{ OtpID string }
	if err := c.Do(ctx, "POST", "/v1/users/"+userID+"/otp", req, &o); err != nil {
		return "", "", err
	}
	code, err := codes(o.OtpID)
	return o.OtpID, code, err
}

// codeSource returns how codes reach us: the dev outbox file, or the terminal.
func codeSource(outbox string) func(string) (string, error) {
	if outbox == "" {
		return func(otpID string) (string, error) {
			fmt.Fprintf(os.Stderr, "one-time code %s: ", otpID)
			line, err := bufio.NewReader(os.Stdin).ReadString('\n')
			return strings.TrimSpace(line), err
		}
	}
	return func(otpID string) (string, error) {
		for i := 0; i < 50; i++ {
			f, err := os.Open(outbox)
			if err != nil {
				return "", fmt.Errorf("reading the dev OTP outbox (run from the directory where the gateway runs, or set SECURESIGN_DATA to its --data, or -outbox): %w", err)
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				var m struct{ OtpID, Code string }
				if json.Unmarshal(sc.Bytes(), &m) == nil && m.OtpID == otpID {
					f.Close()
					return m.Code, nil
				}
			}
			f.Close()
			time.Sleep(100 * time.Millisecond)
		}
		return "", fmt.Errorf("OTP %s not found in %s", otpID, outbox)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// samplePDF is a one-page PDF with a correct cross-reference table.
func samplePDF() []byte {
	content := "BT /F1 18 Tf 72 760 Td (Loan agreement, signed remotely with SecureSign) Tj ET"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}
