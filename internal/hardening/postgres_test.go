//go:build linux && cgo

package hardening

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"

	"github.com/securesign/securesign/internal/loadgen/lg"
	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpki"
)

// postgresSchema makes a fresh schema on the test server and returns a DSN
// whose search_path selects it; the schema is dropped after the test.
func postgresSchema(t testing.TB) string {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	var rb [6]byte
	rand.Read(rb[:]) //nolint:errcheck
	schema := "hardening_" + hex.EncodeToString(rb[:])
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		db.Close()
		t.Fatalf("create schema (is PostgreSQL running? eval \"$(bash .ci/postgres.sh start)\"): %v", err)
	}
	t.Cleanup(func() {
		db.Exec("DROP SCHEMA " + schema + " CASCADE") //nolint:errcheck
		db.Close()
	})
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// TestPostgresTwoInstances runs two gateway processes on one PostgreSQL
// schema, each with its own data directory and the same master key (as two
// machines behind a balancer): a hash session created on A completes
// through B and A reads it signed; the same ss_result delivered to both at
// once, many times over, completes each session exactly once (one
// "accepted" answer, the rest "duplicate", one accepted audit entry).
func TestPostgresTwoInstances(t *testing.T) {
	dsn := postgresSchema(t)
	var mk [32]byte
	rand.Read(mk[:]) //nolint:errcheck
	env := []string{"SECURESIGN_POSTGRES_DSN=" + dsn, "SECURESIGN_MASTER_KEY=" + hex.EncodeToString(mk[:])}
	dataA, dataB := t.TempDir(), t.TempDir()
	a := startGateway(t, dataA, "127.0.0.1:0", env, "--log-level", "warn")
	b := startGateway(t, dataB, "127.0.0.1:0", env, "--log-level", "warn")
	if b.APIKey != "" {
		t.Errorf("the second gateway made another dev key")
	}
	ctx := context.Background()
	ca, cb := newClient(t, a, a.APIKey, 8), newClient(t, b, a.APIKey, 8)
	// The OTP goes to the outbox of the instance that sent it: A.
	id, err := lg.IssueCSR(ctx, ca, lg.NewOutbox(dataA), "pg-two", testpki.Key(t, testpki.RSA2048, 44))
	if err != nil {
		t.Fatal(err)
	}
	app, err := lg.NewApp(ctx, id, 4)
	if err != nil {
		t.Fatal(err)
	}

	res, err := lg.CreateHashSession(ctx, ca, app.Digest(0))
	if err != nil {
		t.Fatal(err)
	}
	enc, rid, err := app.Answer(ctx, res.Str("deepLink"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := cb.PostResult(ctx, enc); err != nil || r.Status != 200 || r.Str("outcome") != "accepted" {
		t.Fatalf("result for A's session delivered to B: %v %+v", err, r)
	}
	if r, err := ca.Must(ctx, 200, "GET", "/v1/sessions/"+rid, nil); err != nil || r.Str("status") != "signed" {
		t.Fatalf("A reads the session B completed: %v %+v", err, r)
	}

	const rounds, deliveries = 20, 6
	for i := 0; i < rounds; i++ {
		res, err := lg.CreateHashSession(ctx, ca, app.Digest(i))
		if err != nil {
			t.Fatal(err)
		}
		enc, rid, err := app.Answer(ctx, res.Str("deepLink"))
		if err != nil {
			t.Fatal(err)
		}
		outcomes := make([]string, deliveries)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for j := range outcomes {
			wg.Add(1)
			go func(j int) {
				defer wg.Done()
				c := ca
				if j%2 == 1 {
					c = cb
				}
				<-start
				r, err := c.PostResult(ctx, enc)
				switch {
				case err != nil:
					outcomes[j] = err.Error()
				case r.Status != 200:
					outcomes[j] = fmt.Sprintf("%d %s", r.Status, r.Body)
				default:
					outcomes[j] = r.Str("outcome")
				}
			}(j)
		}
		close(start)
		wg.Wait()
		acc, dup := 0, 0
		for _, o := range outcomes {
			switch o {
			case "accepted":
				acc++
			case "duplicate":
				dup++
			}
		}
		if acc != 1 || dup != deliveries-1 {
			t.Errorf("round %d: outcomes %q, want one accepted and the rest duplicate", i, outcomes)
		}
		if n := countActions(auditFor(ctx, t, cb, rid), "session.result", "accepted"); n != 1 {
			t.Errorf("round %d: %d accepted audit entries for %s, want 1", i, n, rid)
		}
	}
	if err := a.Stop(); err != nil {
		t.Errorf("A: %v", err)
	}
	if err := b.Stop(); err != nil {
		t.Errorf("B: %v", err)
	}
	t.Logf("audit chain verified on PostgreSQL: %d entries", adminAuditVerify(t, dataA, env...))
}
