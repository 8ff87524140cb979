-- Cross-instance invalidation: whoever changes an API key, a tenant or the
-- link keys (any gateway, the admin command, plain SQL) tells every
-- listening gateway at commit, which drops what it had cached.
CREATE FUNCTION securesign_notify() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_TABLE_NAME = 'api_keys' THEN PERFORM pg_notify('securesign_invalidate', 'apikey:' || OLD.id); ELSIF TG_TABLE_NAME = 'tenants' THEN PERFORM pg_notify('securesign_invalidate', 'tenant:' || OLD.id); ELSE PERFORM pg_notify('securesign_invalidate', TG_TABLE_NAME); END IF; RETURN NULL; END $$;
CREATE TRIGGER api_keys_notify AFTER UPDATE OR DELETE ON api_keys FOR EACH ROW EXECUTE FUNCTION securesign_notify();
CREATE TRIGGER tenants_notify AFTER UPDATE OR DELETE ON tenants FOR EACH ROW EXECUTE FUNCTION securesign_notify();
CREATE TRIGGER link_keys_notify AFTER INSERT OR UPDATE OR DELETE ON link_keys FOR EACH STATEMENT EXECUTE FUNCTION securesign_notify()
