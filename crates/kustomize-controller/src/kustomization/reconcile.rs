//! The steps of one reconcile and of the finalizer, in Flux's order and with Flux's reasons
//! and messages.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use eddy_api::kustomize::v1::{Kustomization, ResourceInventory};
use eddy_api::meta::conditions::{HEALTHY, READY, RECONCILING};
use eddy_api::meta::field_managers::KUSTOMIZE_CONTROLLER;
use eddy_api::meta::{event_metadata, format_duration, reasons, upsert_history};
use eddy_apply::manager::{ResourceManager, WaitOptions};
use eddy_apply::{Action, ChangeSet};
use eddy_runtime::conditions::{self, ConditionStatus};
use eddy_runtime::controller::Run;
use eddy_runtime::events::EventType;
use eddy_runtime::{PendingEvent, StepError, Success};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::build::{self, BuildError};
use super::dependencies::{self, DependencyError};
use super::generate::{generate, secure_join};
use super::health::objects_to_check;
use super::health_expressions;
use super::prune::{deletes_objects, owner_of, prune, waits_for_termination};
use super::source::{self, FetchError, ResolvedSource, SourceError};
use super::{KustomizationReconciler, Target, apply};

/// A duration cut to whole milliseconds, so that elapsed times print as `15ms` or `1.234s`
/// rather than as a count of nanoseconds.
fn to_millis(duration: Duration) -> Duration {
    Duration::from_millis(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

/// An elapsed time as Go prints it, to the millisecond.
fn elapsed_text(duration: Duration) -> String {
    format_duration(to_millis(duration))
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

/// Event metadata with the revision (and origin revision) of the reconcile.
fn revision_metadata(revision: &str, origin_revision: &str) -> BTreeMap<String, String> {
    let mut metadata = BTreeMap::new();
    if !revision.is_empty() {
        metadata.insert(event_metadata::REVISION.to_string(), revision.to_string());
    }
    if !origin_revision.is_empty() {
        metadata.insert(
            event_metadata::ORIGIN_REVISION.to_string(),
            origin_revision.to_string(),
        );
    }
    metadata
}

/// What one attempt at a revision knows, for history and events.
struct Attempt<'a> {
    kustomization: &'a Kustomization,
    revision: String,
    origin_revision: String,
    started: Instant,
    retry_interval: Duration,
    timeout: Duration,
}

impl Attempt<'_> {
    fn history_metadata(&self) -> BTreeMap<String, String> {
        revision_metadata(&self.revision, &self.origin_revision)
    }

    fn record(&self, run: &mut Run<Kustomization>, digest: &str, status: &str) {
        let history = run.status.history.get_or_insert_with(Vec::new);
        upsert_history(
            history,
            digest,
            now(),
            to_millis(self.started.elapsed()),
            status,
            Some(self.history_metadata()),
        );
    }

    fn event(&self, run: &mut Run<Kustomization>, reason: &str, message: String) {
        run.events.push(PendingEvent {
            event_type: EventType::Normal,
            reason: reason.to_string(),
            message,
            metadata: self.history_metadata(),
        });
    }

    fn failure(&self, reason: &str, message: impl Into<String>) -> StepError {
        StepError::waiting(reason, message, self.retry_interval)
    }

    fn progress(&self, run: &mut Run<Kustomization>, verb: &str) {
        run.progress = format!(
            "{verb} for revision {} with a timeout of {}",
            self.revision,
            format_duration(self.timeout)
        );
    }
}

impl KustomizationReconciler {
    pub(super) async fn reconcile_kustomization(
        &self,
        kustomization: &Kustomization,
        run: &mut Run<Kustomization>,
    ) -> Result<Success, StepError> {
        let started = Instant::now();
        let spec = &kustomization.spec;
        let (retry_interval, timeout) = match (spec.get_retry_interval(), spec.get_timeout()) {
            (Ok(retry), Ok(timeout)) => (retry, timeout),
            (Err(error), _) | (_, Err(error)) => {
                return Err(StepError::stalling(
                    reasons::RECONCILIATION_FAILED,
                    error.to_string(),
                ));
            }
        };
        if let Some(checks) = spec.health_check_exprs.as_deref() {
            health_expressions::validate(checks).map_err(|message| {
                StepError::stalling(
                    reasons::INVALID_CEL_EXPRESSION,
                    format!(
                        "Reconciliation failed terminally due to configuration error: {message}"
                    ),
                )
            })?;
        }
        let resolved = source::resolve(
            self.clients.own(),
            self.sources.as_ref(),
            kustomization,
            self.settings.no_cross_namespace_refs,
            self.settings.allow_external_artifact,
        )
        .await
        .map_err(|error| match error {
            SourceError::AccessDenied(message) => {
                StepError::stalling(reasons::ACCESS_DENIED, message)
            }
            SourceError::NotFound(message) => {
                StepError::waiting(reasons::ARTIFACT_FAILED, message, retry_interval)
            }
            other @ SourceError::Read { .. } => {
                StepError::retryable(reasons::ARTIFACT_FAILED, other.to_string())
            }
        })?;
        let Some(artifact) = resolved.artifact.clone() else {
            return Err(StepError::waiting(
                reasons::ARTIFACT_FAILED,
                format!(
                    "Source artifact not found, retrying in {}",
                    format_duration(self.settings.requeue_dependency)
                ),
                self.settings.requeue_dependency,
            ));
        };
        let attempt = Attempt {
            kustomization,
            revision: artifact.revision.clone(),
            origin_revision: resolved.origin_revision(),
            started,
            retry_interval,
            timeout,
        };
        if spec.depends_on.as_ref().is_some_and(|all| !all.is_empty()) {
            dependencies::check(
                self.clients.own(),
                kustomization,
                &attempt.revision,
                self.settings.additive_cel_dependency_check,
            )
            .await
            .map_err(|error| match error {
                DependencyError::NotReady(message) => StepError::blocked(
                    reasons::DEPENDENCY_NOT_READY,
                    message,
                    self.settings.requeue_dependency,
                ),
                invalid @ DependencyError::InvalidReadyExpression { .. } => {
                    StepError::stalling(reasons::INVALID_CEL_EXPRESSION, invalid.to_string())
                }
            })?;
        }
        self.reconcile_revision(&attempt, &resolved, run).await
    }

    async fn reconcile_revision(
        &self,
        attempt: &Attempt<'_>,
        resolved: &ResolvedSource,
        run: &mut Run<Kustomization>,
    ) -> Result<Success, StepError> {
        let kustomization = attempt.kustomization;
        let Some(artifact) = resolved.artifact.as_ref() else {
            return Err(attempt.failure(reasons::ARTIFACT_FAILED, "Source artifact not found"));
        };
        attempt.progress(run, "Fetching manifests");
        if kustomization
            .status
            .as_ref()
            .and_then(|status| status.last_attempted_revision.as_deref())
            != Some(attempt.revision.as_str())
        {
            let mut progressing = run.status.clone();
            let conditions = progressing.conditions.get_or_insert_with(Vec::new);
            let generation = kustomization.metadata.generation;
            let time = now();
            conditions::set(
                conditions,
                READY,
                ConditionStatus::Unknown,
                reasons::PROGRESSING,
                "Reconciliation in progress",
                generation,
                &time,
            );
            conditions::set(
                conditions,
                RECONCILING,
                ConditionStatus::True,
                reasons::PROGRESSING,
                &run.progress,
                generation,
                &time,
            );
            self.patch_status(kustomization, &progressing).await;
        }
        let old_inventory = run.status.inventory.clone().unwrap_or_default();

        let unpacked = source::fetch(
            &self.http,
            artifact,
            self.settings.http_retry,
            self.settings.source_localhost.as_deref(),
        )
        .await
        .map_err(|error| match error {
            FetchError::NotFound(_) => StepError::waiting(
                reasons::ARTIFACT_FAILED,
                format!(
                    "Source is not ready, artifact not found, retrying in {}",
                    format_duration(self.settings.requeue_dependency)
                ),
                self.settings.requeue_dependency,
            ),
            FetchError::Failed(message) => attempt.failure(reasons::ARTIFACT_FAILED, message),
        })?;
        let root = unpacked.path().to_path_buf();
        let dir = secure_join(
            &root,
            kustomization.spec.path.as_deref().unwrap_or_default(),
        );
        if !dir.exists() {
            return Err(attempt.failure(
                reasons::ARTIFACT_FAILED,
                format!(
                    "kustomization path not found: stat {}: no such file or directory",
                    dir.display()
                ),
            ));
        }

        run.status.last_attempted_revision = Some(attempt.revision.clone());
        attempt.progress(run, "Building manifests");
        let Target { client, kinds } = self
            .clients
            .for_kustomization(kustomization)
            .await
            .map_err(|message| attempt.failure(reasons::RECONCILIATION_FAILED, message))?;
        let build_failed =
            |error: BuildError| attempt.failure(reasons::BUILD_FAILED, error.to_string());
        let decryptor = super::decrypt::Decryptor::load(
            self.clients.own(),
            kustomization,
            self.settings.sops_age_secret.as_ref(),
        )
        .await
        .map_err(|error| build_failed(error.into()))?;
        let spec = kustomization.spec.clone();
        let manifests = tokio::task::spawn_blocking(move || {
            generate(&spec, &dir)?;
            build::kustomize_decrypting(&root, &dir, decryptor.as_ref())
        })
        .await
        .map_err(|error| attempt.failure(reasons::BUILD_FAILED, error.to_string()))?
        .map_err(build_failed)?;
        drop(unpacked);
        let variables = build::substitution_variables(self.clients.own(), kustomization)
            .await
            .map_err(build_failed)?;
        let built = build::finish(
            kustomization,
            manifests,
            &variables,
            self.settings.strict_substitutions,
        )
        .map_err(build_failed)?;
        let mut objects = built.objects;
        apply::prepare_objects(kustomization, &mut objects)
            .map_err(|message| attempt.failure(reasons::RECONCILIATION_FAILED, message))?;

        attempt.progress(run, "Detecting drift");
        let manager = ResourceManager::new(client.clone(), KUSTOMIZE_CONTROLLER)
            .with_kind_cache(kinds)
            .with_concurrency(self.settings.concurrent_ssa);
        let options = apply::apply_options(kustomization, &self.settings.apply)
            .map_err(|message| attempt.failure(reasons::RECONCILIATION_FAILED, message))?;
        let jobs_with_ttl = eddy_apply::object::jobs_with_ttl(&objects);
        let change_set = if objects.is_empty() {
            ChangeSet::new()
        } else {
            match manager.apply_all_staged(objects, &options).await {
                Ok(change_set) => change_set,
                Err(error) => {
                    attempt.record(run, &built.digest, reasons::RECONCILIATION_FAILED);
                    let mut message = error.error.to_string();
                    let log = error.change_set.changes_log();
                    message.push('\n');
                    if !log.is_empty() {
                        message.push_str(&log);
                        message.push('\n');
                    }
                    return Err(attempt.failure(reasons::RECONCILIATION_FAILED, message));
                }
            }
        };
        let changes = change_set.changes_log();
        let drifted = !changes.is_empty();
        if drifted {
            attempt.event(run, reasons::PROGRESSING, changes);
        }

        let mut inventory = eddy_apply::inventory::inventory_of(&change_set);
        let stale = eddy_apply::inventory::stale_objects(&old_inventory, &inventory)
            .map_err(|error| attempt.failure(reasons::RECONCILIATION_FAILED, error.to_string()))?;
        let pruned = prune(&manager, kustomization, &stale, &mut inventory).await;
        run.status.inventory = Some(inventory);
        match pruned {
            Ok(Some(deleted)) => attempt.event(run, reasons::PROGRESSING, deleted.to_string()),
            Ok(None) => {}
            Err(message) => {
                attempt.record(run, &built.digest, reasons::PRUNE_FAILED);
                return Err(attempt.failure(reasons::PRUNE_FAILED, message));
            }
        }

        let is_new_revision = kustomization
            .status
            .as_ref()
            .and_then(|status| status.last_applied_revision.as_deref())
            != Some(attempt.revision.as_str());
        if let Err(message) = self
            .check_health(
                attempt,
                run,
                (&manager, &client),
                &change_set,
                jobs_with_ttl,
                is_new_revision,
                drifted,
            )
            .await
        {
            attempt.record(run, &built.digest, reasons::HEALTH_CHECK_FAILED);
            return Err(attempt.failure(reasons::HEALTH_CHECK_FAILED, message));
        }

        run.status.last_applied_revision = Some(attempt.revision.clone());
        run.status.last_applied_origin_revision =
            (!attempt.origin_revision.is_empty()).then(|| attempt.origin_revision.clone());
        attempt.record(run, &built.digest, reasons::RECONCILIATION_SUCCEEDED);
        let interval = eddy_api::meta::parse_duration(&kustomization.spec.interval)
            .unwrap_or(Duration::from_secs(600));
        let mut finished = attempt.history_metadata();
        finished.insert(
            event_metadata::COMMIT_STATUS.to_string(),
            "update".to_string(),
        );
        run.events.push(PendingEvent {
            event_type: EventType::Normal,
            reason: reasons::RECONCILIATION_SUCCEEDED.to_string(),
            message: format!(
                "Reconciliation finished in {}, next run in {}",
                elapsed_text(attempt.started.elapsed()),
                format_duration(interval)
            ),
            metadata: finished,
        });
        Ok(Success::with_reason(
            reasons::RECONCILIATION_SUCCEEDED,
            format!("Applied revision: {}", attempt.revision),
        ))
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the inputs of Flux's checkHealth"
    )]
    async fn check_health(
        &self,
        attempt: &Attempt<'_>,
        run: &mut Run<Kustomization>,
        (manager, client): (&ResourceManager, &kube::Client),
        change_set: &ChangeSet,
        jobs_with_ttl: Vec<eddy_apply::ObjectRef>,
        is_new_revision: bool,
        drifted: bool,
    ) -> Result<(), String> {
        let kustomization = attempt.kustomization;
        let generation = kustomization.metadata.generation;
        let Some(objects) = objects_to_check(kustomization, change_set) else {
            if let Some(conditions) = run.status.conditions.as_mut() {
                conditions::remove(conditions, HEALTHY);
            }
            return Ok(());
        };
        let was_healthy = conditions::is_true(
            run.status.conditions.as_deref().unwrap_or_default(),
            HEALTHY,
        );
        attempt.progress(run, "Running health checks");
        let message = run.progress.clone();
        {
            let conditions = run.status.conditions.get_or_insert_with(Vec::new);
            conditions::set(
                conditions,
                HEALTHY,
                ConditionStatus::Unknown,
                reasons::PROGRESSING,
                &message,
                generation,
                &now(),
            );
        }
        let mut progressing = run.status.clone();
        let conditions = progressing.conditions.get_or_insert_with(Vec::new);
        conditions::set(
            conditions,
            READY,
            ConditionStatus::Unknown,
            reasons::PROGRESSING,
            "Reconciliation in progress",
            generation,
            &now(),
        );
        conditions::set(
            conditions,
            RECONCILING,
            ConditionStatus::True,
            reasons::PROGRESSING,
            &message,
            generation,
            &now(),
        );
        self.patch_status(kustomization, &progressing).await;

        let started = Instant::now();
        let deletion = run.deletion_check();
        let options = WaitOptions {
            interval: self.settings.health_check_interval,
            timeout: attempt.timeout,
            fail_fast: self.settings.fail_fast,
            jobs_with_ttl,
        };
        let conditions = run.status.conditions.get_or_insert_with(Vec::new);
        let expressions = kustomization
            .spec
            .health_check_exprs
            .as_deref()
            .unwrap_or_default();
        let wait = health_expressions::wait_for(manager, client, &objects, expressions, &options);
        // A Kustomization deleted meanwhile stops waiting: its finalizer is next, and may be
        // what removes the objects waited for (a namespace pruned by another Kustomization).
        let waited = match &deletion {
            Some(deletion) => tokio::select! {
                waited = wait => waited,
                () = deletion.requested(options.interval) => Err(
                    "health check canceled: the Kustomization is being deleted".to_string()
                ),
            },
            None => wait.await,
        };
        if let Err(message) = waited {
            conditions::set(
                conditions,
                HEALTHY,
                ConditionStatus::False,
                reasons::HEALTH_CHECK_FAILED,
                &message,
                generation,
                &now(),
            );
            return Err(message);
        }
        let passed = format!("Health check passed in {}", elapsed_text(started.elapsed()));
        conditions::set(
            conditions,
            HEALTHY,
            ConditionStatus::True,
            reasons::SUCCEEDED,
            &passed,
            generation,
            &now(),
        );
        if !was_healthy || (is_new_revision && drifted) {
            attempt.event(run, reasons::PROGRESSING, passed);
        }
        Ok(())
    }

    pub(super) async fn finalize_kustomization(
        &self,
        kustomization: &Kustomization,
    ) -> Result<(), StepError> {
        if !deletes_objects(kustomization) {
            return Ok(());
        }
        let inventory: ResourceInventory = kustomization
            .status
            .as_ref()
            .and_then(|status| status.inventory.clone())
            .unwrap_or_default();
        let objects = eddy_apply::inventory::list(&inventory).unwrap_or_default();
        let name = kustomization.metadata.name.clone().unwrap_or_default();
        let namespace = kustomization.metadata.namespace.clone().unwrap_or_default();
        if let Some(account) = self.clients.service_account_of(kustomization) {
            let accounts: kube::Api<k8s_openapi::api::core::v1::ServiceAccount> =
                kube::Api::namespaced(self.clients.own().clone(), &namespace);
            if let Ok(None) = accounts.get_opt(&account).await {
                // As Flux: with the account gone nothing can be deleted in its name.
                let listed: Vec<String> = objects.iter().map(|object| object.subject()).collect();
                tracing::error!(%namespace, %name, "skipping pruning, failed to find account to impersonate; unable to prune objects: {}", listed.join(", "));
                return Ok(());
            }
        }
        let Target { client, kinds } = match self.clients.for_kustomization(kustomization).await {
            Ok(target) => target,
            // As Flux (`CanImpersonate`): without the remote cluster's kubeconfig nothing can
            // be deleted there, and the Kustomization must not be stuck on it.
            Err(message) if kustomization.spec.kube_config.is_some() => {
                let listed: Vec<String> = objects.iter().map(|object| object.subject()).collect();
                tracing::error!(%namespace, %name, "skipping pruning, {message}; unable to prune objects: {}", listed.join(", "));
                return Ok(());
            }
            Err(message) => {
                return Err(StepError::retryable(
                    reasons::RECONCILIATION_FAILED,
                    message,
                ));
            }
        };
        let manager = ResourceManager::new(client, KUSTOMIZE_CONTROLLER)
            .with_kind_cache(kinds)
            .with_concurrency(self.settings.concurrent_ssa);
        let options = eddy_apply::manager::DeleteOptions::new(owner_of(kustomization));
        let (change_set, result) = manager.delete_all(&objects, &options).await;
        if let Err(error) = result {
            tracing::error!(%namespace, %name, "pruning for deleted resource failed: {error}");
            return Err(StepError::retryable(
                reasons::PRUNE_FAILED,
                "pruning for deleted resource failed",
            ));
        }
        tracing::info!(%namespace, %name, "{change_set}");
        if waits_for_termination(kustomization) {
            let deleted: Vec<eddy_apply::ObjectRef> = change_set
                .entries
                .iter()
                .filter(|entry| entry.action == Action::Deleted)
                .map(|entry| entry.object.clone())
                .collect();
            let options = WaitOptions {
                interval: Duration::from_secs(2),
                timeout: kustomization
                    .spec
                    .get_timeout()
                    .unwrap_or(Duration::from_secs(30)),
                ..WaitOptions::default()
            };
            if let Err(error) = manager.wait_for_termination(&deleted, &options).await {
                tracing::error!(%namespace, %name, "failed to wait for resources termination: {error}");
            }
        }
        Ok(())
    }
}
