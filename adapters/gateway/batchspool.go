package gateway

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"os"
)

// spooledBatch is a sign/batch body whose items[i].pdfBase64 members went
// to temp files, one a document.
type spooledBatch struct {
	Rest     []byte                 // the JSON with those members emptied
	Docs     map[int]*spooledUpload // by item index
	BodyHash [32]byte
}

func (b *spooledBatch) Close() {
	for _, d := range b.Docs {
		d.Close()
	}
}

// spoolBatch reads a sign/batch body as spool reads a sign/pdf one: the
// base64 of every items[i].pdfBase64 is decoded into its own temp file in
// dir, so that a 50 MB batch is never in memory; the rest may be at most
// maxRest bytes. Like extractField it follows only enough JSON syntax to
// know where it is; encoding/json then decodes the rest strictly.
func spoolBatch(body io.Reader, dir string, maxRest, maxItems int) (_ *spooledBatch, err error) {
	b := &spooledBatch{Docs: map[int]*spooledUpload{}}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	hr := &hashingReader{r: body, h: sha256.New()}
	br := bufio.NewReaderSize(hr, 64<<10)
	var out bytes.Buffer
	put := func(c ...byte) error {
		out.Write(c)
		if out.Len() > maxRest {
			return fmt.Errorf("%w: JSON members besides the documents exceed %d bytes", errRestTooLarge, maxRest)
		}
		return nil
	}
	type frame struct {
		obj   bool
		items bool // the top-level "items" array
		next  int  // items: index of the next element
		item  int  // an object directly in items: its index, else -1
	}
	var stack []*frame
	expectKey := false
	var key bytes.Buffer
	lastKey := ""
	for {
		c, rerr := br.ReadByte()
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, rerr
		}
		switch c {
		case '{', '[':
			f := &frame{obj: c == '{', item: -1}
			if n := len(stack); n > 0 {
				parent := stack[n-1]
				if !f.obj && n == 1 && parent.obj && lastKey == "items" {
					f.items = true
				}
				if f.obj && parent.items {
					f.item = parent.next
					parent.next++
					if f.item >= maxItems {
						return nil, badRequest("at most %d items", maxItems)
					}
				}
			}
			stack = append(stack, f)
			expectKey = f.obj
			if err := put(c); err != nil {
				return nil, err
			}
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			expectKey = false
			if err := put(c); err != nil {
				return nil, err
			}
		case ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1].obj
			if err := put(c); err != nil {
				return nil, err
			}
		case '"':
			if err := put(c); err != nil {
				return nil, err
			}
			top := (*frame)(nil)
			if len(stack) > 0 {
				top = stack[len(stack)-1]
			}
			if top != nil && top.obj && expectKey {
				key.Reset()
				if err := copyString(br, func(c ...byte) error {
					if key.Len() < 256 {
						key.Write(c)
					}
					return put(c...)
				}); err != nil {
					return nil, err
				}
				lastKey = string(bytes.TrimSuffix(key.Bytes(), []byte(`"`)))
				expectKey = false
				continue
			}
			if top != nil && top.item >= 0 && len(stack) == 3 && lastKey == "pdfBase64" {
				if _, dup := b.Docs[top.item]; dup {
					return nil, badRequest("item %d: pdfBase64 given twice", top.item+1)
				}
				d, err := spoolString(br, dir)
				if err != nil {
					return nil, err
				}
				b.Docs[top.item] = d
				if err := put('"'); err != nil {
					return nil, err
				}
				continue
			}
			if err := copyString(br, put); err != nil {
				return nil, err
			}
		default:
			if err := put(c); err != nil {
				return nil, err
			}
		}
	}
	copy(b.BodyHash[:], hr.h.Sum(nil))
	b.Rest = out.Bytes()
	return b, nil
}

// spoolString decodes the base64 JSON string br is inside (after its
// opening quote) into a temp file in dir, closing quote consumed.
func spoolString(br *bufio.Reader, dir string) (*spooledUpload, error) {
	f, err := os.CreateTemp(dir, "upload-*.tmp")
	if err != nil {
		return nil, err
	}
	d := &spooledUpload{File: f}
	bw := bufio.NewWriterSize(f, 64<<10)
	n, err := io.Copy(bw, base64.NewDecoder(base64.StdEncoding, &stringReader{br: br}))
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("%w: pdfBase64: %w", errBadBase64, err)
	}
	if err := bw.Flush(); err != nil {
		d.Close()
		return nil, err
	}
	d.Size = n
	return d, nil
}
