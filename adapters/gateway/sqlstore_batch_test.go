package gateway

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestStoreConcurrentWrites drives many writers at once, so that SQLite's
// group commit puts several callers in one transaction: a caller whose
// write fails (a duplicate session) must not undo the others', every
// compare and set has exactly one winner, and the audit chain stays whole.
func TestStoreConcurrentWrites(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		seedTenant(t, s, "t1")
		const n = 48
		id := func(i int) string { return fmt.Sprintf("req-%08d", i/2) } // pairs share an id
		created := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				x := &Session{RequestID: id(i), TenantID: "t1", Kind: "hash", Action: "sign", Hashes: [][]byte{make([]byte, 32)},
					HashAlgo: "SHA256", ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}
				created[i] = s.CreateSession(ctx, x, &AuditEntry{TenantID: "t1", Actor: "test", Action: "session.create", RequestID: x.RequestID})
			})
		}
		wg.Wait()
		for i := 0; i < n; i += 2 {
			a, b := created[i], created[i+1]
			if (a == nil) == (b == nil) || !errors.Is(errors.Join(a, b), ErrExists) {
				t.Errorf("%s: creates %v and %v, want one success and one ErrExists", id(i), a, b)
			}
		}

		type result struct {
			stored *Completion
			won    bool
			err    error
		}
		results := make([]result, n)
		for i := range n {
			wg.Go(func() {
				c := &Completion{Success: true, Signatures: [][]byte{{byte(i)}}, CompletedAt: t0}
				c.ResultHash[0] = byte(i)
				st, won, err := s.CompleteSession(ctx, id(i), c, nil)
				results[i] = result{st, won, err}
			})
		}
		wg.Wait()
		for i := 0; i < n; i += 2 {
			a, b := results[i], results[i+1]
			if a.err != nil || b.err != nil {
				t.Fatalf("%s: %v %v", id(i), a.err, b.err)
			}
			if a.won == b.won || a.stored.ResultHash != b.stored.ResultHash {
				t.Errorf("%s: won %t and %t, stored %x and %x: want one winner both see", id(i), a.won, b.won, a.stored.ResultHash[:1], b.stored.ResultHash[:1])
			}
		}
		if _, won, err := s.CompleteSession(ctx, "req-unknown", &Completion{}, nil); !errors.Is(err, ErrNotFound) || won {
			t.Errorf("unknown session: %t %v", won, err)
		}
		if got, err := s.VerifyAudit(ctx, "t1"); err != nil || got != n/2 {
			t.Errorf("audit: %d entries, %v; want %d", got, err, n/2)
		}
	})
}

// TestStoreWriteAfterClose: a write after Close fails, it does not hang.
func TestStoreWriteAfterClose(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		seedTenant(t, s, "t1")
		s.Close()
		done := make(chan error, 1)
		go func() { done <- s.AppendAudit(context.Background(), &AuditEntry{TenantID: "t1", Action: "late"}) }()
		select {
		case err := <-done:
			if err == nil {
				t.Error("a write after Close succeeded")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a write after Close hangs")
		}
	})
}

// writtenBytes is what this process has passed to write system calls
// (/proc/self/io wchar): the WAL frames a commit writes dominate it.
func writtenBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "wchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// BenchmarkStoreHashSession is the store's part of a completed hash
// session, as the gateway makes it: the create with its audit entry, then
// the completion (a certificate and chain, ~3 KB) with its own, from many
// callers at once (the group commit batches them).
func BenchmarkStoreHashSession(b *testing.B) {
	benchStores(b, func(b *testing.B, st Store) {
		ctx := context.Background()
		if err := st.CreateTenant(ctx, &Tenant{ID: "t1", Name: "bench", CreatedAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
		state := bytes.Repeat([]byte("x"), 700)
		cert, chain := bytes.Repeat([]byte{0x30}, 900), [][]byte{bytes.Repeat([]byte{0x31}, 850), bytes.Repeat([]byte{0x32}, 800)}
		b.SetParallelism(16)
		b.ResetTimer()
		cpu, wrote := cpuTime(), writtenBytes()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				now := time.Now()
				x := &Session{RequestID: newRequestID(), TenantID: "t1", Kind: "hash", Action: "sign", Hashes: [][]byte{make([]byte, 32)},
					HashAlgo: "SHA256", Origin: "https://app.example", CallbackURL: "https://app.example/cb", State: state,
					ExpiresAt: now.Add(15 * time.Minute), CreatedAt: now, Status: StatusPending}
				if err := st.CreateSession(ctx, x, &AuditEntry{TenantID: "t1", At: now, Actor: "key:k1", Action: "session.create",
					Origin: x.Origin, RequestID: x.RequestID, DocHash: strings.Repeat("ab", 32), Detail: "hash, 1 hash(es)"}); err != nil {
					b.Fatal(err)
				}
				c := &Completion{Success: true, Signatures: [][]byte{make([]byte, 256)}, SignAlgo: "RSA", Certificate: cert, Chain: chain, CompletedAt: now}
				if _, won, err := st.CompleteSession(ctx, x.RequestID, c, &AuditEntry{TenantID: "t1", At: now, Actor: "callback",
					Action: "session.result", Origin: x.Origin, RequestID: x.RequestID, CertSerial: "0a1b2c3d", Outcome: "signed"}); err != nil || !won {
					b.Fatal(won, err)
				}
			}
		})
		reportCPU(b, cpu, int64(b.N))
		b.ReportMetric(float64(writtenBytes()-wrote)/float64(b.N), "written-B/op")
	})
}

