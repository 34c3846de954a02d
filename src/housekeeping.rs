//! The background purge: expired refresh tokens, sessions, rate-limit
//! counters and emailed-link tokens, and sent or abandoned emails a week
//! old, and audit events older than `AUDIT_RETENTION`, are deleted every
//! `HOUSEKEEPING_INTERVAL`, in batches, so the tables stay the size of the
//! live data without a cron job.
//!
//! Ended sessions whose tokens have not expired yet are kept: `logout` with
//! one of those tokens must still answer `false`, and a reused one must still
//! be recognised. Every instance runs the purge; on PostgreSQL `SKIP LOCKED`
//! keeps them (and live traffic) from waiting on each other, and on SQLite
//! each batch is one short write in the write queue.

use std::sync::Arc;
use std::time::Duration;

use crate::db::{Purged, Store};

/// Rows of each kind deleted per statement.
const BATCH: u32 = 500;
/// A pause between batches, leaving the database to live traffic.
const PAUSE: Duration = Duration::from_millis(50);

/// Purges everything that expired, batch by batch; returns the totals.
/// Audit events go once older than `audit_retention` (`None`: never).
pub async fn purge_once(store: &dyn Store, audit_retention: Option<Duration>) -> Purged {
    let mut total = Purged::default();
    let audit_before = audit_retention
        .and_then(|keep| chrono::Duration::from_std(keep).ok())
        .map(|keep| chrono::Utc::now() - keep);
    loop {
        let batch = match store.purge_expired(BATCH, audit_before).await {
            Ok(batch) => batch,
            Err(error) => {
                tracing::warn!(error = error.describe(), "housekeeping: purge failed");
                break;
            }
        };
        total.refresh_tokens += batch.refresh_tokens;
        total.sessions += batch.sessions;
        total.login_attempts += batch.login_attempts;
        total.email_tokens += batch.email_tokens;
        total.email_requests += batch.email_requests;
        total.outbox += batch.outbox;
        total.audit_events += batch.audit_events;
        if batch.counts().iter().all(|n| *n < u64::from(BATCH)) {
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    total
}

/// Runs [`purge_once`] every `interval`, forever (spawn it).
pub async fn run(store: Arc<dyn Store>, interval: Duration, audit_retention: Option<Duration>) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let purged = purge_once(store.as_ref(), audit_retention).await;
        tracing::info!(
            refresh_tokens = purged.refresh_tokens,
            sessions = purged.sessions,
            login_attempts = purged.login_attempts,
            email_tokens = purged.email_tokens,
            email_requests = purged.email_requests,
            outbox = purged.outbox,
            audit_events = purged.audit_events,
            "housekeeping: purged expired rows"
        );
    }
}
