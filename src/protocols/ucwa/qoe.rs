// replaced by the MS-QoE parser branch

/// Per-stream metrics of an MS-QoE `VQReportEvent` document.
pub fn extract_streams(_qoe: &str) -> Vec<crate::model::MediaStream> {
    Vec::new()
}
