package pdf

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"

	"github.com/securesign/securesign/pdf/internal/syntax"
)

// Budgets of an appearance image, checked from its header before any pixel
// is decoded: a 12 KB PNG can declare 65,535 × 65,535 pixels (16 GiB once
// decoded). A signature logo needs far less; the largest image that is
// still decoded (a PNG with alpha, interlacing or 16-bit samples) costs
// about 9 bytes a pixel, some 36 MiB at the limit.
const (
	MaxImagePixels = 4_000_000 // width × height
	MaxImageSide   = 8192      // width or height
)

// ErrImageTooLarge is returned (wrapped, and matching ErrOptions too) for an
// appearance image above MaxImagePixels or MaxImageSide.
var ErrImageTooLarge = fmt.Errorf("%w: appearance image above %d pixels or %d pixels a side", ErrOptions, MaxImagePixels, MaxImageSide)

// imageHeader reads an image's format and size from its header only and
// applies the budgets.
func imageHeader(data []byte) (image.Config, string, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return cfg, "", fmt.Errorf("%w: appearance image: %v", ErrOptions, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxImageSide || cfg.Height > MaxImageSide ||
		int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return cfg, "", fmt.Errorf("%w (%d × %d)", ErrImageTooLarge, cfg.Width, cfg.Height)
	}
	return cfg, format, nil
}

// pngRaw is a PNG whose compressed pixel data a PDF reader can take as is:
// FlateDecode with the PNG predictors, no decoding here.
type pngRaw struct {
	width, height int
	depth         int
	colorType     byte
	palette       []byte
	idat          []byte
}

var errPNGNotRaw = errors.New("pdf: PNG needs decoding")

// parsePNGRaw walks a PNG's chunks and returns its pixel data when the
// image is non-interlaced gray (1-8 bits), 8-bit RGB, or palette without
// transparency; errPNGNotRaw otherwise (alpha, tRNS, 16 bits, interlace).
// The zlib data is inflated once into io.Discard, at most as many bytes as
// the header announces, so that a corrupt or over-long stream is refused
// here rather than handed to PDF readers.
func parsePNGRaw(data []byte) (*pngRaw, error) {
	const sig = "\x89PNG\r\n\x1a\n"
	if !bytes.HasPrefix(data, []byte(sig)) {
		return nil, errPNGNotRaw
	}
	p := &pngRaw{}
	var idat bytes.Buffer
	rest := data[len(sig):]
	seenIHDR, seenIEND := false, false
	for len(rest) >= 12 && !seenIEND {
		n := binary.BigEndian.Uint32(rest)
		typ := string(rest[4:8])
		if uint64(n)+12 > uint64(len(rest)) {
			return nil, errPNGNotRaw
		}
		body := rest[8 : 8+n]
		rest = rest[12+n:]
		switch typ {
		case "IHDR":
			if n != 13 {
				return nil, errPNGNotRaw
			}
			p.width, p.height = int(binary.BigEndian.Uint32(body)), int(binary.BigEndian.Uint32(body[4:]))
			p.depth, p.colorType = int(body[8]), body[9]
			if body[10] != 0 || body[11] != 0 || body[12] != 0 { // deflate, adaptive filters, no interlace
				return nil, errPNGNotRaw
			}
			switch {
			case p.colorType == 0 && (p.depth == 1 || p.depth == 2 || p.depth == 4 || p.depth == 8):
			case p.colorType == 2 && p.depth == 8:
			case p.colorType == 3 && (p.depth == 1 || p.depth == 2 || p.depth == 4 || p.depth == 8):
			default:
				return nil, errPNGNotRaw
			}
			seenIHDR = true
		case "PLTE":
			p.palette = body
		case "tRNS":
			return nil, errPNGNotRaw
		case "IDAT":
			idat.Write(body)
		case "IEND":
			seenIEND = true
		}
	}
	if !seenIHDR || !seenIEND || idat.Len() == 0 || (p.colorType == 3 && (len(p.palette) == 0 || len(p.palette)%3 != 0 || len(p.palette)/3 > 1<<p.depth)) {
		return nil, errPNGNotRaw
	}
	colors := 1
	if p.colorType == 2 {
		colors = 3
	}
	rowBytes := (p.width*colors*p.depth + 7) / 8
	want := int64(p.height) * int64(rowBytes+1)
	zr, err := zlib.NewReader(bytes.NewReader(idat.Bytes()))
	if err != nil {
		return nil, errPNGNotRaw
	}
	got, err := io.Copy(io.Discard, io.LimitReader(zr, want+1))
	if err != nil || got != want {
		return nil, errPNGNotRaw
	}
	p.idat = idat.Bytes()
	return p, nil
}

// writePNGRaw embeds p without decoding it.
func writePNGRaw(rb *revBuilder, p *pngRaw) syntax.Ref {
	d := syntax.Dict{}
	d["Type"] = syntax.Name("XObject")
	d["Subtype"] = syntax.Name("Image")
	d["Width"] = int64(p.width)
	d["Height"] = int64(p.height)
	d["BitsPerComponent"] = int64(p.depth)
	colors := int64(1)
	switch p.colorType {
	case 0:
		d["ColorSpace"] = syntax.Name("DeviceGray")
	case 2:
		d["ColorSpace"] = syntax.Name("DeviceRGB")
		colors = 3
	case 3:
		d["ColorSpace"] = syntax.Array{syntax.Name("Indexed"), syntax.Name("DeviceRGB"), int64(len(p.palette)/3 - 1), syntax.String{Bytes: p.palette, Hex: true}}
	}
	d["Filter"] = syntax.Name("FlateDecode")
	parms := syntax.Dict{}
	parms["Predictor"] = int64(15)
	parms["Colors"] = colors
	parms["BitsPerComponent"] = int64(p.depth)
	parms["Columns"] = int64(p.width)
	d["DecodeParms"] = parms
	n := rb.alloc()
	rb.stream(n, d, p.idat)
	return ref(n)
}

// CheckImage reports whether data is a JPEG or PNG within the appearance
// image budgets, reading its header only: servers call it before anything
// else is spent on a request (an OTP, a prepared file).
func CheckImage(data []byte) error {
	_, _, err := imageHeader(data)
	return err
}
