//go:build signonly

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A signonly build answers the subcommands it leaves out with exit code 2
// and says how to get them.
func TestSignonlyLeavesOut(t *testing.T) {
	for _, name := range []string{"gateway", "desktop", "pki"} {
		var out, errb bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
		if code := run(context.Background(), e, []string{name, "--dev"}); code != 2 {
			t.Errorf("%s: exit %d, want 2", name, code)
		}
		if !strings.Contains(errb.String(), "-tags signonly") || out.Len() != 0 {
			t.Errorf("%s: stdout %q stderr %q", name, out.String(), errb.String())
		}
	}
}
