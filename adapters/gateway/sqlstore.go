package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

//go:embed migrations
var migrationsFS embed.FS

// sqlStore implements Store on database/sql for SQLite and PostgreSQL. The
// SQL is written once with "?" placeholders; PostgreSQL's are rewritten.
type sqlStore struct {
	w        *sql.DB // writes (SQLite: one connection, so writers never wait on locks)
	r        *sql.DB // reads (may equal w)
	postgres bool
	// boot identifies this open store (this process) in the idempotency
	// reservations it makes.
	boot string
	// ownerGone, when set (PostgreSQL), reports whether the process that
	// made a reservation is gone (its liveness lock is free).
	ownerGone func(ctx context.Context, owner string) bool
	closers   []func() error
	stmts     sync.Map // "w:"/"r:" + query → *sql.Stmt

	// The group commit of SQLite (see write); nil for PostgreSQL.
	writes    chan *writeOp
	ckpt      chan struct{} // OpenSQLite's checkpointer asks the writer to finish
	stopWrite chan struct{}
	writerEnd chan struct{}
	closeOnce sync.Once
	closeErr  error

	// auditKey keys the audit chain (auditkey.go); keyedDB says the
	// database's chain is keyed, so that nothing appends without the key.
	auditKey atomic.Pointer[auditKeys]
	keyedDB  atomic.Bool
}

// prep returns query prepared on db once: the SQLite driver would parse
// the SQL again on every call otherwise.
func (s *sqlStore) prep(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	tag := "r:"
	if db == s.w {
		tag = "w:"
	}
	if v, ok := s.stmts.Load(tag + query); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := db.PrepareContext(ctx, s.q(query))
	if err != nil {
		return nil, err
	}
	if v, loaded := s.stmts.LoadOrStore(tag+query, st); loaded {
		st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// The statements run inside transactions. They are prepared when the store
// opens: preparing on the pool inside a transaction would wait for a second
// connection, and SQLite's writer pool has only one.
const (
	qInsertSession = `INSERT INTO sessions (request_id, tenant_id, kind, action, hashes, hash_algo, origin, challenge, cert_serial, cert_sha256,
		user_id, callback_url, return_url, doc, state, output, expires_at, created_at, status, completion)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`
	qAuditHead = `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (?, 1, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET seq = audit_heads.seq + 1 RETURNING seq, hash`
	qAuditHeadHash = "UPDATE audit_heads SET hash = ? WHERE tenant_id = ?"
	qAuditInsert   = `INSERT INTO audit_log (tenant_id, seq, at, actor, action, origin, request_id, cert_serial, doc_hash, outcome, detail, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// PostgreSQL: lock the head (no new row version), then write the new
	// head and the entry in one round trip: one row version of the hot
	// head row per entry, not two.
	qAuditHeadLock       = "SELECT seq, hash FROM audit_heads WHERE tenant_id = ? FOR UPDATE"
	qAuditHeadHashInsert = `WITH head AS (UPDATE audit_heads SET seq = ?, hash = ? WHERE tenant_id = ?)
		INSERT INTO audit_log (tenant_id, seq, at, actor, action, origin, request_id, cert_serial, doc_hash, outcome, detail, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// The compare and set: a pending session takes any completion; a
	// failed one only a success (PROTOCOL 1.1 §3: failures do not complete).
	qCompleteSession = "UPDATE sessions SET status = ?, completion = ? WHERE request_id = ? AND (status = 'pending' OR (status = 'failed' AND ? = 'signed'))"
	qCompletion      = "SELECT completion FROM sessions WHERE request_id = ?"
	// SQLite's batches (see auditBatch): read a head once, write it once.
	qAuditHeadRead  = "SELECT seq, hash FROM audit_heads WHERE tenant_id = ?"
	qAuditHeadWrite = `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`
)

// warm prepares the transaction statements and, for SQLite, starts the
// group-commit writer.
func (s *sqlStore) warm(ctx context.Context) error {
	qs := []string{qInsertSession, qAuditHead, qAuditHeadHash, qAuditInsert, qCompleteSession, qCompletion}
	if s.postgres {
		qs = append(qs, qAuditHeadLock, qAuditHeadHashInsert)
	} else {
		qs = append(qs, qAuditHeadRead, qAuditHeadWrite)
	}
	for _, q := range qs {
		if _, err := s.prep(ctx, s.w, q); err != nil {
			return err
		}
	}
	if !s.postgres && s.writes == nil {
		s.writes, s.stopWrite, s.writerEnd = make(chan *writeOp), make(chan struct{}), make(chan struct{})
		s.ckpt = make(chan struct{}, 1)
		go s.writer()
	}
	return nil
}

// A writeOp is one caller's transaction body, run by the writer.
type writeOp struct {
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error
}

// maxBatch bounds how many callers' writes share one transaction.
const maxBatch = 64

var errStoreClosed = errors.New("gateway: store closed")

// write runs fn in a write transaction and returns once that transaction
// has committed (or fn's error). With SQLite, the callers waiting at the
// same time share one transaction: a commit writes every page it changed
// to the WAL with one system call per page, so N sessions committed
// together cost one write of the sessions, audit_log and audit_heads
// pages instead of N (group commit). A caller's fn failing undoes its own
// changes only (see commitBatch); fn may run twice, so it must start from
// scratch each time (reset what it captures). Nothing is
// acknowledged before the commit that holds it, so the durability of an
// acknowledged write is that of a commit (WAL with synchronous=NORMAL:
// it survives the process being killed; see OpenSQLite).
func (s *sqlStore) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if s.writes == nil {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck
		if err := fn(ctx, tx); err != nil {
			return err
		}
		return tx.Commit()
	}
	op := &writeOp{fn: fn, done: make(chan error, 1)}
	select {
	case s.writes <- op:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stopWrite:
		return errStoreClosed
	}
	// Once taken, the op runs to its commit whatever ctx does: the caller
	// learns the outcome, never "maybe".
	return <-op.done
}

// A busy writer waits up to batchWait for batchTarget callers before it
// commits: a commit writes the pages it changed one by one, and most of
// them (the tails of the indexes, the audit head) are the same pages
// whether it holds one session or ten, so a batch of ten sessions costs
// little more than one (at 1,000 sessions/s, 2 ms makes batches of ~5
// writes, 1 ms of ~3). The target keeps the wait short at high rates,
// where each write's wait would otherwise add to its caller's latency for
// little gain. The wait is taken only when the previous batch had company
// and ended less than batchWait before: a lone caller never waits.
const (
	batchWait   = 2 * time.Millisecond
	batchTarget = 8
)

// writer takes the waiting writes in batches until the store closes, and
// finishes the checkpoints of OpenSQLite between them.
func (s *sqlStore) writer() {
	defer close(s.writerEnd)
	timer := time.NewTimer(batchWait)
	timer.Stop()
	var lastEnd time.Time
	lastN := 0
	for {
		var op *writeOp
		select {
		case op = <-s.writes:
		case <-s.ckpt:
			s.finishCheckpoint()
			continue
		case <-s.stopWrite:
			return
		}
		ops := []*writeOp{op}
		if lastN > 1 && time.Since(lastEnd) < batchWait {
			timer.Reset(batchWait)
		wait:
			for len(ops) < batchTarget {
				select {
				case op := <-s.writes:
					ops = append(ops, op)
				case <-timer.C:
					break wait
				}
			}
			timer.Stop()
		}
	more:
		for len(ops) < maxBatch {
			select {
			case op := <-s.writes:
				ops = append(ops, op)
			default:
				break more
			}
		}
		s.commitBatch(ops)
		lastEnd, lastN = time.Now(), len(ops)
		select {
		case <-s.ckpt:
			s.finishCheckpoint()
		default:
		}
	}
}

// finishCheckpoint checkpoints what the WAL holds beyond the background
// checkpoint of OpenSQLite, which ran while commits went on. With no
// commit in between, it can copy the last frames, and the next commit
// then starts the WAL over from its beginning: without it, a WAL under
// steady writes is never wholly copied, so it is never reused and grows
// without bound (~40 KB per session). It is cheap when the background
// checkpoint has copied nearly everything, as it normally has; it waits
// for two small fsyncs (WAL, database). If a reader still uses old
// frames, the WAL is not restarted this time.
func (s *sqlStore) finishCheckpoint() {
	s.w.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)") //nolint:errcheck
}

// commitBatch runs ops in one transaction and tells each its outcome.
// Ops seldom fail, so they first run one after another with nothing
// between them; if one fails, that transaction is rolled back and the
// batch runs again with a savepoint around each op, so that the failing
// op's changes alone are undone. An op's fn is therefore written to be run
// again from the start.
func (s *sqlStore) commitBatch(ops []*writeOp) {
	errs := make([]error, len(ops))
	retry, err := s.runBatch(ops, errs, false)
	if retry {
		clear(errs)
		_, err = s.runBatch(ops, errs, true)
	}
	for i, op := range ops {
		if err != nil && errs[i] == nil {
			errs[i] = err
		}
		op.done <- errs[i]
	}
}

// runBatch runs ops in one transaction, each op's error in errs, and
// commits it; err fails the whole batch. Without savepoints, an op's
// failure among several rolls back everything and asks for a retry.
func (s *sqlStore) runBatch(ops []*writeOp, errs []error, savepoints bool) (retry bool, err error) {
	ab := &auditBatch{heads: map[string]*auditHead{}}
	ctx := context.WithValue(context.Background(), auditBatchKey{}, ab)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil || retry {
			tx.Rollback() //nolint:errcheck
		}
	}()
	if len(ops) == 1 {
		if errs[0] = ops[0].fn(ctx, tx); errs[0] != nil {
			tx.Rollback() //nolint:errcheck
			return false, nil
		}
	} else {
		for i, op := range ops {
			if savepoints {
				if _, err := tx.ExecContext(ctx, "SAVEPOINT op"); err != nil {
					return false, err
				}
			}
			errs[i] = op.fn(ctx, tx)
			switch {
			case errs[i] != nil && !savepoints:
				return true, nil
			case errs[i] != nil:
				ab.rollbackOp()
				if _, err := tx.ExecContext(ctx, "ROLLBACK TO op"); err != nil {
					return false, err
				}
			}
			ab.keepOp()
			if savepoints {
				if _, err := tx.ExecContext(ctx, "RELEASE op"); err != nil {
					return false, err
				}
			}
		}
	}
	if err := ab.flush(ctx, s, tx); err != nil {
		return false, err
	}
	return false, tx.Commit()
}

