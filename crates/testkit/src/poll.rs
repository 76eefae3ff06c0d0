//! Waiting for something that happens in the background (a controller's reconcile, a watch
//! cache filling) by polling with a deadline: a test never sleeps for a race, and a timeout
//! says what it waited for and what it saw last.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long any wait in a test may take before the test fails: generous, so a loaded machine
/// does not fail a correct test; a wait that succeeds returns as soon as it can.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// How often the waits poll.
pub const POLL: Duration = Duration::from_millis(50);

/// Polls `probe` until it returns `Some`, returning that value.
///
/// # Panics
/// After `deadline`, with `what` in the message.
pub async fn eventually<T>(
    what: &str,
    deadline: Duration,
    probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    eventually_explained(what, deadline, probe, String::new).await
}

/// Polls `probe` until it returns `Ok`; each `Err` describes what the probe saw, and the last
/// one is in the failure message (e.g. the object's status when it never became Ready).
///
/// # Panics
/// After `deadline`, with `what` and the last `Err`.
pub async fn wait_until<T>(
    what: &str,
    deadline: Duration,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let last_seen = Mutex::new(String::new());
    eventually_explained(
        what,
        deadline,
        async || match probe().await {
            Ok(value) => Some(value),
            Err(seen) => {
                *last_seen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = seen;
                None
            }
        },
        || {
            std::mem::take(
                &mut *last_seen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            )
        },
    )
    .await
}

/// Polls `probe` until it returns `Some`; on timeout the message ends with what `explain` says
/// then (logs, what a sink received), computed once.
///
/// # Panics
/// After `deadline`, with `what` and the explanation.
pub async fn eventually_explained<T>(
    what: &str,
    deadline: Duration,
    mut probe: impl AsyncFnMut() -> Option<T>,
    explain: impl FnOnce() -> String,
) -> T {
    let until = Instant::now() + deadline;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if Instant::now() >= until {
            let explanation = explain();
            let separator = if explanation.is_empty() { "" } else { "\n" };
            panic!("timed out after {deadline:?} waiting for {what}{separator}{explanation}");
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn eventually_returns_the_first_value_the_probe_finds() {
        let mut calls = 0;
        let found = eventually("the third call", DEADLINE, async || {
            calls += 1;
            (calls == 3).then_some(calls)
        })
        .await;
        assert_eq!(found, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "timed out after 100ms waiting for nothing\nstill 7")]
    async fn wait_until_fails_with_what_it_saw_last() {
        let mut seen = 0;
        wait_until::<()>("nothing", Duration::from_millis(100), async || {
            seen = 7;
            Err(format!("still {seen}"))
        })
        .await;
    }
}
