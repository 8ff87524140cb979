package main

import (
	"context"
	"fmt"
)

func runPKI(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "securesign pki: not implemented yet")
	return 1
}
