package gateway

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The audit chain's keys, both derived from the master key with HKDF under
// labels of their own: an HMAC key chaining the entries (nobody without the
// master key can recompute the chain after removing or editing an entry),
// and an Ed25519 key signing checkpoints of the chain's head (which an
// auditor keeps, so that a chain cut short is detected too).
const (
	auditMACLabel        = "securesign gateway audit chain v1"
	auditCheckpointLabel = "securesign gateway audit checkpoint v1"
	auditKeyCheckText    = "securesign audit key check v1"
)

// ErrAuditKey reports a missing or wrong master key for the audit chain.
var ErrAuditKey = errors.New("gateway: audit chain key")

type auditKeys struct {
	mac  []byte
	sign ed25519.PrivateKey
}

func deriveAuditKeys(master []byte) (*auditKeys, error) {
	if len(master) < 16 {
		return nil, fmt.Errorf("%w: master key shorter than 16 bytes", ErrAuditKey)
	}
	mac, err := hkdf.Key(sha256.New, master, nil, auditMACLabel, 32)
	if err != nil {
		return nil, err
	}
	seed, err := hkdf.Key(sha256.New, master, nil, auditCheckpointLabel, ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	return &auditKeys{mac: mac, sign: ed25519.NewKeyFromSeed(seed)}, nil
}

func (k *auditKeys) check() []byte {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte(auditKeyCheckText))
	return m.Sum(nil)
}

