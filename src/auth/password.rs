//! Passwords: the policy, and bcrypt ([`super::bcrypt`]) kept off the async
//! executor.
//!
//! bcrypt is slow on purpose (about 250 ms at cost 12). Run on a Tokio worker
//! it would stall every other request on that worker, so each hash or verify
//! runs on a [`CpuPool`]: one thread per core, one job per thread at a time,
//! and a queue bounded at [`MAX_QUEUE_WAIT`]. A login storm queues up
//! instead of starving cheap requests, and past the bound it is refused.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::OnceCell;

use super::bcrypt;
use super::cpu_pool::{CpuPool, RunError};
use super::limits::whole_seconds;
use crate::error::AppError;

/// Fewest bytes a password may have.
pub const MIN_PASSWORD_BYTES: usize = 8;
/// Most bytes a password may have: bcrypt reads only the first 72, so a
/// longer password is refused rather than silently truncated.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// The longest a hash or verification may wait for a thread. A sign-in
/// that would wait longer is answered at once with `RATE_LIMITED` and the
/// expected wait as `retryAfter`: under a storm of sign-ins, waits stop
/// growing at this bound instead of growing with the storm.
pub const MAX_QUEUE_WAIT: Duration = Duration::from_secs(5);

/// A password as the client sent it. `Debug` never prints it.
pub struct Password(String);

impl Password {
    /// Wraps a password from the request.
    pub fn new(raw: String) -> Self {
        Self(raw)
    }

    /// Checks the contract's rule for a new password: 8 to 72 bytes of
    /// UTF-8, no NUL byte. Returns the message the client sees, which never
    /// echoes the password.
    pub fn check_policy(&self) -> Result<(), &'static str> {
        match self.0.len() {
            n if n < MIN_PASSWORD_BYTES => Err("password must be at least 8 bytes"),
            n if n > MAX_PASSWORD_BYTES => Err("password must be at most 72 bytes"),
            _ if self.has_nul() => Err("password must not contain a NUL byte"),
            _ => Ok(()),
        }
    }

    /// bcrypt's key is the password and a NUL byte, repeated to 72 bytes, so
    /// `P`, `P\0P` and `P\0P\0P` are one key: a password holding a NUL
    /// byte can never be told apart from a shorter one.
    fn has_nul(&self) -> bool {
        self.0.as_bytes().contains(&0)
    }

    /// True when bcrypt would see this password as another one (longer than
    /// it reads, or cut short by a NUL byte): such a password never matches.
    fn aliases_another(&self) -> bool {
        self.0.len() > MAX_PASSWORD_BYTES || self.has_nul()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(redacted)")
    }
}

/// Hashes and verifies passwords on a bounded set of blocking threads.
#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    pool: CpuPool,
    /// A hash of a random password at the configured cost. Logins for unknown
    /// emails verify against it, so they cost the same bcrypt work as a wrong
    /// password and response times do not reveal which emails have accounts.
    dummy: Arc<OnceCell<String>>,
    /// How many verifications ran: every login costs exactly one.
    verifications: Arc<AtomicU64>,
}

