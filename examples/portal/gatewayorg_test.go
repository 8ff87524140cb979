package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/securesign/securesign/adapters/gateway"
)

// TestDesktopShowsGatewayOrg: a gateway link names the tenant (org, signed
// with the tenant's own link key); the Desktop Software's page shows the
// tenant's name first, above the gateway's origin. With
// SECURESIGN_SCREENSHOTS=DIR it saves desktop-gateway-org.png (and a
// phone-width one).
func TestDesktopShowsGatewayOrg(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gwURL := "http://" + ln.Addr().String()
	data := t.TempDir()
	os.Chmod(data, 0o700) // the gateway refuses a data directory others can read
	srv, err := gateway.New(ctx, gateway.Config{Dev: true, DataDir: data, PublicURL: gwURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv.Handler()}}
	hs.Start()
	t.Cleanup(hs.Close)
	// The operator names the tenant; no API call can.
	st := srv.Store()
	if err := st.CreateTenant(ctx, &gateway.Tenant{ID: "example-bank", Name: "Example Bank", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	key, _, err := gateway.NewAPIKey(ctx, st, "example-bank", "e2e", false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	digest := bytes.Repeat([]byte{0x5a}, 32)
	body, _ := json.Marshal(map[string]any{"hashBase64": base64.StdEncoding.EncodeToString(digest), "doc": "Home loan agreement HL-2026-0042"})
	req, _ := http.NewRequest("POST", gwURL+"/v1/sign/hash", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		DeepLink string `json:"deepLink"`
	}
	json.NewDecoder(resp.Body).Decode(&out) //nolint:errcheck
	resp.Body.Close()
	if resp.StatusCode != 201 || !strings.Contains(out.DeepLink, "org=Example%20Bank") {
		t.Fatalf("sign/hash = %d, link %q", resp.StatusCode, out.DeepLink)
	}

	desk := newDesktopProc(t, gwURL, e.tok.Module)
	page := desk.open(t, out.DeepLink)
	tab, cancel := e.newTab()
	defer cancel()
	e.do(tab, "open the desktop page", chromedp.Navigate(page), chromedp.WaitVisible("", css("main")))
	if v := e.eval(tab, `document.querySelector('#link-status').dataset.verified`); v != "true" {
		t.Fatalf("the gateway's link does not verify on the desktop page (%s)", v)
	}
	org := e.eval(tab, `document.querySelector('#org') ? document.querySelector('#org').textContent : ''`)
	origin := e.eval(tab, `document.querySelector('#origin').textContent`)
	if org != "Example Bank" || origin != gwURL {
		t.Fatalf("desktop page shows org %q, origin %q", org, origin)
	}
	// The organisation comes first: above the origin on the page.
	if above := e.eval(tab, `String(document.querySelector('#org').getBoundingClientRect().bottom <= document.querySelector('#origin').getBoundingClientRect().top)`); above != "true" {
		t.Errorf("org is not above the origin")
	}
	e.screenshot(tab, "desktop-gateway-org.png")
	if e.shots != "" {
		e.do(tab, "narrow", chromedp.EmulateViewport(390, 844))
		e.screenshot(tab, "desktop-gateway-org-narrow.png")
		e.do(tab, "wide", chromedp.ResetViewport())
	}
}
