package desktop

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSingleInstanceForwarding(t *testing.T) {
	dir, err := os.MkdirTemp("", "ss") // short: unix socket paths are limited to ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "run", "desktop.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if err := Forward(ctx, path, "securesign://sign?x"); !errors.Is(err, ErrNoInstance) {
		t.Fatalf("Forward without instance: %v, want ErrNoInstance", err)
	}
	in, err := Listen(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("socket dir mode %v, want 0700", di.Mode().Perm())
	}
	got := make(chan string, 2)
	go in.Serve(ctx, func(_ context.Context, link string) error {
		got <- link
		if link == "busy" {
			return ErrBusy
		}
		return nil
	})
	if err := Forward(ctx, path, "securesign://sign?requestId=abc"); err != nil {
		t.Fatal(err)
	}
	if l := <-got; l != "securesign://sign?requestId=abc" {
		t.Errorf("got %q", l)
	}
	if err := Forward(ctx, path, "busy"); !errors.Is(err, ErrBusy) {
		t.Errorf("busy instance: %v, want ErrBusy", err)
	}
	// A second Listen while the first is alive must not steal the socket.
	if _, err := Listen(ctx, path); !errors.Is(err, os.ErrExist) {
		t.Errorf("second Listen: %v, want os.ErrExist", err)
	}
	in.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket left behind after Close: %v", err)
	}
}

func TestListenRemovesStaleSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "ss")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "desktop.sock")
	if err := os.WriteFile(path, nil, 0o600); err != nil { // what a crash leaves
		t.Fatal(err)
	}
	in, err := Listen(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	in.Close()
}

func TestSocketPath(t *testing.T) {
	p, err := SocketPath(func(k string) string {
		if k == "XDG_RUNTIME_DIR" {
			return "/run/user/1000"
		}
		return ""
	})
	if err != nil || p != "/run/user/1000/securesign/desktop.sock" {
		t.Errorf("SocketPath = %q, %v", p, err)
	}
}
