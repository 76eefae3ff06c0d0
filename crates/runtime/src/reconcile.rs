//! The outcome of one reconcile and what it means for status and requeue.
//!
//! Steps return [`StepError`]s whose [`ErrorKind`] decides the requeue: a stalling error needs a
//! person to change the spec (no requeue), a waiting error retries after a fixed delay (e.g. a
//! dependency that is not ready), a retryable error backs off exponentially. [`summarize`] turns
//! the outcome into the kstatus conditions Ready, Reconciling and Stalled, as fluxcd/pkg
//! `runtime/reconcile` does.

use crate::conditions::{self, ConditionStatus};
use eddy_api::meta::{StatusFields, conditions as types, reasons};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use rand::Rng;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// How a failed step affects the reconcile loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The object cannot progress until its spec changes: Stalled=True, no requeue.
    Stalling,
    /// Try again after a fixed delay, e.g. a retry interval after a failed build.
    Waiting(Duration),
    /// Not a failure of this object: it waits for others (a dependency that is not ready, objects
    /// still progressing). Retried after a fixed delay like `Waiting`, but reported with a
    /// Normal event, as Flux reports "Dependencies do not meet ready condition" at info.
    Blocked(Duration),
    /// A transient failure: retry with exponential backoff.
    Retryable,
}

/// A failed step: why (a Flux reason, used for the Ready condition and the event) and what a
/// person should read (the message, which must never contain secrets).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct StepError {
    /// What the failure means for the loop.
    pub kind: ErrorKind,
    /// A Flux reason such as `GitOperationFailed`.
    pub reason: String,
    /// A message for people: what failed and, where known, what to do.
    pub message: String,
}

impl StepError {
    /// A failure that needs a spec change.
    pub fn stalling(reason: &str, message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Stalling,
            reason: reason.to_string(),
            message: message.into(),
        }
    }

    /// A failure retried after `after`.
    pub fn waiting(reason: &str, message: impl Into<String>, after: Duration) -> Self {
        Self {
            kind: ErrorKind::Waiting(after),
            reason: reason.to_string(),
            message: message.into(),
        }
    }

    /// Waiting for other objects, retried after `after`; not a failure (see
    /// [`ErrorKind::Blocked`]).
    pub fn blocked(reason: &str, message: impl Into<String>, after: Duration) -> Self {
        Self {
            kind: ErrorKind::Blocked(after),
            reason: reason.to_string(),
            message: message.into(),
        }
    }

    /// A transient failure retried with backoff.
    pub fn retryable(reason: &str, message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Retryable,
            reason: reason.to_string(),
            message: message.into(),
        }
    }
}

/// What a successful reconcile reports for its Ready condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Success {
    /// Ready reason, e.g. `Succeeded` or `ReconciliationSucceeded`.
    pub reason: String,
    /// Ready message, e.g. `stored artifact for revision 'main@sha1:…'`.
    pub message: String,
}

impl Success {
    /// A success with Flux's generic reason `Succeeded`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            reason: reasons::SUCCEEDED.to_string(),
            message: message.into(),
        }
    }

    /// A success with a specific reason.
    pub fn with_reason(reason: &str, message: impl Into<String>) -> Self {
        Self {
            reason: reason.to_string(),
            message: message.into(),
        }
    }
}

/// Writes Ready, Reconciling and Stalled from the outcome of the steps, plus observedGeneration
/// and lastHandledReconcileAt. Steps set only their own negative conditions (FetchFailed, …);
/// this is the one place the summary conditions are written.
///
/// - success: Ready=True, Reconciling and Stalled removed, observedGeneration = generation.
/// - stalling: Ready=False, Stalled=True, Reconciling removed, observedGeneration = generation
///   (the result is final for this generation).
/// - waiting / retryable: Ready=False, Reconciling=True (`ProgressingWithRetry`, with the
///   progress message of the attempt), Stalled removed; observedGeneration is left alone since
///   the generation is not done yet.
pub fn summarize<S: StatusFields>(
    status: &mut S,
    outcome: &Result<Success, StepError>,
    generation: Option<i64>,
    requested_at: Option<&str>,
    progress_message: &str,
    now: &Time,
) {
    let conditions = status.conditions_mut();
    match outcome {
        Ok(success) => {
            conditions::set(
                conditions,
                types::READY,
                ConditionStatus::True,
                &success.reason,
                &success.message,
                generation,
                now,
            );
            conditions::remove(conditions, types::RECONCILING);
            conditions::remove(conditions, types::STALLED);
        }
        Err(error) if error.kind == ErrorKind::Stalling => {
            conditions::set(
                conditions,
                types::READY,
                ConditionStatus::False,
                &error.reason,
                &error.message,
                generation,
                now,
            );
            conditions::set(
                conditions,
                types::STALLED,
                ConditionStatus::True,
                &error.reason,
                &error.message,
                generation,
                now,
            );
            conditions::remove(conditions, types::RECONCILING);
        }
        Err(error) => {
            conditions::set(
                conditions,
                types::READY,
                ConditionStatus::False,
                &error.reason,
                &error.message,
                generation,
                now,
            );
            conditions::set(
                conditions,
                types::RECONCILING,
                ConditionStatus::True,
                reasons::PROGRESSING_WITH_RETRY,
                progress_message,
                generation,
                now,
            );
            conditions::remove(conditions, types::STALLED);
        }
    }
    let finished = !matches!(outcome, Err(error) if error.kind != ErrorKind::Stalling);
    if finished && let Some(generation) = generation {
        status.set_observed_generation(generation);
    }
    if let Some(requested_at) = requested_at {
        status.set_last_handled_reconcile_at(Some(requested_at.to_string()));
    }
}

