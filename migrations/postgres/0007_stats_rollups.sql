-- Hourly rollups for long statistics ranges (docs/rollups.md).
--
-- One row per (tenant, UTC hour, style, kind): what `GET /api/v1/stats`
-- reports, in mergeable form. Rows are written once, by the catch-up task
-- (src/store/rollup/), for whole hours that are closed, in the same
-- transaction that advances `stats_rollup_progress`; they are never updated.
SET LOCAL statement_timeout = 0;
SET LOCAL lock_timeout = 0;

CREATE TABLE stats_rollups (
    tenant                text             NOT NULL,
    hour                  timestamptz      NOT NULL,
    protocol              text             NOT NULL,
    kind                  text             NOT NULL,
    reports               bigint           NOT NULL,
    rated                 bigint           NOT NULL,
    rating_sum            double precision NOT NULL,
    rating_sum_squares    double precision NOT NULL,
    -- JSON objects: rating value ("4", "4.5") -> reports; issue -> reports;
    -- poor reason -> poor audio streams.
    ratings               text             NOT NULL,
    issues                text             NOT NULL,
    poor_reasons          text             NOT NULL,
    audio_streams         bigint           NOT NULL,
    poor_audio_streams    bigint           NOT NULL,
    unclassified_streams  bigint           NOT NULL,
    -- Log-bucket sketches (src/store/rollup/sketch.rs), 1 % relative error.
    jitter_ms             bytea            NOT NULL,
    loss_pct              bytea            NOT NULL,
    rtt_ms                bytea            NOT NULL,
    mos                   bytea            NOT NULL,
    PRIMARY KEY (tenant, hour, protocol, kind)
);

-- Every hour before next_hour is rolled up (NULL: none yet). One row.
CREATE TABLE stats_rollup_progress (
    id        integer     PRIMARY KEY CHECK (id = 1),
    next_hour timestamptz
);
INSERT INTO stats_rollup_progress (id, next_hour) VALUES (1, NULL);

-- The catch-up reads one hour of every tenant at a time. Reports arrive in
-- time order, so a BRIN index finds an hour at next to no cost per insert.
CREATE INDEX reports_received_brin ON reports USING brin (received_at);
