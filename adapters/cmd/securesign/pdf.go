package main

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/securesign/securesign/internal/atomicfile"
	"github.com/securesign/securesign/pdf"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

func runPDF(ctx context.Context, e *env, args []string) int {
	return subcommand(e, "pdf", args, map[string]func([]string) int{
		"sign":    func(a []string) int { return runPDFSign(ctx, e, a) },
		"prepare": func(a []string) int { return runPDFPrepare(ctx, e, a) },
		"finish":  func(a []string) int { return runPDFFinish(ctx, e, a) },
		"extend":  func(a []string) int { return runPDFExtend(ctx, e, a) },
		"verify":  func(a []string) int { return runPDFVerify(ctx, e, a) },
	}, map[string]string{
		"sign":    "sign a PDF with a PKCS#12 file or a PKCS#11 token (PAdES B-B … B-LTA)",
		"prepare": "two-phase signing, phase one: write a prepared PDF, print the digest to sign",
		"finish":  "two-phase signing, phase two: embed the signature made over the digest",
		"extend":  "add validation data (B-LT) and a document timestamp (B-LTA) to a signed PDF",
		"verify":  "validate every signature of a PDF (exit 0 only if all are TOTAL_PASSED)",
	})
}

// pdfCommon are the flags shared by sign, finish and extend.
type pdfCommon struct {
	level, tsa, reason, location, contact, extra string
	visible                                      bool
	page                                         int
	rect, image, field                           string
	certify, asJSON                              bool
	passwordEnv                                  string
}

func (c *pdfCommon) register(fs *flag.FlagSet, signing bool) {
	fs.StringVar(&c.level, "level", "B-B", "PAdES level: B-B, B-T, B-LT or B-LTA")
	fs.StringVar(&c.tsa, "tsa", "", "RFC 3161 TSA URL (needed from B-T on)")
	fs.StringVar(&c.extra, "extra-certs", "", "PEM file of further certificates (e.g. the root) for B-LT validation data")
	fs.BoolVar(&c.asJSON, "json", false, "print the result as JSON")
	fs.StringVar(&c.passwordEnv, "pdf-password-env", "", passwordEnvUsage)
	alias(fs, "password-env", "pdf-password-env")
	if !signing {
		return
	}
	fs.StringVar(&c.reason, "reason", "", "reason for signing")
	fs.StringVar(&c.location, "location", "", "place of signing")
	fs.StringVar(&c.contact, "contact", "", "signer's contact information")
	fs.BoolVar(&c.visible, "visible", false, "make the signature visible")
	fs.IntVar(&c.page, "page", 1, "page of a visible signature")
	fs.StringVar(&c.rect, "rect", "36,36,220,70", "x,y,width,height of a visible signature, in points")
	fs.StringVar(&c.image, "image", "", "JPEG or PNG logo for a visible signature")
	fs.StringVar(&c.field, "field", "", "name of the signature field: an existing empty signature field of that name is signed in place, else a new field gets it")
	fs.BoolVar(&c.certify, "certify", false, "certification signature (DocMDP P=2) instead of approval")
}

const passwordEnvUsage = "environment variable holding the PDF document's own password (only for documents encrypted with a user password; the key file's password is --p12-password-env)"

// pdfPassword reads the document password named by --pdf-password-env.
func pdfPassword(e *env, name string) ([]byte, error) {
	if name == "" {
		return nil, nil
	}
	pw, err := secretFromEnv(e, name)
	if err != nil {
		return nil, fmt.Errorf("--pdf-password-env: %w", err)
	}
	return []byte(pw), nil
}

func (c *pdfCommon) options(e *env) (pdf.SignOptions, error) {
	o := pdf.SignOptions{Level: pdf.Level(strings.ToUpper(c.level)), Reason: c.reason, Location: c.location,
		ContactInfo: c.contact, Certify: c.certify, FieldName: c.field}
	pw, err := pdfPassword(e, c.passwordEnv)
	if err != nil {
		return o, err
	}
	o.Password = pw
	if c.tsa != "" {
		o.Timestamper = &pki.TSAClient{URL: c.tsa}
	}
	if o.Level == pdf.LevelBLT || o.Level == pdf.LevelBLTA {
		o.Revocation = pki.NewRevocationChecker(pki.RevocationOptions{HardFail: true})
	}
	if c.extra != "" {
		certs, err := readCertsPEM(c.extra)
		if err != nil {
			return o, err
		}
		o.ExtraCertificates = certs
	}
	if c.visible {
		var v [4]float64
		parts := strings.Split(c.rect, ",")
		if len(parts) != 4 {
			return o, fmt.Errorf("--rect wants x,y,width,height, got %q", c.rect)
		}
		for i, p := range parts {
			f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil {
				return o, fmt.Errorf("--rect: %v", err)
			}
			v[i] = f
		}
		a := &pdf.Appearance{Page: c.page, X: v[0], Y: v[1], Width: v[2], Height: v[3]}
		if c.image != "" {
			b, err := os.ReadFile(c.image)
			if err != nil {
				return o, err
			}
			a.Image = b
		}
		o.Appearance = a
	}
	return o, nil
}

