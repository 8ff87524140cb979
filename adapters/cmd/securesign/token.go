package main

import (
	"context"
	"fmt"
)

func runToken(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "securesign token: not implemented yet")
	return 1
}
