package deeplink

import (
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// testNow is the clock of the tests: 2026-06-22T10:30:00Z.
var testNow = time.Date(2026, 6, 22, 10, 30, 0, 0, time.UTC)

func digest(h crypto.Hash, s string) []byte {
	switch h {
	case crypto.SHA384:
		d := sha512.Sum384([]byte(s))
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512([]byte(s))
		return d[:]
	}
	d := sha256.Sum256([]byte(s))
	return d[:]
}

func testKey(t testing.TB, kid string, b byte) *SigningKey {
	t.Helper()
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = b + byte(i)
	}
	k, err := SigningKeyFromSeed(kid, seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func baseSign() *Request {
	return &Request{
		Action:      ActionSign,
		RequestID:   "req_0123456789abcdef",
		Hashes:      [][]byte{digest(crypto.SHA256, "loan agreement")},
		HashAlgo:    crypto.SHA256,
		CallbackURL: "https://portal.example.in/securesign/callback?tab=7",
		Origin:      "https://portal.example.in",
		Expires:     testNow.Add(10 * time.Minute),
	}
}

func baseRegister() *Request {
	ch := make([]byte, 32)
	for i := range ch {
		ch[i] = byte(200 - i)
	}
	return &Request{
		Action:      ActionRegister,
		RequestID:   "reg-0000-1111-2222",
		CallbackURL: "http://127.0.0.1:8080/v1/callback",
		Origin:      "http://127.0.0.1:8080",
		Expires:     testNow.Add(15 * time.Minute),
		Challenge:   ch,
	}
}

var cmpReq = cmp.Options{cmpopts.EquateEmpty(), cmpopts.EquateApproxTime(0)}

// TestRoundTrip builds and parses every combination of optional fields,
// signed and unsigned, and wants the same request back.
func TestRoundTrip(t *testing.T) {
	key := testKey(t, "portal-1", 1)
	keys := &KeySet{Keys: []PublicKey{key.Public()}}
	type opt func(r *Request)
	opts := []struct {
		name string
		f    opt
	}{
		{"batch", func(r *Request) {
			r.Hashes = append(r.Hashes, digest(r.HashAlgo, "annexure"), digest(r.HashAlgo, "schedule"))
		}},
		{"doc", func(r *Request) { r.Doc = "Loan agreement №42 — ₹5,00,000 (Rajesh Kumar)" }},
		{"apiKey", func(r *Request) { r.APIKey = "ss_pk_9f8e7d6c" }},
		{"certSerial", func(r *Request) { r.CertSerial = "4A3B2C1D" }},
		{"certSha256", func(r *Request) { r.CertSHA256 = strings.Repeat("ab", 32) }},
		{"documentType", func(r *Request) { r.DocumentType = "hash" }},
		{"extra", func(r *Request) { r.Extra = url.Values{"x-trace": {"a b&c=d", "2"}, "lang": {"hi"}} }},
	}
	for _, alg := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		for mask := 0; mask < 1<<len(opts); mask++ {
			for _, signed := range []bool{false, true} {
				r := baseSign()
				r.HashAlgo = alg
				r.Hashes = [][]byte{digest(alg, "loan agreement")}
				var names []string
				for i, o := range opts {
					if mask&(1<<i) != 0 {
						o.f(r)
						names = append(names, o.name)
					}
				}
				name := fmt.Sprintf("%v/%s/signed=%t", alg, strings.Join(names, "+"), signed)
				checkRoundTrip(t, name, r, key, keys, signed)
			}
		}
	}
	for _, signed := range []bool{false, true} {
		r := baseRegister()
		r.Doc = "Register your DSC"
		checkRoundTrip(t, fmt.Sprintf("register/signed=%t", signed), r, key, keys, signed)
	}
}

func checkRoundTrip(t *testing.T, name string, r *Request, key *SigningKey, keys *KeySet, signed bool) {
	t.Helper()
	k := key
	if !signed {
		k = nil
	}
	link, err := Build(r, k)
	if err != nil {
		t.Errorf("%s: Build: %v", name, err)
		return
	}
	l, err := Parse(link, testNow)
	if err != nil {
		t.Errorf("%s: Parse(%s): %v", name, link, err)
		return
	}
	if diff := cmp.Diff(r, &l.Request, cmpReq); diff != "" {
		t.Errorf("%s: request changed (-built +parsed):\n%s", name, diff)
	}
	if l.Signed != signed || l.Legacy {
		t.Errorf("%s: Signed=%t Legacy=%t", name, l.Signed, l.Legacy)
	}
	err = l.Verify(keys)
	if signed && err != nil {
		t.Errorf("%s: Verify: %v", name, err)
	}
	if !signed && !errors.Is(err, ErrUnsigned) {
		t.Errorf("%s: Verify of unsigned link: %v, want ErrUnsigned", name, err)
	}
}

func TestLegacyLink(t *testing.T) {
	h := base64.StdEncoding.EncodeToString(digest(crypto.SHA256, "x"))
	link := "securesign://sign?requestId=550e8400-e29b-41d4-a716-446655440000&hashBase64=" + url.QueryEscape(h) +
		"&hashAlgo=SHA256&documentType=hash&callbackUrl=" + url.QueryEscape("https://bank.example.com/esign/cb") +
		"&apiKey=ss_pk_live123&certSerial=4a3b2c1d"
	l, err := Parse(link, testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := Request{
		Action: ActionSign, RequestID: "550e8400-e29b-41d4-a716-446655440000", Hashes: [][]byte{digest(crypto.SHA256, "x")},
		HashAlgo: crypto.SHA256, DocumentType: "hash", CallbackURL: "https://bank.example.com/esign/cb",
		Origin: "https://bank.example.com", APIKey: "ss_pk_live123", CertSerial: "4a3b2c1d",
	}
	if diff := cmp.Diff(want, l.Request, cmpReq); diff != "" {
		t.Errorf("legacy request (-want +got):\n%s", diff)
	}
	if !l.Legacy || l.Signed {
		t.Errorf("Legacy=%t Signed=%t, want true false", l.Legacy, l.Signed)
	}
	// Without hashAlgo and documentType: the defaults.
	l, err = Parse("securesign://sign?requestId=abcdefgh&hashBase64="+url.QueryEscape(h)+"&callbackUrl=https%3A%2F%2Fa.example%2Fcb", testNow)
	if err != nil {
		t.Fatal(err)
	}
	if l.HashAlgo != crypto.SHA256 || l.DocumentType != "" || l.Origin != "https://a.example" {
		t.Errorf("defaults: %v %q %q", l.HashAlgo, l.DocumentType, l.Origin)
	}
	// Build makes the same kind of link from a request without origin and exp.
	r := want
	r.Origin = ""
	b, err := Build(&r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b, "origin=") || strings.Contains(b, "exp=") {
		t.Errorf("legacy Build wrote extension parameters: %s", b)
	}
}

// mutate replaces the value of the n-th occurrence of name in link's query
// (or appends name=value when absent, or removes it when value is "\x00").
func mutate(t *testing.T, link, name string, n int, value string) string {
	t.Helper()
	base, q, _ := strings.Cut(link, "?")
	segs := strings.Split(q, "&")
	seen := 0
	for i, s := range segs {
		k, _, _ := strings.Cut(s, "=")
		if k != name {
			continue
		}
		if seen == n {
			if value == "\x00" {
				segs = append(segs[:i], segs[i+1:]...)
			} else {
				segs[i] = k + "=" + escape(value)
			}
			return base + "?" + strings.Join(segs, "&")
		}
		seen++
	}
	return link + "&" + escape(name) + "=" + escape(value)
}

// TestMutationBreaksSig changes each parameter of a signed link in turn:
// each change must fail parsing or fail the signature check.
func TestMutationBreaksSig(t *testing.T) {
	key := testKey(t, "portal-1", 1)
	other := testKey(t, "portal-2", 9)
	keys := &KeySet{Keys: []PublicKey{key.Public(), other.Public()}}
	r := baseSign()
	r.Hashes = append(r.Hashes, digest(crypto.SHA256, "second"))
	r.Doc, r.APIKey, r.CertSerial, r.CertSHA256 = "Loan", "ss_pk_1", "0a0b", strings.Repeat("cd", 32)
	r.DocumentType = "hash"
	r.Extra = url.Values{"lang": {"en"}}
	link, err := Build(r, key)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Parse(link, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Verify(keys); err != nil {
		t.Fatalf("unmutated link: %v", err)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString(digest(crypto.SHA256, s)) }
	exp := strconv.FormatInt(r.Expires.Unix()-1, 10)
	tests := []struct {
		name, param string
		n           int
		value       string
	}{
		{"requestId", ParamRequestID, 0, "req_0123456789abcdeF"},
		{"first hash", ParamHash, 0, b64("forged")},
		{"second hash", ParamHash, 1, b64("forged")},
		{"hash removed", ParamHash, 1, "\x00"},
		{"hash added", ParamHash, 2, b64("third")},
		{"hashAlgo", ParamHashAlgo, 0, "SHA384"},
		{"documentType removed", ParamDocumentType, 0, "\x00"},
		{"callbackUrl path", ParamCallbackURL, 0, "https://portal.example.in/securesign/callback?tab=8"},
		{"callbackUrl host", ParamCallbackURL, 0, "https://evil.example/cb"},
		{"origin", ParamOrigin, 0, "https://evil.example"},
		{"exp", ParamExp, 0, exp},
		{"doc", ParamDoc, 0, "Loan!"},
		{"doc removed", ParamDoc, 0, "\x00"},
		{"apiKey", ParamAPIKey, 0, "ss_pk_2"},
		{"certSerial", ParamCertSerial, 0, "0a0c"},
		{"certSerial removed", ParamCertSerial, 0, "\x00"},
		{"certSha256", ParamCertSHA256, 0, strings.Repeat("cd", 31) + "ce"},
		{"extra changed", "lang", 0, "hi"},
		{"extra added", "x", 0, "1"},
		{"kid of another key", ParamKID, 0, "portal-2"},
		{"kid unknown", ParamKID, 0, "portal-3"},
		{"sig", ParamSig, 0, base64.RawURLEncoding.EncodeToString(make([]byte, 64))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mutate(t, link, tc.param, tc.n, tc.value)
			if m == link {
				t.Fatal("mutation changed nothing")
			}
			ml, err := Parse(m, testNow)
			if err != nil {
				return // refused already
			}
			err = ml.Verify(keys)
			if !errors.Is(err, ErrSignature) && !errors.Is(err, ErrUnknownKey) {
				t.Errorf("mutated link verifies (err=%v): %s", err, m)
			}
		})
	}
	// A different action is a different canonical form.
	if ml, err := Parse(strings.Replace(link, "://sign?", "://register?", 1), testNow); err == nil && ml.Verify(keys) == nil {
		t.Error("action change verifies")
	}
	// What is not a change: another percent-encoding of the same values
	// (lower-case hex, "~" encoded) keeps the signature, since it covers
	// the decoded parameters.
	same := strings.Replace(link, "%3A", "%3a", -1)
	sl, err := Parse(same, testNow)
	if err != nil || sl.Verify(keys) != nil {
		t.Errorf("re-encoded link: parse %v, verify %v", err, sl.Verify(keys))
	}
}

// TestBatchOrder: the canonical form sorts values, so swapping two
// hashBase64 values keeps sig valid; the order is bound by the result
// instead (callback checks signature i against issued digest i).
func TestBatchOrder(t *testing.T) {
	key := testKey(t, "k", 1)
	r := baseSign()
	r.Hashes = append(r.Hashes, digest(crypto.SHA256, "b"))
	link, _ := Build(r, key)
	h0, h1 := escape(base64.StdEncoding.EncodeToString(r.Hashes[0])), escape(base64.StdEncoding.EncodeToString(r.Hashes[1]))
	swapped := strings.Replace(strings.Replace(strings.Replace(link, h0, "H0", 1), h1, h0, 1), "H0", h1, 1)
	l, err := Parse(swapped, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Verify(&KeySet{Keys: []PublicKey{key.Public()}}); err != nil {
		t.Errorf("swapped batch: %v", err)
	}
	if !cmp.Equal(l.Hashes, [][]byte{r.Hashes[1], r.Hashes[0]}) {
		t.Error("parsed order is not the link's order")
	}
}

func TestCanonical(t *testing.T) {
	ps := []param{{"b", "2"}, {"a", "z"}, {"a", "y~ +/="}, {"sig", "x"}, {"é", "\x01"}}
	got := canonical(ActionSign, ps)
	want := "securesign://sign?a=y~%20%2B%2F%3D&a=z&b=2&%C3%A9=%01"
	if got != want {
		t.Errorf("canonical:\n got %s\nwant %s", got, want)
	}
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		name string
		exp  time.Time
		want error
	}{
		{"in 10 minutes", testNow.Add(10 * time.Minute), nil},
		{"in 15 minutes", testNow.Add(15 * time.Minute), nil},
		{"15 minutes + skew", testNow.Add(MaxLifetime + ClockSkew), nil},
		{"too far ahead", testNow.Add(MaxLifetime + ClockSkew + time.Second), ErrExpiry},
		{"one hour ahead", testNow.Add(time.Hour), ErrExpiry},
		{"now", testNow, ErrExpired},
		{"a second ago", testNow.Add(-time.Second), ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := baseSign()
			r.Expires = tc.exp
			link := buildUnchecked(r, nil)
			_, err := Parse(link, testNow)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Parse: %v, want %v", err, tc.want)
			}
		})
	}
	r := baseSign()
	r.Expires = time.Now().Add(time.Hour)
	if _, err := Build(r, nil); !errors.Is(err, ErrExpiry) {
		t.Errorf("Build with exp 1h ahead: %v", err)
	}
}

// buildUnchecked writes a link without Build's checks, for hostile tests.
func buildUnchecked(r *Request, key *SigningKey) string {
	ps := requestParams(r)
	if key != nil {
		ps = append(ps, param{ParamKID, key.KID})
	}
	var b strings.Builder
	b.WriteString(Scheme + "://" + string(r.Action) + "?")
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(escape(p.name) + "=" + escape(p.value))
	}
	if key != nil {
		b.WriteString("&sig=" + base64.RawURLEncoding.EncodeToString(ed25519Sign(key, canonical(r.Action, ps))))
	}
	return b.String()
}
