package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseCredentialAuthorization(t *testing.T) {
	h := sha256.Sum256([]byte("contract"))
	std, raw := base64.StdEncoding.EncodeToString(h[:]), base64.RawURLEncoding.EncodeToString(h[:])
	details := func(v string) url.Values { return url.Values{"authorization_details": {v}} }
	tests := []struct {
		name  string
		q     url.Values
		code  string // oauthError code, "" for success
		label string
	}{
		{"CSC v2 8.4.2 sample shape", details(`[{"type":"credential","credentialID":"crt_1","documentDigests":[{"hash":"` + std + `","label":"Example Contract"}],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1"}]`), "", "Example Contract"},
		{"base64url digest, no label", details(`[{"type":"credential","credentialID":"crt_1","documentDigests":[{"hash":"` + raw + `"}],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1"}]`), "", "Document 1 (no label given)"},
		{"scope=credential parameters", url.Values{"scope": {"credential"}, "credentialID": {"crt_1"}, "numSignatures": {"1"}, "hashes": {raw}, "hashAlgorithmOID": {"2.16.840.1.101.3.4.2.1"}}, "", "Document 1 (no label given)"},
		{"not JSON", details(`{`), "invalid_request", ""},
		{"two entries", details(`[{"type":"credential"},{"type":"credential"}]`), "invalid_request", ""},
		{"other type", details(`[{"type":"openid_credential","credentialID":"crt_1"}]`), "invalid_request", ""},
		{"signatureQualifier only", details(`[{"type":"credential","signatureQualifier":"eu_eidas_qes","documentDigests":[{"hash":"` + std + `"}],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1"}]`), "invalid_request", ""},
		{"no hash algorithm", details(`[{"type":"credential","credentialID":"crt_1","documentDigests":[{"hash":"` + std + `"}]}]`), "invalid_request", ""},
		{"SHA-1", details(`[{"type":"credential","credentialID":"crt_1","documentDigests":[{"hash":"` + std + `"}],"hashAlgorithmOID":"1.3.14.3.2.26"}]`), "invalid_request", ""},
		{"digest of another length", details(`[{"type":"credential","credentialID":"crt_1","documentDigests":[{"hash":"` + std + `"}],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.2"}]`), "invalid_request", ""},
		{"no digests", details(`[{"type":"credential","credentialID":"crt_1","documentDigests":[],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1"}]`), "invalid_request", ""},
		{"bidi label", details(`[{"type":"credential","credentialID":"crt_1","documentDigests":[{"hash":"` + std + `","label":"invoice\u202efdp.exe"}],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1"}]`), "invalid_request", ""},
		{"service scope", url.Values{"scope": {"service"}}, "invalid_scope", ""},
		{"numSignatures disagrees", url.Values{"scope": {"credential"}, "credentialID": {"crt_1"}, "numSignatures": {"2"}, "hashes": {raw}}, "invalid_request", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := parseCredentialAuthorization(tc.q)
			var oe *oauthError
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("parse: %v", err)
			case tc.code != "" && (!errors.As(err, &oe) || oe.Code != tc.code):
				t.Fatalf("parse = %v, want %s", err, tc.code)
			case tc.code == "" && (a.CredentialID != "crt_1" || len(a.Digests) != 1 || a.Digests[0].Label != tc.label || string(a.Digests[0].Hash) != string(h[:])):
				t.Errorf("parsed %+v", a)
			}
		})
	}
}

// oauthClient is what a CSC client does around the gateway's consent page.
type oauthClient struct {
	g        *testGW
	clientID string
	redirect string
	verifier string
}

func newOAuthClient(g *testGW) *oauthClient {
	_, id, ok := splitCredential(g.key)
	if !ok {
		g.t.Fatalf("dev key %q", g.key)
	}
	return &oauthClient{g: g, clientID: id, redirect: "http://127.0.0.1:9/callback", verifier: strings.Repeat("v", 20) + randomHex(16)}
}

// authorizeURL is the oauth2/authorize request for docs (label → digest).
func (o *oauthClient) authorizeURL(cid string, labels []string, digests ...[]byte) string {
	var dd []map[string]string
	for i, d := range digests {
		dd = append(dd, map[string]string{"hash": b64(d), "label": labels[i]})
	}
	details, _ := json.Marshal([]any{map[string]any{"type": "credential", "credentialID": cid, "documentDigests": dd, "hashAlgorithmOID": oidSHA256}})
	q := url.Values{"response_type": {"code"}, "client_id": {o.clientID}, "redirect_uri": {o.redirect}, "code_challenge": {pkceS256(o.verifier)},
		"code_challenge_method": {"S256"}, "state": {"st-42"}, "authorization_details": {string(details)}}
	return "/csc/v2/oauth2/authorize?" + q.Encode()
}

