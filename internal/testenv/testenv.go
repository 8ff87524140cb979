// Package testenv lets tests use real external tools (SoftHSM2, poppler,
// qpdf, openssl, Chromium, PostgreSQL) and skip with an install hint when one
// is missing, except under CI=true, where a missing tool fails the test.
package testenv

import (
	"os"
	"os/exec"
	"testing"

	"github.com/securesign/securesign/internal/softhsm"
)

// InCI reports whether the tests run in CI (CI=true), where nothing may skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips t (or fails it in CI) because what is missing, with a hint
// saying what to install.
func Missing(t testing.TB, what, install string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is missing (CI=true forbids skipping): install it with: %s", what, install)
	}
	t.Skipf("%s is missing: install it with: %s", what, install)
}

// LookPath returns the path of the command name, or skips/fails t with the
// Debian package that provides it.
func LookPath(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "command "+name, "apt-get install "+debianPackage)
	}
	return p
}

// File returns path if it exists, or skips/fails t with the Debian package
// that provides it.
func File(t testing.TB, path, debianPackage string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Missing(t, path, "apt-get install "+debianPackage)
	}
	return path
}

// SoftHSMModule is where Debian's softhsm2 package puts its PKCS#11 module.
const SoftHSMModule = softhsm.Module

// PostgresDSN returns the DSN of a test PostgreSQL server from
// SECURESIGN_TEST_POSTGRES_DSN, or skips/fails t. `.ci/postgres.sh start`
// starts one and prints the export line.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("SECURESIGN_TEST_POSTGRES_DSN")
	if dsn == "" {
		Missing(t, "a PostgreSQL server (SECURESIGN_TEST_POSTGRES_DSN unset)",
			"apt-get install postgresql, then eval \"$(bash .ci/postgres.sh start)\"")
	}
	return dsn
}
