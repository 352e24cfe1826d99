//! Which reports of a batch are retries, decided with the database.
//!
//! Every report that can be retried claims one request identity in
//! `ingest_claims` (migration 0004), in the same statement or transaction
//! that writes it:
//! - with an idempotency key: `k:{protocol}:{key}`, forever;
//! - without one, when a retry window is configured: `f:{sha256 fingerprint}`,
//!   for the window (an older claim is taken over by the new request).
//!
//! The claim row holds the first report's id and fingerprint. A report whose
//! claim is held by another report is not written: it is a retry (same
//! fingerprint: answered with the holder's id) or a key reused for another
//! request (different fingerprint: 422). Because the database decides, two
//! callq processes sharing it agree, and nothing is looked up after COMMIT.
//!
//! Within one batch only the first report of each claim goes to the
//! database (PostgreSQL's `ON CONFLICT DO UPDATE` may not touch a row twice
//! in one statement); the others follow its outcome.

use std::collections::HashMap;
use std::time::Duration;

use uuid::Uuid;

use super::Committed;
use crate::model::Report;
use crate::store::schema::ClaimRow;

/// Longest accepted idempotency key, in characters. Longer keys are refused
/// (400), never cut: a cut key would make two requests look like one.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// How long an identical keyless request counts as a retry, unless configured.
pub const DEFAULT_RETRY_WINDOW: Duration = Duration::from_secs(600);

/// The identity one report claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Claim {
    pub tenant: String,
    pub key: Vec<u8>,
    pub fingerprint: Option<[u8; 32]>,
    /// True for an idempotency key (never expires).
    pub keyed: bool,
}

impl Claim {
    /// The claim `report` makes, if any: its key's, else (with a non-zero
    /// window and a fingerprint) its fingerprint's.
    pub fn of(report: &Report, window: Duration) -> Option<Claim> {
        if let Some(key) = &report.idempotency_key {
            return Some(Claim {
                tenant: report.tenant.clone(),
                key: format!("k:{}:{key}", report.protocol.as_str()).into_bytes(),
                fingerprint: report.fingerprint,
                keyed: true,
            });
        }
        let fingerprint = report.fingerprint.filter(|_| !window.is_zero())?;
        let mut key = b"f:".to_vec();
        key.extend_from_slice(&fingerprint);
        Some(Claim {
            tenant: report.tenant.clone(),
            key,
            // The claim is the fingerprint: nothing more to compare, and
            // 32 bytes less per row on the hot path.
            fingerprint: None,
            keyed: false,
        })
    }

    /// The `ingest_claims` row `report` writes for this claim.
    pub fn row(&self, report: &Report) -> ClaimRow {
        ClaimRow {
            tenant: self.tenant.clone(),
            claim: self.key.clone(),
            fingerprint: self.fingerprint.map(|f| f.to_vec()),
            report_id: report.id,
            received_at: report.received_at,
            keyed: self.keyed,
        }
    }
}

/// What the database said about one leader's claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Holder {
    pub report_id: Uuid,
    pub fingerprint: Option<Vec<u8>>,
}

/// The batch split into the reports sent to the database (leaders) and those
/// that share a leader's claim (followers).
pub(super) struct Plan {
    /// Per input report: its claim (if any).
    pub claims: Vec<Option<Claim>>,
    /// Per input report: the index of the report whose outcome it follows
    /// (itself for a leader).
    leader_of: Vec<usize>,
    /// Indices of the leaders, in input order.
    pub leaders: Vec<usize>,
}

impl Plan {
    pub fn new(reports: &[Report], window: Duration) -> Plan {
        let claims: Vec<Option<Claim>> = reports.iter().map(|r| Claim::of(r, window)).collect();
        let mut first: HashMap<(&str, &[u8]), usize> = HashMap::new();
        let mut leader_of = Vec::with_capacity(reports.len());
        let mut leaders = Vec::with_capacity(reports.len());
        for (i, claim) in claims.iter().enumerate() {
            let leader = match claim {
                Some(c) => *first
                    .entry((c.tenant.as_str(), c.key.as_slice()))
                    .or_insert(i),
                None => i,
            };
            if leader == i {
                leaders.push(i);
            }
            leader_of.push(leader);
        }
        Plan {
            claims,
            leader_of,
            leaders,
        }
    }

