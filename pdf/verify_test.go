package pdf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

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

// TestReportJSON holds the field names of PROTOCOL.md's validation report.
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
	if diff := cmp.Diff([]string{"signatures", "valid"}, keys(m)); diff != "" {
		t.Fatal(diff)
	}
	sig := m["signatures"].([]any)[0].(map[string]any)
	want := []string{"chain", "coverage", "field", "indication", "integrity", "level", "messages", "modifiedAfter",
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
