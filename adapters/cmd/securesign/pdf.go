package main

import (
	"context"
	"fmt"
)

func runPDF(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "securesign pdf: not implemented yet")
	return 1
}
