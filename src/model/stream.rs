//! Per-stream media metrics in common units.

use serde::{Deserialize, Serialize};

use super::quality::{PoorReason, QualityClass};

/// The media a stream carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    Audio,
    Video,
    ScreenSharing,
    /// The client did not say (e.g. an SDK that omits `@odata.type`).
    Unknown,
}

super::text_enum!(Modality {
    Audio => "audio",
    Video => "video",
    ScreenSharing => "screen_sharing",
    Unknown => "unknown",
});

/// One media stream's metrics, inbound and outbound, in common units:
/// milliseconds, percent 0..100, packets, bytes, bits/s, frames/s.
///
/// One row per Graph `mediaQualityList` element or per MS-QoE `MediaLine`.
/// Every metric is optional because every vendor field is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MediaStream {
    /// Position of the stream within its report, from 0.
    pub ordinal: i32,
    pub modality: Option<Modality>,
    /// Graph `channelIndex` (1-based).
    pub channel_index: Option<i32>,
    /// A label the source gave the stream (e.g. MS-QoE `MediaLine/Description/Connectivity` label).
    pub label: Option<String>,
    pub media_duration_ms: Option<f64>,
    pub inbound_packets: Option<i64>,
    pub outbound_packets: Option<i64>,
    pub avg_inbound_jitter_ms: Option<f64>,
    pub max_inbound_jitter_ms: Option<f64>,
    pub avg_outbound_jitter_ms: Option<f64>,
    pub max_outbound_jitter_ms: Option<f64>,
    pub avg_inbound_loss_pct: Option<f64>,
    pub max_inbound_loss_pct: Option<f64>,
    pub avg_outbound_loss_pct: Option<f64>,
    pub max_outbound_loss_pct: Option<f64>,
    pub avg_inbound_rtt_ms: Option<f64>,
    pub max_inbound_rtt_ms: Option<f64>,
    pub avg_outbound_rtt_ms: Option<f64>,
    pub max_outbound_rtt_ms: Option<f64>,
    pub avg_inbound_bitrate_bps: Option<f64>,
    pub avg_outbound_bitrate_bps: Option<f64>,
    pub avg_inbound_frame_rate: Option<f64>,
    pub avg_outbound_frame_rate: Option<f64>,
    /// Graph `networkLinkSpeedInBytes`, kept in the unit it is named in.
    pub network_link_speed_bytes: Option<i64>,
    pub local_ip: Option<String>,
    pub local_port: Option<i32>,
    pub remote_ip: Option<String>,
    pub remote_port: Option<i32>,
    /// Mean opinion score, 1..5: reported by the source (MS-QoE) or estimated
    /// by callq (E-model); `mos_model` says which.
    pub mos: Option<f64>,
    /// E-model transmission rating factor R (0..100), when callq estimated MOS.
    pub r_factor: Option<f64>,
    /// Where `mos` came from, with a version, e.g. `g107-simplified/1` or
    /// `ms-qoe/OverallAvgNetworkMOS`.
    pub mos_model: Option<String>,
    /// CQD audio class (`good`, `poor`, `unclassified`); `None` for streams
    /// that are not audio. Set by callq when the report is accepted
    /// ([`quality`](super::quality)).
    pub quality_class: Option<QualityClass>,
    /// Which conditions made the stream Poor; empty unless it is.
    #[serde(default)]
    pub poor_reasons: Vec<PoorReason>,
    /// The classifier that set `quality_class`, with a version
    /// (`cqd-audio/1`), like `mos_model` for MOS.
    pub quality_classifier: Option<String>,
}

impl MediaStream {
    /// The sixteen per-direction metrics, from `avg_inbound_jitter_ms` to
    /// `avg_outbound_frame_rate`, for the fuzz targets' range checks. (The
    /// store does not use it: its column list, `store/schema/mod.rs`, names
    /// every field itself.)
    pub fn direction_metrics(&self) -> [Option<f64>; 16] {
        [
            self.avg_inbound_jitter_ms,
            self.max_inbound_jitter_ms,
            self.avg_outbound_jitter_ms,
            self.max_outbound_jitter_ms,
            self.avg_inbound_loss_pct,
            self.max_inbound_loss_pct,
            self.avg_outbound_loss_pct,
            self.max_outbound_loss_pct,
            self.avg_inbound_rtt_ms,
            self.max_inbound_rtt_ms,
            self.avg_outbound_rtt_ms,
            self.max_outbound_rtt_ms,
            self.avg_inbound_bitrate_bps,
            self.avg_outbound_bitrate_bps,
            self.avg_inbound_frame_rate,
            self.avg_outbound_frame_rate,
        ]
    }
}
