package desktop

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// maxForwardBytes bounds one forwarded message: a link is at most 2048
// bytes, so 8 KiB leaves room for the JSON framing.
const maxForwardBytes = 8 << 10

// ErrNoInstance is returned by [Forward] when no Desktop Software process
// listens on the socket: the caller should become the instance itself.
var ErrNoInstance = errors.New("desktop: no running instance")

// ErrBusy is returned when a request is already being handled: the Desktop
// Software handles one request at a time.
var ErrBusy = errors.New("desktop: another signing request is in progress")

// SocketPath returns the per-user path of the single-instance socket:
// $XDG_RUNTIME_DIR/securesign/desktop.sock when XDG_RUNTIME_DIR is set
// (a per-user tmpfs on Linux), else <user cache dir>/securesign/desktop.sock.
//
// On Windows the same AF_UNIX socket is used (supported since Windows 10
// 1803) under %LocalAppData%, whose ACL already restricts it to the user; a
// named pipe (\\.\pipe\securesign-<user SID>) would serve equally and is the
// documented alternative for older systems.
func SocketPath(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if d := getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "securesign", "desktop.sock"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("desktop: no directory for the instance socket: %w", err)
	}
	return filepath.Join(d, "securesign", "desktop.sock"), nil
}

type forwardMsg struct {
	Link string `json:"link"`
}

type forwardReply struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Forward hands link to the running instance listening on path and waits for
// its answer. It returns [ErrNoInstance] (wrapped) when nobody listens.
func Forward(ctx context.Context, path, link string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoInstance, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	if err := json.NewEncoder(conn).Encode(forwardMsg{Link: link}); err != nil {
		return fmt.Errorf("desktop: forwarding the link: %w", err)
	}
	var rep forwardReply
	if err := json.NewDecoder(io.LimitReader(conn, maxForwardBytes)).Decode(&rep); err != nil {
		return fmt.Errorf("desktop: reading the running instance's answer: %w", err)
	}
	if !rep.OK {
		if rep.Error == ErrBusy.Error() {
			return ErrBusy
		}
		return fmt.Errorf("desktop: the running instance refused the link: %s", rep.Error)
	}
	return nil
}

// Instance is the listening side of single-instance forwarding.
type Instance struct {
	ln   net.Listener
	path string
	once sync.Once
}

// Listen makes the calling process the instance: it creates the socket's
// directory (0700) and the socket (0600) at path. A stale socket left by a
// crashed process is removed; a live one makes Listen fail with an error
// wrapping [os.ErrExist], so the caller forwards instead.
func Listen(ctx context.Context, path string) (*Instance, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("desktop: creating %s: %w", dir, err)
	}
	// MkdirAll keeps an existing directory's mode; tighten it.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("desktop: securing %s: %w", dir, err)
	}
	ln, err := listenUnix(path)
	if err != nil {
		// Someone answers: a live instance.
		if ferr := ping(ctx, path); ferr == nil {
			return nil, fmt.Errorf("desktop: an instance already listens on %s: %w", path, os.ErrExist)
		}
		// Stale socket file from a crash: remove and retry once.
		_ = os.Remove(path)
		ln, err = listenUnix(path)
		if err != nil {
			return nil, fmt.Errorf("desktop: listening on %s: %w", path, err)
		}
	}
	return &Instance{ln: ln, path: path}, nil
}

func listenUnix(path string) (net.Listener, error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(true)
	}
	// The directory is 0700 already; 0600 on the socket is the second lock.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

func ping(ctx context.Context, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return err
	}
	return c.Close()
}

// Path returns the socket path.
func (in *Instance) Path() string { return in.path }

// Serve accepts forwarded links until ctx ends or Close is called, calling
// handle for each; handle's error is reported to the forwarding process.
func (in *Instance) Serve(ctx context.Context, handle func(ctx context.Context, link string) error) error {
	stop := context.AfterFunc(ctx, func() { in.Close() })
	defer stop()
	for {
		conn, err := in.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("desktop: accepting: %w", err)
		}
		go in.serveConn(ctx, conn, handle)
	}
}

func (in *Instance) serveConn(ctx context.Context, conn net.Conn, handle func(context.Context, string) error) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReaderSize(io.LimitReader(conn, maxForwardBytes), 1024).ReadBytes('\n')
	if err != nil && len(line) == 0 {
		return // a ping, or garbage
	}
	var msg forwardMsg
	rep := forwardReply{OK: true}
	if err := json.Unmarshal(line, &msg); err != nil || msg.Link == "" {
		rep = forwardReply{Error: "malformed message"}
	} else if err := handle(ctx, msg.Link); err != nil {
		rep = forwardReply{Error: err.Error()}
	}
	_ = json.NewEncoder(conn).Encode(rep)
}

// Close stops listening and removes the socket.
func (in *Instance) Close() error {
	var err error
	in.once.Do(func() { err = in.ln.Close() })
	return err
}
