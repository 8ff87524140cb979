package deeplink

import (
	"crypto"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Link is a parsed link.
type Link struct {
	Request
	// Legacy reports a link without origin, exp and sig, as existing
	// integrations send them. Origin is then derived from CallbackURL and
	// Expires is zero: the app decides by its policy (an allowlist of
	// callback origins) whether to accept it.
	Legacy bool
	// Signed reports that the link carries kid and sig. It says nothing
	// about their validity: see [Link.Verify].
	Signed bool
	// KID names the portal key that signed the link.
	KID string
	// Signature is the decoded sig.
	Signature []byte
	// Canonical is the text sig covers.
	Canonical string
	// Raw is the link as given.
	Raw string
}

// Parse parses and checks a link at time now: syntax, every parameter rule
// of the protocol, and that exp is after now and at most MaxLifetime
// (+ClockSkew) ahead. Errors wrap one of the sentinel errors of this
// package in a [*Error]. Parse does not verify sig; call [Link.Verify] or
// [Fetcher.Verify].
//
// Parameter values are percent-decoded exactly once, and "+" stays a plus
// (RFC 3986, not form encoding). Non-repeatable parameters may appear once;
// hashBase64 repeats for a batch. Parameters this version does not know go
// to Extra.
func Parse(link string, now time.Time) (*Link, error) {
	if len(link) > MaxLinkLength {
		return nil, errf(ErrTooLong, "", "%d bytes, at most %d", len(link), MaxLinkLength)
	}
	for i := 0; i < len(link); i++ {
		if c := link[i]; c <= ' ' || c >= 0x7f {
			return nil, errf(ErrMalformed, "", "byte %#x at %d: a link is printable ASCII, the rest percent-encoded", c, i)
		}
	}
	if strings.Contains(link, "#") {
		return nil, errf(ErrMalformed, "", "a link has no fragment")
	}
	const prefix = Scheme + "://"
	if len(link) < len(prefix) || !strings.EqualFold(link[:len(prefix)], prefix) {
		return nil, errf(ErrMalformed, "", "not a %s link", prefix)
	}
	rest := link[len(prefix):]
	q := strings.IndexByte(rest, '?')
	if q < 0 {
		return nil, errf(ErrMalformed, "", "no query")
	}
	action := Action(strings.TrimSuffix(rest[:q], "/"))
	if action != ActionSign && action != ActionRegister {
		return nil, errf(ErrUnknownAction, "", "%q", rest[:q])
	}
	ps, err := splitQuery(rest[q+1:])
	if err != nil {
		return nil, err
	}
	l := &Link{Raw: link}
	r := &l.Request
	r.Action = action
	seen := map[string]bool{}
	var hashAlgo, exp, challenge, sig string
	for _, p := range ps {
		if p.name != ParamHash && isKnownParam(p.name) {
			if seen[p.name] {
				return nil, errf(ErrDuplicateParam, p.name, "appears more than once")
			}
			seen[p.name] = true
		}
		switch p.name {
		case ParamRequestID:
			r.RequestID = p.value
		case ParamHash:
			if len(r.Hashes) >= MaxHashes {
				return nil, errf(ErrHash, ParamHash, "more than %d digests", MaxHashes)
			}
			h, err := base64.StdEncoding.Strict().DecodeString(p.value)
			if err != nil {
				return nil, errf(ErrHash, ParamHash, "digest %d is not padded standard base64", len(r.Hashes)+1)
			}
			r.Hashes = append(r.Hashes, h)
		case ParamHashAlgo:
			hashAlgo = p.value
		case ParamDocumentType:
			r.DocumentType = p.value
		case ParamCallbackURL:
			r.CallbackURL = p.value
		case ParamOrigin:
			r.Origin = p.value
		case ParamExp:
			exp = p.value
		case ParamDoc:
			r.Doc = p.value
		case ParamOrg:
			r.Org = p.value
		case ParamAPIKey:
			r.APIKey = p.value
		case ParamCertSerial:
			r.CertSerial = p.value
		case ParamCertSHA256:
			r.CertSHA256 = p.value
		case ParamChallenge:
			challenge = p.value
		case ParamPackageURL:
			r.PackageURL = p.value
		case ParamPackageSHA256:
			r.PackageSHA256 = p.value
		case ParamKID:
			l.KID = p.value
		case ParamSig:
			sig = p.value
		default:
			if r.Extra == nil {
				r.Extra = url.Values{}
			}
			r.Extra[p.name] = append(r.Extra[p.name], p.value)
		}
	}
	if seen[ParamHashAlgo] {
		if action != ActionSign {
			return nil, errf(ErrUnexpectedParam, ParamHashAlgo, "a register link carries no hashAlgo")
		}
		h, ok := ParseHashAlgo(hashAlgo)
		if !ok {
			if !isToken(hashAlgo, 16) {
				return nil, errf(ErrMalformed, ParamHashAlgo, "bad characters")
			}
			return nil, errf(ErrUnsupportedHashAlgo, ParamHashAlgo, "%q (want SHA256, SHA384 or SHA512)", hashAlgo)
		}
		r.HashAlgo = h
	} else if action == ActionSign {
		r.HashAlgo = crypto.SHA256
	}
	if seen[ParamChallenge] {
		c, err := base64.RawURLEncoding.Strict().DecodeString(challenge)
		if err != nil || challenge == "" {
			return nil, errf(ErrChallenge, ParamChallenge, "not unpadded base64url")
		}
		r.Challenge = c
	}
	if seen[ParamExp] {
		n, err := strconv.ParseInt(exp, 10, 64)
		if err != nil || n <= 0 || exp[0] == '+' || exp[0] == '0' || len(exp) > 12 {
			return nil, errf(ErrExpiry, ParamExp, "%q is not Unix seconds", exp)
		}
		r.Expires = time.Unix(n, 0).UTC()
	}
	if seen[ParamKID] != seen[ParamSig] {
		return nil, errf(ErrKID, ParamKID, "kid and sig go together")
	}
	if seen[ParamSig] {
		if !isKID(l.KID) {
			return nil, errf(ErrKID, ParamKID, "want 1–64 characters of [A-Za-z0-9._-]")
		}
		s, err := base64.RawURLEncoding.Strict().DecodeString(sig)
		if err != nil || len(s) != 64 {
			return nil, errf(ErrSignature, ParamSig, "not unpadded base64url of 64 bytes")
		}
		l.Signed, l.Signature = true, s
	}
	l.Legacy = !seen[ParamOrigin] && !seen[ParamExp] && !seen[ParamSig] && action == ActionSign
	if err := validate(r, l.Legacy); err != nil {
		return nil, err
	}
	if l.Legacy {
		r.Origin, _ = OriginOf(r.CallbackURL)
	} else {
		if !now.Before(r.Expires) {
			return nil, errf(ErrExpired, ParamExp, "expired at %s, now %s", r.Expires.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
		if r.Expires.Sub(now) > MaxLifetime+ClockSkew {
			return nil, errf(ErrExpiry, ParamExp, "%s is more than %v ahead", r.Expires.Format(time.RFC3339), MaxLifetime)
		}
	}
	l.Canonical = canonical(action, ps)
	return l, nil
}

// splitQuery splits and percent-decodes a query strictly.
func splitQuery(q string) ([]param, error) {
	if q == "" {
		return nil, errf(ErrMissingParam, ParamRequestID, "empty query")
	}
	var ps []param
	for _, seg := range strings.Split(q, "&") {
		name, value, ok := strings.Cut(seg, "=")
		if !ok || name == "" {
			return nil, errf(ErrMalformed, "", "%q is not name=value", truncate(seg))
		}
		n, err := unescape(name)
		if err != nil {
			return nil, errf(ErrMalformed, truncate(name), "%v", err)
		}
		v, err := unescape(value)
		if err != nil {
			return nil, errf(ErrMalformed, n, "%v", err)
		}
		if err := checkText(n, n); err != nil {
			return nil, err
		}
		if err := checkText(n, v); err != nil {
			return nil, err
		}
		ps = append(ps, param{n, v})
	}
	return ps, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// unescape decodes %XX (either case); "+" stays "+".
func unescape(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
			return "", errf(ErrMalformed, "", "bad percent-encoding at %d", i)
		}
		b = append(b, byte(unhex(s[i+1])<<4|unhex(s[i+2])))
		i += 2
	}
	return string(b), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func isKID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
