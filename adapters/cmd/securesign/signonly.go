//go:build signonly

package main

import (
	"context"
	"fmt"
)

// A signonly build (go build -tags signonly) leaves out the gateway and the
// Desktop Software, and with them echo, the validator, the database drivers
// and the metrics: the binary is half the size and starts about 4 ms sooner,
// which is most of the time a one-shot `pdf sign` of a small file takes.

func runGateway(_ context.Context, e *env, _ []string) int {
	return notInBuild(e, "gateway")
}

func runDesktop(_ context.Context, e *env, _ []string) int {
	return notInBuild(e, "desktop")
}

func notInBuild(e *env, name string) int {
	fmt.Fprintf(e.stderr, "securesign: this build has no %s subcommand (built with -tags signonly); build without the tag for it\n", name)
	return 2
}
