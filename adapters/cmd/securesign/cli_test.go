package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/securesign/securesign/internal/softhsmtest"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

// runCLI runs the whole command line in-process.
func runCLI(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}
	code := run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

// flagHelpCase is what a command's -h must say about its flag names.
type flagHelpCase struct {
	cmd       []string
	current   []string // listed as flags
	oldToNew  []string // named in the footnote
	notListed []string
}

func TestFlagHelpNamesAndAliases(t *testing.T) {
	testFlagHelp(t, []flagHelpCase{
		{[]string{"pdf", "sign"}, []string{"-module", "-p12-password-env", "-pdf-password-env", "-cert-serial", "-cert-sha256", "-token-serial", "-key string", "-cert string"},
			[]string{"--pkcs11-module (now --module)", "--p12-pass-env (now --p12-password-env)", "--password-env (now --pdf-password-env)"},
			[]string{"  -pkcs11-module string", "  -p12-pass-env string", "  -password-env string"}},
		{[]string{"pdf", "verify"}, []string{"-pdf-password-env"}, []string{"--password-env (now --pdf-password-env)"}, []string{"  -password-env string"}},
		{[]string{"pdf", "extend"}, []string{"-pdf-password-env"}, []string{"--password-env (now --pdf-password-env)"}, nil},
		{[]string{"token", "sign"}, []string{"-module", "-cert-serial", "-cert-sha256"}, []string{"--pkcs11-module (now --module)"}, nil},
	})
}

func testFlagHelp(t *testing.T, cases []flagHelpCase) {
	for _, tc := range cases {
		t.Run(strings.Join(tc.cmd, " "), func(t *testing.T) {
			code, _, stderr := runCLI(t, nil, append(tc.cmd, "-h")...)
			if code != 0 {
				t.Fatalf("-h: exit %d", code)
			}
			for _, w := range append(tc.current, tc.oldToNew...) {
				if !strings.Contains(stderr, w) {
					t.Errorf("help lacks %q:\n%s", w, stderr)
				}
			}
			for _, w := range tc.notListed {
				if strings.Contains(stderr, w) {
					t.Errorf("help lists the old name %q as a flag", w)
				}
			}
		})
	}
}