// TestSQLiteBatchFailedOps runs one SQLite batch in which some callers
// append audit entries and then fail: theirs must leave neither entries
// nor a head behind (a tenant's first entry included), the others' must
// chain as if the failed ones never ran, and every fn starts over when
// the batch is run again.
func TestSQLiteBatchFailedOps(t *testing.T) {
	s := newSQLiteStore(t).(*sqlStore)
	ctx := context.Background()
	seedTenant(t, s, "t1")
	if err := s.AppendAudit(ctx, &AuditEntry{TenantID: "t1", At: t0, Action: "before"}); err != nil {
		t.Fatal(err)
	}
	errBoom := errors.New("boom")
	type spec struct {
		tenant, action string
		fail           bool
	}
	specs := []spec{
		{"t1", "a", false},
		{"t1", "b", true},
		{"t2", "first of t2", true},
		{"t1", "c", false},
		{"t3", "first of t3", false},
		{"t1", "d", true},
	}
	entries := make([]*AuditEntry, len(specs))
	ops := make([]*writeOp, len(specs))
	for i, sp := range specs {
		entries[i] = &AuditEntry{TenantID: sp.tenant, At: t0, Action: sp.action}
		ops[i] = &writeOp{done: make(chan error, 1), fn: func(ctx context.Context, tx *sql.Tx) error {
			if err := s.appendAuditTx(ctx, tx, entries[i]); err != nil {
				return err
			}
			if sp.fail {
				return errBoom
			}
			return nil
		}}
	}
	s.commitBatch(ops)
	for i, sp := range specs {
		if err := <-ops[i].done; (err != nil) != sp.fail {
			t.Errorf("op %d (%s): %v", i, sp.action, err)
		}
	}
	if n, err := s.VerifyAudit(ctx, "t1"); err != nil || n != 3 {
		t.Errorf("t1: %d entries, %v; want 3", n, err)
	}
	logs, err := s.AuditLogs(ctx, AuditFilter{TenantID: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range logs {
		got = append(got, fmt.Sprintf("%d %s", e.Seq, e.Action))
	}
	if diff := cmp.Diff([]string{"1 before", "2 a", "3 c"}, got); diff != "" {
		t.Errorf("t1 log (-want +got):\n%s", diff)
	}
	if entries[3].Seq != 3 || !bytes.Equal(entries[3].PrevHash, entries[0].Hash) {
		t.Errorf("entry c: seq %d, prev %x; want 3 after a (%x)", entries[3].Seq, entries[3].PrevHash, entries[0].Hash)
	}
	if n, err := s.VerifyAudit(ctx, "t2"); err != nil || n != 0 {
		t.Errorf("t2: %d entries, %v; want none and no head", n, err)
	}
	if n, err := s.VerifyAudit(ctx, "t3"); err != nil || n != 1 {
		t.Errorf("t3: %d entries, %v; want 1", n, err)
	}
	// The heads live in the database between batches.
	if err := s.AppendAudit(ctx, &AuditEntry{TenantID: "t1", At: t0, Action: "after"}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.VerifyAudit(ctx, "t1"); err != nil || n != 4 {
		t.Errorf("t1 after: %d entries, %v; want 4", n, err)
	}
}

// TestSQLiteWALStartsOver: once a checkpoint has copied the whole WAL,
// the next commit writes the WAL from its beginning, so a WAL under steady
// writes stops growing.
func TestSQLiteWALStartsOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.db")
	ctx := context.Background()
	st, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := st.(*sqlStore)
	seedTenant(t, s, "t1")
	appendN := func(n int) {
		t.Helper()
		for i := range n {
			if err := s.AppendAudit(ctx, &AuditEntry{TenantID: "t1", At: t0, Action: "x", Detail: strconv.Itoa(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	walSize := func() int64 {
		t.Helper()
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	appendN(200)
	// A reader on an old snapshot keeps the background checkpoint from
	// copying what is committed meanwhile, as commits going on do.
	rows, err := s.r.QueryContext(ctx, "SELECT seq FROM audit_log")
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	appendN(50)
	checkpointWAL(s.r)
	rows.Close()
	s.finishCheckpoint()
	before := walSize()
	appendN(20)
	if after := walSize(); after > before {
		t.Errorf("WAL grew from %d to %d bytes after a full checkpoint", before, after)
	}
	if n, err := s.VerifyAudit(ctx, "t1"); err != nil || n != 270 {
		t.Errorf("audit: %d entries, %v", n, err)
	}
}

// TestSQLitePendingIndex: counting a tenant's pending sessions reads the
// index of pending sessions, not the table.
func TestSQLitePendingIndex(t *testing.T) {
	s := newSQLiteStore(t).(*sqlStore)
	rows, err := s.r.Query("EXPLAIN QUERY PLAN SELECT COUNT(*) FROM sessions WHERE tenant_id = ? AND status = 'pending' AND expires_at > ?", "t1", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "sessions_pending") {
		t.Errorf("plan %q does not use sessions_pending", p)
	}
}
