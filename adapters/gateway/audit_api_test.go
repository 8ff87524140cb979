package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseAuditQuery(t *testing.T) {
	parse := func(raw string) (AuditQuery, error) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatal(err)
		}
		return parseAuditQuery("t1", v.Get)
	}
	q, err := parse("")
	if err != nil || q != (AuditQuery{TenantID: "t1", Limit: DefaultAuditPage}) {
		t.Errorf("empty query = %+v, %v", q, err)
	}
	q, err = parse("limit=1000&from=2026-06-22T10:30:00Z&to=2026-06-22T18:00:00.5%2B05:30&requestId=P8GBiVHHdPxctqfNIG6VtRsZtSfYg&type=certificate&next=" + auditCursor(42))
	want := AuditQuery{TenantID: "t1", Limit: 1000, From: time.Date(2026, 6, 22, 10, 30, 0, 0, time.UTC),
		To: time.Date(2026, 6, 22, 12, 30, 0, 5e8, time.UTC), RequestID: "P8GBiVHHdPxctqfNIG6VtRsZtSfYg", Action: "certificate", BeforeSeq: 42}
	if err != nil || !q.From.Equal(want.From) || !q.To.Equal(want.To) {
		t.Fatalf("full query = %+v, %v", q, err)
	}
	q.From, q.To, want.From, want.To = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if q != want {
		t.Errorf("full query = %+v, want %+v", q, want)
	}
	for _, bad := range []string{"limit=0", "limit=1001", "limit=ten", "limit=-5", "from=yesterday", "to=2026-06-22",
		"from=2026-06-22T11:00:00Z&to=2026-06-22T10:00:00Z", "type=Certificate", "type=a%20b", "type=" + strings.Repeat("a", 65),
		"requestId=" + strings.Repeat("r", 65), "next=42", "next=" + auditCursor(42) + "!", "next=djE6MA", "next=djI6NDI",
		"to=0000-01-01T00:00:00Z", "from=1969-12-31T23:59:59Z", "to=2262-04-12T00:00:00Z"} {
		if _, err := parse(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		} else if ae, ok := err.(*apiError); !ok || ae.Status != 400 {
			t.Errorf("%s: %v, want a 400", bad, err)
		}
	}
}

