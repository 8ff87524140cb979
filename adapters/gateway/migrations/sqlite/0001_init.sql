-- SecureSign gateway schema, version 1 (SQLite). Times are Unix nanoseconds,
-- 0 meaning "not set". Secrets are stored only as hashes.
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  name TEXT NOT NULL,
  hash BLOB NOT NULL,
  live INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id);
CREATE TABLE access_tokens (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  api_key_id TEXT NOT NULL,
  hash BLOB NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE TABLE origins (
  tenant_id TEXT NOT NULL,
  origin TEXT NOT NULL,
  PRIMARY KEY (tenant_id, origin)
);
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  external_id TEXT NOT NULL,
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  phone TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (tenant_id, external_id)
);
CREATE TABLE otps (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  purpose TEXT NOT NULL,
  salt BLOB NOT NULL,
  hash BLOB NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  expires_at BIGINT NOT NULL,
  used_at BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);
CREATE TABLE sessions (
  request_id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  action TEXT NOT NULL,
  hashes BLOB NOT NULL,
  hash_algo TEXT NOT NULL,
  origin TEXT NOT NULL,
  challenge BLOB,
  cert_serial TEXT NOT NULL,
  cert_sha256 BLOB,
  user_id TEXT NOT NULL,
  callback_url TEXT NOT NULL,
  return_url TEXT NOT NULL,
  doc TEXT NOT NULL,
  state BLOB,
  output BLOB,
  expires_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  status TEXT NOT NULL,
  completion BLOB
);
CREATE INDEX sessions_tenant_status ON sessions(tenant_id, status, expires_at);
CREATE TABLE certificates (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  serial_hex TEXT NOT NULL,
  sha256_hex TEXT NOT NULL,
  der BLOB NOT NULL,
  chain BLOB,
  source TEXT NOT NULL,
  key_location TEXT NOT NULL,
  key_kind TEXT NOT NULL,
  key_blob BLOB,
  profile TEXT NOT NULL,
  not_before BIGINT NOT NULL,
  not_after BIGINT NOT NULL,
  revoked_at BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);
CREATE INDEX certificates_serial ON certificates(tenant_id, serial_hex);
CREATE INDEX certificates_user ON certificates(tenant_id, user_id);
CREATE TABLE idempotency (
  tenant_id TEXT NOT NULL,
  idem_key TEXT NOT NULL,
  body_hash BLOB NOT NULL,
  done INTEGER NOT NULL DEFAULT 0,
  status INTEGER NOT NULL DEFAULT 0,
  body BLOB,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, idem_key)
);
CREATE TABLE audit_heads (
  tenant_id TEXT PRIMARY KEY,
  seq BIGINT NOT NULL,
  hash BLOB NOT NULL
);
CREATE TABLE audit_log (
  tenant_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  origin TEXT NOT NULL,
  request_id TEXT NOT NULL,
  cert_serial TEXT NOT NULL,
  doc_hash TEXT NOT NULL,
  outcome TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev_hash BLOB NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_log_request ON audit_log(tenant_id, request_id);
CREATE INDEX audit_log_at ON audit_log(tenant_id, at);
CREATE TABLE link_keys (
  kid TEXT PRIMARY KEY,
  public_key BLOB NOT NULL,
  private_key BLOB NOT NULL,
  active INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  retired_at BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE sads (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  credential_id TEXT NOT NULL,
  hashes BLOB NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL
);
