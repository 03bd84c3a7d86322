-- A small JSON detail on audit events (never a secret). Kept in lockstep
-- with migrations/postgres/0003_audit_detail.sql.
ALTER TABLE audit_events ADD COLUMN detail TEXT NOT NULL DEFAULT '{}';
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, id);