// seedAudit appends n entries to tenant's log, one second apart from t0:
// actions cycle through three, every third entry names a request.
func seedAudit(t *testing.T, s Store, tenant string, n int) []*AuditEntry {
	t.Helper()
	actions := []string{"session.create", "session.result", "certificate.issue"}
	var out []*AuditEntry
	for i := 0; i < n; i++ {
		e := &AuditEntry{TenantID: tenant, At: t0.Add(time.Duration(i) * time.Second), Actor: "key:k1", Action: actions[i%3],
			Detail: strconv.Itoa(i)}
		if i%3 == 0 {
			e.RequestID = fmt.Sprintf("req-%d", i/3%4)
		}
		if err := s.AppendAudit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func seqs(es []*AuditEntry) []int64 {
	out := []int64{}
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

// TestStoreAuditPage: pages newest first on both stores, each filter and
// the cursor, within one tenant.
func TestStoreAuditPage(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		seedTenant(t, s, "t1")
		seedTenant(t, s, "t2")
		all := seedAudit(t, s, "t1", 30)
		seedAudit(t, s, "t2", 5)

		// want is the entries of t1 matching keep, newest first.
		want := func(keep func(i int, e *AuditEntry) bool) []int64 {
			out := []int64{}
			for i := len(all) - 1; i >= 0; i-- {
				if keep(i, all[i]) {
					out = append(out, all[i].Seq)
				}
			}
			return out
		}
		// pages reads every page of q and checks the page sizes.
		pages := func(q AuditQuery) []int64 {
			t.Helper()
			got := []int64{}
			for n := 0; ; n++ {
				es, more, err := s.AuditPage(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(es) > q.Limit || (more && len(es) != q.Limit) {
					t.Fatalf("page %d: %d entries, more=%v, limit %d", n, len(es), more, q.Limit)
				}
				for _, e := range es {
					if e.TenantID != q.TenantID {
						t.Fatalf("entry of tenant %s", e.TenantID)
					}
				}
				got = append(got, seqs(es)...)
				if !more {
					return got
				}
				q.BeforeSeq = es[len(es)-1].Seq
			}
		}
		for _, tc := range []struct {
			name string
			q    AuditQuery
			keep func(i int, e *AuditEntry) bool
		}{
			{"all", AuditQuery{}, func(int, *AuditEntry) bool { return true }},
			{"action", AuditQuery{Action: "session.result"}, func(_ int, e *AuditEntry) bool { return e.Action == "session.result" }},
			{"family", AuditQuery{Action: "session"}, func(_ int, e *AuditEntry) bool { return strings.HasPrefix(e.Action, "session.") }},
			{"no such family", AuditQuery{Action: "sess"}, func(int, *AuditEntry) bool { return false }},
			{"request", AuditQuery{RequestID: "req-1"}, func(_ int, e *AuditEntry) bool { return e.RequestID == "req-1" }},
			{"window", AuditQuery{From: t0.Add(5 * time.Second), To: t0.Add(17 * time.Second)}, func(i int, _ *AuditEntry) bool { return i >= 5 && i <= 17 }},
			{"window and family", AuditQuery{From: t0.Add(5 * time.Second), To: t0.Add(17 * time.Second), Action: "certificate"},
				func(i int, e *AuditEntry) bool { return i >= 5 && i <= 17 && e.Action == "certificate.issue" }},
		} {
			for _, limit := range []int{1, 4, 10, 1000} {
				q := tc.q
				q.TenantID, q.Limit = "t1", limit
				if diff := cmp.Diff(want(tc.keep), pages(q)); diff != "" {
					t.Errorf("%s, limit %d (-want +got):\n%s", tc.name, limit, diff)
				}
			}
		}
		// Entries come back whole, as appended.
		es, more, err := s.AuditPage(ctx, AuditQuery{TenantID: "t1", Limit: 1})
		if err != nil || !more || len(es) != 1 {
			t.Fatalf("newest = %v, %v, %v", es, more, err)
		}
		if diff := cmp.Diff(all[len(all)-1], es[0]); diff != "" {
			t.Errorf("newest entry (-appended +read):\n%s", diff)
		}
		if es, more, err := s.AuditPage(ctx, AuditQuery{TenantID: "t3", Limit: 10}); err != nil || more || len(es) != 0 {
			t.Errorf("tenant without entries: %v, %v, %v", es, more, err)
		}
	})
}

// TestAuditLogsAPI: GET /v1/audit/logs pages newest first over HTTP.
func TestAuditLogsAPI(t *testing.T) {
	g := newTestGW(t, nil)
	ctx := context.Background()
	first, _, err := g.srv.store.AuditPage(ctx, AuditQuery{TenantID: DevTenantID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	before := len(first)
	seedAudit(t, g.srv.store, DevTenantID, 250)
	total := before + 250

	type page struct {
		Success bool          `json:"success"`
		Entries []*AuditEntry `json:"entries"`
		Next    string        `json:"next"`
	}
	get := func(query string) page {
		t.Helper()
		res, raw := g.raw("GET", "/v1/audit/logs"+query, g.key, nil)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s = %d %s", query, res.StatusCode, raw)
		}
		var p page
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatalf("GET %s: %v", query, err)
		}
		return p
	}
	// Default page: the newest 100, then a cursor.
	p := get("")
	if len(p.Entries) != DefaultAuditPage || p.Next == "" || p.Entries[0].Seq != int64(total) || p.Entries[99].Seq != int64(total-99) {
		t.Fatalf("first page: %d entries, seq %d…, next %q", len(p.Entries), p.Entries[0].Seq, p.Next)
	}
	// Following next reads everything once, newest first.
	var got []int64
	for q := "?limit=64"; ; {
		p := get(q)
		got = append(got, seqs(p.Entries)...)
		if p.Next == "" {
			break
		}
		q = "?limit=64&next=" + url.QueryEscape(p.Next)
	}
	want := []int64{}
	for i := total; i >= 1; i-- {
		want = append(want, int64(i))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("all pages (-want +got):\n%s", diff)
	}
	if p := get("?limit=1000"); len(p.Entries) != total || p.Next != "" {
		t.Errorf("limit=1000: %d entries, next %q", len(p.Entries), p.Next)
	}
	// Filters with the cursor.
	p = get("?type=certificate&limit=10")
	for _, e := range p.Entries {
		if e.Action != "certificate.issue" {
			t.Errorf("type=certificate gave %s", e.Action)
		}
	}
	p2 := get("?type=certificate&limit=10&next=" + p.Next)
	if len(p2.Entries) != 10 || p2.Entries[0].Seq >= p.Entries[9].Seq {
		t.Errorf("second filtered page starts at %d after %d", p2.Entries[0].Seq, p.Entries[9].Seq)
	}
	if p := get("?requestId=req-2"); len(p.Entries) == 0 || p.Entries[0].RequestID != "req-2" {
		t.Errorf("requestId filter: %v", p.Entries)
	}
	from := t0.Add(10 * time.Second).Format(time.RFC3339)
	to := t0.Add(19 * time.Second).Format(time.RFC3339Nano)
	// Both ends inclusive: "from" without t0's fraction is before entry
	// 10, "to" is entry 19's time itself.
	if p := get("?from=" + url.QueryEscape(from) + "&to=" + url.QueryEscape(to)); len(p.Entries) != 10 {
		t.Errorf("window: %d entries, want 10", len(p.Entries))
	}
	for _, bad := range []string{"?limit=1001", "?limit=0", "?next=bogus", "?from=yesterday", "?type=Session"} {
		g.wantErr(400, CodeBadRequest, "GET", "/v1/audit/logs"+bad, g.key, nil)
	}
	// Another tenant sees none of it.
	other := otherTenantKey(t, g)
	if _, out := g.call("GET", "/v1/audit/logs", other, nil); len(out["entries"].([]any)) != 0 {
		t.Errorf("other tenant sees %d entries", len(out["entries"].([]any)))
	}
}

// FuzzAuditQuery: any query string is refused or gives a query within the
// limits, and an accepted cursor is one auditCursor makes.
func FuzzAuditQuery(f *testing.F) {
	f.Add("limit=10&type=certificate&next=" + auditCursor(42))
	f.Add("from=2026-06-22T10:30:00Z&to=2026-06-22T10:30:00.999999999%2B05:30&requestId=abc")
	f.Add("next=djE6LTE&limit=1e3")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseAuditQuery("t1", v.Get)
		if err != nil {
			return
		}
		if q.Limit < 1 || q.Limit > MaxAuditPage || q.BeforeSeq < 0 || (!q.To.IsZero() && q.To.Before(q.From)) {
			t.Fatalf("accepted %q as %+v", raw, q)
		}
		if q.BeforeSeq > 0 {
			if seq, ok := parseAuditCursor(auditCursor(q.BeforeSeq)); !ok || seq != q.BeforeSeq {
				t.Fatalf("cursor %d does not round-trip", q.BeforeSeq)
			}
		}
	})
}
