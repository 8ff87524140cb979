package main

import (
	"context"
	"fmt"
)

func runLink(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "securesign link: not implemented yet")
	return 1
}
