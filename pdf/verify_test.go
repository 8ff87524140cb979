package pdf

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/pdf/internal/syntax"
	"github.com/securesign/securesign/pki"

	"github.com/google/go-cmp/cmp"
)

func TestVerifySmoke(t *testing.T) {
	doc := signWithPdfsign(t, baseDoc(), pdfsignOpts{})
	rep := mustVerify(t, doc)
	t.Log(dumpReport(rep))
	doc2 := signWithPdfsign(t, doc, pdfsignOpts{leaf: getPKI(t).leaf2})
	rep = mustVerify(t, doc2)
	t.Log(dumpReport(rep))
}

// TestReportJSON holds the field names of the validation report (docs/protocol.md §5).
func TestReportJSON(t *testing.T) {
	p := getPKI(t)
	doc := signWithPdfsign(t, baseDoc(), pdfsignOpts{tsaURL: tsaServer(t, p)})
	rep := mustVerify(t, doc)
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	keys := func(o map[string]any) []string {
		var k []string
		for key := range o {
			k = append(k, key)
		}
		sort.Strings(k)
		return k
	}
	if diff := cmp.Diff([]string{"signatures", "valid", "validationTime"}, keys(m)); diff != "" {
		t.Fatal(diff)
	}
	sig := m["signatures"].([]any)[0].(map[string]any)
	want := []string{"chain", "coverage", "field", "indication", "integrity", "kind", "level", "messages", "modifiedAfter",
		"revocation", "signer", "signingTime", "subIndication", "timestamp"}
	if diff := cmp.Diff(want, keys(sig)); diff != "" {
		t.Fatalf("signature keys (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"issuer", "serialNumber", "sha256", "subject"}, keys(sig["signer"].(map[string]any))); diff != "" {
		t.Fatal(diff)
	}
	if diff := cmp.Diff([]string{"time", "tsa"}, keys(sig["timestamp"].(map[string]any))); diff != "" {
		t.Fatal(diff)
	}
	if sig["messages"] == nil {
		t.Fatal("messages must be [] not null")
	}
}

// TestGoldenReport holds the whole report of a committed signed file
// (testdata/verify, written by TestWriteFuzzSeeds) against a golden JSON.
func TestGoldenReport(t *testing.T) {
	roots, _, err := pki.LoadTrustAnchors(filepath.Join("testdata", "verify", "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := VerifyFile(t.Context(), filepath.Join("testdata", "verify", "signed.pdf"), VerifyOptions{
		Roots: roots, Now: func() time.Time { return time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.MarshalIndent(rep, "", "  ")
	golden := filepath.Join("testdata", "verify", "signed.report.json")
	if os.Getenv("SECURESIGN_UPDATE_GOLDEN") == "1" {
		os.WriteFile(golden, append(got, '\n'), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	var a, b Report
	json.Unmarshal(want, &a)
	json.Unmarshal(got, &b)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("report differs from %s (-want +got):\n%s", golden, diff)
	}
}

// TestSignedFieldKids: a widget kid of a signed signature field counts as
// signed, so changing it later is "other", not a new signature.
func TestSignedFieldKids(t *testing.T) {
	objs := baseObjects()
	objs[objAcroForm-1] = "<< /Fields [8 0 R 11 0 R] >>"
	objs = append(objs,
		"<< /FT /Sig /T (approver) /V 12 0 R /Kids [13 0 R] >>",
		"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /ByteRange [0 0 0 0] /Contents <00> >>",
		"<< /Type /Annot /Subtype /Widget /Parent 11 0 R /Rect [0 0 10 10] /P 3 0 R >>",
	)
	doc := testpdf.Objects(objs)
	f, err := Verify(t.Context(), bytes.NewReader(doc), int64(len(doc)), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Signatures) != 1 || f.Signatures[0].Field != "approver" || f.Valid {
		t.Fatalf("want one (broken) signature named approver:\n%s", dumpReport(f))
	}
	doc2 := appendUpdate(t, doc, vUpdate{objs: map[int]string{13: "<< /Type /Annot /Subtype /Widget /Parent 11 0 R /Rect [0 0 500 500] /P 3 0 R >>"}})
	sf, err := syntax.Open(t.Context(), bytes.NewReader(doc2), int64(len(doc2)), syntax.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	v := &verifier{ctx: t.Context(), r: bytes.NewReader(doc2), size: int64(len(doc2)), f: sf,
		infos: map[int]*docInfo{}, refs: map[int]map[uint32]bool{}, dssRev: -1}
	di, err := v.docInfo(0)
	if err != nil {
		t.Fatal(err)
	}
	if fi := di.fields[13]; fi == nil || !fi.signed || !fi.isSig {
		t.Fatalf("widget kid: %+v", di.fields[13])
	}
	v.sigRevIdx, v.sigRevInfo = 0, di
	cs, err := v.analyseChanges(0)
	if err != nil {
		t.Fatal(err)
	}
	if cs.worst() != kOther {
		t.Fatalf("changing a signed field's widget: %v %+v", cs.worst(), cs.changes)
	}
}
