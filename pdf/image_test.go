package pdf

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testimg"
	"github.com/securesign/securesign/internal/testpki"
)

// TestImageBudget refuses images above the budgets from their header,
// before any pixel buffer exists.
func TestImageBudget(t *testing.T) {
	for _, c := range []struct {
		name string
		img  []byte
	}{
		{"10000x10000", testimg.PNGBomb(10000, 10000, 100)},
		{"65535x65535", testimg.PNGBomb(65535, 65535, 10)},
		{"9000x1", testimg.PNGBomb(9000, 1, 1)},
		{"2001x2000", testimg.PNGBomb(2001, 2000, 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			a := &Appearance{Width: 100, Height: 50, Image: c.img}
			err := a.check()
			runtime.ReadMemStats(&m1)
			if !errors.Is(err, ErrImageTooLarge) || !errors.Is(err, ErrOptions) {
				t.Fatalf("check: %v, want ErrImageTooLarge", err)
			}
			if d := m1.TotalAlloc - m0.TotalAlloc; d > 1<<20 {
				t.Errorf("refusing allocated %d bytes", d)
			}
		})
	}
	if err := (&Appearance{Width: 100, Height: 50, Image: testimg.PNGBomb(2000, 2000, 2000)}).check(); err != nil {
		t.Errorf("4 MP image refused: %v", err)
	}
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestImageEmbedding signs with logos of each kind and checks, in
// pdftoppm's rendering, that the logo's colour is where the logo is; PNGs
// without alpha go in without decoding.
func TestImageEmbedding(t *testing.T) {
	testenv.LookPath(t, "pdftoppm", "poppler-utils")
	testenv.LookPath(t, "qpdf", "qpdf")
	red := color.NRGBA{200, 30, 40, 255}
	rgba := image.NewNRGBA(image.Rect(0, 0, 40, 40))
	rgb := image.NewRGBA(image.Rect(0, 0, 40, 40))
	gray := image.NewGray(image.Rect(0, 0, 40, 40))
	pal := image.NewPaletted(image.Rect(0, 0, 40, 40), color.Palette{color.White, red})
	for y := range 40 {
		for x := range 40 {
			rgba.Set(x, y, red)
			rgb.Set(x, y, red)
			gray.Set(x, y, color.Gray{90})
			pal.SetColorIndex(x, y, 1)
		}
	}
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, rgb, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	semi := image.NewNRGBA(image.Rect(0, 0, 40, 40))
	for y := range 40 {
		for x := range 40 {
			semi.Set(x, y, color.NRGBA{200, 30, 40, 254})
		}
	}
	w := sgGetWorld(t)
	s := w.leaf(t, testpki.P256, 0, "Logo Tester")
	for _, c := range []struct {
		name string
		img  []byte
		raw  bool
		want [3]int
	}{
		{"png-rgb", encodePNG(t, rgb), true, [3]int{200, 30, 40}},
		{"png-gray", encodePNG(t, gray), true, [3]int{90, 90, 90}},
		{"png-palette", encodePNG(t, pal), true, [3]int{200, 30, 40}},
		{"png-alpha", encodePNG(t, semi), false, [3]int{200, 30, 40}},
		{"jpeg", jb.Bytes(), false, [3]int{200, 30, 40}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := parsePNGRaw(c.img); (err == nil) != c.raw {
				t.Fatalf("parsePNGRaw: %v, want raw=%v", err, c.raw)
			}
			dir := t.TempDir()
			out := filepath.Join(dir, "out.pdf")
			a := &Appearance{Page: 1, X: 300, Y: 80, Width: 240, Height: 70, Image: c.img}
			if err := SignFile(context.Background(), sgInput(t, "classic"), out, s, SignOptions{Appearance: a}); err != nil {
				t.Fatal(err)
			}
			sgRun(t, "qpdf", "--check", out)
			sgRun(t, "pdftoppm", "-r", "72", "-f", "1", "-l", "1", out, filepath.Join(dir, "page"))
			m, _ := filepath.Glob(filepath.Join(dir, "page*.ppm"))
			if len(m) != 1 {
				t.Fatalf("pdftoppm wrote %v", m)
			}
			px := ppmPixels(t, m[0])
			// The logo is a 66 pt square at (302, 82) from the lower left.
			got := px(335, 115)
			for i := range 3 {
				if d := got[i] - c.want[i]; d < -12 || d > 12 {
					t.Fatalf("logo pixel %v, want about %v", got, c.want)
				}
			}
		})
	}
}

// ppmPixels reads a binary PPM and returns a lookup in PDF coordinates
// (origin lower left, 72 dpi).
func ppmPixels(t *testing.T, path string) func(x, y int) [3]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[:min(len(b), 64)]))
	if len(f) < 4 || f[0] != "P6" {
		t.Fatalf("not a P6 PPM: %q", b[:16])
	}
	w, _ := strconv.Atoi(f[1])
	h, _ := strconv.Atoi(f[2])
	// Header: "P6\nW H\n255\n".
	hdr := 0
	for nl := 0; nl < 3; hdr++ {
		if b[hdr] == '\n' {
			nl++
		}
	}
	pix := b[hdr:]
	return func(x, y int) [3]int {
		row := h - 1 - y
		i := (row*w + x) * 3
		return [3]int{int(pix[i]), int(pix[i+1]), int(pix[i+2])}
	}
}

// FuzzPNGRaw: any bytes either pass through with an inflatable IDAT of the
// announced size or are left to the decoder; never a panic.
func FuzzPNGRaw(f *testing.F) {
	f.Add(testimg.PNGBomb(16, 16, 16))
	f.Add(testimg.PNGBomb(10000, 10000, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePNGRaw(b)
		if err == nil && (p.width <= 0 || p.height <= 0 || len(p.idat) == 0) {
			t.Fatalf("accepted %d × %d with %d bytes", p.width, p.height, len(p.idat))
		}
	})
}
