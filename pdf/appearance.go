package pdf

import (
	"bytes"
	"compress/zlib"
	"crypto/x509"
	"fmt"
	"image/color"
	"image/jpeg"
	"image/png"
	"strconv"
	"strings"
	"time"

	"github.com/securesign/securesign/pdf/internal/syntax"
)

// Appearance makes a signature visible: a box on a page with a text block
// (signer name, date, reason, location, certificate serial) and an
// optional logo on its left.
type Appearance struct {
	// Page is the 1-based page number; 0 means the first page.
	Page int
	// X, Y, Width, Height place the box, in points from the page's
	// lower-left corner.
	X, Y, Width, Height float64
	// Text replaces the default text block; lines are separated by "\n".
	Text string
	// Image is an optional JPEG or PNG logo.
	Image []byte
}

func (a *Appearance) check() error {
	if a.Page < 0 {
		return fmt.Errorf("%w: page %d", ErrOptions, a.Page)
	}
	if !(a.Width > 0 && a.Height > 0) || a.Width > 14400 || a.Height > 14400 {
		return fmt.Errorf("%w: appearance rectangle %gx%g", ErrOptions, a.Width, a.Height)
	}
	if len(a.Image) > 0 {
		if _, _, err := imageHeader(a.Image); err != nil {
			return err
		}
	}
	return nil
}

// appearanceLines is the default text block, as Indian DSC users expect.
func appearanceLines(o *SignOptions, cert *x509.Certificate, now time.Time) []string {
	if o.Appearance.Text != "" {
		return strings.Split(o.Appearance.Text, "\n")
	}
	name := ""
	if cert != nil {
		name = cert.Subject.CommonName
	}
	lines := []string{
		"Digitally signed by " + name,
		"Date: " + now.Format("2006.01.02 15:04:05 -07:00"),
	}
	if o.Reason != "" {
		lines = append(lines, "Reason: "+o.Reason)
	}
	if o.Location != "" {
		lines = append(lines, "Location: "+o.Location)
	}
	if cert != nil {
		lines = append(lines, "Serial: "+strings.ToUpper(cert.SerialNumber.Text(16)))
	}
	return lines
}

