package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// errDocUnavailable marks a document this instance cannot reach (missing,
// or its store unreachable): not the fault of a signer's result, so the
// result is kept and the caller asked to retry.
var errDocUnavailable = errors.New("document not reachable")

// docStore holds prepared and signed PDFs by name. Documents are written
// locally first (temp files under <data>/files, where pdf.Prepare, Sign and
// Finish work) and then saved; reads hand back a local file. The local
// directory serves one instance (SQLite); PostgreSQL large objects serve
// any number of instances sharing nothing but the database.
type docStore interface {
	// Save moves the complete local file tmp into the store as name;
	// tmp is gone afterwards (whatever the outcome).
	Save(ctx context.Context, name, tmp string) error
	// Has reports whether name is stored.
	Has(ctx context.Context, name string) (bool, error)
	// Open returns a readable local copy of name and a function that
	// closes (and, for a copy, removes) it. A missing document is
	// errDocUnavailable.
	Open(ctx context.Context, name string) (*os.File, func(), error)
	// Remove deletes name; a missing one is no error.
	Remove(ctx context.Context, name string) error
	// Sweep removes prepared documents created before prepared and every
	// document created before all (zero: none).
	Sweep(ctx context.Context, prepared, all time.Time) (int, error)
}

// dirDocs keeps documents as files in one directory.
type dirDocs struct{ dir string }

func (d dirDocs) path(name string) string { return filepath.Join(d.dir, filepath.Base(name)) }

func (d dirDocs) Save(_ context.Context, name, tmp string) error {
	if err := os.Rename(tmp, d.path(name)); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func (d dirDocs) Has(_ context.Context, name string) (bool, error) {
	_, err := os.Stat(d.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (d dirDocs) Open(_ context.Context, name string) (*os.File, func(), error) {
	f, err := os.Open(d.path(name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: %s", errDocUnavailable, filepath.Base(name))
		}
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

func (d dirDocs) Remove(_ context.Context, name string) error {
	if err := os.Remove(d.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (d dirDocs) Sweep(_ context.Context, prepared, all time.Time) (int, error) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".pdf") {
			continue
		}
		cut := all
		if strings.HasSuffix(name, ".prepared.pdf") && prepared.After(cut) {
			cut = prepared
		}
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(cut) {
			continue
		}
		if os.Remove(filepath.Join(d.dir, name)) == nil {
			n++
		}
	}
	return n, nil
}

// pgDocs keeps documents as PostgreSQL large objects, listed in the
// documents table. Both move in 64 KB pieces: a 50 MB PDF is never held
// in memory, on either side.
type pgDocs struct {
	pool *pgxpool.Pool
	tmp  string // local directory for working copies
	now  func() time.Time
}

func (p *pgDocs) Save(ctx context.Context, name, tmp string) error {
	defer os.Remove(tmp)
	f, err := os.Open(tmp)
	if err != nil {
		return err
	}
	defer f.Close()
	name = filepath.Base(name)
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		los := tx.LargeObjects()
		oid, err := los.Create(ctx, 0)
		if err != nil {
			return err
		}
		lo, err := los.Open(ctx, oid, pgx.LargeObjectModeWrite)
		if err != nil {
			return err
		}
		n, err := io.CopyBuffer(lo, f, make([]byte, 64<<10))
		if err != nil {
			return err
		}
		if err := lo.Close(); err != nil {
			return err
		}
		// A name saved twice (a finish run again after a crash) keeps
		// the first: the large object of this one goes with the rollback.
		tag, err := tx.Exec(ctx, `INSERT INTO documents (name, oid, size, prepared, created_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (name) DO NOTHING`, name, oid, n, strings.HasSuffix(name, ".prepared.pdf"), p.now().UnixNano())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return los.Unlink(ctx, oid)
		}
		return nil
	})
}

func (p *pgDocs) Has(ctx context.Context, name string) (bool, error) {
	var n int
	err := p.pool.QueryRow(ctx, `SELECT COUNT(*) FROM documents WHERE name = $1`, filepath.Base(name)).Scan(&n)
	return n > 0, err
}

func (p *pgDocs) Open(ctx context.Context, name string) (*os.File, func(), error) {
	f, err := os.CreateTemp(p.tmp, "doc-*.tmp")
	if err != nil {
		return nil, nil, err
	}
	done := func() { f.Close(); os.Remove(f.Name()) }
	err = pgx.BeginTxFunc(ctx, p.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var oid uint32
		if err := tx.QueryRow(ctx, `SELECT oid FROM documents WHERE name = $1`, filepath.Base(name)).Scan(&oid); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("%w: %s", errDocUnavailable, filepath.Base(name))
			}
			return err
		}
		los := tx.LargeObjects()
		lo, err := los.Open(ctx, oid, pgx.LargeObjectModeRead)
		if err != nil {
			return err
		}
		defer lo.Close()
		_, err = io.CopyBuffer(f, lo, make([]byte, 64<<10))
		return err
	})
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		done()
		return nil, nil, err
	}
	return f, done, nil
}

func (p *pgDocs) Remove(ctx context.Context, name string) error {
	_, err := p.pool.Exec(ctx, `WITH d AS (DELETE FROM documents WHERE name = $1 RETURNING oid) SELECT lo_unlink(oid) FROM d`, filepath.Base(name))
	return err
}

func (p *pgDocs) Sweep(ctx context.Context, prepared, all time.Time) (int, error) {
	tag, err := p.pool.Exec(ctx, `WITH d AS (DELETE FROM documents WHERE (prepared AND created_at < $1) OR created_at < $2 RETURNING oid)
		SELECT lo_unlink(oid) FROM d`, nanosOrMin(prepared), nanosOrMin(all))
	return int(tag.RowsAffected()), err
}

// newDocStore picks the document store for st: PostgreSQL's when the
// store is PostgreSQL, the directory otherwise.
func newDocStore(st Store, dir string, now func() time.Time) docStore {
	if pg, ok := st.(*pgStore); ok {
		return &pgDocs{pool: pg.pool, tmp: dir, now: now}
	}
	return dirDocs{dir: dir}
}

// nanosOrMin is t in Unix nanoseconds, the zero time before every other.
func nanosOrMin(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}

// docUnavailable answers a document this instance cannot reach with 503
// (retry; another instance or a later attempt may reach it), naming no
// internal path or database detail.
func docUnavailable(err error) error {
	if errors.Is(err, errDocUnavailable) {
		return &apiError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Msg: "the document is not reachable now; retry", Err: err}
	}
	return err
}

// publicFinishError is what a session that could not be finished shows
// its portal: the pdf package's reason, never a path or database detail.
func publicFinishError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return "the signed document could not be written"
	}
	return err.Error()
}
