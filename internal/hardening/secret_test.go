//go:build linux && cgo

package hardening

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/securesign/securesign/internal/loadgen/lg"
	"github.com/securesign/securesign/internal/softhsmtest"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

// secret is one value that must never be stored or logged, with every
// encoding it could take.
type secret struct {
	name     string
	forms    [][]byte
	bordered bool // short digit strings: a match must not touch other digits
}

func textSecret(name, v string) secret {
	return secret{name: name, forms: [][]byte{[]byte(v)}}
}

func digitSecret(name, v string) secret {
	return secret{name: name, forms: [][]byte{[]byte(v)}, bordered: true}
}

// keySecrets are the forms a private key could leak in: PKCS#8 and
// PKCS#1 DER, their base64 (the first PEM line also matches base64 in
// JSON), and the raw private exponent and primes.
func keySecrets(t *testing.T, name string, k *rsa.PrivateKey) []secret {
	t.Helper()
	p8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	p1 := x509.MarshalPKCS1PrivateKey(k)
	var out []secret
	for _, f := range []struct {
		form string
		der  []byte
		typ  string
	}{{"PKCS#8", p8, "PRIVATE KEY"}, {"PKCS#1", p1, "RSA PRIVATE KEY"}} {
		// The first lines of a key's PEM hold the public modulus, which
		// the certificate carries too: search only lines of the second
		// half (private exponent, primes, CRT values), plus whole forms.
		pemText := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		lines := strings.Split(strings.TrimSpace(string(pemText)), "\n")
		body := lines[1 : len(lines)-1]
		half := f.der[len(f.der)/2:]
		out = append(out, secret{name: name + " " + f.form, forms: [][]byte{
			f.der, pemText, []byte(body[len(body)/2]), []byte(body[len(body)-2]),
			[]byte(base64.StdEncoding.EncodeToString(half)[:64]),
			[]byte(base64.RawURLEncoding.EncodeToString(half)[:64]),
			[]byte(hex.EncodeToString(half)[:128]),
		}})
	}
	for _, n := range []struct {
		part string
		v    *big.Int
	}{{"D", k.D}, {"P", k.Primes[0]}, {"Q", k.Primes[1]}} {
		raw := n.v.Bytes()
		out = append(out, secret{name: name + " raw " + n.part, forms: [][]byte{
			raw, []byte(hex.EncodeToString(raw)), []byte(strings.ToUpper(hex.EncodeToString(raw))),
			[]byte(base64.StdEncoding.EncodeToString(raw)[:40]), []byte(base64.RawURLEncoding.EncodeToString(raw)[:40]),
			[]byte(n.v.String()[:60]),
		}})
	}
	return out
}

// finding is a secret found where it must not be.
type finding struct{ secret, where, context string }

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// scan looks for every form of every secret in hay.
func scan(where string, hay []byte, secrets []secret) []finding {
	var out []finding
	for _, s := range secrets {
		for _, f := range s.forms {
			for off := 0; ; {
				i := bytes.Index(hay[off:], f)
				if i < 0 {
					break
				}
				i += off
				off = i + 1
				if s.bordered && ((i > 0 && isDigit(hay[i-1])) || (i+len(f) < len(hay) && isDigit(hay[i+len(f)]))) {
					continue
				}
				lo, hi := max(0, i-24), min(len(hay), i+len(f)+24)
				ctx := fmt.Sprintf("%q[SECRET]%q", hay[lo:i], hay[i+len(f):hi])
				out = append(out, finding{s.name, fmt.Sprintf("%s @%d", where, i), ctx})
				break
			}
		}
	}
	return out
}

