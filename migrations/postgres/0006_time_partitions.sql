-- Time partitioning (issue 13): `reports` and `media_streams` become
-- declaratively partitioned by RANGE (received_at), converted in place with
-- every row kept, in this migration's one transaction:
--   rename old -> create partitioned -> partitions covering the existing data
--   -> INSERT ... SELECT -> keys and indexes -> drop old.
-- See docs/partitioning-and-retention.md.
--
-- Keys include the partition key (PostgreSQL's rule for unique constraints on
-- a partitioned table) and the tenant (Citus's rule: the distribution column
-- in every unique constraint), so the schema can be distributed by tenant.
-- The partitions the data needs are daily here (UTC days, pg_partman names
-- `reports_pYYYYMMDD`); callq creates later ones ahead of time in the
-- configured width (src/store/partitions.rs), and the DEFAULT partitions take
-- any row no range partition covers, so an insert never fails for a
-- missing partition.
--
-- No foreign key from media_streams to reports: it would make dropping an
-- expired partition a DETACH that scans for referencing rows while holding
-- an ACCESS EXCLUSIVE lock on `reports` (ingestion stops meanwhile; DETACH
-- CONCURRENTLY is refused while a DEFAULT partition exists), and cost a
-- lookup per stream on the hot path. Streams are only written in the same
-- statement as their report and removed in the same statement/transaction.
--
-- The unique index reports_idempotency goes: across partitions it could only
-- be unique together with received_at, which would not stop a retry, and
-- retries have been decided by ingest_claims (tenant, claim) since 0004.
-- ingest_claims stays unpartitioned: a claim must be unique over all time.

SET LOCAL statement_timeout = 0;
SET LOCAL lock_timeout = 0;

-- The old indexes would only slow the copy and hold the names the new ones take.
DROP INDEX reports_idempotency;
DROP INDEX reports_tenant_call;
DROP INDEX reports_tenant_received_id;
DROP INDEX reports_tenant_protocol_kind;
ALTER TABLE media_streams DROP CONSTRAINT media_streams_report_id_fkey;

ALTER TABLE reports RENAME TO reports_unpartitioned;
ALTER INDEX reports_pkey RENAME TO reports_unpartitioned_pkey;
ALTER TABLE media_streams RENAME TO media_streams_unpartitioned;
ALTER INDEX media_streams_pkey RENAME TO media_streams_unpartitioned_pkey;

-- LIKE keeps every column's type, default, CHECK and compression (lz4 where
-- 0003 set it) exactly as they were.
CREATE TABLE reports (
    LIKE reports_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMPRESSION
) PARTITION BY RANGE (received_at);

-- A stream carries its report's tenant and received_at: partitioned (and
-- distributable) the same way, so a report and its streams live in
-- partitions with the same bounds and are dropped together.
CREATE TABLE media_streams (
    LIKE media_streams_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMPRESSION,
    tenant      text        NOT NULL,
    received_at timestamptz NOT NULL
) PARTITION BY RANGE (received_at);

CREATE TABLE reports_default PARTITION OF reports DEFAULT;
CREATE TABLE media_streams_default PARTITION OF media_streams DEFAULT;

-- One partition per UTC day that has data.
DO $$
DECLARE
    day timestamptz;
    name text;
BEGIN
    FOR day IN
        SELECT DISTINCT date_trunc('day', received_at, 'UTC') FROM reports_unpartitioned ORDER BY 1
    LOOP
        name := to_char(day AT TIME ZONE 'UTC', 'YYYYMMDD');
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF reports FOR VALUES FROM (%L) TO (%L)',
            'reports_p' || name, day, day + interval '1 day');
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF media_streams FOR VALUES FROM (%L) TO (%L)',
            'media_streams_p' || name, day, day + interval '1 day');
    END LOOP;
END $$;

INSERT INTO reports SELECT * FROM reports_unpartitioned;
INSERT INTO media_streams
SELECT s.*, r.tenant, r.received_at
FROM media_streams_unpartitioned s JOIN reports_unpartitioned r ON r.id = s.report_id;

-- Keys and indexes after the copy (one sorted build per partition instead of
-- row-by-row inserts); declared on the parents, so every partition, the
-- ones created later included, has them.
ALTER TABLE reports ADD PRIMARY KEY (id, tenant, received_at);
ALTER TABLE media_streams ADD PRIMARY KEY (report_id, ordinal, tenant, received_at);
-- The read API's indexes, as before: a call, time ranges with keyset pages,
-- style/kind filters.
CREATE INDEX reports_tenant_call ON reports (tenant, call_id, received_at);
CREATE INDEX reports_tenant_received_id ON reports (tenant, received_at, id);
CREATE INDEX reports_tenant_protocol_kind ON reports (tenant, protocol, kind, received_at);

DROP TABLE media_streams_unpartitioned;
DROP TABLE reports_unpartitioned;

ANALYZE reports;
ANALYZE media_streams;
