package main

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
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

func (c *pdfCommon) register(fs interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
	IntVar(*int, string, int, string)
}, signing bool) {
	fs.StringVar(&c.level, "level", "B-B", "PAdES level: B-B, B-T, B-LT or B-LTA")
	fs.StringVar(&c.tsa, "tsa", "", "RFC 3161 TSA URL (needed from B-T on)")
	fs.StringVar(&c.extra, "extra-certs", "", "PEM file of further certificates (e.g. the root) for B-LT validation data")
	fs.BoolVar(&c.asJSON, "json", false, "print the result as JSON")
	fs.StringVar(&c.passwordEnv, "password-env", "", passwordEnvUsage)
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

const passwordEnvUsage = "environment variable holding the PDF's password (only for documents encrypted with a user password)"

// pdfPassword reads the document password named by --password-env.
func pdfPassword(e *env, name string) ([]byte, error) {
	if name == "" {
		return nil, nil
	}
	pw, err := secretFromEnv(e, name)
	if err != nil {
		return nil, fmt.Errorf("--password-env: %w", err)
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
	fs := newFlagSet(e, "pdf sign", "pdf sign --in IN --out OUT (--p12 FILE --p12-pass-env VAR | --pkcs11-module PATH --token-label L --pin-env VAR [--key-label L]) [flags]")
	in := fs.String("in", "", "input PDF")
	out := fs.String("out", "", "output PDF (written atomically)")
	p12 := fs.String("p12", "", "PKCS#12 file with key and certificates")
	p12Pass := fs.String("p12-pass-env", "", "environment variable holding the PKCS#12 password")
	module := fs.String("pkcs11-module", "", "PKCS#11 module path")
	tokenLabel := fs.String("token-label", "", "token label")
	pinEnv := fs.String("pin-env", "", "environment variable holding the token PIN")
	keyLabel := fs.String("key-label", "", "key label on the token (default: the only key)")
	chain := fs.String("chain", "", "PEM intermediates to embed (tokens often hold only the leaf)")
	var c pdfCommon
	c.register(fs, true)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *in == "" || *out == "" || (*p12 == "") == (*module == "") {
		fs.Usage()
		return 2
	}
	opts, err := c.options(e)
	if err != nil {
		return fail(e, "pdf sign", err)
	}
	defer clear(opts.Password)
	var s signer.Signer
	if *p12 != "" {
		pass := ""
		if *p12Pass != "" {
			if pass, err = secretFromEnv(e, *p12Pass); err != nil {
				return fail(e, "pdf sign", err)
			}
		}
		data, err := os.ReadFile(*p12)
		if err != nil {
			return fail(e, "pdf sign", err)
		}
		if s, err = signer.LoadPKCS12(data, pass); err != nil {
			return fail(e, "pdf sign", err)
		}
	} else {
		pin, err := secretFromEnv(e, *pinEnv)
		if err != nil {
			return fail(e, "pdf sign", err)
		}
		m, err := signer.OpenModule(ctx, *module)
		if err != nil {
			return fail(e, "pdf sign", err)
		}
		defer m.Close()
		pinb := []byte(pin)
		s, err = m.Signer(ctx, signer.TokenSelector{Label: *tokenLabel}, signer.KeySelector{KeyLabel: *keyLabel}, pinb)
		clear(pinb)
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

// printRepaired says, on its own line, that the input was rewritten
// before signing.
func printRepaired(e *env, info pdf.SignInfo) {
	if info.Repaired {
		fmt.Fprintf(e.stdout, "repaired: the input was rewritten once as a clean full save before signing (%s)\n", info.Reason)
	}
}

func runPDFPrepare(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "pdf prepare", "pdf prepare --in IN --cert CERT.pem [--chain CHAIN.pem] --state STATE [--prepared FILE] [flags]")
	in := fs.String("in", "", "input PDF")
	certPath := fs.String("cert", "", "signer certificate (PEM)")
	chainPath := fs.String("chain", "", "intermediate certificates (PEM)")
	state := fs.String("state", "", "where to write the state for finish")
	prepared := fs.String("prepared", "", "where to write the prepared PDF (default STATE.pdf)")
	var c pdfCommon
	c.register(fs, true)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *in == "" || *certPath == "" || *state == "" {
		fs.Usage()
		return 2
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
	fs := newFlagSet(e, "pdf finish", "pdf finish --state STATE --signature-base64 B64 --out OUT [--prepared FILE] [--tsa URL] [flags]")
	state := fs.String("state", "", "state written by pdf prepare")
	sigB64 := fs.String("signature-base64", "", "the signature over the digest (base64; ECDSA DER or r||s)")
	out := fs.String("out", "", "signed PDF (written atomically; the prepared file is kept)")
	prepared := fs.String("prepared", "", "prepared PDF (default STATE.pdf)")
	var c pdfCommon
	c.register(fs, false)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *state == "" || *sigB64 == "" || *out == "" {
		fs.Usage()
		return 2
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
	fs := newFlagSet(e, "pdf extend", "pdf extend --in IN --out OUT --level B-LT|B-LTA [--tsa URL] [--extra-certs ROOT.pem]")
	in := fs.String("in", "", "signed input PDF")
	out := fs.String("out", "", "output PDF (written atomically)")
	var c pdfCommon
	c.register(fs, false)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *in == "" || *out == "" {
		fs.Usage()
		return 2
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
	fs := newFlagSet(e, "pdf verify", "pdf verify --in IN [--trust ROOT.pem]... [--tsa-trust TSA.pem]... [--ocsp-responder CA.pem=RESPONDER.pem]... [--online] [--at RFC3339] [--json]")
	in := fs.String("in", "", "PDF to validate")
	var trust, tsaTrust, responders multiFlag
	fs.Var(&trust, "trust", "PEM file of trust anchors (repeatable)")
	fs.Var(&tsaTrust, "tsa-trust", "PEM file of TSA anchors or TSA certificates: only these may date signatures (default: --trust); repeatable")
	fs.Var(&responders, "ocsp-responder", "ISSUER.pem=RESPONDERS.pem: for that CA's certificates only its key and these responder certificates answer OCSP; repeatable")
	online := fs.Bool("online", false, "fetch OCSP/CRL online when the document has no revocation data")
	asJSON := fs.Bool("json", false, "print the validation report as JSON")
	passwordEnv := fs.String("password-env", "", passwordEnvUsage)
	at := fs.String("at", "", "validate as of this time (RFC 3339, e.g. 2026-01-31T12:00:00Z) instead of now")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *in == "" {
		fs.Usage()
		return 2
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
