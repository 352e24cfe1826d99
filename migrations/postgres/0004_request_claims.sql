-- Retries are decided in the database, inside the batch statement, so that
-- several callq processes sharing one database agree (issue 10 item 4).
--
-- One row per request identity a report claimed:
--   claim = 'k:' || protocol || ':' || idempotency key   (a client-chosen key; never expires)
--   claim = 'f:' || sha256 request fingerprint           (a keyless request; expires after
--                                                        retry_window_secs)
-- fingerprint (keyed claims only) is the SHA-256 over style, operation,
-- path, content type and body of the request that made the claim; NULL for
-- keys recorded before fingerprints existed (those match any retry, as keys
-- did before) and for keyless claims (the claim is the fingerprint).
-- Migrations on big tables must not be cut short by the writer's statement timeout.
SET LOCAL statement_timeout = 0;
SET LOCAL lock_timeout = 0;

CREATE TABLE ingest_claims (
    tenant      text        NOT NULL,
    claim       bytea       NOT NULL,
    fingerprint bytea,
    report_id   uuid        NOT NULL,
    received_at timestamptz NOT NULL,
    keyed       boolean     NOT NULL,
    PRIMARY KEY (tenant, claim)
);

-- Pruning expired keyless claims finds them by time. Claims arrive in time
-- order, so a BRIN index (one summary per block range, next to nothing to
-- maintain per row) finds them as well as a B-tree would at a fraction of
-- the cost on the hot path (measured: a B-tree here cost ~10% of a flush).
CREATE INDEX ingest_claims_expiry ON ingest_claims USING brin (received_at);

-- Keys already stored keep answering retries with their first report.
INSERT INTO ingest_claims (tenant, claim, fingerprint, report_id, received_at, keyed)
SELECT tenant, convert_to('k:' || protocol || ':' || idempotency_key, 'UTF8'), NULL, id, received_at, true
FROM reports
WHERE idempotency_key IS NOT NULL;
