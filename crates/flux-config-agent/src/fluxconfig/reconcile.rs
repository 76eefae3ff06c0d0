//! The steps of one reconcile and of the finalizer.

use std::collections::BTreeSet;
use std::time::Duration;

use eddy_api::clusterconfig::v1alpha1::{
    ComplianceState, FluxConfig, ObjectReferenceDefinition, ProvisioningState,
    VALIDATION_FAILED_REASON, auth_secret_name, protected_parameters_secret_name, source_name,
};
use eddy_api::helm::v2::HelmRelease;
use eddy_api::kustomize::v1::Kustomization;
use eddy_api::meta::field_managers::FLUX_CONFIG_AGENT_STATUS;
use eddy_api::meta::reasons;
use eddy_runtime::controller::Run;
use eddy_runtime::{StepError, Success};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Api;
use kube::api::{ApiResource, Patch, PatchParams};
use serde_json::json;

use super::auth::{self, AuthError};
use super::generate::{self, GenerateError, GenerateOptions};
use super::objects::{
    ObjectError, kustomization_resource, secret_data_json, source_resource, source_resources,
};
use super::status::{self, Observed};
use super::{FluxConfigReconciler, provisioning, rbac, webhook};

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

fn key_of(config: &FluxConfig) -> String {
    format!(
        "{}/{}",
        config.metadata.namespace.as_deref().unwrap_or_default(),
        config.metadata.name.as_deref().unwrap_or_default()
    )
}

fn retryable(error: ObjectError) -> StepError {
    StepError::retryable(
        reasons::RECONCILIATION_FAILED,
        eddy_runtime::client::one_line(&error),
    )
}

/// What provisioning produced.
struct Provisioned {
    public_key: Option<String>,
    kustomizations: Vec<String>,
}

impl FluxConfigReconciler {
    fn options(&self) -> GenerateOptions {
        GenerateOptions {
            multi_tenancy: self.settings.multi_tenancy,
            secret_ref: None,
        }
    }

    pub(super) async fn reconcile_config(
        &self,
        config: &FluxConfig,
        run: &mut Run<FluxConfig>,
    ) -> Result<Success, StepError> {
        let provisioned = match self.provision(config).await {
            Ok(provisioned) => provisioned,
            Err(failure) => {
                let public_key = run.status.repository_public_key.clone();
                let changed = status::record(
                    &mut run.status,
                    ProvisioningState::Failed,
                    Some(failure.message.clone()),
                    None,
                    public_key,
                    &now(),
                );
                if changed {
                    self.reporter
                        .report(&key_of(config), webhook::payload(config, &run.status));
                }
                return Err(failure);
            }
        };
        // The generation is handled once its objects are written, whatever their compliance:
        // the compliance reported from here on is that of this generation's objects (the
        // harness leaves observedGeneration alone for Pending and Non-Compliant).
        if run.status.observed_generation != config.metadata.generation
            || run.status.last_config_update_time.is_none()
        {
            run.status.last_config_update_time = Some(now());
        }
        run.status.observed_generation = config.metadata.generation;
        let observed = self
            .observe(config, &provisioned.kustomizations)
            .await
            .map_err(retryable)?;
        let report = status::report(&observed, config.suspend());
        let waited = run
            .status
            .last_config_update_time
            .as_ref()
            .and_then(|since| Duration::try_from(now().0 - since.0).ok())
            .unwrap_or_default();
        let provisioning =
            provisioning::of_written_generation(config, report.compliance, &report.summary, waited);
        let changed = status::record(
            &mut run.status,
            provisioning.state,
            provisioning.error_message,
            Some(&report),
            provisioned.public_key,
            &now(),
        );
        if changed {
            self.reporter
                .report(&key_of(config), webhook::payload(config, &run.status));
        }
        match report.compliance {
            ComplianceState::Compliant => Ok(Success::with_reason(
                reasons::RECONCILIATION_SUCCEEDED,
                format!("Compliant: {}", report.summary),
            )),
            ComplianceState::Suspended => {
                Ok(Success::with_reason(reasons::SUSPENDED, report.summary))
            }
            ComplianceState::NonCompliant => {
                run.progress = "Non-Compliant".to_string();
                Err(StepError::waiting(
                    reasons::RECONCILIATION_FAILED,
                    format!("Non-Compliant: {}", report.summary),
                    self.settings.recheck,
                ))
            }
            ComplianceState::Pending | ComplianceState::Unknown => {
                run.progress = format!("Pending: {}", report.summary);
                Err(StepError::blocked(
                    reasons::PROGRESSING,
                    format!("Pending: {}", report.summary),
                    self.settings.recheck,
                ))
            }
        }
    }

