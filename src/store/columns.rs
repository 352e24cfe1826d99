//! Column lists and row mapping shared by both backends.

/// The `reports` columns, in insert order.
pub const REPORT_COLUMNS: &str = "id, tenant, protocol, kind, received_at, call_id, participant_id, \
    media_leg_id, rating, issues, notes, error_code, error_subcode, device_name, device_description, \
    cloud_service_name, cloud_service_instance_name, cloud_service_deployment_id, \
    cloud_service_deployment_environment, media_endpoint, media_quality_of_experience, request_id, \
    idempotency_key, user_agent, content_type, raw_payload";

/// The `media_streams` columns, in insert order.
pub const STREAM_COLUMNS: &str = "report_id, ordinal, modality, channel_index, label, media_duration_ms, \
    inbound_packets, outbound_packets, avg_inbound_jitter_ms, max_inbound_jitter_ms, \
    avg_outbound_jitter_ms, max_outbound_jitter_ms, avg_inbound_loss_pct, max_inbound_loss_pct, \
    avg_outbound_loss_pct, max_outbound_loss_pct, avg_inbound_rtt_ms, max_inbound_rtt_ms, \
    avg_outbound_rtt_ms, max_outbound_rtt_ms, avg_inbound_bitrate_bps, avg_outbound_bitrate_bps, \
    avg_inbound_frame_rate, avg_outbound_frame_rate, network_link_speed_bytes, local_ip, local_port, \
    remote_ip, remote_port, mos, r_factor, mos_model, quality_class, poor_reasons, quality_classifier";

/// Parses a stored enum name (protocol, kind); a name the model does not
/// know means the row was written by something else and is reported as such.
pub(crate) fn stored_name<T>(column: &str, text: &str) -> Result<T, crate::store::StoreError>
where
    T: std::str::FromStr<Err = crate::model::UnknownName>,
{
    text.parse()
        .map_err(|e| crate::store::StoreError::Malformed(format!("{column}: {e}")))
}

/// Builds a [`MediaStream`](crate::model::MediaStream) from a `media_streams`
/// row of either backend (the column types agree apart from `report_id`).
macro_rules! stream_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        let modality: Option<String> = row.try_get("modality")?;
        crate::model::MediaStream {
            ordinal: row.try_get("ordinal")?,
            modality: modality
                .as_deref()
                .map(|m| crate::store::columns::stored_name("modality", m))
                .transpose()?,
            channel_index: row.try_get("channel_index")?,
            label: row.try_get("label")?,
            media_duration_ms: row.try_get("media_duration_ms")?,
            inbound_packets: row.try_get("inbound_packets")?,
            outbound_packets: row.try_get("outbound_packets")?,
            avg_inbound_jitter_ms: row.try_get("avg_inbound_jitter_ms")?,
            max_inbound_jitter_ms: row.try_get("max_inbound_jitter_ms")?,
            avg_outbound_jitter_ms: row.try_get("avg_outbound_jitter_ms")?,
            max_outbound_jitter_ms: row.try_get("max_outbound_jitter_ms")?,
            avg_inbound_loss_pct: row.try_get("avg_inbound_loss_pct")?,
            max_inbound_loss_pct: row.try_get("max_inbound_loss_pct")?,
            avg_outbound_loss_pct: row.try_get("avg_outbound_loss_pct")?,
            max_outbound_loss_pct: row.try_get("max_outbound_loss_pct")?,
            avg_inbound_rtt_ms: row.try_get("avg_inbound_rtt_ms")?,
            max_inbound_rtt_ms: row.try_get("max_inbound_rtt_ms")?,
            avg_outbound_rtt_ms: row.try_get("avg_outbound_rtt_ms")?,
            max_outbound_rtt_ms: row.try_get("max_outbound_rtt_ms")?,
            avg_inbound_bitrate_bps: row.try_get("avg_inbound_bitrate_bps")?,
            avg_outbound_bitrate_bps: row.try_get("avg_outbound_bitrate_bps")?,
            avg_inbound_frame_rate: row.try_get("avg_inbound_frame_rate")?,
            avg_outbound_frame_rate: row.try_get("avg_outbound_frame_rate")?,
            network_link_speed_bytes: row.try_get("network_link_speed_bytes")?,
            local_ip: row.try_get("local_ip")?,
            local_port: row.try_get("local_port")?,
            remote_ip: row.try_get("remote_ip")?,
            remote_port: row.try_get("remote_port")?,
            mos: row.try_get("mos")?,
            r_factor: row.try_get("r_factor")?,
            mos_model: row.try_get("mos_model")?,
            quality_class: {
                let class: Option<String> = row.try_get("quality_class")?;
                class
                    .as_deref()
                    .map(|c| crate::store::columns::stored_name("quality_class", c))
                    .transpose()?
            },
            poor_reasons: {
                let reasons: String = row.try_get("poor_reasons")?;
                crate::model::quality::split_reasons(&reasons).map_err(|e| {
                    crate::store::StoreError::Malformed(format!("poor_reasons: {e}"))
                })?
            },
            quality_classifier: row.try_get("quality_classifier")?,
        }
    }};
}
pub(crate) use stream_from_row;

/// Fills every `reports` column of a [`Report`](crate::model::Report) except
/// the four whose types differ between backends (id, received_at, issues,
/// streams), which the caller passes in.
macro_rules! report_from_row {
    ($row:expr, id: $id:expr, received_at: $received_at:expr, issues: $issues:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        let protocol: String = row.try_get("protocol")?;
        let kind: String = row.try_get("kind")?;
        crate::model::Report {
            id: $id,
            tenant: row.try_get("tenant")?,
            protocol: crate::store::columns::stored_name("protocol", &protocol)?,
            kind: crate::store::columns::stored_name("kind", &kind)?,
            received_at: $received_at,
            call_id: row.try_get("call_id")?,
            participant_id: row.try_get("participant_id")?,
            media_leg_id: row.try_get("media_leg_id")?,
            rating: row.try_get("rating")?,
            issues: $issues,
            notes: row.try_get("notes")?,
            error_code: row.try_get("error_code")?,
            error_subcode: row.try_get("error_subcode")?,
            device_name: row.try_get("device_name")?,
            device_description: row.try_get("device_description")?,
            cloud_service_name: row.try_get("cloud_service_name")?,
            cloud_service_instance_name: row.try_get("cloud_service_instance_name")?,
            cloud_service_deployment_id: row.try_get("cloud_service_deployment_id")?,
            cloud_service_deployment_environment: row
                .try_get("cloud_service_deployment_environment")?,
            media_endpoint: row.try_get("media_endpoint")?,
            media_quality_of_experience: row.try_get("media_quality_of_experience")?,
            request_id: row.try_get("request_id")?,
            idempotency_key: row.try_get("idempotency_key")?,
            user_agent: row.try_get("user_agent")?,
            content_type: row.try_get("content_type")?,
            raw_payload: row.try_get("raw_payload")?,
            streams: Vec::new(),
            fingerprint: None,
        }
    }};
}
pub(crate) use report_from_row;
