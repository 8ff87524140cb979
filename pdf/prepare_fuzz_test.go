package pdf

import (
	"bytes"
	"context"
	"testing"
)

// FuzzPreparedState: UnmarshalBinary on garbage returns an error, never
// panics; what it accepts marshals back to the same bytes.
func FuzzPreparedState(f *testing.F) {
	f.Add([]byte("SSPDFPREP\x01{}"))
	f.Add([]byte("SSPDFPREP\x01{\"digest\":\"AAAA\",\"hash\":5,\"certs\":[\"MAA=\"],\"revDigest\":\"\"}"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p PreparedSignature
		if err := p.UnmarshalBinary(data); err != nil {
			return
		}
		if _, err := p.MarshalBinary(); err != nil {
			t.Fatalf("accepted state does not marshal: %v", err)
		}
		// Finish against an unrelated file must fail cleanly.
		doc := bytes.NewReader([]byte("%PDF-1.7\n%%EOF\n"))
		if _, err := p.plan(context.Background(), doc, make([]byte, 64), &SignOptions{}); err == nil {
			t.Fatal("Finish accepted a random signature")
		}
	})
}