// winAnsi converts s to a PDF literal string body in WinAnsiEncoding
// (Latin-1 subset), escaping delimiters; other characters become '?'.
func winAnsi(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r >= 0xa0 && r <= 0xff:
			fmt.Fprintf(&b, "\\%03o", r)
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

// writeAppearance writes the appearance stream (and font and image) and
// returns the widget's /Rect and the appearance reference.
func writeAppearance(rb *revBuilder, o *SignOptions, cert *x509.Certificate, now time.Time) (syntax.Array, syntax.Ref, error) {
	a := o.Appearance
	w, h := a.Width, a.Height
	rect := syntax.Array{a.X, a.Y, a.X + w, a.Y + h}

	fontNum := rb.alloc()
	font := syntax.Dict{}
	font["Type"] = syntax.Name("Font")
	font["Subtype"] = syntax.Name("Type1")
	font["BaseFont"] = syntax.Name("Helvetica")
	font["Encoding"] = syntax.Name("WinAnsiEncoding")
	rb.object(fontNum, font)

	res := syntax.Dict{}
	fonts := syntax.Dict{}
	fonts["F1"] = ref(fontNum)
	res["Font"] = fonts

	var content bytes.Buffer
	textX := 4.0
	if len(a.Image) > 0 {
		imgRef, iw, ih, err := writeImage(rb, a.Image)
		if err != nil {
			return nil, syntax.Ref{}, err
		}
		xo := syntax.Dict{}
		xo["Img"] = imgRef
		res["XObject"] = xo
		// Fit the logo in a square on the left, keeping its aspect.
		box := h - 4
		if box > w/3 {
			box = w / 3
		}
		sw, sh := box, box*float64(ih)/float64(iw)
		if sh > box {
			sw, sh = box*float64(iw)/float64(ih), box
		}
		fmt.Fprintf(&content, "q %s 0 0 %s 2 %s cm /Img Do Q\n", fmtF(sw), fmtF(sh), fmtF((h-sh)/2))
		textX = box + 6
	}
	lines := appearanceLines(o, cert, now)
	maxLen := 1
	for _, l := range lines {
		if n := len([]rune(l)); n > maxLen {
			maxLen = n
		}
	}
	// Helvetica digits and capitals are about 0.56-0.72 em; 0.6 keeps such
	// lines (the hex serial) inside the box.
	fs := (h - 4) / (float64(len(lines)) * 1.2)
	if f := (w - textX - 2) / (0.6 * float64(maxLen)); f < fs {
		fs = f
	}
	if fs > 12 {
		fs = 12
	}
	if fs < 1 {
		fs = 1
	}
	lead := fs * 1.2
	y := h - 2 - fs
	fmt.Fprintf(&content, "BT 0 g /F1 %s Tf %s TL %s %s Td\n", fmtF(fs), fmtF(lead), fmtF(textX), fmtF(y))
	for i, l := range lines {
		if i > 0 {
			content.WriteString("T* ")
		}
		fmt.Fprintf(&content, "(%s) Tj\n", winAnsi(l))
	}
	content.WriteString("ET\n")

	apNum := rb.alloc()
	ap := syntax.Dict{}
	ap["Type"] = syntax.Name("XObject")
	ap["Subtype"] = syntax.Name("Form")
	ap["BBox"] = syntax.Array{int64(0), int64(0), w, h}
	ap["Resources"] = res
	rb.stream(apNum, ap, content.Bytes())
	return rect, ref(apNum), nil
}

func fmtF(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

// writeImage embeds a JPEG as is (DCTDecode), a PNG without alpha as is
// (FlateDecode with PNG predictors), and other PNGs decoded, as Flate RGB
// with an alpha soft mask. The header's size is checked first.
func writeImage(rb *revBuilder, data []byte) (syntax.Ref, int, int, error) {
	cfg, format, err := imageHeader(data)
	if err != nil {
		return syntax.Ref{}, 0, 0, err
	}
	if format == "png" {
		if p, err := parsePNGRaw(data); err == nil && p.width == cfg.Width && p.height == cfg.Height {
			return writePNGRaw(rb, p), cfg.Width, cfg.Height, nil
		}
	}
	d := syntax.Dict{}
	d["Type"] = syntax.Name("XObject")
	d["Subtype"] = syntax.Name("Image")
	d["Width"] = int64(cfg.Width)
	d["Height"] = int64(cfg.Height)
	d["BitsPerComponent"] = int64(8)
	n := rb.alloc()
	if format == "jpeg" {
		cs := syntax.Name("DeviceRGB")
		switch cfg.ColorModel {
		case color.GrayModel:
			cs = "DeviceGray"
		case color.CMYKModel:
			cs = "DeviceCMYK"
			d["Decode"] = syntax.Array{int64(1), int64(0), int64(1), int64(0), int64(1), int64(0), int64(1), int64(0)}
		}
		d["ColorSpace"] = cs
		d["Filter"] = syntax.Name("DCTDecode")
		rb.stream(n, d, data)
		return ref(n), cfg.Width, cfg.Height, nil
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return syntax.Ref{}, 0, 0, fmt.Errorf("%w: appearance image: %v", ErrOptions, err)
	}
	b := img.Bounds()
	rgb := make([]byte, 0, b.Dx()*b.Dy()*3)
	alpha := make([]byte, 0, b.Dx()*b.Dy())
	opaque := true
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			rgb = append(rgb, c.R, c.G, c.B)
			alpha = append(alpha, c.A)
			if c.A != 0xff {
				opaque = false
			}
		}
	}
	if !opaque {
		sm := syntax.Dict{}
		sm["Type"] = syntax.Name("XObject")
		sm["Subtype"] = syntax.Name("Image")
		sm["Width"] = int64(cfg.Width)
		sm["Height"] = int64(cfg.Height)
		sm["BitsPerComponent"] = int64(8)
		sm["ColorSpace"] = syntax.Name("DeviceGray")
		sm["Filter"] = syntax.Name("FlateDecode")
		smn := rb.alloc()
		rb.stream(smn, sm, deflate(alpha))
		d["SMask"] = ref(smn)
	}
	d["ColorSpace"] = syntax.Name("DeviceRGB")
	d["Filter"] = syntax.Name("FlateDecode")
	rb.stream(n, d, deflate(rgb))
	return ref(n), cfg.Width, cfg.Height, nil
}

func deflate(b []byte) []byte {
	var out bytes.Buffer
	zw := zlib.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// Register the image decoders DecodeConfig needs.
var _ = jpeg.Decode
