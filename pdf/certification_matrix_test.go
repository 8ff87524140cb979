package pdf

// The certification-attack probe matrix (Mainka, Mladenov, Rohlmann,
// Schwenk, "Breaking the Specification: PDF Certification", IEEE S&P 2021):
// an approval signature and DocMDP certifications P=1, P=2, P=3, each
// followed by one of six later updates. The verdict of every cell is
// written in docs/attacks.md; this test holds them.

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/securesign/securesign/internal/testpki"
)

// Objects of the signed revision made by matrixSigned (the base document
// has 1-10).
const (
	mxSig        = 20 // signature dictionary
	mxSigField   = 21 // its field/widget (invisible)
	mxEmpty      = 22 // an empty signature field prepared before signing
	mxEmptyAP    = 23 // its appearance ("Sign here")
	mxByteRangeW = 10 // digits per ByteRange number
)

// matrixSigned signs the base document, with an empty signature field
// added, by a hand-written update: an approval signature (perm 0) or a
// certification with DocMDP P=perm. The CMS is made by openssl over the
// ByteRange.
func matrixSigned(t *testing.T, perm int) []byte {
	t.Helper()
	p := getPKI(t)
	ref := ""
	catalog := "<< /Type /Catalog /Pages 2 0 R /AcroForm 7 0 R >>"
	if perm > 0 {
		ref = fmt.Sprintf("/Reference [<< /Type /SigRef /TransformMethod /DocMDP /TransformParams << /Type /TransformParams /P %d /V /1.2 >> >>]", perm)
		catalog = fmt.Sprintf("<< /Type /Catalog /Pages 2 0 R /AcroForm 7 0 R /Perms << /DocMDP %d 0 R >> >>", mxSig)
	}
	return handSign(t, baseDoc(), func(sigDict string) map[int]string {
		return map[int]string{
			objCatalog:  catalog,
			objPage:     "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >> /Annots [8 0 R 21 0 R 22 0 R] >>",
			objAcroForm: "<< /Fields [8 0 R 21 0 R 22 0 R] /DA (/Helv 0 Tf 0 g) /SigFlags 3 >>",
			mxSig:       strings.Replace(sigDict, "/M ", ref+" /M ", 1),
			mxSigField:  fmt.Sprintf("<< /FT /Sig /T (Certifier) /V %d 0 R /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R /F 132 >>", mxSig),
			mxEmpty:     fmt.Sprintf("<< /FT /Sig /T (SignHere) /Type /Annot /Subtype /Widget /Rect [300 100 500 160] /P 3 0 R /F 4 /AP << /N %d 0 R >> >>", mxEmptyAP),
			mxEmptyAP:   vStream("/Type /XObject /Subtype /Form /BBox [0 0 200 60] /Resources << /Font << /F1 5 0 R >> >>", "BT /F1 12 Tf 10 25 Td (Sign here) Tj ET"),
		}
	}, p.leaf)
}

// handSign appends the update objs(sigDict) to doc, where sigDict is a
// signature dictionary with a ByteRange placeholder to put in one of the
// objects, then fills the ByteRange and puts an openssl CMS over it.
func handSign(t *testing.T, doc []byte, objs func(sigDict string) map[int]string, leaf *testpki.Leaf) []byte {
	t.Helper()
	placeholder := fmt.Sprintf("[0 %s %s %s]", strings.Repeat("X", mxByteRangeW), strings.Repeat("Y", mxByteRangeW), strings.Repeat("Z", mxByteRangeW))
	sigDict := fmt.Sprintf("<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /M (D:20261201000000Z) /ByteRange %s /Contents <%s> >>", placeholder, strings.Repeat("0", 16384))
	doc = appendUpdate(t, doc, vUpdate{objs: objs(sigDict)})
	i := bytes.Index(doc, []byte(placeholder))
	lt := bytes.Index(doc[i:], []byte("/Contents <")) + i + len("/Contents ")
	gt := bytes.IndexByte(doc[lt:], '>') + lt + 1
	br := fmt.Sprintf("[0 %-*d %-*d %-*d]", mxByteRangeW, lt, mxByteRangeW, gt, mxByteRangeW, len(doc)-gt)
	copy(doc[i:], br)
	content := append(append([]byte(nil), doc[:lt]...), doc[gt:]...)
	return withCMS(t, doc, newOpensslSigner(t, leaf, nil).sign(t, content))
}

type matrixProbe struct {
	name string
	objs func() map[int]string
}

