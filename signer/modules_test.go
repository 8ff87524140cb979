package signer

import (
	"slices"
	"strings"
	"testing"

	"github.com/securesign/securesign/internal/testenv"
)

func TestKnownModules(t *testing.T) {
	for _, goos := range []string{"linux", "windows", "darwin"} {
		mods := KnownModules(goos)
		var names []string
		for _, m := range mods {
			names = append(names, m.Name)
			if len(m.Paths) == 0 {
				t.Errorf("%s: %s has no paths", goos, m.Name)
			}
			for _, p := range m.Paths {
				ok := map[string]bool{
					"linux":   strings.HasPrefix(p, "/") && strings.Contains(p, ".so"),
					"windows": strings.HasPrefix(p, `C:\`) && strings.HasSuffix(p, ".dll"),
					"darwin":  strings.HasPrefix(p, "/") && (strings.HasSuffix(p, ".dylib") || strings.HasSuffix(p, ".so")),
				}[goos]
				if !ok {
					t.Errorf("%s: odd path %q", goos, p)
				}
			}
		}
		for _, want := range []string{"ePass2003", "ProxKey", "SafeNet eToken", "mToken", "OpenSC"} {
			if !slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, want) }) {
				t.Errorf("%s: no %s module", goos, want)
			}
		}
	}
	if KnownModules("plan9") != nil && len(KnownModules("plan9")) != 0 {
		t.Error("plan9 has modules")
	}
	// Returned slices are copies.
	KnownModules("linux")[0].Paths[0] = "changed"
	if KnownModules("linux")[0].Paths[0] == "changed" {
		t.Error("KnownModules exposes its table")
	}
}

func TestFindModules(t *testing.T) {
	testenv.File(t, testenv.SoftHSMModule, "softhsm2")
	if got := FindModules(); !slices.Contains(got, testenv.SoftHSMModule) {
		t.Errorf("FindModules() = %q, want it to include %s", got, testenv.SoftHSMModule)
	}
	if got := findModules("windows", `D:\Win`); len(got) != 0 {
		t.Errorf("windows paths found on this machine: %q", got)
	}
}