    /// Every report's outcome, given the holder of each leader's claim
    /// (`holders[k]` for `leaders[k]`; `None`: the leader had no claim and
    /// was written).
    pub fn resolve(
        &self,
        reports: &[Report],
        holders: &[Option<Holder>],
    ) -> Vec<Result<Committed, KeyReused>> {
        let mut holder_of: HashMap<usize, &Option<Holder>> = HashMap::new();
        for (leader, holder) in self.leaders.iter().zip(holders) {
            holder_of.insert(*leader, holder);
        }
        reports
            .iter()
            .enumerate()
            .map(|(i, report)| {
                let leader = self.leader_of[i];
                let (holder_id, holder_fp) = match holder_of.get(&leader).and_then(|h| h.as_ref()) {
                    Some(h) => (h.report_id, h.fingerprint.as_deref()),
                    None => (
                        reports[leader].id,
                        reports[leader].fingerprint.as_ref().map(|f| &f[..]),
                    ),
                };
                if holder_id == report.id {
                    Ok(Committed {
                        id: report.id,
                        duplicate: false,
                    })
                } else if same_request(report.fingerprint.as_ref().map(|f| &f[..]), holder_fp) {
                    Ok(Committed {
                        id: holder_id,
                        duplicate: true,
                    })
                } else {
                    Err(KeyReused)
                }
            })
            .collect()
    }
}

/// An unknown fingerprint (a claim recorded before fingerprints, or a report
/// submitted without one) matches any: the behaviour keys had before.
fn same_request(a: Option<&[u8]>, b: Option<&[u8]>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// The report's idempotency key was first used for a different request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyReused;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Protocol};

    fn report(key: Option<&str>, fp: u8) -> Report {
        let mut r = Report::new("t", Protocol::Plivo, Kind::Feedback, "c", "{}");
        r.idempotency_key = key.map(str::to_owned);
        r.fingerprint = Some([fp; 32]);
        r
    }

    #[test]
    fn keyed_claims_never_depend_on_the_window_and_keyless_ones_need_it() {
        let keyed = report(Some("k1"), 1);
        assert_eq!(
            Claim::of(&keyed, Duration::ZERO).unwrap().key,
            b"k:plivo:k1".to_vec()
        );
        let keyless = report(None, 1);
        assert!(Claim::of(&keyless, Duration::ZERO).is_none());
        let claim = Claim::of(&keyless, DEFAULT_RETRY_WINDOW).unwrap();
        assert!(!claim.keyed);
        assert_eq!(&claim.key[..2], b"f:");
        let mut unfingerprinted = keyless.clone();
        unfingerprinted.fingerprint = None;
        assert!(Claim::of(&unfingerprinted, DEFAULT_RETRY_WINDOW).is_none());
    }

    #[test]
    fn followers_in_one_batch_take_their_leaders_outcome() {
        let reports = vec![
            report(Some("a"), 1),
            report(Some("a"), 1),
            report(Some("a"), 2),
            report(None, 3),
            report(None, 3),
        ];
        let plan = Plan::new(&reports, DEFAULT_RETRY_WINDOW);
        assert_eq!(plan.leaders, vec![0, 3]);
        // Both leaders won their claims.
        let holders = vec![
            Some(Holder {
                report_id: reports[0].id,
                fingerprint: Some(vec![1; 32]),
            }),
            Some(Holder {
                report_id: reports[3].id,
                fingerprint: Some(vec![3; 32]),
            }),
        ];
        let out = plan.resolve(&reports, &holders);
        let id0 = reports[0].id;
        let id3 = reports[3].id;
        assert_eq!(
            out,
            vec![
                Ok(Committed {
                    id: id0,
                    duplicate: false
                }),
                Ok(Committed {
                    id: id0,
                    duplicate: true
                }),
                Err(KeyReused),
                Ok(Committed {
                    id: id3,
                    duplicate: false
                }),
                Ok(Committed {
                    id: id3,
                    duplicate: true
                }),
            ]
        );
    }

    #[test]
    fn a_claim_held_by_an_earlier_report_makes_a_retry_or_a_reused_key() {
        let reports = vec![report(Some("a"), 1), report(Some("b"), 1)];
        let plan = Plan::new(&reports, DEFAULT_RETRY_WINDOW);
        let earlier = Uuid::now_v7();
        let holders = vec![
            Some(Holder {
                report_id: earlier,
                fingerprint: Some(vec![1; 32]),
            }),
            Some(Holder {
                report_id: earlier,
                fingerprint: Some(vec![9; 32]),
            }),
        ];
        let out = plan.resolve(&reports, &holders);
        assert_eq!(
            out[0],
            Ok(Committed {
                id: earlier,
                duplicate: true
            })
        );
        assert_eq!(out[1], Err(KeyReused));
        // A claim recorded before fingerprints matches any retry.
        let holders = vec![
            Some(Holder {
                report_id: earlier,
                fingerprint: None,
            }),
            None,
        ];
        assert!(plan.resolve(&reports, &holders)[0].is_ok());
    }
}
