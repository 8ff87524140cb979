package gateway

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgStore is the PostgreSQL store: sqlStore's SQL for most of it, pgx
// itself (prepared statements, pipelining) for what every signing session
// does: create and complete sessions, read them, read API keys and
// append audit entries.
//
// Writes of concurrent callers share one transaction (group commit, as
// with SQLite): one row lock of each tenant's audit head, one commit and
// its WAL flush, and multi-row statements for N sessions and their audit
// entries, in two pipelined round trips. Nothing is acknowledged before
// the commit that holds it. Several gateways may share the database: each
// batch locks the heads of its tenants (in tenant order) after it has
// written its sessions, so batches of different processes for one tenant
// serialize on the head, for as short a time as the chain allows, and the
// chain stays whole.
type pgStore struct {
	*sqlStore
	pool *pgxpool.Pool

	ops      chan *pgOp
	stopOps  chan struct{}
	opsEnd   chan struct{}
	pgClose  sync.Once
	pgClosed error

	listen pgListener // LISTEN securesign_invalidate (invalidate.go)
}

// pgMaxBatch bounds how many callers' writes share one transaction.
const pgMaxBatch = 128

// pgBatchTimeout bounds one batch's transaction: a hung connection must
// not stall every writer of the process forever.
const pgBatchTimeout = 30 * time.Second

// openPostgres opens the PostgreSQL store on dsn (see OpenPostgres).
func openPostgres(ctx context.Context, dsn string) (*pgStore, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("gateway: postgres: %w", err)
	}
	cfg.MaxConns = 32
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("gateway: open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("gateway: postgres: %w", err)
	}
	// The rest of the store runs on database/sql, in its own small pool:
	// a *sql.DB on top of pgxpool keeps no idle connections and would
	// prepare its statements again on every call.
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("gateway: open postgres: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	base := &sqlStore{w: db, r: db, postgres: true, boot: randomHex(8), closers: []func() error{db.Close}}
	err = base.migrate(ctx)
	if err == nil {
		err = base.loadKeying(ctx)
	}
	if err != nil {
		db.Close()
		pool.Close()
		return nil, err
	}
	s := &pgStore{sqlStore: base, pool: pool, ops: make(chan *pgOp), stopOps: make(chan struct{}), opsEnd: make(chan struct{})}
	go s.committer()
	// Listening from the start also takes the liveness lock.
	s.subscribe(func(string) {})
	base.ownerGone = s.ownerGone
	return s, nil
}

// sqlBase is the database/sql store under s (PKIStore and tests use it).
func (s *sqlStore) sqlBase() *sqlStore { return s }

// sqlBaseOf returns the database/sql store under a store opened by
// OpenSQLite or OpenPostgres.
func sqlBaseOf(s Store) (*sqlStore, bool) {
	b, ok := s.(interface{ sqlBase() *sqlStore })
	if !ok {
		return nil, false
	}
	return b.sqlBase(), true
}

// Close stops taking writes (the batch in hand commits), then closes
// the connections. Later calls return the first one's error.
func (s *pgStore) Close() error {
	s.pgClose.Do(func() {
		close(s.stopOps)
		<-s.opsEnd
		s.listen.stop()
		s.pgClosed = s.sqlStore.Close()
		s.pool.Close()
	})
	return s.pgClosed
}

func (s *pgStore) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// ---- reads ----

const (
	pgQAPIKey = `SELECT k.id, k.tenant_id, k.name, k.hash, k.live, k.created_at, k.revoked_at, t.disabled
		FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.id = $1`
	pgQSessionByID = "SELECT " + sessionCols + " FROM sessions WHERE request_id = $1"
	pgQSession     = "SELECT " + sessionCols + " FROM sessions WHERE tenant_id = $1 AND request_id = $2"
)

