package deeplink

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// validate checks every rule of a request that does not depend on the
// clock. legacy allows the absence of origin and exp.
func validate(r *Request, legacy bool) error {
	switch r.Action {
	case ActionSign, ActionRegister:
	default:
		return errf(ErrUnknownAction, "", "%q", r.Action)
	}
	if r.RequestID == "" {
		return errf(ErrMissingParam, ParamRequestID, "")
	}
	if err := checkRequestID(r.RequestID); err != nil {
		return err
	}
	switch r.Action {
	case ActionSign:
		if len(r.Hashes) == 0 && r.PackageURL == "" {
			return errf(ErrMissingParam, ParamHash, "")
		}
		if len(r.Hashes) > MaxHashes {
			return errf(ErrHash, ParamHash, "%d digests, at most %d", len(r.Hashes), MaxHashes)
		}
		if _, ok := HashAlgoName(r.HashAlgo); !ok {
			return errf(ErrUnsupportedHashAlgo, ParamHashAlgo, "%v", r.HashAlgo)
		}
		for i, h := range r.Hashes {
			if len(h) != r.HashAlgo.Size() {
				return errf(ErrHash, ParamHash, "digest %d is %d bytes, %v needs %d", i+1, len(h), r.HashAlgo, r.HashAlgo.Size())
			}
		}
		if r.Challenge != nil {
			return errf(ErrUnexpectedParam, ParamChallenge, "a sign link carries no challenge")
		}
	case ActionRegister:
		if len(r.Hashes) != 0 {
			return errf(ErrUnexpectedParam, ParamHash, "a register link carries no digest: the app signs only RegisterDigest")
		}
		if r.HashAlgo != 0 {
			return errf(ErrUnexpectedParam, ParamHashAlgo, "a register link carries no hashAlgo")
		}
		if r.Challenge == nil {
			return errf(ErrMissingParam, ParamChallenge, "")
		}
		if len(r.Challenge) != ChallengeSize {
			return errf(ErrChallenge, ParamChallenge, "%d bytes, want %d", len(r.Challenge), ChallengeSize)
		}
		if legacy {
			return errf(ErrMissingParam, ParamOrigin, "register links are never legacy")
		}
		if r.PackageURL != "" || r.PackageSHA256 != "" {
			return errf(ErrUnexpectedParam, ParamPackageURL, "a register link carries no signing package")
		}
	}
	if err := checkPackageParams(r, legacy); err != nil {
		return err
	}
	if r.DocumentType != "" && r.DocumentType != "hash" {
		if !isToken(r.DocumentType, 32) {
			return errf(ErrMalformed, ParamDocumentType, "bad characters")
		}
		return errf(ErrUnsupportedDocumentType, ParamDocumentType, "%q", r.DocumentType)
	}
	if r.CallbackURL == "" {
		return errf(ErrMissingParam, ParamCallbackURL, "")
	}
	cb, err := ValidateCallbackURL(r.CallbackURL)
	if err != nil {
		return err
	}
	if !legacy {
		if r.Origin == "" {
			return errf(ErrMissingParam, ParamOrigin, "")
		}
		if r.Expires.IsZero() {
			return errf(ErrMissingParam, ParamExp, "")
		}
		if r.Expires.Unix() <= 0 {
			return errf(ErrExpiry, ParamExp, "not a positive Unix time")
		}
		if err := checkOrigin(r.Origin); err != nil {
			return err
		}
		if got := originOf(cb); got != r.Origin {
			return errf(ErrOriginMismatch, ParamCallbackURL, "callbackUrl origin %q, origin %q", got, r.Origin)
		}
	}
	if r.Doc != "" {
		if err := checkDoc(r.Doc); err != nil {
			return err
		}
	}
	if r.Org != "" {
		if err := CheckOrg(r.Org); err != nil {
			return err
		}
	}
	if r.APIKey != "" && !isToken(r.APIKey, 128) {
		return errf(ErrAPIKey, ParamAPIKey, "want at most 128 characters of [A-Za-z0-9_-]")
	}
	if r.CertSerial != "" && !isHexSerial(r.CertSerial) {
		return errf(ErrCertSerial, ParamCertSerial, "want hex digits (optionally colon-separated)")
	}
	if r.CertSHA256 != "" && !isLowerHex(r.CertSHA256, 64) {
		return errf(ErrCertSHA256, ParamCertSHA256, "want 64 lower-case hex digits")
	}
	for name, vs := range r.Extra {
		if name == "" || isKnownParam(name) {
			return errf(ErrMalformed, name, "extra parameter has an empty or reserved name")
		}
		if err := checkText(name, name); err != nil {
			return err
		}
		for _, v := range vs {
			if err := checkText(name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkRequestID(s string) error {
	if len(s) < 8 || len(s) > 64 || !isToken(s, 64) {
		return errf(ErrRequestID, ParamRequestID, "want 8–64 characters of [A-Za-z0-9_-], got %d bytes", len(s))
	}
	return nil
}

// isToken reports whether s is 1..max characters of [A-Za-z0-9_-].
func isToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isHexSerial(s string) bool {
	if len(s) > 128 {
		return false
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
			digits++
		case c == ':':
		default:
			return false
		}
	}
	return digits > 0
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// checkText refuses invalid UTF-8 and control characters (NUL included).
func checkText(param, s string) error {
	if !utf8.ValidString(s) {
		return errf(ErrMalformed, param, "not UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return errf(ErrMalformed, param, "control character %U", r)
		}
	}
	return nil
}

// checkDoc refuses what could make the displayed text lie: control and
// format characters (bidirectional overrides, zero-width joiners).
// CheckDoc checks a display text by the rules of doc: UTF-8, at most
// MaxDocLength characters, no control or formatting characters. A signing
// package's document names follow the same rules.
func CheckDoc(s string) error { return checkDoc(s) }

func checkDoc(s string) error {
	if !utf8.ValidString(s) {
		return errf(ErrDoc, ParamDoc, "not UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > MaxDocLength {
		return errf(ErrDoc, ParamDoc, "%d characters, at most %d", n, MaxDocLength)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return errf(ErrDoc, ParamDoc, "control or formatting character %U", r)
		}
	}
	return nil
}

// CheckOrg checks an org value (PROTOCOL 1.1 §1): UTF-8, at most
// MaxOrgLength characters, every one printable (unicode.IsPrint: no
// control, bidirectional or other format characters, no spaces but
// U+0020), not blank. Errors wrap ErrOrg.
func CheckOrg(s string) error {
	if !utf8.ValidString(s) {
		return errf(ErrOrg, ParamOrg, "not UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > MaxOrgLength {
		return errf(ErrOrg, ParamOrg, "%d characters, at most %d", n, MaxOrgLength)
	}
	if strings.TrimSpace(s) == "" {
		return errf(ErrOrg, ParamOrg, "blank")
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return errf(ErrOrg, ParamOrg, "character %U is not printable (control, format or bidirectional)", r)
		}
	}
	return nil
}

// IsLoopback reports whether host (without port) is one of the loopback
// names for which plain http is allowed: 127.0.0.1, ::1, localhost.
func IsLoopback(host string) bool {
	return host == "127.0.0.1" || host == "::1" || strings.EqualFold(host, "localhost")
}

// ValidateCallbackURL checks raw as a callbackUrl: an absolute https URL, or
// http to a loopback host; printable ASCII only; no user info (the
// "https://portal@evil" trick), no fragment; an ASCII host name (IDNs in
// their xn-- form) or an IP literal. It returns the parsed URL.
func ValidateCallbackURL(raw string) (*url.URL, error) {
	return checkURL(ParamCallbackURL, ErrCallbackURL, raw)
}

func checkURL(param string, sentinel error, raw string) (*url.URL, error) {
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c >= 0x7f {
			return nil, errf(sentinel, param, "byte %#x at %d: only printable ASCII (percent-encode the rest, write IDNs as xn--)", c, i)
		}
		if raw[i] == '\\' {
			return nil, errf(sentinel, param, "backslash")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errf(sentinel, param, "%v", err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, errf(sentinel, param, "scheme %q: https only", u.Scheme)
	case !strings.HasPrefix(raw[len(u.Scheme):], "://"), u.Opaque != "":
		return nil, errf(sentinel, param, "not an absolute URL")
	case u.User != nil:
		return nil, errf(sentinel, param, "user info is not allowed")
	case strings.Contains(raw, "#"):
		return nil, errf(sentinel, param, "fragment is not allowed")
	case u.Host == "":
		return nil, errf(sentinel, param, "no host")
	}
	host := u.Hostname()
	if strings.HasPrefix(u.Host, "[") {
		ip := net.ParseIP(host)
		if ip == nil || ip.To4() != nil || strings.Contains(host, "%") {
			return nil, errf(sentinel, param, "bad IPv6 literal %q", host)
		}
	} else if !isHostName(host) {
		return nil, errf(sentinel, param, "bad host %q (write IDNs as xn--)", host)
	} else if numericTLD(host) && net.ParseIP(host) == nil {
		// 2130706433, 0x7f.1, 127.1: IPv4 in forms browsers accept but
		// nobody displays honestly.
		return nil, errf(sentinel, param, "host %q: write an IPv4 address as a dotted quad", host)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || p[0] == '0' {
			return nil, errf(sentinel, param, "bad port %q", p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, errf(sentinel, param, "empty port")
	}
	if u.Scheme == "http" && !IsLoopback(host) {
		return nil, errf(sentinel, param, "plain http only to 127.0.0.1, ::1 or localhost")
	}
	return u, nil
}

// isHostName reports whether h is a DNS name of ASCII letters, digits and
// hyphens, or a dotted IPv4 address.
func isHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// numericTLD reports whether the last label of h is all digits.
func numericTLD(h string) bool {
	h = strings.TrimSuffix(h, ".")
	last := h[strings.LastIndexByte(h, '.')+1:]
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return last != ""
}

// originOf is the canonical origin of u: lower-case scheme and host, the
// port only when not the scheme's default.
func originOf(u *url.URL) string {
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	if u.Scheme == "https" && port == "443" || u.Scheme == "http" && port == "80" {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return u.Scheme + "://" + host
}

// OriginOf returns the canonical origin (scheme://host[:port]) of an
// absolute URL that ValidateCallbackURL accepts.
func OriginOf(rawURL string) (string, error) {
	u, err := ValidateCallbackURL(rawURL)
	if err != nil {
		return "", err
	}
	return originOf(u), nil
}

// checkOrigin requires an origin in canonical form, so what the app shows is
// exactly what the callback is compared with.
func checkOrigin(o string) error {
	u, err := checkURL(ParamOrigin, ErrOrigin, o)
	if err != nil {
		return err
	}
	if c := originOf(u); c != o {
		return errf(ErrOrigin, ParamOrigin, "%q is not canonical: want %q (no path, lower case, no default port)", o, c)
	}
	return nil
}

// checkPackageParams checks pkgUrl and pkgSha256: both or neither, the URL
// https (http to loopback), at most MaxPackageURLLength bytes, the digest 64
// lower-case hex digits. A legacy link has no origin to bind a package to.
func checkPackageParams(r *Request, legacy bool) error {
	if r.PackageURL == "" && r.PackageSHA256 == "" {
		return nil
	}
	if r.PackageURL == "" {
		return errf(ErrMissingParam, ParamPackageURL, "pkgSha256 without pkgUrl")
	}
	if r.PackageSHA256 == "" {
		return errf(ErrMissingParam, ParamPackageSHA256, "pkgUrl without pkgSha256")
	}
	if legacy {
		return errf(ErrMissingParam, ParamOrigin, "a link with a signing package needs origin and exp")
	}
	if len(r.PackageURL) > MaxPackageURLLength {
		return errf(ErrPackageParam, ParamPackageURL, "%d bytes, at most %d", len(r.PackageURL), MaxPackageURLLength)
	}
	if _, err := checkURL(ParamPackageURL, ErrPackageParam, r.PackageURL); err != nil {
		return err
	}
	if !isLowerHex(r.PackageSHA256, 64) {
		return errf(ErrPackageParam, ParamPackageSHA256, "want 64 lower-case hex digits")
	}
	return nil
}
