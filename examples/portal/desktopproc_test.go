package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/testenv"
)

// desktopProc runs the real "securesign desktop open" binary the way the OS
// runs it on a click. Its browser is a script ($SECURESIGN_BROWSER) that
// appends each page URL to a file; the test then opens that URL in its own
// Chromium. HOME, the XDG directories and the instance socket are private to
// the test.
type desktopProc struct {
	exe  string
	env  []string
	dir  string
	urls string
	seen int       // URLs consumed so far
	inst *exec.Cmd // the first process: the running instance
	log  string    // its stderr
	done chan struct{}
}

func newDesktopProc(t *testing.T, origin, module string) *desktopProc {
	t.Helper()
	goTool := testenv.LookPath(t, "go", "the Go toolchain")
	// Short: a unix socket path is limited to ~100 bytes, t.TempDir() can be longer.
	dir, err := os.MkdirTemp("", "sse2e")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := &desktopProc{exe: filepath.Join(dir, "securesign"), dir: dir, urls: filepath.Join(dir, "urls")}
	bctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(bctx, goTool, "build", "-o", d.exe,
		"github.com/securesign/securesign/adapters/cmd/securesign").CombinedOutput(); err != nil {
		t.Fatalf("go build securesign: %v\n%s", err, out)
	}
	browser := filepath.Join(dir, "browser.sh")
	if err := os.WriteFile(browser, []byte("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '"+d.urls+"'\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	home, cfg, rt, cache := filepath.Join(dir, "home"), filepath.Join(dir, "config"), filepath.Join(dir, "rt"), filepath.Join(dir, "cache")
	for _, p := range []string{home, filepath.Join(cfg, "securesign"), rt, cache} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// The policy comes from the default config file; link keys are fetched
	// from the portal's /.well-known/securesign-keys.json.
	pol, _ := json.Marshal(map[string]any{"allowedOrigins": []string{origin}, "modules": []string{module}})
	if err := os.WriteFile(filepath.Join(cfg, "securesign", "desktop.json"), pol, 0o600); err != nil {
		t.Fatal(err)
	}
	// os.Environ carries SOFTHSM2_CONF (set by softhsmtest) to the child.
	d.env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+cfg, "XDG_RUNTIME_DIR="+rt,
		"XDG_CACHE_HOME="+cache, "SECURESIGN_BROWSER="+browser)
	t.Cleanup(d.stop)
	return d
}

func (d *desktopProc) command(ctx context.Context, link string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, d.exe, "desktop", "open", "--linger", "10m", "--", link)
	cmd.Env = d.env
	cmd.Dir = d.dir
	return cmd
}

// open runs "securesign desktop open LINK" and returns the page URL it
// opened. The first call starts the instance, which stays running; later
// calls forward their link to it and must exit 0 at once.
func (d *desktopProc) open(t *testing.T, link string) string {
	t.Helper()
	return d.run(t, link, false)
}

// openRefused is open for a link the Desktop Software refuses: a forwarding
// process then exits 1, saying so, and the page shows the refusal.
func (d *desktopProc) openRefused(t *testing.T, link string) string {
	t.Helper()
	return d.run(t, link, true)
}

func (d *desktopProc) run(t *testing.T, link string, refused bool) string {
	t.Helper()
	if d.inst == nil {
		d.log = filepath.Join(d.dir, "desktop.log")
		f, err := os.Create(d.log)
		if err != nil {
			t.Fatal(err)
		}
		cmd := d.command(context.Background(), link)
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			f.Close()
			t.Fatalf("starting securesign desktop open: %v", err)
		}
		f.Close()
		d.inst, d.done = cmd, make(chan struct{})
		go func() { cmd.Wait(); close(d.done) }()
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var out bytes.Buffer
		cmd := d.command(ctx, link)
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if refused && err != nil && strings.Contains(out.String(), "the running instance refused the link") {
			return d.nextURL(t)
		}
		if err != nil || !strings.Contains(out.String(), "handed the link to the running instance") {
			t.Fatalf("second securesign desktop open (forwarding): %v\n%s", err, out.String())
		}
	}
	return d.nextURL(t)
}

// nextURL waits for the next URL the browser script recorded.
func (d *desktopProc) nextURL(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(d.urls)
		if lines := strings.Fields(string(b)); len(lines) > d.seen {
			d.seen++
			return lines[d.seen-1]
		}
		select {
		case <-d.done:
			b, _ := os.ReadFile(d.log)
			t.Fatalf("securesign desktop open exited (%v) before opening a page:\n%s", d.inst.ProcessState, b)
		case <-time.After(50 * time.Millisecond):
		}
	}
	b, _ := os.ReadFile(d.log)
	t.Fatalf("securesign desktop open opened no page within 30s; its log:\n%s", b)
	return ""
}

// stop ends the instance: SIGTERM (it removes its socket), then SIGKILL.
func (d *desktopProc) stop() {
	if d.inst == nil {
		return
	}
	_ = d.inst.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		_ = d.inst.Process.Kill()
		<-d.done
	}
}