impl PasswordHasher {
    /// A hasher at `cost`, running at most one bcrypt per core at a time.
    pub fn new(cost: u32) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_pool(cost, cores, MAX_QUEUE_WAIT)
    }

    fn with_pool(cost: u32, threads: usize, max_wait: Duration) -> Self {
        Self {
            cost,
            pool: CpuPool::new(threads, max_wait, "authql-bcrypt"),
            dummy: Arc::new(OnceCell::new()),
            verifications: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Computes the dummy hash now rather than on the first unknown-email
    /// login (which would otherwise take twice as long and stand out).
    pub async fn warm_up(&self) -> Result<(), AppError> {
        self.dummy_hash().await.map(|_| ())
    }

    /// Hashes a password that passed the policy.
    pub async fn hash(&self, password: Password) -> Result<String, AppError> {
        let cost = self.cost;
        let salt = random_salt()?;
        self.run(move || bcrypt::hash(password.0.as_bytes(), cost, &salt))
            .await
    }

    /// True when `password` matches `hash`. With no hash (unknown account), or
    /// a password bcrypt would read as another (truncated at 72 bytes or at a
    /// NUL byte), it verifies against the dummy hash and answers false: the
    /// same work either way. Every stored hash keeps working for the
    /// NUL-free password it was made from.
    pub async fn verify(&self, password: Password, hash: Option<String>) -> Result<bool, AppError> {
        let (hash, genuine) = match hash {
            Some(hash) if !password.aliases_another() => (hash, true),
            _ => (self.dummy_hash().await?, false),
        };
        let matched = self
            .run(move || bcrypt::verify(password.0.as_bytes(), &hash))
            .await?
            .map_err(|_| AppError::internal("bcrypt: stored hash is malformed"))?;
        self.verifications.fetch_add(1, Ordering::Relaxed);
        Ok(genuine && matched)
    }

    /// How many password verifications have completed (a metric, and how
    /// the tests prove every login path pays for one).
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    async fn dummy_hash(&self) -> Result<String, AppError> {
        self.dummy
            .get_or_try_init(|| async {
                let mut random = [0u8; 32];
                getrandom::fill(&mut random)
                    .map_err(|_| AppError::internal("no randomness for the dummy hash"))?;
                let (cost, salt) = (self.cost, random_salt()?);
                self.run(move || bcrypt::hash(&random, cost, &salt)).await
            })
            .await
            .cloned()
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        self.pool.run(work).await.map_err(|error| match error {
            RunError::Busy(wait) => {
                tracing::warn!(
                    wait_ms = wait.as_millis() as u64,
                    "bcrypt queue full: a password check was refused"
                );
                AppError::RateLimited {
                    retry_after: whole_seconds(wait),
                }
            }
            RunError::Closed => AppError::internal("password hashing pool unavailable"),
        })
    }
}

/// 128 bits from the operating system's CSPRNG.
fn random_salt() -> Result<[u8; bcrypt::SALT_BYTES], AppError> {
    let mut salt = [0u8; bcrypt::SALT_BYTES];
    getrandom::fill(&mut salt).map_err(|_| AppError::internal("no randomness for a salt"))?;
    Ok(salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_counts_bytes_not_characters() {
        assert!(Password::new("1234567".into()).check_policy().is_err());
        assert!(Password::new("12345678".into()).check_policy().is_ok());
        // 24 three-byte characters: 72 bytes, accepted.
        assert!(Password::new("€".repeat(24)).check_policy().is_ok());
        // 73 bytes refused, never truncated.
        assert!(
            Password::new(format!("{}x", "€".repeat(24)))
                .check_policy()
                .is_err()
        );
        // Three characters but nine bytes: long enough.
        assert!(Password::new("€€€".into()).check_policy().is_ok());
    }

    #[test]
    fn policy_refuses_nul_bytes() {
        assert_eq!(
            Password::new("correct\0horse".into()).check_policy(),
            Err("password must not contain a NUL byte")
        );
        assert!(Password::new("\0".repeat(9)).check_policy().is_err());
    }

    #[tokio::test]
    async fn a_nul_byte_never_matches_though_bcrypt_would_say_it_does() {
        let hasher = PasswordHasher::new(4);
        let hash = hasher.hash(Password::new("password".into())).await.unwrap();
        // bcrypt alone: the same key.
        assert_eq!(bcrypt::verify(b"password\0password", &hash), Ok(true));
        let before = hasher.verifications();
        assert!(
            !hasher
                .verify(Password::new("password\0password".into()), Some(hash))
                .await
                .unwrap()
        );
        // The same bcrypt work as any other login.
        assert_eq!(hasher.verifications(), before + 1);
    }

    #[tokio::test]
    async fn a_full_queue_answers_rate_limited_at_once() {
        let hasher = PasswordHasher::with_pool(6, 1, Duration::from_millis(1));
        // One hash measures the average (a few ms at cost 6).
        hasher.warm_up().await.unwrap();
        let before = hasher.verifications();
        // `join!` polls in order: the first takes the one thread, the second
        // would wait a whole hash, over the 1 ms bound.
        let (first, second) = tokio::join!(
            hasher.verify(Password::new("password1".into()), None),
            hasher.verify(Password::new("password2".into()), None),
        );
        assert!(!first.unwrap());
        assert!(matches!(
            second,
            Err(AppError::RateLimited { retry_after: 1 })
        ));
        // The refused one cost no bcrypt work.
        assert_eq!(hasher.verifications(), before + 1);
    }

    #[test]
    fn debug_never_prints_the_password() {
        assert_eq!(
            format!("{:?}", Password::new("hunter22".into())),
            "Password(redacted)"
        );
    }

    #[tokio::test]
    async fn verify_uses_every_byte_up_to_72() {
        let hasher = PasswordHasher::new(4);
        let base = "€".repeat(24);
        let hash = hasher.hash(Password::new(base.clone())).await.unwrap();
        assert!(
            hasher
                .verify(Password::new(base.clone()), Some(hash.clone()))
                .await
                .unwrap()
        );
        // A different last byte must not match.
        let mut other = "€".repeat(23);
        other.push('₤');
        assert!(
            !hasher
                .verify(Password::new(other), Some(hash.clone()))
                .await
                .unwrap()
        );
        // A longer password sharing the first 72 bytes must not match either,
        // though bcrypt alone would say it does.
        assert!(
            !hasher
                .verify(Password::new(format!("{base}x")), Some(hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn unknown_accounts_never_match() {
        let hasher = PasswordHasher::new(4);
        assert!(
            !hasher
                .verify(Password::new("whatever1".into()), None)
                .await
                .unwrap()
        );
    }
}
