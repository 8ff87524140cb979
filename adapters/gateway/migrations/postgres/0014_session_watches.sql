-- A session's status change is announced (0013) only when someone watches
-- it: a watchUrl stream or long poll on any gateway adds the session here
-- first. Without it every completion woke every instance's listener (and
-- its PostgreSQL backend) for sessions nobody watches: with three gateways
-- that cost more CPU per session than the session's own writes. A row
-- lives as long as its session.
CREATE TABLE session_watches (request_id TEXT PRIMARY KEY REFERENCES sessions(request_id) ON DELETE CASCADE);
CREATE OR REPLACE FUNCTION securesign_notify_session() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF EXISTS (SELECT 1 FROM session_watches WHERE request_id = NEW.request_id) THEN PERFORM pg_notify('securesign_invalidate', 'session:' || NEW.request_id); END IF; RETURN NULL; END $$
