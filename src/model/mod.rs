//! The one normalized quality record every wire style decodes into.
//!
//! A protocol module builds a [`Report`] (and its [`MediaStream`]s) from what a
//! client sent; the store persists it. Units are converted exactly once, at
//! decoding time, so nothing downstream has to know which vendor a number came
//! from: durations are milliseconds, loss is percent 0..100, rates are bits/s
//! and frames/s, counts are packets and sizes are bytes.

pub mod mos;
pub mod quality;
mod stream;
pub mod text;

pub use stream::{MediaStream, Modality};

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Which wire style a report arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Ucwa,
    Graph,
    Plivo,
}

/// What a report says: subjective feedback, a failure diagnosis, or device
/// quality metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Feedback,
    Diagnostics,
    DeviceQuality,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// Every member, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The name used on the wire, in the database and in the read API.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::model::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($ty::$variant),)+
                    _ => Err($crate::model::UnknownName(s.to_owned())),
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(Protocol { Ucwa => "ucwa", Graph => "graph", Plivo => "plivo" });
text_enum!(Kind { Feedback => "feedback", Diagnostics => "diagnostics", DeviceQuality => "device_quality" });

/// A name that is not a member of the enum it was parsed as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown name {0:?}")]
pub struct UnknownName(pub String);

/// One accepted submission, normalized.
///
/// Fields a style does not carry stay `None`/empty. `raw_payload` keeps the
/// request body exactly as received (as text), so that nothing a client sent
/// is lost even where the normalized columns have no place for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    /// UUID v7: time-ordered, so keyset pagination by id follows arrival order.
    pub id: Uuid,
    pub tenant: String,
    pub protocol: Protocol,
    pub kind: Kind,
    pub received_at: DateTime<Utc>,
    /// The key ops search by: Plivo call UUID, Graph `callChainId`, UCWA
    /// `{applicationId}/{conversationId}`.
    pub call_id: String,
    /// Graph `participantId`.
    pub participant_id: Option<String>,
    /// Graph `mediaLegId`.
    pub media_leg_id: Option<String>,
    /// Subjective rating, 1.0..=5.0 (Plivo accepts fractions).
    pub rating: Option<f64>,
    /// Canonical issue names (Plivo's upper-snake names, spelling normalized).
    pub issues: Vec<String>,
    pub notes: Option<String>,
    /// UCWA `errorCode` (ErrorCode enum member).
    pub error_code: Option<String>,
    /// UCWA `errorSubcode` (ErrorSubcode enum member).
    pub error_subcode: Option<String>,
    pub device_name: Option<String>,
    pub device_description: Option<String>,
    pub cloud_service_name: Option<String>,
    pub cloud_service_instance_name: Option<String>,
    pub cloud_service_deployment_id: Option<String>,
    pub cloud_service_deployment_environment: Option<String>,
    /// UCWA `mediaEndpoint`, opaque.
    pub media_endpoint: Option<String>,
    /// UCWA `mediaQualityOfExperience`, opaque (often an MS-QoE XML document).
    /// Not a column of its own: stored once, inside `raw_payload`, and
    /// decoded from it again by the read API (migration 0008).
    pub media_quality_of_experience: Option<String>,
    /// The request id the response carried (`x-request-id`).
    pub request_id: Option<String>,
    /// A key the client chose so that retries are stored once
    /// (`Idempotency-Key`, or a client-sent `X-Request-Id`).
    pub idempotency_key: Option<String>,
    pub user_agent: Option<String>,
    /// `Content-Type` of the request body as sent.
    pub content_type: Option<String>,
    /// The request body exactly as received (UTF-8, lossless for valid input).
    pub raw_payload: String,
    pub streams: Vec<MediaStream>,
    /// SHA-256 over the request's style, operation, path and body
    /// ([`crate::http::RequestMeta::apply`]): what binds an idempotency key
    /// to one request and recognizes a keyless retry. Not a stored column
    /// of the report (the store keeps it with the request's claim).
    #[serde(skip)]
    pub fingerprint: Option<[u8; 32]>,
}

impl Report {
    /// A new report with a fresh UUID v7 id, received now; every optional
    /// field empty. Protocol modules fill in what their style carries.
    pub fn new(
        tenant: impl Into<String>,
        protocol: Protocol,
        kind: Kind,
        call_id: impl Into<String>,
        raw_payload: impl Into<String>,
    ) -> Self {
        Report {
            id: Uuid::now_v7(),
            tenant: tenant.into(),
            protocol,
            kind,
            // Microseconds: what both databases keep, so a stored report reads back equal.
            received_at: Utc::now().trunc_subsecs(6),
            call_id: call_id.into(),
            participant_id: None,
            media_leg_id: None,
            rating: None,
            issues: Vec::new(),
            notes: None,
            error_code: None,
            error_subcode: None,
            device_name: None,
            device_description: None,
            cloud_service_name: None,
            cloud_service_instance_name: None,
            cloud_service_deployment_id: None,
            cloud_service_deployment_environment: None,
            media_endpoint: None,
            media_quality_of_experience: None,
            request_id: None,
            idempotency_key: None,
            user_agent: None,
            content_type: None,
            raw_payload: raw_payload.into(),
            streams: Vec::new(),
            fingerprint: None,
        }
    }

    /// Derives what callq computes for each stream from its metrics, once,
    /// before the report is stored: the E-model MOS of audio streams that
    /// carry no MOS of their own ([`mos::annotate`]; a reported MOS is kept)
    /// and the CQD audio class ([`quality::annotate`]). Every accepted report
    /// passes through here (`Ingest::submit`), whatever its style.
    pub fn derive_stream_quality(&mut self) {
        for stream in &mut self.streams {
            mos::annotate(stream);
            quality::annotate(stream);
        }
    }

    /// Rough in-memory size, used to bound the write queue by bytes.
    pub fn approx_size(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        512 + self.raw_payload.len()
            + self.call_id.len()
            + opt(&self.notes)
            + opt(&self.media_quality_of_experience)
            + opt(&self.media_endpoint)
            + self.issues.iter().map(String::len).sum::<usize>()
            + self.streams.len() * std::mem::size_of::<MediaStream>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_their_names() {
        for p in Protocol::ALL {
            assert_eq!(p.as_str().parse::<Protocol>().unwrap(), *p);
        }
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), *k);
        }
        assert!("UCWA".parse::<Protocol>().is_err());
    }

    #[test]
    fn new_reports_get_time_ordered_ids() {
        let a = Report::new("t", Protocol::Plivo, Kind::Feedback, "c", "{}");
        let b = Report::new("t", Protocol::Plivo, Kind::Feedback, "c", "{}");
        assert_eq!(a.id.get_version_num(), 7);
        assert!(a.id < b.id);
    }
}
