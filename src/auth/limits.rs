//! Rate limits: per client IP in memory, per email in the database.
//!
//! The per-email login limit is what stops password guessing against one
//! account, so its counter lives in the database and holds across every
//! instance (Supabase Auth and Strapi count in memory, per instance, and an
//! attacker spreads requests over instances). The per-IP limit is a coarse
//! brake on one noisy client: it is counted in each instance's memory, so N
//! instances behind a load balancer allow up to N times `RATE_LIMIT_IP`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::RateLimit;

/// Windows kept before expired ones are swept out of the map.
const SWEEP_ABOVE: usize = 10_000;

/// Fixed-window counters per client IP.
pub struct IpLimiter {
    limit: RateLimit,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl IpLimiter {
    /// A limiter allowing `limit.max` calls per `limit.window` per IP.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one call from `ip`; past the limit, returns the whole seconds
    /// until its window ends, and whether this is the window's first
    /// refusal.
    pub fn check(&self, ip: IpAddr) -> Result<(), (u64, bool)> {
        let now = Instant::now();
        let Ok(mut windows) = self.windows.lock() else {
            return Ok(()); // a poisoned lock fails open rather than locking everyone out
        };
        if windows.len() > SWEEP_ABOVE {
            windows.retain(|_, (ends, _)| *ends > now);
        }
        let window = windows.entry(ip).or_insert((now + self.limit.window, 0));
        if window.0 <= now {
            *window = (now + self.limit.window, 0);
        }
        window.1 = window.1.saturating_add(1);
        if window.1 > self.limit.max {
            let first = window.1 == self.limit.max.saturating_add(1);
            Err((whole_seconds(window.0 - now), first))
        } else {
            Ok(())
        }
    }
}

/// Rounds up to whole seconds, at least one (a client told to retry in 0 s
/// would retry at once).
pub fn whole_seconds(left: Duration) -> u64 {
    let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    seconds.max(1)
}

/// The answer to a request past a limit whose window ends at
/// `window_ends_at`: `RATE_LIMITED` with the whole seconds left, logged as
/// an audit event of `scope` (the stored event is the caller's).
pub fn limited_until(
    window_ends_at: chrono::DateTime<chrono::Utc>,
    origin: &super::Origin,
    scope: &'static str,
) -> crate::error::AppError {
    let left = (window_ends_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    let retry_after = whole_seconds(left);
    super::audit::rate_limited(origin, scope, retry_after);
    crate::error::AppError::RateLimited { retry_after }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_max_then_refuses_until_the_window_ends() {
        let limiter = IpLimiter::new(RateLimit {
            max: 3,
            window: Duration::from_millis(200),
        });
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..3 {
            assert_eq!(limiter.check(ip), Ok(()));
        }
        assert_eq!(limiter.check(ip), Err((1, true)));
        assert_eq!(limiter.check(ip), Err((1, false)));
        assert_eq!(limiter.check(other), Ok(()));
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(limiter.check(ip), Ok(()));
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(900)), 900);
        assert_eq!(whole_seconds(Duration::ZERO), 1);
    }
}
