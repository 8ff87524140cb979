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
		printFlags(fs, e.stderr)
	}
	return fs
}

// aliasMark starts the usage string of a flag registered by alias: such
// flags are left out of the flag list and named in a footnote instead.
const aliasMark = "\x00alias of --"

// alias registers old as another name of the flag current: both set the
// same value. Old names keep working so scripts written against them do
// not break; -h lists only the current name and mentions the old one.
func alias(fs *flag.FlagSet, old, current string) {
	f := fs.Lookup(current)
	if f == nil {
		panic("alias of an undefined flag --" + current)
	}
	fs.Var(f.Value, old, aliasMark+current)
}

// printFlags prints fs's flags like flag.PrintDefaults, without the
// aliases, which it lists after them.
func printFlags(fs *flag.FlagSet, w io.Writer) {
	shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	shown.SetOutput(w)
	var olds []string
	fs.VisitAll(func(f *flag.Flag) {
		if cur, ok := strings.CutPrefix(f.Usage, aliasMark); ok {
			olds = append(olds, "--"+f.Name+" (now --"+cur+")")
			return
		}
		shown.Var(f.Value, f.Name, f.Usage)
		// Var took the current value as default; after a parse that
		// failed it may not be the default.
		shown.Lookup(f.Name).DefValue = f.DefValue
	})
	shown.PrintDefaults()
	if len(olds) > 0 {
		fmt.Fprintf(w, "  Old flag names still accepted: %s\n", strings.Join(olds, ", "))
	}
}

// parseInterspersed parses args allowing flags after positional arguments
// ("pdf verify out.pdf --json"), as the synopses show them. A flag that
// takes a value consumes the next argument; "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) (int, bool) {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && !isBoolFlag(f) {
			if i+1 == len(args) {
				// "flag needs an argument", not "--" taken as the value
				return parseFlags(fs, flags)
			}
			flags = append(flags, args[i+1])
			i++
		}
	}
	return parseFlags(fs, append(append(flags, "--"), pos...))
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// fileArgs fills the file flags (in order) from the positional arguments,
// so "pdf sign in.pdf out.pdf" means "--in in.pdf --out out.pdf". A file
// given both ways, or an argument too many, is a usage error.
func fileArgs(fs *flag.FlagSet, targets ...fileArg) error {
	rest := fs.Args()
	if len(rest) > len(targets) {
		return fmt.Errorf("unexpected argument %q", rest[len(targets)])
	}
	for i, a := range rest {
		t := targets[i]
		if *t.value != "" && *t.value != a {
			return fmt.Errorf("%s given both as --%s %s and as argument %q", t.what, t.flag, *t.value, a)
		}
		*t.value = a
	}
	return nil
}

// fileArg is a file flag that may also be given as a positional argument.
type fileArg struct {
	value      *string
	flag, what string
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