// auditBatch holds the audit chain heads of one SQLite write batch. The
// writer is SQLite's only writer in this process and its transaction takes
// the write lock when it begins (BEGIN IMMEDIATE), so a head read at its
// first use in the batch stays true to the end of the batch: the entries
// advance it in memory, and it is written once, before the commit, instead
// of being read and written for every entry. An op that fails takes its
// advances back with its savepoint. Nothing is kept from one batch to the
// next: another process (gateway admin) may append in between.
type auditBatch struct {
	heads map[string]*auditHead // by tenant
	undo  []auditUndo           // the running op's advances, oldest first
}

type auditHead struct {
	seq   int64
	hash  []byte
	dirty bool
}

type auditUndo struct {
	tenant string
	was    auditHead
}

// auditBatchKey is the context key of the running batch's *auditBatch.
type auditBatchKey struct{}

// append adds e to its tenant's chain inside tx.
func (b *auditBatch) append(ctx context.Context, s *sqlStore, tx *sql.Tx, e *AuditEntry) error {
	h := b.heads[e.TenantID]
	if h == nil {
		h = &auditHead{}
		err := s.txRow(ctx, tx, qAuditHeadRead, e.TenantID).Scan(&h.seq, &h.hash)
		if errors.Is(err, sql.ErrNoRows) {
			// The tenant's first entry: its predecessor is the zero hash.
			h.seq, h.hash, err = 0, make([]byte, 32), nil
		}
		if err != nil {
			return err
		}
		b.heads[e.TenantID] = h
	}
	e.Seq = h.seq + 1
	e.PrevHash = bytes.Clone(h.hash)
	e.Hash = s.chainHash(e, e.PrevHash)
	if _, err := s.txExec(ctx, tx, qAuditInsert,
		e.TenantID, e.Seq, nanos(e.At), e.Actor, e.Action, e.Origin, e.RequestID, e.CertSerial, e.DocHash, e.Outcome, e.Detail, e.PrevHash, e.Hash); err != nil {
		return err
	}
	b.undo = append(b.undo, auditUndo{e.TenantID, *h})
	h.seq, h.hash, h.dirty = e.Seq, bytes.Clone(e.Hash), true
	return nil
}

// rollbackOp takes back the running op's advances.
func (b *auditBatch) rollbackOp() {
	for i := len(b.undo) - 1; i >= 0; i-- {
		*b.heads[b.undo[i].tenant] = b.undo[i].was
	}
	b.undo = b.undo[:0]
}

// keepOp keeps the running op's advances.
func (b *auditBatch) keepOp() { b.undo = b.undo[:0] }

// flush writes the heads the batch advanced.
func (b *auditBatch) flush(ctx context.Context, s *sqlStore, tx *sql.Tx) error {
	for tenant, h := range b.heads {
		if !h.dirty {
			continue
		}
		if _, err := s.txExec(ctx, tx, qAuditHeadWrite, tenant, h.seq, h.hash); err != nil {
			return err
		}
	}
	return nil
}

// txStmt returns the prepared form of query for tx, or nil when the query
// was not prepared by warm (it then runs unprepared).
func (s *sqlStore) txStmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	if v, ok := s.stmts.Load("w:" + query); ok {
		return tx.StmtContext(ctx, v.(*sql.Stmt))
	}
	return nil
}

