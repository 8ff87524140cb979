package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/securesign/securesign/pdf"
)

// newFlagSet returns a flag set that writes its help to e.stderr and does not
// exit the process on error.
func newFlagSet(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: securesign %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; it returns (exit status, false) when the command
// must stop: 0 after -h, 2 after a usage error.
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}

// subcommand dispatches args[0] among subs; it prints the list on -h or an
// unknown name.
func subcommand(e *env, group string, args []string, subs map[string]func([]string) int, summaries map[string]string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(e.stderr, "usage: securesign %s <subcommand> [flags]\n\nsubcommands:\n", group)
		for _, name := range sortedKeys(summaries) {
			fmt.Fprintf(e.stderr, "  %-10s %s\n", name, summaries[name])
		}
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	f, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "securesign %s: unknown subcommand %q\n", group, args[0])
		return 2
	}
	return f(args[1:])
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// fail prints "securesign CMD: err" and returns exit status 1.
func fail(e *env, cmd string, err error) int {
	if errors.Is(err, pdf.ErrCertificateRevoked) {
		// the same code the gateway answers with
		fmt.Fprintf(e.stderr, "securesign %s: SS_CERT_REVOKED: %v\n", cmd, err)
		return 1
	}
	fmt.Fprintf(e.stderr, "securesign %s: %v\n", cmd, err)
	return 1
}

// secretFromEnv reads a secret (PIN, password) from the environment variable
// named name. Secrets never come from argv, where other users can see them.
func secretFromEnv(e *env, name string) (string, error) {
	if name == "" {
		return "", errors.New("no environment variable named for the secret")
	}
	v := e.getenv(name)
	if v == "" {
		return "", fmt.Errorf("environment variable %s is empty or unset", name)
	}
	return strings.TrimRight(v, "\r\n"), nil
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
