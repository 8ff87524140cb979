//go:build !signonly

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securesign/securesign/adapters/gateway"
)

// runGatewayCLI runs "securesign gateway …" in-process.
func runGatewayCLI(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}
	code := run(context.Background(), e, append([]string{"gateway"}, args...))
	return code, out.String(), errb.String()
}

func TestGatewayAdminCLI(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := gateway.OpenSQLite(ctx, filepath.Join(dir, "gateway.db"))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	vars := map[string]string{"SECURESIGN_MASTER_KEY": strings.Repeat("ab", 32)}
	must := func(args ...string) string {
		t.Helper()
		code, out, errs := runGatewayCLI(t, vars, append(args, "--data", dir)...)
		if code != 0 {
			t.Fatalf("gateway %v = %d: %s", args, code, errs)
		}
		return out
	}
	out := must("admin", "tenant-create", "--tenant", "bank", "--name", "Bank", "--origin", "https://portal.bank.example", "--live", "--json")
	var created struct{ APIKey, KeyID string }
	if err := json.Unmarshal([]byte(out), &created); err != nil || !strings.HasPrefix(created.APIKey, "ss_live_") {
		t.Fatalf("tenant-create: %q %v", out, err)
	}
	if out := must("admin", "origin-list", "--tenant", "bank"); out != "https://portal.bank.example\n" {
		t.Errorf("origin-list = %q", out)
	}
	must("admin", "origin-add", "--tenant", "bank", "--origin", "http://localhost:*")
	must("admin", "origin-remove", "--tenant", "bank", "--origin", "https://portal.bank.example")
	if out := must("admin", "origin-list", "--tenant", "bank"); out != "http://localhost:*\n" {
		t.Errorf("origin-list after changes = %q", out)
	}
	if code, _, errs := runGatewayCLI(t, vars, "admin", "origin-add", "--tenant", "bank", "--origin", "ftp://x", "--data", dir); code != 1 || !strings.Contains(errs, "scheme://host") {
		t.Errorf("bad origin: %d %s", code, errs)
	}
	key2 := must("admin", "key-create", "--tenant", "bank", "--name", "ci")
	if !strings.HasPrefix(key2, "api key: ss_test_") {
		t.Errorf("key-create = %q", key2)
	}
	must("admin", "key-revoke", "--tenant", "bank", "--id", created.KeyID)
	if out := must("admin", "key-list", "--tenant", "bank"); !strings.Contains(out, created.KeyID+"\trevoked") || strings.Contains(out, "ss_") {
		t.Errorf("key-list = %q", out)
	}
	must("admin", "tenant-disable", "--tenant", "bank")
	if out := must("admin", "tenant-list"); !strings.Contains(out, "bank\tdisabled") {
		t.Errorf("tenant-list = %q", out)
	}
	if out := must("admin", "link-key-rotate"); !strings.Contains(out, "active link key: gw-") {
		t.Errorf("rotate = %q", out)
	}
	if out := must("admin", "audit-verify", "--tenant", "bank"); !strings.Contains(out, "valid") {
		t.Errorf("audit-verify = %q", out)
	}
	// Usage errors exit 2; unknown databases 1.
	if code, _, _ := runGatewayCLI(t, vars, "admin", "nope"); code != 2 {
		t.Errorf("unknown subcommand: %d", code)
	}
	if code, _, _ := runGatewayCLI(t, vars, "admin", "tenant-list", "--data", t.TempDir()); code != 1 {
		t.Errorf("empty data dir: %d", code)
	}
	if code, _, _ := runGatewayCLI(t, vars, "admin", "key-create", "--data", dir); code != 1 {
		t.Errorf("missing --tenant: %d", code)
	}
	if code, _, _ := runGatewayCLI(t, nil, "-h"); code != 0 {
		t.Errorf("-h: %d", code)
	}
	// Outside --dev a master key is required.
	if code, _, errs := runGatewayCLI(t, nil, "--data", t.TempDir(), "--listen", "127.0.0.1:0"); code != 1 || !strings.Contains(errs, "master key") {
		t.Errorf("no master key: %d %s", code, errs)
	}
}

