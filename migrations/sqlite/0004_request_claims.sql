-- Same as migrations/postgres/0004: the request identities reports claimed
-- ('k:' || protocol || ':' || key, or 'f:' || sha256 fingerprint), decided
-- inside the batch transaction.
CREATE TABLE ingest_claims (
    tenant      TEXT    NOT NULL,
    claim       BLOB    NOT NULL,
    fingerprint BLOB,
    report_id   TEXT    NOT NULL,
    received_at TEXT    NOT NULL,
    keyed       INTEGER NOT NULL,
    PRIMARY KEY (tenant, claim)
) WITHOUT ROWID;

CREATE INDEX ingest_claims_expiry ON ingest_claims (received_at) WHERE NOT keyed;

INSERT INTO ingest_claims (tenant, claim, fingerprint, report_id, received_at, keyed)
SELECT tenant, CAST('k:' || protocol || ':' || idempotency_key AS BLOB), NULL, id, received_at, 1
FROM reports
WHERE idempotency_key IS NOT NULL;