func (s *pgStore) APIKey(ctx context.Context, id string) (*APIKey, error) {
	var k APIKey
	var h []byte
	var live, dis int
	var c, r int64
	err := s.pool.QueryRow(ctx, pgQAPIKey, id).Scan(&k.ID, &k.TenantID, &k.Name, &h, &live, &c, &r, &dis)
	if err != nil {
		return nil, notFound(err)
	}
	k.Hash, k.Live, k.CreatedAt, k.RevokedAt, k.TenantDisabled = to32(h), live != 0, fromNanos(c), fromNanos(r), dis != 0
	return &k, nil
}

func (s *pgStore) Session(ctx context.Context, tenantID, requestID string) (*Session, error) {
	return scanSession(s.pool.QueryRow(ctx, pgQSession, tenantID, requestID))
}

func (s *pgStore) SessionByID(ctx context.Context, requestID string) (*Session, error) {
	return scanSession(s.pool.QueryRow(ctx, pgQSessionByID, requestID))
}

// ---- writes ----

type pgOpKind uint8

const (
	pgCreate   pgOpKind = iota // insert sess (and audit)
	pgComplete                 // compare and set a completion (and audit if it wins)
	pgAppend                   // append audit
)

// A pgOp is one caller's write, run by the committer.
type pgOp struct {
	kind   pgOpKind
	sess   *Session // pgCreate
	hashes []byte   // pgCreate: sess.Hashes encoded
	reqID  string   // pgComplete
	status string   // pgComplete
	comp   []byte   // pgComplete: the encoded completion
	audit  *AuditEntry

	// The outcome, valid once done is closed.
	err    error
	won    bool       // pgComplete: this completion was stored
	stored []byte     // pgComplete, lost: the completion stored before
	entry  AuditEntry // audit as written, copied to it once committed
	done   chan struct{}
}

// key is the session the op writes, "" for none: one transaction holds
// at most one op per session, so its statements need no order among rows.
func (o *pgOp) key() string {
	switch o.kind {
	case pgCreate:
		return o.sess.RequestID
	case pgComplete:
		return o.reqID
	}
	return ""
}

// do hands op to the committer and waits for its outcome. Once taken, the
// op runs to its commit whatever ctx does: the caller learns the outcome.
func (s *pgStore) do(ctx context.Context, op *pgOp) error {
	op.done = make(chan struct{})
	select {
	case s.ops <- op:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stopOps:
		return errStoreClosed
	}
	<-op.done
	return op.err
}

func (s *pgStore) CreateSession(ctx context.Context, x *Session, audit *AuditEntry) error {
	if x.Status == "" {
		x.Status = StatusPending
	}
	if audit != nil {
		if err := s.auditReady(); err != nil {
			return err
		}
	}
	return s.do(ctx, &pgOp{kind: pgCreate, sess: x, hashes: jsonBytes(x.Hashes), audit: audit})
}

func (s *pgStore) CompleteSession(ctx context.Context, requestID string, c *Completion, audit *AuditEntry) (*Completion, bool, error) {
	status := StatusFailed
	if c.Success {
		status = StatusSigned
	}
	if audit != nil {
		if err := s.auditReady(); err != nil {
			return nil, false, err
		}
	}
	op := &pgOp{kind: pgComplete, reqID: requestID, status: status, comp: encodeCompletion(c), audit: audit}
	if err := s.do(ctx, op); err != nil {
		return nil, false, err
	}
	if op.won {
		return c, true, nil
	}
	stored, err := decodeCompletion(op.stored)
	if err != nil {
		return nil, false, err
	}
	return stored, false, nil
}

func (s *pgStore) AppendAudit(ctx context.Context, e *AuditEntry) error {
	if err := s.auditReady(); err != nil {
		return err
	}
	return s.do(ctx, &pgOp{kind: pgAppend, audit: e})
}

// committer runs the waiting writes in batches until the store closes.
func (s *pgStore) committer() {
	defer close(s.opsEnd)
	w := &pgWriter{pool: s.pool, base: s.sqlStore}
	defer w.close()
	var waiting []*pgOp
	for {
		if len(waiting) == 0 {
			select {
			case op := <-s.ops:
				waiting = append(waiting, op)
			case <-s.stopOps:
				return
			}
		}
	more:
		for len(waiting) < pgMaxBatch {
			select {
			case op := <-s.ops:
				waiting = append(waiting, op)
			default:
				break more
			}
		}
		var batch []*pgOp
		batch, waiting = splitBatch(waiting)
		w.run(batch)
	}
}