// AuditPublicKeyPEM is the public key that verifies the audit checkpoints
// of a gateway with this master key (PKIX "PUBLIC KEY" PEM, which openssl
// reads).
func AuditPublicKeyPEM(master []byte) ([]byte, error) {
	k, err := deriveAuditKeys(master)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(k.sign.Public())
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// chainHash is the link of entry e after prev: HMAC-SHA256 under the audit
// key of prev || canonical JSON of e without its hashes; a store that was
// never given a key (tests, a database from before 0008) uses the legacy
// unkeyed SHA-256.
func (s *sqlStore) chainHash(e *AuditEntry, prev []byte) []byte {
	k := s.auditKey.Load()
	if k == nil {
		return auditHash(e, prev)
	}
	m := hmac.New(sha256.New, k.mac)
	m.Write(prev)
	m.Write(auditCanonical(e))
	return m.Sum(nil)
}

// auditReady refuses to append to or verify a keyed chain without its key
// (a gateway admin command run without the master key).
func (s *sqlStore) auditReady() error {
	if s.keyedDB.Load() && s.auditKey.Load() == nil {
		return fmt.Errorf("%w: the audit chain is keyed; set SECURESIGN_MASTER_KEY or SECURESIGN_MASTER_KEY_FILE", ErrAuditKey)
	}
	return nil
}

// loadKeying notes whether the database's chain is keyed (at open).
func (s *sqlStore) loadKeying(ctx context.Context) error {
	var n int
	if err := s.row(ctx, "SELECT COUNT(*) FROM audit_keying").Scan(&n); err != nil {
		return err
	}
	s.keyedDB.Store(n > 0)
	return nil
}

// auditKeyer is implemented by the SQL stores.
type auditKeyer interface {
	useAuditKey(ctx context.Context, master []byte, now time.Time) error
	checkpoint(ctx context.Context, tenantID string, now time.Time) (*AuditCheckpoint, error)
	entryHash(ctx context.Context, tenantID string, seq int64) ([]byte, error)
	auditTenants(ctx context.Context) ([]string, error)
}

// KeyAuditChain keys st's audit chain with the master key. A chain that
// was not keyed yet (a database from before migration 0008) is re-keyed
// first: each tenant's unkeyed chain is verified, every entry's link
// recomputed under the key, and an audit.rekey entry appended saying how
// many entries were re-keyed and whether the unkeyed chain was intact. A
// database keyed with another master key is refused.
func KeyAuditChain(ctx context.Context, st Store, master []byte, now time.Time) error {
	k, ok := st.(auditKeyer)
	if !ok {
		return nil
	}
	return k.useAuditKey(ctx, master, now)
}

func (s *sqlStore) useAuditKey(ctx context.Context, master []byte, now time.Time) error {
	keys, err := deriveAuditKeys(master)
	if err != nil {
		return err
	}
	var check []byte
	err = s.row(ctx, "SELECT key_check FROM audit_keying WHERE id = 1").Scan(&check)
	if err == nil {
		if !hmac.Equal(check, keys.check()) {
			return fmt.Errorf("%w: this master key is not the one the audit chain is keyed with", ErrAuditKey)
		}
		s.auditKey.Store(keys)
		s.keyedDB.Store(true)
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	type result struct {
		tenant string
		n      int
		broken string
	}
	var results []result
	err = s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		results = results[:0]
		// Another gateway may have keyed it meanwhile.
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_keying").Scan(&n); err != nil || n > 0 {
			if err == nil {
				err = errors.New("keyed concurrently; start again")
			}
			return err
		}
		tenants, err := txStrings(ctx, tx, "SELECT tenant_id FROM audit_heads ORDER BY tenant_id")
		if err != nil {
			return err
		}
		for _, t := range tenants {
			r, err := rekeyTenant(ctx, s, tx, keys, t)
			if err != nil {
				return fmt.Errorf("re-keying the audit chain of %s: %w", t, err)
			}
			results = append(results, result{t, r.n, r.broken})
		}
		_, err = tx.ExecContext(ctx, s.q("INSERT INTO audit_keying (id, key_check, keyed_at) VALUES (1, ?, ?)"), keys.check(), nanos(now))
		return err
	})
	if err != nil {
		// Another gateway on the same database may have keyed it
		// meanwhile (its transaction won): then this key must match.
		var check []byte
		if rerr := s.row(ctx, "SELECT key_check FROM audit_keying WHERE id = 1").Scan(&check); rerr == nil {
			if !hmac.Equal(check, keys.check()) {
				return fmt.Errorf("%w: this master key is not the one the audit chain is keyed with", ErrAuditKey)
			}
			s.auditKey.Store(keys)
			s.keyedDB.Store(true)
			return nil
		}
		return fmt.Errorf("gateway: keying the audit chain: %w", err)
	}
	s.auditKey.Store(keys)
	s.keyedDB.Store(true)
	for _, r := range results {
		detail := fmt.Sprintf("migration 0008: %d entries re-keyed with HMAC-SHA256; the unkeyed chain was intact", r.n)
		outcome := "rekeyed"
		if r.broken != "" {
			detail = fmt.Sprintf("migration 0008: %d entries re-keyed with HMAC-SHA256; the unkeyed chain was BROKEN before: %s", r.n, r.broken)
			outcome = "rekeyed-broken"
		}
		if err := s.AppendAudit(ctx, &AuditEntry{TenantID: r.tenant, At: now, Actor: "gateway", Action: "audit.rekey", Outcome: outcome, Detail: detail}); err != nil {
			return err
		}
	}
	return nil
}

type rekeyResult struct {
	n      int
	broken string
}

