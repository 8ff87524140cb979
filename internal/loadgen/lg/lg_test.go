package lg

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		url  string
		ok   bool
		want error
	}{
		{"http://127.0.0.1:8080", true, nil},
		{"http://127.1.2.3:1", true, nil},
		{"https://localhost", true, nil},
		{"http://[::1]:9000", true, nil},
		{"http://10.0.0.1:8080", false, ErrNotLoopback},
		{"http://example.com", false, ErrNotLoopback},
		{"http://0.0.0.0:8080", false, ErrNotLoopback},
		{"http://localhost.evil.com", false, ErrNotLoopback},
		{"http://127.0.0.1.nip.io", false, ErrNotLoopback},
		{"ftp://127.0.0.1", false, nil},
		{"://", false, nil},
	}
	for _, tt := range tests {
		_, err := CheckLoopback(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("CheckLoopback(%q) = %v, want %v", tt.url, err, tt.want)
		}
	}
	if _, err := NewClient("http://192.0.2.1", "k", 1); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("NewClient to a remote host: %v", err)
	}
	if _, err := Run(context.Background(), Config{Mode: ModeSessions, Client: &Client{BaseURL: "http://192.0.2.1"}}); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("Run against a remote host: %v", err)
	}
}

func TestRunRefusesUnbounded(t *testing.T) {
	c, err := NewClient("http://127.0.0.1:1", "k", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), Config{Mode: ModeSessions, Client: c, Duration: 2 * MaxDuration}); err == nil {
		t.Error("a run longer than MaxDuration was accepted")
	}
	if _, err := Run(context.Background(), Config{Mode: "flood", Client: c}); err == nil {
		t.Error("an unknown mode was accepted")
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := percentiles(ds)
	want := Percentiles{P50: 50, P90: 90, P99: 99, Max: 100}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("percentiles (-want +got):\n%s", diff)
	}
	if got := percentiles(nil); got != (Percentiles{}) {
		t.Errorf("percentiles(nil) = %+v", got)
	}
}

func TestParseMetrics(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "metrics.txt"))
	if err != nil {
		t.Fatal(err)
	}
	got := ParseMetrics(body)
	want := Sample{RSSBytes: 29958144, Goroutines: 11, CPUSeconds: 1.25}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseMetrics (-want +got):\n%s", diff)
	}
}

func FuzzParseMetrics(f *testing.F) {
	f.Add([]byte("go_goroutines 11\nprocess_resident_memory_bytes 2.9958144e+07\n"))
	f.Add([]byte("# HELP x\ngo_goroutines NaN\nprocess_resident_memory_bytes -1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := ParseMetrics(b)
		if s.RSSBytes < 0 || s.Goroutines < 0 || !(s.CPUSeconds >= 0) {
			t.Errorf("negative or NaN values %+v", s)
		}
	})
}

func TestOutbox(t *testing.T) {
	dir := t.TempDir()
	ob := NewOutbox(dir)
	p := filepath.Join(dir, "dev-otp-outbox.jsonl")
	write := func(s string) {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(s)
		f.Close()
	}
	write(`{"userId":"u","otpId":"otp_1","code":"123456","purpose":"issue","at":"x"}` + "\n" + `{"otpId":"otp_2","co`)
	ctx := context.Background()
	if code, err := ob.Code(ctx, "otp_1"); err != nil || code != "123456" {
		t.Fatalf("Code(otp_1) = %q, %v", code, err)
	}
	go func() { time.Sleep(20 * time.Millisecond); write(`de":"654321"}` + "\n") }()
	if code, err := ob.Code(ctx, "otp_2"); err != nil || code != "654321" {
		t.Fatalf("Code(otp_2) after a partial line = %q, %v", code, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := ob.Code(cctx, "otp_3"); err == nil {
		t.Error("a missing code was found")
	}
	codes, err := ob.Codes()
	if err != nil || !cmp.Equal(codes, []string{"123456", "654321"}) {
		t.Errorf("Codes = %v, %v", codes, err)
	}
}

func TestTamperKeepsShape(t *testing.T) {
	enc := "not base64 at all"
	if tamper(enc) == enc {
		t.Error("tamper left an undecodable result unchanged")
	}
}

func ExampleCheckLoopback() {
	_, err := CheckLoopback("http://192.0.2.10:8080")
	fmt.Println(err)
	// Output: lg: target is not a loopback address (127.0.0.0/8, ::1, localhost): "192.0.2.10"
}

// TestRouteOutboxRoundRobin: a client given several gateways sends each
// request to the next, and the route outbox reads codes through
// GET /v1/dev/otp/{otpId} with the API key.
func TestRouteOutboxRoundRobin(t *testing.T) {
	var hits [2]atomic.Int64
	var srvs []string
	for i := range hits {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			if r.URL.Path != "/v1/dev/otp/otp_1" || r.Header.Get("Authorization") != "Bearer k" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"success":true,"otpId":"otp_1","code":"123456","purpose":"issue","summary":""}`)
		}))
		t.Cleanup(s.Close)
		srvs = append(srvs, s.URL)
	}
	c, err := NewClient(strings.Join(srvs, ","), "k", 2)
	if err != nil {
		t.Fatal(err)
	}
	ob := NewRouteOutbox(c)
	for range 4 {
		if code, err := ob.Code(context.Background(), "otp_1"); err != nil || code != "123456" {
			t.Fatalf("Code = %q, %v", code, err)
		}
	}
	if _, err := ob.Code(context.Background(), "otp_2"); err == nil {
		t.Error("an unknown code was read")
	}
	if hits[0].Load() != 2 && hits[0].Load() != 3 || hits[0].Load()+hits[1].Load() != 5 {
		t.Errorf("requests per gateway: %d, %d", hits[0].Load(), hits[1].Load())
	}
}
