//! Time as an injected dependency.
//!
//! Every rule with an expiry (codes M2, sessions S3, lockout R1, rate windows R2) reads the time
//! through [`Clock`], so tests pin it with [`FixedClock`] and never sleep.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Seconds since the Unix epoch.
pub type Timestamp = i64;

/// `2026-11-23 14:05 UTC`: times shown on pages and in messages.
pub fn format_utc(t: Timestamp) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// Dev mode only: the wall clock plus an offset that `/dev/clock` moves forward, so a person (or
/// an end-to-end test) can see what happens after ten minutes without waiting ten minutes.
/// Clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct OffsetClock(Arc<AtomicI64>);

impl OffsetClock {
    /// Moves the clock `secs` forward; returns the new time.
    pub fn advance(&self, secs: i64) -> Timestamp {
        self.0.fetch_add(secs, Ordering::SeqCst);
        self.now()
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> Timestamp {
        SystemClock.now() + self.0.load(Ordering::SeqCst)
    }
}

/// A clock that moves only when told to; clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct FixedClock(Arc<AtomicI64>);

impl FixedClock {
    pub fn at(t: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(t)))
    }
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
    pub fn set(&self, t: Timestamp) {
        self.0.store(t, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_clock_moves_forward_and_clones_share_it() {
        let c = OffsetClock::default();
        let other = c.clone();
        let before = SystemClock.now();
        let after = c.advance(600);
        assert!(after >= before + 600);
        assert!(other.now() >= before + 600, "shared offset");
    }

    #[test]
    fn utc_times_read_like_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn fixed_clock_moves_only_when_advanced_and_clones_share_time() {
        let c = FixedClock::at(1_000);
        let c2 = c.clone();
        assert_eq!(c.now(), 1_000);
        c.advance(59);
        assert_eq!(c2.now(), 1_059);
        c2.set(5);
        assert_eq!(c.now(), 5);
    }
}
