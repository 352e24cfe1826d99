//! Per-tenant fairness in the write queue.
//!
//! The queue is bounded as a whole (count and bytes), so without this one
//! tenant that floods could fill it and every other tenant would get 503s
//! for a problem that is not theirs. Each tenant may hold at most a share of
//! the queue; beyond it that tenant (and only it) is told
//! [`WriteError::TenantBusy`](super::writer::WriteError::TenantBusy), 429 + Retry-After.
//!
//! A tenant with nothing queued is always let through to the global checks,
//! so a share smaller than one large report can never lock a tenant out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What each tenant holds in the queue right now, and how much it may hold.
pub(super) struct TenantShares {
    max_reports: usize,
    max_kib: usize,
    held: Mutex<HashMap<Arc<str>, Held>>,
}

#[derive(Default, Clone, Copy)]
struct Held {
    reports: usize,
    kib: usize,
}

impl TenantShares {
    /// `share` of a queue of `capacity` reports and `capacity_kib` KiB;
    /// `None` when the share is the whole queue (nothing to enforce).
    pub(super) fn new(share: f64, capacity: usize, capacity_kib: usize) -> Option<Arc<Self>> {
        if !(share > 0.0 && share < 1.0) {
            return None;
        }
        let part = |whole: usize| ((whole as f64 * share).floor() as usize).max(1);
        Some(Arc::new(TenantShares {
            max_reports: part(capacity),
            max_kib: part(capacity_kib),
            held: Mutex::new(HashMap::new()),
        }))
    }

    /// Books one report of `kib` for `tenant`, or `None` when the tenant
    /// already holds its share. The booking ends when the guard is dropped
    /// (when the writer takes the report out of the queue).
    pub(super) fn try_book(self: &Arc<Self>, tenant: &str, kib: usize) -> Option<ShareGuard> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let key: Arc<str> = match held.get_key_value(tenant) {
            Some((key, h)) => {
                if h.reports + 1 > self.max_reports || h.kib + kib > self.max_kib {
                    return None;
                }
                key.clone()
            }
            None => Arc::from(tenant),
        };
        let h = held.entry(key.clone()).or_default();
        h.reports += 1;
        h.kib += kib;
        Some(ShareGuard {
            shares: self.clone(),
            tenant: key,
            kib,
        })
    }

    fn release(&self, tenant: &Arc<str>, kib: usize) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = held.get_mut(tenant) {
            h.reports = h.reports.saturating_sub(1);
            h.kib = h.kib.saturating_sub(kib);
            if h.reports == 0 {
                // Only tenants with something queued are kept: the map stays
                // as small as the set of tenants sending right now.
                held.remove(tenant);
            }
        }
    }
}

/// One queued report's booking against its tenant's share.
pub(super) struct ShareGuard {
    shares: Arc<TenantShares>,
    tenant: Arc<str>,
    kib: usize,
}

impl Drop for ShareGuard {
    fn drop(&mut self) {
        self.shares.release(&self.tenant, self.kib);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_is_held_to_its_share_and_others_still_get_in() {
        let shares = TenantShares::new(0.5, 8, 1000).unwrap();
        let acme: Vec<_> = (0..4)
            .map(|_| shares.try_book("acme", 1).unwrap())
            .collect();
        assert!(shares.try_book("acme", 1).is_none(), "5 of 8 is over half");
        let globex = shares
            .try_book("globex", 1)
            .expect("another tenant gets in");
        drop(acme);
        assert!(shares.try_book("acme", 1).is_some(), "released on drop");
        drop(globex);
        assert!(shares.held.lock().unwrap().get("globex").is_none());
    }

    #[test]
    fn bytes_count_too_but_an_empty_tenant_always_gets_one_in() {
        let shares = TenantShares::new(0.5, 100, 100).unwrap();
        let big = shares.try_book("acme", 80).expect("nothing queued yet");
        assert!(shares.try_book("acme", 1).is_none(), "over its 50 KiB");
        drop(big);
        assert!(shares.try_book("acme", 10).is_some());
    }

    #[test]
    fn a_share_of_the_whole_queue_enforces_nothing() {
        assert!(TenantShares::new(1.0, 8, 8).is_none());
    }
}