/// Requeue timing: jittered intervals on success, exponential backoff per object on failure.
#[derive(Debug)]
pub struct RequeuePolicy {
    min_retry_delay: Duration,
    max_retry_delay: Duration,
    jitter_percentage: u8,
    failures: Mutex<HashMap<String, u32>>,
}

impl RequeuePolicy {
    /// A policy with the given backoff bounds and interval jitter (percent, 0–99).
    pub fn new(
        min_retry_delay: Duration,
        max_retry_delay: Duration,
        jitter_percentage: u8,
    ) -> Self {
        Self {
            min_retry_delay,
            max_retry_delay,
            jitter_percentage: jitter_percentage.min(99),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The requeue of a successful reconcile: the interval ± jitter. Resets the object's backoff.
    pub fn on_success(&self, key: &str, interval: Duration) -> Duration {
        self.lock_failures().remove(key);
        jitter(interval, self.jitter_percentage, &mut rand::rng())
    }

    /// The requeue of a failed reconcile, or `None` when it must wait for a spec change.
    pub fn on_error(&self, key: &str, kind: ErrorKind) -> Option<Duration> {
        match kind {
            ErrorKind::Stalling => {
                self.lock_failures().remove(key);
                None
            }
            ErrorKind::Waiting(after) | ErrorKind::Blocked(after) => Some(after),
            ErrorKind::Retryable => {
                let mut failures = self.lock_failures();
                let count = failures.entry(key.to_string()).or_insert(0);
                let delay = backoff(self.min_retry_delay, self.max_retry_delay, *count);
                *count = count.saturating_add(1);
                Some(delay)
            }
        }
    }

    /// Forgets an object (deleted).
    pub fn forget(&self, key: &str) {
        self.lock_failures().remove(key);
    }

    fn lock_failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        // A poisoned map only loses backoff counts; keep going with what is there.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `min × 2^failures`, capped at `max` (client-go's item exponential failure rate limiter).
pub fn backoff(min: Duration, max: Duration, failures: u32) -> Duration {
    let factor = 2u32.checked_pow(failures.min(31)).unwrap_or(u32::MAX);
    min.checked_mul(factor).map_or(max, |delay| delay.min(max))
}

/// `interval` moved up or down by a random amount of at most `percentage` percent, so objects
/// created together do not reconcile in lockstep (fluxcd/pkg `runtime/jitter`).
pub fn jitter(interval: Duration, percentage: u8, rng: &mut impl Rng) -> Duration {
    if percentage == 0 || interval.is_zero() {
        return interval;
    }
    let fraction = f64::from(percentage) / 100.0;
    let factor = rng.random_range(-fraction..=fraction);
    interval.mul_f64(1.0 + factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[derive(Default)]
    struct TestStatus {
        conditions: Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>>,
        observed_generation: Option<i64>,
        last_handled_reconcile_at: Option<String>,
    }
    eddy_api::impl_status_fields!(TestStatus);

    fn now() -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).expect("valid"))
    }

    fn types_of(status: &TestStatus) -> Vec<(String, String, String)> {
        status
            .conditions()
            .iter()
            .map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone()))
            .collect()
    }

    #[test]
    fn success_is_ready_and_observes_the_generation() {
        let mut status = TestStatus::default();
        let outcome = Ok(Success::new("stored artifact for revision 'main@sha1:abc'"));
        summarize(&mut status, &outcome, Some(3), Some("now"), "", &now());
        assert_eq!(
            types_of(&status),
            [("Ready".into(), "True".into(), "Succeeded".into())]
        );
        assert_eq!(status.observed_generation, Some(3));
        assert_eq!(status.last_handled_reconcile_at.as_deref(), Some("now"));
    }

    #[test]
    fn retryable_failure_keeps_reconciling_and_leaves_the_generation() {
        let mut status = TestStatus {
            observed_generation: Some(1),
            ..Default::default()
        };
        let outcome = Err(StepError::retryable(
            "GitOperationFailed",
            "authentication required",
        ));
        summarize(
            &mut status,
            &outcome,
            Some(2),
            None,
            "reconciliation in progress",
            &now(),
        );
        assert_eq!(
            types_of(&status),
            [
                (
                    "Reconciling".into(),
                    "True".into(),
                    "ProgressingWithRetry".into()
                ),
                ("Ready".into(), "False".into(), "GitOperationFailed".into()),
            ]
        );
        assert_eq!(status.observed_generation, Some(1));
        let ready = conditions::get(status.conditions(), "Ready").expect("ready");
        assert_eq!(ready.message, "authentication required");
    }

    #[test]
    fn stalling_failure_is_final_for_the_generation() {
        let mut status = TestStatus::default();
        let outcome = Err(StepError::stalling(
            "InvalidURL",
            "url must be http, https or ssh",
        ));
        summarize(
            &mut status,
            &outcome,
            Some(5),
            None,
            "reconciliation in progress",
            &now(),
        );
        assert_eq!(
            types_of(&status),
            [
                ("Stalled".into(), "True".into(), "InvalidURL".into()),
                ("Ready".into(), "False".into(), "InvalidURL".into()),
            ]
        );
        assert_eq!(status.observed_generation, Some(5));
    }

    #[test]
    fn success_after_failure_clears_reconciling_and_stalled() {
        let mut status = TestStatus::default();
        summarize(
            &mut status,
            &Err(StepError::retryable("X", "x")),
            Some(1),
            None,
            "reconciliation in progress",
            &now(),
        );
        summarize(
            &mut status,
            &Err(StepError::stalling("Y", "y")),
            Some(1),
            None,
            "reconciliation in progress",
            &now(),
        );
        summarize(
            &mut status,
            &Ok(Success::new("done")),
            Some(1),
            None,
            "reconciliation in progress",
            &now(),
        );
        assert_eq!(
            types_of(&status),
            [("Ready".into(), "True".into(), "Succeeded".into())]
        );
    }

    #[test]
    fn backoff_doubles_from_the_minimum_up_to_the_maximum() {
        let min = Duration::from_millis(750);
        let max = Duration::from_secs(900);
        assert_eq!(backoff(min, max, 0), Duration::from_millis(750));
        assert_eq!(backoff(min, max, 1), Duration::from_millis(1500));
        assert_eq!(backoff(min, max, 4), Duration::from_secs(12));
        assert_eq!(backoff(min, max, 20), max);
        assert_eq!(backoff(min, max, u32::MAX), max);
    }

    #[test]
    fn requeue_policy_backs_off_per_object_and_resets_on_success() {
        let policy = RequeuePolicy::new(Duration::from_secs(1), Duration::from_secs(60), 0);
        assert_eq!(
            policy.on_error("a", ErrorKind::Retryable),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            policy.on_error("a", ErrorKind::Retryable),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            policy.on_error("b", ErrorKind::Retryable),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            policy.on_success("a", Duration::from_secs(600)),
            Duration::from_secs(600)
        );
        assert_eq!(
            policy.on_error("a", ErrorKind::Retryable),
            Some(Duration::from_secs(1))
        );
        let wait = Duration::from_secs(30);
        assert_eq!(policy.on_error("a", ErrorKind::Waiting(wait)), Some(wait));
        assert_eq!(policy.on_error("a", ErrorKind::Stalling), None);
    }

    #[test]
    fn jitter_stays_within_the_percentage_and_varies() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let interval = Duration::from_secs(100);
        let samples: Vec<_> = (0..200).map(|_| jitter(interval, 5, &mut rng)).collect();
        assert!(
            samples
                .iter()
                .all(|d| *d >= Duration::from_secs(95) && *d <= Duration::from_secs(105))
        );
        assert!(samples.iter().any(|d| *d < Duration::from_secs(99)));
        assert!(samples.iter().any(|d| *d > Duration::from_secs(101)));
        assert_eq!(jitter(interval, 0, &mut rng), interval);
    }
}
