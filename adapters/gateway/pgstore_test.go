package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sqlBaseT is the database/sql store under s.
func sqlBaseT(t testing.TB, s Store) *sqlStore {
	t.Helper()
	b, ok := sqlBaseOf(s)
	if !ok {
		t.Fatalf("%T is not a SQL store", s)
	}
	return b
}

// pgServerCPU is the CPU time used so far by the PostgreSQL server that s
// talks to (its processes, live and ended), or false if they cannot be
// read from /proc (another machine, another user).
func pgServerCPU(t testing.TB, s Store) (time.Duration, bool) {
	t.Helper()
	var backend int
	if err := sqlBaseT(t, s).r.QueryRowContext(context.Background(), "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		t.Fatal(err)
	}
	stat := func(pid int) []string {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return nil
		}
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			return nil
		}
		return strings.Fields(string(b[i+1:])) // [0] is the state, [1] the parent
	}
	num := func(f []string, i int) int64 { n, _ := strconv.ParseInt(f[i], 10, 64); return n }
	f := stat(backend)
	if f == nil {
		return 0, false
	}
	master := int(num(f, 1))
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	var ticks int64
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f := stat(pid)
		if f == nil || (pid != master && int(num(f, 1)) != master) {
			continue
		}
		ticks += num(f, 11) + num(f, 12) // utime, stime
		if pid == master {
			ticks += num(f, 13) + num(f, 14) // of its ended children
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond, true // USER_HZ is 100
}

// BenchmarkPGStoreSession is the database's share of a hash session on
// PostgreSQL: create with its audit entry, read by id (the callback), then
// complete with its audit entry (a ~3 KB completion, as an RSA-2048
// result with its certificate and chain), from 16 concurrent callers.
// pg-cpu-µs/op is the server's CPU when it runs on this machine.
func BenchmarkPGStoreSession(b *testing.B) { benchStoreOn(b, newPostgresStore(b)) }

