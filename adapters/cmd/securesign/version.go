package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// it comes from the module's build info.
var version = ""

func runVersion(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "version", "version [--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	v := version
	goVersion := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if v == "" {
			v = bi.Main.Version
		}
	}
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	if *asJSON {
		if err := printJSON(e.stdout, map[string]string{"version": v, "go": goVersion, "protocol": "1.1"}); err != nil {
			return fail(e, "version", err)
		}
		return 0
	}
	fmt.Fprintf(e.stdout, "securesign %s (%s, protocol 1.1)\n", v, goVersion)
	return 0
}
