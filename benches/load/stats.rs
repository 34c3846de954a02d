//! Latency percentiles and the printed table.

use std::time::Duration;

/// What one scenario measured.
pub struct Outcome {
    pub name: String,
    pub connections: usize,
    pub elapsed: Duration,
    /// Every request's latency, in microseconds.
    pub latencies: Vec<u32>,
    pub errors: usize,
}

impl Outcome {
    /// Successful requests per second: a refusal (a `RATE_LIMITED` from
    /// the bcrypt queue's bound, say) is quick and would flatter the rate.
    pub fn rate(&self) -> f64 {
        self.latencies.len().saturating_sub(self.errors) as f64 / self.elapsed.as_secs_f64()
    }

    /// The latency at quantile `q` (0..=1), in milliseconds.
    pub fn percentile_ms(&mut self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        self.latencies.sort_unstable();
        let index = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        f64::from(self.latencies[index]) / 1000.0
    }
}

pub fn header() {
    println!(
        "{:<28} {:>5} {:>10} {:>9} {:>9} {:>8} {:>10}",
        "scenario", "conns", "ok/s", "p50 ms", "p99 ms", "errors", "peak RSS"
    );
}

pub fn row(outcome: &mut Outcome, peak_rss_mib: f64) {
    let (p50, p99) = (outcome.percentile_ms(0.50), outcome.percentile_ms(0.99));
    let rate = outcome.rate();
    // Slow scenarios (bcrypt-bound) get a decimal: 33.4 and 32.6 differ by 2%.
    let rate = if rate < 100.0 {
        format!("{rate:.1}")
    } else {
        format!("{rate:.0}")
    };
    println!(
        "{:<28} {:>5} {:>10} {:>9.2} {:>9.2} {:>8} {:>7.1} MiB",
        outcome.name, outcome.connections, rate, p50, p99, outcome.errors, peak_rss_mib
    );
}
