package desktop

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestCanonicalOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://Portal.Example.in":     "https://portal.example.in",
		"https://portal.example.in:443": "https://portal.example.in",
		"http://127.0.0.1:8090/":        "http://127.0.0.1:8090",
		"http://[::1]:80":               "http://[::1]",
		"ftp://x":                       "",
		"https://x/path":                "",
		"https://user@x":                "",
		"portal.example.in":             "",
	} {
		got, err := CanonicalOrigin(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("CanonicalOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestLoadPolicy(t *testing.T) {
	dir := t.TempDir()
	p, err := LoadPolicy(filepath.Join(dir, "missing.json"))
	if err != nil || len(p.AllowedOrigins) != 0 {
		t.Fatalf("missing file: %+v, %v", p, err)
	}
	good := filepath.Join(dir, "desktop.json")
	os.WriteFile(good, []byte(`{"allowedOrigins":["https://Portal.example.in:443"],"requireSignedLinks":true,"fetchKeys":false}`), 0o600)
	p, err = LoadPolicy(good)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Allows("https://portal.example.in") || p.Allows("https://evil.example") || p.fetchKeys() || !p.RequireSignedLinks {
		t.Errorf("policy read wrong: %+v", p)
	}
	os.WriteFile(good, []byte(`{"allowedOrigins":["https://portal.example.in"],"packageOrigins":["https://Sign.Gateway.example.in:443","http://127.0.0.1:8080"]}`), 0o600)
	p, err = LoadPolicy(good)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.packageOrigins(), []string{"https://sign.gateway.example.in", "http://127.0.0.1:8080"}; !slices.Equal(got, want) {
		t.Errorf("package origins %q, want %q", got, want)
	}
	for _, bad := range []string{`{"allowedOrigin":["https://x"]}`, `{"allowedOrigins":["x"]}`, `{`,
		`{"packageOrigins":["http://sign.gateway.example.in"]}`, `{"packageOrigins":["https://sign.gateway.example.in/v1/packages"]}`,
		`{"packageOrigins":["sign.gateway.example.in"]}`, `{"packageOrigin":["https://sign.gateway.example.in"]}`} {
		os.WriteFile(good, []byte(bad), 0o600)
		if _, err := LoadPolicy(good); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func FuzzCanonicalOrigin(f *testing.F) {
	f.Add("https://Portal.Example.in:443/")
	f.Add("http://[::1]:8080")
	f.Fuzz(func(t *testing.T, s string) {
		o, err := CanonicalOrigin(s)
		if err != nil {
			return
		}
		// Canonical forms are fixed points.
		if o2, err := CanonicalOrigin(o); err != nil || o2 != o {
			t.Fatalf("CanonicalOrigin(%q) = %q, again %q, %v", s, o, o2, err)
		}
	})
}