// get does a browser GET without following redirects.
func (o *oauthClient) do(method, path string, form url.Values) (*http.Response, string) {
	o.g.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, o.g.url+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		o.g.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// start runs oauth2/authorize and returns the consent page path and the
// code the user received.
func (o *oauthClient) start(cid string, labels []string, digests ...[]byte) (string, string) {
	o.g.t.Helper()
	res, body := o.do("GET", o.authorizeURL(cid, labels, digests...), nil)
	page := res.Header.Get("Location")
	if res.StatusCode != 303 || !strings.HasPrefix(page, "/csc/v2/oauth2/consent/") {
		o.g.t.Fatalf("authorize = %d %s %s", res.StatusCode, page, body)
	}
	out, err := readOutboxLast(o.g.dir)
	if err != nil || out["purpose"] != "oauth" {
		o.g.t.Fatalf("outbox: %v %v", out, err)
	}
	return page, out["code"]
}

func readOutboxLast(dir string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "dev-otp-outbox.jsonl"))
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var m map[string]string
	err = json.Unmarshal([]byte(lines[len(lines)-1]), &m)
	return m, err
}

// approve posts the code on the consent page and returns the redirect.
func (o *oauthClient) approve(page, code string) (*http.Response, string) {
	return o.do("POST", page, url.Values{"otp": {code}, "decision": {"approve"}})
}

func (o *oauthClient) token(code, verifier string) (int, map[string]any) {
	res, body := o.do("POST", "/csc/v2/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {o.clientID},
		"redirect_uri": {o.redirect}, "code_verifier": {verifier}})
	var m map[string]any
	json.Unmarshal([]byte(body), &m) //nolint:errcheck
	return res.StatusCode, m
}

