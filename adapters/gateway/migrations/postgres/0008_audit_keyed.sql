-- The audit chain is keyed (issue 14): entries are chained with
-- HMAC-SHA256 under a key derived from the master key. audit_keying holds
-- one row once the chain is keyed: a check value of that key (an HMAC of a
-- fixed text, not the key), so that a gateway started with another master
-- key refuses instead of writing a chain nobody can verify. Existing
-- entries are re-keyed by the first gateway that opens the database with
-- its master key (see keyAuditChain), which appends an audit.rekey entry.
CREATE TABLE audit_keying (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  key_check BYTEA NOT NULL,
  keyed_at BIGINT NOT NULL
);
-- Signed checkpoints of each tenant's chain head (Ed25519, key derived
-- from the master key); exported ones let an auditor detect a truncated
-- or rewritten chain offline.
CREATE TABLE audit_checkpoints (
  tenant_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  head BYTEA NOT NULL,
  at BIGINT NOT NULL,
  signature BYTEA NOT NULL,
  PRIMARY KEY (tenant_id, seq)
);
