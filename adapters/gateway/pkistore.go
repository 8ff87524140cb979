package gateway

import (
	"context"
	"fmt"
	"math/big"
	"time"

	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

// pkiStore implements pki.Store on the gateway's database, so the CA's
// issued certificates, revocations and keys live next to the rest (and are
// shared by several gateways on PostgreSQL).
type pkiStore struct{ s *sqlStore }

// PKIStore returns the CA state store on the same database as s, which must
// come from OpenSQLite or OpenPostgres.
func PKIStore(s Store) (pki.Store, error) {
	ss, ok := sqlBaseOf(s)
	if !ok {
		return nil, fmt.Errorf("gateway: PKIStore needs a SQL store, not %T", s)
	}
	return &pkiStore{ss}, nil
}

func serialKey(n *big.Int) (string, error) {
	if n == nil || n.Sign() <= 0 {
		return "", fmt.Errorf("%w: serial must be positive", pki.ErrNotFound)
	}
	return n.Text(16), nil
}

func (p *pkiStore) PutCertificate(ctx context.Context, rec *pki.CertRecord) error {
	if rec == nil || rec.Serial == nil || rec.Serial.Sign() <= 0 || len(rec.DER) == 0 {
		return fmt.Errorf("gateway: pki store: record needs a positive serial and a certificate")
	}
	_, err := p.s.exec(ctx, "INSERT INTO pki_certs (serial_hex, der, profile, subject, not_after, key_id, issued_at, revoked_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		rec.Serial.Text(16), rec.DER, rec.Profile, rec.Subject, nanos(rec.NotAfter), rec.KeyID, nanos(rec.IssuedAt), nanos(rec.RevokedAt), rec.Reason)
	if p.s.isUnique(err) {
		return fmt.Errorf("%w: %x", pki.ErrSerialExists, rec.Serial)
	}
	return err
}

func (p *pkiStore) Certificate(ctx context.Context, serial *big.Int) (*pki.CertRecord, error) {
	k, err := serialKey(serial)
	if err != nil {
		return nil, err
	}
	var r pki.CertRecord
	var na, ia, ra int64
	err = p.s.row(ctx, "SELECT der, profile, subject, not_after, key_id, issued_at, revoked_at, reason FROM pki_certs WHERE serial_hex = ?", k).
		Scan(&r.DER, &r.Profile, &r.Subject, &na, &r.KeyID, &ia, &ra, &r.Reason)
	if err != nil {
		if notFound(err) == ErrNotFound {
			return nil, fmt.Errorf("%w: certificate %s", pki.ErrNotFound, k)
		}
		return nil, err
	}
	r.Serial = new(big.Int).Set(serial)
	r.NotAfter, r.IssuedAt, r.RevokedAt = fromNanos(na), fromNanos(ia), fromNanos(ra)
	return &r, nil
}

func (p *pkiStore) Revoke(ctx context.Context, serial *big.Int, reason int, at time.Time) error {
	k, err := serialKey(serial)
	if err != nil {
		return err
	}
	res, err := p.s.exec(ctx, "UPDATE pki_certs SET revoked_at = ?, reason = ? WHERE serial_hex = ? AND revoked_at = 0", nanos(at.UTC()), reason, k)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if _, err := p.Certificate(ctx, serial); err != nil {
		return err
	}
	return fmt.Errorf("%w: certificate %s", pki.ErrAlreadyRevoked, k)
}

func (p *pkiStore) Revoked(ctx context.Context) ([]pki.RevokedEntry, error) {
	rows, err := p.s.r.QueryContext(ctx, "SELECT serial_hex, revoked_at, reason FROM pki_certs WHERE revoked_at <> 0")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pki.RevokedEntry
	for rows.Next() {
		var k string
		var at int64
		var reason int
		if err := rows.Scan(&k, &at, &reason); err != nil {
			return nil, err
		}
		n, err := signer.ParseSerial(k)
		if err != nil {
			return nil, fmt.Errorf("gateway: pki store: stored serial: %w", err)
		}
		out = append(out, pki.RevokedEntry{Serial: n, RevokedAt: fromNanos(at), Reason: reason})
	}
	return out, rows.Err()
}

func (p *pkiStore) NextCRLNumber(ctx context.Context) (*big.Int, error) {
	if _, err := p.s.exec(ctx, "INSERT INTO pki_counters (name, value) VALUES ('crl', 0) ON CONFLICT DO NOTHING"); err != nil {
		return nil, err
	}
	var v int64
	if err := p.s.w.QueryRowContext(ctx, p.s.q("UPDATE pki_counters SET value = value + 1 WHERE name = 'crl' RETURNING value")).Scan(&v); err != nil {
		return nil, err
	}
	return big.NewInt(v), nil
}

// NextRootCRLNumber numbers the root CRL (pki.CA.RootCRL) in the database,
// so that several gateways and restarts keep the numbers growing.
func (p *pkiStore) NextRootCRLNumber(ctx context.Context) (*big.Int, error) {
	if _, err := p.s.exec(ctx, "INSERT INTO pki_counters (name, value) VALUES ('rootcrl', 0) ON CONFLICT DO NOTHING"); err != nil {
		return nil, err
	}
	var v int64
	if err := p.s.w.QueryRowContext(ctx, p.s.q("UPDATE pki_counters SET value = value + 1 WHERE name = 'rootcrl' RETURNING value")).Scan(&v); err != nil {
		return nil, err
	}
	return big.NewInt(v), nil
}

func (p *pkiStore) PutKey(ctx context.Context, id string, blob []byte) error {
	if id == "" {
		return fmt.Errorf("gateway: pki store: empty key id")
	}
	_, err := p.s.exec(ctx, "INSERT INTO pki_keys (id, blob) VALUES (?, ?)", id, blob)
	if p.s.isUnique(err) {
		return fmt.Errorf("%w: key %q", pki.ErrSerialExists, id)
	}
	return err
}

func (p *pkiStore) Key(ctx context.Context, id string) ([]byte, error) {
	var b []byte
	if err := p.s.row(ctx, "SELECT blob FROM pki_keys WHERE id = ?", id).Scan(&b); err != nil {
		if notFound(err) == ErrNotFound {
			return nil, fmt.Errorf("%w: key %q", pki.ErrNotFound, id)
		}
		return nil, err
	}
	return b, nil
}
