package pdf

import (
	"strings"
	"testing"

	"github.com/securesign/securesign/internal/testpdf"
)

// TestHonestUpdates: updates that real signers and viewers make after a
// signature (docs/attacks.md, "Honest updates"), each next to the attack
// the same rule must still catch.
func TestHonestUpdates(t *testing.T) {
	p := getPKI(t)
	signed := signCAdES(t, baseDoc(), p.leaf, SignOptions{})
	page := func(extra string) string {
		return "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >> /Annots [8 0 R] " + extra + " >>"
	}
	catalog := func(extra string) string {
		return "<< /Type /Catalog /Pages 2 0 R /AcroForm 7 0 R " + extra + " >>"
	}
	for _, c := range []struct {
		name string
		objs map[int]string
		want string // TOTAL_PASSED, INDETERMINATE, TOTAL_FAILED
		msg  string // in the messages
	}{
		{"version-raised", map[int]string{objCatalog: catalog("/Version /2.0")}, TotalPassed, ""},
		{"version-not-a-version", map[int]string{objCatalog: catalog("/Version /9.9")}, TotalFailed, "/Version"},
		{"extensions", map[int]string{objCatalog: catalog("/Extensions << /ESIC << /BaseVersion /1.7 /ExtensionLevel 2 >> >>")}, TotalPassed, ""},
		{"names-annotation-appearances", map[int]string{objCatalog: catalog("/Names << /AP 40 0 R >>"), 40: "<< /Names [(a) 41 0 R] >>",
			41: vStream("/Type /XObject /Subtype /Form /BBox [0 0 10 10]", "0 0 10 10 re f")}, Indeterminate, "/Names /AP"},
		{"names-javascript", map[int]string{objCatalog: catalog("/Names << /JavaScript 40 0 R >>"), 40: "<< /Names [(a) 41 0 R] >>",
			41: "<< /S /JavaScript /JS (app.alert(1)) >>"}, TotalFailed, "/Names /JavaScript"},
		{"mediabox-as-reals", map[int]string{objPage: strings.Replace(page(""), "[0 0 612 792]", "[0.0 0 612.0 792.00]", 1)}, TotalPassed, ""},
		{"mediabox-changed", map[int]string{objPage: strings.Replace(page(""), "[0 0 612 792]", "[0 0 612 400]", 1)}, TotalFailed, "/MediaBox"},
		{"resources-identical-copy", map[int]string{objPage: strings.Replace(page(""), "/Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >>", "/Resources 42 0 R", 1),
			42: "<< /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >>"}, TotalPassed, ""},
		{"resources-other-font", map[int]string{objPage: strings.Replace(page(""), "/Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >>", "/Resources 42 0 R", 1),
			42: "<< /Font << /F1 43 0 R >> /XObject << /X1 6 0 R >> >>", 43: "<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>"}, TotalFailed, "/Resources"},
		{"field-made-read-only", map[int]string{objField: "<< /FT /Tx /T (amount) /V (100) /Ff 1 /Type /Annot /Subtype /Widget /Rect [72 600 300 620] /P 3 0 R /F 4 /AP << /N 9 0 R >> >>"}, TotalPassed, ""},
		{"field-flags-other", map[int]string{objField: "<< /FT /Tx /T (amount) /V (100) /Ff 4096 /Type /Annot /Subtype /Widget /Rect [72 600 300 620] /P 3 0 R /F 4 /AP << /N 9 0 R >> >>"}, TotalFailed, "/Ff"},
		{"annotation-restated", map[int]string{objField: "<< /FT /Tx /T (amount) /V (100) /Type /Annot /Subtype /Widget /Rect [72 600 300 620] /P 3 0 R /F 4 /AP << /N 9 0 R >> >>"}, TotalPassed, "re-stated unchanged"},
		{"logical-structure", map[int]string{objCatalog: catalog("/StructTreeRoot 44 0 R /MarkInfo << /Marked true >>"), 44: "<< /Type /StructTreeRoot /K [] >>"}, TotalPassed, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := mustVerify(t, appendUpdate(t, signed, vUpdate{objs: c.objs}))
			s := rep.Signatures[0]
			if s.Indication != c.want || (c.msg != "" && !hasMessage(s, c.msg)) {
				t.Fatalf("want %s mentioning %q:\n%s", c.want, c.msg, dumpReport(rep))
			}
		})
	}
}

