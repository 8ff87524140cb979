package pdf

// Cross-checks with the signing side of this package (CAdES, PAdES levels):
// what SignFile makes must verify, and the same attacks must still fail.

import (
	"context"
	"crypto"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

// fakeRevocation answers "good" with real OCSP responses signed by the
// issuer (test hierarchy keys), without a network.
type fakeRevocation struct{ p *testPKI }

func (f fakeRevocation) Check(ctx context.Context, cert, issuer *x509.Certificate) (*pki.RevocationStatus, error) {
	var key crypto.Signer
	switch {
	case issuer.Equal(f.p.h.Intermediate.Cert):
		key = f.p.h.Intermediate.Key
	case issuer.Equal(f.p.h.Root.Cert):
		key = f.p.h.Root.Key
	default:
		return &pki.RevocationStatus{State: pki.StateUnknown}, nil
	}
	now := time.Now().Add(-time.Minute).Truncate(time.Second)
	der, err := ocsp.CreateResponse(issuer, issuer, ocsp.Response{
		Status: ocsp.Good, SerialNumber: cert.SerialNumber, ThisUpdate: now, NextUpdate: now.Add(time.Hour),
	}, key)
	if err != nil {
		return nil, err
	}
	return &pki.RevocationStatus{State: pki.StateGood, Source: pki.SourceOCSP, OCSPResponse: der, ThisUpdate: now, NextUpdate: now.Add(time.Hour)}, nil
}

func signCAdES(t *testing.T, in []byte, leaf *testpki.Leaf, opts SignOptions) []byte {
	t.Helper()
	out, err := signCAdESBytes(t, in, leaf, opts)
	if err != nil {
		t.Fatalf("SignFile: %v", err)
	}
	return out
}

// signCAdESErr is signCAdES returning the signer's error.
func signCAdESErr(t *testing.T, in []byte, leaf *testpki.Leaf, opts SignOptions) error {
	t.Helper()
	_, err := signCAdESBytes(t, in, leaf, opts)
	return err
}

func signCAdESBytes(t *testing.T, in []byte, leaf *testpki.Leaf, opts SignOptions) ([]byte, error) {
	t.Helper()
	dir := t.TempDir()
	inPath, outPath := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(inPath, in, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := signer.NewSoftware(leaf.Key, leaf.Cert, leaf.Chain)
	if err != nil {
		t.Fatal(err)
	}
	if err := SignFile(context.Background(), inPath, outPath, s, opts); err != nil {
		return nil, err
	}
	return os.ReadFile(outPath)
}

func TestVerifyCAdESLevels(t *testing.T) {
	p := getPKI(t)
	tsa := &pki.TSAClient{URL: tsaServer(t, p)}
	rev := fakeRevocation{p}
	extra := []*x509.Certificate{p.h.Root.Cert}
	cases := []struct {
		name  string
		leaf  *testpki.Leaf
		opts  SignOptions
		level string
	}{
		{"B-B/rsa", p.leaf, SignOptions{}, "B-B"},
		{"B-B/p256", p.leaf2, SignOptions{}, "B-B"},
		{"B-B/rsa-pss", p.leaf, SignOptions{Algorithm: signer.RSAPSS}, "B-B"},
		{"B-T", p.leaf, SignOptions{Level: LevelBT, Timestamper: tsa}, "B-T"},
		{"B-LT", p.leaf, SignOptions{Level: "B-LT", Timestamper: tsa, Revocation: rev, ExtraCertificates: extra}, "B-LT"},
		{"B-LTA", p.leaf2, SignOptions{Level: "B-LTA", Timestamper: tsa, Revocation: rev, ExtraCertificates: extra}, "B-LTA"},
		{"visible", p.leaf, SignOptions{Appearance: &Appearance{X: 72, Y: 72, Width: 200, Height: 60}}, "B-B"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := signCAdES(t, baseDoc(), tc.leaf, tc.opts)
			rep := mustVerify(t, doc)
			if !rep.Valid {
				t.Fatalf("not valid:\n%s", dumpReport(rep))
			}
			if got := rep.Signatures[0].Level; got != tc.level {
				t.Errorf("level = %q, want %q\n%s", got, tc.level, dumpReport(rep))
			}
			// a byte flipped in the signed range
			bad := vReplaceOnce(t, doc, "(Pay 100 INR)", "(Pay 900 INR)")
			if rep := mustVerify(t, bad); rep.Valid || rep.Signatures[0].SubIndication != SubHashFailure {
				t.Errorf("tampered copy:\n%s", dumpReport(rep))
			}
		})
	}
}

// TestVerifyCAdESChanges: our own signer keeps form fields, so form filling
// after signing is classified exactly; a second signature stays valid.
func TestVerifyCAdESChanges(t *testing.T) {
	p := getPKI(t)
	signed := signCAdES(t, baseDoc(), p.leaf, SignOptions{})
	t.Run("second-signature", func(t *testing.T) {
		doc := signCAdES(t, signed, p.leaf2, SignOptions{})
		rep := mustVerify(t, doc)
		if !rep.Valid || len(rep.Signatures) != 2 || rep.Signatures[0].ModifiedAfter != ModSignatures {
			t.Fatalf("want two valid signatures:\n%s", dumpReport(rep))
		}
	})
	t.Run("second-visible-signature", func(t *testing.T) {
		first := signCAdES(t, baseDoc(), p.leaf, SignOptions{Appearance: &Appearance{X: 72, Y: 72, Width: 200, Height: 60}})
		doc := signCAdES(t, first, p.leaf2, SignOptions{Appearance: &Appearance{X: 300, Y: 72, Width: 200, Height: 60}})
		rep := mustVerify(t, doc)
		if !rep.Valid || len(rep.Signatures) != 2 || rep.Signatures[0].ModifiedAfter != ModSignatures {
			t.Fatalf("want two valid visible signatures:\n%s", dumpReport(rep))
		}
	})
	t.Run("form-field-value-overlay", func(t *testing.T) {
		doc := appendUpdate(t, signed, vUpdate{objs: map[int]string{
			objField: "<< /FT /Tx /T (amount) /V (1000000) /Type /Annot /Subtype /Widget /Rect [72 600 300 620] /P 3 0 R /F 4 /AP << /N 30 0 R >> >>",
			30:       vStream("/Type /XObject /Subtype /Form /BBox [0 0 228 20]", "BT /F1 12 Tf 2 5 Td (1000000) Tj ET"),
		}})
		rep := mustVerify(t, doc)
		s := rep.Signatures[0]
		if rep.Valid || s.Indication == TotalPassed || s.ModifiedAfter != ModFormFilling {
			t.Fatalf("want form-filling, not TOTAL_PASSED:\n%s", dumpReport(rep))
		}
	})
	t.Run("appearance-stream-replaced", func(t *testing.T) {
		doc := appendUpdate(t, signed, vUpdate{objs: map[int]string{
			objFieldAP: vStream("/Type /XObject /Subtype /Form /BBox [0 0 228 20]", "BT /F1 12 Tf 2 5 Td (1000000) Tj ET"),
		}})
		// the value is unchanged, so this is no form filling: the field
		// now shows something its value does not say
		rep := mustVerify(t, doc)
		if s := rep.Signatures[0]; rep.Valid || s.ModifiedAfter != ModAnnotations || !hasMessage(s, "value did not change") {
			t.Fatalf("want annotations (appearance without value):\n%s", dumpReport(rep))
		}
	})
	t.Run("content-changed", func(t *testing.T) {
		doc := appendUpdate(t, signed, vUpdate{objs: map[int]string{objContent: vStream("", evilContent)}})
		rep := mustVerify(t, doc)
		if s := rep.Signatures[0]; rep.Valid || s.Indication != TotalFailed || s.ModifiedAfter != ModOther {
			t.Fatalf("want other/TOTAL_FAILED:\n%s", dumpReport(rep))
		}
	})
	t.Run("certified-p2-allows-form-filling", func(t *testing.T) {
		cert := signCAdES(t, baseDoc(), p.leaf, SignOptions{Certify: true})
		doc := appendUpdate(t, cert, vUpdate{objs: map[int]string{
			objField: "<< /FT /Tx /T (amount) /V (250) /Type /Annot /Subtype /Widget /Rect [72 600 300 620] /P 3 0 R /F 4 /AP << /N 30 0 R >> >>",
			30:       vStream("/Type /XObject /Subtype /Form /BBox [0 0 228 20]", "BT /F1 12 Tf 2 5 Td (250) Tj ET"),
		}})
		rep := mustVerify(t, doc)
		if s := rep.Signatures[0]; !rep.Valid || s.ModifiedAfter != ModFormFilling {
			t.Fatalf("DocMDP P=2 allows form filling:\n%s", dumpReport(rep))
		}
	})
}
