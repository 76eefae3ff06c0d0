//! Health waits: poll objects and compute their kstatus until all are Current, one fails
//! (with fail-fast), or the timeout passes (fluxcd/pkg `ssa/manager_wait.go`).

use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::ResourceManager;
use super::error::ApplyError;
use crate::kstatus::{Outcome, Status, compute_for_flux};
use crate::object::ObjectRef;

/// How a wait polls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitOptions {
    /// Time between polls.
    pub interval: Duration,
    /// How long to wait in all.
    pub timeout: Duration,
    /// Stop as soon as one object is Failed (kustomize-controller's default; the
    /// `DisableFailFastBehavior` gate turns it off).
    pub fail_fast: bool,
    /// Jobs with `ttlSecondsAfterFinished`: once finished they are deleted, so NotFound
    /// counts as Current for them.
    pub jobs_with_ttl: Vec<ObjectRef>,
}

impl Default for WaitOptions {
    /// Flux's defaults: 5 s interval, 60 s timeout, fail fast.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(60),
            fail_fast: true,
            jobs_with_ttl: Vec::new(),
        }
    }
}

impl ResourceManager {
    /// Reads the health of one object: NotFound when missing, Unknown when it cannot be read.
    pub async fn status_of(&self, object: &ObjectRef) -> Outcome {
        let kind = match self.resolve(object).await {
            Ok(Some(kind)) => kind,
            Ok(None) => return Outcome::not_found(),
            Err(failure) => return Outcome::unknown(failure.to_string()),
        };
        let api = self.api(&kind, &object.namespace);
        match self.get(&api, &object.name).await {
            Ok(Some(found)) => compute_for_flux(&found, Timestamp::now()),
            Ok(None) => Outcome::not_found(),
            Err(failure) => Outcome::unknown(failure.to_string()),
        }
    }

    /// Waits until every object is Current. Fails with Flux's messages:
    /// `timeout waiting for: [Kind/ns/name status: 'InProgress', …]`, or
    /// `failed early due to stalled resources: [Kind/ns/name status: 'Failed']`.
    pub async fn wait_for(
        &self,
        objects: &[ObjectRef],
        options: &WaitOptions,
    ) -> Result<(), ApplyError> {
        if objects.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + options.timeout;
        loop {
            let mut outcomes = Vec::with_capacity(objects.len());
            for object in objects {
                let mut outcome = self.status_of(object).await;
                let id = object.id();
                if outcome.status == Status::NotFound
                    && options.jobs_with_ttl.iter().any(|job| job.id() == id)
                {
                    outcome.status = Status::Current;
                }
                outcomes.push(outcome);
            }
            let all_current = outcomes
                .iter()
                .all(|outcome| outcome.status == Status::Current);
            if all_current {
                return Ok(());
            }
            let any_failed = outcomes
                .iter()
                .any(|outcome| outcome.status == Status::Failed);
            let terminal = outcomes
                .iter()
                .all(|outcome| matches!(outcome.status, Status::Current | Status::Failed));
            let timed_out = Instant::now() >= deadline;
            if (options.fail_fast && any_failed) || terminal || timed_out {
                return Err(wait_error(objects, &outcomes, timed_out));
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(options.interval.min(remaining)).await;
        }
    }

    /// Waits until every object is gone (deletionPolicy `WaitForTermination`).
    pub async fn wait_for_termination(
        &self,
        objects: &[ObjectRef],
        options: &WaitOptions,
    ) -> Result<(), ApplyError> {
        let deadline = Instant::now() + options.timeout;
        loop {
            let mut remaining_objects = Vec::new();
            for object in objects {
                if self.status_of(object).await.status != Status::NotFound {
                    remaining_objects.push(object.subject());
                }
            }
            if remaining_objects.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ApplyError::Wait {
                    message: format!(
                        "timeout waiting for termination of: [{}]",
                        remaining_objects.join(", ")
                    ),
                });
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(options.interval.min(remaining)).await;
        }
    }
}

/// The message listing the objects that were not healthy when the wait ended.
fn wait_error(objects: &[ObjectRef], outcomes: &[Outcome], timed_out: bool) -> ApplyError {
    let failures: Vec<String> = objects
        .iter()
        .zip(outcomes)
        .filter(|(_, outcome)| {
            outcome.status == Status::Failed || (timed_out && outcome.status != Status::Current)
        })
        .map(|(object, outcome)| {
            let mut text = format!("{} status: '{}'", object.subject(), outcome.status);
            if outcome.status == Status::Unknown && !outcome.message.is_empty() {
                text.push_str(&format!(": {}", outcome.message));
            }
            text
        })
        .collect();
    let prefix = if timed_out {
        "timeout waiting for"
    } else {
        "failed early due to stalled resources"
    };
    ApplyError::Wait {
        message: format!("{prefix}: [{}]", failures.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reference(name: &str) -> ObjectRef {
        ObjectRef::of(&json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "dev"}}))
    }

    fn outcome(status: Status) -> Outcome {
        Outcome {
            status,
            message: "why".into(),
            conditions: Vec::new(),
        }
    }

    #[test]
    fn timeout_lists_every_object_that_is_not_current() {
        let error = wait_error(
            &[reference("a"), reference("b"), reference("c")],
            &[
                outcome(Status::Current),
                outcome(Status::InProgress),
                outcome(Status::Unknown),
            ],
            true,
        );
        assert_eq!(
            error.to_string(),
            "timeout waiting for: [Deployment/dev/b status: 'InProgress', Deployment/dev/c status: 'Unknown': why]"
        );
    }

    #[test]
    fn fail_fast_lists_only_failed_objects() {
        let error = wait_error(
            &[reference("a"), reference("b")],
            &[outcome(Status::Failed), outcome(Status::InProgress)],
            false,
        );
        assert_eq!(
            error.to_string(),
            "failed early due to stalled resources: [Deployment/dev/a status: 'Failed']"
        );
    }
}