// splitBatch returns the ops of waiting that go in the next transaction:
// a second op on a session already in it waits for the one after, so the
// statements of a batch need no order among their rows.
func splitBatch(waiting []*pgOp) (batch, later []*pgOp) {
	keys := make(map[string]bool, len(waiting))
	for _, op := range waiting {
		if k := op.key(); k != "" {
			if keys[k] {
				later = append(later, op)
				continue
			}
			keys[k] = true
		}
		batch = append(batch, op)
	}
	return batch, later
}

// A pgWriter commits batches of writes, all on one connection: one server
// process keeps their statements prepared. One goroutine at a time uses
// it.
type pgWriter struct {
	pool *pgxpool.Pool
	conn *pgxpool.Conn // nil until needed, and after a failure
	base *sqlStore     // the audit chain's key
}

// chainHash links e under the store's audit key (unkeyed without a store:
// writers made by tests).
func (w *pgWriter) chainHash(e *AuditEntry, prev []byte) []byte {
	if w.base == nil {
		return auditHash(e, prev)
	}
	return w.base.chainHash(e, prev)
}

// run commits ops in one transaction and closes their done channels. If
// the transaction fails (PostgreSQL refuses it whole for one op's bad
// value), each op runs in its own, so one caller's error is not the
// others'.
func (w *pgWriter) run(ops []*pgOp) {
	ctx, cancel := context.WithTimeout(context.Background(), pgBatchTimeout)
	defer cancel()
	unknown, err := w.commit(ctx, ops)
	if err != nil && len(ops) > 1 && !unknown {
		// Nothing of the batch committed: running the ops again cannot
		// repeat one.
		for _, op := range ops {
			if _, err := w.commit(ctx, []*pgOp{op}); err != nil {
				op.err = err
			}
			close(op.done)
		}
		return
	}
	for _, op := range ops {
		if err != nil {
			op.err = err
		}
		close(op.done)
	}
}

func (w *pgWriter) close() {
	if w.conn != nil {
		w.conn.Release()
		w.conn = nil
	}
}

// acquire returns the writer's connection. Its statements are planned on
// every call (custom plans): a plan cached while the sessions table was
// small would scan the whole table once it has grown (the join of a
// batch's completions with the sessions), and a batch's size changes
// anyway. Every statement of the writer finds its rows through a key, so
// sequential scans are off: a small table's statistics made the planner
// scan it for the replacement of failures (few rows are failed), and
// such a plan's cost grows with the table (TestPGWriterPlansFollowGrowth).
func (w *pgWriter) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	if w.conn != nil {
		return w.conn, nil
	}
	c, err := w.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := c.Exec(ctx, "SET plan_cache_mode = force_custom_plan; SET enable_seqscan = off"); err != nil {
		c.Release()
		return nil, err
	}
	w.conn = c
	return c, nil
}

