package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/internal/atomicfile"
)

func runLink(ctx context.Context, e *env, args []string) int {
	return subcommand(e, "link", args, map[string]func([]string) int{
		"build":  func(a []string) int { return linkBuild(e, a) },
		"parse":  func(a []string) int { return linkParse(ctx, e, a) },
		"keygen": func(a []string) int { return linkKeygen(e, a) },
		"qr":     func(a []string) int { return linkQR(e, a) },
	}, map[string]string{
		"build":  "build (and sign) a securesign:// link",
		"parse":  "parse and check a link, verify its signature against a JWKS",
		"keygen": "make an Ed25519 link-signing key and print its JWKS",
		"qr":     "write a QR code of a link as PNG or SVG",
	})
}

func linkBuild(e *env, args []string) int {
	fs := newFlagSet(e, "link build", "link build --action sign --hash-base64 B64 [--hash-base64 …] --callback-url URL --origin O [flags]")
	var hashes multiFlag
	action := fs.String("action", "sign", "sign or register")
	fs.Var(&hashes, "hash-base64", "digest to sign, standard base64 (repeat for a batch)")
	hashAlg := fs.String("hash-alg", "SHA256", "SHA256, SHA384 or SHA512")
	cb := fs.String("callback-url", "", "where the app delivers the result (https, or http to loopback)")
	origin := fs.String("origin", "", "portal origin scheme://host[:port]; default: the callback URL's")
	reqID := fs.String("request-id", "", "request id, 8–64 of [A-Za-z0-9_-]; default: random")
	ttl := fs.Duration("ttl", 10*time.Minute, "lifetime of the link, at most 15m")
	doc := fs.String("doc", "", "what is being signed, for display (≤ 200 characters)")
	certSerial := fs.String("cert-serial", "", "hex serial of the expected certificate")
	certSHA := fs.String("cert-sha256", "", "lower-case hex SHA-256 of the expected certificate")
	apiKey := fs.String("api-key", "", "publishable integrator key id (ss_pk_…)")
	challenge := fs.String("challenge", "", "register: base64url challenge (32 bytes); default: random")
	keyFile := fs.String("key", "", "Ed25519 private key PEM (from link keygen) to sign the link with")
	kid := fs.String("kid", "", "key id of --key (default: the kid link keygen wrote into the key file)")
	legacy := fs.Bool("legacy", false, "build an unsigned legacy link (no origin, exp, sig)")
	asJSON := fs.Bool("json", false, "print {link, requestId, expiresAt} as JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	bad := func(err error) int { return fail(e, "link build", err) }
	r := &deeplink.Request{Action: deeplink.Action(*action), RequestID: *reqID, CallbackURL: *cb, Origin: *origin,
		Doc: *doc, CertSerial: *certSerial, CertSHA256: *certSHA, APIKey: *apiKey}
	if r.RequestID == "" {
		r.RequestID = randomID(16)
	}
	if r.Action == deeplink.ActionSign {
		h, ok := map[string]crypto.Hash{"SHA256": crypto.SHA256, "SHA384": crypto.SHA384, "SHA512": crypto.SHA512}[strings.ToUpper(strings.ReplaceAll(*hashAlg, "-", ""))]
		if !ok {
			return bad(fmt.Errorf("--hash-alg %q: want SHA256, SHA384 or SHA512", *hashAlg))
		}
		r.HashAlgo = h
		if len(hashes) == 0 {
			return bad(errors.New("--hash-base64 is required for sign"))
		}
		for _, s := range hashes {
			b, err := base64.StdEncoding.Strict().DecodeString(s)
			if err != nil {
				return bad(fmt.Errorf("--hash-base64 %q: not padded standard base64", s))
			}
			r.Hashes = append(r.Hashes, b)
		}
	} else if r.Action == deeplink.ActionRegister {
		if *challenge == "" {
			r.Challenge = make([]byte, deeplink.ChallengeSize)
			_, _ = rand.Read(r.Challenge)
		} else {
			c, err := base64.RawURLEncoding.DecodeString(*challenge)
			if err != nil {
				return bad(fmt.Errorf("--challenge: not unpadded base64url"))
			}
			r.Challenge = c
		}
	}
	if *cb == "" {
		return bad(errors.New("--callback-url is required"))
	}
	var key *deeplink.SigningKey
	if *keyFile != "" {
		data, err := os.ReadFile(*keyFile)
		if err != nil {
			return bad(err)
		}
		if *kid == "" {
			if *kid = keyFileKID(data); *kid == "" {
				return bad(fmt.Errorf("--key %s names no kid (not written by link keygen): give --kid, the kid of the key in your published JWKS", *keyFile))
			}
		}
		if key, err = deeplink.ParseSigningKeyPEM(*kid, data); err != nil {
			return bad(err)
		}
	}
	if !*legacy {
		if r.Origin == "" {
			o, err := deeplink.OriginOf(*cb)
			if err != nil {
				return bad(err)
			}
			r.Origin = o
		}
		if *ttl <= 0 || *ttl > deeplink.MaxLifetime {
			return bad(fmt.Errorf("--ttl %v: want more than 0 and at most %v", *ttl, deeplink.MaxLifetime))
		}
		r.Expires = time.Now().Add(*ttl).Truncate(time.Second)
	} else if key != nil || *origin != "" {
		return bad(errors.New("--legacy links carry no origin and no signature"))
	}
	link, err := deeplink.Build(r, key)
	if err != nil {
		return bad(err)
	}
	if *asJSON {
		out := map[string]any{"link": link, "requestId": r.RequestID, "signed": key != nil}
		if !r.Expires.IsZero() {
			out["expiresAt"] = r.Expires.UTC().Format(time.RFC3339)
		}
		if r.Challenge != nil {
			out["challenge"] = base64.RawURLEncoding.EncodeToString(r.Challenge)
		}
		_ = printJSON(e.stdout, out)
		return 0
	}
	fmt.Fprintln(e.stdout, link)
	return 0
}

// linkParseOutput is what link parse --json prints.
type linkParseOutput struct {
	Action       string              `json:"action"`
	RequestID    string              `json:"requestId"`
	Hashes       []string            `json:"hashesBase64,omitempty"`
	HashAlgo     string              `json:"hashAlgo,omitempty"`
	DocumentType string              `json:"documentType,omitempty"`
	CallbackURL  string              `json:"callbackUrl"`
	Origin       string              `json:"origin"`
	ExpiresAt    string              `json:"expiresAt,omitempty"`
	Doc          string              `json:"doc,omitempty"`
	APIKey       string              `json:"apiKey,omitempty"`
	CertSerial   string              `json:"certSerial,omitempty"`
	CertSHA256   string              `json:"certSha256,omitempty"`
	Challenge    string              `json:"challenge,omitempty"`
	Extra        map[string][]string `json:"extra,omitempty"`
	Legacy       bool                `json:"legacy"`
	Signed       bool                `json:"signed"`
	KID          string              `json:"kid,omitempty"`
	// Signature is "valid", "invalid", "unchecked" (no --jwks) or "none".
	Signature string `json:"signature"`
	Error     string `json:"error,omitempty"`
	Code      string `json:"code,omitempty"`
}

func linkParse(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "link parse", "link parse [--jwks FILE] [--require-signed] [--json] URL")
	jwksFile := fs.String("jwks", "", "JWKS file of the portal's keys to verify sig with")
	requireSigned := fs.Bool("require-signed", false, "fail for unsigned and legacy links")
	asJSON := fs.Bool("json", false, "print the parsed link as JSON")
	if code, ok := parseInterspersed(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	var keys *deeplink.KeySet
	if *jwksFile != "" {
		data, err := os.ReadFile(*jwksFile)
		if err != nil {
			return fail(e, "link parse", err)
		}
		if keys, err = deeplink.ParseKeySet(data); err != nil {
			return fail(e, "link parse", err)
		}
	}
	l, err := deeplink.Parse(fs.Arg(0), time.Now())
	if err != nil {
		if *asJSON {
			_ = printJSON(e.stdout, linkParseOutput{Signature: "none", Error: err.Error(), Code: string(callback.CodeOf(err))})
		}
		return fail(e, "link parse", err)
	}
	out := linkParseOutput{Action: string(l.Action), RequestID: l.RequestID, DocumentType: l.DocumentType,
		CallbackURL: l.CallbackURL, Origin: l.Origin, Doc: l.Doc, APIKey: l.APIKey, CertSerial: l.CertSerial,
		CertSHA256: l.CertSHA256, Extra: l.Extra, Legacy: l.Legacy, Signed: l.Signed, KID: l.KID, Signature: "none"}
	for _, h := range l.Hashes {
		out.Hashes = append(out.Hashes, base64.StdEncoding.EncodeToString(h))
	}
	if l.HashAlgo != 0 {
		out.HashAlgo = strings.ReplaceAll(l.HashAlgo.String(), "-", "")
	}
	if !l.Expires.IsZero() {
		out.ExpiresAt = l.Expires.UTC().Format(time.RFC3339)
	}
	if l.Challenge != nil {
		out.Challenge = base64.RawURLEncoding.EncodeToString(l.Challenge)
	}
	var verr error
	switch {
	case l.Signed && keys != nil:
		out.Signature = "valid"
		if verr = l.Verify(keys); verr != nil {
			out.Signature = "invalid"
		}
	case l.Signed:
		out.Signature = "unchecked"
	case *requireSigned:
		verr = fmt.Errorf("%w: policy requires signed links", deeplink.ErrUnsigned)
	}
	if verr != nil {
		out.Error, out.Code = verr.Error(), string(callback.CodeOf(verr))
	}
	if *asJSON {
		_ = printJSON(e.stdout, out)
	} else {
		w := e.stdout
		fmt.Fprintf(w, "action:      %s\nrequestId:   %s\norigin:      %s\ncallbackUrl: %s\n", out.Action, out.RequestID, out.Origin, out.CallbackURL)
		for i, h := range out.Hashes {
			fmt.Fprintf(w, "digest %d:    %s (%s)\n", i+1, h, out.HashAlgo)
		}
		for _, kv := range [][2]string{{"expires", out.ExpiresAt}, {"doc", out.Doc}, {"challenge", out.Challenge},
			{"certSerial", out.CertSerial}, {"certSha256", out.CertSHA256}, {"apiKey", out.APIKey}} {
			if kv[1] != "" {
				fmt.Fprintf(w, "%-12s %s\n", kv[0]+":", kv[1])
			}
		}
		state := out.Signature
		if l.Signed {
			state += " (kid " + l.KID + ")"
		}
		if l.Legacy {
			state += ", legacy link: origin derived from callbackUrl"
		}
		fmt.Fprintf(w, "signature:   %s\n", state)
	}
	if verr != nil {
		return fail(e, "link parse", verr)
	}
	return 0
}

func linkKeygen(e *env, args []string) int {
	fs := newFlagSet(e, "link keygen", "link keygen [--kid K] [--force] --out FILE\n\nThe kid is written into the key file; link build --key FILE finds it there.")
	out := fs.String("out", "", "where to write the private key (PEM, mode 0600)")
	kid := fs.String("kid", "", "key id; default: link-YYYYMMDD")
	force := fs.Bool("force", false, "overwrite an existing file")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if *kid == "" {
		*kid = "link-" + time.Now().UTC().Format("20060102")
	}
	if _, err := os.Stat(*out); err == nil && !*force {
		return fail(e, "link keygen", fmt.Errorf("%s exists; use --force to replace it", *out))
	}
	key, err := deeplink.NewSigningKey(*kid, nil)
	if err != nil {
		return fail(e, "link keygen", err)
	}
	p, err := key.MarshalPEM()
	if err != nil {
		return fail(e, "link keygen", err)
	}
	// The kid goes in front of the PEM block, where PEM readers (ours,
	// OpenSSL) skip text, so link build finds it without --kid.
	p = append([]byte(kidLinePrefix+*kid+"\n"), p...)
	if err := atomicfile.WriteBytes(*out, p, 0o600); err != nil {
		return fail(e, "link keygen", err)
	}
	jwks, err := json.MarshalIndent(deeplink.KeySet{Keys: []deeplink.PublicKey{key.Public()}}, "", "  ")
	if err != nil {
		return fail(e, "link keygen", err)
	}
	fmt.Fprintf(e.stdout, "%s\n", jwks)
	fmt.Fprintf(e.stderr, "private key written to %s (kid %s); publish the JWKS above at {origin}%s\n", *out, *kid, deeplink.WellKnownPath)
	return 0
}

// kidLinePrefix starts the line before a link key's PEM block that names
// its kid.
const kidLinePrefix = "SecureSign link key kid: "

// keyFileKID returns the kid link keygen wrote before the PEM block of a
// key file, or "".
func keyFileKID(data []byte) string {
	for line := range strings.Lines(string(data)) {
		if strings.HasPrefix(line, "-----BEGIN") {
			break
		}
		if k, ok := strings.CutPrefix(line, kidLinePrefix); ok {
			return strings.TrimSpace(k)
		}
	}
	return ""
}

func linkQR(e *env, args []string) int {
	fs := newFlagSet(e, "link qr", "link qr --out FILE.png|FILE.svg URL")
	out := fs.String("out", "", "output file; .png or .svg")
	if code, ok := parseInterspersed(fs, args); !ok {
		return code
	}
	if *out == "" || fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	link := fs.Arg(0)
	if _, err := deeplink.Parse(link, time.Now()); err != nil {
		return fail(e, "link qr", err)
	}
	var (
		data []byte
		err  error
	)
	switch strings.ToLower(filepath.Ext(*out)) {
	case ".png":
		data, err = deeplink.QRPNG(link)
	case ".svg":
		data, err = deeplink.QRSVG(link)
	default:
		return fail(e, "link qr", fmt.Errorf("--out %s: want a .png or .svg file", *out))
	}
	if err != nil {
		return fail(e, "link qr", err)
	}
	if err := atomicfile.WriteBytes(*out, data, 0o644); err != nil {
		return fail(e, "link qr", err)
	}
	return 0
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