var matrixProbes = []matrixProbe{
	{"form-fill", func() map[int]string {
		return map[int]string{
			objField: "<< /FT /Tx /T (amount) /V (250) /Type /Annot /Subtype /Widget /Rect [72 600 300 620] /P 3 0 R /F 4 /AP << /N 30 0 R >> >>",
			30:       vStream("/Type /XObject /Subtype /Form /BBox [0 0 228 20] /Resources << /Font << /F1 5 0 R >> >>", "BT /F1 12 Tf 2 5 Td (250) Tj ET"),
		}
	}},
	{"appearance-only", func() map[int]string {
		// the value stays 100, the field now shows 100000
		return map[int]string{objFieldAP: vStream("/Type /XObject /Subtype /Form /BBox [0 0 228 20] /Resources << /Font << /F1 5 0 R >> >>", "BT /F1 12 Tf 2 5 Td (100000) Tj ET")}
	}},
	{"annotation-added", func() map[int]string {
		return map[int]string{
			objPage: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >> /Annots [8 0 R 21 0 R 22 0 R 31 0 R] >>",
			31:      "<< /Type /Annot /Subtype /FreeText /Rect [72 690 400 730] /Contents (Pay 1000000 INR) /DA (/Helv 24 Tf 0 g) /P 3 0 R /F 4 >>",
		}
	}},
	{"unsigned-signature-field-added", func() map[int]string {
		return map[int]string{
			objPage:     "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >> /Annots [8 0 R 21 0 R 22 0 R 32 0 R] >>",
			objAcroForm: "<< /Fields [8 0 R 21 0 R 22 0 R 32 0 R] /DA (/Helv 0 Tf 0 g) /SigFlags 3 >>",
			32:          "<< /FT /Sig /T (Overlay) /Type /Annot /Subtype /Widget /Rect [0 650 612 750] /P 3 0 R /F 4 /AP << /N 33 0 R >> >>",
			33:          vStream("/Type /XObject /Subtype /Form /BBox [0 0 612 100] /Resources << /Font << /F1 5 0 R >> >>", "1 1 1 rg 0 0 612 100 re f 0 0 0 rg BT /F1 24 Tf 72 50 Td (Pay 1000000 INR) Tj ET"),
		}
	}},
	{"fake-V", func() map[int]string {
		// a signature field whose /V is its own full-page appearance
		return map[int]string{
			objPage:     "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >> /Annots [8 0 R 21 0 R 22 0 R 34 0 R] >>",
			objAcroForm: "<< /Fields [8 0 R 21 0 R 22 0 R 34 0 R] /DA (/Helv 0 Tf 0 g) /SigFlags 3 >>",
			34:          "<< /FT /Sig /T (Fake) /V 35 0 R /Type /Annot /Subtype /Widget /Rect [0 0 612 792] /P 3 0 R /F 4 /AP << /N 35 0 R >> >>",
			35:          vStream("/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >>", "1 1 1 rg 0 0 612 792 re f 0 0 0 rg BT /F1 24 Tf 72 700 Td (Pay 1000000 INR) Tj ET"),
		}
	}},
	{"empty-signature-field-appearance-swap", func() map[int]string {
		return map[int]string{
			mxEmpty: "<< /FT /Sig /T (SignHere) /Type /Annot /Subtype /Widget /Rect [300 100 500 160] /P 3 0 R /F 4 /AP << /N 36 0 R >> >>",
			36:      vStream("/Type /XObject /Subtype /Form /BBox [0 0 200 60] /Resources << /Font << /F1 5 0 R >> >>", "BT /F1 12 Tf 10 25 Td (Approved: 1000000 INR) Tj ET"),
		}
	}},
}

// matrixWant: the verdict of each probe under approval, P=1, P=2, P=3 (as
// in docs/attacks.md). P = TOTAL_PASSED, I = INDETERMINATE.
var matrixWant = map[string][4]string{
	"form-fill":                             {"I", "I", "P", "P"},
	"appearance-only":                       {"I", "I", "I", "P"},
	"annotation-added":                      {"I", "I", "I", "P"},
	"unsigned-signature-field-added":        {"I", "I", "I", "P"},
	"fake-V":                                {"I", "I", "I", "P"},
	"empty-signature-field-appearance-swap": {"I", "I", "I", "P"},
}

