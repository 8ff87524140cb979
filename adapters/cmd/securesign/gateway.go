package main

import (
	"context"
	"fmt"
)

func runGateway(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "securesign gateway: not implemented yet")
	return 1
}