// TestGatewayServeCLI starts "gateway --dev" in-process on a free port and
// stops it through its context, as SIGTERM does.
func TestGatewayServeCLI(t *testing.T) {
	dir := t.TempDir()
	// The gateway refuses a data directory others can read.
	if code, _, errs := runGatewayCLI(t, nil, "--dev", "--data", dir, "--listen", "127.0.0.1:0"); code == 0 || !strings.Contains(errs, "chmod 700") {
		if fi, _ := os.Stat(dir); fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("0755 data directory: exit %d, %s", code, errs)
		}
	}
	if code, _, errs := runGatewayCLI(t, nil, "--dev", "--data", filepath.Join(dir, "x"), "--listen", "0.0.0.0:0"); code == 0 || !strings.Contains(errs, "loopback") {
		t.Errorf("--dev on 0.0.0.0: exit %d, %s", code, errs)
	}
	os.Chmod(dir, 0o700)
	ctx, cancel := context.WithCancel(context.Background())
	var out gwBuffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, e, []string{"gateway", "--dev", "--data", dir, "--listen", "127.0.0.1:0", "--log-level", "error"})
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "listening on http://127.0.0.1:") {
		if time.Now().After(deadline) {
			t.Fatalf("no listening line: %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "api key: ss_test_") {
		t.Errorf("no api key line: %q", out.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d", code)
	}
}

// gwBuffer is a bytes.Buffer safe for the server goroutine and the test.
type gwBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (g *gwBuffer) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.b.Write(p)
}

func (g *gwBuffer) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.b.String()
}

// TestGatewayUserKeyFlags: the user-key token flags and environment
// variables, the PIN from the environment only.
func TestGatewayUserKeyFlags(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"module without token", nil, []string{"--user-keys-module", "/x.so"}, "--user-keys-module and --user-keys-token-label go together"},
		{"token without module", map[string]string{"SECURESIGN_USER_KEYS_TOKEN_LABEL": "hsm"}, nil, "go together"},
		{"no PIN", nil, []string{"--user-keys-module", "/x.so", "--user-keys-token-label", "hsm"}, "user-key token PIN: environment variable SECURESIGN_USER_KEYS_PIN"},
		{"missing module", map[string]string{"SECURESIGN_USER_KEYS_MODULE": "/nonexistent/libhsm.so", "SECURESIGN_USER_KEYS_TOKEN_LABEL": "hsm",
			"SECURESIGN_USER_KEYS_PIN": "1234"}, nil, `user-key token "hsm"`},
		// The old names still work, flags and environment alike.
		{"old flag names", nil, []string{"--user-keys-pkcs11-module", "/x.so", "--user-keys-token", "hsm"}, "user-key token PIN: environment variable SECURESIGN_USER_KEYS_PIN"},
		{"old variables", map[string]string{"SECURESIGN_USER_KEYS_PKCS11_MODULE": "/nonexistent/libhsm.so", "SECURESIGN_USER_KEYS_TOKEN": "hsm",
			"SECURESIGN_USER_KEYS_PIN": "1234"}, nil, `user-key token "hsm"`},
		{"old CA flag names", nil, []string{"--ca-pkcs11-module", "/x.so", "--ca-token", "ca"}, "CA token PIN: environment variable SECURESIGN_CA_PIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--dev", "--data", filepath.Join(t.TempDir(), "data"), "--listen", "127.0.0.1:0", "--log-level", "error"}, tt.args...)
			code, out, errs := runGatewayCLI(t, tt.vars, args...)
			if code != 1 || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, stderr %q, stdout %q; want 1 and %q", code, errs, out, tt.want)
			}
			if pin := tt.vars["SECURESIGN_USER_KEYS_PIN"]; pin != "" && strings.Contains(out+errs, pin) {
				t.Error("the PIN appears in the output")
			}
		})
	}
}

// The server commands' flag names and aliases (not in the signonly build).
func TestServerFlagHelpNamesAndAliases(t *testing.T) {
	testFlagHelp(t, []flagHelpCase{
		{[]string{"gateway"}, []string{"-ca-module", "-ca-token-label", "-ca-key-label", "-user-keys-module", "-user-keys-token-label"},
			[]string{"--ca-pkcs11-module (now --ca-module)", "--ca-token (now --ca-token-label)", "--user-keys-pkcs11-module (now --user-keys-module)", "--user-keys-token (now --user-keys-token-label)"},
			[]string{"  -ca-pkcs11-module string", "  -user-keys-token string"}},
		{[]string{"desktop", "open"}, []string{"-module", "-token-label", "-cert-serial", "-cert-sha256", "-pin-env"}, nil, nil},
	})
}
