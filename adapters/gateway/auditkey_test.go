package gateway

import (
	"context"
	"errors"
	"testing"
	"time"
)

// recomputeLegacy rewrites a tenant's chain as someone with database
// access but without the master key would: renumbered after a deletion,
// every link recomputed with the (public) formula, the head moved.
func recomputeLegacy(t *testing.T, ss *sqlStore, tenant string) {
	t.Helper()
	ctx := context.Background()
	es, err := ss.AuditLogs(ctx, AuditFilter{TenantID: tenant, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	prev := make([]byte, 32)
	for i, e := range es {
		old := e.Seq
		e.Seq = int64(i + 1)
		h := auditHash(e, prev)
		if _, err := ss.exec(ctx, "UPDATE audit_log SET seq = ?, prev_hash = ?, hash = ? WHERE tenant_id = ? AND seq = ?", e.Seq, prev, h, tenant, old); err != nil {
			t.Fatal(err)
		}
		prev = h
	}
	if _, err := ss.exec(ctx, "UPDATE audit_heads SET seq = ?, hash = ? WHERE tenant_id = ?", len(es), prev, tenant); err != nil {
		t.Fatal(err)
	}
}

func TestAuditKeyedChain(t *testing.T) {
	master := []byte("0123456789abcdef0123456789abcdef")
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		ss, _ := sqlBaseOf(s)
		// Entries from before migration 0008: an unkeyed chain.
		for i := range 4 {
			if err := s.AppendAudit(ctx, &AuditEntry{TenantID: "t1", At: t0.Add(time.Duration(i) * time.Second), Actor: "k1", Action: "hash.sign.server"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := KeyAuditChain(ctx, s, master, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		es, _ := s.AuditLogs(ctx, AuditFilter{TenantID: "t1"})
		if len(es) != 5 || es[4].Action != "audit.rekey" || es[4].Outcome != "rekeyed" {
			t.Fatalf("after re-keying: %d entries, last %+v", len(es), es[len(es)-1])
		}
		for i := range 3 {
			if err := s.AppendAudit(ctx, &AuditEntry{TenantID: "t1", At: t0.Add(time.Duration(10+i) * time.Second), Actor: "k1", Action: "pdf.sign.server"}); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := s.VerifyAudit(ctx, "t1"); err != nil || n != 8 {
			t.Fatalf("VerifyAudit = %d, %v", n, err)
		}
		// Keying again with the same key is a no-op; another key is refused.
		if err := KeyAuditChain(ctx, s, master, t0); err != nil {
			t.Fatal(err)
		}
		if err := KeyAuditChain(ctx, s, []byte("another master key, 32 bytes...."), t0); !errors.Is(err, ErrAuditKey) {
			t.Fatalf("wrong master key: %v", err)
		}
		cp, err := NewAuditCheckpoint(ctx, s, "t1", t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := VerifyAuditCheckpoint(ctx, s, cp, master); err != nil || n != 8 {
			t.Fatalf("checkpoint: %d, %v", n, err)
		}
		bad := *cp
		bad.Seq = 7
		if _, err := VerifyAuditCheckpoint(ctx, s, &bad, master); !errors.Is(err, ErrAuditBroken) {
			t.Errorf("forged checkpoint: %v", err)
		}
		// Removing the last entry and moving the head back leaves valid
		// links: only the checkpoint shows it.
		if _, err := ss.exec(ctx, "DELETE FROM audit_log WHERE tenant_id = 't1' AND seq = 8"); err != nil {
			t.Fatal(err)
		}
		var h7 []byte
		if err := ss.row(ctx, "SELECT hash FROM audit_log WHERE tenant_id = 't1' AND seq = 7").Scan(&h7); err != nil {
			t.Fatal(err)
		}
		if _, err := ss.exec(ctx, "UPDATE audit_heads SET seq = 7, hash = ? WHERE tenant_id = 't1'", h7); err != nil {
			t.Fatal(err)
		}
		if n, err := s.VerifyAudit(ctx, "t1"); err != nil || n != 7 {
			t.Fatalf("cut chain without checkpoint: %d, %v", n, err)
		}
		if _, err := VerifyAuditCheckpoint(ctx, s, cp, master); !errors.Is(err, ErrAuditBroken) {
			t.Errorf("cut chain against checkpoint: %v", err)
		}
		// Removing an entry in the middle and recomputing the chain fails
		// without the key.
		if _, err := ss.exec(ctx, "DELETE FROM audit_log WHERE tenant_id = 't1' AND seq = 3"); err != nil {
			t.Fatal(err)
		}
		recomputeLegacy(t, ss, "t1")
		if _, err := s.VerifyAudit(ctx, "t1"); !errors.Is(err, ErrAuditBroken) {
			t.Errorf("recomputed chain: %v", err)
		}
	})
}

// TestAuditKeyRequired: a store opened without the key on a keyed
// database neither appends nor verifies.
func TestAuditKeyRequired(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	master := []byte("0123456789abcdef0123456789abcdef")
	st, err := OpenStore(ctx, Config{DataDir: dir, MasterKey: master})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AppendAudit(ctx, &AuditEntry{TenantID: "t", At: t0, Action: "x"}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = OpenStore(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.AppendAudit(ctx, &AuditEntry{TenantID: "t", At: t0, Action: "x"}); !errors.Is(err, ErrAuditKey) {
		t.Errorf("append without key: %v", err)
	}
	if _, err := st.VerifyAudit(ctx, "t"); !errors.Is(err, ErrAuditKey) {
		t.Errorf("verify without key: %v", err)
	}
}
