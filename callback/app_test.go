package callback

import (
	"context"
	"crypto"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securesign/securesign/deeplink"
)

// fakeClock makes Deliver's backoff instant: Sleep advances Now.
type fakeClock struct {
	t      time.Time
	slept  []time.Duration
	cancel func() // called at the n-th sleep when set
	at     int
}

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.slept = append(c.slept, d)
	c.t = c.t.Add(d)
	if c.cancel != nil && len(c.slept) == c.at {
		c.cancel()
	}
	return ctx.Err()
}

func TestDeliver(t *testing.T) {
	r := NewFailure("req-12345678", ErrCancelled)
	want := enc(t, r)
	type answer func(w http.ResponseWriter, n int32)
	status := func(codes ...int) answer {
		return func(w http.ResponseWriter, n int32) {
			i := min(int(n)-1, len(codes)-1)
			w.WriteHeader(codes[i])
		}
	}
	tests := []struct {
		name     string
		answer   answer
		attempts int32
		wantErr  bool
		status   int
	}{
		{"200 at once", status(200), 1, false, 0},
		{"204", status(204), 1, false, 0},
		{"503, 502, then 200", status(503, 502, 200), 3, false, 0},
		{"400 is final", status(400), 1, true, 400},
		{"409 is final", status(409), 1, true, 409},
		{"302 is final, not followed", func(w http.ResponseWriter, n int32) {
			w.Header().Set("Location", "https://evil.example/")
			w.WriteHeader(302)
		}, 1, true, 302},
		{"500 until the budget is spent", status(500), 0, true, 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
					t.Errorf("%s with %q", req.Method, req.Header.Get("Content-Type"))
				}
				if err := req.ParseForm(); err != nil || req.PostForm.Get("ss_result") != want {
					t.Errorf("body does not carry ss_result: %v", err)
				}
				tc.answer(w, n.Add(1))
			}))
			defer srv.Close()
			clock := &fakeClock{t: time.Unix(1e9, 0)}
			d := &Deliverer{Client: srv.Client(), Now: clock.now, Sleep: clock.sleep}
			err := d.Deliver(context.Background(), srv.URL+"/cb", r)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Deliver: %v", err)
			}
			if tc.attempts > 0 && n.Load() != tc.attempts {
				t.Errorf("%d attempts, want %d", n.Load(), tc.attempts)
			}
			var he *HTTPError
			if tc.status != 0 && (!errors.As(err, &he) || he.StatusCode != tc.status || !errors.Is(err, ErrDelivery)) {
				t.Errorf("error %v, want HTTP %d", err, tc.status)
			}
			if tc.status == 500 {
				total := clock.t.Sub(time.Unix(1e9, 0))
				if total != 2*time.Minute {
					t.Errorf("retried for %v, want exactly the 2 minute budget", total)
				}
				if clock.slept[0] != 500*time.Millisecond || clock.slept[1] != time.Second || clock.slept[5] != 15*time.Second {
					t.Errorf("backoff %v", clock.slept)
				}
			}
		})
	}
}

func TestDeliverNetworkErrors(t *testing.T) {
	r := NewFailure("req-12345678", ErrCancelled)
	dead := httptest.NewServer(http.NotFoundHandler())
	u := dead.URL + "/cb"
	dead.Close()
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	d := &Deliverer{Now: clock.now, Sleep: clock.sleep, Budget: 10 * time.Second}
	if err := d.Deliver(context.Background(), u, r); !errors.Is(err, ErrDelivery) {
		t.Errorf("dead server: %v", err)
	}
	if len(clock.slept) < 3 {
		t.Errorf("gave up after %d retries", len(clock.slept))
	}
	// Cancelling the context stops the retries.
	ctx, cancel := context.WithCancel(context.Background())
	clock = &fakeClock{t: time.Unix(1e9, 0), cancel: cancel, at: 2}
	d = &Deliverer{Now: clock.now, Sleep: clock.sleep}
	if err := d.Deliver(ctx, u, r); !errors.Is(err, context.Canceled) || len(clock.slept) != 2 {
		t.Errorf("cancelled: %v after %d sleeps", err, len(clock.slept))
	}
	// Where results may not go.
	for _, bad := range []string{"http://portal.example.in/cb", "javascript:alert(1)", "https://a@b.example/"} {
		if err := Deliver(context.Background(), nil, bad, r); !errors.Is(err, deeplink.ErrCallbackURL) {
			t.Errorf("Deliver to %s: %v", bad, err)
		}
	}
}

