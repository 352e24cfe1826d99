-- Same as migrations/postgres/0003: requests without an idempotency key get no
-- entry in the unique index (ON CONFLICT DO NOTHING still uses it).
DROP INDEX reports_idempotency;
CREATE UNIQUE INDEX reports_idempotency ON reports (tenant, protocol, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- 3. (tenant, id) served keyset pages by id; the read API pages by
--    (received_at, id) (0002) and looks reports up by primary key, so it is
--    one index update per row for nothing.
DROP INDEX reports_tenant_id;
