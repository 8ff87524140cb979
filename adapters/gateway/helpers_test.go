package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/deeplink/sigpkg"
	"github.com/securesign/securesign/signer"
)

// testClock is real time plus an offset tests can advance.
type testClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// testGW is a gateway in dev mode behind httptest, with the dev tenant's key.
type testGW struct {
	t     testing.TB
	srv   *Server
	ts    *httptest.Server
	url   string
	key   string
	dir   string
	clock *testClock
	logs  *bytes.Buffer
}

func newTestGW(t testing.TB, st Store, mods ...func(*Config)) *testGW {
	t.Helper()
	if st == nil {
		st = newSQLiteStore(t)
	}
	ts := httptest.NewUnstartedServer(nil)
	g := &testGW{t: t, ts: ts, url: "http://" + ts.Listener.Addr().String(), dir: t.TempDir(), clock: &testClock{}, logs: &bytes.Buffer{}}
	cfg := Config{Dev: true, DataDir: g.dir, PublicURL: g.url, Now: g.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(&lockedWriter{w: g.logs}, nil))}
	for _, m := range mods {
		m(&cfg)
	}
	srv, err := NewWithStore(context.Background(), cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	g.srv = srv
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	key, err := EnsureDevTenant(context.Background(), st, time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	g.key = key
	return g
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// call sends a request; body may be nil, a string (sent as is) or a value
// (sent as JSON). It returns the status and the decoded JSON answer.
func (g *testGW) call(method, path, key string, body any, hdr ...string) (int, map[string]any) {
	g.t.Helper()
	res, raw := g.raw(method, path, key, body, hdr...)
	out := map[string]any{}
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			g.t.Fatalf("%s %s: answer is not JSON: %v: %s", method, path, err, raw)
		}
	}
	return res.StatusCode, out
}

func (g *testGW) raw(method, path, key string, body any, hdr ...string) (*http.Response, []byte) {
	g.t.Helper()
	var r io.Reader
	var sent []byte // for checkOpenAPI
	switch b := body.(type) {
	case nil:
	case string:
		r, sent = strings.NewReader(b), []byte(b)
	case []byte:
		r, sent = bytes.NewReader(b), b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			g.t.Fatal(err)
		}
		r, sent = bytes.NewReader(j), j
	}
	req, err := http.NewRequest(method, g.url+path, r)
	if err != nil {
		g.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		g.t.Fatal(err)
	}
	checkOpenAPI(g.t, req, sent, res, raw)
	return res, raw
}

// must checks the status and returns the answer.
func (g *testGW) must(want int, method, path, key string, body any, hdr ...string) map[string]any {
	g.t.Helper()
	st, out := g.call(method, path, key, body, hdr...)
	if st != want {
		g.t.Fatalf("%s %s = %d %v, want %d", method, path, st, out, want)
	}
	return out
}

// wantErr checks an error answer's status and code.
func (g *testGW) wantErr(status int, code, method, path, key string, body any, hdr ...string) map[string]any {
	g.t.Helper()
	st, out := g.call(method, path, key, body, hdr...)
	if st != status || out["error"] != code || out["success"] != false {
		g.t.Fatalf("%s %s = %d %v, want %d %s", method, path, st, out, status, code)
	}
	if m, _ := out["message"].(string); m == "" {
		g.t.Errorf("%s %s: error without message", method, path)
	}
	return out
}

// otpCode reads a code from the dev outbox.
func otpCode(t testing.TB, dir, otpID string) string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "dev-otp-outbox.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]string
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("outbox line %q: %v", sc.Text(), err)
		}
		if m["otpId"] == otpID {
			return m["code"]
		}
	}
	t.Fatalf("OTP %s not in the outbox", otpID)
	return ""
}

func (g *testGW) newUser(key, ext string) string {
	g.t.Helper()
	out := g.must(201, "POST", "/v1/users", key, map[string]any{"externalId": ext, "name": "Rajesh Kumar", "email": "rajesh@example.in",
		"state": "Karnataka", "postalCode": "560001"})
	return out["userId"].(string)
}

// otp asks for an OTP and returns its id and code.
func (g *testGW) otp(key, userID, purpose string) (string, string) {
	g.t.Helper()
	out := g.must(201, "POST", "/v1/users/"+userID+"/otp", key, map[string]any{"purpose": purpose})
	id := out["otpId"].(string)
	return id, otpCode(g.t, g.dir, id)
}

// serverKeyFor issues uid a certificate with a server-held key and
// returns its certificateId.
func (g *testGW) serverKeyFor(uid string) string {
	g.t.Helper()
	oid, code := g.otp(g.key, uid, "issue")
	out := g.must(201, "POST", "/v1/certificates/issue", g.key, map[string]any{"userId": uid, "otpId": oid, "otp": code, "keyAlgo": "ECDSA-P256"})
	return out["certificateId"].(string)
}

