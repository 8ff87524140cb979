-- Sign codes name the operation they approve (protocol 1.1 §6), as JSON.
-- Codes are now stored as an HMAC under a key derived from the master key:
-- codes stored before (a salted SHA-256) can no longer be checked, and
-- they live 10 minutes, so they go.
ALTER TABLE otps ADD COLUMN consent BYTEA;
DELETE FROM otps;
CREATE INDEX otps_user ON otps (tenant_id, user_id, created_at);
