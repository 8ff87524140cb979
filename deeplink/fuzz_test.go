package deeplink

import (
	"encoding/json"
	"os"
	"testing"
)

// FuzzParseLink: Parse never panics, and what it accepts has a canonical
// form that is itself a link parsing to the same canonical form.
func FuzzParseLink(f *testing.F) {
	if data, err := os.ReadFile("testdata/vectors.json"); err == nil {
		var vf vectorFile
		if json.Unmarshal(data, &vf) == nil {
			for _, v := range vf.Valid {
				f.Add(v.Link)
			}
			for _, v := range vf.Invalid {
				f.Add(v.Link)
			}
		}
	}
	f.Fuzz(func(t *testing.T, link string) {
		l, err := Parse(link, testNow)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not a *Error: %v", err, err)
			}
			for _, c := range []byte(err.Error()) {
				if c < ' ' || c == 0x7f {
					t.Fatalf("error text carries control byte %#x: %q", c, err.Error())
				}
			}
			return
		}
		if l.Action != ActionSign && l.Action != ActionRegister {
			t.Fatalf("accepted action %q", l.Action)
		}
		if len(l.Canonical) > MaxLinkLength {
			return
		}
		c, err := Parse(l.Canonical+sigSuffix(l), testNow)
		if err != nil {
			t.Fatalf("canonical form %q does not parse: %v", l.Canonical, err)
		}
		if c.Canonical != l.Canonical {
			t.Fatalf("canonical form not stable:\n%s\n%s", l.Canonical, c.Canonical)
		}
	})
}

func sigSuffix(l *Link) string {
	if !l.Signed {
		return ""
	}
	return "&sig=" + base64URL(l.Signature)
}
