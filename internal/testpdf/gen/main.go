// Command gen writes a test PDF of about N MiB: gen OUT.pdf N.
package main

import (
	"os"
	"strconv"

	"github.com/securesign/securesign/internal/testpdf"
)

func main() {
	mb, _ := strconv.Atoi(os.Args[2])
	if err := testpdf.WriteFile(os.Args[1], testpdf.Options{Pages: 2, PadBytes: int64(mb) << 20}); err != nil {
		panic(err)
	}
}