func TestParseInterspersedAndFileArgs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		in, out string
		json    bool
		pass    string
		wantErr string
	}{
		{"flags", []string{"--in", "a.pdf", "--out", "b.pdf"}, "a.pdf", "b.pdf", false, "", ""},
		{"positional", []string{"a.pdf", "b.pdf"}, "a.pdf", "b.pdf", false, "", ""},
		{"flags after files", []string{"a.pdf", "b.pdf", "--json", "--p12-password-env", "P"}, "a.pdf", "b.pdf", true, "P", ""},
		{"alias between files", []string{"a.pdf", "--p12-pass-env=P", "b.pdf"}, "a.pdf", "b.pdf", false, "P", ""},
		{"mixed", []string{"--out", "b.pdf", "a.pdf"}, "a.pdf", "b.pdf", false, "", ""},
		{"same both ways", []string{"--in", "a.pdf", "a.pdf"}, "a.pdf", "", false, "", ""},
		{"dash dash", []string{"--json", "--", "-odd.pdf"}, "-odd.pdf", "", true, "", ""},
		{"conflict", []string{"--in", "a.pdf", "c.pdf", "b.pdf"}, "", "", false, "", "given both as --in a.pdf and as argument \"c.pdf\""},
		{"too many", []string{"a.pdf", "b.pdf", "c.pdf"}, "", "", false, "", "unexpected argument \"c.pdf\""},
		{"value missing", []string{"a.pdf", "--out"}, "", "", false, "", "parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(&bytes.Buffer{})
			in, out := fs.String("in", "", ""), fs.String("out", "", "")
			asJSON := fs.Bool("json", false, "")
			pass := fs.String("p12-password-env", "", "")
			alias(fs, "p12-pass-env", "p12-password-env")
			if code, ok := parseInterspersed(fs, tc.args); !ok {
				if tc.wantErr == "parse" && code == 2 {
					return
				}
				t.Fatalf("parse: exit %d", code)
			}
			if tc.wantErr == "parse" {
				t.Fatalf("parsed %v, want a usage error", tc.args)
			}
			err := fileArgs(fs, fileArg{in, "in", "the input PDF"}, fileArg{out, "out", "the output PDF"})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []any{*in, *out, *asJSON, *pass}
			if d := cmp.Diff([]any{tc.in, tc.out, tc.json, tc.pass}, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestPDFSignKeyFilesAndPositional(t *testing.T) {
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.P256, testpki.Options{CommonName: "Asha Rao"})
	p12, err := pkcs12.Modern.Encode(leaf.Key, leaf.Cert, leaf.Chain, "secret")
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(leaf.Key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	for n, b := range map[string][]byte{
		"in.pdf":   minimalPDF(),
		"user.p12": p12,
		"key.pem":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		"cert.pem": testpki.PEM(append([]*x509.Certificate{leaf.Cert}, leaf.Chain...)...),
		"root.pem": testpki.PEM(h.Root.Cert),
	} {
		if err := os.WriteFile(p(n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	vars := map[string]string{"P12PASS": "secret", "WRONG": "nope"}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string // substring wanted on stdout
		stderr string // substring wanted on stderr
	}{
		{"positional files", []string{"pdf", "sign", "--p12", p("user.p12"), "--p12-password-env", "P12PASS", p("in.pdf"), p("a.pdf")}, 0, "signed " + p("a.pdf"), ""},
		{"files first, old flag name", []string{"pdf", "sign", p("in.pdf"), p("b.pdf"), "--p12", p("user.p12"), "--p12-pass-env", "P12PASS"}, 0, "as Asha Rao", ""},
		{"PEM key and certificate", []string{"pdf", "sign", "--key", p("key.pem"), "--cert", p("cert.pem"), "--in", p("in.pdf"), "--out", p("c.pdf")}, 0, "as Asha Rao", ""},
		{"verify positional", []string{"pdf", "verify", p("a.pdf"), "--trust", p("root.pem")}, 0, "TOTAL_PASSED", ""},
		{"verify positional, flags first", []string{"pdf", "verify", "--trust", p("root.pem"), p("c.pdf")}, 0, "TOTAL_PASSED", ""},
		{"verify no file", []string{"pdf", "verify", "--trust", p("root.pem")}, 2, "", "give the PDF to validate"},
		{"no password variable named", []string{"pdf", "sign", "--p12", p("user.p12"), p("in.pdf"), p("x.pdf")}, 1, "", "password-protected: name the environment variable holding its password with --p12-password-env"},
		{"password variable unset", []string{"pdf", "sign", "--p12", p("user.p12"), "--p12-password-env", "UNSET", p("in.pdf"), p("x.pdf")}, 1, "", "--p12-password-env: environment variable UNSET is empty or unset"},
		{"wrong password", []string{"pdf", "sign", "--p12", p("user.p12"), "--p12-password-env", "WRONG", p("in.pdf"), p("x.pdf")}, 1, "", "the password in $WRONG is incorrect"},
		{"PEM given as --p12", []string{"pdf", "sign", "--p12", p("key.pem"), p("in.pdf"), p("x.pdf")}, 1, "", "this is a PEM file, not PKCS#12: give the key as --key KEY.pem"},
		{"p12 given as --key", []string{"pdf", "sign", "--key", p("user.p12"), p("in.pdf"), p("x.pdf")}, 1, "", "not a PEM file (a .p12/.pfx file goes with --p12)"},
		{"two key sources", []string{"pdf", "sign", "--p12", p("user.p12"), "--key", p("key.pem"), p("in.pdf"), p("x.pdf")}, 2, "", "exactly one key source"},
		{"token selector without module", []string{"pdf", "sign", "--p12", p("user.p12"), "--cert-serial", "01", p("in.pdf"), p("x.pdf")}, 2, "", "give --module too"},
		{"input twice", []string{"pdf", "sign", "--p12", p("user.p12"), "--in", p("in.pdf"), p("other.pdf"), p("x.pdf")}, 2, "", "given both as --in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, vars, tc.args...)
			if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout %q, stderr %q", code, tc.code, stdout, stderr, tc.stdout, tc.stderr)
			}
			if strings.Contains(stderr, "asn1") || strings.Contains(stderr, "secret") {
				t.Errorf("stderr leaks internals or the password: %s", stderr)
			}
		})
	}
	if _, err := os.Stat(p("x.pdf")); !os.IsNotExist(err) {
		t.Errorf("a refused command left x.pdf behind (%v)", err)
	}
}

func TestPDFSignTokenCertSelection(t *testing.T) {
	tok := softhsmtest.New(t)
	h := testpki.NewHierarchy(t)
	ravi := h.Issue(t, testpki.RSA2048, testpki.Options{CommonName: "Ravi Iyer"})
	meera := h.Issue(t, testpki.P256, testpki.Options{CommonName: "Meera Das"})
	tok.Import(t, "ravi", ravi.Key, ravi.Cert)
	tok.Import(t, "meera", meera.Key, meera.Cert)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, minimalPDF(), 0o600); err != nil {
		t.Fatal(err)
	}
	chain := filepath.Join(dir, "chain.pem")
	if err := os.WriteFile(chain, testpki.PEM(ravi.Chain...), 0o600); err != nil {
		t.Fatal(err)
	}
	meeraSHA := sha256.Sum256(meera.Cert.Raw)
	vars := map[string]string{"PIN": tok.PIN}
	for i, tc := range []struct {
		name   string
		args   []string
		code   int
		output string
	}{
		{"by serial", []string{"--cert-serial", signer.FormatSerial(ravi.Cert.SerialNumber)}, 0, "as Ravi Iyer"},
		{"by SHA-256", []string{"--cert-sha256", hex.EncodeToString(meeraSHA[:])}, 0, "as Meera Das"},
		{"by SHA-256 with colons, token serial", []string{"--token-serial", tok.Serial, "--cert-sha256", strings.ToUpper(colonHex(meeraSHA[:]))}, 0, "as Meera Das"},
		{"by key label, old module flag", []string{"--key-label", "ravi", "--pkcs11-module", tok.Module}, 0, "as Ravi Iyer"},
		{"two keys, none chosen", nil, 1, ""},
		{"unknown serial", []string{"--cert-serial", "0BAD"}, 1, "certificate not found"},
		{"two selectors", []string{"--cert-serial", "01", "--key-label", "ravi"}, 2, "only one of"},
		{"bad thumbprint", []string{"--cert-sha256", "abcd"}, 2, "64 hex digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "out"+string(rune('a'+i))+".pdf")
			args := []string{"pdf", "sign", in, out, "--token-label", tok.Label, "--pin-env", "PIN", "--chain", chain}
			if !strings.Contains(strings.Join(tc.args, " "), "--pkcs11-module") {
				args = append(args, "--module", tok.Module)
			}
			code, stdout, stderr := runCLI(t, vars, append(args, tc.args...)...)
			if code != tc.code || !strings.Contains(stdout+stderr, tc.output) {
				t.Errorf("exit %d (want %d), want %q\nstdout: %s\nstderr: %s", code, tc.code, tc.output, stdout, stderr)
			}
		})
	}
}

func colonHex(b []byte) string {
	var parts []string
	for _, c := range b {
		parts = append(parts, hex.EncodeToString([]byte{c}))
	}
	return strings.Join(parts, ":")
}

func TestLinkKeygenKidInKeyFile(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "link.pem")
	for _, tc := range []struct {
		name    string
		keygen  []string
		build   []string
		wantKID string
	}{
		{"default kid", nil, nil, "link-"},
		{"chosen kid", []string{"--kid", "portal-7"}, nil, "portal-7"},
		{"--kid overrides", []string{"--kid", "portal-7"}, []string{"--kid", "portal-8"}, "portal-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, jwks, stderr := runCLI(t, nil, append([]string{"link", "keygen", "--force", "--out", key}, tc.keygen...)...)
			if code != 0 {
				t.Fatalf("keygen: %s", stderr)
			}
			var ks struct{ Keys []struct{ Kid string } }
			if err := json.Unmarshal([]byte(jwks), &ks); err != nil || len(ks.Keys) != 1 {
				t.Fatalf("jwks %s: %v", jwks, err)
			}
			args := append([]string{"link", "build", "--json", "--hash-base64", "dpLDrTVAu4A8Ags67mbNiIcSMjTqDG5xQ8Ct1z/0Me0=",
				"--callback-url", "https://portal.example.in/cb", "--key", key}, tc.build...)
			code, out, stderr := runCLI(t, nil, args...)
			if code != 0 {
				t.Fatalf("build without --kid: %s", stderr)
			}
			var b struct{ Link string }
			_ = json.Unmarshal([]byte(out), &b)
			_, parsed, _ := runCLI(t, nil, "link", "parse", "--json", b.Link)
			var lp linkParseOutput
			_ = json.Unmarshal([]byte(parsed), &lp)
			if !strings.HasPrefix(lp.KID, tc.wantKID) {
				t.Errorf("link kid %q, want %q…", lp.KID, tc.wantKID)
			}
			if len(tc.build) == 0 && lp.KID != ks.Keys[0].Kid {
				t.Errorf("link kid %q, JWKS kid %q", lp.KID, ks.Keys[0].Kid)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/securesign/securesign", Version: "v0.0.0-20261207165000-0123456789ab+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.time", Value: "2026-12-07T16:50:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	goRun := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/securesign/securesign", Version: "(devel)"}}
	for _, tc := range []struct {
		name   string
		bi     *debug.BuildInfo
		ld     string
		want   buildVersion
		output []string
	}{
		{"go build in a checkout", stamped, "", buildVersion{Version: "v0.0.0-20261207165000-0123456789ab+dirty", Module: "github.com/securesign/securesign", Go: "go1.26.0", Protocol: "1.1",
			Revision: "0123456789abcdef", Time: "2026-12-07T16:50:00Z", Modified: true},
			[]string{"revision: 0123456789abcdef with uncommitted changes", "time:     2026-12-07T16:50:00Z", "module:   github.com/securesign/securesign"}},
		{"ldflags version", stamped, "v1.2.0", buildVersion{Version: "v1.2.0", Module: "github.com/securesign/securesign", Go: "go1.26.0", Protocol: "1.1",
			Revision: "0123456789abcdef", Time: "2026-12-07T16:50:00Z", Modified: true}, []string{"securesign v1.2.0 (go1.26.0"}},
		{"go run", goRun, "", buildVersion{Version: "(devel)", Module: "github.com/securesign/securesign", Go: "go1.26.0", Protocol: "1.1", NoVCS: true},
			[]string{"securesign (devel)", "no VCS stamp in this binary (go run, go test, -buildvcs=false and"}},
		{"no build info", nil, "", buildVersion{Version: "(devel)", Protocol: "1.1", NoVCS: true}, []string{"no VCS stamp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := readVersion(tc.bi, tc.ld)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
			for _, w := range tc.output {
				if !strings.Contains(got.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
		})
	}
	// The test binary itself has no VCS stamp: the command says so.
	code, out, _ := runCLI(t, nil, "version")
	if code != 0 || !strings.Contains(out, "revision: unknown: no VCS stamp") {
		t.Errorf("version: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, nil, "version", "--json")
	var v buildVersion
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Protocol != "1.1" || !v.NoVCS {
		t.Errorf("version --json: exit %d\n%s", code, out)
	}
}
