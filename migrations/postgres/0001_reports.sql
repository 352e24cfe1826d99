-- One row per accepted submission. The raw payload is kept as text, not jsonb:
-- jsonb parsing was measured to cost most of PostgreSQL's per-row CPU (DESIGN.md),
-- and ops query the normalized columns, not the payload.
CREATE TABLE reports (
    id                                   uuid PRIMARY KEY,
    tenant                               text NOT NULL,
    protocol                             text NOT NULL CHECK (protocol IN ('ucwa', 'graph', 'plivo')),
    kind                                 text NOT NULL CHECK (kind IN ('feedback', 'diagnostics', 'device_quality')),
    received_at                          timestamptz NOT NULL,
    call_id                              text NOT NULL,
    participant_id                       text,
    media_leg_id                         text,
    rating                               double precision CHECK (rating BETWEEN 1 AND 5),
    issues                               text[] NOT NULL DEFAULT '{}',
    notes                                text,
    error_code                           text,
    error_subcode                        text,
    device_name                          text,
    device_description                   text,
    cloud_service_name                   text,
    cloud_service_instance_name          text,
    cloud_service_deployment_id          text,
    cloud_service_deployment_environment text,
    media_endpoint                       text,
    media_quality_of_experience          text,
    request_id                           text,
    idempotency_key                      text,
    user_agent                           text,
    content_type                         text,
    raw_payload                          text NOT NULL
);

-- A retried request (same tenant, style and client-chosen key) is stored once.
-- NULL keys never conflict, so requests without a key are always stored.
CREATE UNIQUE INDEX reports_idempotency ON reports (tenant, protocol, idempotency_key);
-- "Everything about this call", in time order.
CREATE INDEX reports_tenant_call ON reports (tenant, call_id, received_at);
-- Time-range listing, stats and keyset pagination (ids are UUID v7, time-ordered).
CREATE INDEX reports_tenant_received ON reports (tenant, received_at);
CREATE INDEX reports_tenant_id ON reports (tenant, id);
CREATE INDEX reports_tenant_protocol_kind ON reports (tenant, protocol, kind, received_at);

-- One row per media stream of a report, metrics in common units.
CREATE TABLE media_streams (
    report_id                uuid NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    ordinal                  integer NOT NULL,
    modality                 text CHECK (modality IN ('audio', 'video', 'screen_sharing', 'unknown')),
    channel_index            integer,
    label                    text,
    media_duration_ms        double precision,
    inbound_packets          bigint,
    outbound_packets         bigint,
    avg_inbound_jitter_ms    double precision,
    max_inbound_jitter_ms    double precision,
    avg_outbound_jitter_ms   double precision,
    max_outbound_jitter_ms   double precision,
    avg_inbound_loss_pct     double precision,
    max_inbound_loss_pct     double precision,
    avg_outbound_loss_pct    double precision,
    max_outbound_loss_pct    double precision,
    avg_inbound_rtt_ms       double precision,
    max_inbound_rtt_ms       double precision,
    avg_outbound_rtt_ms      double precision,
    max_outbound_rtt_ms      double precision,
    avg_inbound_bitrate_bps  double precision,
    avg_outbound_bitrate_bps double precision,
    avg_inbound_frame_rate   double precision,
    avg_outbound_frame_rate  double precision,
    network_link_speed_bytes bigint,
    local_ip                 text,
    local_port               integer,
    remote_ip                text,
    remote_port              integer,
    mos                      double precision,
    r_factor                 double precision,
    mos_model                text,
    PRIMARY KEY (report_id, ordinal)
);
