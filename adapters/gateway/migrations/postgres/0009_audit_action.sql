-- GET /v1/audit/logs?type=…: a tenant's entries of one action (or family
-- of actions), newest first.
CREATE INDEX audit_log_action ON audit_log(tenant_id, action, seq);
