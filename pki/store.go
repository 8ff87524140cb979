package pki

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"time"
)

// Store keeps one issuing CA's state: the certificates it issued, their
// revocations, the CRL number and encrypted key blobs. Serial numbers are
// unique within a store. Implementations must be safe for concurrent use,
// and every method must either fully apply or change nothing.
//
// This package has MemoryStore; package pki/cadir has an SQLite store and
// the gateway adds PostgreSQL. pkitest.StoreConformance tests an implementation.
type Store interface {
	// PutCertificate records a newly issued certificate. It returns an
	// error wrapping ErrSerialExists when rec.Serial is already stored.
	PutCertificate(ctx context.Context, rec *CertRecord) error
	// Certificate returns the record of serial, with its revocation
	// status, or an error wrapping ErrNotFound.
	Certificate(ctx context.Context, serial *big.Int) (*CertRecord, error)
	// Revoke marks serial revoked at the given time for an RFC 5280
	// reason code. It returns an error wrapping ErrNotFound or
	// ErrAlreadyRevoked, and then changes nothing.
	Revoke(ctx context.Context, serial *big.Int, reason int, at time.Time) error
	// Revoked lists the revoked certificates, in any order.
	Revoked(ctx context.Context) ([]RevokedEntry, error)
	// NextCRLNumber returns a number greater than any it returned before
	// (starting at 1).
	NextCRLNumber(ctx context.Context) (*big.Int, error)
	// PutKey stores an (already encrypted) key blob under id; an existing
	// id is an error wrapping ErrSerialExists.
	PutKey(ctx context.Context, id string, blob []byte) error
	// Key returns the blob stored under id, or an error wrapping ErrNotFound.
	Key(ctx context.Context, id string) ([]byte, error)
}

// CertRecord is one issued certificate as stored.
type CertRecord struct {
	Serial *big.Int
	// DER is the certificate.
	DER []byte
	// Profile is the name of the profile it was issued under.
	Profile string
	// Subject is the subject's common name, for listings.
	Subject  string
	NotAfter time.Time
	// KeyID names the private key in the key store when the CA generated
	// it; empty otherwise.
	KeyID    string
	IssuedAt time.Time
	// RevokedAt is zero unless the certificate is revoked; Reason is then
	// its RFC 5280 reason code.
	RevokedAt time.Time
	Reason    int
}

// Revoked reports whether the record is revoked.
func (r *CertRecord) Revoked() bool { return !r.RevokedAt.IsZero() }

// RevokedEntry is one line of a CRL.
type RevokedEntry struct {
	Serial    *big.Int
	RevokedAt time.Time
	Reason    int
}

// MemoryStore is a Store in memory, for tests and dev mode.
type MemoryStore struct {
	mu    sync.Mutex
	certs map[string]CertRecord
	keys  map[string][]byte
	crlN  int64
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{certs: map[string]CertRecord{}, keys: map[string][]byte{}}
}

func copyRecord(r *CertRecord) CertRecord {
	c := *r
	c.Serial = new(big.Int).Set(r.Serial)
	c.DER = slices.Clone(r.DER)
	return c
}

// PutCertificate implements Store.
func (m *MemoryStore) PutCertificate(ctx context.Context, rec *CertRecord) error {
	if rec == nil || rec.Serial == nil || rec.Serial.Sign() <= 0 || len(rec.DER) == 0 {
		return fmt.Errorf("pki: store: record needs a positive serial and a certificate")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := rec.Serial.Text(16)
	if _, ok := m.certs[k]; ok {
		return fmt.Errorf("%w: %s", ErrSerialExists, k)
	}
	m.certs[k] = copyRecord(rec)
	return nil
}

// Certificate implements Store.
func (m *MemoryStore) Certificate(ctx context.Context, serial *big.Int) (*CertRecord, error) {
	if serial == nil {
		return nil, fmt.Errorf("%w: no serial", ErrNotFound)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.certs[serial.Text(16)]
	if !ok {
		return nil, fmt.Errorf("%w: certificate %x", ErrNotFound, serial)
	}
	c := copyRecord(&r)
	return &c, nil
}

// Revoke implements Store.
func (m *MemoryStore) Revoke(ctx context.Context, serial *big.Int, reason int, at time.Time) error {
	if serial == nil {
		return fmt.Errorf("%w: no serial", ErrNotFound)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := serial.Text(16)
	r, ok := m.certs[k]
	if !ok {
		return fmt.Errorf("%w: certificate %x", ErrNotFound, serial)
	}
	if r.Revoked() {
		return fmt.Errorf("%w: certificate %x", ErrAlreadyRevoked, serial)
	}
	r.RevokedAt, r.Reason = at.UTC(), reason
	m.certs[k] = r
	return nil
}

// Revoked implements Store.
func (m *MemoryStore) Revoked(ctx context.Context) ([]RevokedEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []RevokedEntry
	for _, r := range m.certs {
		if r.Revoked() {
			out = append(out, RevokedEntry{Serial: new(big.Int).Set(r.Serial), RevokedAt: r.RevokedAt, Reason: r.Reason})
		}
	}
	return out, nil
}

// NextCRLNumber implements Store.
func (m *MemoryStore) NextCRLNumber(ctx context.Context) (*big.Int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.crlN++
	return big.NewInt(m.crlN), nil
}

// PutKey implements Store.
func (m *MemoryStore) PutKey(ctx context.Context, id string, blob []byte) error {
	if id == "" {
		return fmt.Errorf("pki: store: empty key id")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[id]; ok {
		return fmt.Errorf("%w: key %q", ErrSerialExists, id)
	}
	m.keys[id] = slices.Clone(blob)
	return nil
}

// Key implements Store.
func (m *MemoryStore) Key(ctx context.Context, id string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.keys[id]
	if !ok {
		return nil, fmt.Errorf("%w: key %q", ErrNotFound, id)
	}
	return slices.Clone(b), nil
}
