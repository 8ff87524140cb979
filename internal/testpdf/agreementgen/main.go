// Command agreementgen writes the repository's sample unsigned agreement
// (testpdf.Agreement) to the path given: agreementgen testdata/agreement.pdf.
// `go generate ./internal/testpdf` runs it.
package main

import (
	"fmt"
	"os"

	"github.com/securesign/securesign/internal/testpdf"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: agreementgen OUT.pdf")
		os.Exit(2)
	}
	if err := os.WriteFile(os.Args[1], testpdf.Agreement(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "agreementgen:", err)
		os.Exit(1)
	}
}
