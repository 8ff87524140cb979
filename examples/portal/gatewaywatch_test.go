package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/securesign/securesign/adapters/gateway"
	"github.com/securesign/securesign/examples/mobile/mobileapp"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

// TestPageFollowsGatewayWatchURL: a portal built on the gateway puts a
// session's watchUrl (docs/protocol.md §3, capability URL, no API key) in
// data-watch, and the same static/portal.js flips its page to signed the
// moment the Mobile App's result lands at the gateway: server-sent events
// across origins, not one poll.
func TestPageFollowsGatewayWatchURL(t *testing.T) {
	exe := chromium(t)
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.P256, testpki.Options{CommonName: "Rajesh Kumar"})
	dir := t.TempDir()
	rootPEM := filepath.Join(dir, "root.pem")
	os.WriteFile(rootPEM, testpki.PEM(h.Root.Cert), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The gateway.
	gts := httptest.NewUnstartedServer(nil)
	gwURL := "http://" + gts.Listener.Addr().String()
	data := filepath.Join(dir, "data")
	srv, err := gateway.New(ctx, gateway.Config{Dev: true, DataDir: data, PublicURL: gwURL, TrustFiles: []string{rootPEM},
		Revocation: "off", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	gts.Config.Handler = srv.Handler()
	gts.Start()
	t.Cleanup(gts.Close)
	apiKey, err := gateway.EnsureDevTenant(ctx, srv.Store(), time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	// call is the portal's server side: the API key never leaves it.
	call := func(method, path string, body any) (map[string]any, error) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequestWithContext(ctx, method, gwURL+path, rd)
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		if res.StatusCode >= 300 {
			return nil, fmt.Errorf("%s %s: %s %v", method, path, res.Status, out)
		}
		return out, nil
	}
	d := sha256.Sum256([]byte("Personal Loan Agreement"))
	sess, err := call("POST", "/v1/sign/hash", map[string]any{"hashBase64": base64.StdEncoding.EncodeToString(d[:]), "hashAlgo": "SHA256"})
	if err != nil {
		t.Fatal(err)
	}
	reqID, _ := sess["requestId"].(string)
	watchURL, _ := sess["watchUrl"].(string)
	link, _ := sess["deepLink"].(string)
	if reqID == "" || !strings.HasPrefix(watchURL, gwURL+"/v1/watch/") || link == "" {
		t.Fatalf("session: %v", sess)
	}

	// The portal's page, on another origin: it renders the status it reads
	// with its API key and hands the browser only the watchUrl.
	var polls atomic.Int64
	page := template.Must(template.New("p").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<script src="/static/portal.js" defer></script></head>
<body data-doc="{{.ID}}" data-status="{{.Status}}" data-watch="{{.Watch}}"><p id="status" data-status="{{.Status}}">{{.Status}}</p></body></html>`))
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.FileServerFS(assets))
	mux.HandleFunc("GET /doc/{id}/status", func(w http.ResponseWriter, r *http.Request) { polls.Add(1); http.NotFound(w, r) })
	mux.HandleFunc("GET /doc/{id}", func(w http.ResponseWriter, r *http.Request) {
		s, err := call("GET", "/v1/sessions/"+reqID, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		st, _ := s["status"].(string)
		page.Execute(w, map[string]string{"ID": reqID, "Status": st, "Watch": watchURL})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	pts.Start()
	t.Cleanup(pts.Close)
	portalURL := "http://" + ln.Addr().String()
	if strings.Contains(watchURL, apiKey) {
		t.Fatal("the watchUrl carries the API key")
	}

	e := &e2e{t: t, origin: portalURL}
	e.browser = newBrowser(t, exe)
	tab, closeTab := e.newTab()
	defer closeTab()
	e.do(tab, "open the portal page", chromedp.Navigate(portalURL+"/doc/"+reqID), chromedp.WaitVisible("", css("#status")))
	if s := e.portalStatus(tab); s != "pending" {
		t.Fatalf("page shows %q before signing", s)
	}
	e.waitJS(tab, "the watch stream", `window.ssWatch === 'sse'`)
	time.Sleep(1500 * time.Millisecond) // longer than a polling round

	// The customer signs in the Mobile App; the result lands at the gateway.
	key, _ := signer.NewSoftware(leaf.Key, leaf.Cert, leaf.Chain)
	app := &mobileapp.App{AllowedOrigins: []string{gwURL}, RequireSigned: true, Signer: key, Confirm: func(*mobileapp.Request) bool { return true }}
	if out, err := app.Handle(ctx, link); err != nil || out.Status != 200 {
		t.Fatalf("mobile app: %v %+v", err, out)
	}
	start := time.Now()
	e.waitJS(tab, "the page flips to signed", `document.querySelector('#status')?.dataset.status === 'signed'`)
	t.Logf("page flipped %s after the callback", time.Since(start).Round(10*time.Millisecond))
	if n := polls.Load(); n != 0 {
		t.Errorf("the page polled the portal %d times; want the gateway's event stream only", n)
	}
}
