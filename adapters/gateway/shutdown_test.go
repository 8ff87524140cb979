package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// TestGracefulShutdown: a request in flight when shutdown starts finishes
// with its answer; new connections are refused afterwards.
func TestGracefulShutdown(t *testing.T) {
	g := newTestGW(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- g.srv.Serve(ctx, ln) }()

	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/v1/sign/hash", pr)
	req.Header.Set("Authorization", "Bearer "+g.key)
	req.Header.Set("Content-Type", "application/json")
	answer := make(chan *http.Response, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			answer <- nil
			return
		}
		answer <- res
	}()
	body := `{"hashBase64":"` + b64(digest("in flight")) + `"}`
	pw.Write([]byte(body[:10]))        //nolint:errcheck
	time.Sleep(100 * time.Millisecond) // the request is being read
	cancel()                           // SIGTERM
	time.Sleep(100 * time.Millisecond)
	pw.Write([]byte(body[10:])) //nolint:errcheck
	pw.Close()
	res := <-answer
	if res == nil || res.StatusCode != 201 {
		t.Fatalf("in-flight request: %v", res)
	}
	res.Body.Close()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("server still accepts connections after shutdown")
	}
}

func TestSweepFiles(t *testing.T) {
	g := newTestGW(t, nil)
	dir := g.srv.filesDir()
	old := time.Now().Add(-3 * time.Hour)
	for _, name := range []string{"a.tmp", "r-0.prepared.pdf", "r-0.signed.pdf", "fresh.tmp"} {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if name != "fresh.tmp" {
			os.Chtimes(p, old, old) //nolint:errcheck
		}
	}
	if n := g.srv.sweepFiles(context.Background(), time.Now()); n != 2 {
		t.Errorf("removed %d files, want 2", n)
	}
	for _, keep := range []string{"r-0.signed.pdf", "fresh.tmp"} {
		if _, err := os.Stat(dir + "/" + keep); err != nil {
			t.Errorf("%s removed", keep)
		}
	}
}
