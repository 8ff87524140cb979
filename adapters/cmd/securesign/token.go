package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/securesign/securesign/signer"
)

func runToken(ctx context.Context, e *env, args []string) int {
	return subcommand(e, "token", args, map[string]func([]string) int{
		"list":    func(a []string) int { return runTokenList(ctx, e, a) },
		"sign":    func(a []string) int { return runTokenSign(ctx, e, a) },
		"modules": func(a []string) int { return runTokenModules(e, a) },
	}, map[string]string{
		"list":    "list a PKCS#11 module's tokens and their certificates (no PIN needed)",
		"sign":    "log in to a token and sign a digest given in base64",
		"modules": "list the well-known PKCS#11 modules and which exist here",
	})
}

// tokenListJSON is one module's part of `token list --json`.
type tokenListJSON struct {
	Module string           `json:"module"`
	Tokens []tokenEntryJSON `json:"tokens"`
	Error  string           `json:"error,omitempty"`
}

type tokenEntryJSON struct {
	signer.TokenInfo
	Certificates []signer.CertInfo `json:"certificates"`
	Error        string            `json:"error,omitempty"`
}

func runTokenList(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "token list", "token list [--module PATH] [--json]\n\nWithout --module, every well-known module found on this machine is listed.")
	module := fs.String("module", "", "path of the PKCS#11 module (.so, .dll, .dylib)")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "securesign token list: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	paths := []string{*module}
	if *module == "" {
		paths = signer.FindModules()
		if len(paths) == 0 {
			return fail(e, "token list", errors.New("no well-known PKCS#11 module found here; give one with --module PATH (see `securesign token modules`)"))
		}
	}
	var out []tokenListJSON
	ok := 0
	for _, p := range paths {
		res, err := listModule(ctx, p)
		if err != nil {
			if *module != "" {
				return fail(e, "token list", err)
			}
			// A found module that does not load (no reader daemon, a
			// SoftHSM without configuration) must not hide the others.
			res.Error = err.Error()
		} else {
			ok++
		}
		out = append(out, res)
	}
	if ok == 0 {
		fmt.Fprintln(e.stderr, "securesign token list: no module could be listed")
	}
	if *asJSON {
		if err := printJSON(e.stdout, out); err != nil {
			return fail(e, "token list", err)
		}
		if ok == 0 {
			return 1
		}
		return 0
	}
	for _, m := range out {
		printModule(e.stdout, m)
	}
	if ok == 0 {
		return 1
	}
	return 0
}

func listModule(ctx context.Context, path string) (tokenListJSON, error) {
	res := tokenListJSON{Module: path, Tokens: []tokenEntryJSON{}}
	m, err := signer.OpenModule(ctx, path)
	if err != nil {
		return res, err
	}
	defer m.Close()
	toks, err := m.Tokens(ctx)
	if err != nil {
		return res, err
	}
	for _, t := range toks {
		entry := tokenEntryJSON{TokenInfo: t, Certificates: []signer.CertInfo{}}
		if t.Present && t.Initialized {
			certs, err := m.Certificates(ctx, signer.TokenSelector{Label: t.Label, Serial: t.Serial})
			if err != nil {
				entry.Error = err.Error()
			} else {
				entry.Certificates = certs
			}
		}
		res.Tokens = append(res.Tokens, entry)
	}
	return res, nil
}

func printModule(w io.Writer, m tokenListJSON) {
	fmt.Fprintf(w, "Module %s\n", m.Module)
	if m.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", m.Error)
		return
	}
	if len(m.Tokens) == 0 {
		fmt.Fprintln(w, "  (no slots)")
	}
	for _, t := range m.Tokens {
		switch {
		case !t.Present:
			fmt.Fprintf(w, "  Slot %q: no token\n", t.SlotDescription)
			continue
		case !t.Initialized:
			fmt.Fprintf(w, "  Slot %q: blank token (not initialized), %s %s\n", t.SlotDescription, t.Manufacturer, t.Model)
			continue
		}
		fmt.Fprintf(w, "  Token %q serial %s (%s %s) PIN: %s\n", t.Label, t.Serial, t.Manufacturer, t.Model, pinState(t.TokenInfo))
		if t.Error != "" {
			fmt.Fprintf(w, "    error: %s\n", t.Error)
		}
		if len(t.Certificates) == 0 && t.Error == "" {
			fmt.Fprintln(w, "    (no certificates)")
		}
		for _, c := range t.Certificates {
			ca := ""
			if c.IsCA {
				ca = " [CA]"
			}
			fmt.Fprintf(w, "    Certificate %q%s\n", c.Label, ca)
			fmt.Fprintf(w, "      Subject CN:  %s\n", c.SubjectCN)
			fmt.Fprintf(w, "      Issuer CN:   %s\n", c.IssuerCN)
			fmt.Fprintf(w, "      Serial:      %s\n", c.SerialHex)
			fmt.Fprintf(w, "      Valid until: %s\n", c.NotAfter.UTC().Format("2006-01-02 15:04:05 MST"))
			fmt.Fprintf(w, "      Key usage:   %s\n", strings.Join(c.KeyUsage, ", "))
			fmt.Fprintf(w, "      Key:         %s\n", c.KeyType)
			fmt.Fprintf(w, "      SHA-256:     %s\n", c.SHA256)
		}
	}
}

