//! Duplicate suppression as Flux's go-limiter memory store with one token per interval: the
//! first event with a key passes; the same key is refused until the interval in which it passed
//! has ended. Intervals are counted from the key's first sighting, as go-limiter's buckets are.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

#[derive(Clone, Copy, Debug)]
struct Bucket {
    created: Instant,
    created_wall: SystemTime,
    last_allowed_window: u128,
}

/// The limiter's answer for one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the event passes.
    pub allowed: bool,
    /// When the key's current window ends (go-limiter's reset time).
    pub reset: SystemTime,
}

impl Decision {
    /// go-limiter's `X-RateLimit-*` headers (and `Retry-After` when refused): limit 1,
    /// remaining 0, reset as an RFC 1123 UTC time.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let reset = jiff::Timestamp::try_from(self.reset)
            .map(|time| time.strftime("%a, %d %b %Y %H:%M:%S UTC").to_string())
            .unwrap_or_default();
        let mut headers = vec![
            ("X-RateLimit-Limit", "1".to_string()),
            ("X-RateLimit-Remaining", "0".to_string()),
            ("X-RateLimit-Reset", reset.clone()),
        ];
        if !self.allowed {
            headers.push(("Retry-After", reset));
        }
        headers
    }
}

/// Per-key limiter.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// A limiter allowing one event per key per `interval`; a zero interval allows everything.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether an event with `key` may pass now.
    pub fn allow(&self, key: &str) -> bool {
        self.decide(key).is_none_or(|decision| decision.allowed)
    }

    /// The decision for `key` now; `None` when deduplication is off (zero interval).
    pub fn decide(&self, key: &str) -> Option<Decision> {
        if self.interval.is_zero() {
            return None;
        }
        Some(self.decide_at(key, Instant::now(), SystemTime::now()))
    }

    /// Whether an event with `key` may pass at `now`.
    pub fn allow_at(&self, key: &str, now: Instant) -> bool {
        if self.interval.is_zero() {
            return true;
        }
        self.decide_at(key, now, SystemTime::now()).allowed
    }

    fn decide_at(&self, key: &str, now: Instant, wall: SystemTime) -> Decision {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget keys idle for two intervals so the map stays bounded by the event rate.
        if buckets.len() > 1024 {
            let interval = self.interval.as_nanos().max(1);
            buckets.retain(|_, bucket| {
                let window = now.saturating_duration_since(bucket.created).as_nanos() / interval;
                window <= bucket.last_allowed_window.saturating_add(1)
            });
        }
        let interval = self.interval.as_nanos().max(1);
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            created: now,
            created_wall: wall,
            last_allowed_window: u128::MAX,
        });
        let window = now.saturating_duration_since(bucket.created).as_nanos() / interval;
        let allowed =
            bucket.last_allowed_window == u128::MAX || window > bucket.last_allowed_window;
        if allowed {
            bucket.last_allowed_window = window;
        }
        let windows = u32::try_from(window.saturating_add(1)).unwrap_or(u32::MAX);
        Decision {
            allowed,
            reset: bucket
                .created_wall
                .checked_add(self.interval.saturating_mul(windows))
                .unwrap_or(bucket.created_wall),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_passes_once_per_interval() {
        let limiter = RateLimiter::new(Duration::from_secs(300));
        let start = Instant::now();
        assert!(limiter.allow_at("a", start));
        assert!(!limiter.allow_at("a", start + Duration::from_secs(1)));
        assert!(limiter.allow_at("b", start + Duration::from_secs(1)));
        assert!(!limiter.allow_at("a", start + Duration::from_secs(299)));
        assert!(limiter.allow_at("a", start + Duration::from_secs(300)));
        assert!(!limiter.allow_at("a", start + Duration::from_secs(599)));
    }

    #[test]
    fn decisions_carry_go_limiter_headers() {
        let limiter = RateLimiter::new(Duration::from_secs(300));
        let start = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let first = limiter.decide_at("a", start, wall);
        assert!(first.allowed);
        assert_eq!(
            first.headers(),
            vec![
                ("X-RateLimit-Limit", "1".to_string()),
                ("X-RateLimit-Remaining", "0".to_string()),
                (
                    "X-RateLimit-Reset",
                    "Tue, 14 Nov 2023 22:18:20 UTC".to_string()
                ),
            ]
        );
        let second = limiter.decide_at("a", start + Duration::from_secs(10), wall);
        assert!(!second.allowed);
        assert_eq!(
            second.headers().last(),
            Some(&("Retry-After", "Tue, 14 Nov 2023 22:18:20 UTC".to_string()))
        );
    }

    #[test]
    fn a_zero_interval_disables_deduplication() {
        let limiter = RateLimiter::new(Duration::ZERO);
        assert!(limiter.allow("a"));
        assert!(limiter.allow("a"));
    }
}
