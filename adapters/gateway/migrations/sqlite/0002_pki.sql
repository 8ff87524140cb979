-- The issuing CA's state (pki.Store): issued certificates, revocations, CRL
-- numbers and encrypted key blobs.
CREATE TABLE pki_certs (
  serial_hex TEXT PRIMARY KEY,
  der BLOB NOT NULL,
  profile TEXT NOT NULL,
  subject TEXT NOT NULL,
  not_after BIGINT NOT NULL,
  key_id TEXT NOT NULL,
  issued_at BIGINT NOT NULL,
  revoked_at BIGINT NOT NULL DEFAULT 0,
  reason INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX pki_certs_revoked ON pki_certs(revoked_at);
CREATE TABLE pki_keys (
  id TEXT PRIMARY KEY,
  blob BLOB NOT NULL
);
CREATE TABLE pki_counters (
  name TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
