package pdf

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/testpdf"
)

// FuzzOpenDocument feeds garbage to the reader the signer uses on its
// input: it must return errors, never panic or loop.
func FuzzOpenDocument(f *testing.F) {
	f.Add(testpdf.Bytes(testpdf.Options{}))
	f.Add(testpdf.Bytes(testpdf.Options{Pages: 2, Fields: 2}))
	f.Add([]byte("%PDF-1.7\n1 0 obj<</Type/XRef/W[1 2 1]/Size 2/Length 3>>stream\nabc\nendstream endobj\nstartxref\n9\n%%EOF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := openDocument(context.Background(), bytes.NewReader(data), int64(len(data)), Limits{}, nil)
		if err != nil {
			return
		}
		st, err := stateFromDocument(d)
		if err != nil {
			return
		}
		d.page(1)
		signatureContents(st)
		// Appending a signature revision must not panic either.
		buildSignatureRevision(st, kindApproval, &SignOptions{Appearance: &Appearance{Width: 10, Height: 10}}, nil, 100, testNow())
		var sink bytes.Buffer
		copyAndHash(context.Background(), &sink, bytes.NewReader(data), int64(len(data)), nopHash{})
		_ = io.Discard
	})
}

type nopHash struct{}

func (nopHash) Write(p []byte) (int, error) { return len(p), nil }
func (nopHash) Sum(b []byte) []byte         { return b }
func (nopHash) Reset()                      {}
func (nopHash) Size() int                   { return 32 }
func (nopHash) BlockSize() int              { return 64 }

func testNow() time.Time { return time.Date(2026, 11, 22, 10, 30, 0, 0, time.FixedZone("IST", 19800)) }

// FuzzOpenForSigning is FuzzOpenDocument through the signer's repair path:
// damaged inputs are rebuilt, rewritten and reopened, never panicking,
// looping or exceeding the limits.
func FuzzOpenForSigning(f *testing.F) {
	good := testpdf.Bytes(testpdf.Options{Pages: 2, Fields: 1})
	f.Add(good)
	f.Add(bytes.Replace(good, []byte("startxref\n"), []byte("startxref\n9"), 1))
	f.Add(bytes.Replace(good, []byte(" 00000 n"), []byte(" 00001 n"), 1))
	f.Add(append([]byte("junk\n"), good...))
	f.Add(good[:bytes.LastIndex(good, []byte("xref"))])
	f.Fuzz(func(t *testing.T, data []byte) {
		o := &SignOptions{Limits: Limits{MaxStreamBytes: 1 << 20, MaxTotalBytes: 4 << 20, MaxXrefEntries: 1 << 16}}
		d, _, err := openForSigning(context.Background(), bytes.NewReader(data), int64(len(data)), o)
		if err != nil {
			return
		}
		st, err := stateFromDocument(d)
		if err != nil {
			return
		}
		buildSignatureRevision(st, kindApproval, &SignOptions{}, nil, 100, testNow())
	})
}
