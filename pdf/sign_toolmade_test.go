package pdf

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpki"
)

// The inputs of TestSignToolMadeInputs are made by tools nobody here
// wrote (ghostscript, MuPDF, qpdf), the way real documents reach us; each
// is signed twice and judged by qpdf, poppler and openssl as well as our
// own verify.

// tmGhostscriptPDF renders a two-page document with ghostscript.
func tmGhostscriptPDF(t *testing.T, dir string) string {
	t.Helper()
	testenv.LookPath(t, "gs", "ghostscript")
	ps := filepath.Join(dir, "in.ps")
	prog := "%!PS\n/Helvetica findfont 24 scalefont setfont\n" +
		"72 700 moveto (Loan agreement, page one) show\n0.2 0.4 0.8 setrgbcolor 72 400 200 150 rectfill showpage\n" +
		"/Helvetica findfont 24 scalefont setfont 72 700 moveto (Page two) show showpage\n"
	if err := os.WriteFile(ps, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "gs.pdf")
	sgRun(t, "gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite", "-sOutputFile="+out, ps)
	return out
}

var tmXrefEntryRE = regexp.MustCompile(`(?m)^(\d{10}) (\d{5}) n`)

// tmShiftXref adds delta to every in-use offset of the classic xref
// tables in data, keeping their width: the objects are no longer where the
// table says (a damaged file readers repair).
func tmShiftXref(data []byte, delta int) []byte {
	return tmXrefEntryRE.ReplaceAllFunc(data, func(m []byte) []byte {
		off, _ := strconv.Atoi(string(m[:10]))
		return fmt.Appendf(nil, "%010d%s", off+delta, m[10:])
	})
}

type tmCase struct {
	name     string
	make     func(t *testing.T, dir, src string) string
	password string // user password, when the input needs one
	repaired bool   // signing rewrites the input first
	owner    bool   // encrypted with owner password "owner"
}

func tmQpdf(args ...string) func(t *testing.T, dir, src string) string {
	return func(t *testing.T, dir, src string) string {
		t.Helper()
		out := filepath.Join(dir, "in.pdf")
		a := append(append([]string{}, args...), src, out)
		sgRun(t, "qpdf", a...)
		return out
	}
}

func tmBytes(f func([]byte) []byte) func(t *testing.T, dir, src string) string {
	return func(t *testing.T, dir, src string) string {
		t.Helper()
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "in.pdf")
		if err := os.WriteFile(out, f(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return out
	}
}

func TestSignToolMadeInputs(t *testing.T) {
	testenv.LookPath(t, "qpdf", "qpdf")
	testenv.LookPath(t, "pdftoppm", "poppler-utils")
	w := sgGetWorld(t)
	v := sgNewValidators(t, w)
	cases := []tmCase{
		{name: "mutool-clean", make: func(t *testing.T, dir, src string) string {
			testenv.LookPath(t, "mutool", "mupdf-tools")
			out := filepath.Join(dir, "in.pdf")
			sgRun(t, "mutool", "clean", src, out)
			return out
		}},
		{name: "qpdf-rc4-40", make: tmQpdf("--allow-weak-crypto", "--encrypt", "", "owner", "40", "--"), owner: true},
		{name: "qpdf-rc4-128", make: tmQpdf("--allow-weak-crypto", "--encrypt", "", "owner", "128", "--use-aes=n", "--"), owner: true},
		{name: "qpdf-aes-128", make: tmQpdf("--encrypt", "", "owner", "128", "--use-aes=y", "--"), owner: true},
		{name: "qpdf-aes-256", make: tmQpdf("--encrypt", "", "owner", "256", "--"), owner: true},
		{name: "qpdf-aes-256-print-only", make: tmQpdf("--encrypt", "", "owner", "256", "--modify=none", "--extract=n", "--"), owner: true},
		{name: "qpdf-aes-256-user-password", make: tmQpdf("--encrypt", "user-secret", "owner", "256", "--"), password: "user-secret", owner: true},
		{name: "qpdf-linearize-objstm", make: tmQpdf("--linearize", "--object-streams=generate")},
		{name: "qpdf-aes-256-objstm", make: tmQpdf("--encrypt", "", "owner", "256", "--", "--object-streams=generate"), owner: true},
		{name: "qpdf-linearize-aes-128-objstm", make: tmQpdf("--linearize", "--encrypt", "", "owner", "128", "--use-aes=y", "--", "--object-streams=generate"), owner: true},
		{name: "mutool-aes-256", make: func(t *testing.T, dir, src string) string {
			testenv.LookPath(t, "mutool", "mupdf-tools")
			out := filepath.Join(dir, "in.pdf")
			sgRun(t, "mutool", "clean", "-E", "aes-256", "-O", "owner", src, out)
			return out
		}, owner: true},
		{name: "shifted-xref-offsets", make: tmBytes(func(b []byte) []byte { return tmShiftXref(b, 3) }), repaired: true},
		{name: "trailing-junk", make: tmBytes(func(b []byte) []byte {
			return append(b, bytes.Repeat([]byte("padding junk \x00\x01\n"), 400)...)
		})},
		{name: "header-offset", make: tmBytes(func(b []byte) []byte {
			return append([]byte("Content-Type: application/pdf\r\n\r\n"), b...)
		}), repaired: true},
	}
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			in := c.make(t, dir, tmGhostscriptPDF(t, dir))
			opts := SignOptions{Level: LevelBT, Timestamper: w.tsa}
			if c.password != "" {
				// without the password: a clear error and no output
				out := filepath.Join(dir, "nopw.pdf")
				err := SignFile(ctx, in, out, w.leaf(t, testpki.RSA2048, 0, "Rajesh Kumar"), opts)
				if !errors.Is(err, ErrPassword) {
					t.Fatalf("signing without the password: %v, want ErrPassword", err)
				}
				if _, err := os.Stat(out); err == nil {
					t.Fatal("an output was written although signing failed")
				}
				opts.Password = []byte(c.password)
			}
			var info SignInfo
			opts.Info = &info
			one := filepath.Join(dir, "one.pdf")
			if err := SignFile(ctx, in, one, w.leaf(t, testpki.RSA2048, 0, "Rajesh Kumar"), opts); err != nil {
				t.Fatalf("sign: %v", err)
			}
			if info.Repaired != c.repaired {
				t.Errorf("Repaired = %v, want %v", info.Repaired, c.repaired)
			}
			tmCheck(t, v, in, one, 1, c)
			two := filepath.Join(dir, "two.pdf")
			opts2 := SignOptions{Password: opts.Password}
			var info2 SignInfo
			opts2.Info = &info2
			if err := SignFile(ctx, one, two, w.leaf(t, testpki.P256, 0, "Priya Sharma"), opts2); err != nil {
				t.Fatalf("second signature: %v", err)
			}
			if info2.Repaired {
				t.Error("the signed document was repaired again")
			}
			tmCheck(t, v, in, two, 2, c)
		})
	}
}

