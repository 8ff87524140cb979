package deeplink

import (
	"crypto"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// TestHostileLinks is the table of hand-written attacks on link parsing
// (issue 9): each must be refused with its specific error, or (where noted)
// accepted with the safe interpretation.
func TestHostileLinks(t *testing.T) {
	base := buildUnchecked(baseSign(), nil)
	if _, err := Parse(base, testNow); err != nil {
		t.Fatalf("base link: %v", err)
	}
	set := func(name, value string) string { return mutate(t, base, name, 0, value) }
	setRaw := func(name, raw string) string { // value written as is, not escaped
		m := mutate(t, base, name, 0, "PLACEHOLDER")
		return strings.Replace(m, name+"=PLACEHOLDER", name+"="+raw, 1)
	}
	both := func(cb, origin string) string {
		return mutate(t, set(ParamCallbackURL, cb), ParamOrigin, 0, origin)
	}
	h := base64.StdEncoding.EncodeToString(digest(crypto.SHA256, "x"))
	reg := baseRegister()
	regLink := buildUnchecked(reg, nil)
	tests := []struct {
		name string
		link string
		want error // nil: accepted
	}{
		// Unicode confusables and IDNs.
		{"cyrillic o in origin", both("https://pоrtal.example.in/cb", "https://pоrtal.example.in"), ErrCallbackURL},
		{"cyrillic o in origin only", set(ParamOrigin, "https://pоrtal.example.in"), ErrOrigin},
		{"unicode IDN callback", both("https://bücher.example/cb", "https://xn--bcher-kva.example"), ErrCallbackURL},
		{"unicode IDN origin", both("https://xn--bcher-kva.example/cb", "https://bücher.example"), ErrOrigin},
		{"punycode IDN accepted", both("https://xn--bcher-kva.example/cb", "https://xn--bcher-kva.example"), nil},
		{"fullwidth dot", both("https://portal．example.in/cb", "https://portal.example.in"), ErrCallbackURL},
		{"zero-width space in host", set(ParamCallbackURL, "https://portal.example.in\u200b/cb"), ErrCallbackURL},
		{"bidi override in doc", set(ParamDoc, "Pay \u202e00001 INR"), ErrDoc},
		{"zero-width joiner in doc", set(ParamDoc, "Lo\u200dan"), ErrDoc},

		// User info and look-alike hosts.
		{"userinfo", set(ParamCallbackURL, "https://portal.example.in@evil.example/cb"), ErrCallbackURL},
		{"userinfo with port", set(ParamCallbackURL, "https://portal.example.in:443@evil.example/cb"), ErrCallbackURL},
		{"userinfo encoded @", setRaw(ParamCallbackURL, "https%3A%2F%2Fportal.example.in%40evil.example%2Fcb"), ErrCallbackURL},
		{"backslash", set(ParamCallbackURL, `https://evil.example\@portal.example.in/cb`), ErrCallbackURL},
		{"suffix host", set(ParamCallbackURL, "https://portal.example.in.evil.example/cb"), ErrOriginMismatch},
		{"other port", set(ParamCallbackURL, "https://portal.example.in:8443/cb"), ErrOriginMismatch},
		{"explicit default port", set(ParamCallbackURL, "https://portal.example.in:443/cb"), nil},
		{"upper-case host", set(ParamCallbackURL, "https://PORTAL.example.in/cb"), nil},
		{"non-canonical origin", set(ParamOrigin, "https://Portal.example.in"), ErrOrigin},
		{"origin with path", set(ParamOrigin, "https://portal.example.in/"), ErrOrigin},
		{"origin with default port", set(ParamOrigin, "https://portal.example.in:443"), ErrOrigin},
		{"decimal IPv4", both("https://2130706433/cb", "https://2130706433"), ErrCallbackURL},
		{"hex IPv4", both("https://0x7f.0.0.1/cb", "https://0x7f.0.0.1"), ErrCallbackURL},
		{"short IPv4", both("http://127.1/cb", "http://127.1"), ErrCallbackURL},
		{"IPv4-mapped IPv6", both("http://[::ffff:127.0.0.1]/cb", "http://[::ffff:127.0.0.1]"), ErrCallbackURL},
		{"IPv6 zone", set(ParamCallbackURL, "https://[fe80::1%25eth0]/cb"), ErrCallbackURL},
		{"dotted IPv4 over https", both("https://203.0.113.7:8443/cb", "https://203.0.113.7:8443"), nil},
		{"port out of range", set(ParamCallbackURL, "https://portal.example.in:99999/cb"), ErrCallbackURL},

		// Schemes.
		{"javascript", set(ParamCallbackURL, "javascript:alert(document.cookie)"), ErrCallbackURL},
		{"javascript with slashes", set(ParamCallbackURL, "javascript://portal.example.in/%0Aalert(1)"), ErrCallbackURL},
		{"data", set(ParamCallbackURL, "data:text/html;base64,PHNjcmlwdD4="), ErrCallbackURL},
		{"javascript origin", set(ParamOrigin, "javascript://portal.example.in"), ErrOrigin},
		{"file", set(ParamCallbackURL, "file:///etc/passwd"), ErrCallbackURL},
		{"http to the internet", both("http://portal.example.in/cb", "http://portal.example.in"), ErrCallbackURL},
		{"http to 127.0.0.2", both("http://127.0.0.2/cb", "http://127.0.0.2"), ErrCallbackURL},
		{"http to localhost.evil", both("http://localhost.evil.example/cb", "http://localhost.evil.example"), ErrCallbackURL},
		{"http to localhost", both("http://localhost:3000/cb", "http://localhost:3000"), nil},
		{"http to ::1", both("http://[::1]:8080/cb", "http://[::1]:8080"), nil},
		{"scheme-relative", set(ParamCallbackURL, "//portal.example.in/cb"), ErrCallbackURL},
		{"no slashes", set(ParamCallbackURL, "https:portal.example.in/cb"), ErrCallbackURL},

		// Fragments.
		{"link fragment", base + "#x", ErrMalformed},
		{"callback fragment", set(ParamCallbackURL, "https://portal.example.in/cb#frag"), ErrCallbackURL},

		// Double encoding: decoded once, so the result is refused as it stands.
		{"double-encoded callback", setRaw(ParamCallbackURL, "https%253A%252F%252Fportal.example.in%252Fcb"), ErrCallbackURL},
		{"double-encoded hash", setRaw(ParamHash, strings.ReplaceAll(escape(h), "%", "%25")), ErrHash},
		{"double-encoded requestId", setRaw(ParamRequestID, "%2561bcdefghij"), ErrRequestID},
		{"plus is a plus", setRaw(ParamDoc, "a+b"), nil},

		// Parameter pollution.
		{"duplicate requestId", base + "&requestId=other-request-1", ErrDuplicateParam},
		{"duplicate callbackUrl", base + "&callbackUrl=" + escape("https://portal.example.in/other"), ErrDuplicateParam},
		{"duplicate origin", base + "&origin=" + escape("https://portal.example.in"), ErrDuplicateParam},
		{"duplicate exp", base + "&exp=1", ErrDuplicateParam},
		{"duplicate hashAlgo", base + "&hashAlgo=SHA256", ErrDuplicateParam},
		{"duplicate doc", set(ParamDoc, "a") + "&doc=x", ErrDuplicateParam},
		{"duplicate kid", base + "&kid=a&kid=b&sig=x", ErrDuplicateParam},
		{"encoded name duplicates requestId", base + "&request%49d=other-request-1", ErrDuplicateParam},
		{"encoded sig name", base + "&%73ig=" + base64.RawURLEncoding.EncodeToString(make([]byte, 64)), ErrKID},
		{"repeated hashBase64 is a batch", base + "&hashBase64=" + escape(h), nil},
		{"repeated unknown parameter", base + "&x=1&x=2", nil},

		// Giant values.
		{"link over 2048 bytes", set("pad", strings.Repeat("a", MaxLinkLength)), ErrTooLong},
		{"doc over 200 characters", set(ParamDoc, strings.Repeat("a", 201)), ErrDoc},
		{"doc of 150 Devanagari characters", set(ParamDoc, strings.Repeat("क", 150)), nil},
		{"doc of 200 characters", set(ParamDoc, strings.Repeat("ab", 100)), nil},
		{"requestId of 65", set(ParamRequestID, strings.Repeat("a", 65)), ErrRequestID},
		{"requestId of 7", set(ParamRequestID, "abcdefg"), ErrRequestID},
		{"requestId with dot", set(ParamRequestID, "abc.defgh"), ErrRequestID},
		{"requestId with slash", set(ParamRequestID, "abc/../defgh"), ErrRequestID},
		{"too many hashes", base + strings.Repeat("&hashBase64=AAAA", MaxHashes), ErrHash},
		{"exp huge", set(ParamExp, "99999999999999999999"), ErrExpiry},

		// NUL bytes and control characters.
		{"NUL in doc", set(ParamDoc, "a\x00b"), ErrMalformed},
		{"NUL in requestId", set(ParamRequestID, "abcdefgh\x00"), ErrMalformed},
		{"NUL raw", base + "&x=\x00", ErrMalformed},
		{"newline in callback", set(ParamCallbackURL, "https://portal.example.in/cb\r\nX: y"), ErrMalformed},
		{"NUL in extra name", base + "&a%00b=1", ErrMalformed},
		{"invalid UTF-8", setRaw(ParamDoc, "%FF%FE"), ErrMalformed},
		{"raw space", base + "&x=a b", ErrMalformed},
		{"raw unicode", base + "&x=é", ErrMalformed},

		// Syntax.
		{"bad percent", setRaw(ParamDoc, "%zz"), ErrMalformed},
		{"truncated percent", base + "&x=%4", ErrMalformed},
		{"empty segment", base + "&&x=1", ErrMalformed},
		{"no equals", base + "&x", ErrMalformed},
		{"other scheme", strings.Replace(base, "securesign://", "https://", 1), ErrMalformed},
		{"upper-case scheme", strings.Replace(base, "securesign://", "SecureSign://", 1), nil},
		{"unknown action", strings.Replace(base, "://sign?", "://delete?", 1), ErrUnknownAction},
		{"action with path", strings.Replace(base, "://sign?", "://sign/x?", 1), ErrUnknownAction},
		{"no query", "securesign://sign", ErrMalformed},
		{"empty query", "securesign://sign?", ErrMissingParam},

		// Parameter rules.
		{"missing requestId", mutate(t, base, ParamRequestID, 0, "\x00"), ErrMissingParam},
		{"missing hash", mutate(t, base, ParamHash, 0, "\x00"), ErrMissingParam},
		{"missing callbackUrl", mutate(t, base, ParamCallbackURL, 0, "\x00"), ErrMissingParam},
		{"missing origin with exp", mutate(t, base, ParamOrigin, 0, "\x00"), ErrMissingParam},
		{"missing exp with origin", mutate(t, base, ParamExp, 0, "\x00"), ErrMissingParam},
		{"hash too short", set(ParamHash, base64.StdEncoding.EncodeToString(make([]byte, 31))), ErrHash},
		{"hash of SHA-384 with SHA256", set(ParamHash, base64.StdEncoding.EncodeToString(make([]byte, 48))), ErrHash},
		{"hash unpadded", set(ParamHash, strings.TrimRight(h, "=")), ErrHash},
		{"hash URL-safe", set(ParamHash, base64.URLEncoding.EncodeToString(digest(crypto.SHA256, "?>?>"))), ErrHash},
		{"hashAlgo MD5", set(ParamHashAlgo, "MD5"), ErrUnsupportedHashAlgo},
		{"hashAlgo lower case", set(ParamHashAlgo, "sha256"), ErrUnsupportedHashAlgo},
		{"documentType pdf", set(ParamDocumentType, "pdf"), ErrUnsupportedDocumentType},
		{"exp with plus", set(ParamExp, "+1782124200"), ErrExpiry},
		{"exp float", set(ParamExp, "1.7e9"), ErrExpiry},
		{"exp negative", set(ParamExp, "-5"), ErrExpiry},
		{"certSerial not hex", set(ParamCertSerial, "xyz"), ErrCertSerial},
		{"certSha256 upper case", set(ParamCertSHA256, strings.Repeat("AB", 32)), ErrCertSHA256},
		{"apiKey with space", set(ParamAPIKey, "ss pk"), ErrAPIKey},
		{"kid without sig", set(ParamKID, "k1"), ErrKID},
		{"sig without kid", set(ParamSig, base64.RawURLEncoding.EncodeToString(make([]byte, 64))), ErrKID},
		{"sig too short", set(ParamKID, "k1") + "&sig=AAAA", ErrSignature},
		{"sig padded", set(ParamKID, "k1") + "&sig=" + base64.URLEncoding.EncodeToString(make([]byte, 64)), ErrSignature},
		{"kid bad chars", set(ParamKID, "k/1") + "&sig=" + base64.RawURLEncoding.EncodeToString(make([]byte, 64)), ErrKID},
		{"challenge in sign link", set(ParamChallenge, base64.RawURLEncoding.EncodeToString(make([]byte, 32))), ErrUnexpectedParam},
		{"hash in register link", regLink + "&hashBase64=" + escape(h), ErrUnexpectedParam},
		{"hashAlgo in register link", regLink + "&hashAlgo=SHA256", ErrUnexpectedParam},
		{"register without challenge", mutate(t, regLink, ParamChallenge, 0, "\x00"), ErrMissingParam},
		{"register short challenge", mutate(t, regLink, ParamChallenge, 0, base64.RawURLEncoding.EncodeToString(make([]byte, 31))), ErrChallenge},
		{"register padded challenge", mutate(t, regLink, ParamChallenge, 0, base64.URLEncoding.EncodeToString(make([]byte, 32))), ErrChallenge},
		{"register legacy", mutate(t, mutate(t, regLink, ParamOrigin, 0, "\x00"), ParamExp, 0, "\x00"), ErrMissingParam},
		{"register link accepted", regLink, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.link, testNow)
			if tc.want == nil {
				if err != nil {
					t.Errorf("Parse: %v, want success\nlink: %s", err, tc.link)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("Parse: %v, want %v\nlink: %s", err, tc.want, tc.link)
			}
			var le *Error
			if !errors.As(err, &le) {
				t.Errorf("error %T is not a *deeplink.Error", err)
			}
		})
	}
}

