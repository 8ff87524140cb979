package testpdf_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pdf"
	"github.com/securesign/securesign/signer"
)

var update = flag.Bool("update", false, "rewrite testdata/agreement.pdf from testpdf.Agreement")

const agreementPath = "../../testdata/agreement.pdf"

// TestAgreementCommitted: the sample agreement the README signs is exactly
// what testpdf.Agreement makes (go generate ./internal/testpdf, or -update,
// rewrites it), and qpdf, which we did not write, finds nothing wrong in it.
func TestAgreementCommitted(t *testing.T) {
	want := testpdf.Agreement()
	if *update {
		if err := os.WriteFile(agreementPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(agreementPath)
	if err != nil {
		t.Fatalf("%v (go generate ./internal/testpdf writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from testpdf.Agreement(): run go generate ./internal/testpdf and commit it", agreementPath)
	}
	qpdf := testenv.LookPath(t, "qpdf", "qpdf")
	if out, err := exec.Command(qpdf, "--check", agreementPath).CombinedOutput(); err != nil {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
}

// TestAgreementSignsInItsField: the signature place is a prepared empty
// signature field that signing by name fills in place, on page 2.
func TestAgreementSignsInItsField(t *testing.T) {
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.P256, testpki.Options{})
	s, err := signer.NewSoftware(leaf.Key, leaf.Cert, leaf.Chain)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "signed.pdf")
	ctx := context.Background()
	if err := pdf.SignFile(ctx, agreementPath, out, s, pdf.SignOptions{FieldName: testpdf.AgreementField}); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(h.Root.Cert)
	rep, err := pdf.VerifyFile(ctx, out, pdf.VerifyOptions{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || len(rep.Signatures) != 1 || rep.Signatures[0].Field != testpdf.AgreementField {
		t.Fatalf("signed agreement: valid=%v signatures=%+v", rep.Valid, rep.Signatures)
	}
}
