package mobileapp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/securesign/securesign/adapters/gateway"
	"github.com/securesign/securesign/examples/mobile/mobileapp"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

// TestAgainstGateway completes a hash-signing session of the reference
// gateway (dev mode) with the mobile client: the gateway makes the link, the
// app signs and opens /v1/callback?ss_result=…, the session turns signed.
func TestAgainstGateway(t *testing.T) {
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.RSA2048, testpki.Options{CommonName: "Rajesh Kumar"})
	dir := t.TempDir()
	rootPEM := filepath.Join(dir, "root.pem")
	os.WriteFile(rootPEM, testpki.PEM(h.Root.Cert), 0o600)

	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	// Bounded, so a hung store fails this test instead of the whole run.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, err := gateway.New(ctx, gateway.Config{Dev: true, DataDir: filepath.Join(dir, "data"), PublicURL: base,
		TrustFiles: []string{rootPEM}, Revocation: "off", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	apiKey, err := gateway.EnsureDevTenant(ctx, srv.Store(), time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}

	call := func(method, path string, body any) map[string]any {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequestWithContext(ctx, method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != 200 && resp.StatusCode != 201 {
			t.Fatalf("%s %s: %s %v", method, path, resp.Status, out)
		}
		return out
	}
	d := sha256.Sum256([]byte("loan agreement"))
	sess := call("POST", "/v1/sign/hash", map[string]any{"hashBase64": base64.StdEncoding.EncodeToString(d[:]), "hashAlgo": "SHA256"})
	link, _ := sess["deepLink"].(string)
	reqID, _ := sess["requestId"].(string)
	if link == "" || reqID == "" {
		t.Fatalf("session: %v", sess)
	}

	key, _ := signer.NewSoftware(leaf.Key, leaf.Cert, leaf.Chain)
	var shown *mobileapp.Request
	app := &mobileapp.App{AllowedOrigins: []string{base}, RequireSigned: true, Signer: key,
		Confirm: func(r *mobileapp.Request) bool { shown = r; return true }}
	out, err := app.Handle(ctx, link)
	if err != nil {
		t.Fatalf("mobile app: %v", err)
	}
	if out.Status != 200 {
		t.Errorf("callback answered %d", out.Status)
	}
	// The gateway's link names the tenant, under the tenant's own key.
	if shown == nil || !shown.Verified || shown.Org != "Development tenant" {
		t.Errorf("the app showed %+v, want the verified tenant name", shown)
	}
	st := call("GET", "/v1/sessions/"+reqID, nil)
	if st["status"] != "signed" {
		t.Fatalf("session status %v", st)
	}
}