// dataFiles reads every regular file under dir.
func dataFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a temp file went away while walking
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// setPIN changes the token's user PIN to one long enough to search for
// ("1234" would match anywhere).
func setPIN(t *testing.T, tok *softhsmtest.Token, newPIN string) {
	t.Helper()
	p := pkcs11.New(tok.Module)
	if p == nil {
		t.Fatalf("load %s", tok.Module)
	}
	defer p.Destroy()
	if err := p.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer p.Finalize() //nolint:errcheck
	slots, err := p.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, sl := range slots {
		ti, err := p.GetTokenInfo(sl)
		if err != nil || strings.TrimSpace(ti.Label) != tok.Label {
			continue
		}
		sh, err := p.OpenSession(sl, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		defer p.CloseSession(sh) //nolint:errcheck
		if err := p.Login(sh, pkcs11.CKU_USER, tok.PIN); err != nil {
			t.Fatal(err)
		}
		if err := p.SetPIN(sh, tok.PIN, newPIN); err != nil {
			t.Fatal(err)
		}
		p.Logout(sh) //nolint:errcheck
		tok.PIN = newPIN
		return
	}
	t.Fatalf("token %s not found", tok.Label)
}

func randomDigits(n int) string {
	var b strings.Builder
	for b.Len() < n {
		v, _ := rand.Int(rand.Reader, big.NewInt(10))
		b.WriteString(v.String())
	}
	return b.String()
}

// TestSecretScan runs every flow that handles a secret end to end against
// the real binary at debug log level: an access token, users with OTPs,
// certificate issuance from a CSR and with server key generation, a wrong
// OTP, remote PDF signing, CSC authorize/signHash (a SAD), a token PDF
// session and hash sessions answered from a SoftHSM token, one with a
// wrong PIN. Then it searches the gateway's stderr logs and stdout, the
// whole audit log and every file of the data directory (SQLite database,
// WAL, spooled and signed files), while running and after shutdown, for
// the API key, access token, SAD, OTP codes, PINs and the private keys
// used: none may appear; the API key may appear only as its SHA-256.
func TestSecretScan(t *testing.T) {
	ctx := context.Background()
	tok := softhsmtest.New(t) // skips (fails in CI) without SoftHSM
	pin := "Pn" + randomDigits(10)
	wrongPIN := "Wp" + randomDigits(10)
	setPIN(t, tok, pin)

	data := t.TempDir()
	g := startGateway(t, data, "127.0.0.1:0", nil, "--log-level", "debug")
	key := g.APIKey
	c := newClient(t, g, key, 4)
	ob := lg.NewOutbox(data)
	must := func(res *lg.Response, err error) *lg.Response {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	// An access token, used once.
	token := must(c.Must(ctx, 200, "POST", "/v1/auth/token", nil)).Str("access_token")
	tc := newClient(t, g, token, 1)
	must(tc.Must(ctx, 200, "GET", "/v1/certificates", nil))

	// A certificate from a CSR (the app's key), one with a server-held key.
	k1 := testpki.Key(t, testpki.RSA2048, 42).(*rsa.PrivateKey)
	id1, err := lg.IssueCSR(ctx, c, ob, "secret-csr", k1)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := lg.IssueServerKey(ctx, c, ob, "secret-server", "RSA-2048")
	if err != nil {
		t.Fatal(err)
	}

	// Remote PDF signing: a wrong OTP first, then the right one.
	pdfBytes := testpdf.Minimal("secret scan")
	oid, code, err := lg.SignOTP(ctx, c, ob, cred.UserID, cred.CertificateID, [][]byte{pdfBytes}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wrongOTP := randomDigits(6)
	for wrongOTP == code {
		wrongOTP = randomDigits(6)
	}
	doc := base64.StdEncoding.EncodeToString(pdfBytes)
	res := must(c.Do(ctx, "POST", "/v1/sign/pdf", map[string]any{"pdfBase64": doc, "certificateId": cred.CertificateID, "otpId": oid, "otp": wrongOTP}, true))
	if res.Status/100 != 4 {
		t.Fatalf("wrong OTP: %d %s", res.Status, res.Body)
	}
	must(c.Must(ctx, 200, "POST", "/v1/sign/pdf", map[string]any{"pdfBase64": doc, "certificateId": cred.CertificateID, "otpId": oid, "otp": code}))

	// CSC: authorize with an OTP, sign with the SAD.
	h := sha256.Sum256([]byte("csc"))
	hashes := []string{base64.StdEncoding.EncodeToString(h[:])}
	oid, code, err = lg.SignOTP(ctx, c, ob, cred.UserID, cred.CertificateID, nil, hashes)
	if err != nil {
		t.Fatal(err)
	}
	sad := must(c.Must(ctx, 200, "POST", "/csc/v2/credentials/authorize", map[string]any{"credentialID": cred.CertificateID, "numSignatures": 1,
		"hashes": hashes, "authData": []map[string]string{{"id": "otpId", "value": oid}, {"id": "otp", "value": code}}})).Str("SAD")
	must(c.Must(ctx, 200, "POST", "/csc/v2/signatures/signHash", map[string]any{"credentialID": cred.CertificateID, "SAD": sad,
		"hashes": hashes, "signAlgo": "1.2.840.113549.1.1.11"}))

	// A token PDF session answered by the app holding k1 in software.
	app1, err := lg.NewApp(ctx, id1, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := must(c.Must(ctx, 201, "POST", "/v1/sign/pdf", map[string]any{"pdfBase64": doc, "certSerial": id1.SerialHex, "reason": "secret scan"}))
	enc, rid, err := app1.Answer(ctx, out.Str("deepLink"))
	if err != nil {
		t.Fatal(err)
	}
	if r := must(c.PostResult(ctx, enc)); r.Status != 200 || r.Str("status") != "signed" {
		t.Fatalf("PDF session result: %d %s", r.Status, r.Body)
	}
	if st := must(c.Must(ctx, 200, "GET", "/v1/sessions/"+rid, nil)); st.Str("signedPdfBase64") == "" {
		t.Fatalf("no signed PDF: %s", st.Body)
	}

	// Hash sessions answered from a SoftHSM token: a wrong PIN, then the
	// right one, delivered by GET as a mobile app does.
	k2 := testpki.Key(t, testpki.RSA2048, 43).(*rsa.PrivateKey)
	id2, err := lg.IssueCSR(ctx, c, ob, "secret-token", k2)
	if err != nil {
		t.Fatal(err)
	}
	tok.Import(t, "signer", k2, id2.Signer.Certificate())
	mod, err := signer.OpenModule(ctx, tok.Module)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	sel := signer.TokenSelector{Label: tok.Label}
	ksel := signer.KeySelector{CertSerial: id2.Signer.Certificate().SerialNumber}
	link := must(lg.CreateHashSession(ctx, c, h[:])).Str("deepLink")
	_, pinErr := mod.Signer(ctx, sel, ksel, []byte(wrongPIN))
	if !errors.Is(pinErr, signer.ErrPINIncorrect) {
		t.Fatalf("wrong PIN: %v, want ErrPINIncorrect", pinErr)
	}
	fenc, frid, err := lg.Failure(link, pinErr)
	if err != nil {
		t.Fatal(err)
	}
	if r := must(c.PostResult(ctx, fenc)); r.Status != 200 || r.Str("status") != "failed" {
		t.Fatalf("wrong-PIN result: %d %s", r.Status, r.Body)
	}
	if st := must(c.Must(ctx, 200, "GET", "/v1/sessions/"+frid, nil)); st.Str("error") != "SS_PIN_INVALID" {
		t.Errorf("wrong-PIN session: %s", st.Body)
	}
	ts, err := mod.Signer(ctx, sel, ksel, []byte(pin))
	if err != nil {
		t.Fatal(err)
	}
	if closer, ok := ts.(io.Closer); ok {
		defer closer.Close() // logs out and lets the module go (go test -count=N loads it again)
	}
	app2, err := lg.NewApp(ctx, &lg.Identity{Signer: ts}, 0)
	if err != nil {
		t.Fatal(err)
	}
	link = must(lg.CreateHashSession(ctx, c, h[:])).Str("deepLink")
	enc, rid, err = app2.Answer(ctx, link)
	if err != nil {
		t.Fatal(err)
	}
	if r := must(c.Do(ctx, "GET", "/v1/callback?ss_result="+strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(enc), nil, false)); r.Status != 200 {
		t.Fatalf("GET callback: %d %s", r.Status, r.Body)
	}
	if st := must(c.Must(ctx, 200, "GET", "/v1/sessions/"+rid, nil)); st.Str("status") != "signed" {
		t.Fatalf("token session: %s", st.Body)
	}

	// What to look for.
	codes, err := ob.Codes()
	if err != nil {
		t.Fatal(err)
	}
	secrets := []secret{textSecret("API key", key), textSecret("access token", token), textSecret("SAD", sad),
		textSecret("SAD secret part", strings.TrimPrefix(sad, "sad_")), digitSecret("wrong OTP", wrongOTP),
		textSecret("PIN", pin), textSecret("wrong PIN", wrongPIN), digitSecret("SO PIN", tok.SOPIN)}
	var otpSecrets []secret
	for i, code := range codes {
		otpSecrets = append(otpSecrets, digitSecret(fmt.Sprintf("OTP #%d", i+1), code))
	}
	secrets = append(secrets, otpSecrets...)
	// Keys the gateway generated itself (CA, server-held, link keys) are
	// unknown here: look for the structure of any unencrypted private key.
	secrets = append(secrets, secret{name: "some unencrypted private key", forms: [][]byte{
		[]byte("PRIVATE KEY-----"),
		{0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00, 0x04, 0x82}, // PKCS#8 RSA
		{0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06},                               // PKCS#8 EC
		{0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20},                                     // PKCS#8 Ed25519
		{0x02, 0x01, 0x00, 0x02, 0x82, 0x01, 0x01, 0x00},                                                                         // PKCS#1 RSA-2048
		{0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20},                                                                               // SEC1 P-256
	}})
	secrets = append(secrets, keySecrets(t, "app key (CSR)", k1)...)
	secrets = append(secrets, keySecrets(t, "token key (SoftHSM)", k2)...)
	noKey := secrets[1:] // stdout shows the API key once, by design
	otpOnly := secrets[:0:0]
	for _, s := range secrets {
		if !strings.HasPrefix(s.name, "OTP #") {
			otpOnly = append(otpOnly, s)
		}
	}

	var findings []finding
	var scanned int64
	scanAll := func(phase string) {
		files := dataFiles(t, data)
		for name, b := range files {
			scanned += int64(len(b))
			list := secrets
			if name == "dev-otp-outbox.jsonl" {
				list = otpOnly // the dev OTP sender's outbox holds the codes by design
			}
			findings = append(findings, scan(phase+" data/"+name, b, list)...)
		}
		t.Logf("%s: scanned %d files in the data directory", phase, len(files))
	}
	scanAll("running")
	_, auditRaw := auditAll(ctx, t, c)
	findings = append(findings, scan("audit log (API)", auditRaw, secrets)...)
	if err := g.Stop(); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	scanAll("stopped")
	logs, stdout := g.Stderr(), g.Stdout()
	findings = append(findings, scan("gateway stderr (JSON logs)", []byte(logs), secrets)...)
	findings = append(findings, scan("gateway stdout", []byte(stdout), noKey)...)
	if n := strings.Count(stdout, key); n != 1 {
		t.Errorf("stdout shows the API key %d times, want once (the dev tenant's first start)", n)
	}
	forms := 0
	for _, s := range secrets {
		forms += len(s.forms)
	}
	for _, f := range findings {
		t.Errorf("FOUND %s in %s: %s", f.secret, f.where, f.context)
	}

	// Positive controls: the scanner finds what is meant to be there.
	sum := sha256.Sum256([]byte(key))
	files := dataFiles(t, data)
	db := bytes.Join([][]byte{files["gateway.db"], files["gateway.db-wal"]}, nil)
	if !bytes.Contains(db, sum[:]) {
		t.Errorf("SHA-256 of the API key not found in the database: how is the key stored?")
	}
	if f := scan("outbox", files["dev-otp-outbox.jsonl"], otpSecrets); len(codes) == 0 || len(f) < len(codes) {
		t.Errorf("control: the scanner found %d of %d OTP codes in the outbox", len(f), len(codes))
	}
	if !bytes.Contains(db, id1.Signer.Certificate().Raw) {
		t.Errorf("control: the issued certificate's DER is not in the database")
	}
	if len(findings) == 0 {
		t.Logf("secret scan: ZERO findings. %d secrets (%d encodings: API key, access token, SAD, %d OTP codes + 1 wrong OTP, PIN, wrong PIN, SO PIN, 2 RSA-2048 private keys as PKCS#8/PKCS#1 DER, PEM, base64, hex, raw D/P/Q, and the DER/PEM structure of any unencrypted RSA/EC/Ed25519 key) searched in %d bytes of data-directory files (running and stopped), %d bytes of audit log, %d bytes of stderr logs (debug level) and stdout; API key present only as its SHA-256 (found in the database)",
			len(secrets), forms, len(codes), scanned, len(auditRaw), len(logs))
	}
}

// TestScanControls checks the scanner itself: each generic key pattern
// finds a real key of its kind, and bordered digit secrets skip longer
// numbers.
func TestScanControls(t *testing.T) {
	rsaKey := testpki.Key(t, testpki.RSA2048, 42).(*rsa.PrivateKey)
	ecKey := testpki.Key(t, testpki.P256, 42).(*ecdsa.PrivateKey)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	generic := secret{name: "generic", forms: [][]byte{
		{0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00, 0x04, 0x82},
		{0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06},
		{0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20},
		{0x02, 0x01, 0x00, 0x02, 0x82, 0x01, 0x01, 0x00},
		{0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20},
	}}
	p8 := func(k any) []byte {
		b, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, der := range map[string][]byte{"PKCS#8 RSA": p8(rsaKey), "PKCS#8 EC": p8(ecKey), "PKCS#8 Ed25519": p8(edKey),
		"PKCS#1 RSA": x509.MarshalPKCS1PrivateKey(rsaKey), "SEC1 EC": sec1} {
		hay := append([]byte("prefix"), der...)
		if len(scan("control", hay, []secret{generic})) == 0 {
			t.Errorf("%s: not found by the generic patterns", name)
		}
	}
	for _, s := range keySecrets(t, "k", rsaKey) {
		p1, p8 := x509.MarshalPKCS1PrivateKey(rsaKey), p8(rsaKey)
		pemText := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})
		if len(scan("control", bytes.Join([][]byte{p1, p8, pemText}, []byte("|")), []secret{s})) == 0 {
			t.Errorf("%s: not found in the key's own encodings", s.name)
		}
	}
	d := digitSecret("otp", "123456")
	for hay, want := range map[string]int{`"otp":"123456"`: 1, "t=0.1234567": 0, "x1234567": 0, "123456": 1} {
		if got := len(scan("control", []byte(hay), []secret{d})); got != want {
			t.Errorf("bordered scan of %q: %d findings, want %d", hay, got, want)
		}
	}
}
