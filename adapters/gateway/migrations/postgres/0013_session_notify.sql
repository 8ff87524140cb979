-- A session's status changed (a result accepted on any gateway): tell every
-- listening gateway at commit, so that a customer's browser streaming the
-- session's watchUrl from another instance sees it at once.
CREATE FUNCTION securesign_notify_session() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('securesign_invalidate', 'session:' || NEW.request_id); RETURN NULL; END $$;
CREATE TRIGGER sessions_notify AFTER UPDATE OF status ON sessions FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION securesign_notify_session()
