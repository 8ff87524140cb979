-- Dev mode only: the codes the dev outbox sent, sealed under the master key,
-- for the dev read route (GET /v1/dev/otp/{otpId}). A row lives as long as
-- its code: expired rows go when the next code is sent.
CREATE TABLE dev_otp_outbox (
  otp_id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  purpose TEXT NOT NULL,
  summary TEXT NOT NULL,
  sealed BLOB NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX dev_otp_outbox_expires ON dev_otp_outbox (expires_at);
