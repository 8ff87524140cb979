-- Sign codes name the operation they approve (protocol 1.1 §6), as JSON.
-- Codes are now stored as an HMAC under a key derived from the master key:
-- codes stored before (a salted SHA-256) can no longer be checked, and
-- they live 10 minutes, so they go.
ALTER TABLE otps ADD COLUMN consent BLOB;
DELETE FROM otps;
CREATE INDEX otps_user ON otps (tenant_id, user_id, created_at);
-- CSC OAuth 2.0 authorization requests (consent page) and their codes.
CREATE TABLE oauth_requests (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  data BLOB NOT NULL,
  status TEXT NOT NULL,
  code_hash TEXT,
  expires_at BIGINT NOT NULL,
  code_expires_at BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX oauth_requests_code ON oauth_requests (code_hash);
