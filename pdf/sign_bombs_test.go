package pdf

// Resource bombs given to the signing side (issue 9): Sign, Prepare and
// Extend read the input's structure through internal/syntax with the same
// Limits as Verify, so a hostile input ends with a typed error instead of
// exhausting memory or looping. Time is never asserted.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pdf/internal/syntax"
)

func TestSignResourceBombs(t *testing.T) {
	// The cases whose hostile part lies on the signer's path (xref chain,
	// catalog, page tree); the others hide theirs in objects only a
	// validator reads (DSS streams) and are signed normally.
	onPath := map[string]bool{
		"deflate-bomb/xref-stream": true, "deflate-bomb/object-stream": true,
		"reference-cycle/root": true, "reference-cycle/prev-loop": true,
		"self-referencing-object-stream": true, "object-stream-length-inside-itself": true,
		"deep-nesting": true, "deep-nesting/dicts": true,
		"huge-xref-table": true, "huge-xref-stream": true, "huge-object-count": true,
		"many-revisions": true, "huge-string": true, "huge-array": true,
		"truncated/half": true, "truncated/empty": true, "truncated/no-eof": true,
		"unknown-filter": true,
	}
	cases := []bombCase{{name: "reference-cycle/page-tree", check: isCycle, build: func() []byte {
		return bombPDF([]string{
			"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj",
			"2 0 obj\n3 0 R\nendobj",
			"3 0 obj\n2 0 R\nendobj",
		}, classicTail("1 0 R", ""))
	}}}
	for _, c := range bombCases() {
		if onPath[c.name] {
			cases = append(cases, c)
		}
	}
	w := sgGetWorld(t)
	s := w.leaf(t, testpki.P256, 0, "Rajesh Kumar")
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := tc.build()
			src, size := bytes.NewReader(doc), int64(len(doc))
			opts := SignOptions{Limits: tc.lim}
			if tc.name == "reference-cycle/page-tree" {
				// an invisible signature needs no page; a visible one does
				opts.Appearance = sgVisibleAt(1)
			}
			calls := []struct {
				name string
				do   func() error
			}{
				{"Sign", func() error { return Sign(ctx, io.Discard, src, size, s, opts) }},
				{"Prepare", func() error {
					_, err := Prepare(ctx, io.Discard, src, size, s.Certificate(), s.Chain(), opts)
					return err
				}},
				{"Extend", func() error {
					return Extend(ctx, io.Discard, src, size, LevelBLT, SignOptions{Limits: tc.lim, Revocation: w.ocsp, Timestamper: w.tsa})
				}},
			}
			for _, call := range calls {
				if call.name == "Extend" && tc.name == "reference-cycle/page-tree" {
					continue // Extend adds no field, so it never walks the page tree
				}
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				err := call.do()
				runtime.ReadMemStats(&after)
				if !tc.check(err) {
					t.Errorf("%s: unexpected result: %v", call.name, err)
				}
				if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<20 {
					t.Errorf("%s: allocated %d MiB, more than 256 MiB", call.name, alloc>>20)
				}
			}
		})
	}
}

// TestSignLimitErrorTyped: a limit hit while signing is a *LimitError,
// not hidden behind ErrMalformed or ErrOptions.
func TestSignLimitErrorTyped(t *testing.T) {
	doc := testpdf.Objects(baseObjects())
	s := sgGetWorld(t).leaf(t, testpki.P256, 0, "Rajesh Kumar")
	err := Sign(context.Background(), io.Discard, bytes.NewReader(doc), int64(len(doc)), s, SignOptions{Limits: Limits{MaxObjectTokens: 3}})
	var le *LimitError
	if !errors.As(err, &le) || !errors.Is(err, syntax.ErrLimit) || errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want a *LimitError", err)
	}
}
