package lg

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Gateway is a "securesign gateway --dev" process this package started.
type Gateway struct {
	Cmd    *exec.Cmd
	URL    string // http://127.0.0.1:PORT
	Addr   string // 127.0.0.1:PORT
	APIKey string // printed on first start only
	Data   string

	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan error
	exited bool
}

type lockedBuf struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// StartGateway runs bin ("securesign") as "gateway --dev --data data
// --listen listen" plus extra args, with env added to this process's
// environment, and waits for its "listening on" line. listen must be a
// loopback address.
func StartGateway(ctx context.Context, bin, data, listen string, env []string, extra ...string) (*Gateway, error) {
	if _, err := CheckLoopback("http://" + listen); err != nil {
		return nil, err
	}
	// The gateway refuses a data directory others can read (t.TempDir's
	// are 0755).
	if err := os.Chmod(data, 0o700); err != nil {
		return nil, err
	}
	args := append([]string{"gateway", "--dev", "--data", data, "--listen", listen}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	g := &Gateway{Cmd: cmd, Data: data, done: make(chan error, 1)}
	cmd.Stderr = lockedBuf{&g.mu, &g.stderr}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			g.mu.Lock()
			g.stdout.WriteString(sc.Text() + "\n")
			g.mu.Unlock()
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
		g.done <- cmd.Wait()
	}()
	timeout := time.NewTimer(90 * time.Second)
	defer timeout.Stop()
	for g.URL == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				g.exited = true
				return nil, fmt.Errorf("lg: gateway exited before listening: %s", g.Stderr())
			}
			if k, ok := strings.CutPrefix(l, "api key: "); ok {
				g.APIKey = k
			}
			if u, ok := strings.CutPrefix(l, "listening on "); ok {
				g.URL = u
			}
		case <-timeout.C:
			// A Go program answers SIGQUIT with every goroutine's stack:
			// the error then says where the start hangs.
			g.Cmd.Process.Signal(syscall.SIGQUIT) //nolint:errcheck
			select {
			case <-g.done:
				g.mu.Lock()
				g.exited = true
				g.mu.Unlock()
			case <-time.After(3 * time.Second):
				g.Kill()
			}
			return nil, fmt.Errorf("lg: gateway did not start in 90 s; stdout:\n%s\nstderr (goroutine dump):\n%s", g.Stdout(), dump(g.Stderr(), 8000))
		case <-ctx.Done():
			g.Kill()
			return nil, ctx.Err()
		}
	}
	u, err := url.Parse(g.URL)
	if err != nil {
		g.Kill()
		return nil, err
	}
	g.Addr = u.Host
	return g, nil
}

// PID is the process id.
func (g *Gateway) PID() int { return g.Cmd.Process.Pid }

// Stdout and Stderr return what the process wrote so far.
func (g *Gateway) Stdout() string { g.mu.Lock(); defer g.mu.Unlock(); return g.stdout.String() }

// Stderr returns what the process wrote to stderr so far (its JSON logs).
func (g *Gateway) Stderr() string { g.mu.Lock(); defer g.mu.Unlock(); return g.stderr.String() }

// Kill sends SIGKILL (a crash) and waits for the process to be gone.
func (g *Gateway) Kill() {
	g.mu.Lock()
	exited := g.exited
	g.exited = true
	g.mu.Unlock()
	if exited {
		return
	}
	g.Cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck
	<-g.done
}

// Stop sends SIGTERM and waits up to 30 s for a clean exit.
func (g *Gateway) Stop() error {
	g.mu.Lock()
	exited := g.exited
	g.exited = true
	g.mu.Unlock()
	if exited {
		return nil
	}
	g.Cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
	select {
	case err := <-g.done:
		return err
	case <-time.After(30 * time.Second):
		g.Cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck
		<-g.done
		return errors.New("lg: gateway did not stop within 30 s of SIGTERM")
	}
}

// dump returns at most n bytes of stderr from the goroutine dump on (the
// main goroutine comes first), or its end when there is no dump.
func dump(s string, n int) string {
	if i := strings.Index(s, "SIGQUIT: quit"); i >= 0 {
		s = s[i:]
		if len(s) > n {
			s = s[:n] + "…"
		}
		return s
	}
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
