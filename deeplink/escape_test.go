package deeplink

import (
	"strings"
	"testing"
)

// TestWriteEscaped: writeEscaped writes what escape returns, and
// escapedLen counts it.
func TestWriteEscaped(t *testing.T) {
	var all strings.Builder
	for c := range 256 {
		all.WriteByte(byte(c))
	}
	for _, s := range []string{"", "abc", "a b", "%", "~-._", "https://a.example/cb?x=1&y=2", "राजेश", all.String(), "x+/=", "=="} {
		var b strings.Builder
		writeEscaped(&b, s)
		if got, want := b.String(), escape(s); got != want {
			t.Errorf("writeEscaped(%q) = %q, escape = %q", s, got, want)
		}
		ps := []param{{"n", s}, {s, "v"}}
		if got, want := escapedLen(ActionSign, ps), len(canonical(ActionSign, ps)); got != want {
			t.Errorf("escapedLen(%q) = %d, canonical is %d long", s, got, want)
		}
	}
}
