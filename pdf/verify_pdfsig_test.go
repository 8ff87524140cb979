package pdf

// Cross-check with poppler's pdfsig: on documents we call valid, pdfsig must
// find every signature valid and its certificate trusted; on a document with
// a flipped byte both must say invalid.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpki"
)

func pdfsigDB(t *testing.T) (pdfsig, nssdir string) {
	t.Helper()
	pdfsig = testenv.LookPath(t, "pdfsig", "poppler-utils")
	certutil := testenv.LookPath(t, "certutil", "libnss3-tools")
	dir := t.TempDir()
	rootPEM := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(rootPEM, testpki.PEM(getPKI(t).h.Root.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-N", "-d", "sql:" + dir, "--empty-password"},
		{"-A", "-d", "sql:" + dir, "-n", "root", "-t", "C,C,C", "-a", "-i", rootPEM},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	return pdfsig, "sql:" + dir
}

func TestPdfsigAgrees(t *testing.T) {
	pdfsig, nss := pdfsigDB(t)
	p := getPKI(t)
	once := signWithPdfsign(t, baseDoc(), pdfsignOpts{})
	cades := signCAdES(t, baseDoc(), p.leaf, SignOptions{})
	docs := map[string]struct {
		doc   []byte
		valid bool
	}{
		"pdfsign":              {once, true},
		"pdfsign-twice":        {signWithPdfsign(t, once, pdfsignOpts{leaf: p.leaf2}), true},
		"cades":                {cades, true},
		"cades-p256-second":    {signCAdES(t, cades, p.leaf2, SignOptions{}), true},
		"cades-prepared-field": {signCAdES(t, formWithEmptySignatureField(), p.leaf, SignOptions{FieldName: "SignHere"}), true},
		"pdfsign-byte-flip":    {vReplaceOnce(t, once, "(Pay 100 INR)", "(Pay 900 INR)"), false},
		"cades-byte-flip":      {vReplaceOnce(t, cades, "(Pay 100 INR)", "(Pay 900 INR)"), false},
	}
	dir := t.TempDir()
	for name, d := range docs {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".pdf")
			if err := os.WriteFile(path, d.doc, 0o644); err != nil {
				t.Fatal(err)
			}
			rep := mustVerify(t, d.doc)
			if rep.Valid != d.valid {
				t.Fatalf("our verdict %v, want %v:\n%s", rep.Valid, d.valid, dumpReport(rep))
			}
			out, _ := exec.Command(pdfsig, "-nssdir", nss, path).CombinedOutput()
			s := string(out)
			n := strings.Count(s, "Signature Validation: Signature is Valid.")
			if d.valid && n != len(rep.Signatures) {
				t.Fatalf("pdfsig finds %d valid signatures, we %d:\n%s", n, len(rep.Signatures), s)
			}
			if !d.valid && n == len(rep.Signatures) {
				t.Fatalf("pdfsig finds every signature valid, we do not:\n%s", s)
			}
			// pdfsig marks a second use of one signer certificate with a
			// quirk; trust is only compared on single-signer files
			if d.valid && len(rep.Signatures) == 1 && !strings.Contains(s, "Certificate is Trusted") {
				t.Errorf("pdfsig does not trust the certificate:\n%s", s)
			}
		})
	}
}
