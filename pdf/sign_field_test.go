package pdf

import (
	"strings"
	"testing"

	"github.com/securesign/securesign/internal/testpdf"
)

// formWithEmptySignatureField is the base document with a prepared empty
// signature field "SignHere" (object 11) on page 1.
func formWithEmptySignatureField() []byte {
	objs := baseObjects()
	objs[objPage-1] = strings.Replace(objs[objPage-1], "/Annots [8 0 R]", "/Annots [8 0 R 11 0 R]", 1)
	objs[objAcroForm-1] = "<< /Fields [8 0 R 11 0 R] /DA (/Helv 0 Tf 0 g) >>"
	objs = append(objs, "<< /FT /Sig /T (SignHere) /Type /Annot /Subtype /Widget /Rect [300 100 500 160] /P 3 0 R /F 4 >>")
	return testpdf.Objects(objs)
}

// TestSignExistingField: --field NAME signs the prepared empty field in
// place, with its rectangle and page; a name used by another kind of field
// is refused.
func TestSignExistingField(t *testing.T) {
	p := getPKI(t)
	doc := formWithEmptySignatureField()
	signed := signCAdES(t, doc, p.leaf, SignOptions{FieldName: "SignHere"})
	rep := mustVerify(t, signed)
	if !rep.Valid || len(rep.Signatures) != 1 || rep.Signatures[0].Field != "SignHere" {
		t.Fatalf("signed in place: %s", dumpReport(rep))
	}
	tail := string(signed[len(doc):])
	if !strings.Contains(tail, "11 0 obj") || !strings.Contains(tail, "/Rect [300 100 500 160]") || !strings.Contains(tail, "/AP") {
		t.Fatalf("the field was not rewritten with its rectangle and an appearance:\n%s", tail)
	}
	if strings.Count(tail, "/FT /Sig") != 1 {
		t.Fatalf("a new field was added besides the prepared one:\n%s", tail)
	}
	// a second signer signs another new field; the first stays valid
	two := signCAdES(t, signed, p.leaf2, SignOptions{})
	if rep := mustVerify(t, two); !rep.Valid || len(rep.Signatures) != 2 {
		t.Fatalf("second signature: %s", dumpReport(rep))
	}
	// the text field's name is not a signature field
	if err := signCAdESErr(t, doc, p.leaf, SignOptions{FieldName: "amount"}); err == nil || !strings.Contains(err.Error(), "not an empty signature field") {
		t.Fatalf("signing the text field: %v", err)
	}
	// a signed field cannot be signed again
	if err := signCAdESErr(t, signed, p.leaf2, SignOptions{FieldName: "SignHere"}); err == nil {
		t.Fatal("signing a signed field again succeeded")
	}
}