func readCertsPEM(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := pki.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificates", path)
	}
	return out, nil
}

// chainSigner adds intermediates to a token signer that holds only the
// leaf certificate.
type chainSigner struct {
	signer.Signer
	chain []*x509.Certificate
}

func (c chainSigner) Chain() []*x509.Certificate { return c.chain }

func runPDFSign(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "pdf sign", "pdf sign [flags] IN.pdf OUT.pdf   (or --in IN.pdf --out OUT.pdf)\n"+
		"  with a key file:  --p12 FILE [--p12-password-env VAR]   or   --key KEY.pem [--cert CERT.pem]\n"+
		"  with a token:     --module PATH [--token-label L | --token-serial S] [--cert-serial HEX | --cert-sha256 HEX | --key-label L] --pin-env VAR\n\n"+
		"Secrets come from environment variables named by the *-env flags, never from argv.\n"+
		"On a token without --cert-serial, --cert-sha256 or --key-label the only key with a certificate is used;\n"+
		"'securesign token list' shows each certificate's serial and SHA-256.")
	in := fs.String("in", "", "input PDF (or the first argument)")
	out := fs.String("out", "", "output PDF, written atomically (or the second argument)")
	p12 := fs.String("p12", "", "PKCS#12 (.p12/.pfx) file with key and certificates")
	p12Pass := fs.String("p12-password-env", "", "environment variable holding the PKCS#12 file's password")
	alias(fs, "p12-pass-env", "p12-password-env")
	keyPEM := fs.String("key", "", "PEM private key file (PKCS#8, PKCS#1 or SEC1), instead of --p12")
	certPEM := fs.String("cert", "", "with --key: PEM certificate, leaf first (default: looked for in the --key file)")
	var k keyFlags
	k.register(fs)
	chain := fs.String("chain", "", "PEM intermediates to embed (tokens often hold only the leaf)")
	var c pdfCommon
	c.register(fs, true)
	if code, ok := parseInterspersed(fs, args); !ok {
		return code
	}
	usageErr := func(msg string) int { return pdfUsage(e, fs, "pdf sign", msg) }
	if err := fileArgs(fs, fileArg{in, "in", "the input PDF"}, fileArg{out, "out", "the output PDF"}); err != nil {
		return usageErr(err.Error())
	}
	sources := 0
	for _, s := range []string{*p12, *keyPEM, k.module} {
		if s != "" {
			sources++
		}
	}
	switch {
	case *in == "" || *out == "":
		return usageErr("give the input and the output PDF")
	case sources != 1:
		return usageErr("give exactly one key source: --p12, --key or --module")
	case *certPEM != "" && *keyPEM == "":
		return usageErr("--cert goes with --key (a PKCS#12 file or a token holds its certificate)")
	case *p12Pass != "" && *p12 == "":
		return usageErr("--p12-password-env goes with --p12")
	}
	tsel, ksel, err := k.selectors()
	if err != nil {
		return usageErr(err.Error())
	}
	if k.module == "" && (tsel != signer.TokenSelector{} || ksel.KeyLabel != "" || ksel.CertSerial != nil || ksel.CertSHA256 != nil || k.pinEnv != "") {
		return usageErr("--token-label, --token-serial, --cert-serial, --cert-sha256, --key-label and --pin-env choose a token key: give --module too")
	}
	opts, err := c.options(e)
	if err != nil {
		return fail(e, "pdf sign", err)
	}
	defer clear(opts.Password)
	var s signer.Signer
	switch {
	case *p12 != "":
		if s, err = loadP12(e, *p12, *p12Pass); err != nil {
			return fail(e, "pdf sign", err)
		}
	case *keyPEM != "":
		if s, err = loadKeyPEM(*keyPEM, *certPEM); err != nil {
			return fail(e, "pdf sign", err)
		}
	default:
		pin, err := readTokenPIN(e, k.pinEnv)
		if err != nil {
			return fail(e, "pdf sign", err)
		}
		m, err := signer.OpenModule(ctx, k.module)
		if err != nil {
			clear(pin)
			return fail(e, "pdf sign", err)
		}
		defer m.Close()
		s, err = m.Signer(ctx, tsel, ksel, pin)
		clear(pin)
		if err != nil {
			return fail(e, "pdf sign", err)
		}
		if cl, ok := s.(io.Closer); ok {
			defer cl.Close()
		}
	}
	if *chain != "" {
		certs, err := readCertsPEM(*chain)
		if err != nil {
			return fail(e, "pdf sign", err)
		}
		s = chainSigner{s, certs}
	}
	start := time.Now()
	var info pdf.SignInfo
	opts.Info = &info
	if err := pdf.SignFile(ctx, *in, *out, s, opts); err != nil {
		return fail(e, "pdf sign", err)
	}
	if c.asJSON {
		res := map[string]any{"success": true, "out": *out, "level": string(opts.Level),
			"signer": s.Certificate().Subject.CommonName, "seconds": time.Since(start).Seconds(), "repaired": info.Repaired}
		if info.Repaired {
			res["repairReason"] = info.Reason
		}
		printJSON(e.stdout, res)
	} else {
		printRepaired(e, info)
		fmt.Fprintf(e.stdout, "signed %s (%s) as %s\n", *out, opts.Level, s.Certificate().Subject.CommonName)
	}
	return 0
}

