package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
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
