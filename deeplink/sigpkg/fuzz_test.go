package sigpkg

import (
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: Parse never panics and fails only with an *Error; what it
// accepts Build writes again and Check then examines without panicking.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil && filepath.Base(name) != "vectors.json" {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"version":"1.2","requestId":"r","hashAlgo":"SHA256","documents":[{"name":"a","pdf":"PA==","signedAttrs":"MQA=","byteRange":[0,0,1,0]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *Error: %v", err, err)
			}
			return
		}
		raw, err := Build(p)
		if err != nil {
			t.Fatalf("Build refuses what Parse accepts: %v", err)
		}
		if _, err := Parse(raw); err != nil {
			t.Fatalf("Build's output does not parse: %v", err)
		}
		h, _ := hashByName(p.HashAlgo)
		for _, d := range p.Documents {
			CheckDocument(h, d.SignedAttrs, d.ByteRange, d.PDF)
		}
		Check(raw, Expect{RequestID: p.RequestID, HashAlgo: crypto.SHA256, PackageSHA256: Digest(raw)}, nil)
	})
}