// loadP12 reads a PKCS#12 file, with the password from the environment
// variable passEnv (none when passEnv is empty). The errors say what to do:
// a PEM file, a missing or unset password variable.
func loadP12(e *env, path, passEnv string) (signer.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if isPEM(data) {
		return nil, fmt.Errorf("--p12 %s: this is a PEM file, not PKCS#12: give the key as --key KEY.pem (and its certificate as --cert CERT.pem)", path)
	}
	pass := ""
	if passEnv != "" {
		// An unset variable is a mistake in the command, not a wrong password.
		if pass, err = secretFromEnv(e, passEnv); err != nil {
			return nil, fmt.Errorf("--p12-password-env: %w", err)
		}
	}
	s, err := signer.LoadPKCS12(data, pass)
	if errors.Is(err, signer.ErrPINIncorrect) {
		if passEnv == "" {
			return nil, fmt.Errorf("--p12 %s is password-protected: name the environment variable holding its password with --p12-password-env VAR", path)
		}
		return nil, fmt.Errorf("--p12 %s: the password in $%s is incorrect", path, passEnv)
	}
	if err != nil {
		return nil, fmt.Errorf("--p12 %s: %w", path, err)
	}
	return s, nil
}

// loadKeyPEM reads a PEM private key and its certificates (from certPath,
// or from the key file when certPath is empty).
func loadKeyPEM(keyPath, certPath string) (signer.Signer, error) {
	key, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	if !isPEM(key) {
		return nil, fmt.Errorf("--key %s: not a PEM file (a .p12/.pfx file goes with --p12)", keyPath)
	}
	var certs []byte
	if certPath != "" {
		if certs, err = os.ReadFile(certPath); err != nil {
			return nil, err
		}
	}
	s, err := signer.LoadPEM(key, certs, "")
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", keyPath, err)
	}
	return s, nil
}

// isPEM reports whether data starts, after blank space, with a PEM armour
// line (a PEM file may have text before it; PKCS#12 is binary DER).
func isPEM(data []byte) bool {
	b, _ := pem.Decode(data)
	return b != nil
}

// pdfUsage prints what is missing or wrong, then the usage; exit status 2.
func pdfUsage(e *env, fs *flag.FlagSet, cmd, msg string) int {
	fmt.Fprintf(e.stderr, "securesign %s: %s\n", cmd, msg)
	fs.Usage()
	return 2
}

// printRepaired says, on its own line, that the input was rewritten
// before signing.
func printRepaired(e *env, info pdf.SignInfo) {
	if info.Repaired {
		fmt.Fprintf(e.stdout, "repaired: the input was rewritten once as a clean full save before signing (%s)\n", info.Reason)
	}
}

