package gateway

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRetention: signed PDFs and completed sessions older than the
// retention period go; newer ones, pending sessions and the audit trail
// stay.
func TestRetention(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		g := newTestGW(t, st, func(c *Config) { c.Retention = 24 * time.Hour })
		ctx := context.Background()
		now := time.Now()
		old, fresh := "r1-0.signed.pdf", "r2-0.signed.pdf"
		putDoc(t, g, old, []byte("%PDF"), 48*time.Hour)
		putDoc(t, g, fresh, []byte("%PDF"), 0)
		mk := func(id string, created time.Time, complete bool) {
			s := &Session{RequestID: id, TenantID: DevTenantID, Kind: "hash", Action: "sign", Hashes: [][]byte{make([]byte, 32)}, HashAlgo: "SHA256",
				State: []byte(`{}`), ExpiresAt: created.Add(10 * time.Minute), CreatedAt: created}
			if err := st.CreateSession(ctx, s, &AuditEntry{TenantID: DevTenantID, Action: "session.create", RequestID: id}); err != nil {
				t.Fatal(err)
			}
			if complete {
				if _, _, err := st.CompleteSession(ctx, id, &Completion{Success: true, Signatures: [][]byte{{1}}}, nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		mk("req-old-done", now.Add(-72*time.Hour), true)
		mk("req-old-pending", now.Add(-72*time.Hour), false)
		mk("req-new-done", now.Add(-time.Hour), true)
		before, err := st.VerifyAudit(ctx, DevTenantID)
		if err != nil {
			t.Fatal(err)
		}
		g.srv.applyRetention(ctx, now)
		if hasDoc(t, g, old) {
			t.Error("old signed PDF kept")
		}
		if !hasDoc(t, g, fresh) {
			t.Error("fresh signed PDF removed")
		}
		if _, err := st.Session(ctx, DevTenantID, "req-old-done"); !errors.Is(err, ErrNotFound) {
			t.Errorf("old completed session: %v", err)
		}
		for _, id := range []string{"req-old-pending", "req-new-done"} {
			if _, err := st.Session(ctx, DevTenantID, id); err != nil {
				t.Errorf("%s: %v", id, err)
			}
		}
		if after, err := st.VerifyAudit(ctx, DevTenantID); err != nil || after != before {
			t.Errorf("audit trail after retention: %d entries (was %d), %v", after, before, err)
		}
	})
}
