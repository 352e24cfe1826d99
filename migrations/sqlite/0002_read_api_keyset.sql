-- See migrations/postgres/0002: keyset pages over (received_at, id).
CREATE INDEX reports_tenant_received_id ON reports (tenant, received_at, id);
DROP INDEX reports_tenant_received;