func runPDFPrepare(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "pdf prepare", "pdf prepare [flags] --cert CERT.pem [--chain CHAIN.pem] --state STATE [--prepared FILE] IN.pdf   (or --in IN.pdf)")
	in := fs.String("in", "", "input PDF (or the argument)")
	certPath := fs.String("cert", "", "signer certificate (PEM)")
	chainPath := fs.String("chain", "", "intermediate certificates (PEM)")
	state := fs.String("state", "", "where to write the state for finish")
	prepared := fs.String("prepared", "", "where to write the prepared PDF (default STATE.pdf)")
	var c pdfCommon
	c.register(fs, true)
	if code, ok := parseInterspersed(fs, args); !ok {
		return code
	}
	if err := fileArgs(fs, fileArg{in, "in", "the input PDF"}); err != nil {
		return pdfUsage(e, fs, "pdf prepare", err.Error())
	}
	if *in == "" || *certPath == "" || *state == "" {
		return pdfUsage(e, fs, "pdf prepare", "give the input PDF, --cert and --state")
	}
	if *prepared == "" {
		*prepared = *state + ".pdf"
	}
	opts, err := c.options(e)
	if err != nil {
		return fail(e, "pdf prepare", err)
	}
	defer clear(opts.Password)
	certs, err := readCertsPEM(*certPath)
	if err != nil {
		return fail(e, "pdf prepare", err)
	}
	chain := certs[1:]
	if *chainPath != "" {
		more, err := readCertsPEM(*chainPath)
		if err != nil {
			return fail(e, "pdf prepare", err)
		}
		chain = append(chain, more...)
	}
	var info pdf.SignInfo
	opts.Info = &info
	ps, err := pdf.PrepareFile(ctx, *in, *prepared, certs[0], chain, opts)
	if err != nil {
		return fail(e, "pdf prepare", err)
	}
	b, err := ps.MarshalBinary()
	if err == nil {
		err = atomicfile.WriteBytes(*state, b, 0o600)
	}
	if err != nil {
		os.Remove(*prepared)
		return fail(e, "pdf prepare", err)
	}
	d := base64.StdEncoding.EncodeToString(ps.Digest)
	if c.asJSON {
		printJSON(e.stdout, map[string]any{"hashBase64": d, "hashAlgo": strings.ReplaceAll(ps.Hash.String(), "-", ""),
			"signAlgo": string(ps.Algorithm), "state": *state, "prepared": *prepared, "repaired": info.Repaired})
	} else {
		if info.Repaired {
			// stdout carries only the digest: scripts read it
			fmt.Fprintf(e.stderr, "repaired: the input was rewritten once as a clean full save (%s)\n", info.Reason)
		}
		fmt.Fprintln(e.stdout, d)
	}
	return 0
}

func runPDFFinish(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "pdf finish", "pdf finish [flags] --state STATE --signature-base64 B64 [--prepared FILE] [--tsa URL] OUT.pdf   (or --out OUT.pdf)")
	state := fs.String("state", "", "state written by pdf prepare")
	sigB64 := fs.String("signature-base64", "", "the signature over the digest (base64; ECDSA DER or r||s)")
	out := fs.String("out", "", "signed PDF, written atomically; the prepared file is kept (or the argument)")
	prepared := fs.String("prepared", "", "prepared PDF (default STATE.pdf)")
	var c pdfCommon
	c.register(fs, false)
	if code, ok := parseInterspersed(fs, args); !ok {
		return code
	}
	if err := fileArgs(fs, fileArg{out, "out", "the output PDF"}); err != nil {
		return pdfUsage(e, fs, "pdf finish", err.Error())
	}
	if *state == "" || *sigB64 == "" || *out == "" {
		return pdfUsage(e, fs, "pdf finish", "give --state, --signature-base64 and the output PDF")
	}
	if *prepared == "" {
		*prepared = *state + ".pdf"
	}
	opts, err := c.options(e)
	if err != nil {
		return fail(e, "pdf finish", err)
	}
	defer clear(opts.Password)
	raw, err := os.ReadFile(*state)
	if err != nil {
		return fail(e, "pdf finish", err)
	}
	var ps pdf.PreparedSignature
	if err := ps.UnmarshalBinary(raw); err != nil {
		return fail(e, "pdf finish", err)
	}
	if ps.Level == pdf.LevelBLT || ps.Level == pdf.LevelBLTA {
		opts.Revocation = pki.NewRevocationChecker(pki.RevocationOptions{HardFail: true})
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(*sigB64))
	if err != nil {
		if sig, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(*sigB64), "=")); err != nil {
			return fail(e, "pdf finish", fmt.Errorf("--signature-base64: %v", err))
		}
	}
	// Work on a copy beside OUT so the prepared file survives a failure.
	tmp, err := copyToTemp(*prepared, *out)
	if err != nil {
		return fail(e, "pdf finish", err)
	}
	if err := pdf.FinishFile(ctx, tmp, &ps, sig, opts); err != nil {
		os.Remove(tmp)
		return fail(e, "pdf finish", err)
	}
	if err := os.Rename(tmp, *out); err != nil {
		os.Remove(tmp)
		return fail(e, "pdf finish", err)
	}
	if c.asJSON {
		printJSON(e.stdout, map[string]any{"success": true, "out": *out, "level": string(ps.Level)})
	} else {
		fmt.Fprintf(e.stdout, "signed %s (%s)\n", *out, ps.Level)
	}
	return 0
}