// The statements of a batch. Rows go in as arrays (unnest), so a batch of
// any size is one prepared statement.
const (
	pgLockHeads = "SELECT tenant_id, seq, hash FROM audit_heads WHERE tenant_id = ANY($1) ORDER BY tenant_id FOR UPDATE"
	// A tenant's first entry: its head starts at seq 0 (the zero hash),
	// so that the batch can lock it like any other.
	pgNewHeads       = "INSERT INTO audit_heads (tenant_id, seq, hash) SELECT t, 0, $2 FROM unnest($1::text[]) AS t ON CONFLICT (tenant_id) DO NOTHING"
	pgInsertSessions = `INSERT INTO sessions (request_id, tenant_id, kind, action, hashes, hash_algo, origin, challenge, cert_serial, cert_sha256,
		user_id, callback_url, return_url, doc, state, output, expires_at, created_at, status)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::text[], $8::bytea[], $9::text[], $10::bytea[],
			$11::text[], $12::text[], $13::text[], $14::text[], $15::bytea[], $16::bytea[], $17::bigint[], $18::bigint[], $19::text[])
		ON CONFLICT (request_id) DO NOTHING RETURNING request_id`
	// The compare and set: a pending session takes any completion, a
	// failed one only a success (PROTOCOL 1.1 §3), in a second statement
	// of the batch (an OR here makes the planner scan the table).
	pgReplaceFailures = `UPDATE sessions SET status = v.status, completion = v.completion
		FROM unnest($1::text[], $2::text[], $3::bytea[]) AS v(request_id, status, completion)
		WHERE sessions.request_id = v.request_id AND sessions.status = 'failed' RETURNING sessions.request_id`
	pgCompleteSessions = `UPDATE sessions SET status = v.status, completion = v.completion
		FROM unnest($1::text[], $2::text[], $3::bytea[]) AS v(request_id, status, completion)
		WHERE sessions.request_id = v.request_id AND sessions.status = 'pending' RETURNING sessions.request_id`
	pgCompletions = "SELECT request_id, completion FROM sessions WHERE request_id = ANY($1)"
	pgAppendAudit = `WITH head AS (UPDATE audit_heads SET seq = h.seq, hash = h.hash
			FROM unnest($1::text[], $2::bigint[], $3::bytea[]) AS h(tenant_id, seq, hash) WHERE audit_heads.tenant_id = h.tenant_id)
		INSERT INTO audit_log (tenant_id, seq, at, actor, action, origin, request_id, cert_serial, doc_hash, outcome, detail, prev_hash, hash)
		SELECT * FROM unnest($4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
			$13::text[], $14::text[], $15::bytea[], $16::bytea[])`
)

type pgHead struct {
	seq  int64
	hash []byte
}

