package cadir

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // driver "sqlite"

	"github.com/securesign/securesign/pki"
)

// Store is a pki.Store in an SQLite database file (pure Go driver, WAL,
// synchronous=FULL), ca.db in a CA directory. All access goes through one
// connection: the CA writes rarely, and SQLite serialises writers anyway.
// It also keeps a persistent counter for the root CRL (NextRootCRLNumber),
// which pki.CA.RootCRL uses when present.
type Store struct {
	db *sql.DB
}

const sqliteSchema = `
CREATE TABLE IF NOT EXISTS pki_certificates (
	serial     TEXT PRIMARY KEY,
	der        BLOB NOT NULL,
	profile    TEXT NOT NULL,
	subject    TEXT NOT NULL,
	not_after  INTEGER NOT NULL,
	key_id     TEXT NOT NULL,
	issued_at  INTEGER NOT NULL,
	revoked_at INTEGER,
	reason     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS pki_certificates_revoked ON pki_certificates(revoked_at) WHERE revoked_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS pki_keys (
	id   TEXT PRIMARY KEY,
	blob BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS pki_counters (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
`

// OpenStore opens the database at path, creating the file and its tables
// if needed. Close it when done.
func OpenStore(ctx context.Context, path string) (*Store, error) {
	params := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)"} {
		params.Add("_pragma", p)
	}
	params.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("pki: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, sqliteSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("pki: sqlite schema in %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func serialKey(n *big.Int) string { return n.Text(16) }

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

// PutCertificate implements Store.
func (s *Store) PutCertificate(ctx context.Context, rec *pki.CertRecord) error {
	if rec == nil || rec.Serial == nil || rec.Serial.Sign() <= 0 || len(rec.DER) == 0 {
		return fmt.Errorf("pki: store: record needs a positive serial and a certificate")
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO pki_certificates
		(serial, der, profile, subject, not_after, key_id, issued_at, revoked_at, reason)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		serialKey(rec.Serial), rec.DER, rec.Profile, rec.Subject, nanos(rec.NotAfter), rec.KeyID, nanos(rec.IssuedAt),
		nullNanos(rec.RevokedAt), rec.Reason)
	if err != nil && isUniqueViolation(err) {
		return fmt.Errorf("%w: %x", pki.ErrSerialExists, rec.Serial)
	}
	return err
}

func nullNanos(t time.Time) sql.NullInt64 {
	return sql.NullInt64{Int64: nanos(t), Valid: !t.IsZero()}
}

func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// Certificate implements Store.
func (s *Store) Certificate(ctx context.Context, serial *big.Int) (*pki.CertRecord, error) {
	if serial == nil {
		return nil, fmt.Errorf("%w: no serial", pki.ErrNotFound)
	}
	var (
		r                  pki.CertRecord
		notAfter, issuedAt int64
		revokedAt          sql.NullInt64
	)
	err := s.db.QueryRowContext(ctx, `SELECT der, profile, subject, not_after, key_id, issued_at, revoked_at, reason
		FROM pki_certificates WHERE serial = ?`, serialKey(serial)).
		Scan(&r.DER, &r.Profile, &r.Subject, &notAfter, &r.KeyID, &issuedAt, &revokedAt, &r.Reason)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: certificate %x", pki.ErrNotFound, serial)
	}
	if err != nil {
		return nil, err
	}
	r.Serial = new(big.Int).Set(serial)
	r.NotAfter, r.IssuedAt = fromNanos(notAfter), fromNanos(issuedAt)
	if revokedAt.Valid {
		r.RevokedAt = fromNanos(revokedAt.Int64)
	}
	return &r, nil
}

// Revoke implements Store.
func (s *Store) Revoke(ctx context.Context, serial *big.Int, reason int, at time.Time) error {
	if serial == nil {
		return fmt.Errorf("%w: no serial", pki.ErrNotFound)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var revokedAt sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT revoked_at FROM pki_certificates WHERE serial = ?`, serialKey(serial)).Scan(&revokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: certificate %x", pki.ErrNotFound, serial)
	}
	if err != nil {
		return err
	}
	if revokedAt.Valid {
		return fmt.Errorf("%w: certificate %x", pki.ErrAlreadyRevoked, serial)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE pki_certificates SET revoked_at = ?, reason = ? WHERE serial = ?`,
		at.UTC().UnixNano(), reason, serialKey(serial)); err != nil {
		return err
	}
	return tx.Commit()
}

// Revoked implements Store.
func (s *Store) Revoked(ctx context.Context) ([]pki.RevokedEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT serial, revoked_at, reason FROM pki_certificates WHERE revoked_at IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pki.RevokedEntry
	for rows.Next() {
		var (
			hex string
			at  int64
			e   pki.RevokedEntry
		)
		if err := rows.Scan(&hex, &at, &e.Reason); err != nil {
			return nil, err
		}
		n, ok := new(big.Int).SetString(hex, 16)
		if !ok {
			return nil, fmt.Errorf("pki: store: bad serial %q", hex)
		}
		e.Serial, e.RevokedAt = n, fromNanos(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// NextCRLNumber implements Store.
func (s *Store) NextCRLNumber(ctx context.Context) (*big.Int, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO pki_counters (name, value) VALUES ('crl', 1)
		ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value`).Scan(&n)
	if err != nil {
		return nil, err
	}
	return big.NewInt(n), nil
}

// PutKey implements Store.
func (s *Store) PutKey(ctx context.Context, id string, blob []byte) error {
	if id == "" {
		return fmt.Errorf("pki: store: empty key id")
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO pki_keys (id, blob) VALUES (?, ?)`, id, blob)
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: key %q", pki.ErrSerialExists, id)
	}
	return err
}

// Key implements Store.
func (s *Store) Key(ctx context.Context, id string) ([]byte, error) {
	var b []byte
	err := s.db.QueryRowContext(ctx, `SELECT blob FROM pki_keys WHERE id = ?`, id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: key %q", pki.ErrNotFound, id)
	}
	return b, err
}

// NextRootCRLNumber returns the next number of the root CRL, a counter
// separate from NextCRLNumber's that survives restarts.
func (s *Store) NextRootCRLNumber(ctx context.Context) (*big.Int, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO pki_counters (name, value) VALUES ('rootcrl', 1)
		ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value`).Scan(&n)
	if err != nil {
		return nil, err
	}
	return big.NewInt(n), nil
}

var _ pki.Store = (*Store)(nil)
