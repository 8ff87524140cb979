package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExtractField(t *testing.T) {
	pdfBytes := []byte("%PDF-1.7 hello \x00\xff")
	enc := base64.StdEncoding.EncodeToString(pdfBytes)
	tests := []struct {
		name, in, rest string
		found          bool
		file           []byte
	}{
		{"member first", `{"pdfBase64":"` + enc + `","certSerial":"01"}`, `{"pdfBase64":"","certSerial":"01"}`, true, pdfBytes},
		{"member last", `{"a":{"pdfBase64":"x"},"pdfBase64" : "` + enc + `"}`, `{"a":{"pdfBase64":"x"},"pdfBase64" : ""}`, true, pdfBytes},
		{"nested only", `{"a":[{"pdfBase64":"QQ=="}]}`, `{"a":[{"pdfBase64":"QQ=="}]}`, false, nil},
		{"as a value", `{"x":"pdfBase64","y":1}`, `{"x":"pdfBase64","y":1}`, false, nil},
		{"escaped slash", `{"pdfBase64":"` + strings.ReplaceAll(base64.StdEncoding.EncodeToString([]byte{0xff, 0xff, 0xff}), "/", `\/`) + `"}`, `{"pdfBase64":""}`, true, []byte{0xff, 0xff, 0xff}},
		{"null", `{"pdfBase64":null}`, `{"pdfBase64":null}`, false, nil},
		{"escaped quote in other", `{"n":"a\"b","pdfBase64":"QUI="}`, `{"n":"a\"b","pdfBase64":""}`, true, []byte("AB")},
	}
	for _, tc := range tests {
		var file bytes.Buffer
		rest, found, err := extractField(strings.NewReader(tc.in), "pdfBase64", &file, 1024)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if string(rest) != tc.rest || found != tc.found || !bytes.Equal(file.Bytes(), tc.file) {
			t.Errorf("%s: rest %q found %v file %q", tc.name, rest, found, file.Bytes())
		}
	}
	for name, in := range map[string]string{
		"bad base64":   `{"pdfBase64":"@@@@"}`,
		"unterminated": `{"pdfBase64":"QUFB`,
		"rest too big": `{"pdfBase64":"QQ==","x":"` + strings.Repeat("a", 2000) + `"}`,
		"bad escape":   `{"pdfBase64":"QU\u0046B"}`,
	} {
		if _, _, err := extractField(strings.NewReader(in), "pdfBase64", &bytes.Buffer{}, 1024); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// FuzzExtractField checks that extracting the member keeps every other
// member of a valid object as encoding/json reads it, and never panics.
func FuzzExtractField(f *testing.F) {
	f.Add([]byte(`{"pdfBase64":"QUJD","certSerial":"01","level":"B-T"}`))
	f.Add([]byte(`{"a":[1,{"pdfBase64":"x"}],"pdfBase64":"QQ=="}`))
	f.Add([]byte(`{"pdfBase64":"QU\/B"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var file bytes.Buffer
		rest, found, err := extractField(bytes.NewReader(data), "pdfBase64", &file, 1<<16)
		if err != nil {
			return
		}
		var orig map[string]json.RawMessage
		if json.Unmarshal(data, &orig) != nil || bytes.Count(data, []byte(`"pdfBase64"`)) > 1 {
			return // invalid, or a duplicate member (the handler refuses those)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(rest, &got); err != nil {
			t.Fatalf("valid object %q became invalid %q: %v", data, rest, err)
		}
		var want string
		if found && json.Unmarshal(orig["pdfBase64"], &want) == nil {
			dec, err := base64.StdEncoding.DecodeString(want)
			if err == nil && !bytes.Equal(dec, file.Bytes()) {
				t.Fatalf("decoded %q, want %q", file.Bytes(), dec)
			}
			orig["pdfBase64"] = json.RawMessage(`""`)
		}
		norm := func(m map[string]json.RawMessage) map[string]string {
			out := map[string]string{}
			for k, v := range m {
				var x any
				json.Unmarshal(v, &x) //nolint:errcheck
				b, _ := json.Marshal(x)
				out[k] = string(b)
			}
			return out
		}
		if diff := cmp.Diff(norm(orig), norm(got)); diff != "" && !strings.Contains(string(data), `\`) {
			t.Fatalf("members changed (-orig +rest):\n%s", diff)
		}
	})
}
