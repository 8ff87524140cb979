package pdf_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/securesign/securesign/pdf"
	"github.com/securesign/securesign/pki"
)

// Verify a signed PDF against an operator's trust anchors (for example the
// CCA India roots) and print one line per signature.
func ExampleVerifyFile() {
	roots, _, err := pki.LoadTrustAnchors("testdata/verify/root.pem")
	if err != nil {
		log.Fatal(err)
	}
	rep, err := pdf.VerifyFile(context.Background(), "testdata/verify/signed.pdf", pdf.VerifyOptions{
		Roots: roots,
		// the test certificate is only valid for a while: validate as of
		// a fixed day (a timestamped signature carries its own time)
		Now: func() time.Time { return time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		log.Fatal(err) // not a PDF, damaged, encrypted, or over the limits
	}
	for _, s := range rep.Signatures {
		fmt.Println(s.Field, s.Indication, s.Coverage, s.ModifiedAfter)
	}
	fmt.Println("valid:", rep.Valid)
	// Output:
	// Signature 1 TOTAL_PASSED whole-file none
	// valid: true
}
