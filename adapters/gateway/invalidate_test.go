package gateway

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/internal/testpki"
)

// pgInstances is n gateways on one PostgreSQL schema, each with its own
// store (pool, listener) and data directory, sharing the master key;
// configure adjusts each one's configuration further.
func pgInstances(t *testing.T, n int, configure func(*Config)) []*testGW {
	t.Helper()
	dsn := postgresSchemaDSN(t)
	master := []byte("0123456789abcdef0123456789abcdef")
	var gs []*testGW
	for range n {
		st, err := OpenPostgres(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		gs = append(gs, newTestGWOn(t, st, t.TempDir(), func(c *Config) {
			c.MasterKey = master
			if configure != nil {
				configure(c)
			}
		}))
	}
	return gs
}

// watchEvents follows a watchUrl as server-sent events and yields each
// event's data until the stream ends (closed with the test).
func watchEvents(t *testing.T, url string) <-chan string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	events := make(chan string, 4)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- d
			}
		}
	}()
	return events
}

// twoInstances is pgInstances(t, 2, nil).
func twoInstances(t *testing.T) (a, b *testGW) {
	t.Helper()
	gs := pgInstances(t, 2, nil)
	return gs[0], gs[1]
}

// within polls ok every 2 ms until it holds and fails unless the probe
// that first saw it began within d (d × raceSlowdown under -race): the
// bound is on the change reaching the instance, not on the probe's own
// request, which a loaded machine can make slow.
func within(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	d *= raceSlowdown
	start := time.Now()
	for {
		began := time.Since(start)
		if ok() {
			if began > d {
				t.Fatalf("%s: not seen within %v (first seen by a probe begun after %v)", what, d, began.Round(time.Millisecond))
			}
			t.Logf("%s: seen by a probe begun after %v", what, began.Round(time.Millisecond))
			return
		}
		if time.Since(start) > 10*d {
			t.Fatalf("%s: not seen within %v", what, 10*d)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestRevocationAcrossInstancesPostgres: an API key revoked, or a tenant
// disabled, through one instance is refused by another within 100 ms,
// although that one had the key cached (the cache alone keeps it 2 s).
func TestRevocationAcrossInstancesPostgres(t *testing.T) {
	a, b := twoInstances(t)
	ctx := context.Background()
	for _, how := range []string{"revoke key", "disable tenant"} {
		t.Run(how, func(t *testing.T) {
			key, rec, err := NewAPIKey(ctx, a.srv.store, DevTenantID, "to-"+strings.ReplaceAll(how, " ", "-"), false, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			b.must(200, "GET", "/v1/audit/logs?limit=1", key, nil) // cached on B
			switch how {
			case "revoke key":
				err = a.srv.store.RevokeAPIKey(ctx, DevTenantID, rec.ID, time.Now())
			default:
				err = a.srv.store.SetTenantDisabled(ctx, DevTenantID, true)
				defer a.srv.store.SetTenantDisabled(ctx, DevTenantID, false) //nolint:errcheck
			}
			if err != nil {
				t.Fatal(err)
			}
			within(t, 100*time.Millisecond, how+" on B", func() bool {
				res, _ := b.raw("GET", "/v1/audit/logs?limit=1", key, nil)
				return res.StatusCode == 401
			})
		})
	}
}

// TestLinkKeyRotationAcrossInstancesPostgres: a tenant's link key rotated
// through one instance signs the other's next links within a second,
// with no restart: a notification reloads the keys.
func TestLinkKeyRotationAcrossInstancesPostgres(t *testing.T) {
	a, b := twoInstances(t)
	ctx := context.Background()
	kidOf := func() string {
		out := b.must(201, "POST", "/v1/sign/hash", a.key, map[string]any{"hashBase64": b64(digest("rotate"))})
		l, err := deeplink.Parse(out["deepLink"].(string), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return l.KID
	}
	before := kidOf()
	kid, err := RotateTenantLinkKey(ctx, a.srv.store, a.srv.cfg.MasterKey, DevTenantID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if kid == before {
		t.Fatal("rotation kept the kid")
	}
	// B reloads its keys only when told (no timer), so any bound far
	// below "never" shows the notification; the reload is a query and a
	// decryption, which a loaded CI machine once stretched to 118 ms.
	within(t, time.Second, "new link key on B", func() bool { return kidOf() == kid })
}

// TestWatchAcrossInstancesPostgres: a watchUrl stream on one instance sees
// a result that landed on another through its "session:<id>" notification:
// the stream's own re-read of the store is an hour away here.
func TestWatchAcrossInstancesPostgres(t *testing.T) {
	a, b := twoInstances(t)
	a.srv.watchPollEvery = time.Hour
	k := testpki.Key(t, testpki.P256, 63)
	app := appSigner(t, k, a.issueCSR(a.key, "watcher", k))
	out := a.must(201, "POST", "/v1/sign/hash", a.key, map[string]any{"hashBase64": b64(digest("watched across"))})
	events := watchEvents(t, out["watchUrl"].(string))
	if first := <-events; !strings.Contains(first, `"status":"pending"`) {
		t.Fatalf("first event %s", first)
	}
	if code, ans := b.postResult(signLink(t, b, out["deepLink"].(string), app)); code != 200 || ans["status"] != "signed" {
		t.Fatalf("callback on B = %d %v", code, ans)
	}
	select {
	case ev := <-events:
		if !strings.Contains(ev, `"status":"signed"`) {
			t.Fatalf("next event %s", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream on A never said signed")
	}
}

// TestSessionNotifyOnlyWatchedPostgres: a session's status change is
// announced to the listening gateways only when someone watches it
// (migration 0014); completions nobody watches wake no instance.
func TestSessionNotifyOnlyWatchedPostgres(t *testing.T) {
	ctx := context.Background()
	st := newPostgresStore(t)
	pg := st.(*pgStore)
	msgs := make(chan string, 16)
	pg.subscribe(func(m string) { msgs <- m })
	if err := st.CreateTenant(ctx, &Tenant{ID: "t1", Name: "watch", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, id := range []string{"unwatched", "watched"} {
		x := &Session{RequestID: id, TenantID: "t1", Kind: "hash", Action: "sign", Hashes: [][]byte{make([]byte, 32)}, HashAlgo: "SHA256",
			Origin: "http://127.0.0.1", ExpiresAt: now.Add(time.Hour), CreatedAt: now}
		if err := st.CreateSession(ctx, x, nil); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // announcing twice is harmless
		if err := pg.announceWatch(ctx, "watched"); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"unwatched", "watched"} {
		if _, won, err := st.CompleteSession(ctx, id, &Completion{Success: false, Code: "SS_USER_CANCELLED", CompletedAt: now}, nil); err != nil || !won {
			t.Fatal(id, won, err)
		}
	}
	// Notifications arrive in commit order: the first is the watched one's.
	select {
	case m := <-msgs:
		if m != "session:watched" {
			t.Fatalf("notification %q, want session:watched only", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watched session's change was not announced")
	}
	// A session's watch goes with the session.
	if _, err := pg.pool.Exec(ctx, "DELETE FROM sessions WHERE request_id = 'watched'"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pg.pool.QueryRow(ctx, "SELECT count(*) FROM session_watches").Scan(&n); err != nil || n != 0 {
		t.Fatalf("session_watches rows after the delete: %d, %v", n, err)
	}
}
