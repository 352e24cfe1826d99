-- Same as migrations/postgres/0007: hourly statistics rollups (docs/rollups.md).
-- hour and next_hour are fixed-width RFC 3339 text like received_at.
CREATE TABLE stats_rollups (
    tenant                TEXT    NOT NULL,
    hour                  TEXT    NOT NULL,
    protocol              TEXT    NOT NULL,
    kind                  TEXT    NOT NULL,
    reports               INTEGER NOT NULL,
    rated                 INTEGER NOT NULL,
    rating_sum            REAL    NOT NULL,
    rating_sum_squares    REAL    NOT NULL,
    ratings               TEXT    NOT NULL,
    issues                TEXT    NOT NULL,
    poor_reasons          TEXT    NOT NULL,
    audio_streams         INTEGER NOT NULL,
    poor_audio_streams    INTEGER NOT NULL,
    unclassified_streams  INTEGER NOT NULL,
    jitter_ms             BLOB    NOT NULL,
    loss_pct              BLOB    NOT NULL,
    rtt_ms                BLOB    NOT NULL,
    mos                   BLOB    NOT NULL,
    PRIMARY KEY (tenant, hour, protocol, kind)
);

CREATE TABLE stats_rollup_progress (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    next_hour TEXT
);
INSERT INTO stats_rollup_progress (id, next_hour) VALUES (1, NULL);

-- The catch-up reads one hour of every tenant at a time.
CREATE INDEX reports_received ON reports (received_at);