// tmCheck judges a signed output: qpdf, pdfsig, openssl and our verify
// accept every signature, the page count and the first page's pixels are
// those of the input, and encryption settings are unchanged.
func tmCheck(t *testing.T, v *sgValidators, in, out string, sigs int, c tmCase) {
	t.Helper()
	pw := c.password
	if pw == "" {
		v.check(t, out, sigs)
	} else {
		tmCheckWithPassword(t, v, out, sigs, pw)
	}
	if a, b := tmPages(t, in, pw, "--warning-exit-0"), tmPages(t, out, pw); a != b {
		t.Errorf("page count %s, input had %s", b, a)
	}
	if !bytes.Equal(tmRender(t, in, pw), tmRender(t, out, pw)) {
		t.Error("page 1 renders differently after signing")
	}
	if c.owner {
		want, got := tmEncryption(t, in, "owner"), tmEncryption(t, out, "owner")
		if want != got {
			t.Errorf("encryption settings changed:\n%s\nwant\n%s", got, want)
		}
		if !strings.Contains(got, "Supplied password is owner password") {
			t.Errorf("owner password no longer opens the output:\n%s", got)
		}
	}
}

// tmPages is qpdf's page count; the damaged inputs make it warn.
func tmPages(t *testing.T, path, pw string, flags ...string) string {
	t.Helper()
	args := append(flags, "--show-npages", path)
	if pw != "" {
		args = append([]string{"--password=" + pw}, args...)
	}
	out, err := exec.Command("qpdf", args...).Output()
	if err != nil {
		t.Fatalf("qpdf %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

func tmRender(t *testing.T, path, pw string) []byte {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "p")
	args := []string{"-f", "1", "-l", "1", "-r", "50", "-gray", "-singlefile"}
	if pw != "" {
		args = append(args, "-upw", pw)
	}
	sgRun(t, "pdftoppm", append(args, path, prefix)...)
	data, err := os.ReadFile(prefix + ".pgm")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// tmEncryption is qpdf's account of the encryption (algorithms, R, P and
// permissions) opened with password.
func tmEncryption(t *testing.T, path, password string) string {
	t.Helper()
	return sgRun(t, "qpdf", "--show-encryption", "--password="+password, path)
}

// tmCheckWithPassword is sgValidators.check for a document that needs a
// user password.
func tmCheckWithPassword(t *testing.T, v *sgValidators, path string, sigs int, pw string) {
	t.Helper()
	if out, err := exec.Command("qpdf", "--check", "--password="+pw, path).CombinedOutput(); err != nil {
		t.Errorf("qpdf --check: %v\n%s", err, out)
	}
	out, err := exec.Command("pdfsig", "-upw", pw, "-nssdir", "sql:"+v.nssDir, path).CombinedOutput()
	if err != nil {
		t.Errorf("pdfsig: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "Signature is Valid"); n != sigs {
		t.Errorf("pdfsig: %d valid signatures, want %d\n%s", n, sigs, out)
	}
	v.cms(t, path, sigs)
	pool := v.pool()
	rep, err := VerifyFile(context.Background(), path, VerifyOptions{Roots: pool, Password: []byte(pw)})
	if err != nil {
		t.Fatalf("VerifyFile: %v", err)
	}
	if len(rep.Signatures) != sigs {
		t.Errorf("VerifyFile: %d signatures, want %d", len(rep.Signatures), sigs)
	}
	for _, s := range rep.Signatures {
		if s.Indication != TotalPassed {
			t.Errorf("VerifyFile: %s: %s/%s %v", s.Field, s.Indication, s.SubIndication, s.Messages)
		}
	}
	if _, err := VerifyFile(context.Background(), path, VerifyOptions{Roots: pool}); !errors.Is(err, ErrPassword) {
		t.Errorf("VerifyFile without the password: %v, want ErrPassword", err)
	}
}

func (v *sgValidators) pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(v.rootCert)
	return pool
}

// TestEncryptedTwoPhaseAndExtend: two-phase signing (visible, B-LTA) and
// Extend of qpdf-encrypted documents; Finish and Extend read the prepared
// or signed document again, which needs its password when it has a user
// password.
func TestEncryptedTwoPhaseAndExtend(t *testing.T) {
	testenv.LookPath(t, "qpdf", "qpdf")
	w := sgGetWorld(t)
	v := sgNewValidators(t, w)
	ctx := context.Background()
	for _, c := range []struct {
		name, user string
		level      Level
	}{{"owner-only-aes-256", "", LevelBLTA}, {"owner-only-rc4-128", "", LevelBLT}, {"user-password-aes-256", "user-secret", LevelBLT}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"--allow-weak-crypto", "--encrypt", c.user, "owner", "256", "--"}
			if strings.Contains(c.name, "rc4") {
				args = []string{"--allow-weak-crypto", "--encrypt", c.user, "owner", "128", "--use-aes=n", "--"}
			}
			in := tmQpdf(args...)(t, dir, tmGhostscriptPDF(t, dir))
			var pw []byte
			if c.user != "" {
				pw = []byte(c.user)
			}
			l := w.h.Issue(t, testpki.P256, testpki.Options{CommonName: "Rajesh Kumar"})
			prepared := filepath.Join(dir, "prepared.pdf")
			ps, err := PrepareFile(ctx, in, prepared, l.Cert, l.Chain, SignOptions{Level: c.level, Reason: "two-phase", Appearance: sgVisibleAt(1), Password: pw})
			if err != nil {
				t.Fatal(err)
			}
			sig, err := l.Key.Sign(rand.Reader, ps.Digest, ps.Hash)
			if err != nil {
				t.Fatal(err)
			}
			fopts := SignOptions{Timestamper: w.tsa, Revocation: w.ocsp, ExtraCertificates: w.extra()}
			if pw != nil {
				before, _ := os.ReadFile(prepared)
				if err := FinishFile(ctx, prepared, ps, sig, fopts); !errors.Is(err, ErrPassword) {
					t.Fatalf("Finish without the password: %v, want ErrPassword", err)
				}
				if after, _ := os.ReadFile(prepared); !bytes.Equal(before, after) {
					t.Fatal("a refused Finish changed the prepared file")
				}
				fopts.Password = pw
			}
			if err := FinishFile(ctx, prepared, ps, sig, fopts); err != nil {
				t.Fatal(err)
			}
			want := 1
			if c.level == LevelBLTA {
				want = 2
			}
			if pw == nil {
				v.check(t, prepared, want)
			} else {
				tmCheckWithPassword(t, v, prepared, want, c.user)
			}
			if got, wantEnc := tmEncryption(t, prepared, "owner"), tmEncryption(t, in, "owner"); got != wantEnc {
				t.Errorf("encryption settings changed:\n%s\nwant\n%s", got, wantEnc)
			}
			if pw != nil {
				return
			}
			extended := filepath.Join(dir, "extended.pdf")
			if err := ExtendFile(ctx, prepared, extended, LevelBLTA, SignOptions{Timestamper: w.tsa, Revocation: w.ocsp, ExtraCertificates: w.extra()}); err != nil {
				t.Fatal(err)
			}
			v.check(t, extended, want+1)
		})
	}
}
