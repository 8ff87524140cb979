package syntax

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
)

// Decode returns the decoded data of a stream, within MaxStreamBytes for
// this stream and MaxTotalBytes for the whole file. FlateDecode (with PNG and
// TIFF predictors) is supported; other filters give ErrUnsupported.
func (f *File) Decode(s *Stream) ([]byte, error) {
	if err := f.ctx.Err(); err != nil {
		return nil, err
	}
	if s.Length < 0 || s.Offset < 0 || s.Offset+s.Length > f.size {
		return nil, syntaxErr(s.Offset, "stream data outside the file")
	}
	filters, parms, err := filterList(s.Dict)
	if err != nil {
		return nil, err
	}
	var src io.Reader = io.NewSectionReader(f.r, s.Offset, s.Length)
	budget := f.lim.MaxStreamBytes
	if rest := f.lim.MaxTotalBytes - f.decoded; rest < budget {
		budget = rest
	}
	if f.Encrypted() {
		if f.crypt == nil {
			return nil, fmt.Errorf("stream of an encrypted file: %w", ErrUnsupported)
		}
		if s.Length > budget {
			return nil, f.limitErr(s.Length)
		}
		raw := make([]byte, s.Length)
		if _, err := io.ReadFull(src, raw); err != nil {
			return nil, &SyntaxError{Offset: s.Offset, Msg: "reading stream", Err: err}
		}
		plain, err := f.decryptStream(s, raw)
		if err != nil {
			return nil, err
		}
		src = bytes.NewReader(plain)
		if len(filters) == 0 {
			f.decoded += int64(len(plain))
			return plain, nil
		}
	}
	var data []byte
	if len(filters) == 0 {
		if s.Length > budget {
			return nil, f.limitErr(s.Length)
		}
		data = make([]byte, s.Length)
		if _, err := io.ReadFull(src, data); err != nil {
			return nil, &SyntaxError{Offset: s.Offset, Msg: "reading stream", Err: err}
		}
	} else {
		for i, name := range filters {
			switch name {
			case "FlateDecode", "Fl":
				zr, err := zlib.NewReader(src)
				if err != nil {
					return nil, &SyntaxError{Offset: s.Offset, Msg: "bad zlib header", Err: err}
				}
				data, err = readLimited(f, zr, budget)
				if err != nil {
					if _, ok := err.(*LimitError); ok {
						return nil, err
					}
					if ctxErr := f.ctx.Err(); ctxErr != nil {
						return nil, ctxErr
					}
					if len(data) == 0 {
						return nil, &SyntaxError{Offset: s.Offset, Msg: "bad deflate data", Err: err}
					}
					// a truncated deflate stream keeps what decoded, as
					// readers do
				}
				if data, err = predict(data, parms[i]); err != nil {
					return nil, &SyntaxError{Offset: s.Offset, Msg: "predictor", Err: err}
				}
			default:
				return nil, fmt.Errorf("stream filter /%s: %w", name, ErrUnsupported)
			}
			src = bytes.NewReader(data)
		}
	}
	f.decoded += int64(len(data))
	if f.decoded > f.lim.MaxTotalBytes {
		return nil, &LimitError{Limit: "MaxTotalBytes", Max: f.lim.MaxTotalBytes}
	}
	return data, nil
}

func (f *File) limitErr(n int64) error {
	if n > f.lim.MaxStreamBytes {
		return &LimitError{Limit: "MaxStreamBytes", Max: f.lim.MaxStreamBytes}
	}
	return &LimitError{Limit: "MaxTotalBytes", Max: f.lim.MaxTotalBytes}
}