func TestRedirectURL(t *testing.T) {
	r := NewFailure("req-12345678", ErrCancelled)
	e := enc(t, r)
	tests := []struct{ cb, want string }{
		{"https://portal.example.in/cb", "https://portal.example.in/cb?ss_result="},
		{"https://portal.example.in/cb?tab=2", "https://portal.example.in/cb?tab=2&ss_result="},
		{"https://portal.example.in/cb?", "https://portal.example.in/cb?ss_result="},
		{"http://localhost:3000/cb?a=1&", "http://localhost:3000/cb?a=1&ss_result="},
	}
	for _, tc := range tests {
		got, err := RedirectURL(tc.cb, r)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("RedirectURL(%s) = %s", tc.cb, got)
		}
		u, _ := url.Parse(got)
		if u.Query().Get("ss_result") != e {
			t.Errorf("%s: ss_result does not survive query decoding", got)
		}
	}
	big := NewFailure("req-12345678", errors.New(strings.Repeat("x", 6000)))
	if _, err := RedirectURL("https://portal.example.in/cb", big); !errors.Is(err, ErrRedirectTooLarge) {
		t.Errorf("large result: %v", err)
	}
	if _, err := RedirectURL("data:text/html,x", r); !errors.Is(err, deeplink.ErrCallbackURL) {
		t.Errorf("data: URL: %v", err)
	}
}

// TestEndToEnd: a portal builds a signed link, the app parses and verifies
// it, signs, and delivers the result by POST to the portal, whose Verifier
// accepts it.
func TestEndToEnd(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	key, err := deeplink.NewSigningKey("portal-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Pointer[Outcome]
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cb", func(w http.ResponseWriter, req *http.Request) {
		o, err := f.v.Verify(req.Context(), req.FormValue("ss_result"))
		if err != nil {
			http.Error(w, "store", 500)
			return
		}
		got.Store(o)
		if o.Kind == Rejected || o.Kind == Conflict {
			http.Error(w, string(o.Code), http.StatusConflict)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	origin := srv.URL

	// Portal.
	p := f.pending(t, 2, crypto.SHA256)
	link, err := deeplink.Build(&deeplink.Request{
		Action: deeplink.ActionSign, RequestID: p.RequestID, Hashes: p.Hashes, HashAlgo: p.HashAlgo,
		CallbackURL: origin + "/cb", Origin: origin, Expires: time.Now().Add(10 * time.Minute),
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	// App.
	l, err := deeplink.Parse(link, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Verify(&deeplink.KeySet{Keys: []deeplink.PublicKey{key.Public()}}); err != nil {
		t.Fatal(err)
	}
	sigs := sign(t, f.p256, "ECDSA", l.HashAlgo, l.Hashes)
	res, err := NewSuccess(l.RequestID, "ECDSA", sigs, f.p256.Cert, f.p256.Chain, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := Deliver(ctx, nil, l.CallbackURL, res); err != nil {
		t.Fatal(err)
	}
	if o := got.Load(); o == nil || o.Kind != Accepted {
		t.Fatalf("portal outcome: %+v", o)
	}
	// Delivering again (a retry after a lost answer) is a duplicate, 2xx.
	if err := Deliver(ctx, nil, l.CallbackURL, res); err != nil || got.Load().Kind != Duplicate {
		t.Errorf("redelivery: %v %s", err, got.Load().Kind)
	}
	// A cancel afterwards is refused with 409, final for the app.
	if err := Deliver(ctx, nil, l.CallbackURL, NewFailure(l.RequestID, ErrCancelled)); !errors.Is(err, ErrDelivery) {
		t.Errorf("cancel after success: %v", err)
	}
}
