//go:build !signonly

package main

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/securesign/securesign/internal/atomicfile"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/pki/cadir"
	"github.com/securesign/securesign/signer"
)

// caPassEnv names the environment variable holding the CA directory's
// passphrase. Unset means plain key files (development only).
const caPassEnv = "SECURESIGN_CA_PASS"

func runPKI(ctx context.Context, e *env, args []string) int {
	return subcommand(e, "pki", args, map[string]func([]string) int{
		"init":   func(a []string) int { return runPKIInit(ctx, e, a) },
		"issue":  func(a []string) int { return runPKIIssue(ctx, e, a) },
		"revoke": func(a []string) int { return runPKIRevoke(ctx, e, a) },
		"crl":    func(a []string) int { return runPKICRL(ctx, e, a) },
		"serve":  func(a []string) int { return runPKIServe(ctx, e, a) },
	}, map[string]string{
		"init":   "create a CA directory: root, issuing CA, OCSP responder, TSA",
		"issue":  "issue a certificate from a CSR or for a generated key (PKCS#12 out)",
		"revoke": "revoke a certificate by serial with an RFC 5280 reason",
		"crl":    "write the current CRL",
		"serve":  "serve OCSP (/ocsp), TSA (/tsa), CRL (/crl) and the CA chain (/ca.pem)",
	})
}

const pkiDirHelp = `
The CA directory's keys are encrypted with the passphrase in $SECURESIGN_CA_PASS.
Without it, keys are stored in PLAIN files (0600): for development only.`

func caPassphrase(e *env) []byte {
	if v := e.getenv(caPassEnv); v != "" {
		return []byte(v)
	}
	return nil
}

func openCADir(ctx context.Context, e *env, dir, baseURL string) (*pki.CA, error) {
	if dir == "" {
		return nil, errors.New("--dir is required")
	}
	return cadir.Open(ctx, dir, cadir.Options{Passphrase: caPassphrase(e), BaseURL: baseURL})
}

func pkiNoArgs(e *env, cmd string, fsArgs []string) bool {
	if len(fsArgs) > 0 {
		fmt.Fprintf(e.stderr, "securesign %s: unexpected argument %q\n", cmd, fsArgs[0])
		return false
	}
	return true
}

type pkiInitJSON struct {
	Dir       string `json:"dir"`
	Root      string `json:"root"`
	Issuing   string `json:"issuing"`
	KeyType   string `json:"keyType"`
	Encrypted bool   `json:"encrypted"`
	BaseURL   string `json:"baseURL,omitempty"`
}

