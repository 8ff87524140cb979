package gateway

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"runtime"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "modernc.org/sqlite"             // driver "sqlite"
)

// OpenSQLite opens (creating if needed) the SQLite database at path, in WAL
// mode with a busy timeout, and applies the migrations. Writes go through a
// single connection, so concurrent writers queue in Go instead of spinning
// on SQLite's lock; reads use a pool.
func OpenSQLite(ctx context.Context, path string) (Store, error) {
	params := url.Values{}
	// synchronous=NORMAL in WAL mode: a commit does not wait for the disk
	// (a process crash loses nothing; a power cut may lose the last
	// commits). Checkpoints, which do wait, run in the background on a
	// reader connection instead of inside whichever commit crosses the
	// automatic threshold; the writer only finishes them.
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)", "wal_autocheckpoint(0)"} {
		params.Add("_pragma", p)
	}
	params.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + params.Encode()
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("gateway: open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	s := &sqlStore{w: w, r: w, boot: randomHex(8), closers: []func() error{w.Close}}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if err := s.loadKeying(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if err := s.warm(ctx); err != nil {
		s.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(max(2, runtime.GOMAXPROCS(0)))
	s.r = r
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				checkpointWAL(r)
				// The writer copies the frames committed meanwhile, so
				// that the WAL can start over (see finishCheckpoint).
				select {
				case s.ckpt <- struct{}{}:
				default:
				}
			}
		}
	}()
	s.closers = append([]func() error{func() error { close(stop); <-done; return nil }, r.Close}, s.closers...)
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("gateway: sqlite %s: %w", path, err)
	}
	return s, nil
}

// OpenPostgres connects to PostgreSQL (a pgx DSN or URL; a search_path
// parameter selects the schema) and applies the migrations. Several gateway
// processes may share one database; each commits the writes of its
// concurrent callers together.
func OpenPostgres(ctx context.Context, dsn string) (Store, error) {
	return openPostgres(ctx, dsn) // pgstore.go
}

// checkpointWAL copies the WAL into the database while commits go on. A
// pass copies the frames there were when it began; while a pass had much
// to copy, another follows for what came meanwhile (each much shorter than
// the one before), so that little is left for the writer.
func checkpointWAL(r *sql.DB) {
	last := 0
	for range 3 {
		var busy, frames, copied int
		if err := r.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil || frames-last < 256 {
			return
		}
		last = frames
	}
}
