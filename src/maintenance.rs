//! Periodic database maintenance every replica runs: PostgreSQL partitions
//! created ahead of time, then retention (docs/partitioning-and-retention.md).
//!
//! Both steps are safe from every replica at once (advisory locks in
//! `store/partitions.rs` and `store/retention.rs`), so there is no leader to
//! elect. A failed pass is logged and tried again at the next interval: a
//! missing partition costs nothing (the DEFAULT partition takes the rows),
//! and late retention only keeps rows longer.

use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;

use crate::config::Settings;
use crate::store::{Partition, Pruned, Store, StoreError};

/// The running maintenance task; stopped by [`Maintenance::stop`] or on drop.
pub struct Maintenance {
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Maintenance {
    /// Creates the partitions ahead once, before returning (so that the
    /// first reports land in their partition, not in the DEFAULT one), then
    /// starts the periodic task: every `maintenance_interval_secs`,
    /// partitions ahead and a retention pass.
    pub async fn start(store: Store, settings: &Settings) -> Maintenance {
        create_partitions(&store, settings).await;
        let settings = settings.clone();
        let task = tokio::spawn(async move {
            let every = Duration::from_secs(settings.maintenance_interval_secs.max(1));
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut first = true;
            loop {
                tick.tick().await; // the first tick is at once: retention runs at start too
                if !first {
                    create_partitions(&store, &settings).await;
                }
                first = false;
                if let Err(e) = prune(&store, &settings, false).await {
                    tracing::warn!(error = %e, "retention pass failed; trying again later");
                }
            }
        });
        Maintenance {
            task: Mutex::new(Some(task)),
        }
    }

    /// Stops the periodic task (a pass in progress ends with it; each of its
    /// statements is its own transaction, so nothing is left half done).
    pub fn stop(&self) {
        if let Some(task) = self.task.lock().expect("not poisoned").take() {
            task.abort();
        }
    }
}

impl Drop for Maintenance {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Partitions ahead of now in the configured width; failures are logged.
pub async fn create_partitions(store: &Store, settings: &Settings) -> Vec<Partition> {
    match store
        .create_partitions(
            settings.partition_width(),
            settings.partitions_ahead,
            Utc::now(),
        )
        .await
    {
        Ok(created) => {
            for p in &created {
                tracing::info!(partition = %p.name, from = %p.from, to = %p.to, "created partition");
            }
            created
        }
        Err(e) => {
            tracing::warn!(error = %e, "creating partitions ahead failed; new rows go to the DEFAULT partition until a later pass succeeds");
            Vec::new()
        }
    }
}

/// One retention pass under the configured policy (nothing when no
/// retention is set), counted in the retention metrics unless `dry_run`.
pub async fn prune(
    store: &Store,
    settings: &Settings,
    dry_run: bool,
) -> Result<Pruned, StoreError> {
    let pruned = store
        .prune(
            &settings.retention(),
            Utc::now(),
            settings.retention_batch_rows,
            dry_run,
        )
        .await?;
    if !dry_run {
        metrics::counter!("callq_retention_rows_removed_total").increment(pruned.total_rows());
        metrics::counter!("callq_retention_partitions_dropped_total")
            .increment(pruned.partitions.len() as u64);
        if pruned.total_rows() > 0 || !pruned.partitions.is_empty() {
            tracing::info!(
                rows = pruned.total_rows(),
                partitions = pruned.partitions.len(),
                claims = pruned.claims,
                rollups = pruned.rollups,
                "retention removed old reports"
            );
        }
    }
    Ok(pruned)
}

/// What `callq prune` prints: the policy, each partition dropped, the
/// reports removed per tenant, the claims, and the totals.
pub fn summary(settings: &Settings, pruned: &Pruned, dry_run: bool) -> String {
    use std::fmt::Write;
    let policy = settings.retention();
    let days = |d: u32| match d {
        0 => "forever".to_owned(),
        d => format!("{d} days"),
    };
    let mut out = format!("retention: {}", days(policy.default_days));
    for (tenant, &d) in &policy.tenants {
        let _ = write!(out, ", tenant {tenant}: {}", days(d));
    }
    out.push('\n');
    let (drop, remove) = if dry_run {
        ("would drop", "would remove")
    } else {
        ("dropped", "removed")
    };
    for p in &pruned.partitions {
        let _ = writeln!(
            out,
            "{drop} partition {} ({} to {})",
            p.name,
            p.from.format("%Y-%m-%d %H:%M UTC"),
            p.to.format("%Y-%m-%d %H:%M UTC")
        );
    }
    for (tenant, n) in &pruned.rows {
        let _ = writeln!(out, "{remove} {n} report(s) of tenant {tenant}");
    }
    let _ = writeln!(
        out,
        "{remove} {} report(s), {} retry claim(s) and {} rollup row(s) in all; {drop} {} partition(s)",
        pruned.total_rows(),
        pruned.claims,
        pruned.rollups,
        pruned.partitions.len()
    );
    out
}
