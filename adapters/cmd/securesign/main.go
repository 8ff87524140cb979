// Command securesign is the one SecureSign binary: token and PDF signing,
// the PKI, deep links, the gateway and the Desktop Software, as subcommands.
//
// Run "securesign help" for the list; every subcommand takes -h.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand. run returns the process exit status.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

// env is what a subcommand may touch of the outside world, so tests can run
// commands in-process.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

func commands() []command {
	return []command{
		{"version", "print the version", runVersion},
		{"token", "list PKCS#11 tokens and certificates, sign a digest", runToken},
		{"pdf", "sign, prepare/finish (two-phase) and verify PDFs", runPDF},
		{"pki", "run a CA: init, issue, revoke, CRL, OCSP/TSA server", runPKI},
		{"link", "build, parse and sign securesign:// deep links", runLink},
		{"gateway", "run the reference gateway server and administer it", runGateway},
		{"desktop", "the Desktop Software: open links, install the URL scheme", runDesktop},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "securesign: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: securesign <command> [arguments]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun \"securesign <command> -h\" for a command's help.")
}