func copyToTemp(src, beside string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(beside), "."+filepath.Base(beside)+".tmp-*")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	os.Chmod(tmp.Name(), 0o644)
	return tmp.Name(), nil
}

func runPDFExtend(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "pdf extend", "pdf extend --level B-LT|B-LTA [--tsa URL] [--extra-certs ROOT.pem] IN.pdf OUT.pdf   (or --in IN.pdf --out OUT.pdf)")
	in := fs.String("in", "", "signed input PDF (or the first argument)")
	out := fs.String("out", "", "output PDF, written atomically (or the second argument)")
	var c pdfCommon
	c.register(fs, false)
	if code, ok := parseInterspersed(fs, args); !ok {
		return code
	}
	if err := fileArgs(fs, fileArg{in, "in", "the input PDF"}, fileArg{out, "out", "the output PDF"}); err != nil {
		return pdfUsage(e, fs, "pdf extend", err.Error())
	}
	if *in == "" || *out == "" {
		return pdfUsage(e, fs, "pdf extend", "give the input and the output PDF")
	}
	opts, err := c.options(e)
	if err != nil {
		return fail(e, "pdf extend", err)
	}
	defer clear(opts.Password)
	if err := pdf.ExtendFile(ctx, *in, *out, opts.Level, opts); err != nil {
		return fail(e, "pdf extend", err)
	}
	fmt.Fprintf(e.stdout, "extended %s to %s\n", *out, opts.Level)
	return 0
}

