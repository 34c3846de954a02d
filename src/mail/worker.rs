//! The outbox worker: takes queued emails from the database and hands them
//! to the mail server, retrying with backoff.
//!
//! Emails are written to the outbox in the same transaction as the change
//! that causes them, so a request never waits for the mail server and an
//! email is not lost when the server is down or this process restarts. The
//! worker claims a batch by pushing each email's `next_attempt_at` past the
//! time a send can take (a lease): another instance skips it meanwhile, and
//! if this one dies mid-send the lease runs out and the email goes again
//! (the one case where it can be sent twice).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::transport::Sender;
use crate::db::{QueuedEmail, Store};

/// Emails claimed at once, and so sent concurrently: one slow mail server
/// answer holds up its own email, not the queue.
const BATCH: u32 = 8;

/// How long a claimed email is reserved for this worker: more than the
/// SMTP timeout, so nobody else sends it while this worker still may.
const LEASE: Duration = Duration::from_secs(120);

/// How often the queue is looked at without a wake-up (emails queued by
/// other instances, retries coming due).
const POLL: Duration = Duration::from_secs(5);

/// The first retry comes after this, each next one after twice as long.
const FIRST_RETRY: Duration = Duration::from_secs(20);

/// The longest delay between two attempts (API.md: 15 minutes).
const MAX_RETRY: Duration = Duration::from_secs(15 * 60);

/// After this long in the outbox, an email that could not be delivered is
/// abandoned (API.md: 24 hours).
const GIVE_UP_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The delay before attempt `attempts + 1`, after `attempts` failed ones.
pub fn retry_delay(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    FIRST_RETRY.saturating_mul(1 << doublings).min(MAX_RETRY)
}

/// Runs until `stop` is notified: sends what is due, then waits for a
/// wake-up (an email was queued here) or the next poll.
pub async fn run(store: Arc<dyn Store>, sender: Arc<Sender>, wake: Arc<Notify>, stop: Arc<Notify>) {
    loop {
        let sent_any = match deliver_due(&store, &sender).await {
            Ok(n) => n > 0,
            Err(()) => false,
        };
        if sent_any {
            // More may be waiting: look again at once.
            continue;
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
            () = stop.notified() => return,
        }
    }
}

/// Claims one batch and sends it; returns how many were claimed.
async fn deliver_due(store: &Arc<dyn Store>, sender: &Arc<Sender>) -> Result<usize, ()> {
    let lease = chrono::Duration::from_std(LEASE).unwrap_or(chrono::TimeDelta::minutes(2));
    let claimed = store
        .claim_emails(BATCH, Utc::now() + lease)
        .await
        .map_err(|e| tracing::warn!(error = %e.describe(), "outbox: could not claim emails"))?;
    let count = claimed.len();
    let mut sends = JoinSet::new();
    for email in claimed {
        let (store, sender) = (Arc::clone(store), Arc::clone(sender));
        sends.spawn(async move { deliver(&*store, &sender, email).await });
    }
    while sends.join_next().await.is_some() {}
    Ok(count)
}

/// Sends one claimed email and records the outcome.
async fn deliver(store: &dyn Store, sender: &Sender, email: QueuedEmail) {
    let outcome = sender.send(&email).await;
    let recorded = match outcome {
        Ok(()) => {
            tracing::info!(target: "authql::mail", email_id = %email.id, kind = %email.kind,
                attempts = email.attempts, "email sent");
            store.email_sent(email.id).await
        }
        Err(error) if Utc::now() - email.created_at >= GIVE_UP_AFTER => {
            tracing::error!(target: "authql::mail", email_id = %email.id, kind = %email.kind,
                attempts = email.attempts, reason = %error.0,
                "email abandoned after 24 hours of failed attempts");
            store.email_failed(email.id, None).await
        }
        Err(error) => {
            let delay = retry_delay(email.attempts);
            tracing::warn!(target: "authql::mail", email_id = %email.id, kind = %email.kind,
                attempts = email.attempts, reason = %error.0, retry_in_s = delay.as_secs(),
                "email not delivered; will retry");
            let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or(GIVE_UP_AFTER);
            store.email_failed(email.id, Some(at)).await
        }
    };
    if let Err(error) = recorded {
        // The lease runs out and the email is tried again: at worst sent
        // twice, never lost.
        tracing::warn!(target: "authql::mail", email_id = %email.id, error = %error.describe(),
            "outbox: could not record a delivery attempt");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_come_within_30_s_then_double_up_to_15_minutes() {
        assert_eq!(retry_delay(1), Duration::from_secs(20));
        assert_eq!(retry_delay(2), Duration::from_secs(40));
        assert_eq!(retry_delay(3), Duration::from_secs(80));
        assert_eq!(retry_delay(6), Duration::from_secs(640));
        assert_eq!(retry_delay(7), MAX_RETRY);
        assert_eq!(retry_delay(u32::MAX), MAX_RETRY);
    }
}
