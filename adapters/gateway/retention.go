package gateway

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"
)

// checkDataDir refuses a data directory that others can read or enter:
// it holds the database (keys sealed under the master key, OTP hashes,
// signed documents), the dev master key and the files of sessions.
func checkDataDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("gateway: data directory: %w", err)
	}
	if m := st.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("gateway: data directory %s is open to other users (mode %04o): it holds the database and signed documents; run chmod 700 %s (and chmod 600 on the files in it)", dir, m, dir)
	}
	return nil
}

// prepareDBFile creates the SQLite database file 0600 before SQLite does
// (which would use the umask, typically 0644; its -wal and -shm files take
// the database file's mode), and narrows an existing one.
func prepareDBFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("gateway: database file: %w", err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("gateway: database file: %w", err)
		}
	}
	return nil
}

// purgeBefore deletes the sessions (their signatures, certificates,
// prepared states and outputs) and idempotency records made before t.
// Audit entries stay: they hold digests and serials, never documents.
func (s *sqlStore) purgeBefore(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q("DELETE FROM sessions WHERE created_at < ? AND status <> 'pending'"), nanos(t))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, s.q("DELETE FROM idempotency WHERE created_at < ?"), nanos(t))
		return err
	})
	return n, err
}

type purger interface {
	purgeBefore(ctx context.Context, t time.Time) (int64, error)
}

// applyRetention removes what is older than the retention period: signed
// PDFs under <data>/files and the stored sessions and idempotent answers.
func (s *Server) applyRetention(ctx context.Context, now time.Time) {
	if s.cfg.Retention < 0 {
		return
	}
	cut := now.Add(-s.cfg.Retention)
	files, err := s.docs.Sweep(ctx, cut, cut)
	if err != nil {
		s.log.Error("retention: documents", "err", err.Error())
	}
	var sessions int64
	if p, ok := s.store.(purger); ok {
		var err error
		if sessions, err = p.purgeBefore(ctx, cut); err != nil {
			s.log.Error("retention", "err", err.Error())
		}
	}
	if files > 0 || sessions > 0 {
		s.log.Info("retention: removed documents and sessions", "files", files, "sessions", sessions, "before", cut.UTC().Format(time.RFC3339))
	}
}
