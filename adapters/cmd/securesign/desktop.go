package main

import (
	"context"
	"fmt"
)

func runDesktop(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "securesign desktop: not implemented yet")
	return 1
}