    /// Writes the source, its credentials, the RBAC and the Kustomizations; removes what the
    /// spec no longer asks for.
    async fn provision(&self, config: &FluxConfig) -> Result<Provisioned, StepError> {
        let mut options = self.options();
        generate::validate(config, &options).map_err(|error| match error {
            GenerateError::CrossNamespace(message) => {
                StepError::stalling(reasons::ACCESS_DENIED, message)
            }
            other => StepError::stalling(VALIDATION_FAILED_REASON, other.to_string()),
        })?;
        let name = config.metadata.name.clone().unwrap_or_default();
        let namespace = generate::target_namespace(config);
        let selector = generate::managed_selector(config);

        let protected_name = config
            .spec
            .protected_parameters_secret_ref
            .as_ref()
            .map(|reference| reference.name.clone())
            .unwrap_or_else(|| protected_parameters_secret_name(&name));
        let protected = self
            .objects
            .secret_data(&namespace, &protected_name)
            .await
            .map_err(retryable)?
            .unwrap_or_default();
        let auth_name = auth_secret_name(&name);
        let existing = self
            .objects
            .secret_data(&namespace, &auth_name)
            .await
            .map_err(retryable)?;
        let plan = auth::plan(config, &protected, existing.as_ref(), auth::generate_key).map_err(
            |error| match error {
                AuthError::InvalidBase64(_) => {
                    StepError::stalling(reasons::AUTHENTICATION_FAILED, error.to_string())
                }
                AuthError::KeyGeneration(_) => {
                    StepError::retryable(reasons::AUTHENTICATION_FAILED, error.to_string())
                }
            },
        )?;
        let secrets = ApiResource::erase::<Secret>(&());
        match &plan.managed {
            Some(data) => {
                let body = json!({
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": generate::metadata(config, &auth_name, &namespace),
                    "type": "Opaque",
                    "data": secret_data_json(data),
                });
                self.objects
                    .apply(&secrets, Some(&namespace), &auth_name, &body)
                    .await
                    .map_err(retryable)?;
            }
            None if existing.is_some() => {
                self.objects
                    .delete(&secrets, Some(&namespace), &auth_name)
                    .await
                    .map_err(retryable)?;
            }
            None => {}
        }
        options.secret_ref = plan.secret_ref.clone();

        if self.settings.multi_tenancy {
            rbac::ensure(&self.objects, &namespace, generate::cluster_scoped(config))
                .await
                .map_err(retryable)?;
        }

        let source = generate::source(config, &options)
            .map_err(|error| StepError::stalling(VALIDATION_FAILED_REASON, error.to_string()))?;
        let source_kind = config.source_kind().flux_kind();
        let source_object_name = source_name(&name);
        for resource in source_resources() {
            if resource.kind == source_kind {
                self.objects
                    .apply(&resource, Some(&namespace), &source_object_name, &source)
                    .await
                    .map_err(retryable)?;
            } else {
                // A source of another kind is left from before a sourceKind change.
                for stale in self
                    .objects
                    .list_names(&resource, Some(&namespace), &selector)
                    .await
                    .map_err(retryable)?
                {
                    self.objects
                        .delete(&resource, Some(&namespace), &stale)
                        .await
                        .map_err(retryable)?;
                }
            }
        }

        let kustomizations = generate::kustomizations(config, &options)
            .map_err(|error| StepError::stalling(VALIDATION_FAILED_REASON, error.to_string()))?;
        let resource = kustomization_resource();
        for (kustomization_name, body) in &kustomizations {
            self.objects
                .apply(&resource, Some(&namespace), kustomization_name, body)
                .await
                .map_err(retryable)?;
        }
        let existing = self
            .objects
            .list_names(&resource, Some(&namespace), &selector)
            .await
            .map_err(retryable)?;
        for stale in existing
            .iter()
            .filter(|existing| !kustomizations.contains_key(*existing))
        {
            tracing::info!(%namespace, kustomization = %stale, "deleting Kustomization dropped from the configuration");
            self.objects
                .delete(&resource, Some(&namespace), stale)
                .await
                .map_err(retryable)?;
        }
        Ok(Provisioned {
            public_key: plan.public_key,
            kustomizations: kustomizations.into_keys().collect(),
        })
    }