func pinState(t signer.TokenInfo) string {
	switch {
	case t.PINLocked:
		return "LOCKED"
	case t.PINFinalTry:
		return "final try"
	case t.PINCountLow:
		return "count low"
	case t.PINToBeChanged:
		return "must be changed"
	}
	return "ok"
}

func runTokenSign(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "token sign", "token sign --module PATH (--token-label L | --token-serial S) (--cert-serial HEX | --cert-sha256 HEX | --key-label L)\n"+
		"       [--pin-env VAR] [--hash-alg SHA256] [--algo RSA-PKCS1-v1_5|RSA-PSS|ECDSA] --hash-base64 B64 [--json]\n\n"+
		"Signs a precomputed digest and prints the signature in base64 (ECDSA: ASN.1 DER).\n"+
		"Without --module, the only well-known module found here is used.\n"+
		"The PIN comes from the environment variable named by --pin-env, or a prompt on a terminal; never from argv.")
	var k keyFlags
	k.register(fs)
	hashAlg := fs.String("hash-alg", "SHA256", "hash that made the digest: SHA256, SHA384 or SHA512")
	algo := fs.String("algo", "", "signature algorithm: RSA-PKCS1-v1_5, RSA-PSS or ECDSA (default: by key type)")
	hashB64 := fs.String("hash-base64", "", "the digest to sign, base64")
	asJSON := fs.Bool("json", false, "print JSON with the signature, algorithm and certificate chain")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	usageErr := func(msg string) int {
		fmt.Fprintf(e.stderr, "securesign token sign: %s\n", msg)
		fs.Usage()
		return 2
	}
	if fs.NArg() > 0 {
		return usageErr(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if k.tokenLabel == "" && k.tokenSerial == "" {
		return usageErr("give --token-label or --token-serial")
	}
	if k.certSerial == "" && k.certSHA == "" && k.keyLabel == "" {
		return usageErr("give one of --cert-serial, --cert-sha256, --key-label")
	}
	if *hashB64 == "" {
		return usageErr("give --hash-base64")
	}
	hash, err := signer.ParseHash(*hashAlg)
	if err != nil {
		return usageErr(err.Error())
	}
	digest, err := decodeBase64(*hashB64)
	if err != nil {
		return usageErr("--hash-base64: " + err.Error())
	}
	if len(digest) != hash.Size() {
		return usageErr(fmt.Sprintf("--hash-base64 is %d bytes; a %s digest is %d", len(digest), *hashAlg, hash.Size()))
	}
	tsel, ksel, err := k.selectors()
	if err != nil {
		return usageErr(err.Error())
	}
	var alg signer.Algorithm
	if *algo != "" {
		if alg, err = signer.ParseAlgorithm(*algo); err != nil {
			return usageErr(err.Error())
		}
	}
	path := k.module
	if path == "" {
		found := signer.FindModules()
		if len(found) != 1 {
			return usageErr(fmt.Sprintf("give --module PATH (%d well-known modules found here)", len(found)))
		}
		path = found[0]
	}
	pin, err := readTokenPIN(e, k.pinEnv)
	if err != nil {
		return fail(e, "token sign", err)
	}
	defer clear(pin)

	m, err := signer.OpenModule(ctx, path)
	if err != nil {
		return fail(e, "token sign", err)
	}
	defer m.Close()
	s, err := m.Signer(ctx, tsel, ksel, pin)
	if err != nil {
		return fail(e, "token sign", err)
	}
	defer s.(io.Closer).Close()
	if alg == "" {
		alg = signer.DefaultAlgorithm(s.Public())
	}
	sig, err := signer.SignDigest(ctx, s, alg, hash, digest)
	if err != nil {
		return fail(e, "token sign", err)
	}
	if *asJSON {
		chain := []string{}
		for _, c := range s.Chain() {
			chain = append(chain, base64.StdEncoding.EncodeToString(c.Raw))
		}
		err = printJSON(e.stdout, map[string]any{
			"signatureBase64":   base64.StdEncoding.EncodeToString(sig),
			"signAlgo":          alg,
			"hashAlgo":          strings.ToUpper(strings.ReplaceAll(hash.String(), "-", "")),
			"certificateBase64": base64.StdEncoding.EncodeToString(s.Certificate().Raw),
			"certSerial":        signer.FormatSerial(s.Certificate().SerialNumber),
			"chainBase64":       chain,
		})
		if err != nil {
			return fail(e, "token sign", err)
		}
		return 0
	}
	fmt.Fprintln(e.stdout, base64.StdEncoding.EncodeToString(sig))
	return 0
}

// keyFlags are the flags that choose a PKCS#11 module, a token on it and a
// key on the token: the same names wherever a token key is used.
type keyFlags struct {
	module, tokenLabel, tokenSerial string
	certSerial, certSHA, keyLabel   string
	pinEnv                          string
}

func (k *keyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&k.module, "module", "", "path of the PKCS#11 module (.so, .dll, .dylib)")
	alias(fs, "pkcs11-module", "module")
	fs.StringVar(&k.tokenLabel, "token-label", "", "select the token by label")
	fs.StringVar(&k.tokenSerial, "token-serial", "", "select the token by serial")
	fs.StringVar(&k.certSerial, "cert-serial", "", "select the key by its certificate's serial, in hex (as 'securesign token list' and 'openssl x509 -serial' print it)")
	fs.StringVar(&k.certSHA, "cert-sha256", "", "select the key by its certificate's SHA-256 thumbprint, in hex (as 'securesign token list' prints it)")
	fs.StringVar(&k.keyLabel, "key-label", "", "select the key by its CKA_LABEL")
	fs.StringVar(&k.pinEnv, "pin-env", "", "name of the environment variable holding the token PIN")
}

