-- Each tenant's links are signed with its own Ed25519 key (PROTOCOL 1.1
-- §2). Keys made before carry the empty tenant: the gateway's own, kept
-- published so that links already out still verify.
ALTER TABLE link_keys ADD COLUMN tenant_id TEXT NOT NULL DEFAULT '';
CREATE INDEX link_keys_tenant ON link_keys(tenant_id)
