//go:build signonly

package main

import (
	"context"
	"fmt"
)

// A signonly build (go build -tags signonly) keeps token, pdf, link and
// version and leaves out the servers: the gateway, the Desktop Software and
// the CA (pki), and with them echo, the validator, the SQL engines and the
// metrics. The binary is about half the size and starts about 4 ms sooner,
// which is most of the time a one-shot `pdf sign` of a small file takes.

func runGateway(_ context.Context, e *env, _ []string) int {
	return notInBuild(e, "gateway")
}

func runDesktop(_ context.Context, e *env, _ []string) int {
	return notInBuild(e, "desktop")
}

func runPKI(_ context.Context, e *env, _ []string) int {
	return notInBuild(e, "pki")
}

func notInBuild(e *env, name string) int {
	fmt.Fprintf(e.stderr, "securesign: this build has no %s subcommand (built with -tags signonly); build without the tag for it\n", name)
	return 2
}