func runPDFVerify(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "pdf verify", "pdf verify [--trust ROOT.pem]... [--tsa-trust TSA.pem]... [--ocsp-responder CA.pem=RESPONDER.pem]... [--online] [--at RFC3339] [--json] IN.pdf   (or --in IN.pdf)")
	in := fs.String("in", "", "PDF to validate (or the argument)")
	var trust, tsaTrust, responders multiFlag
	fs.Var(&trust, "trust", "PEM file of trust anchors (repeatable)")
	fs.Var(&tsaTrust, "tsa-trust", "PEM file of TSA anchors or TSA certificates: only these may date signatures (default: --trust); repeatable")
	fs.Var(&responders, "ocsp-responder", "ISSUER.pem=RESPONDERS.pem: for that CA's certificates only its key and these responder certificates answer OCSP; repeatable")
	online := fs.Bool("online", false, "fetch OCSP/CRL online when the document has no revocation data")
	asJSON := fs.Bool("json", false, "print the validation report as JSON")
	passwordEnv := fs.String("pdf-password-env", "", passwordEnvUsage)
	alias(fs, "password-env", "pdf-password-env")
	at := fs.String("at", "", "validate as of this time (RFC 3339, e.g. 2026-01-31T12:00:00Z) instead of now")
	if code, ok := parseInterspersed(fs, args); !ok {
		return code
	}
	if err := fileArgs(fs, fileArg{in, "in", "the PDF"}); err != nil {
		return pdfUsage(e, fs, "pdf verify", err.Error())
	}
	if *in == "" {
		return pdfUsage(e, fs, "pdf verify", "give the PDF to validate")
	}
	var opts pdf.VerifyOptions
	pw, err := pdfPassword(e, *passwordEnv)
	if err != nil {
		return fail(e, "pdf verify", err)
	}
	opts.Password = pw
	defer clear(pw)
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return fail(e, "pdf verify", fmt.Errorf("--at: %w (want RFC 3339, e.g. 2026-01-31T12:00:00Z)", err))
		}
		opts.Now = func() time.Time { return t }
	}
	if len(trust) > 0 {
		pool, anchors, err := pki.LoadTrustAnchors(trust...)
		if err != nil {
			return fail(e, "pdf verify", err)
		}
		for _, a := range anchors {
			if pki.NegativeSerial(a) {
				fmt.Fprintf(e.stderr, "securesign pdf verify: warning: trust anchor %q has a negative serial number (RFC 5280 forbids it); accepted\n", a.Subject.String())
			}
		}
		opts.Roots = pool
	}
	if len(tsaTrust) > 0 {
		pool, certs, err := pki.LoadTrustAnchors(tsaTrust...)
		if err != nil {
			return fail(e, "pdf verify", err)
		}
		// Self-signed: anchors; others: pinned TSA certificates.
		opts.TSARoots = pool
		for _, c := range certs {
			if !c.IsCA {
				opts.TSACertificates = append(opts.TSACertificates, c)
			}
		}
	}
	var policies []pki.ResponderPolicy
	for _, r := range responders {
		issuerFile, respFile, ok := strings.Cut(r, "=")
		if !ok {
			return fail(e, "pdf verify", fmt.Errorf("--ocsp-responder %q: want ISSUER.pem=RESPONDERS.pem", r))
		}
		_, issuers, err := pki.LoadTrustAnchors(issuerFile)
		if err != nil {
			return fail(e, "pdf verify", err)
		}
		_, resp, err := pki.LoadTrustAnchors(respFile)
		if err != nil {
			return fail(e, "pdf verify", err)
		}
		for _, is := range issuers {
			policies = append(policies, pki.PinResponders(is, resp...))
		}
	}
	if len(policies) > 0 {
		opts.OCSPResponders = func(issuer, responder *x509.Certificate) error {
			for _, p := range policies {
				if err := p(issuer, responder); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if *online {
		opts.Revocation = pki.NewRevocationChecker(pki.RevocationOptions{Responders: opts.OCSPResponders})
	}
	rep, err := pdf.VerifyFile(ctx, *in, opts)
	if err != nil {
		return fail(e, "pdf verify", err)
	}
	if *asJSON {
		if err := printJSON(e.stdout, rep); err != nil {
			return fail(e, "pdf verify", err)
		}
	} else {
		fmt.Fprintf(e.stdout, "validation time: %s\n", rep.ValidationTime)
		for _, s := range rep.Signatures {
			fmt.Fprintf(e.stdout, "%s: %s %s  signer=%q level=%s integrity=%s coverage=%s chain=%s revocation=%s\n",
				s.Field, s.Indication, s.SubIndication, s.Signer.Subject, s.Level, s.Integrity, s.Coverage, s.Chain, s.Revocation)
			printTimes(e.stdout, s)
			for _, m := range s.Messages {
				fmt.Fprintf(e.stdout, "    %s\n", m)
			}
		}
	}
	if len(rep.Signatures) == 0 {
		return fail(e, "pdf verify", errors.New("the document has no signatures"))
	}
	for _, s := range rep.Signatures {
		if s.Indication != pdf.TotalPassed {
			return 1
		}
	}
	return 0
}

// printTimes says when a signature was made, and how far that is known:
// the signing time in the signed data is whatever the signer's software
// wrote when it prepared the signature (for a token signing a prepared
// digest, minutes before the PIN), while a timestamp proves the signature
// existed at its time.
func printTimes(w io.Writer, s pdf.SignatureReport) {
	if s.SigningTime != "" {
		fmt.Fprintf(w, "    claimed signing time: %s (written when the signature was prepared; not proof)\n", s.SigningTime)
	}
	switch {
	case s.Timestamp != nil && s.Kind == pdf.KindDocumentTimestamp:
		fmt.Fprintf(w, "    timestamp: %s by %s (the document existed then)\n", s.Timestamp.Time, s.Timestamp.TSA)
	case s.Timestamp != nil:
		fmt.Fprintf(w, "    timestamp: %s by %s (the signature existed then)\n", s.Timestamp.Time, s.Timestamp.TSA)
	case s.Kind == pdf.KindSignature:
		fmt.Fprintln(w, "    no signature timestamp: nothing proves when it was signed")
	}
}
