package gateway

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
)

// extractField copies the JSON object read from r to the returned bytes,
// except the string value of the top-level member named field, which it
// base64-decodes into dst and replaces by "" (so a 50 MB PDF never sits in
// memory, neither as base64 nor decoded). The rest of the object may be at
// most maxRest bytes. found reports whether the member was there.
//
// It only tracks enough JSON syntax to find top-level member names; the
// returned bytes are then decoded strictly with encoding/json, which
// rejects anything malformed.
func extractField(r io.Reader, field string, dst io.Writer, maxRest int) (rest []byte, found bool, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var out bytes.Buffer
	depth := 0
	expectKey := false
	var key bytes.Buffer
	put := func(b ...byte) error {
		out.Write(b)
		if out.Len() > maxRest {
			return fmt.Errorf("%w: JSON members besides %s exceed %d bytes", errRestTooLarge, field, maxRest)
		}
		return nil
	}
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			return out.Bytes(), found, nil
		}
		if err != nil {
			return nil, false, err
		}
		switch b {
		case '{', '[':
			depth++
			expectKey = b == '{' && depth == 1
			if err := put(b); err != nil {
				return nil, false, err
			}
		case '}', ']':
			depth--
			if err := put(b); err != nil {
				return nil, false, err
			}
		case ',':
			expectKey = depth == 1
			if err := put(b); err != nil {
				return nil, false, err
			}
		case '"':
			if err := put(b); err != nil {
				return nil, false, err
			}
			isKey := depth == 1 && expectKey
			key.Reset()
			if err := copyString(br, func(c ...byte) error {
				if isKey && key.Len() < 256 {
					key.Write(c)
				}
				return put(c...)
			}); err != nil {
				return nil, false, err
			}
			if !isKey {
				continue
			}
			expectKey = false
			if key.String() != field+`"` || found {
				continue
			}
			// Member name matched: copy up to the value's opening quote.
			for {
				c, err := br.ReadByte()
				if err != nil {
					return nil, false, unexpected(err)
				}
				if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':' {
					if err := put(c); err != nil {
						return nil, false, err
					}
					continue
				}
				if c != '"' {
					br.UnreadByte() //nolint:errcheck
					break
				}
				found = true
				dec := base64.NewDecoder(base64.StdEncoding, &stringReader{br: br})
				if _, err := io.Copy(dst, dec); err != nil {
					return nil, false, fmt.Errorf("%w: %s: %w", errBadBase64, field, err)
				}
				if err := put('"', '"'); err != nil {
					return nil, false, err
				}
				break
			}
		default:
			if err := put(b); err != nil {
				return nil, false, err
			}
		}
	}
}

var (
	errRestTooLarge = errors.New("request too large")
	errBadBase64    = errors.New("not standard base64")
)

// copyString copies the rest of a JSON string (after its opening quote),
// closing quote included, through put.
func copyString(br *bufio.Reader, put func(...byte) error) error {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		if c == '\\' {
			d, err := br.ReadByte()
			if err != nil {
				return unexpected(err)
			}
			if err := put(c, d); err != nil {
				return err
			}
			continue
		}
		if err := put(c); err != nil {
			return err
		}
		if c == '"' {
			return nil
		}
	}
}

// stringReader yields the bytes of a JSON string value up to its closing
// quote; the only escapes base64 text can need are \/ and whitespace ones.
type stringReader struct {
	br   *bufio.Reader
	done bool
}

func (s *stringReader) Read(p []byte) (int, error) {
	if s.done {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) {
		c, err := s.br.ReadByte()
		if err != nil {
			return n, unexpected(err)
		}
		switch c {
		case '"':
			s.done = true
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		case '\\':
			d, err := s.br.ReadByte()
			if err != nil {
				return n, unexpected(err)
			}
			switch d {
			case '/':
				c = '/'
			case 'n', 'r':
				continue
			default:
				return n, fmt.Errorf("escape \\%c in base64 text", d)
			}
		}
		p[n] = c
		n++
	}
	return n, nil
}

// spooledUpload is a request body whose big member went to a temp file.
type spooledUpload struct {
	Rest     []byte   // the JSON with the member emptied
	File     *os.File // the decoded member, positioned anywhere; nil if absent
	Size     int64
	BodyHash [32]byte
}

func (u *spooledUpload) Close() {
	if u.File != nil {
		u.File.Close()
		os.Remove(u.File.Name())
	}
}

// hashingReader hashes what passes through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	return n, err
}

// spool reads a JSON body, writing the base64 member field decoded into a
// temp file in dir.
func spool(body io.Reader, field, dir string, maxRest int) (*spooledUpload, error) {
	f, err := os.CreateTemp(dir, "upload-*.tmp")
	if err != nil {
		return nil, err
	}
	u := &spooledUpload{File: f}
	hr := &hashingReader{r: body, h: sha256.New()}
	bw := bufio.NewWriterSize(f, 64<<10)
	rest, found, err := extractField(hr, field, bw, maxRest)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		u.Close()
		return nil, err
	}
	copy(u.BodyHash[:], hr.h.Sum(nil))
	u.Rest = rest
	if !found {
		f.Close()
		os.Remove(f.Name())
		u.File = nil
		return u, nil
	}
	st, err := f.Stat()
	if err != nil {
		u.Close()
		return nil, err
	}
	u.Size = st.Size()
	return u, nil
}

// unexpected turns a clean EOF inside a value into ErrUnexpectedEOF and
// keeps other errors (a body limit) as they are.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