func runPKIInit(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "pki init", "pki init --dir DIR [--key-type ecdsa-p256|ecdsa-p384|rsa-3072|rsa-4096] [--base-url URL] [--name NAME] [--org ORG] [--policy-oid OID] [--json]\n"+pkiDirHelp)
	dir := fs.String("dir", "", "CA directory to create (must be new or empty)")
	key := fs.String("key-type", "ecdsa-p256", "CA key type: ecdsa-p256, ecdsa-p384, rsa-3072 or rsa-4096")
	alias(fs, "key", "key-type")
	baseURL := fs.String("base-url", "http://127.0.0.1:8480", "URL where `pki serve` will be reachable; written into certificates (OCSP, CRL, CA issuers)")
	name := fs.String("name", "SecureSign", "CA name, prefix of the CA common names")
	org := fs.String("org", "", "organisation in the CA subjects (default: the name)")
	policy := fs.String("policy-oid", "", "certificate policy OID of signing certificates (default: an example dev OID)")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !pkiNoArgs(e, "pki init", fs.Args()) {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(e.stderr, "securesign pki init: --dir is required")
		return 2
	}
	kt, err := pki.ParseKeyType(*key)
	if err != nil || kt == pki.RSA2048 {
		return fail(e, "pki init", fmt.Errorf("--key-type %q: want ecdsa-p256, ecdsa-p384, rsa-3072 or rsa-4096", *key))
	}
	o := cadir.Options{Passphrase: caPassphrase(e), KeyType: kt, BaseURL: *baseURL, Name: *name, Organization: *org}
	if *policy != "" {
		if o.PolicyOID, err = pki.ParseOID(*policy); err != nil {
			return fail(e, "pki init", err)
		}
	}
	if o.Passphrase == nil {
		fmt.Fprintf(e.stderr, "securesign pki init: WARNING: %s is not set: CA keys are stored UNENCRYPTED (development only)\n", caPassEnv)
	}
	ca, err := cadir.Init(ctx, *dir, o)
	if err != nil {
		return fail(e, "pki init", err)
	}
	defer ca.Close()
	out := pkiInitJSON{Dir: *dir, Root: ca.Root().Subject.CommonName, Issuing: ca.Certificate().Subject.CommonName,
		KeyType: string(kt), Encrypted: o.Passphrase != nil, BaseURL: *baseURL}
	if *asJSON {
		if err := printJSON(e.stdout, out); err != nil {
			return fail(e, "pki init", err)
		}
		return 0
	}
	fmt.Fprintf(e.stdout, "created CA in %s\n  root:    %s\n  issuing: %s\n  keys:    %s (encrypted: %v)\n  chain:   %s\n",
		*dir, out.Root, out.Issuing, kt, out.Encrypted, filepath.Join(*dir, "root.pem")+", "+filepath.Join(*dir, "ca.pem"))
	return 0
}

type pkiIssueJSON struct {
	Serial   string    `json:"serial"`
	Subject  string    `json:"subject"`
	Profile  string    `json:"profile"`
	NotAfter time.Time `json:"notAfter"`
	Out      string    `json:"out"`
	P12      string    `json:"p12,omitempty"`
}

