package deeplink

import (
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Action is what a link asks the signing app to do.
type Action string

const (
	// ActionSign asks the app to sign the digests of the link.
	ActionSign Action = "sign"
	// ActionRegister asks the app to prove possession of a key and report
	// its certificate, by signing [RegisterDigest].
	ActionRegister Action = "register"
)

// Limits of the protocol.
const (
	// MaxLinkLength is the longest link, in bytes.
	MaxLinkLength = 2048
	// MaxHashes is the largest batch of digests in one link. In practice
	// MaxLinkLength binds first: a signed link with a short callback URL
	// holds 28 SHA-256 or 16 SHA-512 digests.
	MaxHashes = 50
	// MaxLifetime is how far ahead of its making a link's exp may be.
	MaxLifetime = 15 * time.Minute
	// ClockSkew is how much further ahead than MaxLifetime Parse tolerates
	// exp, because the portal's and the app's clocks differ.
	ClockSkew = time.Minute
	// MaxDocLength is the longest doc, in characters.
	MaxDocLength = 200
	// MaxOrgLength is the longest org, in characters.
	MaxOrgLength = 80
	// ChallengeSize is the size of a register challenge, in bytes.
	ChallengeSize = 32
	// MaxPackageURLLength is the longest pkgUrl, in bytes.
	MaxPackageURLLength = 512
)

// Parameter names, as they appear in a link.
const (
	ParamRequestID    = "requestId"
	ParamHash         = "hashBase64"
	ParamHashAlgo     = "hashAlgo"
	ParamDocumentType = "documentType"
	ParamCallbackURL  = "callbackUrl"
	ParamOrigin       = "origin"
	ParamExp          = "exp"
	ParamDoc          = "doc"
	ParamOrg          = "org"
	ParamAPIKey       = "apiKey"
	ParamCertSerial   = "certSerial"
	ParamCertSHA256   = "certSha256"
	ParamChallenge    = "challenge"
	ParamKID          = "kid"
	ParamSig          = "sig"
	// ParamPackageURL and ParamPackageSHA256 name a signing package
	// (protocol 1.2 §6, deeplink/sigpkg).
	ParamPackageURL    = "pkgUrl"
	ParamPackageSHA256 = "pkgSha256"
)

var knownParams = []string{ParamRequestID, ParamHash, ParamHashAlgo, ParamDocumentType, ParamCallbackURL,
	ParamOrigin, ParamExp, ParamDoc, ParamOrg, ParamAPIKey, ParamCertSerial, ParamCertSHA256, ParamChallenge, ParamKID, ParamSig,
	ParamPackageURL, ParamPackageSHA256}

func isKnownParam(name string) bool { return slices.Contains(knownParams, name) }

// Request is the content of a link.
type Request struct {
	Action    Action
	RequestID string
	// Hashes are the digests to sign (sign only), in link order; the
	// signatures of the result come back in the same order.
	Hashes [][]byte
	// HashAlgo is SHA256, SHA384 or SHA512 for sign links (zero means
	// SHA256 when building), zero for register links.
	HashAlgo crypto.Hash
	// DocumentType is "" (absent, meaning "hash") or "hash".
	DocumentType string
	CallbackURL  string
	// Origin is the portal's origin, scheme://host[:port] in canonical form
	// (lower case, no default port). Legacy links have none; Parse then
	// derives it from CallbackURL.
	Origin string
	// Expires is exp, to the second. Zero only in legacy links.
	Expires time.Time
	// Doc says what is being signed, for display.
	Doc string
	// Org is the display name of the organisation asking (PROTOCOL 1.1
	// §1): at most 80 printable characters. An app shows it, above the
	// origin, only when the link's signature verifies; a gateway sets it
	// from the tenant's name, which only its operator sets.
	Org string
	// APIKey is a publishable integrator key id (ss_pk_…); it grants nothing.
	APIKey string
	// CertSerial is the hex serial of the expected certificate, as written.
	CertSerial string
	// CertSHA256 is the lower-case hex SHA-256 of the expected certificate.
	CertSHA256 string
	// Challenge is the register challenge, 32 bytes (register only).
	Challenge []byte
	// PackageURL is where the signing package is fetched (pkgUrl, protocol
	// 1.2 §6; sign only): https, or http to a loopback host. With a
	// package, Hashes may be empty: the app then signs the digests the
	// package proves, and PackageSHA256 binds them to the link.
	PackageURL string
	// PackageSHA256 is the lower-case hex SHA-256 of the package's bytes
	// (pkgSha256); present exactly when PackageURL is.
	PackageSHA256 string
	// Extra holds parameters this version does not know. The app ignores
	// them, but sig covers them.
	Extra url.Values
}

// HashAlgoName is the protocol's hashAlgo name of h ("SHA256", "SHA384",
// "SHA512"); false for any other hash.
func HashAlgoName(h crypto.Hash) (string, bool) {
	switch h {
	case crypto.SHA256:
		return "SHA256", true
	case crypto.SHA384:
		return "SHA384", true
	case crypto.SHA512:
		return "SHA512", true
	}
	return "", false
}

// ParseHashAlgo is the hash a protocol hashAlgo name stands for; false for
// any other name.
func ParseHashAlgo(s string) (crypto.Hash, bool) {
	switch s {
	case "SHA256":
		return crypto.SHA256, true
	case "SHA384":
		return crypto.SHA384, true
	case "SHA512":
		return crypto.SHA512, true
	}
	return 0, false
}

// param is one name=value pair of a link, decoded.
type param struct{ name, value string }

// Build writes req as a link. With a key, the link carries kid and sig;
// without one it is unsigned. A request without Origin and Expires and
// without key makes a legacy link (what existing integrations send).
// Build checks every rule Parse checks, except that exp lies in the future.
func Build(req *Request, key *SigningKey) (string, error) {
	if req == nil {
		return "", errf(ErrMalformed, "", "nil request")
	}
	legacy := req.Origin == "" && req.Expires.IsZero() && key == nil
	r := *req
	if r.Action == ActionSign && r.HashAlgo == 0 {
		r.HashAlgo = crypto.SHA256
	}
	if err := validate(&r, legacy); err != nil {
		return "", err
	}
	if !legacy && r.Expires.After(time.Now().Add(MaxLifetime)) {
		return "", errf(ErrExpiry, ParamExp, "more than %v ahead", MaxLifetime)
	}
	if strings.HasPrefix(r.APIKey, "ss_live_") || strings.HasPrefix(r.APIKey, "ss_test_") {
		return "", errf(ErrAPIKey, ParamAPIKey, "a secret API key must never appear in a link; use the publishable ss_pk_ id")
	}
	ps := requestParams(&r)
	if key != nil {
		if err := key.check(); err != nil {
			return "", err
		}
		ps = append(ps, param{ParamKID, key.KID})
	}
	var b strings.Builder
	b.Grow(escapedLen(r.Action, ps) + 128) // + kid's name and sig
	b.WriteString(Scheme + "://" + string(r.Action) + "?")
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('&')
		}
		writeEscaped(&b, p.name)
		b.WriteByte('=')
		writeEscaped(&b, p.value)
	}
	if key != nil {
		sig := ed25519.Sign(key.Key, []byte(canonical(r.Action, ps)))
		b.WriteString("&" + ParamSig + "=" + base64.RawURLEncoding.EncodeToString(sig))
	}
	link := b.String()
	if len(link) > MaxLinkLength {
		return "", errf(ErrTooLong, "", "%d bytes, at most %d", len(link), MaxLinkLength)
	}
	return link, nil
}

