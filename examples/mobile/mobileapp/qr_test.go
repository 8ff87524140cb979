package mobileapp

import (
	"bytes"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/securesign/securesign/deeplink"
)

// TestLinkFromImageReadsOurQRCodes decodes the QR codes deeplink.QRPNG
// draws: the links in testdata/qr are ones gozxing's default reading got
// wrong (zbarimg reads them), the rest random links of every length a
// link may have.
func TestLinkFromImageReadsOurQRCodes(t *testing.T) {
	files, err := filepath.Glob("testdata/qr/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/qr links: %v", err)
	}
	var links []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		links = append(links, strings.TrimSpace(string(b)))
	}
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_%=&."
	n := 100
	if testing.Short() {
		n = 10
	}
	for range n {
		b := make([]byte, 20+r.IntN(deeplink.MaxLinkLength-len("securesign://sign?")-20))
		for j := range b {
			b[j] = alphabet[r.IntN(len(alphabet))]
		}
		links = append(links, "securesign://sign?"+string(b))
	}
	for i, link := range links {
		p, err := deeplink.QRPNG(link)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		got, err := LinkFromImage(img)
		if err != nil {
			t.Errorf("link %d (%d bytes): %v", i, len(link), err)
			continue
		}
		if got != link {
			t.Errorf("link %d (%d bytes) read back as another text", i, len(link))
		}
	}
}
