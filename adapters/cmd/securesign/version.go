package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// it comes from the module's build info.
var version = ""

// buildVersion is what `securesign version` reports.
type buildVersion struct {
	Version  string `json:"version"`
	Module   string `json:"module,omitempty"`
	Go       string `json:"go"`
	Protocol string `json:"protocol"`
	// Revision, Time and Modified are the VCS stamp `go build` writes in a
	// git clone; `go run`, `go test`, -buildvcs=false and linked worktrees
	// (golang.org/issue/58218) leave them out.
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	NoVCS    bool   `json:"noVcs,omitempty"`
}

// readVersion describes the binary from its build info bi (nil when the
// binary has none) and the -ldflags version ld.
func readVersion(bi *debug.BuildInfo, ld string) buildVersion {
	v := buildVersion{Version: ld, Protocol: "1.1"}
	if bi != nil {
		v.Go, v.Module = bi.GoVersion, bi.Main.Path
		if v.Version == "" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	v.NoVCS = v.Revision == ""
	return v
}

func (v buildVersion) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "securesign %s (%s, protocol %s)\n", v.Version, v.Go, v.Protocol)
	if v.Module != "" {
		fmt.Fprintf(&b, "module:   %s\n", v.Module)
	}
	if v.NoVCS {
		b.WriteString("revision: unknown: no VCS stamp in this binary (go run, go test, -buildvcs=false and\n" +
			"          linked git worktrees leave it out; go build in a git clone records it)\n")
		return b.String()
	}
	rev := v.Revision
	if v.Modified {
		rev += " with uncommitted changes"
	}
	fmt.Fprintf(&b, "revision: %s\n", rev)
	if v.Time != "" {
		fmt.Fprintf(&b, "time:     %s\n", v.Time)
	}
	return b.String()
}

func runVersion(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "version", "version [--json]\n\nPrints the module version and, for binaries built with go build in a git checkout, the VCS revision.")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "securesign version: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	bi, _ := debug.ReadBuildInfo()
	v := readVersion(bi, version)
	if *asJSON {
		if err := printJSON(e.stdout, v); err != nil {
			return fail(e, "version", err)
		}
		return 0
	}
	fmt.Fprint(e.stdout, v)
	return 0
}