// requestParams lists the parameters of r in link order (sig and kid aside).
func requestParams(r *Request) []param {
	var ps []param
	add := func(name, value string) {
		if value != "" {
			ps = append(ps, param{name, value})
		}
	}
	add(ParamRequestID, r.RequestID)
	for _, h := range r.Hashes {
		ps = append(ps, param{ParamHash, base64.StdEncoding.EncodeToString(h)})
	}
	if n, ok := HashAlgoName(r.HashAlgo); ok && r.Action == ActionSign {
		add(ParamHashAlgo, n)
	}
	add(ParamDocumentType, r.DocumentType)
	add(ParamCallbackURL, r.CallbackURL)
	add(ParamOrigin, r.Origin)
	if !r.Expires.IsZero() {
		add(ParamExp, strconv.FormatInt(r.Expires.Unix(), 10))
	}
	add(ParamDoc, r.Doc)
	add(ParamOrg, r.Org)
	add(ParamAPIKey, r.APIKey)
	add(ParamCertSerial, r.CertSerial)
	add(ParamCertSHA256, r.CertSHA256)
	add(ParamPackageURL, r.PackageURL)
	add(ParamPackageSHA256, r.PackageSHA256)
	if r.Challenge != nil {
		add(ParamChallenge, base64.RawURLEncoding.EncodeToString(r.Challenge))
	}
	names := make([]string, 0, len(r.Extra))
	for n := range r.Extra {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, v := range r.Extra[n] {
			ps = append(ps, param{n, v})
		}
	}
	return ps
}

// Scheme is the URL scheme of links.
const Scheme = "securesign"

// canonical is the text sig covers: "securesign://ACTION?" and every
// parameter but sig, sorted by name then value (bytes of the decoded
// strings), each escaped with [escape], joined by "&".
func canonical(action Action, ps []param) string {
	sorted := make([]param, 0, len(ps))
	for _, p := range ps {
		if p.name != ParamSig {
			sorted = append(sorted, p)
		}
	}
	slices.SortFunc(sorted, func(a, b param) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	var b strings.Builder
	b.Grow(escapedLen(action, sorted))
	b.WriteString(Scheme + "://" + string(action) + "?")
	for i, p := range sorted {
		if i > 0 {
			b.WriteByte('&')
		}
		writeEscaped(&b, p.name)
		b.WriteByte('=')
		writeEscaped(&b, p.value)
	}
	return b.String()
}

// escapedLen is the length of "securesign://ACTION?" and ps written with
// writeEscaped, joined by '&'.
func escapedLen(action Action, ps []param) int {
	n := len(Scheme) + len("://") + len(action) + len("?")
	for _, p := range ps {
		n += len("&=") + len(p.name) + len(p.value)
		for i := 0; i < len(p.name); i++ {
			if !unreserved(p.name[i]) {
				n += 2
			}
		}
		for i := 0; i < len(p.value); i++ {
			if !unreserved(p.value[i]) {
				n += 2
			}
		}
	}
	if len(ps) > 0 {
		n-- // no '&' before the first
	}
	return n
}

// writeEscaped writes escape(s) to b.
func writeEscaped(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for len(s) > 0 {
		i := 0
		for i < len(s) && unreserved(s[i]) {
			i++
		}
		b.WriteString(s[:i])
		if i == len(s) {
			return
		}
		c := s[i]
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
		s = s[i+1:]
	}
}

// escape percent-encodes s per RFC 3986: unreserved characters stay, every
// other byte becomes %XX in upper case.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