// TestBuildRefuses checks that Build applies the rules too.
func TestBuildRefuses(t *testing.T) {
	key := testKey(t, "k", 1)
	tests := []struct {
		name string
		edit func(r *Request)
		key  *SigningKey
		want error
	}{
		{"secret API key", func(r *Request) { r.APIKey = "ss_live_abcdef" }, nil, ErrAPIKey},
		{"signed without origin", func(r *Request) { r.Origin = "" }, key, ErrMissingParam},
		{"too many hashes", func(r *Request) {
			for range MaxHashes {
				r.Hashes = append(r.Hashes, r.Hashes[0])
			}
		}, nil, ErrHash},
		{"too long", func(r *Request) {
			for range 40 {
				r.Hashes = append(r.Hashes, r.Hashes[0])
			}
		}, nil, ErrTooLong},
		{"unknown action", func(r *Request) { r.Action = "revoke" }, nil, ErrUnknownAction},
		{"extra reuses a known name", func(r *Request) { r.Extra = map[string][]string{"sig": {"x"}} }, nil, ErrMalformed},
		{"bad kid", func(r *Request) {}, &SigningKey{KID: "a b", Key: key.Key}, ErrKeySet},
		{"HashAlgo SHA1", func(r *Request) { r.HashAlgo = crypto.SHA1 }, nil, ErrUnsupportedHashAlgo},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := baseSign()
			// Build does not check that exp is in the future (it has no clock for that).
			tc.edit(r)
			if _, err := Build(r, tc.key); !errors.Is(err, tc.want) {
				t.Errorf("Build: %v, want %v", err, tc.want)
			}
		})
	}
}