// commit runs ops in one transaction and, once it has committed, leaves
// each op's outcome in it. Round trip 1: BEGIN, insert and complete the
// sessions, lock the audit heads of the ops' tenants. Round trip 2: read
// the losers' completions, write the audit entries of the ops that took
// effect and the heads, COMMIT. unknown reports an error that leaves the
// outcome unknown: the connection failed with COMMIT on its way.
func (w *pgWriter) commit(ctx context.Context, ops []*pgOp) (unknown bool, err error) {
	conn, err := w.acquire(ctx)
	if err != nil {
		return false, err
	}
	committing := false
	defer func() {
		if err == nil {
			return
		}
		var pgErr *pgconn.PgError
		unknown = committing && !errors.As(err, &pgErr)
		pc := conn.Conn().PgConn()
		if !pc.IsClosed() && pc.TxStatus() != 'I' {
			conn.Exec(ctx, "ROLLBACK") //nolint:errcheck
		}
		if pc.IsClosed() || pc.TxStatus() != 'I' {
			w.close() // the pool drops it
		}
	}()

	var tenants []string
	var ins sessionCols19
	var cIDs, cStatus, sIDs, sStatus []string
	var cComp, sComp [][]byte
	for _, op := range ops {
		op.err, op.won, op.stored = nil, false, nil
		if op.audit != nil && !slices.Contains(tenants, op.audit.TenantID) {
			tenants = append(tenants, op.audit.TenantID)
		}
		switch op.kind {
		case pgCreate:
			ins.add(op.sess, op.hashes)
		case pgComplete:
			cIDs, cStatus, cComp = append(cIDs, op.reqID), append(cStatus, op.status), append(cComp, op.comp)
			if op.status == StatusSigned {
				sIDs, sStatus, sComp = append(sIDs, op.reqID), append(sStatus, op.status), append(sComp, op.comp)
			}
		}
	}
	// Heads are locked in tenant order: batches of several processes
	// cannot deadlock on them.
	slices.Sort(tenants)

	b := &pgx.Batch{}
	b.Queue("BEGIN")
	inserted := make(map[string]bool, len(ins.id))
	if len(ins.id) > 0 {
		b.Queue(pgInsertSessions, ins.args()...).Query(func(rows pgx.Rows) error { return scanIDs(rows, inserted) })
	}
	won := make(map[string]bool, len(cIDs))
	if len(cIDs) > 0 {
		b.Queue(pgCompleteSessions, cIDs, cStatus, cComp).Query(func(rows pgx.Rows) error { return scanIDs(rows, won) })
	}
	if len(sIDs) > 0 {
		// Successes that found their session not pending may replace a
		// recorded failure. A session the statement before completed is
		// no longer failed (one op per session in a batch), so this
		// matches exactly the ones it did not take.
		b.Queue(pgReplaceFailures, sIDs, sStatus, sComp).Query(func(rows pgx.Rows) error { return scanIDs(rows, won) })
	}
	// The heads last: a tenant's batches of several processes serialize
	// on its head, so it is held only from here to COMMIT (one round
	// trip), not while the session rows are written. No row lock is
	// taken after it (sqlStore's transactions also write their rows
	// first), so a session and a head cannot deadlock two batches.
	heads := make(map[string]*pgHead, len(tenants))
	if len(tenants) > 0 {
		b.Queue(pgLockHeads, tenants).Query(func(rows pgx.Rows) error { return scanHeads(rows, heads) })
	}
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return false, err
	}
	var missing []string
	for _, t := range tenants {
		if heads[t] == nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		b := &pgx.Batch{}
		b.Queue(pgNewHeads, missing, make([]byte, 32))
		b.Queue(pgLockHeads, missing).Query(func(rows pgx.Rows) error { return scanHeads(rows, heads) })
		if err := conn.SendBatch(ctx, b).Close(); err != nil {
			return false, err
		}
		for _, t := range missing {
			if heads[t] == nil {
				return false, fmt.Errorf("gateway: audit head of %q missing", t)
			}
		}
	}

	// The ops' outcomes and, in their order, the audit entries of those
	// that took effect.
	var au auditCols13
	var losers []string
	for _, op := range ops {
		switch op.kind {
		case pgCreate:
			if !inserted[op.sess.RequestID] {
				op.err = ErrExists
				continue
			}
		case pgComplete:
			if !won[op.reqID] {
				losers = append(losers, op.reqID)
				continue
			}
			op.won = true
		}
		if op.audit == nil {
			continue
		}
		e := *op.audit
		if e.At.IsZero() {
			e.At = time.Now()
		}
		e.At = fromNanos(nanos(e.At))
		h := heads[e.TenantID]
		e.Seq, e.PrevHash = h.seq+1, h.hash
		e.Hash = w.chainHash(&e, e.PrevHash)
		h.seq, h.hash = e.Seq, e.Hash
		op.entry = e
		au.add(&e)
	}
	b = &pgx.Batch{}
	stored := make(map[string][]byte, len(losers))
	if len(losers) > 0 {
		// Read in this transaction, after the compare and set: a
		// concurrent winner has committed by now.
		b.Queue(pgCompletions, losers).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id string
				var c []byte
				if err := rows.Scan(&id, &c); err != nil {
					return err
				}
				stored[id] = c
			}
			return rows.Err()
		})
	}
	if len(au.tenant) > 0 {
		var ht []string
		var hs []int64
		var hh [][]byte
		for _, t := range tenants {
			if slices.Contains(au.tenant, t) {
				ht, hs, hh = append(ht, t), append(hs, heads[t].seq), append(hh, heads[t].hash)
			}
		}
		b.Queue(pgAppendAudit, append([]any{ht, hs, hh}, au.args()...)...)
	}
	b.Queue("COMMIT")
	committing = true
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return false, err
	}
	for _, op := range ops {
		switch {
		case op.kind == pgComplete && !op.won:
			c, ok := stored[op.reqID]
			if !ok {
				op.err = ErrNotFound
			}
			op.stored = c
		case op.err == nil && op.audit != nil:
			*op.audit = op.entry
		}
	}
	return false, nil
}

func scanHeads(rows pgx.Rows, heads map[string]*pgHead) error {
	for rows.Next() {
		var t string
		var h pgHead
		if err := rows.Scan(&t, &h.seq, &h.hash); err != nil {
			return err
		}
		heads[t] = &h
	}
	return rows.Err()
}