// selectors returns the token and key selectors; at most one of
// --cert-serial, --cert-sha256 and --key-label may be given (none selects
// the token's only key).
func (k *keyFlags) selectors() (signer.TokenSelector, signer.KeySelector, error) {
	tsel := signer.TokenSelector{Label: k.tokenLabel, Serial: k.tokenSerial}
	var ksel signer.KeySelector
	n := 0
	for _, s := range []string{k.certSerial, k.certSHA, k.keyLabel} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return tsel, ksel, errors.New("give only one of --cert-serial, --cert-sha256, --key-label")
	}
	var err error
	switch {
	case k.certSerial != "":
		if ksel.CertSerial, err = signer.ParseSerial(k.certSerial); err != nil {
			return tsel, ksel, fmt.Errorf("--cert-serial: %w", err)
		}
	case k.certSHA != "":
		if ksel.CertSHA256, err = decodeThumbprint(k.certSHA); err != nil {
			return tsel, ksel, fmt.Errorf("--cert-sha256: %w", err)
		}
	default:
		ksel.KeyLabel = k.keyLabel
	}
	return tsel, ksel, nil
}

// readTokenPIN reads the PIN from the environment variable pinEnv, or
// prompts for it when stdin is a terminal. The PIN is never echoed.
func readTokenPIN(e *env, pinEnv string) ([]byte, error) {
	if pinEnv != "" {
		v, err := secretFromEnv(e, pinEnv)
		if err != nil {
			return nil, err
		}
		return []byte(v), nil
	}
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, errors.New("no PIN: give --pin-env VAR (stdin is not a terminal to prompt on)")
	}
	fmt.Fprint(e.stderr, "Token PIN: ")
	pin, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return nil, fmt.Errorf("reading the PIN: %w", err)
	}
	if len(pin) == 0 {
		return nil, errors.New("empty PIN")
	}
	return pin, nil
}

// decodeBase64 accepts standard and URL-safe base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

func decodeThumbprint(s string) ([]byte, error) {
	s = strings.NewReplacer(":", "", " ", "").Replace(strings.TrimSpace(s))
	var b []byte
	if _, err := fmt.Sscanf(s, "%x", &b); err != nil || len(b) != 32 || len(s) != 64 {
		return nil, errors.New("want 64 hex digits")
	}
	return b, nil
}

func runTokenModules(e *env, args []string) int {
	fs := newFlagSet(e, "token modules", "token modules [--os linux|windows|darwin] [--json]")
	goos := fs.String("os", "", "list the table for this OS instead of finding modules here")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *goos != "" {
		mods := signer.KnownModules(*goos)
		if *asJSON {
			if err := printJSON(e.stdout, mods); err != nil {
				return fail(e, "token modules", err)
			}
			return 0
		}
		for _, m := range mods {
			fmt.Fprintf(e.stdout, "%s (%s)\n", m.Name, m.Vendor)
			for _, p := range m.Paths {
				fmt.Fprintf(e.stdout, "  %s\n", p)
			}
		}
		return 0
	}
	found := signer.FindModules()
	if *asJSON {
		if found == nil {
			found = []string{}
		}
		if err := printJSON(e.stdout, map[string][]string{"found": found}); err != nil {
			return fail(e, "token modules", err)
		}
		return 0
	}
	if len(found) == 0 {
		fmt.Fprintln(e.stderr, "no well-known PKCS#11 module found; `securesign token modules --os linux` lists where they are looked for")
		return 1
	}
	for _, p := range found {
		fmt.Fprintln(e.stdout, p)
	}
	return 0
}