// txExec runs a statement inside tx.
func (s *sqlStore) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := s.txStmt(ctx, tx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, s.q(query), args...)
}

func (s *sqlStore) txRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if st := s.txStmt(ctx, tx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, s.q(query), args...)
}

// q rewrites "?" placeholders to "$n" for PostgreSQL.
func (s *sqlStore) q(query string) string {
	if !s.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

func (s *sqlStore) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := s.prep(ctx, s.w, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (s *sqlStore) row(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.prep(ctx, s.r, query)
	if err != nil {
		return s.r.QueryRowContext(ctx, s.q(query), args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (s *sqlStore) isUnique(err error) bool {
	if err == nil {
		return false
	}
	m := err.Error()
	return strings.Contains(m, "UNIQUE constraint failed") || strings.Contains(m, "SQLSTATE 23505") ||
		strings.Contains(m, "duplicate key value")
}

// migrate applies the embedded migrations not yet recorded.
func (s *sqlStore) migrate(ctx context.Context) error {
	dir := "migrations/sqlite"
	if s.postgres {
		dir = "migrations/postgres"
	}
	entries, err := fs.ReadDir(migrationsFS, dir)
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if s.postgres {
		// Two gateways starting at once must not both migrate.
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(727272)"); err != nil {
			return fmt.Errorf("gateway: migration lock: %w", err)
		}
		defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(727272)") //nolint:errcheck
	}
	if _, err := conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"); err != nil {
		return fmt.Errorf("gateway: migrations table: %w", err)
	}
	for _, e := range entries {
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("gateway: migration %s: bad name", e.Name())
		}
		var n int
		if err := conn.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM schema_migrations WHERE version = ?"), v).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := migrationsFS.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return err
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for _, stmt := range strings.Split(string(body), ";\n") {
			if strings.TrimSpace(stripComments(stmt)) == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				tx.Rollback() //nolint:errcheck
				return fmt.Errorf("gateway: migration %s: %w", e.Name(), err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.q("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"), v, time.Now().UnixNano()); err != nil {
			tx.Rollback() //nolint:errcheck
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func (s *sqlStore) Ping(ctx context.Context) error {
	var one int
	return s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close closes the store once; later calls return the first one's error.
func (s *sqlStore) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *sqlStore) close() error {
	if s.writes != nil {
		// Let the batch in hand commit, refuse the rest.
		close(s.stopWrite)
		<-s.writerEnd
	}
	var errs []error
	s.stmts.Range(func(k, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// nanos converts a time to the stored form; the zero time is 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

func to32(b []byte) (h [32]byte) {
	copy(h[:], b)
	return h
}

func jsonBytes(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own plain types are marshalled
	}
	return b
}

// ---- tenants ----

func (s *sqlStore) CreateTenant(ctx context.Context, t *Tenant) error {
	_, err := s.exec(ctx, "INSERT INTO tenants (id, name, disabled, created_at) VALUES (?, ?, ?, ?)",
		t.ID, t.Name, b2i(t.Disabled), nanos(t.CreatedAt))
	if s.isUnique(err) {
		return fmt.Errorf("tenant %q: %w", t.ID, ErrExists)
	}
	return err
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner = interface{ Scan(...any) error }

// collect reads every row of a query with scan and closes rows.
func collect[T any](rows *sql.Rows, err error, scan func(rowScanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func scanTenant(sc rowScanner) (*Tenant, error) {
	var t Tenant
	var dis int
	var created int64
	if err := sc.Scan(&t.ID, &t.Name, &dis, &created); err != nil {
		return nil, notFound(err)
	}
	t.Disabled = dis != 0
	t.CreatedAt = fromNanos(created)
	return &t, nil
}

func (s *sqlStore) Tenant(ctx context.Context, id string) (*Tenant, error) {
	return scanTenant(s.row(ctx, "SELECT id, name, disabled, created_at FROM tenants WHERE id = ?", id))
}

func (s *sqlStore) Tenants(ctx context.Context) ([]*Tenant, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT id, name, disabled, created_at FROM tenants ORDER BY created_at, id")
	return collect(rows, err, scanTenant)
}

func (s *sqlStore) SetTenantDisabled(ctx context.Context, id string, disabled bool) error {
	return s.mustAffect(s.exec(ctx, "UPDATE tenants SET disabled = ? WHERE id = ?", b2i(disabled), id))
}

func (s *sqlStore) mustAffect(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// ---- API keys and tokens ----

func (s *sqlStore) CreateAPIKey(ctx context.Context, k *APIKey) error {
	_, err := s.exec(ctx, "INSERT INTO api_keys (id, tenant_id, name, hash, live, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		k.ID, k.TenantID, k.Name, k.Hash[:], b2i(k.Live), nanos(k.CreatedAt), nanos(k.RevokedAt))
	if s.isUnique(err) {
		return ErrExists
	}
	return err
}

const apiKeyCols = "id, tenant_id, name, hash, live, created_at, revoked_at"

func scanAPIKey(sc rowScanner) (*APIKey, error) {
	var k APIKey
	var h []byte
	var live int
	var c, r int64
	if err := sc.Scan(&k.ID, &k.TenantID, &k.Name, &h, &live, &c, &r); err != nil {
		return nil, notFound(err)
	}
	k.Hash, k.Live, k.CreatedAt, k.RevokedAt = to32(h), live != 0, fromNanos(c), fromNanos(r)
	return &k, nil
}

func (s *sqlStore) APIKey(ctx context.Context, id string) (*APIKey, error) {
	var k APIKey
	var h []byte
	var live, dis int
	var c, r int64
	err := s.row(ctx, `SELECT k.id, k.tenant_id, k.name, k.hash, k.live, k.created_at, k.revoked_at, t.disabled
		FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.id = ?`, id).Scan(&k.ID, &k.TenantID, &k.Name, &h, &live, &c, &r, &dis)
	if err != nil {
		return nil, notFound(err)
	}
	k.Hash, k.Live, k.CreatedAt, k.RevokedAt, k.TenantDisabled = to32(h), live != 0, fromNanos(c), fromNanos(r), dis != 0
	return &k, nil
}

func (s *sqlStore) APIKeys(ctx context.Context, tenantID string) ([]*APIKey, error) {
	rows, err := s.r.QueryContext(ctx, s.q("SELECT "+apiKeyCols+" FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id"), tenantID)
	return collect(rows, err, scanAPIKey)
}

func (s *sqlStore) RevokeAPIKey(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.mustAffect(s.exec(ctx, "UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at = 0", nanos(at), tenantID, id))
}

func (s *sqlStore) CreateAccessToken(ctx context.Context, t *AccessToken) error {
	_, err := s.exec(ctx, "INSERT INTO access_tokens (id, tenant_id, api_key_id, hash, expires_at) VALUES (?, ?, ?, ?, ?)",
		t.ID, t.TenantID, t.APIKeyID, t.Hash[:], nanos(t.ExpiresAt))
	return err
}

func (s *sqlStore) AccessToken(ctx context.Context, id string) (*AccessToken, error) {
	var t AccessToken
	var h []byte
	var exp int64
	err := s.row(ctx, "SELECT id, tenant_id, api_key_id, hash, expires_at FROM access_tokens WHERE id = ?", id).
		Scan(&t.ID, &t.TenantID, &t.APIKeyID, &h, &exp)
	if err != nil {
		return nil, notFound(err)
	}
	t.Hash, t.ExpiresAt = to32(h), fromNanos(exp)
	return &t, nil
}

// ---- origins ----

func (s *sqlStore) AddOrigin(ctx context.Context, tenantID, origin string) error {
	_, err := s.exec(ctx, "INSERT INTO origins (tenant_id, origin) VALUES (?, ?) ON CONFLICT DO NOTHING", tenantID, origin)
	return err
}

func (s *sqlStore) RemoveOrigin(ctx context.Context, tenantID, origin string) error {
	return s.mustAffect(s.exec(ctx, "DELETE FROM origins WHERE tenant_id = ? AND origin = ?", tenantID, origin))
}

func (s *sqlStore) Origins(ctx context.Context, tenantID string) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, s.q("SELECT origin FROM origins WHERE tenant_id = ? ORDER BY origin"), tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// ---- users and OTPs ----

func (s *sqlStore) CreateUser(ctx context.Context, u *User) error {
	_, err := s.exec(ctx, "INSERT INTO users (id, tenant_id, external_id, name, email, phone, subject, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		u.ID, u.TenantID, u.ExternalID, u.Name, u.Email, u.Phone, jsonBytes(u.Subject), nanos(u.CreatedAt))
	if s.isUnique(err) {
		return fmt.Errorf("user with externalId %q: %w", u.ExternalID, ErrExists)
	}
	return err
}

func (s *sqlStore) User(ctx context.Context, tenantID, id string) (*User, error) {
	var u User
	var c int64
	var subj []byte
	err := s.row(ctx, "SELECT id, tenant_id, external_id, name, email, phone, subject, created_at FROM users WHERE tenant_id = ? AND id = ?", tenantID, id).
		Scan(&u.ID, &u.TenantID, &u.ExternalID, &u.Name, &u.Email, &u.Phone, &subj, &c)
	if err != nil {
		return nil, notFound(err)
	}
	if len(subj) > 0 {
		if err := json.Unmarshal(subj, &u.Subject); err != nil {
			return nil, fmt.Errorf("gateway: stored user subject: %w", err)
		}
	}
	u.CreatedAt = fromNanos(c)
	return &u, nil
}

func (s *sqlStore) CreateOTP(ctx context.Context, o *OTP, lim OTPLimits, now time.Time) error {
	var consent []byte
	if o.Consent != nil {
		consent = jsonBytes(o.Consent)
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if s.postgres {
			// Serialize the count and the insert per user (SQLite's single
			// writer already does).
			var id string
			if err := tx.QueryRowContext(ctx, s.q("SELECT id FROM users WHERE tenant_id = ? AND id = ? FOR UPDATE"), o.TenantID, o.UserID).Scan(&id); err != nil {
				return notFound(err)
			}
		}
		var unused int
		var oldestExp int64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*), COALESCE(MIN(expires_at), 0) FROM otps
			WHERE tenant_id = ? AND user_id = ? AND used_at = 0 AND attempts < ? AND expires_at > ?`),
			o.TenantID, o.UserID, max(lim.MaxAttempts, 1), nanos(now)).Scan(&unused, &oldestExp); err != nil {
			return err
		}
		if lim.MaxUnused > 0 && unused >= lim.MaxUnused {
			return &OTPLimitError{Unused: true, Limit: lim.MaxUnused, RetryAfter: fromNanos(oldestExp)}
		}
		if lim.MaxSent > 0 {
			var sent int
			var oldest int64
			if err := tx.QueryRowContext(ctx, s.q("SELECT COUNT(*), COALESCE(MIN(created_at), 0) FROM otps WHERE tenant_id = ? AND user_id = ? AND created_at > ?"),
				o.TenantID, o.UserID, nanos(now.Add(-lim.Window))).Scan(&sent, &oldest); err != nil {
				return err
			}
			if sent >= lim.MaxSent {
				return &OTPLimitError{Limit: lim.MaxSent, RetryAfter: fromNanos(oldest).Add(lim.Window)}
			}
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO otps (id, tenant_id, user_id, purpose, salt, hash, attempts, expires_at, used_at, created_at, consent)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			o.ID, o.TenantID, o.UserID, o.Purpose, o.Salt, o.Hash[:], o.Attempts, nanos(o.ExpiresAt), nanos(o.UsedAt), nanos(o.CreatedAt), consent)
		return err
	})
}

func (s *sqlStore) OTP(ctx context.Context, tenantID, userID, otpID, purpose string) (*OTP, error) {
	o := OTP{TenantID: tenantID, UserID: userID, ID: otpID, Purpose: purpose}
	var h, consent []byte
	var exp, used, created int64
	// Read from the writer: a code is checked right after it was sent or
	// spent, and a replica may lag.
	err := s.w.QueryRowContext(ctx, s.q("SELECT salt, hash, attempts, expires_at, used_at, created_at, consent FROM otps WHERE tenant_id = ? AND user_id = ? AND id = ? AND purpose = ?"),
		tenantID, userID, otpID, purpose).Scan(&o.Salt, &h, &o.Attempts, &exp, &used, &created, &consent)
	if err != nil {
		return nil, notFound(err)
	}
	o.Hash = to32(h)
	o.ExpiresAt, o.UsedAt, o.CreatedAt = fromNanos(exp), fromNanos(used), fromNanos(created)
	if len(consent) > 0 {
		o.Consent = new(Consent)
		if err := json.Unmarshal(consent, o.Consent); err != nil {
			return nil, fmt.Errorf("gateway: stored consent of %s: %w", otpID, err)
		}
	}
	return &o, nil
}

func (s *sqlStore) LatestOTP(ctx context.Context, tenantID, userID, purpose string, now time.Time) (*OTP, error) {
	var id string
	err := s.w.QueryRowContext(ctx, s.q(`SELECT id FROM otps WHERE tenant_id = ? AND user_id = ? AND purpose = ? AND used_at = 0 AND expires_at > ?
		ORDER BY created_at DESC, id DESC LIMIT 1`), tenantID, userID, purpose, nanos(now)).Scan(&id)
	if err != nil {
		return nil, notFound(err)
	}
	return s.OTP(ctx, tenantID, userID, id, purpose)
}

func (s *sqlStore) FailOTP(ctx context.Context, otpID string, maxAttempts int) (bool, error) {
	var attempts int
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		attempts = maxAttempts
		err := tx.QueryRowContext(ctx, s.q("UPDATE otps SET attempts = attempts + 1 WHERE id = ? AND used_at = 0 AND attempts < ? RETURNING attempts"), otpID, maxAttempts).Scan(&attempts)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	return attempts >= maxAttempts, err
}

func (s *sqlStore) SpendOTP(ctx context.Context, otpID string, now time.Time, maxAttempts int) error {
	res, err := s.exec(ctx, "UPDATE otps SET used_at = ? WHERE id = ? AND used_at = 0 AND attempts < ?", nanos(now), otpID, maxAttempts)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrOTPUsed
	}
	return nil
}

// ---- sessions ----

type completionJSON struct {
	ResultHash  []byte   `json:"resultHash"`
	Success     bool     `json:"success"`
	Code        string   `json:"code,omitempty"`
	Message     string   `json:"message,omitempty"`
	Signatures  [][]byte `json:"signatures,omitempty"`
	SignAlgo    string   `json:"signAlgo,omitempty"`
	Certificate []byte   `json:"certificate,omitempty"`
	Chain       [][]byte `json:"chain,omitempty"`
	CompletedAt int64    `json:"completedAt"`
}

func encodeCompletion(c *Completion) []byte {
	return jsonBytes(completionJSON{c.ResultHash[:], c.Success, c.Code, c.Message, c.Signatures, c.SignAlgo, c.Certificate, c.Chain, nanos(c.CompletedAt)})
}

func decodeCompletion(b []byte) (*Completion, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var j completionJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("gateway: stored completion: %w", err)
	}
	return &Completion{to32(j.ResultHash), j.Success, j.Code, j.Message, j.Signatures, j.SignAlgo, j.Certificate, j.Chain, fromNanos(j.CompletedAt)}, nil
}

func (s *sqlStore) CreateSession(ctx context.Context, x *Session, audit *AuditEntry) error {
	if x.Status == "" {
		x.Status = StatusPending
	}
	hashes := jsonBytes(x.Hashes)
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.txExec(ctx, tx, qInsertSession,
			x.RequestID, x.TenantID, x.Kind, x.Action, hashes, x.HashAlgo, x.Origin, x.Challenge, x.CertSerial, x.CertSHA256,
			x.UserID, x.CallbackURL, x.ReturnURL, x.Doc, x.State, x.Output, nanos(x.ExpiresAt), nanos(x.CreatedAt), x.Status)
		if s.isUnique(err) {
			return ErrExists
		}
		if err != nil {
			return err
		}
		if audit != nil {
			return s.appendAuditTx(ctx, tx, audit)
		}
		return nil
	})
}

const sessionCols = `request_id, tenant_id, kind, action, hashes, hash_algo, origin, challenge, cert_serial, cert_sha256,
	user_id, callback_url, return_url, doc, state, output, expires_at, created_at, status, completion`

func scanSession(sc rowScanner) (*Session, error) {
	var x Session
	var hashes, comp []byte
	var exp, created int64
	if err := sc.Scan(&x.RequestID, &x.TenantID, &x.Kind, &x.Action, &hashes, &x.HashAlgo, &x.Origin, &x.Challenge, &x.CertSerial, &x.CertSHA256,
		&x.UserID, &x.CallbackURL, &x.ReturnURL, &x.Doc, &x.State, &x.Output, &exp, &created, &x.Status, &comp); err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal(hashes, &x.Hashes); err != nil {
		return nil, fmt.Errorf("gateway: stored hashes: %w", err)
	}
	x.ExpiresAt, x.CreatedAt = fromNanos(exp), fromNanos(created)
	c, err := decodeCompletion(comp)
	if err != nil {
		return nil, err
	}
	x.Completion = c
	return &x, nil
}

func (s *sqlStore) Session(ctx context.Context, tenantID, requestID string) (*Session, error) {
	return scanSession(s.row(ctx, "SELECT "+sessionCols+" FROM sessions WHERE tenant_id = ? AND request_id = ?", tenantID, requestID))
}

func (s *sqlStore) SessionByID(ctx context.Context, requestID string) (*Session, error) {
	return scanSession(s.row(ctx, "SELECT "+sessionCols+" FROM sessions WHERE request_id = ?", requestID))
}

func (s *sqlStore) CompleteSession(ctx context.Context, requestID string, c *Completion, audit *AuditEntry) (*Completion, bool, error) {
	status := StatusFailed
	if c.Success {
		status = StatusSigned
	}
	enc := encodeCompletion(c)
	var won bool
	var comp []byte
	if s.writes == nil && audit == nil {
		// PostgreSQL: one autocommitted statement, no BEGIN/COMMIT round
		// trips; the UPDATE's row lock makes it the compare and set.
		res, err := s.exec(ctx, qCompleteSession, status, enc, requestID, status)
		if err != nil {
			return nil, false, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, false, err
		}
		if n == 1 {
			return c, true, nil
		}
		if err := s.w.QueryRowContext(ctx, s.q(qCompletion), requestID).Scan(&comp); err != nil {
			return nil, false, notFound(err)
		}
		stored, err := decodeCompletion(comp)
		return stored, false, err
	}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		won, comp = false, nil
		// The compare and set (qCompleteSession).
		res, err := s.txExec(ctx, tx, qCompleteSession, status, enc, requestID, status)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			won = true
			if audit != nil {
				// The winner's audit entry commits with it: a crash
				// cannot leave a completed session unaudited.
				return s.appendAuditTx(ctx, tx, audit)
			}
			return nil
		}
		// Lost (or unknown): read the winner in the same transaction.
		return notFound(s.txRow(ctx, tx, qCompletion, requestID).Scan(&comp))
	})
	if err != nil {
		return nil, false, err
	}
	if won {
		return c, true, nil
	}
	stored, err := decodeCompletion(comp)
	if err != nil {
		return nil, false, err
	}
	return stored, false, nil
}

func (s *sqlStore) SetSessionOutput(ctx context.Context, requestID string, output []byte) error {
	return s.mustAffect(s.exec(ctx, "UPDATE sessions SET output = ? WHERE request_id = ?", output, requestID))
}

func (s *sqlStore) CountPendingSessions(ctx context.Context, tenantID string, now time.Time) (int, error) {
	var n int
	err := s.row(ctx, "SELECT COUNT(*) FROM sessions WHERE tenant_id = ? AND status = 'pending' AND expires_at > ?", tenantID, nanos(now)).Scan(&n)
	return n, err
}

// ---- certificates ----

func (s *sqlStore) CreateCertificate(ctx context.Context, c *Certificate) error {
	_, err := s.exec(ctx, `INSERT INTO certificates (id, tenant_id, user_id, serial_hex, sha256_hex, der, chain, source, key_location, key_kind, key_blob,
		profile, not_before, not_after, revoked_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.TenantID, c.UserID, c.SerialHex, c.SHA256Hex, c.DER, jsonBytes(c.Chain), c.Source, c.KeyLocation, c.KeyKind, c.KeyBlob,
		c.Profile, nanos(c.NotBefore), nanos(c.NotAfter), nanos(c.RevokedAt), nanos(c.CreatedAt))
	if s.isUnique(err) {
		return ErrExists
	}
	return err
}

const certCols = "id, tenant_id, user_id, serial_hex, sha256_hex, der, chain, source, key_location, key_kind, key_blob, profile, not_before, not_after, revoked_at, created_at"

func scanCert(sc rowScanner) (*Certificate, error) {
	var c Certificate
	var chain []byte
	var nb, na, rv, cr int64
	if err := sc.Scan(&c.ID, &c.TenantID, &c.UserID, &c.SerialHex, &c.SHA256Hex, &c.DER, &chain, &c.Source, &c.KeyLocation, &c.KeyKind, &c.KeyBlob,
		&c.Profile, &nb, &na, &rv, &cr); err != nil {
		return nil, notFound(err)
	}
	if len(chain) > 0 {
		if err := json.Unmarshal(chain, &c.Chain); err != nil {
			return nil, fmt.Errorf("gateway: stored chain: %w", err)
		}
	}
	c.NotBefore, c.NotAfter, c.RevokedAt, c.CreatedAt = fromNanos(nb), fromNanos(na), fromNanos(rv), fromNanos(cr)
	return &c, nil
}

func (s *sqlStore) Certificate(ctx context.Context, tenantID, id string) (*Certificate, error) {
	return scanCert(s.row(ctx, "SELECT "+certCols+" FROM certificates WHERE tenant_id = ? AND id = ?", tenantID, id))
}

func (s *sqlStore) CertificateBySerial(ctx context.Context, tenantID, serialHex string) (*Certificate, error) {
	// Newest first: a registered certificate may repeat an issued one.
	return scanCert(s.row(ctx, "SELECT "+certCols+" FROM certificates WHERE tenant_id = ? AND serial_hex = ? ORDER BY created_at DESC LIMIT 1", tenantID, serialHex))
}

func (s *sqlStore) CertificatesBySerial(ctx context.Context, tenantID, serialHex string) ([]*Certificate, error) {
	rows, err := s.r.QueryContext(ctx, s.q("SELECT "+certCols+" FROM certificates WHERE tenant_id = ? AND serial_hex = ? ORDER BY created_at, id"), tenantID, serialHex)
	return collect(rows, err, scanCert)
}

func (s *sqlStore) Certificates(ctx context.Context, tenantID, userID string) ([]*Certificate, error) {
	query, args := "SELECT "+certCols+" FROM certificates WHERE tenant_id = ?", []any{tenantID}
	if userID != "" {
		query += " AND user_id = ?"
		args = append(args, userID)
	}
	rows, err := s.r.QueryContext(ctx, s.q(query+" ORDER BY created_at, id"), args...)
	return collect(rows, err, scanCert)
}

func (s *sqlStore) RevokeCertificate(ctx context.Context, tenantID, id string, at time.Time) error {
	err := s.mustAffect(s.exec(ctx, "UPDATE certificates SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at = 0", nanos(at), tenantID, id))
	if errors.Is(err, ErrNotFound) {
		if _, err2 := s.Certificate(ctx, tenantID, id); err2 == nil {
			return nil // already revoked: idempotent
		}
	}
	return err
}

// ---- idempotency ----

// IdempotencyAbandonAfter is the age after which a reservation whose
// request never finished is taken to be abandoned (its process died) and
// may be taken over by a retry with the same body. A request holds its
// reservation for as long as it runs; a graceful shutdown waits at most
// Config.ShutdownTimeout (20 s by default).
const IdempotencyAbandonAfter = 2 * time.Minute

func (s *sqlStore) ReserveIdempotency(ctx context.Context, tenantID, key string, bodyHash [32]byte, now time.Time) (*IdempotencyRecord, error) {
	res, err := s.exec(ctx, "INSERT INTO idempotency (tenant_id, idem_key, body_hash, done, status, body, created_at, owner) VALUES (?, ?, ?, 0, 0, NULL, ?, ?) ON CONFLICT DO NOTHING",
		tenantID, key, bodyHash[:], nanos(now), s.boot)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil, nil
	}
	var r IdempotencyRecord
	var h []byte
	var done int
	var created int64
	var owner string
	if err := s.w.QueryRowContext(ctx, s.q("SELECT body_hash, done, status, body, created_at, owner FROM idempotency WHERE tenant_id = ? AND idem_key = ?"), tenantID, key).
		Scan(&h, &done, &r.Status, &r.Body, &created, &owner); err != nil {
		return nil, notFound(err)
	}
	r.BodyHash, r.Done = to32(h), done != 0
	// A reservation left by a process that died mid-request would answer
	// "still running" forever: a retry with the same body takes it over
	// once it is old enough or, with SQLite (one process per database), as
	// soon as it comes from an earlier process. PostgreSQL may serve
	// several live gateways: age counts there, or the owner's liveness
	// lock being free (below).
	abandoned := now.Sub(fromNanos(created)) > IdempotencyAbandonAfter || (!s.postgres && owner != s.boot)
	if r.Done || r.BodyHash != bodyHash {
		return &r, nil
	}
	// With PostgreSQL a reservation of a process that is gone (killed,
	// crashed: its liveness lock is free) is abandoned at once.
	if !abandoned && owner != s.boot && s.ownerGone != nil {
		abandoned = s.ownerGone(ctx, owner)
	}
	if !abandoned {
		return &r, nil
	}
	// Compare and set on the old reservation: one retry wins.
	res, err = s.exec(ctx, "UPDATE idempotency SET created_at = ?, owner = ? WHERE tenant_id = ? AND idem_key = ? AND done = 0 AND created_at = ? AND owner = ?",
		nanos(now), s.boot, tenantID, key, created, owner)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil, nil
	}
	return &r, nil // another retry took it over first: still running
}

func (s *sqlStore) FinishIdempotency(ctx context.Context, tenantID, key string, status int, body []byte) error {
	return s.mustAffect(s.exec(ctx, "UPDATE idempotency SET done = 1, status = ?, body = ? WHERE tenant_id = ? AND idem_key = ?", status, body, tenantID, key))
}

func (s *sqlStore) ReleaseIdempotency(ctx context.Context, tenantID, key string) error {
	// Only this process's reservation: one taken over by another gateway
	// is not ours to drop.
	_, err := s.exec(ctx, "DELETE FROM idempotency WHERE tenant_id = ? AND idem_key = ? AND done = 0 AND owner = ?", tenantID, key, s.boot)
	return err
}

// ---- audit ----

// auditHash is SHA-256(prev_hash || canonical JSON of the entry without
// its hashes). The canonical form is the struct's JSON with fixed field
// order and the time in UTC nanoseconds.
func auditHash(e *AuditEntry, prev []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(auditCanonical(e))
	return h.Sum(nil)
}

// auditCanonical is the JSON of e that its link covers.
func auditCanonical(e *AuditEntry) []byte {
	c := struct {
		TenantID   string `json:"tenantId"`
		Seq        int64  `json:"seq"`
		At         int64  `json:"at"`
		Actor      string `json:"actor"`
		Action     string `json:"action"`
		Origin     string `json:"origin"`
		RequestID  string `json:"requestId"`
		CertSerial string `json:"certSerial"`
		DocHash    string `json:"docHash"`
		Outcome    string `json:"outcome"`
		Detail     string `json:"detail"`
	}{e.TenantID, e.Seq, nanos(e.At), e.Actor, e.Action, e.Origin, e.RequestID, e.CertSerial, e.DocHash, e.Outcome, e.Detail}
	return jsonBytes(c)
}

func (s *sqlStore) AppendAudit(ctx context.Context, e *AuditEntry) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error { return s.appendAuditTx(ctx, tx, e) })
}

func (s *sqlStore) appendAuditTx(ctx context.Context, tx *sql.Tx, e *AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = fromNanos(nanos(e.At))
	if err := s.auditReady(); err != nil {
		return err
	}
	if b, ok := ctx.Value(auditBatchKey{}).(*auditBatch); ok && !s.postgres {
		return b.append(ctx, s, tx, e)
	}
	// Advance the head: a first entry inserts it (seq 1, zero hash), later
	// ones bump seq and return the previous hash. The upsert takes the row
	// lock (PostgreSQL), so concurrent appends to one tenant's chain
	// serialize; SQLite has one writer anyway.
	var prev []byte
	if s.postgres {
		err := s.txRow(ctx, tx, qAuditHeadLock, e.TenantID).Scan(&e.Seq, &prev)
		if err == nil {
			e.Seq++
			e.PrevHash = prev
			e.Hash = s.chainHash(e, prev)
			_, err := s.txExec(ctx, tx, qAuditHeadHashInsert, e.Seq, e.Hash, e.TenantID,
				e.TenantID, e.Seq, nanos(e.At), e.Actor, e.Action, e.Origin, e.RequestID, e.CertSerial, e.DocHash, e.Outcome, e.Detail, e.PrevHash, e.Hash)
			return err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// The tenant's first entry: the upsert below settles a race
		// between first entries.
	}
	if err := s.txRow(ctx, tx, qAuditHead, e.TenantID, make([]byte, 32)).Scan(&e.Seq, &prev); err != nil {
		return err
	}
	e.PrevHash = prev
	e.Hash = s.chainHash(e, prev)
	if _, err := s.txExec(ctx, tx, qAuditHeadHash, e.Hash, e.TenantID); err != nil {
		return err
	}
	if _, err := s.txExec(ctx, tx, qAuditInsert,
		e.TenantID, e.Seq, nanos(e.At), e.Actor, e.Action, e.Origin, e.RequestID, e.CertSerial, e.DocHash, e.Outcome, e.Detail, e.PrevHash, e.Hash); err != nil {
		return err
	}
	return nil
}

const auditCols = "tenant_id, seq, at, actor, action, origin, request_id, cert_serial, doc_hash, outcome, detail, prev_hash, hash"

func scanAudit(sc rowScanner) (*AuditEntry, error) {
	var e AuditEntry
	var at int64
	if err := sc.Scan(&e.TenantID, &e.Seq, &at, &e.Actor, &e.Action, &e.Origin, &e.RequestID, &e.CertSerial, &e.DocHash, &e.Outcome, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
		return nil, err
	}
	e.At = fromNanos(at)
	return &e, nil
}

func (s *sqlStore) AuditLogs(ctx context.Context, f AuditFilter) ([]*AuditEntry, error) {
	query, args := auditWhere(f.TenantID, f.From, f.To, f.RequestID)
	if f.Limit <= 0 || f.Limit > 10000 {
		f.Limit = 1000
	}
	query += " ORDER BY seq LIMIT " + strconv.Itoa(f.Limit)
	rows, err := s.r.QueryContext(ctx, s.q(query), args...)
	out, err := collect(rows, err, scanAudit)
	if out == nil && err == nil {
		out = []*AuditEntry{}
	}
	return out, err
}

// auditWhere selects a tenant's audit entries in [from, to] (zero: open)
// with requestID (empty: any), for AuditLogs and AuditPage to extend.
func auditWhere(tenantID string, from, to time.Time, requestID string) (string, []any) {
	query, args := "SELECT "+auditCols+" FROM audit_log WHERE tenant_id = ?", []any{tenantID}
	if !from.IsZero() {
		query += " AND at >= ?"
		args = append(args, nanos(from))
	}
	if !to.IsZero() {
		query += " AND at <= ?"
		args = append(args, nanos(to))
	}
	if requestID != "" {
		query += " AND request_id = ?"
		args = append(args, requestID)
	}
	return query, args
}

func (s *sqlStore) VerifyAudit(ctx context.Context, tenantID string) (int, error) {
	if err := s.auditReady(); err != nil {
		return 0, err
	}
	rows, err := s.r.QueryContext(ctx, s.q("SELECT "+auditCols+" FROM audit_log WHERE tenant_id = ? ORDER BY seq"), tenantID)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	prev := make([]byte, 32)
	n := 0
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return n, err
		}
		n++
		if e.Seq != int64(n) {
			return n, fmt.Errorf("%w: entry %d missing (found %d)", ErrAuditBroken, n, e.Seq)
		}
		if !bytes.Equal(e.PrevHash, prev) || !bytes.Equal(s.chainHash(e, prev), e.Hash) {
			return n, fmt.Errorf("%w: entry %d does not match its hash", ErrAuditBroken, e.Seq)
		}
		prev = e.Hash
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	var seq int64
	var head []byte
	err = s.row(ctx, "SELECT seq, hash FROM audit_heads WHERE tenant_id = ?", tenantID).Scan(&seq, &head)
	if err == nil && (seq != int64(n) || !bytes.Equal(head, prev)) {
		return n, fmt.Errorf("%w: head is entry %d but the log ends at %d (entries removed?)", ErrAuditBroken, seq, n)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return n, err
	}
	if errors.Is(err, sql.ErrNoRows) && n > 0 {
		return n, fmt.Errorf("%w: no head", ErrAuditBroken)
	}
	return n, nil
}

// ---- link keys ----

func (s *sqlStore) CreateLinkKey(ctx context.Context, k *LinkKey) error {
	_, err := s.exec(ctx, "INSERT INTO link_keys (kid, tenant_id, public_key, private_key, active, created_at, retired_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		k.KID, k.TenantID, k.Public, k.Private, b2i(k.Active), nanos(k.CreatedAt), nanos(k.RetiredAt))
	if s.isUnique(err) {
		return ErrExists
	}
	return err
}

func (s *sqlStore) LinkKeys(ctx context.Context) ([]*LinkKey, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT kid, tenant_id, public_key, private_key, active, created_at, retired_at FROM link_keys ORDER BY created_at, kid")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*LinkKey
	for rows.Next() {
		var k LinkKey
		var act int
		var c, r int64
		if err := rows.Scan(&k.KID, &k.TenantID, &k.Public, &k.Private, &act, &c, &r); err != nil {
			return nil, err
		}
		k.Active, k.CreatedAt, k.RetiredAt = act != 0, fromNanos(c), fromNanos(r)
		out = append(out, &k)
	}
	return out, rows.Err()
}

func (s *sqlStore) ActivateLinkKey(ctx context.Context, kid string, at time.Time) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck
	res, err := tx.ExecContext(ctx, s.q("UPDATE link_keys SET active = 1, retired_at = 0 WHERE kid = ?"), kid)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	// One active key per tenant: the others of the same tenant step back.
	if _, err := tx.ExecContext(ctx, s.q("UPDATE link_keys SET active = 0 WHERE kid <> ? AND tenant_id = (SELECT tenant_id FROM link_keys WHERE kid = ?)"), kid, kid); err != nil {
		return err
	}
	return tx.Commit()
}

// ---- CSC SADs ----

func (s *sqlStore) CreateSAD(ctx context.Context, x *SAD) error {
	_, err := s.exec(ctx, "INSERT INTO sads (id, tenant_id, credential_id, hashes, expires_at, used_at) VALUES (?, ?, ?, ?, ?, 0)",
		x.ID, x.TenantID, x.CredentialID, jsonBytes(x.Hashes), nanos(x.ExpiresAt))
	return err
}

func (s *sqlStore) UseSAD(ctx context.Context, tenantID, id string, now time.Time) (*SAD, error) {
	res, err := s.exec(ctx, "UPDATE sads SET used_at = ? WHERE tenant_id = ? AND id = ? AND used_at = 0 AND expires_at > ?", nanos(now), tenantID, id, nanos(now))
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, ErrSADInvalid
	}
	var x SAD
	var hashes []byte
	var exp, used int64
	if err := s.w.QueryRowContext(ctx, s.q("SELECT id, tenant_id, credential_id, hashes, expires_at, used_at FROM sads WHERE id = ?"), id).
		Scan(&x.ID, &x.TenantID, &x.CredentialID, &hashes, &exp, &used); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(hashes, &x.Hashes); err != nil {
		return nil, err
	}
	x.ExpiresAt, x.UsedAt = fromNanos(exp), fromNanos(used)
	return &x, nil
}

func (s *sqlStore) PeekSAD(ctx context.Context, id string, now time.Time) (*SAD, error) {
	var x SAD
	var hashes []byte
	var exp, used int64
	if err := s.w.QueryRowContext(ctx, s.q("SELECT id, tenant_id, credential_id, hashes, expires_at, used_at FROM sads WHERE id = ? AND used_at = 0 AND expires_at > ?"), id, nanos(now)).
		Scan(&x.ID, &x.TenantID, &x.CredentialID, &hashes, &exp, &used); err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal(hashes, &x.Hashes); err != nil {
		return nil, err
	}
	x.ExpiresAt, x.UsedAt = fromNanos(exp), fromNanos(used)
	return &x, nil
}

// ---- CSC OAuth requests ----

func (s *sqlStore) CreateOAuthRequest(ctx context.Context, r *OAuthRequest) error {
	_, err := s.exec(ctx, "INSERT INTO oauth_requests (id, tenant_id, data, status, code_hash, expires_at) VALUES (?, ?, ?, 'pending', NULL, ?)",
		r.ID, r.TenantID, jsonBytes(r), nanos(r.ExpiresAt))
	return err
}

func (s *sqlStore) scanOAuth(row *sql.Row) (*OAuthRequest, error) {
	var data []byte
	var status string
	if err := row.Scan(&data, &status); err != nil {
		return nil, notFound(err)
	}
	var r OAuthRequest
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("gateway: stored OAuth request: %w", err)
	}
	r.Status = status
	return &r, nil
}

func (s *sqlStore) OAuthRequest(ctx context.Context, id string) (*OAuthRequest, error) {
	return s.scanOAuth(s.w.QueryRowContext(ctx, s.q("SELECT data, status FROM oauth_requests WHERE id = ?"), id))
}

func (s *sqlStore) ApproveOAuthRequest(ctx context.Context, id, codeHash string, codeExpires, now time.Time) error {
	res, err := s.exec(ctx, "UPDATE oauth_requests SET status = 'approved', code_hash = ?, code_expires_at = ? WHERE id = ? AND status = 'pending' AND expires_at > ?",
		codeHash, nanos(codeExpires), id, nanos(now))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *sqlStore) RedeemOAuthCode(ctx context.Context, codeHash string, now time.Time) (*OAuthRequest, error) {
	res, err := s.exec(ctx, "UPDATE oauth_requests SET status = 'used' WHERE code_hash = ? AND status = 'approved' AND code_expires_at > ?", codeHash, nanos(now))
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, ErrNotFound
	}
	return s.scanOAuth(s.w.QueryRowContext(ctx, s.q("SELECT data, status FROM oauth_requests WHERE code_hash = ?"), codeHash))
}

// ---- dev outbox ----

func (s *sqlStore) PutDevOTP(ctx context.Context, m *DevOTP, now time.Time) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q("DELETE FROM dev_otp_outbox WHERE expires_at <= ?"), nanos(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO dev_otp_outbox (otp_id, tenant_id, user_id, purpose, summary, sealed, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`), m.OTPID, m.TenantID, m.UserID, m.Purpose, m.Summary, m.Sealed, nanos(m.ExpiresAt))
		if s.isUnique(err) {
			return ErrExists
		}
		return err
	})
}

func (s *sqlStore) DevOTP(ctx context.Context, otpID string, now time.Time) (*DevOTP, error) {
	m := &DevOTP{OTPID: otpID}
	var exp int64
	err := s.row(ctx, "SELECT tenant_id, user_id, purpose, summary, sealed, expires_at FROM dev_otp_outbox WHERE otp_id = ? AND expires_at > ?", otpID, nanos(now)).
		Scan(&m.TenantID, &m.UserID, &m.Purpose, &m.Summary, &m.Sealed, &exp)
	if err != nil {
		return nil, notFound(err)
	}
	m.ExpiresAt = fromNanos(exp)
	return m, nil
}

// ---- settings ----

func (s *sqlStore) Setting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	if err := s.row(ctx, "SELECT value FROM settings WHERE name = ?", name).Scan(&v); err != nil {
		return nil, notFound(err)
	}
	return v, nil
}

func (s *sqlStore) PutSetting(ctx context.Context, name string, value []byte, onlyIfAbsent bool) ([]byte, error) {
	if onlyIfAbsent {
		if _, err := s.exec(ctx, "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING", name, value); err != nil {
			return nil, err
		}
		var v []byte
		err := s.w.QueryRowContext(ctx, s.q("SELECT value FROM settings WHERE name = ?"), name).Scan(&v)
		return v, err
	}
	_, err := s.exec(ctx, "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value", name, value)
	return value, err
}