func TestCertificationMatrix(t *testing.T) {
	p := getPKI(t)
	for col, perm := range []int{0, 1, 2, 3} {
		signed := matrixSigned(t, perm)
		rep := mustVerify(t, signed)
		if !rep.Valid {
			t.Fatalf("perm %d: the signed document itself: %s", perm, dumpReport(rep))
		}
		for _, pr := range matrixProbes {
			name := fmt.Sprintf("%s/P%d", pr.name, perm)
			if perm == 0 {
				name = pr.name + "/approval"
			}
			t.Run(name, func(t *testing.T) {
				doc := appendUpdate(t, signed, vUpdate{objs: pr.objs()})
				rep := mustVerify(t, doc)
				var s *SignatureReport
				for i := range rep.Signatures {
					if rep.Signatures[i].Field == "Certifier" {
						s = &rep.Signatures[i]
					}
				}
				if s == nil || len(rep.Signatures) != 1 {
					t.Fatalf("want exactly the certifier's signature reported: %s", dumpReport(rep))
				}
				got := "I"
				switch s.Indication {
				case TotalPassed:
					got = "P"
				case TotalFailed:
					got = "F"
				}
				if want := matrixWant[pr.name][col]; got != want {
					t.Fatalf("verdict %s, want %s: %s", got, want, dumpReport(rep))
				}
				if s.ModifiedAfter == ModNone || len(s.Messages) == 0 {
					t.Fatalf("the change is not named: %s", dumpReport(rep))
				}
				if pr.name == "fake-V" && !hasMessage(*s, "not a signature dictionary") {
					t.Fatalf("fake /V not named: %s", dumpReport(rep))
				}
				if pr.name == "appearance-only" && !hasMessage(*s, "value did not change") {
					t.Fatalf("appearance without value not named: %s", dumpReport(rep))
				}
			})
		}
	}
	_ = p
}

// TestNewSignatureAfterCertification: under DocMDP P=2 a later invisible
// signature, or one in the field the certifier prepared, is "signing" and
// allowed; a new visible signature field paints on the certified page and
// is INDETERMINATE (docs/attacks.md). Our signer refuses to make one.
func TestNewSignatureAfterCertification(t *testing.T) {
	p := getPKI(t)
	certified := signCAdES(t, baseDoc(), p.leaf, SignOptions{Certify: true})
	if rep := mustVerify(t, signCAdES(t, certified, p.leaf2, SignOptions{})); !rep.Valid {
		t.Fatalf("invisible signature after P=2: %s", dumpReport(rep))
	}
	if err := signCAdESErr(t, certified, p.leaf2, SignOptions{Appearance: &Appearance{X: 300, Y: 72, Width: 200, Height: 60}}); !errors.Is(err, ErrCertified) {
		t.Fatalf("signing a new visible field after P=2: %v, want ErrCertified", err)
	}
	// hand-written certification (P=2) with a prepared field, then a
	// second signer's signature in a new visible field, or in the
	// prepared one
	cert := matrixSigned(t, 2)
	second := func(t *testing.T, inPrepared bool) *Report {
		doc := handSign(t, cert, func(sigDict string) map[int]string {
			if inPrepared {
				return map[int]string{
					50:      sigDict,
					mxEmpty: "<< /FT /Sig /T (SignHere) /V 50 0 R /Type /Annot /Subtype /Widget /Rect [300 100 500 160] /P 3 0 R /F 132 /AP << /N 52 0 R >> >>",
					52:      vStream("/Type /XObject /Subtype /Form /BBox [0 0 200 60] /Resources << /Font << /F1 5 0 R >> >>", "BT /F1 12 Tf 10 25 Td (Signed: Priya) Tj ET"),
				}
			}
			return map[int]string{
				objPage:     "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >> /Annots [8 0 R 21 0 R 22 0 R 51 0 R] >>",
				objAcroForm: "<< /Fields [8 0 R 21 0 R 22 0 R 51 0 R] /DA (/Helv 0 Tf 0 g) /SigFlags 3 >>",
				50:          sigDict,
				51:          "<< /FT /Sig /T (Second) /V 50 0 R /Type /Annot /Subtype /Widget /Rect [0 650 612 750] /P 3 0 R /F 132 /AP << /N 52 0 R >> >>",
				52:          vStream("/Type /XObject /Subtype /Form /BBox [0 0 612 100] /Resources << /Font << /F1 5 0 R >> >>", "1 1 1 rg 0 0 612 100 re f 0 0 0 rg BT /F1 24 Tf 72 50 Td (Pay 1000000 INR) Tj ET"),
			}
		}, p.leaf2)
		return mustVerify(t, doc)
	}
	if rep := second(t, true); !rep.Valid || len(rep.Signatures) != 2 {
		t.Fatalf("signature in the prepared field after P=2: %s", dumpReport(rep))
	}
	rep := second(t, false)
	if len(rep.Signatures) != 2 {
		t.Fatalf("want two signatures: %s", dumpReport(rep))
	}
	if s := rep.Signatures[0]; s.Indication != Indeterminate || !hasMessage(s, "new visible signature field") {
		t.Fatalf("visible signature after P=2: %s", dumpReport(rep))
	}
	if rep.Signatures[1].Indication != TotalPassed {
		t.Fatalf("the second signature itself: %s", dumpReport(rep))
	}
}
