package gateway

import (
	"bytes"
	"testing"
)

// FuzzSpoolBatch: any body is spooled or refused without a panic; what is
// kept in memory stays within its bound and every spooled document is an
// item's.
func FuzzSpoolBatch(f *testing.F) {
	f.Add([]byte(`{"certSerial":"01","items":[{"pdfBase64":"JVBERi0="},{"pdfBase64":"JVBERi0xLjc="}]}`))
	f.Add([]byte(`{"items":[{"hashBase64":"AAAA"}],"x":{"items":[{"pdfBase64":"AA=="}]}}`))
	f.Add([]byte(`{"items":[{"pdfBase64":"JVBE\/Ri0="},{"pdfBase64":""}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		dir := t.TempDir()
		b, err := spoolBatch(bytes.NewReader(body), dir, 4096, 4)
		if err != nil {
			return
		}
		defer b.Close()
		if len(b.Rest) > 4096 {
			t.Fatalf("rest %d bytes", len(b.Rest))
		}
		for i, d := range b.Docs {
			if i < 0 || i >= 4 || d.File == nil {
				t.Fatalf("document %d: %+v", i, d)
			}
		}
	})
}
