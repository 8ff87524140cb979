package desktop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"time"
)

// Renderer draws one page of a PDF as a PNG image, so the page can show the
// document the user signs as pictures the browser always displays (the
// browser's own PDF viewer is not available everywhere: headless and
// locked-down browsers show an empty frame).
type Renderer interface {
	// RenderPage returns page (1-based) of pdf as PNG.
	RenderPage(ctx context.Context, pdf []byte, page int) ([]byte, error)
}

// PDFToPPM renders with poppler's pdftoppm, which reads the PDF from its
// standard input: the document is never written to disk.
type PDFToPPM struct {
	// Path is the pdftoppm executable.
	Path string
	// DPI is the resolution; default 110 (an A4 page about 900 pixels
	// wide, readable on a laptop without zooming).
	DPI int
}

// maxPageImage bounds one rendered page (a PDF can ask for a huge page).
const maxPageImage = 8 << 20

// renderTimeout bounds one page's rendering.
const renderTimeout = 20 * time.Second

// RenderPage runs pdftoppm on page of pdf.
func (r PDFToPPM) RenderPage(ctx context.Context, pdf []byte, page int) ([]byte, error) {
	dpi := r.DPI
	if dpi <= 0 {
		dpi = 110
	}
	ctx, cancel := context.WithTimeout(ctx, renderTimeout)
	defer cancel()
	p := strconv.Itoa(page)
	// -scale-to bounds the image whatever size the page claims.
	cmd := exec.CommandContext(ctx, r.Path, "-png", "-r", strconv.Itoa(dpi), "-scale-to", "1400",
		"-f", p, "-l", p, "-singlefile", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	var out, errb limitedBuffer
	out.max, errb.max = maxPageImage, 4096
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("desktop: pdftoppm page %d: %w (%s)", page, err, bytes.TrimSpace(errb.b.Bytes()))
	}
	if out.over || !bytes.HasPrefix(out.b.Bytes(), []byte("\x89PNG")) {
		return nil, fmt.Errorf("desktop: pdftoppm page %d: no PNG image within %d bytes", page, maxPageImage)
	}
	return out.b.Bytes(), nil
}

// limitedBuffer keeps at most max bytes and notes any more.
type limitedBuffer struct {
	b    bytes.Buffer
	max  int
	over bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); len(p) > room {
		l.over = true
		if room > 0 {
			l.b.Write(p[:room])
		}
		return len(p), nil
	}
	return l.b.Write(p)
}

// errNoRenderer means pages are shown by the browser's own PDF viewer only.
var errNoRenderer = errors.New("desktop: no page renderer")

// renderer is the App's Renderer, else the one Policy.PageRenderer names:
// "" looks for pdftoppm on PATH, "browser" uses none, anything else is the
// path of pdftoppm. Nil means none.
func (a *App) renderer() Renderer {
	if a.Renderer != nil {
		return a.Renderer
	}
	switch a.Policy.PageRenderer {
	case "browser":
		return nil
	case "":
		p, err := exec.LookPath("pdftoppm")
		if err != nil {
			return nil
		}
		return PDFToPPM{Path: p}
	default:
		return PDFToPPM{Path: a.Policy.PageRenderer}
	}
}
