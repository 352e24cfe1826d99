-- Same columns as migrations/postgres/0006: a stream carries its report's
-- tenant and received_at. SQLite has no partitioning (retention deletes in
-- bounded batches, src/store/retention.rs); the columns keep one column list
-- per table for both backends. ADD COLUMN ... NOT NULL needs a default; every
-- existing row gets its report's values at once.
ALTER TABLE media_streams ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
ALTER TABLE media_streams ADD COLUMN received_at TEXT NOT NULL DEFAULT '';
UPDATE media_streams SET
    tenant = (SELECT r.tenant FROM reports r WHERE r.id = media_streams.report_id),
    received_at = (SELECT r.received_at FROM reports r WHERE r.id = media_streams.report_id);
