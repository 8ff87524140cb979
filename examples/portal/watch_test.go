package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/internal/testpdf"
)

// setStatus changes a document's status as a callback would.
func (p *Portal) setStatus(d *document, status string) {
	p.mu.Lock()
	d.Status = status
	p.changedLocked()
	p.mu.Unlock()
}

func newWatchPortal(t *testing.T, origin string) (*Portal, *document) {
	key, err := deeplink.NewSigningKey("portal-watch", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := NewPortal(origin, key, x509.NewCertPool())
	d := &document{ID: newID(), Name: "Personal Loan Agreement", PDF: testpdf.Agreement(), Status: StatusUploaded}
	p.docs[d.ID] = d
	return p, d
}

// TestWatchStream: /doc/{id}/watch sends the status at once and again the
// moment it changes, as server-sent events, and ends when it is final;
// without Accept: text/event-stream it answers JSON like /status.
func TestWatchStream(t *testing.T) {
	p, d := newWatchPortal(t, "http://127.0.0.1")
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()

	res, err := http.Get(srv.URL + "/doc/" + d.ID + "/watch")
	if err != nil {
		t.Fatal(err)
	}
	var plain map[string]string
	json.NewDecoder(res.Body).Decode(&plain)
	res.Body.Close()
	if res.Header.Get("Content-Type") != "application/json" || plain["status"] != StatusUploaded {
		t.Fatalf("plain GET: %s %v", res.Header.Get("Content-Type"), plain)
	}

	req, _ := http.NewRequest("GET", srv.URL+"/doc/"+d.ID+"/watch", nil)
	req.Header.Set("Accept", "text/event-stream")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	events := make(chan string)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		var ev string
		for sc.Scan() {
			switch line := sc.Text(); {
			case strings.HasPrefix(line, "event: "):
				ev = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && ev == "status":
				var b map[string]string
				json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &b)
				events <- b["status"]
			}
		}
	}()
	next := func() string {
		select {
		case s, ok := <-events:
			if !ok {
				return "(end)"
			}
			return s
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10 s")
		}
		return ""
	}
	if s := next(); s != StatusUploaded {
		t.Fatalf("first event %q", s)
	}
	p.setStatus(d, StatusCancelled)
	if s := next(); s != StatusCancelled {
		t.Fatalf("after a change %q", s)
	}
	p.setStatus(d, StatusSigned)
	if s := next(); s != StatusSigned {
		t.Fatalf("after signing %q", s)
	}
	if s := next(); s != "(end)" {
		t.Fatalf("the stream goes on after the final status: %q", s)
	}
}

// TestPageFollowsStatus: in Chromium the document page flips the moment
// the status changes, through the watch stream and without a single
// /status poll; with EventSource taken away it falls back to polling.
func TestPageFollowsStatus(t *testing.T) {
	exe := chromium(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://" + ln.Addr().String()
	p, d := newWatchPortal(t, origin)
	e := &e2e{t: t, origin: origin, p: p, shots: os.Getenv("SECURESIGN_SCREENSHOTS")}
	ph := p.Handler()
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/status") {
			e.statusPolls.Add(1)
		}
		ph.ServeHTTP(w, r)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	e.browser = newBrowser(t, exe)

	tab, closeTab := e.newTab()
	e.do(tab, "open the page", chromedp.Navigate(origin+"/doc/"+d.ID), chromedp.WaitVisible("", css("#status")))
	e.waitJS(tab, "the watch stream", `window.ssWatch === 'sse'`)
	time.Sleep(2500 * time.Millisecond) // longer than the polling interval
	p.setStatus(d, StatusCancelled)
	e.waitJS(tab, "page flips to cancelled", `document.querySelector('#status')?.dataset.status === 'cancelled'`)
	if n := e.statusPolls.Load(); n != 0 {
		t.Errorf("the page polled /status %d times although EventSource is there", n)
	}
	closeTab()

	// Without EventSource (an old browser): polling.
	p.setStatus(d, StatusFailed)
	old, closeOld := e.newTab()
	defer closeOld()
	e.do(old, "remove EventSource", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: "delete window.EventSource;"})
		return err
	}), chromedp.Navigate(origin+"/doc/"+d.ID), chromedp.WaitVisible("", css("#status")))
	e.waitJS(old, "polling", `window.ssWatch === 'poll'`)
	p.setStatus(d, StatusCancelled)
	e.waitJS(old, "page flips to cancelled by polling", `document.querySelector('#status')?.dataset.status === 'cancelled'`)
	if e.statusPolls.Load() == 0 {
		t.Error("without EventSource the page did not poll")
	}
}