func benchStoreOn(b *testing.B, s Store) {
	ctx := context.Background()
	if err := s.CreateTenant(ctx, &Tenant{ID: "t1", Name: "bench", CreatedAt: t0}); err != nil {
		b.Fatal(err)
	}
	random := func(n int) []byte { p := make([]byte, n); rand.Read(p); return p }
	state, cert, chain, sig := random(400), random(970), random(620), random(256)
	var seq atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	cpu := cpuTime()
	pg, pgOK := pgServerCPU(b, s)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatInt(seq.Add(1), 36)
			now := time.Now()
			x := &Session{RequestID: id, TenantID: "t1", Kind: "hash", Action: "sign", Hashes: [][]byte{random(32)}, HashAlgo: "SHA256",
				Origin: "http://127.0.0.1", State: state, ExpiresAt: now.Add(15 * time.Minute), CreatedAt: now}
			if err := s.CreateSession(ctx, x, &AuditEntry{TenantID: "t1", At: now, Actor: "k1", Action: "session.create", RequestID: id,
				DocHash: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", Detail: "hash, 1 hash(es)"}); err != nil {
				b.Fatal(err)
			}
			if _, err := s.SessionByID(ctx, id); err != nil {
				b.Fatal(err)
			}
			c := &Completion{Success: true, Signatures: [][]byte{sig}, SignAlgo: "RSA", Certificate: cert, Chain: [][]byte{chain}, CompletedAt: time.Now()}
			if _, won, err := s.CompleteSession(ctx, id, c, &AuditEntry{TenantID: "t1", At: c.CompletedAt, Actor: "callback", Action: "session.result",
				RequestID: id, CertSerial: "70b2aa3e75bc765117bb234467eedd6b", Outcome: "accepted", Detail: `signed: 1 signature(s) by "bench"`}); err != nil || !won {
				b.Fatal(won, err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
	reportCPU(b, cpu, int64(b.N))
	if pgNow, ok := pgServerCPU(b, s); ok && pgOK {
		b.ReportMetric(float64((pgNow-pg).Microseconds())/float64(b.N), "pg-cpu-µs/op")
	}
}

func TestSplitBatch(t *testing.T) {
	create := func(id string) *pgOp { return &pgOp{kind: pgCreate, sess: &Session{RequestID: id}} }
	complete := func(id string) *pgOp { return &pgOp{kind: pgComplete, reqID: id} }
	appendOp := func() *pgOp { return &pgOp{kind: pgAppend, audit: &AuditEntry{TenantID: "t1"}} }
	keys := func(ops []*pgOp) []string {
		var out []string
		for _, op := range ops {
			out = append(out, fmt.Sprintf("%d:%s", op.kind, op.key()))
		}
		return out
	}
	for _, tc := range []struct {
		name         string
		waiting      []*pgOp
		batch, later []string
	}{
		{"distinct", []*pgOp{create("a"), complete("b"), appendOp()}, []string{"0:a", "1:b", "2:"}, nil},
		{"create then complete", []*pgOp{create("a"), complete("a"), appendOp(), appendOp()}, []string{"0:a", "2:", "2:"}, []string{"1:a"}},
		{"completions", []*pgOp{complete("a"), complete("b"), complete("a"), complete("a")}, []string{"1:a", "1:b"}, []string{"1:a", "1:a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			batch, later := splitBatch(tc.waiting)
			if diff := cmp.Diff(tc.batch, keys(batch)); diff != "" {
				t.Errorf("batch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.later, keys(later)); diff != "" {
				t.Errorf("later (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPGStoreBatch commits mixed writes in one transaction of the
// PostgreSQL writer: each caller gets its own outcome, only ops that took
// effect are audited, a value PostgreSQL refuses fails its op alone, and
// the chains stay whole (a tenant's first entry included).
func TestPGStoreBatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  bool // add an op whose value PostgreSQL refuses
	}{
		{"one transaction", false},
		{"one bad value", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newPostgresStore(t).(*pgStore)
			ctx := context.Background()
			seedTenant(t, s, "t1")
			seedTenant(t, s, "t2")
			sess := func(id string) *Session {
				return &Session{RequestID: id, TenantID: "t1", Kind: "hash", Action: "sign", Hashes: [][]byte{make([]byte, 32)}, HashAlgo: "SHA256",
					ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}
			}
			entry := func(tenant, action, id string) *AuditEntry {
				return &AuditEntry{TenantID: tenant, At: t0, Actor: "test", Action: action, RequestID: id}
			}
			first := &Completion{Success: true, Signatures: [][]byte{{1}}, CompletedAt: t0}
			for _, id := range []string{"pending", "signed"} {
				if err := s.CreateSession(ctx, sess(id), entry("t1", "session.create", id)); err != nil {
					t.Fatal(err)
				}
			}
			if _, won, err := s.CompleteSession(ctx, "signed", first, entry("t1", "session.result", "signed")); err != nil || !won {
				t.Fatal(won, err)
			}
			second := &Completion{Success: false, Code: "SS_CANCELLED", CompletedAt: t0}
			type want struct {
				err     error
				won     bool
				stored  *Completion
				audited bool
			}
			ops := []*pgOp{
				{kind: pgCreate, sess: sess("new"), hashes: []byte("[]"), audit: entry("t1", "session.create", "new")},
				{kind: pgCreate, sess: sess("pending"), hashes: []byte("[]"), audit: entry("t1", "session.create", "pending")},
				{kind: pgComplete, reqID: "signed", status: StatusFailed, comp: encodeCompletion(second), audit: entry("t1", "session.result", "signed")},
				{kind: pgComplete, reqID: "unknown", status: StatusFailed, comp: encodeCompletion(second), audit: entry("t1", "session.result", "unknown")},
				{kind: pgAppend, audit: entry("t2", "first", "")},
				{kind: pgComplete, reqID: "pending", status: StatusFailed, comp: encodeCompletion(second), audit: entry("t1", "session.result", "pending")},
				{kind: pgAppend, audit: entry("t1", "apikey.create", "")},
			}
			wants := []want{
				{audited: true},
				{err: ErrExists},
				{stored: first},
				{err: ErrNotFound},
				{audited: true},
				{won: true, audited: true},
				{audited: true},
			}
			if tc.bad {
				bad := sess("bad")
				bad.Doc = "nul \x00 byte"
				ops = append(ops[:2], append([]*pgOp{{kind: pgCreate, sess: bad, hashes: []byte("[]"), audit: entry("t1", "session.create", "bad")}}, ops[2:]...)...)
				wants = append(wants[:2], append([]want{{err: errors.New("any")}}, wants[2:]...)...)
			}
			w := &pgWriter{pool: s.pool}
			defer w.close()
			for _, op := range ops {
				op.done = make(chan struct{})
			}
			w.run(ops)
			for i, op := range ops {
				<-op.done
				wt := wants[i]
				switch {
				case wt.err == nil && op.err != nil, wt.err != nil && op.err == nil:
					t.Errorf("op %d: error %v, want %v", i, op.err, wt.err)
				case wt.err != nil && wt.err.Error() != "any" && !errors.Is(op.err, wt.err):
					t.Errorf("op %d: error %v, want %v", i, op.err, wt.err)
				}
				if op.won != wt.won {
					t.Errorf("op %d: won %t", i, op.won)
				}
				if wt.stored != nil {
					got, err := decodeCompletion(op.stored)
					if err != nil || !cmp.Equal(got, wt.stored) {
						t.Errorf("op %d: stored %+v, %v; want %+v", i, got, err, wt.stored)
					}
				}
				if audited := op.audit.Seq > 0 && len(op.audit.Hash) == 32; audited != wt.audited {
					t.Errorf("op %d: audit entry %+v, audited %t", i, op.audit, wt.audited)
				}
			}
			// t1: 3 entries before, then new, pending's result and the
			// appended one.
			for tenant, n := range map[string]int{"t1": 6, "t2": 1} {
				if got, err := s.VerifyAudit(ctx, tenant); err != nil || got != n {
					t.Errorf("VerifyAudit(%s) = %d, %v; want %d", tenant, got, err, n)
				}
			}
			if x, err := s.SessionByID(ctx, "pending"); err != nil || x.Status != StatusFailed || !cmp.Equal(x.Completion, second) {
				t.Errorf("completed session: %+v, %v", x, err)
			}
			if _, err := s.SessionByID(ctx, "bad"); !errors.Is(err, ErrNotFound) {
				t.Errorf("session with a refused value: %v", err)
			}
		})
	}
}

// TestPGStoreTwoProcesses runs two stores (two gateway processes) on one
// database: each writes sessions, completions and entries of the same
// tenants at once. Every session has one winning completion that all
// contenders see, and every chain verifies with one entry per write that
// took effect.
func TestPGStoreTwoProcesses(t *testing.T) {
	dsn := postgresSchemaDSN(t)
	ctx := context.Background()
	var stores [2]Store
	for i := range stores {
		s, err := OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	seedTenant(t, stores[0], "t1")
	seedTenant(t, stores[0], "t2")
	const sessions, contenders = 24, 4
	tenant := func(i int) string { return []string{"t1", "t2"}[i%2] }
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Go(func() {
			id := fmt.Sprintf("req-%03d", i)
			x := &Session{RequestID: id, TenantID: tenant(i), Kind: "hash", Action: "sign", Hashes: [][]byte{make([]byte, 32)}, HashAlgo: "SHA256",
				ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}
			if err := stores[i%2].CreateSession(ctx, x, &AuditEntry{TenantID: x.TenantID, Actor: "test", Action: "session.create", RequestID: id}); err != nil {
				t.Error(err)
			}
			if err := stores[(i+1)%2].AppendAudit(ctx, &AuditEntry{TenantID: tenant(i + 1), Actor: "test", Action: "other"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	type result struct {
		stored *Completion
		won    bool
	}
	results := make([][contenders]result, sessions)
	for i := range sessions {
		for j := range contenders {
			wg.Go(func() {
				id := fmt.Sprintf("req-%03d", i)
				c := &Completion{Success: j%2 == 0, Signatures: [][]byte{{byte(j)}}, CompletedAt: t0}
				c.ResultHash[0] = byte(j)
				stored, won, err := stores[j%2].CompleteSession(ctx, id, c,
					&AuditEntry{TenantID: tenant(i), Actor: "callback", Action: "session.result", RequestID: id, Detail: fmt.Sprint(j)})
				if err != nil {
					t.Error(err)
					return
				}
				results[i][j] = result{stored, won}
			})
		}
	}
	wg.Wait()
	// Exactly one success wins per session; a failure may win before it
	// (PROTOCOL 1.1 §3: a failure does not complete), never after.
	entries := map[string]int{}
	for i, rs := range results {
		wins, failWins := 0, 0
		var final *Completion
		for _, r := range rs {
			switch {
			case r.won && r.stored.Success:
				wins++
				final = r.stored
			case r.won:
				failWins++
			}
		}
		if wins != 1 || failWins > 1 {
			t.Errorf("session %d: %d success and %d failure winners", i, wins, failWins)
			continue
		}
		entries[tenant(i)] += wins + failWins
		got, err := stores[0].SessionByID(ctx, fmt.Sprintf("req-%03d", i))
		if err != nil || got.Completion == nil || got.Completion.ResultHash != final.ResultHash {
			t.Errorf("session %d: stored %+v, %v; want the winning success", i, got, err)
		}
	}
	// Per tenant: its sessions' creations and results, and the other
	// tenant's sessions' "other" entries.
	for _, tn := range []string{"t1", "t2"} {
		if n, err := stores[1].VerifyAudit(ctx, tn); err != nil || n != sessions+entries[tn] {
			t.Errorf("VerifyAudit(%s) = %d, %v; want %d", tn, n, err, sessions+entries[tn])
		}
	}
}

// TestPGWriterPlansFollowGrowth: the writer's completion statement keeps
// finding sessions through the primary key as the table grows from empty.
// A plan cached while the table was small scanned the whole table on
// every batch.
func TestPGWriterPlansFollowGrowth(t *testing.T) {
	s := newPostgresStore(t).(*pgStore)
	ctx := context.Background()
	w := &pgWriter{pool: s.pool}
	defer w.close()
	run := func(ops []*pgOp) {
		t.Helper()
		for _, op := range ops {
			op.done = make(chan struct{})
		}
		w.run(ops)
		for _, op := range ops {
			if op.err != nil {
				t.Fatal(op.err)
			}
		}
	}
	const batches, size = 200, 10
	for i := range batches {
		var creates, completes []*pgOp
		for j := range size {
			id := fmt.Sprintf("req-%03d-%02d", i, j)
			creates = append(creates, &pgOp{kind: pgCreate, hashes: []byte("[]"),
				sess: &Session{RequestID: id, TenantID: "t1", Kind: "hash", Action: "sign", HashAlgo: "SHA256", ExpiresAt: t0, CreatedAt: t0, Status: StatusPending}})
			completes = append(completes, &pgOp{kind: pgComplete, reqID: id, status: StatusSigned, comp: []byte("{}")})
		}
		run(creates)
		run(completes)
	}
	// The writer's statistics reach the shared ones once it is idle.
	if _, err := w.conn.Exec(ctx, "SELECT pg_stat_force_next_flush()"); err != nil {
		t.Fatal(err)
	}
	var read int64
	if err := w.conn.QueryRow(ctx, "SELECT coalesce(seq_tup_read, 0) FROM pg_stat_user_tables WHERE relid = 'sessions'::regclass").Scan(&read); err != nil {
		t.Fatal(err)
	}
	// A scan per batch reads about batches²·size/2 rows; planned on each
	// call, the statement stops scanning once the table is not small.
	if read > batches*batches*size/8 {
		t.Errorf("completions read %d sessions by scanning the table (%d sessions written)", read, batches*size)
	}
}

// TestPGStoreIdempotencyOwnerGone: with PostgreSQL a reservation stays
// another live store's while it lives (only age would end it), and is
// taken over at once when the store that made it is gone (its liveness
// lock released with its connection), as after a SIGKILL.
func TestPGStoreIdempotencyOwnerGone(t *testing.T) {
	dsn := postgresSchemaDSN(t)
	ctx := context.Background()
	open := func() Store {
		s, err := OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	seedTenant(t, a, "t1")
	h := sha256.Sum256([]byte("body"))
	now := time.Now()
	if r, err := a.ReserveIdempotency(ctx, "t1", "k", h, now); err != nil || r != nil {
		t.Fatalf("first reservation: %v %v", r, err)
	}
	if r, err := b.ReserveIdempotency(ctx, "t1", "k", h, now.Add(time.Second)); err != nil || r == nil || r.Done {
		t.Fatalf("live owner's reservation taken over: %+v %v", r, err)
	}
	a.Close()
	var r *IdempotencyRecord
	var err error
	for range 100 { // the server ends a's session as its connection closes
		if r, err = b.ReserveIdempotency(ctx, "t1", "k", h, now.Add(2*time.Second)); err != nil || r == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || r != nil {
		t.Fatalf("reservation of a closed store not taken over: %+v %v", r, err)
	}
}
