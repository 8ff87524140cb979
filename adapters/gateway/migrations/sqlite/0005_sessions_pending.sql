-- Only pending sessions are counted (CountPendingSessions). An index of
-- them alone stays small, and a completion takes its session out of it
-- instead of moving the entry to another status: one index page less to
-- write per commit.
CREATE INDEX sessions_pending ON sessions(tenant_id, expires_at) WHERE status = 'pending';
DROP INDEX sessions_tenant_status;