// readLimited reads r to its end but at most max bytes, checking the
// context every chunk.
func readLimited(f *File, r io.Reader, max int64) ([]byte, error) {
	// grow by doubling, but never past max (plus one chunk to detect the
	// overflow): the peak stays near max instead of 2*max
	const chunk = 64 << 10
	buf := make([]byte, 0, chunk)
	for {
		if err := f.ctx.Err(); err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			n := int64(cap(buf)) * 2
			if n > max+chunk {
				n = max + chunk
			}
			if n <= int64(cap(buf)) {
				return nil, f.limitErr(int64(len(buf)))
			}
			nb := make([]byte, len(buf), n)
			copy(nb, buf)
			buf = nb
		}
		end := len(buf) + chunk
		if end > cap(buf) {
			end = cap(buf)
		}
		n, err := r.Read(buf[len(buf):end])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return nil, f.limitErr(int64(len(buf)))
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func filterList(d Dict) ([]Name, []Dict, error) {
	var names []Name
	var parms []Dict
	switch v := d["Filter"].(type) {
	case nil:
	case Name:
		names = []Name{v}
	case Array:
		for _, e := range v {
			n, ok := e.(Name)
			if !ok {
				return nil, nil, syntaxErr(0, "bad /Filter")
			}
			names = append(names, n)
		}
	default:
		return nil, nil, syntaxErr(0, "bad /Filter (indirect filters are not supported)")
	}
	if len(names) > 8 {
		return nil, nil, syntaxErr(0, "too many filters")
	}
	parms = make([]Dict, len(names))
	switch v := d["DecodeParms"].(type) {
	case Dict:
		if len(parms) > 0 {
			parms[0] = v
		}
	case Array:
		for i, e := range v {
			if dd, ok := e.(Dict); ok && i < len(parms) {
				parms[i] = dd
			}
		}
	}
	return names, parms, nil
}

func predict(data []byte, p Dict) ([]byte, error) {
	if p == nil {
		return data, nil
	}
	pred, _ := p.Int("Predictor")
	if pred <= 1 {
		return data, nil
	}
	colors, ok := p.Int("Colors")
	if !ok {
		colors = 1
	}
	bpc, ok := p.Int("BitsPerComponent")
	if !ok {
		bpc = 8
	}
	cols, ok := p.Int("Columns")
	if !ok {
		cols = 1
	}
	if colors < 1 || colors > 32 || bpc < 1 || bpc > 16 || cols < 1 || cols > 1<<20 {
		return nil, fmt.Errorf("bad predictor parameters")
	}
	bpp := int((colors*bpc + 7) / 8)
	rowLen := int((colors*bpc*cols + 7) / 8)
	if pred == 2 { // TIFF, 8-bit only
		if bpc != 8 {
			return nil, fmt.Errorf("TIFF predictor with %d bits: %w", bpc, ErrUnsupported)
		}
		for r := 0; r+rowLen <= len(data); r += rowLen {
			row := data[r : r+rowLen]
			for i := bpp; i < len(row); i++ {
				row[i] += row[i-bpp]
			}
		}
		return data, nil
	}
	if pred < 10 {
		return nil, fmt.Errorf("predictor %d: %w", pred, ErrUnsupported)
	}
	out := make([]byte, 0, len(data)/(rowLen+1)*rowLen)
	prev := make([]byte, rowLen)
	for r := 0; r+rowLen+1 <= len(data); r += rowLen + 1 {
		typ := data[r]
		row := append([]byte(nil), data[r+1:r+1+rowLen]...)
		for i := range row {
			var a, b, c int
			if i >= bpp {
				a = int(row[i-bpp])
				c = int(prev[i-bpp])
			}
			b = int(prev[i])
			switch typ {
			case 0:
			case 1:
				row[i] += byte(a)
			case 2:
				row[i] += byte(b)
			case 3:
				row[i] += byte((a + b) / 2)
			case 4:
				row[i] += byte(paeth(a, b, c))
			default:
				return nil, fmt.Errorf("bad PNG filter type %d", typ)
			}
		}
		out = append(out, row...)
		prev = row
	}
	return out, nil
}

func paeth(a, b, c int) int {
	p := a + b - c
	pa, pb, pc := abs(p-a), abs(p-b), abs(p-c)
	if pa <= pb && pa <= pc {
		return a
	}
	if pb <= pc {
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
