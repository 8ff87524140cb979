package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"

	"github.com/labstack/echo/v4"
)

// fileAnswer is a JSON answer some of whose members are files (signed
// PDFs) written as base64 straight from disk, so a 50 MB document is never
// held in memory, neither decoded nor encoded.
type fileAnswer struct {
	Fields  map[string]any `json:"fields"`
	Members []fileMember   `json:"members"`
	// Temp files are removed once written, unless the answer is stored for
	// an Idempotency-Key replay.
	Temp bool `json:"-"`
}

type fileMember struct {
	Name  string   `json:"name"`
	Files []string `json:"files"` // names under <data>/files
	Array bool     `json:"array"`
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// writeFileAnswer streams a as one JSON object.
func (s *Server) writeFileAnswer(c echo.Context, status int, a *fileAnswer) error {
	head, err := marshalNoEscape(a.Fields)
	if err != nil {
		return err
	}
	// Open every file first: a missing one is still an error answer.
	ctx := c.Request().Context()
	files := map[string]*os.File{}
	var dones []func()
	defer func() {
		for _, done := range dones {
			done()
		}
	}()
	for _, m := range a.Members {
		for _, name := range m.Files {
			if files[name] != nil {
				continue
			}
			f, done, err := s.docs.Open(ctx, name)
			if err != nil {
				return docUnavailable(err)
			}
			files[name], dones = f, append(dones, done)
		}
	}
	r := c.Response()
	r.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	r.WriteHeader(status)
	w := bufio.NewWriterSize(r, 64<<10)
	w.Write(head[:len(head)-1]) //nolint:errcheck
	sep := len(a.Fields) > 0
	for _, m := range a.Members {
		if sep {
			w.WriteString(",") //nolint:errcheck
		}
		sep = true
		name, _ := marshalNoEscape(m.Name)
		w.Write(name)      //nolint:errcheck
		w.WriteString(":") //nolint:errcheck
		if m.Array {
			w.WriteString("[") //nolint:errcheck
		}
		for i, fn := range m.Files {
			if i > 0 {
				w.WriteString(",") //nolint:errcheck
			}
			w.WriteString(`"`) //nolint:errcheck
			enc := base64.NewEncoder(base64.StdEncoding, w)
			if _, err := io.Copy(enc, io.NewSectionReader(files[fn], 0, 1<<62)); err != nil {
				return err // headers are out: the client sees a truncated body
			}
			enc.Close()
			w.WriteString(`"`) //nolint:errcheck
			if !m.Array {
				break
			}
		}
		if m.Array {
			w.WriteString("]") //nolint:errcheck
		}
	}
	w.WriteString("}\n") //nolint:errcheck
	return w.Flush()
}

func (s *Server) removeTemp(ctx context.Context, a *fileAnswer) {
	if !a.Temp {
		return
	}
	for _, m := range a.Members {
		for _, f := range m.Files {
			s.docs.Remove(context.WithoutCancel(ctx), f) //nolint:errcheck
		}
	}
}

// storedFileAnswer marks an idempotency record that holds a fileAnswer.
type storedFileAnswer struct {
	FileAnswer *fileAnswer `json:"$fileAnswer"`
}

// replay writes a stored idempotent answer.
func (s *Server) replay(c echo.Context, status int, body []byte) error {
	c.Response().Header().Set("Idempotent-Replayed", "true")
	if bytes.HasPrefix(body, []byte(`{"$fileAnswer":`)) {
		var sf storedFileAnswer
		if err := json.Unmarshal(body, &sf); err == nil && sf.FileAnswer != nil {
			return s.writeFileAnswer(c, status, sf.FileAnswer)
		}
	}
	return c.JSONBlob(status, body)
}
