-- Same model as migrations/postgres. SQLite has no uuid, timestamptz or arrays:
-- ids are hyphenated UUID text (v7 sorts by time as text too), received_at is
-- RFC 3339 UTC text with exactly six fractional digits (so text order is time
-- order), issues is a JSON array of strings.
CREATE TABLE reports (
    id                                   TEXT PRIMARY KEY NOT NULL,
    tenant                               TEXT NOT NULL,
    protocol                             TEXT NOT NULL CHECK (protocol IN ('ucwa', 'graph', 'plivo')),
    kind                                 TEXT NOT NULL CHECK (kind IN ('feedback', 'diagnostics', 'device_quality')),
    received_at                          TEXT NOT NULL,
    call_id                              TEXT NOT NULL,
    participant_id                       TEXT,
    media_leg_id                         TEXT,
    rating                               REAL CHECK (rating BETWEEN 1 AND 5),
    issues                               TEXT NOT NULL DEFAULT '[]',
    notes                                TEXT,
    error_code                           TEXT,
    error_subcode                        TEXT,
    device_name                          TEXT,
    device_description                   TEXT,
    cloud_service_name                   TEXT,
    cloud_service_instance_name          TEXT,
    cloud_service_deployment_id          TEXT,
    cloud_service_deployment_environment TEXT,
    media_endpoint                       TEXT,
    media_quality_of_experience          TEXT,
    request_id                           TEXT,
    idempotency_key                      TEXT,
    user_agent                           TEXT,
    content_type                         TEXT,
    raw_payload                          TEXT NOT NULL
);

CREATE UNIQUE INDEX reports_idempotency ON reports (tenant, protocol, idempotency_key);
CREATE INDEX reports_tenant_call ON reports (tenant, call_id, received_at);
CREATE INDEX reports_tenant_received ON reports (tenant, received_at);
CREATE INDEX reports_tenant_id ON reports (tenant, id);
CREATE INDEX reports_tenant_protocol_kind ON reports (tenant, protocol, kind, received_at);

CREATE TABLE media_streams (
    report_id                TEXT NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    ordinal                  INTEGER NOT NULL,
    modality                 TEXT CHECK (modality IN ('audio', 'video', 'screen_sharing', 'unknown')),
    channel_index            INTEGER,
    label                    TEXT,
    media_duration_ms        REAL,
    inbound_packets          INTEGER,
    outbound_packets         INTEGER,
    avg_inbound_jitter_ms    REAL,
    max_inbound_jitter_ms    REAL,
    avg_outbound_jitter_ms   REAL,
    max_outbound_jitter_ms   REAL,
    avg_inbound_loss_pct     REAL,
    max_inbound_loss_pct     REAL,
    avg_outbound_loss_pct    REAL,
    max_outbound_loss_pct    REAL,
    avg_inbound_rtt_ms       REAL,
    max_inbound_rtt_ms       REAL,
    avg_outbound_rtt_ms      REAL,
    max_outbound_rtt_ms      REAL,
    avg_inbound_bitrate_bps  REAL,
    avg_outbound_bitrate_bps REAL,
    avg_inbound_frame_rate   REAL,
    avg_outbound_frame_rate  REAL,
    network_link_speed_bytes INTEGER,
    local_ip                 TEXT,
    local_port               INTEGER,
    remote_ip                TEXT,
    remote_port              INTEGER,
    mos                      REAL,
    r_factor                 REAL,
    mos_model                TEXT,
    PRIMARY KEY (report_id, ordinal)
) WITHOUT ROWID;
