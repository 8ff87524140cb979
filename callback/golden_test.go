package callback

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/results.json")

// golden results: the exact ss_result this package produces, so a change
// of the wire format shows up in review. testdata/results.json holds, per
// case, the JSON text and its encoding.
func goldenResults() map[string]*Result {
	two := 2
	return map[string]*Result{
		"success-batch": {RequestID: "req_0123456789abcdef", Success: true, SignatureBase64: "MEUCIQ==",
			SignedAt:    "2026-06-22T10:30:00Z",
			Certificate: &CertSummary{SubjectCN: "Rajesh Kumar", SerialNumber: "4a3b2c1d", ValidTo: "2027-01-01"},
			V:           1, SignaturesBase64: []string{"MEUCIQ==", "MEQCIA=="}, SignAlgo: "ECDSA",
			CertificateBase64: "MIIBkTCB+w==", ChainBase64: []string{"MIIBqDCCAU4="}},
		"failure-pin": {RequestID: "req_0123456789abcdef", Error: CodePINInvalid, Message: "Wrong PIN", V: 1, PINTriesLeft: &two},
		"failure-cancel-legacy-reader": {RequestID: "550e8400-e29b-41d4-a716-446655440000", Error: CodeSignCancelled,
			Message: "रद्द किया गया <cancelled> & closed"},
	}
}

type goldenCase struct {
	JSON    json.RawMessage `json:"json"`
	Encoded string          `json:"encoded"`
}

func TestGoldenResults(t *testing.T) {
	const path = "testdata/results.json"
	got := map[string]goldenCase{}
	for name, r := range goldenResults() {
		e := enc(t, r)
		raw, _ := base64.StdEncoding.DecodeString(e)
		got[name] = goldenCase{JSON: raw, Encoded: e}
	}
	if *update {
		data, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]goldenCase
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	for name, w := range want {
		if got[name].Encoded != w.Encoded {
			t.Errorf("%s: Encode changed:\n got %s\nwant %s", name, got[name].JSON, w.JSON)
		}
		r, err := Decode(w.Encoded)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := goldenResults()[name]
		if want.V == 0 {
			want.V = 1
		}
		if diff := cmp.Diff(want, r); diff != "" {
			t.Errorf("%s: Decode (-want +got):\n%s", name, diff)
		}
	}
	if len(want) != len(got) {
		t.Errorf("%d golden cases, %d results", len(want), len(got))
	}
}
