package pdf

// Defined behaviour for special inputs (also in docs/attacks.md):
//   - encrypted documents: Verify refuses them with ErrEncrypted;
//   - damaged documents (xref offsets wrong, truncated): Verify refuses them
//     with ErrMalformed and a *SyntaxError; it never repairs, because a
//     repair could change what a signature appears to cover;
//   - PDF 2.0, xref streams, object streams, linearized files, real files
//     from other producers: verified like any other.

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpdf"
)

func TestEncryptedRefused(t *testing.T) {
	doc := bytes.Replace(testpdf.Objects(baseObjects()), []byte("/Root 1 0 R >>"), []byte("/Root 1 0 R /Encrypt << /Filter /Standard /V 2 /R 3 /O <00> /U <00> /P -4 >> >>"), 1)
	if _, err := verifyBytes(t, doc, VerifyOptions{}); !errors.Is(err, ErrEncrypted) {
		t.Fatalf("err = %v, want ErrEncrypted", err)
	}
	qpdf := testenv.LookPath(t, "qpdf", "qpdf")
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "enc.pdf")
	os.WriteFile(in, baseDoc(), 0o644)
	if b, err := exec.Command(qpdf, "--encrypt", "user", "owner", "256", "--", in, out).CombinedOutput(); err != nil {
		t.Fatalf("qpdf: %v\n%s", err, b)
	}
	if _, err := VerifyFile(t.Context(), out, VerifyOptions{}); !errors.Is(err, ErrEncrypted) {
		t.Fatalf("qpdf-encrypted: err = %v, want ErrEncrypted", err)
	}
}

func TestDamagedRefused(t *testing.T) {
	signed := signWithPdfsign(t, baseDoc(), pdfsignOpts{})
	cases := map[string][]byte{
		// two bytes inserted after the header: every offset is wrong, which
		// qpdf and viewers repair by scanning; we do not
		"offsets-shifted":  append(append(append([]byte(nil), signed[:9]...), "XX"...), signed[9:]...),
		"xref-entry-wrong": bytes.Replace(baseDoc(), []byte("0000000015 00000 n"), []byte("0000000019 00000 n"), 1),
		"truncated":        signed[:len(signed)-300],
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := verifyBytes(t, doc, VerifyOptions{})
			var se *SyntaxError
			if !errors.Is(err, ErrMalformed) || !errors.As(err, &se) {
				t.Fatalf("err = %v, want ErrMalformed with a *SyntaxError", err)
			}
		})
	}
	// whitespace shifts are not damage: readers skip it
	t.Run("whitespace-shift", func(t *testing.T) {
		doc := append(append(append([]byte(nil), baseDoc()[:9]...), ' '), baseDoc()[9:]...)
		if _, err := verifyBytes(t, doc, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPDF20(t *testing.T) {
	p := getPKI(t)
	doc := bytes.Replace(baseDoc(), []byte("%PDF-1.7"), []byte("%PDF-2.0"), 1)
	for name, signed := range map[string][]byte{
		"pdfsign": signWithPdfsign(t, doc, pdfsignOpts{}),
		"cades":   signCAdES(t, doc, p.leaf, SignOptions{}),
	} {
		if rep := mustVerify(t, signed); !rep.Valid {
			t.Errorf("%s: PDF 2.0 not valid:\n%s", name, dumpReport(rep))
		}
	}
}

// TestOtherProducers signs files rewritten by qpdf (object streams and xref
// streams, linearization) and a real PDF from a Debian package.
func TestOtherProducers(t *testing.T) {
	p := getPKI(t)
	qpdf := testenv.LookPath(t, "qpdf", "qpdf")
	dir := t.TempDir()
	in := filepath.Join(dir, "base.pdf")
	os.WriteFile(in, baseDoc(), 0o644)
	inputs := map[string]string{}
	for name, args := range map[string][]string{
		"object-streams": {"--object-streams=generate", in},
		"linearized":     {"--linearize", in},
		"qdf":            {"--qdf", in},
	} {
		out := filepath.Join(dir, name+".pdf")
		if b, err := exec.Command(qpdf, append(args, out)...).CombinedOutput(); err != nil {
			t.Fatalf("qpdf %v: %v\n%s", args, err, b)
		}
		inputs[name] = out
	}
	for _, deb := range []string{"/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf", "/usr/share/doc/libtasn1-doc/libtasn1.pdf"} {
		if _, err := os.Stat(deb); err == nil {
			inputs["debian-"+filepath.Base(deb)] = deb
		}
	}
	for name, path := range inputs {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			signed := signCAdES(t, raw, p.leaf, SignOptions{})
			if rep := mustVerify(t, signed); !rep.Valid {
				t.Fatalf("not valid:\n%s", dumpReport(rep))
			}
			// an update changing the first object that is not the catalog
			// must still be caught on these structures
			second := signCAdES(t, signed, p.leaf2, SignOptions{})
			if rep := mustVerify(t, second); !rep.Valid || len(rep.Signatures) != 2 {
				t.Fatalf("second signature:\n%s", dumpReport(rep))
			}
			if !strings.HasPrefix(name, "debian") {
				bad := appendUpdate(t, signed, vUpdate{objs: map[int]string{objContent: vStream("", evilContent)}})
				if rep := mustVerify(t, bad); rep.Valid || rep.Signatures[0].ModifiedAfter != ModOther {
					t.Fatalf("content change not caught:\n%s", dumpReport(rep))
				}
			}
		})
	}
}
