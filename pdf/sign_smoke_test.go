package pdf

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
)

func TestSignSmoke(t *testing.T) {
	w := sgGetWorld(t)
	v := sgNewValidators(t, w)
	in := sgWriteTemp(t, "in.pdf", testpdf.Bytes(testpdf.Options{Pages: 2, Fields: 2}))
	out := filepath.Join(t.TempDir(), "out.pdf")
	s := w.leaf(t, testpki.RSA2048, 1, "Rajesh Kumar")
	if err := SignFile(context.Background(), in, out, s, SignOptions{Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	v.check(t, out, 1)
	if d := os.Getenv("PDFSIGN_KEEP"); d != "" {
		b, _ := os.ReadFile(out)
		os.WriteFile(filepath.Join(d, "smoke.pdf"), b, 0o644)
	}
}
