package deeplink

import (
	"fmt"
	"strconv"
	"strings"

	"rsc.io/qr"
)

// qrCode encodes link at error-correction level M (a full 2048-byte link
// still fits), refusing what is not a link of acceptable length.
func qrCode(link string) (*qr.Code, error) {
	if len(link) > MaxLinkLength {
		return nil, errf(ErrTooLong, "", "%d bytes, at most %d", len(link), MaxLinkLength)
	}
	c, err := qr.Encode(link, qr.M)
	if err != nil {
		return nil, fmt.Errorf("deeplink: QR code: %w", err)
	}
	return c, nil
}

// QRPNG returns a QR code of link as a PNG image, with the quiet zone.
func QRPNG(link string) ([]byte, error) {
	c, err := qrCode(link)
	if err != nil {
		return nil, err
	}
	return c.PNG(), nil
}

// QRSVG returns a QR code of link as an SVG image: one square per dark
// module, on a white background with a four-module quiet zone. The image
// scales; its nominal size is 4 px per module.
func QRSVG(link string) ([]byte, error) {
	c, err := qrCode(link)
	if err != nil {
		return nil, err
	}
	const quiet = 4
	n := c.Size + 2*quiet
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" shape-rendering="crispEdges">`, n, n, 4*n, 4*n)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y := 0; y < c.Size; y++ {
		for x := 0; x < c.Size; x++ {
			if !c.Black(x, y) {
				continue
			}
			// Runs of dark modules become one rectangle, to keep the file small.
			w := 1
			for x+w < c.Size && c.Black(x+w, y) {
				w++
			}
			b.WriteString("M" + strconv.Itoa(x+quiet) + " " + strconv.Itoa(y+quiet) + "h" + strconv.Itoa(w) + "v1h-" + strconv.Itoa(w) + "z")
			x += w - 1
		}
	}
	b.WriteString(`"/></svg>` + "\n")
	return []byte(b.String()), nil
}