func codeFrom(t *testing.T, res *http.Response) url.Values {
	t.Helper()
	u, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode != 303 {
		t.Fatalf("redirect = %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	return u.Query()
}

// TestOAuthConsent: the CSC OAuth flow with authorization_details over
// HTTP: the page shows labels, fingerprints and the credential; a wrong
// code, an expired request, a replayed or misused authorization code are
// refused; the token signs exactly the approved digests.
func TestOAuthConsent(t *testing.T) {
	g := newTestGW(t, nil, func(c *Config) { c.OTPSendLimit = 1000 })
	_, cid, cert := g.issueServerKey("oauth-user", "RSA-2048")
	o := newOAuthClient(g)
	contract, terms := digest("Loan contract"), digest("Terms of service")
	labels := []string{"Loan contract №42", "Terms of service"}

	page, code := o.start(cid, labels, contract, terms)
	res, html := o.do("GET", page, nil)
	for _, want := range []string{"Loan contract №42", "Terms of service", b64hex(contract)[:8], b64hex(terms)[:8], cid, "Rajesh Kumar", "2 documents"} {
		if res.StatusCode != 200 || !strings.Contains(html, want) {
			t.Errorf("consent page lacks %q:\n%s", want, html)
		}
	}
	if msg, _ := readOutboxLast(g.dir); !strings.Contains(msg["summary"], `"Loan contract №42" (`+b64hex(contract)[:8]+`)`) {
		t.Errorf("the code's message does not name the documents: %q", msg["summary"])
	}
	// Wrong code: the page again, with an error; nothing redirected.
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	res, html = o.approve(page, wrong)
	if res.StatusCode != 401 || !strings.Contains(html, "Wrong code") {
		t.Fatalf("wrong code = %d\n%s", res.StatusCode, html)
	}
	// Right code: back to the client with a code and the state.
	q := codeFrom(t, first(o.approve(page, code)))
	if q.Get("state") != "st-42" || q.Get("code") == "" {
		t.Fatalf("redirect query %v", q)
	}
	// The page cannot be approved twice.
	if res, _ := o.approve(page, code); res.StatusCode != 410 {
		t.Errorf("second approval = %d", res.StatusCode)
	}
	// Wrong verifier: refused, and the code is burnt.
	if st, out := o.token(q.Get("code"), "not-the-verifier-"+o.verifier); st != 400 || out["error"] != "invalid_grant" {
		t.Errorf("wrong verifier = %d %v", st, out)
	}
	if st, out := o.token(q.Get("code"), o.verifier); st != 400 || out["error"] != "invalid_grant" {
		t.Errorf("code after a failed exchange = %d %v", st, out)
	}

	// Again, to the end: the token signs exactly the approved digests.
	page, code = o.start(cid, labels, contract, terms)
	q = codeFrom(t, first(o.approve(page, code)))
	st, tok := o.token(q.Get("code"), o.verifier)
	if st != 200 || tok["token_type"] != "Bearer" || tok["credentialID"] != cid {
		t.Fatalf("token = %d %v", st, tok)
	}
	// Replayed authorization code.
	if st, out := o.token(q.Get("code"), o.verifier); st != 400 || out["error"] != "invalid_grant" {
		t.Errorf("replayed code = %d %v", st, out)
	}
	bearer := tok["access_token"].(string)
	signWith := func(hashes ...[]byte) (int, map[string]any) {
		return g.call("POST", "/csc/v2/signatures/signHash", bearer, map[string]any{"credentialID": cid, "hashes": b64s(hashes...),
			"hashAlgorithmOID": oidSHA256, "signAlgo": oidRSA})
	}
	if st, out := signWith(contract, digest("hidden")); st != 400 || out["error"] != "invalid_request" {
		t.Errorf("token for other digests = %d %v", st, out)
	}
	// That refusal spent the token (a mismatch spends, as with codes).
	page, code = o.start(cid, labels, contract, terms)
	q = codeFrom(t, first(o.approve(page, code)))
	_, tok = o.token(q.Get("code"), o.verifier)
	bearer = tok["access_token"].(string)
	st, out := signWith(terms, contract)
	if st != 200 {
		t.Fatalf("signHash with the credential token = %d %v", st, out)
	}
	for i, sig := range sigsOf(t, out, 2) {
		opensslVerifyDigest(t, cert, [][]byte{terms, contract}[i], sig, "digest:sha256")
	}
	// The token does not list credentials or reach the v1 API.
	if st, _ := g.call("POST", "/csc/v2/credentials/list", bearer, map[string]any{}); st != 401 {
		t.Errorf("credentials/list with a credential token = %d", st)
	}

	// An expired request.
	page, code = o.start(cid, labels, contract)
	g.clock.Advance(oauthRequestTTL + time.Second)
	if res, html := o.approve(page, code); res.StatusCode != 410 || !strings.Contains(html, "expired") {
		t.Errorf("expired request = %d\n%s", res.StatusCode, html)
	}
	// Declined.
	page, _ = o.start(cid, labels, contract)
	if q := codeFrom(t, first(o.do("POST", page, url.Values{"decision": {"decline"}}))); q.Get("error") != "access_denied" || q.Get("state") != "st-42" {
		t.Errorf("declined: %v", q)
	}
	// Bad requests: unknown client and foreign redirect_uri go to the
	// user; the rest back to the client.
	bad := func(mutate func(q url.Values)) (*http.Response, string) {
		u, _ := url.Parse(o.authorizeURL(cid, labels, contract))
		q := u.Query()
		mutate(q)
		return o.do("GET", u.Path+"?"+q.Encode(), nil)
	}
	if res, _ := bad(func(q url.Values) { q.Set("client_id", "nope") }); res.StatusCode != 400 {
		t.Errorf("unknown client = %d", res.StatusCode)
	}
	if res, _ := bad(func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") }); res.StatusCode != 400 {
		t.Errorf("foreign redirect_uri = %d", res.StatusCode)
	}
	for name, mutate := range map[string]func(url.Values){
		"no PKCE":    func(q url.Values) { q.Del("code_challenge") },
		"plain PKCE": func(q url.Values) { q.Set("code_challenge_method", "plain") },
		"token flow": func(q url.Values) { q.Set("response_type", "token") },
		"other credential": func(q url.Values) {
			q.Set("authorization_details", strings.Replace(q.Get("authorization_details"), cid, "crt_nope", 1))
		},
	} {
		if q := codeFrom(t, first(bad(mutate))); q.Get("error") == "" || q.Get("code") != "" {
			t.Errorf("%s: redirect %v", name, q)
		}
	}
}

func first[A, B any](a A, _ B) A { return a }

func b64hex(d []byte) string { return hex.EncodeToString(d) }

// FuzzParseCredentialAuthorization: authorization_details from any
// client never panic, and what is accepted is showable and well-formed.
func FuzzParseCredentialAuthorization(f *testing.F) {
	h := sha256.Sum256([]byte("seed"))
	f.Add(`[{"type":"credential","credentialID":"crt_1","documentDigests":[{"hash":"` + b64(h[:]) + `","label":"Contract"}],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1"}]`)
	f.Add(`[{"type":"credential","credentialID":"crt_1","documentDigests":[{"hash":"","label":"\u202e"}]}]`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, details string) {
		a, err := parseCredentialAuthorization(url.Values{"authorization_details": {details}})
		if err != nil {
			return
		}
		if a.CredentialID == "" || len(a.Digests) == 0 || len(a.Digests) > maxConsentItems {
			t.Fatalf("accepted %+v", a)
		}
		for _, d := range a.Digests {
			if len(d.Hash) != a.Hash.Size() || !displayable(d.Label) {
				t.Fatalf("accepted digest %+v", d)
			}
		}
	})
}
