-- The process that reserved an Idempotency-Key: a reservation left by a
-- process that died mid-request can be taken over by a retry.
ALTER TABLE idempotency ADD COLUMN owner TEXT NOT NULL DEFAULT '';