func scanIDs(rows pgx.Rows, ids map[string]bool) error {
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		ids[id] = true
	}
	return rows.Err()
}

// sessionCols19 holds new sessions column by column (pgInsertSessions).
type sessionCols19 struct {
	id, tenant, kind, action []string
	hashes                   [][]byte
	algo, origin             []string
	challenge                [][]byte
	serial                   []string
	certSHA                  [][]byte
	user, callback, ret, doc []string
	state, output            [][]byte
	expires, created         []int64
	status                   []string
}

func (c *sessionCols19) add(x *Session, hashes []byte) {
	c.id, c.tenant, c.kind, c.action = append(c.id, x.RequestID), append(c.tenant, x.TenantID), append(c.kind, x.Kind), append(c.action, x.Action)
	c.hashes, c.algo, c.origin = append(c.hashes, hashes), append(c.algo, x.HashAlgo), append(c.origin, x.Origin)
	c.challenge, c.serial, c.certSHA = append(c.challenge, x.Challenge), append(c.serial, x.CertSerial), append(c.certSHA, x.CertSHA256)
	c.user, c.callback, c.ret, c.doc = append(c.user, x.UserID), append(c.callback, x.CallbackURL), append(c.ret, x.ReturnURL), append(c.doc, x.Doc)
	c.state, c.output = append(c.state, x.State), append(c.output, x.Output)
	c.expires, c.created, c.status = append(c.expires, nanos(x.ExpiresAt)), append(c.created, nanos(x.CreatedAt)), append(c.status, x.Status)
}

func (c *sessionCols19) args() []any {
	return []any{c.id, c.tenant, c.kind, c.action, c.hashes, c.algo, c.origin, c.challenge, c.serial, c.certSHA,
		c.user, c.callback, c.ret, c.doc, c.state, c.output, c.expires, c.created, c.status}
}

// auditCols13 holds audit entries column by column (pgAppendAudit).
type auditCols13 struct {
	tenant                                                         []string
	seq, at                                                        []int64
	actor, action, origin, reqID, serial, docHash, outcome, detail []string
	prev, hash                                                     [][]byte
}

func (c *auditCols13) add(e *AuditEntry) {
	c.tenant, c.seq, c.at = append(c.tenant, e.TenantID), append(c.seq, e.Seq), append(c.at, nanos(e.At))
	c.actor, c.action, c.origin, c.reqID = append(c.actor, e.Actor), append(c.action, e.Action), append(c.origin, e.Origin), append(c.reqID, e.RequestID)
	c.serial, c.docHash, c.outcome, c.detail = append(c.serial, e.CertSerial), append(c.docHash, e.DocHash), append(c.outcome, e.Outcome), append(c.detail, e.Detail)
	c.prev, c.hash = append(c.prev, e.PrevHash), append(c.hash, e.Hash)
}

func (c *auditCols13) args() []any {
	return []any{c.tenant, c.seq, c.at, c.actor, c.action, c.origin, c.reqID, c.serial, c.docHash, c.outcome, c.detail, c.prev, c.hash}
}

// livenessLockClass is the advisory lock class (two-key form, apart from
// the one-key migration lock) under which each open PostgreSQL store holds
// a session lock on its boot id, on its listening connection, for as long
// as it lives. A reservation whose owner's lock can be taken belongs to a
// process that is gone.
const livenessLockClass = 727273

// livenessLockID is the lock key of a boot id (FNV-1a, 32 bits: a
// collision only makes a dead owner look alive, which the age rule of
// IdempotencyAbandonAfter still ends).
func livenessLockID(boot string) int32 {
	h := fnv.New32a()
	h.Write([]byte(boot))
	return int32(h.Sum32())
}

// ownerGone reports whether the store that made a reservation is gone: its
// liveness lock is free (taken and released again at once). An error says
// "not gone": the age rule decides then.
func (s *pgStore) ownerGone(ctx context.Context, owner string) bool {
	var free bool
	err := s.pool.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1, $2)", livenessLockClass, livenessLockID(owner)).Scan(&free)
	return err == nil && free
}