// rekeyTenant recomputes one tenant's chain under keys, 500 entries a
// query, checking the unkeyed links on the way.
func rekeyTenant(ctx context.Context, s *sqlStore, tx *sql.Tx, keys *auditKeys, tenant string) (rekeyResult, error) {
	var r rekeyResult
	oldPrev, newPrev := make([]byte, 32), make([]byte, 32)
	var last int64
	for {
		rows, err := tx.QueryContext(ctx, s.q("SELECT "+auditCols+" FROM audit_log WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT 500"), tenant, last)
		if err != nil {
			return r, err
		}
		var page []*AuditEntry
		for rows.Next() {
			e, err := scanAudit(rows)
			if err != nil {
				rows.Close()
				return r, err
			}
			page = append(page, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return r, err
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			r.n++
			if r.broken == "" && (e.Seq != int64(r.n) || !bytes.Equal(e.PrevHash, oldPrev) || !bytes.Equal(auditHash(e, oldPrev), e.Hash)) {
				r.broken = fmt.Sprintf("entry %d", e.Seq)
			}
			oldPrev = e.Hash
			m := hmac.New(sha256.New, keys.mac)
			m.Write(newPrev)
			m.Write(auditCanonical(e))
			h := m.Sum(nil)
			if _, err := tx.ExecContext(ctx, s.q("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE tenant_id = ? AND seq = ?"), newPrev, h, tenant, e.Seq); err != nil {
				return r, err
			}
			newPrev, last = h, e.Seq
		}
	}
	var seq int64
	var head []byte
	if err := tx.QueryRowContext(ctx, s.q("SELECT seq, hash FROM audit_heads WHERE tenant_id = ?"), tenant).Scan(&seq, &head); err != nil {
		return r, err
	}
	if r.broken == "" && (seq != last || !bytes.Equal(head, oldPrev)) {
		r.broken = fmt.Sprintf("head is entry %d, the log ends at %d", seq, last)
	}
	_, err := tx.ExecContext(ctx, s.q("UPDATE audit_heads SET seq = ?, hash = ? WHERE tenant_id = ?"), last, newPrev, tenant)
	return r, err
}

func txStrings(ctx context.Context, tx *sql.Tx, query string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query)
	return collect(rows, err, scanString)
}

// scanString scans a one-column row of text.
func scanString(sc rowScanner) (string, error) {
	var v string
	err := sc.Scan(&v)
	return v, err
}

// ---- checkpoints ----

// AuditCheckpoint is a signed statement of a tenant's chain head: entry
// Seq of the chain has link Head. Payload holds the exact bytes signed
// (Ed25519), so that openssl can check it:
//
//	jq -r .payload cp.json | base64 -d > payload.bin
//	jq -r .signature cp.json | base64 -d > sig.bin
//	openssl pkeyutl -verify -pubin -inkey audit-key.pem -rawin -in payload.bin -sigfile sig.bin
type AuditCheckpoint struct {
	Version   int       `json:"version"`
	TenantID  string    `json:"tenantId"`
	Seq       int64     `json:"seq"`
	Head      string    `json:"head"` // hex
	At        time.Time `json:"at"`
	Payload   []byte    `json:"payload"`
	Signature []byte    `json:"signature"`
}

func checkpointPayload(tenant string, seq int64, head []byte, at time.Time) []byte {
	return []byte("securesign-audit-checkpoint v1\ntenant " + tenant + "\nseq " + strconv.FormatInt(seq, 10) +
		"\nhead " + hex.EncodeToString(head) + "\nat " + at.UTC().Format(time.RFC3339Nano) + "\n")
}

func (s *sqlStore) checkpoint(ctx context.Context, tenantID string, now time.Time) (*AuditCheckpoint, error) {
	k := s.auditKey.Load()
	if k == nil {
		return nil, fmt.Errorf("%w: checkpoints need the master key", ErrAuditKey)
	}
	var seq int64
	var head []byte
	if err := s.row(ctx, "SELECT seq, hash FROM audit_heads WHERE tenant_id = ?", tenantID).Scan(&seq, &head); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("tenant %s has no audit entries: %w", tenantID, ErrNotFound)
		}
		return nil, err
	}
	at := fromNanos(nanos(now)).UTC()
	payload := checkpointPayload(tenantID, seq, head, at)
	cp := &AuditCheckpoint{Version: 1, TenantID: tenantID, Seq: seq, Head: hex.EncodeToString(head), At: at,
		Payload: payload, Signature: ed25519.Sign(k.sign, payload)}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q("INSERT INTO audit_checkpoints (tenant_id, seq, head, at, signature) VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, seq) DO NOTHING"),
			tenantID, seq, head, nanos(at), cp.Signature)
		return err
	})
	return cp, err
}