// signOTPDocs asks for a sign code that approves signing these PDFs (as
// they will be uploaded) with certificate cid.
func (g *testGW) signOTPDocs(key, uid, cid string, pdfs ...[]byte) (string, string) {
	g.t.Helper()
	var docs []map[string]string
	for i, p := range pdfs {
		sum := sha256.Sum256(p)
		docs = append(docs, map[string]string{"sha256": hex.EncodeToString(sum[:]), "name": fmt.Sprintf("Document %d.pdf", i+1)})
	}
	out := g.must(201, "POST", "/v1/users/"+uid+"/otp", key, map[string]any{"purpose": "sign", "certificateId": cid, "documents": docs})
	id := out["otpId"].(string)
	return id, otpCode(g.t, g.dir, id)
}

// signOTPHashes asks for a sign code that approves signing these SHA-256
// digests with certificate cid.
func (g *testGW) signOTPHashes(key, uid, cid string, hashes ...[]byte) (string, string) {
	g.t.Helper()
	var list []string
	for _, h := range hashes {
		list = append(list, b64(h))
	}
	out := g.must(201, "POST", "/v1/users/"+uid+"/otp", key, map[string]any{"purpose": "sign", "certificateId": cid, "hashes": list, "hashAlgo": "SHA256"})
	id := out["otpId"].(string)
	return id, otpCode(g.t, g.dir, id)
}

func csrPEM(t testing.TB, key crypto.Signer) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// issueCSR onboards a user and issues a certificate for key; it returns
// the answer of /v1/certificates/issue.
func (g *testGW) issueCSR(key string, ext string, k crypto.Signer) map[string]any {
	g.t.Helper()
	uid := g.newUser(key, ext)
	oid, code := g.otp(key, uid, "issue")
	return g.must(201, "POST", "/v1/certificates/issue", key, map[string]any{"userId": uid, "otpId": oid, "otp": code, "csrPem": csrPEM(g.t, k)})
}

// appSigner is what a signing app holds: the key and its certificate.
func appSigner(t testing.TB, k crypto.Signer, issued map[string]any) signer.Signer {
	t.Helper()
	blk, _ := pem.Decode([]byte(issued["certificatePem"].(string)))
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var chain []*x509.Certificate
	rest := []byte(issued["chainPem"].(string))
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, c)
	}
	s, err := signer.NewSoftware(k, cert, chain)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signLink does what a signing app does with a sign link: parse, check the
// signature against the gateway's published keys, sign every digest and
// encode the result.
func signLink(t testing.TB, g *testGW, link string, s signer.Signer) string {
	t.Helper()
	l, err := deeplink.Parse(link, time.Now())
	if err != nil {
		t.Fatalf("parse link: %v", err)
	}
	_, raw := g.raw("GET", deeplink.WellKnownPath, "", nil)
	var ks deeplink.KeySet
	if err := json.Unmarshal(raw, &ks); err != nil {
		t.Fatal(err)
	}
	if err := l.Verify(&ks); err != nil {
		t.Fatalf("link signature: %v", err)
	}
	hashes := l.Hashes
	if l.PackageURL != "" && len(hashes) == 0 {
		// Only the package has the digests (a batch too large for them in
		// the link): it proves them before any is signed. Tests of the
		// package itself check it with checkPackage.
		docs, err := (&sigpkg.Fetcher{}).Verify(context.Background(), l)
		if err != nil {
			t.Fatalf("signing package: %v", err)
		}
		hashes = nil
		for _, d := range docs {
			hashes = append(hashes, d.Digest)
		}
	}
	alg := signer.DefaultAlgorithm(s.Public())
	var sigs [][]byte
	for _, h := range hashes {
		sig, err := signer.SignDigest(context.Background(), s, alg, l.HashAlgo, h)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, sig)
	}
	r, err := callback.NewSuccess(l.RequestID, alg, sigs, s.Certificate(), s.Chain(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	enc, err := callback.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// postResult delivers ss_result as the desktop app does.
func (g *testGW) postResult(enc string) (int, map[string]any) {
	g.t.Helper()
	return g.call("POST", "/v1/callback", "", "ss_result="+urlQueryEscape(enc), "Content-Type", "application/x-www-form-urlencoded")
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// registerLink answers a register link as an app does: sign the register
// digest, report the certificate.
func registerLink(t testing.TB, g *testGW, link string, s signer.Signer) string {
	t.Helper()
	l, err := deeplink.Parse(link, time.Now())
	if err != nil {
		t.Fatalf("parse link: %v", err)
	}
	d := deeplink.RegisterDigest(l.Origin, l.RequestID, l.Challenge)
	alg := signer.DefaultAlgorithm(s.Public())
	sig, err := signer.SignDigest(context.Background(), s, alg, crypto.SHA256, d)
	if err != nil {
		t.Fatal(err)
	}
	r, err := callback.NewSuccess(l.RequestID, alg, [][]byte{sig}, s.Certificate(), s.Chain(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	enc, err := callback.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}
