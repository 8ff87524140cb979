package sigpkg

import (
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/securesign/securesign/deeplink"
)

// FuzzParse: Parse never panics and fails only with an *Error; what it
// accepts Build writes again and Check then examines without panicking.
func FuzzParse(f *testing.F) {
	// One real package (8 KiB: the /Contents placeholder); the bigger
	// vectors only slow the engine's minimising down.
	for _, name := range []string{"valid-1.json", "bad-byterange-short.json"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"version":"1.2","requestId":"r","hashAlgo":"SHA384","documents":[{"name":"a","pdfUrl":"https://x.example/a","pdfSha256":"` +
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" + `","signedAttrs":"MQA=","byteRange":[0,1,2,0]}]}`))
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
		h, _ := deeplink.ParseHashAlgo(p.HashAlgo)
		for _, d := range p.Documents {
			CheckDocument(h, d.SignedAttrs, d.ByteRange, d.PDF)
		}
		Check(raw, Expect{RequestID: p.RequestID, HashAlgo: crypto.SHA256, PackageSHA256: Digest(raw)}, nil)
	})
}

// FuzzCheckDocument: any ByteRange, PDF bytes and signed attributes are
// refused or accepted without a panic; what is accepted covers the PDF but
// a gap of '<' zeros '>'.
func FuzzCheckDocument(f *testing.F) {
	f.Add([]byte("/ByteRange [0 10 14 2]/Contents <00>>>"), int64(10), int64(14), int64(2), []byte{0x31, 0})
	f.Add([]byte("/Contents <0000> /ByteRange [0 10 16 1]x"), int64(10), int64(16), int64(1), []byte{0x31, 0})
	f.Fuzz(func(t *testing.T, pdf []byte, a, b, c int64, attrs []byte) {
		br := [4]int64{0, a, b, c}
		if _, err := CheckDocument(crypto.SHA256, attrs, br, pdf); err == nil {
			if b+c != int64(len(pdf)) || pdf[a] != '<' || pdf[b-1] != '>' {
				t.Fatalf("accepted %v over %d bytes", br, len(pdf))
			}
		}
	})
}