    /// Reads the generated objects and the HelmReleases their inventories list.
    async fn observe(
        &self,
        config: &FluxConfig,
        kustomization_names: &[String],
    ) -> Result<Observed, ObjectError> {
        let name = config.metadata.name.clone().unwrap_or_default();
        let namespace = generate::target_namespace(config);
        let source_kind = config.source_kind().flux_kind().to_string();
        let source_object_name = source_name(&name);
        let source = match source_resource(&source_kind) {
            Some(resource) => {
                self.objects
                    .get(&resource, Some(&namespace), &source_object_name)
                    .await?
            }
            None => None,
        };
        let client = self.objects.client();
        let api: Api<Kustomization> = Api::namespaced(client.clone(), &namespace);
        let mut kustomizations = Vec::new();
        let mut helm_releases = Vec::new();
        let mut seen = BTreeSet::new();
        for kustomization_name in kustomization_names {
            let kustomization =
                api.get_opt(kustomization_name)
                    .await
                    .map_err(|source| ObjectError {
                        action: "reading",
                        kind: "Kustomization".into(),
                        namespace: namespace.clone(),
                        name: kustomization_name.clone(),
                        source,
                    })?;
            if let Some(kustomization) = &kustomization {
                let entries = kustomization
                    .status
                    .as_ref()
                    .and_then(|status| status.inventory.as_ref())
                    .map(|inventory| inventory.entries.clone())
                    .unwrap_or_default();
                for entry in entries {
                    let parts: Vec<&str> = entry.id.split('_').collect();
                    let [
                        release_namespace,
                        release_name,
                        "helm.toolkit.fluxcd.io",
                        "HelmRelease",
                    ] = parts.as_slice()
                    else {
                        continue;
                    };
                    if !seen.insert((
                        (*release_namespace).to_string(),
                        (*release_name).to_string(),
                    )) {
                        continue;
                    }
                    let releases: Api<HelmRelease> =
                        Api::namespaced(client.clone(), release_namespace);
                    // A HelmRelease kind not installed, or a release gone, is skipped.
                    if let Ok(Some(release)) = releases.get_opt(release_name).await {
                        helm_releases.push((
                            release,
                            ObjectReferenceDefinition {
                                name: Some(kustomization_name.clone()),
                                namespace: Some(namespace.clone()),
                            },
                        ));
                    }
                }
            }
            kustomizations.push((kustomization_name.clone(), kustomization));
        }
        Ok(Observed {
            source_kind,
            source_name: source_object_name,
            namespace,
            source,
            kustomizations,
            helm_releases,
        })
    }

