package main

import (
	"testing"
	"time"

	"github.com/securesign/securesign/pdf"
)

// TestSignedAt: the customer is shown the timestamp's time when the new
// signature has one, else when it arrived; never the claimed signing time
// (written when the PDF was prepared).
func TestSignedAt(t *testing.T) {
	arrived := time.Date(2026, 12, 7, 10, 5, 0, 0, time.UTC)
	prepared := "2026-12-07T10:00:00Z"
	for _, c := range []struct {
		name string
		rep  *pdf.Report
		want time.Time
		ts   bool
	}{
		{"no report", nil, arrived, false},
		{"B-B", &pdf.Report{Signatures: []pdf.SignatureReport{{Kind: pdf.KindSignature, SigningTime: prepared}}}, arrived, false},
		{"B-T", &pdf.Report{Signatures: []pdf.SignatureReport{{Kind: pdf.KindSignature, SigningTime: prepared,
			Timestamp: &pdf.TimestampSummary{Time: "2026-12-07T10:04:58Z"}}}}, time.Date(2026, 12, 7, 10, 4, 58, 0, time.UTC), true},
		{"an earlier signer's timestamp does not count", &pdf.Report{Signatures: []pdf.SignatureReport{
			{Kind: pdf.KindSignature, Timestamp: &pdf.TimestampSummary{Time: "2026-01-01T00:00:00Z"}},
			{Kind: pdf.KindSignature, SigningTime: prepared}}}, arrived, false},
	} {
		got, ts := signedAt(c.rep, arrived)
		if !got.Equal(c.want) || ts != c.ts {
			t.Errorf("%s: %v %v, want %v %v", c.name, got, ts, c.want, c.ts)
		}
	}
}
