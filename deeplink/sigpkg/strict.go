package sigpkg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// memberNames are the members of a package and of a document. Go's JSON
// decoder matches member names case-insensitively and keeps the last of
// duplicates; other readers do not, so a package whose members differ
// only in case, or repeat, could show one reader another document. Such
// packages are refused.
var memberNames = []string{"version", "requestId", "hashAlgo", "documents",
	"name", "pdf", "pdfUrl", "pdfSha256", "signedAttrs", "byteRange"}

// checkMembers walks data's tokens and refuses an object with two member
// names equal but for case, and a member name that equals a known one but
// for case. Depth is bounded by the decoder's own limit.
func checkMembers(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next string token is a member name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if name, isName := tok.(string); isName && top != nil && top.object && top.key {
			folded := strings.ToLower(name)
			if top.keys[folded] {
				return fmt.Errorf("member %q appears twice (names are compared ignoring case)", name)
			}
			top.keys[folded] = true
			for _, m := range memberNames {
				if strings.EqualFold(m, name) && m != name {
					return fmt.Errorf("member %q: write %q", name, m)
				}
			}
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: in an object the next token is a name again.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true
		}
	}
}