// TestSharedDefaultResources: the form's default-resource font dictionary
// is also the page's: names may be added to it after signing (signers add
// fonts), but swapping the font the page draws with is content.
func TestSharedDefaultResources(t *testing.T) {
	p := getPKI(t)
	objs := baseObjects()
	objs[objPage-1] = strings.Replace(objs[objPage-1], "/Font << /F1 5 0 R >> /XObject", "/Font 11 0 R /XObject", 1)
	objs[objAcroForm-1] = "<< /Fields [8 0 R] /DA (/Helv 0 Tf 0 g) /DR << /Font 11 0 R >> >>"
	objs = append(objs, "<< /F1 5 0 R >>")
	signed := signCAdES(t, testpdf.Objects(objs), p.leaf, SignOptions{})
	courier := "<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>"
	added := mustVerify(t, appendUpdate(t, signed, vUpdate{objs: map[int]string{11: "<< /F1 5 0 R /Helv 40 0 R >>", 40: courier}}))
	if !added.Valid {
		t.Fatalf("a font added to the default resources: %s", dumpReport(added))
	}
	swapped := mustVerify(t, appendUpdate(t, signed, vUpdate{objs: map[int]string{11: "<< /F1 40 0 R >>", 40: courier}}))
	if s := swapped.Signatures[0]; s.Indication != TotalFailed || s.ModifiedAfter != ModOther {
		t.Fatalf("the page's font swapped through the default resources: %s", dumpReport(swapped))
	}
}

// TestStructureObjectSharedWithPage: an object prepared to be both a
// structure element and the page's resources (a shadow-attack trap): the
// structure rule lets only structure keys change, so a font swap through
// it is content.
func TestStructureObjectSharedWithPage(t *testing.T) {
	p := getPKI(t)
	objs := baseObjects()
	objs[objCatalog-1] = "<< /Type /Catalog /Pages 2 0 R /AcroForm 7 0 R /StructTreeRoot 12 0 R >>"
	objs[objPage-1] = strings.Replace(objs[objPage-1], "/Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >>", "/Resources 11 0 R", 1)
	objs = append(objs, "<< /Type /StructElem /S /P /P 12 0 R /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >>", "<< /Type /StructTreeRoot /K [11 0 R] >>")
	signed := signCAdES(t, testpdf.Objects(objs), p.leaf, SignOptions{})
	// any change of an object a page draws is content, whatever else it is
	tagged := mustVerify(t, appendUpdate(t, signed, vUpdate{objs: map[int]string{11: "<< /Type /StructElem /S /P /P 12 0 R /Alt (Pay 100 INR) /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >>"}}))
	if s := tagged.Signatures[0]; s.Indication != TotalFailed || !hasMessage(s, "which a page draws") {
		t.Fatalf("a structure key added to the page's resources: %s", dumpReport(tagged))
	}
	swapped := mustVerify(t, appendUpdate(t, signed, vUpdate{objs: map[int]string{11: "<< /Type /StructElem /S /P /P 12 0 R /Font << /F1 40 0 R >> /XObject << /X1 6 0 R >> >>",
		40: "<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>"}}))
	if s := swapped.Signatures[0]; s.Indication != TotalFailed {
		t.Fatalf("font swapped through a structure element: %s", dumpReport(swapped))
	}
}

// TestFieldAppearanceSharedWithPage: a field whose appearance stream is
// also an XObject the page draws (prepared by an attacker before signing):
// replacing that stream is content, not form filling.
func TestFieldAppearanceSharedWithPage(t *testing.T) {
	p := getPKI(t)
	objs := baseObjects()
	objs[objContent-1] = vStream("", "BT /F1 24 Tf 72 700 Td (Pay 100 INR) Tj ET q 1 0 0 1 72 500 cm /X2 Do Q")
	objs[objPage-1] = strings.Replace(objs[objPage-1], "/XObject << /X1 6 0 R >>", "/XObject << /X1 6 0 R /X2 9 0 R >>", 1)
	signed := signCAdES(t, testpdf.Objects(objs), p.leaf, SignOptions{Certify: true})
	doc := appendUpdate(t, signed, vUpdate{objs: map[int]string{
		objField:   "<< /FT /Tx /T (amount) /V (250) /Type /Annot /Subtype /Widget /Rect [72 600 300 620] /P 3 0 R /F 4 /AP << /N 9 0 R >> >>",
		objFieldAP: vStream("/Type /XObject /Subtype /Form /BBox [0 0 228 20] /Resources << /Font << /F1 5 0 R >> >>", "BT /F1 12 Tf 2 5 Td (Pay 1000000 INR) Tj ET"),
	}})
	rep := mustVerify(t, doc)
	if s := rep.Signatures[0]; s.Indication != TotalFailed || !hasMessage(s, "which a page draws") {
		t.Fatalf("a drawn XObject replaced as a field appearance under P=2: %s", dumpReport(rep))
	}
}