    /// Writes `provisioningState: Deleting` (best effort: the object is going away).
    async fn mark_deleting(&self, config: &FluxConfig) {
        let mut current = config.status.clone().unwrap_or_default();
        let public_key = current.repository_public_key.clone();
        let error = current.error_message.clone();
        if current.provisioning_state == Some(ProvisioningState::Deleting) {
            return;
        }
        status::record(
            &mut current,
            ProvisioningState::Deleting,
            error,
            None,
            public_key,
            &now(),
        );
        self.reporter
            .report(&key_of(config), webhook::payload(config, &current));
        let api: Api<FluxConfig> = Api::namespaced(
            self.objects.client().clone(),
            config.metadata.namespace.as_deref().unwrap_or_default(),
        );
        let body = json!({
            "apiVersion": "clusterconfig.azure.com/v1alpha1", "kind": "FluxConfig",
            "status": current,
        });
        let params = PatchParams::apply(FLUX_CONFIG_AGENT_STATUS).force();
        let name = config.metadata.name.clone().unwrap_or_default();
        if let Err(error) = api.patch_status(&name, &params, &Patch::Apply(&body)).await {
            tracing::debug!(%name, "deleting status not written: {error}");
        }
    }

    /// Deletes the Kustomizations first (their finalizers prune with the `flux-applier`
    /// account, which must outlive them), then the source, the managed Secrets and the RBAC
    /// no other configuration needs; the finalizer goes only once all of it is gone.
    pub(super) async fn finalize_config(&self, config: &FluxConfig) -> Result<(), StepError> {
        self.mark_deleting(config).await;
        let namespace = generate::target_namespace(config);
        let selector = generate::managed_selector(config);
        let waiting = |what: Vec<String>| {
            StepError::waiting(
                reasons::PROGRESSING,
                format!("waiting for {} to be deleted", what.join(", ")),
                self.settings.deletion_poll,
            )
        };

        let kustomizations = kustomization_resource();
        let remaining = self
            .delete_selected(&kustomizations, &namespace, &selector)
            .await?;
        if !remaining.is_empty() {
            return Err(waiting(remaining));
        }

        let mut remaining = Vec::new();
        for resource in source_resources() {
            remaining.extend(
                self.delete_selected(&resource, &namespace, &selector)
                    .await?,
            );
        }
        let secrets = ApiResource::erase::<Secret>(&());
        remaining.extend(
            self.delete_selected(&secrets, &namespace, &selector)
                .await?,
        );
        if self.settings.multi_tenancy {
            let needs = self.rbac_needs(config, &namespace).await?;
            remaining.extend(
                rbac::release(&self.objects, &namespace, needs)
                    .await
                    .map_err(retryable)?,
            );
        }
        if !remaining.is_empty() {
            return Err(waiting(remaining));
        }
        Ok(())
    }

    /// Deletes the objects of `resource` matching `selector`; returns those still present.
    async fn delete_selected(
        &self,
        resource: &ApiResource,
        namespace: &str,
        selector: &str,
    ) -> Result<Vec<String>, StepError> {
        let names = self
            .objects
            .list_names(resource, Some(namespace), selector)
            .await
            .map_err(retryable)?;
        for name in &names {
            self.objects
                .delete(resource, Some(namespace), name)
                .await
                .map_err(retryable)?;
        }
        if names.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .objects
            .list_names(resource, Some(namespace), selector)
            .await
            .map_err(retryable)?
            .into_iter()
            .map(|name| format!("{}/{name}", resource.kind))
            .collect())
    }

    /// What the other configurations of `namespace` still need of the shared RBAC.
    async fn rbac_needs(
        &self,
        config: &FluxConfig,
        namespace: &str,
    ) -> Result<rbac::Needs, StepError> {
        let api: Api<FluxConfig> = Api::all(self.objects.client().clone());
        let all = api.list(&Default::default()).await.map_err(|source| {
            retryable(ObjectError {
                action: "listing",
                kind: "FluxConfig".into(),
                namespace: String::new(),
                name: String::new(),
                source,
            })
        })?;
        let mut needs = rbac::Needs {
            cluster: false,
            namespace: false,
        };
        for other in all.items.iter().filter(|other| {
            other.metadata.uid != config.metadata.uid
                && other.metadata.deletion_timestamp.is_none()
                && generate::target_namespace(other) == namespace
        }) {
            if generate::cluster_scoped(other) {
                needs.cluster = true;
            } else {
                needs.namespace = true;
            }
        }
        Ok(needs)
    }
}
