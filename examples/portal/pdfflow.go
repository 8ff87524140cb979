package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"time"

	"github.com/securesign/securesign/pdf"
)

// preparedDoc is phase one of the two-phase PDF signature: the prepared
// file (the PDF with an empty signature placeholder) and its state. A real
// portal would keep both in its database between the two phases; the state
// is small (pdf.PreparedSignature.MarshalBinary).
type preparedDoc struct {
	*pdf.PreparedSignature
	file []byte
}

func prepare(ctx context.Context, src []byte, cert *x509.Certificate, chain []*x509.Certificate, opts pdf.SignOptions) (*preparedDoc, error) {
	var dst bytes.Buffer
	ps, err := pdf.Prepare(ctx, &dst, bytes.NewReader(src), int64(len(src)), cert, chain, opts)
	if err != nil {
		return nil, err
	}
	return &preparedDoc{PreparedSignature: ps, file: dst.Bytes()}, nil
}

// finish embeds the user's signature; pdf.Finish checks it first.
func finish(ctx context.Context, p *preparedDoc, sig []byte, opts pdf.SignOptions) ([]byte, error) {
	f := &memFile{b: bytes.Clone(p.file)}
	if err := pdf.Finish(ctx, f, p.PreparedSignature, sig, opts); err != nil {
		return nil, err
	}
	return f.b, nil
}

// memFile is a growable in-memory file for pdf.Finish.
type memFile struct{ b []byte }

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(m.b)) {
		m.b = append(m.b, make([]byte, end-int64(len(m.b)))...)
	}
	return copy(m.b[off:], p), nil
}

// signedAt is the time to show the customer as when they signed: the new
// signature's timestamp when it has one (B-T and above: the TSA's genTime
// proves the signature existed then), else arrived, when the signature
// reached the portal. Never the PDF's /M or the CMS signingTime: both are
// in the signed data, so they were fixed when the document was prepared,
// before the customer saw it, and a signer's clock proves nothing anyway.
func signedAt(rep *pdf.Report, arrived time.Time) (at time.Time, fromTimestamp bool) {
	if rep == nil || len(rep.Signatures) == 0 {
		return arrived, false
	}
	s := rep.Signatures[len(rep.Signatures)-1] // Finish appends ours last
	if s.Kind != pdf.KindSignature || s.Timestamp == nil {
		return arrived, false
	}
	t, err := time.Parse(time.RFC3339, s.Timestamp.Time)
	if err != nil {
		return arrived, false
	}
	return t, true
}
