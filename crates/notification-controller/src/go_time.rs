//! Time and duration text in Go's formats, where Flux writes Go's `String()` output into objects
//! and events people and tools read.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

static PROCESS_START: OnceLock<Instant> = OnceLock::new();

/// Remembers when the process started, for the monotonic part of [`now_string`]. Called early
/// by `main`; otherwise the first call of [`now_string`] counts as the start.
pub fn mark_process_start() {
    let _ = PROCESS_START.get_or_init(Instant::now);
}

/// The current time as Go's `metav1.Now().String()`: `2006-01-02 15:04:05.999999999 -0700 MST`
/// in UTC, followed by Go's monotonic clock reading (` m=+<seconds since start>`), which is what
/// notification-controller writes into `reconcile.fluxcd.io/requestedAt`.
pub fn now_string() -> String {
    let start = *PROCESS_START.get_or_init(Instant::now);
    time_string(jiff::Timestamp::now(), Some(start.elapsed()))
}

/// `timestamp` in Go's `time.Time.String()` format (UTC), with the monotonic reading when given.
pub fn time_string(timestamp: jiff::Timestamp, monotonic: Option<Duration>) -> String {
    let civil = timestamp.to_zoned(jiff::tz::TimeZone::UTC);
    let mut text = civil.strftime("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = civil.subsec_nanosecond();
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push_str(" +0000 UTC");
    if let Some(monotonic) = monotonic {
        // Go's monotonic reading never reads zero: its clock starts one nanosecond early.
        let monotonic = monotonic + Duration::from_nanos(1);
        text.push_str(&format!(
            " m=+{}.{:09}",
            monotonic.as_secs(),
            monotonic.subsec_nanos()
        ));
    }
    text
}

/// `duration` as Go's `time.Duration.String()`: `10m0s`, `1h0m0s`, `1.5s`, `500ms`, `0s`.
pub fn duration_string(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        let (unit, scale) = if nanos < 1_000 {
            ("ns", 1)
        } else if nanos < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", fraction(nanos, scale));
    }
    let total_seconds = duration.as_secs();
    let hours = total_seconds / 3600;
    let minutes = (total_seconds % 3600) / 60;
    let seconds = fraction(
        u128::from(total_seconds % 60) * 1_000_000_000 + u128::from(duration.subsec_nanos()),
        1_000_000_000,
    );
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// `value / scale` with the fractional digits Go prints (trailing zeros removed).
fn fraction(value: u128, scale: u128) -> String {
    let whole = value / scale;
    let rest = value % scale;
    if rest == 0 {
        return whole.to_string();
    }
    let width = scale.to_string().len() - 1;
    let digits = format!("{rest:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_time_string_has_trimmed_nanoseconds_and_utc_zone() {
        let timestamp = jiff::Timestamp::new(1_700_000_000, 120_000_000).expect("valid");
        assert_eq!(
            time_string(timestamp, None),
            "2023-11-14 22:13:20.12 +0000 UTC"
        );
        let whole = jiff::Timestamp::from_second(1_700_000_000).expect("valid");
        assert_eq!(time_string(whole, None), "2023-11-14 22:13:20 +0000 UTC");
    }

    #[test]
    fn go_time_string_carries_the_monotonic_reading() {
        let whole = jiff::Timestamp::from_second(1_700_000_000).expect("valid");
        assert_eq!(
            time_string(whole, Some(Duration::from_millis(2500))),
            "2023-11-14 22:13:20 +0000 UTC m=+2.500000001"
        );
    }

    #[test]
    fn now_string_parses_back_as_a_go_time() {
        let text = now_string();
        let pattern = regex::Regex::new(
            r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})? \+0000 UTC m=\+\d+\.\d{9}$",
        )
        .expect("regex");
        assert!(pattern.is_match(&text), "{text}");
    }

    #[test]
    fn durations_print_as_go_prints_them() {
        assert_eq!(duration_string(Duration::from_secs(600)), "10m0s");
        assert_eq!(duration_string(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(duration_string(Duration::from_secs(30)), "30s");
        assert_eq!(duration_string(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration_string(Duration::from_millis(500)), "500ms");
        assert_eq!(duration_string(Duration::ZERO), "0s");
        assert_eq!(duration_string(Duration::from_secs(5400)), "1h30m0s");
    }
}