func (s *sqlStore) entryHash(ctx context.Context, tenantID string, seq int64) ([]byte, error) {
	var h []byte
	err := s.row(ctx, "SELECT hash FROM audit_log WHERE tenant_id = ? AND seq = ?", tenantID, seq).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return h, err
}

func (s *sqlStore) auditTenants(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT tenant_id FROM audit_heads ORDER BY tenant_id")
	return collect(rows, err, scanString)
}

// NewAuditCheckpoint signs and records a checkpoint of the tenant's chain
// head (st must have been keyed: OpenStore with a master key, or
// KeyAuditChain).
func NewAuditCheckpoint(ctx context.Context, st Store, tenantID string, now time.Time) (*AuditCheckpoint, error) {
	k, ok := st.(auditKeyer)
	if !ok {
		return nil, errors.New("gateway: this store has no audit checkpoints")
	}
	return k.checkpoint(ctx, tenantID, now)
}

// VerifyAuditCheckpoint checks cp's signature with the key derived from
// master, then that st's chain verifies and still holds, at cp.Seq, the
// link cp names: a chain cut short, or rewritten, since the checkpoint
// fails. It returns the number of entries.
func VerifyAuditCheckpoint(ctx context.Context, st Store, cp *AuditCheckpoint, master []byte) (int, error) {
	keys, err := deriveAuditKeys(master)
	if err != nil {
		return 0, err
	}
	head, err := hex.DecodeString(cp.Head)
	if err != nil {
		return 0, fmt.Errorf("%w: checkpoint head is not hex", ErrAuditBroken)
	}
	want := checkpointPayload(cp.TenantID, cp.Seq, head, cp.At)
	if !bytes.Equal(want, cp.Payload) || !ed25519.Verify(keys.sign.Public().(ed25519.PublicKey), cp.Payload, cp.Signature) {
		return 0, fmt.Errorf("%w: the checkpoint's signature does not verify with this master key's audit key", ErrAuditBroken)
	}
	n, err := st.VerifyAudit(ctx, cp.TenantID)
	if err != nil {
		return n, err
	}
	if int64(n) < cp.Seq {
		return n, fmt.Errorf("%w: the checkpoint of %s names entry %d, the chain has %d (entries removed)", ErrAuditBroken, cp.At.Format(time.RFC3339), cp.Seq, n)
	}
	k, ok := st.(auditKeyer)
	if !ok {
		return n, errors.New("gateway: this store has no audit checkpoints")
	}
	h, err := k.entryHash(ctx, cp.TenantID, cp.Seq)
	if err != nil {
		return n, err
	}
	if !bytes.Equal(h, head) {
		return n, fmt.Errorf("%w: entry %d is not the one the checkpoint of %s signed (chain rewritten)", ErrAuditBroken, cp.Seq, cp.At.Format(time.RFC3339))
	}
	return n, nil
}

// ParseAuditCheckpoint reads an exported checkpoint.
func ParseAuditCheckpoint(b []byte) (*AuditCheckpoint, error) {
	var cp AuditCheckpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("audit checkpoint: %w", err)
	}
	if cp.Version != 1 || cp.TenantID == "" || cp.Seq <= 0 || len(cp.Signature) != ed25519.SignatureSize {
		return nil, errors.New("audit checkpoint: not a version 1 checkpoint")
	}
	return &cp, nil
}

// checkpointAll signs a checkpoint of every tenant's head (the janitor).
func (s *Server) checkpointAll(ctx context.Context, now time.Time) {
	k, ok := s.store.(auditKeyer)
	if !ok {
		return
	}
	tenants, err := k.auditTenants(ctx)
	if err != nil {
		s.log.Error("audit checkpoints", "err", err.Error())
		return
	}
	for _, t := range tenants {
		if _, err := k.checkpoint(ctx, t, now); err != nil && !strings.Contains(err.Error(), "no audit entries") {
			s.log.Error("audit checkpoint", "tenant", t, "err", err.Error())
		}
	}
}