func runPKIIssue(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "pki issue", "pki issue --dir DIR (--csr FILE | --keygen rsa-2048 --p12-out FILE --p12-password-env VAR) [--profile NAME] --subject-cn CN [--subject-o O ...] --out CERT.pem [--json]\n\n"+
		"The subject comes from the flags (the verified record), never from the CSR.\n"+
		"Profiles: individual-signing (default; needs --subject-st, --subject-postal-code, C=IN), document-signer (needs --subject-o), tsa, ocsp.\n"+
		"CERT.pem gets the certificate followed by the issuing CA certificate.\n"+pkiDirHelp)
	dir := fs.String("dir", "", "CA directory")
	csrFile := fs.String("csr", "", "PEM or DER certificate request")
	keygen := fs.String("keygen", "", "generate the key here instead: rsa-2048, rsa-3072, ecdsa-p256, ecdsa-p384")
	p12Out := fs.String("p12-out", "", "with --keygen: write key, certificate and chain to this PKCS#12 file")
	p12PassEnv := fs.String("p12-password-env", "", "with --keygen: environment variable holding the PKCS#12 file's password")
	alias(fs, "p12-pass-env", "p12-password-env")
	profile := fs.String("profile", pki.ProfileIndividualSigning, "certificate profile")
	out := fs.String("out", "", "write the certificate (PEM) here")
	var s pki.Subject
	fs.StringVar(&s.CommonName, "subject-cn", "", "subject common name (required)")
	fs.StringVar(&s.Organization, "subject-o", "", "subject organisation")
	fs.StringVar(&s.OrganizationalUnit, "subject-ou", "", "subject organisational unit")
	fs.StringVar(&s.Locality, "subject-l", "", "subject locality")
	fs.StringVar(&s.State, "subject-st", "", "subject state")
	fs.StringVar(&s.PostalCode, "subject-postal-code", "", "subject postal code")
	fs.StringVar(&s.Country, "subject-c", "", "subject country (the signing profiles fix IN)")
	fs.StringVar(&s.Pseudonym, "subject-pseudonym", "", "subject pseudonym")
	fs.StringVar(&s.SerialNumber, "subject-serial", "", "subject serialNumber attribute")
	fs.StringVar(&s.Email, "subject-email", "", "e-mail address (subject alternative name)")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !pkiNoArgs(e, "pki issue", fs.Args()) {
		return 2
	}
	usage := func(msg string) int {
		fmt.Fprintf(e.stderr, "securesign pki issue: %s\n", msg)
		return 2
	}
	switch {
	case *dir == "":
		return usage("--dir is required")
	case *out == "":
		return usage("--out is required")
	case s.CommonName == "":
		return usage("--subject-cn is required")
	case (*csrFile == "") == (*keygen == ""):
		return usage("give exactly one of --csr and --keygen")
	case *keygen != "" && (*p12Out == "" || *p12PassEnv == ""):
		return usage("--keygen needs --p12-out and --p12-password-env")
	case *csrFile != "" && (*p12Out != "" || *p12PassEnv != ""):
		return usage("--p12-out and --p12-password-env go with --keygen")
	}
	// Read every input before touching the CA, so a mistake changes nothing.
	var (
		csr     []byte
		p12Pass string
		err     error
	)
	if *csrFile != "" {
		if csr, err = os.ReadFile(*csrFile); err != nil {
			return fail(e, "pki issue", err)
		}
	} else if p12Pass, err = secretFromEnv(e, *p12PassEnv); err != nil {
		return fail(e, "pki issue", fmt.Errorf("--p12-password-env: %w", err))
	}
	ca, err := openCADir(ctx, e, *dir, "")
	if err != nil {
		return fail(e, "pki issue", err)
	}
	defer ca.Close()
	res := pkiIssueJSON{Profile: *profile, Out: *out}
	if csr != nil {
		cert, err := ca.IssueCSR(ctx, csr, s, *profile)
		if err != nil {
			return fail(e, "pki issue", err)
		}
		if err := writeCertOut(*out, cert.Raw, ca); err != nil {
			return fail(e, "pki issue", err)
		}
		res.Serial, res.Subject, res.NotAfter = signer.FormatSerial(cert.SerialNumber), cert.Subject.String(), cert.NotAfter
	} else {
		kt, err := pki.ParseKeyType(*keygen)
		if err != nil {
			return fail(e, "pki issue", err)
		}
		if _, err := ca.Profile(*profile); err != nil {
			return fail(e, "pki issue", err)
		}
		key, err := pki.GenerateKey(kt)
		if err != nil {
			return fail(e, "pki issue", err)
		}
		cert, err := ca.Issue(ctx, key.Public(), s, *profile)
		if err != nil {
			return fail(e, "pki issue", err)
		}
		p12, err := pkcs12.Modern.Encode(key, cert, ca.ChainCerts(), p12Pass)
		if err != nil {
			return fail(e, "pki issue", err)
		}
		if err := atomicfile.WriteBytes(*p12Out, p12, 0o600); err != nil {
			return fail(e, "pki issue", err)
		}
		if err := writeCertOut(*out, cert.Raw, ca); err != nil {
			return fail(e, "pki issue", err)
		}
		res.Serial, res.Subject, res.NotAfter, res.P12 = signer.FormatSerial(cert.SerialNumber), cert.Subject.String(), cert.NotAfter, *p12Out
	}
	if *asJSON {
		if err := printJSON(e.stdout, res); err != nil {
			return fail(e, "pki issue", err)
		}
		return 0
	}
	fmt.Fprintf(e.stdout, "issued %s\n  serial:   %s\n  profile:  %s\n  notAfter: %s\n  written:  %s\n", res.Subject, res.Serial, res.Profile, res.NotAfter.Format(time.RFC3339), res.Out)
	if res.P12 != "" {
		fmt.Fprintf(e.stdout, "  pkcs12:   %s\n", res.P12)
	}
	return 0
}

func writeCertOut(path string, der []byte, ca *pki.CA) error {
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Certificate().Raw})...)
	return atomicfile.WriteBytes(path, data, 0o644)
}

