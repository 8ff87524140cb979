package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/securesign/securesign/adapters/gateway"
)

// TestRemoteExample runs the example against an in-process dev gateway,
// with the flags' defaults for the output: the signed PDF goes to the OS
// temporary directory (never the working directory) and its path is the
// last line printed.
func TestRemoteExample(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := gateway.OpenSQLite(ctx, filepath.Join(dir, "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts := httptest.NewUnstartedServer(nil)
	url := "http://" + ts.Listener.Addr().String()
	srv, err := gateway.NewWithStore(ctx, gateway.Config{Dev: true, DataDir: dir, PublicURL: url, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, st)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	ts.Start()
	defer ts.Close()
	key, err := gateway.EnsureDevTenant(ctx, st, time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SECURESIGN_API_KEY", key)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	out := filepath.Join(tmp, "securesign-remote-signed.pdf")
	t.Setenv("SECURESIGN_DATA", dir) // where the outbox is, as the gateway's --data
	var stdout bytes.Buffer
	if err := run(ctx, []string{"-gateway", url}, &stdout); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	for _, want := range []string{"valid=true TOTAL_PASSED", "CSC signHash  1 signature", "The signed PDF is " + out + "\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	if b, err := os.ReadFile(out); err != nil || !bytes.HasPrefix(b, []byte("%PDF")) {
		t.Errorf("signed PDF: %v", err)
	}
}
