//! Provenance of the values callq computes rather than reads: each audio
//! stream's E-model MOS and R-factor, and its CQD quality class. The inputs
//! come from the same functions the model itself reads them with
//! (`mos::inputs`, `quality::inputs`), after `derive_stream_quality` ran.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{ComputedBy, Provenance, Source, SourceKind, Trace, number_text};
use crate::model::{Report, mos, quality};

/// Records, for each stream of `report` (its quality already derived), the
/// model, version and inputs behind its computed values.
pub fn record(report: &Report, trace: &Trace) {
    for (i, stream) in report.streams.iter().enumerate() {
        if stream.mos_model.as_deref() == Some(mos::MODEL)
            && let (Some(score), Some(r), Some(inputs)) =
                (stream.mos, stream.r_factor, mos::inputs(stream))
        {
            let model = ComputedBy {
                name: "E-model (ITU-T G.107, simplified; G.711 with PLC)".into(),
                version: mos::MODEL.into(),
                inputs: BTreeMap::from([
                    (inputs.rtt_field.to_owned(), json!(inputs.rtt_ms)),
                    ("avg_inbound_jitter_ms".to_owned(), json!(inputs.jitter_ms)),
                    ("avg_inbound_loss_pct".to_owned(), json!(inputs.loss_pct)),
                ]),
            };
            trace.field(|| computed(i, "r_factor", number_text(r), model.clone()));
            trace.field(|| computed(i, "mos", number_text(score), model));
        }
        if let Some(class) = stream.quality_class {
            let inputs = quality::inputs(stream);
            let number = |v: Option<f64>| v.map_or(Value::Null, |v| json!(v));
            let model = ComputedBy {
                name: "CQD audio stream classifier (Poor: round trip > 500 ms, loss > 10 %, \
                       jitter > 30 ms, over 500 packets)"
                    .into(),
                version: quality::CLASSIFIER.into(),
                inputs: BTreeMap::from([
                    (
                        "packets".to_owned(),
                        inputs.packets.map_or(Value::Null, |p| json!(p)),
                    ),
                    ("round_trip_ms".to_owned(), number(inputs.rtt)),
                    ("packet_loss_pct".to_owned(), number(inputs.loss)),
                    ("jitter_ms".to_owned(), number(inputs.jitter)),
                ]),
            };
            let reasons: Vec<&str> = stream.poor_reasons.iter().map(|r| r.as_str()).collect();
            let shown = if reasons.is_empty() {
                class.as_str().to_owned()
            } else {
                format!("{} ({})", class.as_str(), reasons.join(", "))
            };
            trace.field(|| computed(i, "quality_class", shown, model));
        }
    }
}

fn computed(stream: usize, name: &str, value: String, model: ComputedBy) -> Provenance {
    Provenance {
        field: format!("streams[{stream}].{name}"),
        source: Source {
            kind: SourceKind::Computed,
            at: model.version.clone(),
        },
        raw: None,
        conversion: Some(format!("computed: {value}")),
        model: Some(model),
    }
}