func runPKIRevoke(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "pki revoke", "pki revoke --dir DIR --serial HEX --reason R [--json]\n\n"+
		"Reasons (RFC 5280): unspecified, keyCompromise, cACompromise, affiliationChanged, superseded,\n"+
		"cessationOfOperation, privilegeWithdrawn, aACompromise (or their numbers).\n"+pkiDirHelp)
	dir := fs.String("dir", "", "CA directory")
	serialHex := fs.String("serial", "", "certificate serial number, hex")
	reasonS := fs.String("reason", "unspecified", "revocation reason")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !pkiNoArgs(e, "pki revoke", fs.Args()) {
		return 2
	}
	if *dir == "" || *serialHex == "" {
		fmt.Fprintln(e.stderr, "securesign pki revoke: --dir and --serial are required")
		return 2
	}
	serial, err := signer.ParseSerial(*serialHex)
	if err != nil {
		return fail(e, "pki revoke", err)
	}
	reason, err := pki.ParseReason(*reasonS)
	if err != nil {
		return fail(e, "pki revoke", err)
	}
	ca, err := openCADir(ctx, e, *dir, "")
	if err != nil {
		return fail(e, "pki revoke", err)
	}
	defer ca.Close()
	if err := ca.Revoke(ctx, serial, reason); err != nil {
		return fail(e, "pki revoke", err)
	}
	if *asJSON {
		if err := printJSON(e.stdout, map[string]string{"serial": fmt.Sprintf("%X", serial), "reason": pki.ReasonName(reason)}); err != nil {
			return fail(e, "pki revoke", err)
		}
		return 0
	}
	fmt.Fprintf(e.stdout, "revoked %X (%s)\n", serial, pki.ReasonName(reason))
	return 0
}

func runPKICRL(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "pki crl", "pki crl --dir DIR --out FILE [--pem]\n"+pkiDirHelp)
	dir := fs.String("dir", "", "CA directory")
	out := fs.String("out", "", "write the CRL here (DER unless --pem)")
	asPEM := fs.Bool("pem", false, "write PEM instead of DER")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !pkiNoArgs(e, "pki crl", fs.Args()) {
		return 2
	}
	if *dir == "" || *out == "" {
		fmt.Fprintln(e.stderr, "securesign pki crl: --dir and --out are required")
		return 2
	}
	ca, err := openCADir(ctx, e, *dir, "")
	if err != nil {
		return fail(e, "pki crl", err)
	}
	defer ca.Close()
	der, err := ca.CRL(ctx)
	if err != nil {
		return fail(e, "pki crl", err)
	}
	if *asPEM {
		der = pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	}
	if err := atomicfile.WriteBytes(*out, der, 0o644); err != nil {
		return fail(e, "pki crl", err)
	}
	return 0
}

func runPKIServe(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "pki serve", "pki serve --dir DIR [--listen ADDR] [--base-url URL]\n\n"+
		"Serves /ocsp (RFC 6960, GET and POST), /tsa (RFC 3161), /crl (DER), /ca.pem (issuing CA chain\n"+
		"up to and including the root) and /ca.crt until interrupted.\n"+pkiDirHelp)
	dir := fs.String("dir", "", "CA directory")
	listen := fs.String("listen", "127.0.0.1:8480", "address to listen on")
	baseURL := fs.String("base-url", "", "override the base URL written into new certificates")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !pkiNoArgs(e, "pki serve", fs.Args()) {
		return 2
	}
	ca, err := openCADir(ctx, e, *dir, *baseURL)
	if err != nil {
		return fail(e, "pki serve", err)
	}
	defer ca.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fail(e, "pki serve", err)
	}
	srv := &http.Server{
		Handler:           ca.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	fmt.Fprintf(e.stderr, "securesign pki serve: listening on http://%s\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fail(e, "pki serve", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			return fail(e, "pki serve", err)
		}
		return 0
	}
}
