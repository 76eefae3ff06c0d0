//! flux-config-agent against an in-process dev cluster: what it generates, how its status
//! follows the generated objects (whose status the tests write, standing in for source- and
//! kustomize-controller), credentials, multi-tenancy, deletion and the status webhook.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is how tests report failure"
)]

mod common;

use common::{Environment, Options};
use eddy_api::clusterconfig::v1alpha1::{ComplianceState, FluxConfig, ProvisioningState};
use serde_json::{Value, json};

const GIT: &str = "source.toolkit.fluxcd.io/v1";
const KS: &str = "kustomize.toolkit.fluxcd.io/v1";

fn seed_spec() -> Value {
    json!({
        "scope": "cluster",
        "gitRepository": {
            "url": "https://git.example.invalid/demo.git",
            "repositoryRef": {"branch": "main"},
        },
        "kustomizations": {
            "infra": {"path": "./infra", "prune": true},
            "apps": {"path": "./apps", "prune": true, "dependsOn": ["infra"],
                "syncIntervalInSeconds": 30, "retryIntervalInSeconds": 15, "timeoutInSeconds": 120},
        },
    })
}

fn compliance(config: &FluxConfig) -> Option<ComplianceState> {
    config
        .status
        .as_ref()
        .and_then(|status| status.compliance_state)
}

fn object_state(config: &FluxConfig, kind: &str, name: &str) -> Option<ComplianceState> {
    config
        .status
        .as_ref()?
        .statuses
        .as_ref()?
        .iter()
        .find(|entry| entry.kind.as_deref() == Some(kind) && entry.name.as_deref() == Some(name))?
        .compliance_state
}

#[tokio::test]
async fn the_source_and_kustomizations_are_generated_with_azure_defaults() {
    let env = Environment::start().await;
    env.create_namespace("cluster-config").await;
    let config = env
        .create_config("cluster-config", "cluster-config", seed_spec())
        .await;
    let uid = config.metadata.uid.clone().unwrap();

    let source = env
        .wait_exists((GIT, "GitRepository", "cluster-config", "cluster-config"))
        .await;
    assert_eq!(
        source["spec"]["url"],
        "https://git.example.invalid/demo.git"
    );
    assert_eq!(source["spec"]["ref"], json!({"branch": "main"}));
    assert_eq!(source["spec"]["interval"], "10m0s");
    assert_eq!(source["spec"]["timeout"], "10m0s");
    assert_eq!(source["spec"]["suspend"], false);
    assert!(source["spec"].get("secretRef").is_none());
    let labels = &source["metadata"]["labels"];
    assert_eq!(labels["clusterconfig.azure.com/is-managed"], "true");
    assert_eq!(labels["clusterconfig.azure.com/name"], "cluster-config");
    assert_eq!(
        labels["clusterconfig.azure.com/namespace"],
        "cluster-config"
    );
    let owner = &source["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "FluxConfig");
    assert_eq!(owner["apiVersion"], "clusterconfig.azure.com/v1alpha1");
    assert_eq!(owner["uid"], uid.as_str());
    assert_eq!(owner["controller"], true);
    assert_eq!(owner["blockOwnerDeletion"], true);

    let infra = env
        .wait_exists((
            KS,
            "Kustomization",
            "cluster-config",
            "cluster-config-infra",
        ))
        .await;
    let spec = &infra["spec"];
    assert_eq!(
        spec["sourceRef"],
        json!({"kind": "GitRepository", "name": "cluster-config", "namespace": "cluster-config"})
    );
    assert_eq!(spec["path"], "./infra");
    assert_eq!(spec["interval"], "10m0s");
    assert_eq!(spec["retryInterval"], "10m0s");
    assert_eq!(spec["timeout"], "10m0s");
    assert_eq!(spec["prune"], true);
    assert_eq!(spec["force"], false);
    assert_eq!(spec["wait"], true);
    assert_eq!(spec["suspend"], false);
    assert_eq!(spec["serviceAccountName"], "flux-applier");
    assert!(spec.get("dependsOn").is_none());
    let patch = &spec["patches"][0];
    assert_eq!(
        patch["target"],
        json!({"group": "helm.toolkit.fluxcd.io", "kind": "HelmRelease",
            "annotationSelector": "clusterconfig.azure.com/use-managed-source=true"})
    );
    let operations: Value = serde_json::from_str(patch["patch"].as_str().unwrap()).unwrap();
    assert_eq!(
        operations[0]["value"],
        json!({"kind": "GitRepository", "name": "cluster-config", "namespace": "cluster-config"})
    );
    assert_eq!(
        infra["metadata"]["labels"]["clusterconfig.azure.com/name"],
        "cluster-config"
    );
    assert_eq!(infra["metadata"]["ownerReferences"][0]["uid"], uid.as_str());

    let apps = env
        .wait_exists((KS, "Kustomization", "cluster-config", "cluster-config-apps"))
        .await;
    assert_eq!(apps["spec"]["interval"], "30s");
    assert_eq!(apps["spec"]["retryInterval"], "15s");
    assert_eq!(apps["spec"]["timeout"], "2m0s");
    assert_eq!(
        apps["spec"]["dependsOn"],
        json!([{"name": "cluster-config-infra"}])
    );

    let config = env
        .wait_config(
            "cluster-config",
            "cluster-config",
            "provisioned",
            |config| {
                config.status.as_ref().and_then(|s| s.provisioning_state)
                    == Some(ProvisioningState::Succeeded)
            },
        )
        .await;
    assert_eq!(compliance(&config), Some(ComplianceState::Pending));
}

#[tokio::test]
async fn the_reference_follows_azure_precedence_and_scp_urls_are_rewritten() {
    let env = Environment::start().await;
    env.create_namespace("team").await;
    env.create_config(
        "team",
        "refs",
        json!({
            "gitRepository": {
                "url": "git@github.com:org/repo.git",
                "localAuthRef": "my-credentials",
                "syncIntervalInSeconds": 90,
                "repositoryRef": {"branch": "main", "tag": "v1.0.0", "semver": ">=1.0.0"},
            },
            "kustomizations": {"all": {}},
        }),
    )
    .await;
    let source = env
        .wait_exists((GIT, "GitRepository", "team", "refs"))
        .await;
    assert_eq!(source["spec"]["url"], "ssh://git@github.com/org/repo.git");
    assert_eq!(source["spec"]["ref"], json!({"semver": ">=1.0.0"}));
    assert_eq!(source["spec"]["interval"], "1m30s");
    assert_eq!(
        source["spec"]["secretRef"],
        json!({"name": "my-credentials"})
    );

    env.patch_config(
        "team",
        "refs",
        json!({"gitRepository": {"repositoryRef": {"commit": "0123abc"}}}),
    )
    .await;
    let source = env
        .wait_object(
            (GIT, "GitRepository", "team", "refs"),
            "at the commit",
            |source| source.is_some_and(|source| source["spec"]["ref"]["commit"] == "0123abc"),
        )
        .await
        .unwrap();
    assert_eq!(source["spec"]["ref"]["branch"], "main");
    // A local auth ref means no generated key.
    let config = env.configs("team").get("refs").await.unwrap();
    assert_eq!(
        config
            .status
            .and_then(|status| status.repository_public_key),
        None
    );
}

#[tokio::test]
async fn dropping_an_entry_deletes_its_kustomization() {
    let env = Environment::start().await;
    env.create_namespace("cluster-config").await;
    env.create_config("cluster-config", "cc", seed_spec()).await;
    env.wait_exists((KS, "Kustomization", "cluster-config", "cc-apps"))
        .await;
    env.patch_config(
        "cluster-config",
        "cc",
        json!({"kustomizations": {"apps": null}}),
    )
    .await;
    env.wait_gone((KS, "Kustomization", "cluster-config", "cc-apps"))
        .await;
    assert!(
        env.read((KS, "Kustomization", "cluster-config", "cc-infra"))
            .await
            .is_some()
    );
}

#[tokio::test]
async fn compliance_follows_the_generated_objects() {
    let env = Environment::start().await;
    env.create_namespace("cluster-config").await;
    env.create_config("cluster-config", "cc", seed_spec()).await;
    let revision = "main@sha1:4b825dc642cb6eb9a060e54bf8d69288fbee4904";

    env.wait_config("cluster-config", "cc", "Pending", |config| {
        compliance(config) == Some(ComplianceState::Pending)
    })
    .await;
    env.source_ready("cluster-config", "cc", revision).await;
    let release_id = "dev_podinfo_helm.toolkit.fluxcd.io_HelmRelease";
    env.kustomization_status(
        "cluster-config",
        "cc-infra",
        "True",
        revision,
        "Applied revision",
        json!({"entries": []}),
    )
    .await;
    env.kustomization_status(
        "cluster-config",
        "cc-apps",
        "True",
        revision,
        "Applied revision",
        json!({"entries": [{"id": release_id, "v": "v2"}]}),
    )
    .await;
    let config = env
        .wait_config("cluster-config", "cc", "Compliant", |config| {
            compliance(config) == Some(ComplianceState::Compliant)
        })
        .await;
    let status = config.status.clone().unwrap();
    assert_eq!(
        status.source_synced_commit_id.as_deref(),
        Some("main/4b825dc642cb6eb9a060e54bf8d69288fbee4904")
    );
    assert!(status.source_updated_at.is_some());
    assert!(status.status_updated_at.is_some());
    assert_eq!(
        status.provisioning_state,
        Some(ProvisioningState::Succeeded)
    );
    assert_eq!(status.observed_generation, config.metadata.generation);
    let ready = status
        .conditions
        .as_ref()
        .and_then(|all| all.iter().find(|c| c.type_ == "Ready"))
        .unwrap();
    assert_eq!(ready.status, "True");
    assert_eq!(
        object_state(&config, "GitRepository", "cc"),
        Some(ComplianceState::Compliant)
    );
    assert_eq!(
        object_state(&config, "Kustomization", "cc-apps"),
        Some(ComplianceState::Compliant)
    );
    let statuses = status.statuses.clone().unwrap();
    let source_entry = statuses
        .iter()
        .find(|e| e.kind.as_deref() == Some("GitRepository"))
        .unwrap();
    assert_eq!(source_entry.namespace.as_deref(), Some("cluster-config"));
    assert_eq!(source_entry.applied_by, None);
    let conditions = source_entry.status_conditions.clone().unwrap();
    assert_eq!(conditions[0].condition_type.as_deref(), Some("Ready"));
    assert_eq!(conditions[0].status.as_deref(), Some("True"));

    // A failed kustomization: Non-Compliant, with its message in statuses.
    env.kustomization_status(
        "cluster-config",
        "cc-apps",
        "False",
        revision,
        "Deployment/dev/web dry-run failed",
        json!({"entries": []}),
    )
    .await;
    let config = env
        .wait_config("cluster-config", "cc", "Non-Compliant", |config| {
            compliance(config) == Some(ComplianceState::NonCompliant)
        })
        .await;
    assert_eq!(
        object_state(&config, "Kustomization", "cc-apps"),
        Some(ComplianceState::NonCompliant)
    );
    assert_eq!(
        config.status.as_ref().and_then(|s| s.observed_generation),
        config.metadata.generation
    );
    let statuses = config.status.clone().unwrap().statuses.unwrap();
    let apps = statuses
        .iter()
        .find(|e| e.name.as_deref() == Some("cc-apps"))
        .unwrap();
    let message = apps.status_conditions.as_ref().unwrap()[0].message.clone();
    assert_eq!(
        message.as_deref(),
        Some("Deployment/dev/web dry-run failed")
    );

    // A new source revision the kustomizations have not applied yet: Pending again.
    env.kustomization_status(
        "cluster-config",
        "cc-apps",
        "True",
        revision,
        "Applied revision",
        json!({"entries": []}),
    )
    .await;
    env.source_ready(
        "cluster-config",
        "cc",
        "main@sha1:1111111111111111111111111111111111111111",
    )
    .await;
    let config = env
        .wait_config(
            "cluster-config",
            "cc",
            "Pending at the new revision",
            |config| {
                compliance(config) == Some(ComplianceState::Pending)
                    && config
                        .status
                        .as_ref()
                        .and_then(|s| s.source_synced_commit_id.as_deref())
                        == Some("main/1111111111111111111111111111111111111111")
            },
        )
        .await;
    assert_eq!(
        object_state(&config, "Kustomization", "cc-infra"),
        Some(ComplianceState::Pending)
    );

    // Suspending: propagated to every object, and reported as Suspended.
    env.patch_config("cluster-config", "cc", json!({"suspend": true}))
        .await;
    env.wait_config("cluster-config", "cc", "Suspended", |config| {
        compliance(config) == Some(ComplianceState::Suspended)
    })
    .await;
    for target in [
        (GIT, "GitRepository", "cluster-config", "cc"),
        (KS, "Kustomization", "cluster-config", "cc-infra"),
        (KS, "Kustomization", "cluster-config", "cc-apps"),
    ] {
        env.wait_object(target, "suspended", |object| {
            object.is_some_and(|object| object["spec"]["suspend"] == true)
        })
        .await;
    }
}

#[tokio::test]
async fn waiting_for_reconciliation_keeps_provisioning_open_until_compliant() {
    let env = Environment::start().await;
    env.create_namespace("cluster-config").await;
    let mut spec = seed_spec();
    spec["waitForReconciliation"] = json!(true);
    spec["reconciliationWaitDuration"] = json!("PT1H");
    env.create_config("cluster-config", "cc", spec).await;
    let revision = "main@sha1:4b825dc642cb6eb9a060e54bf8d69288fbee4904";

    let config = env
        .wait_config("cluster-config", "cc", "Pending", |config| {
            compliance(config) == Some(ComplianceState::Pending)
        })
        .await;
    let status = config.status.clone().unwrap();
    assert_eq!(status.provisioning_state, Some(ProvisioningState::Creating));
    assert!(status.last_config_update_time.is_some());

    env.source_ready("cluster-config", "cc", revision).await;
    for name in ["cc-infra", "cc-apps"] {
        env.kustomization_status(
            "cluster-config",
            name,
            "True",
            revision,
            "Applied revision",
            json!({"entries": []}),
        )
        .await;
    }
    let config = env
        .wait_config("cluster-config", "cc", "Succeeded", |config| {
            config.status.as_ref().and_then(|s| s.provisioning_state)
                == Some(ProvisioningState::Succeeded)
        })
        .await;
    assert_eq!(compliance(&config), Some(ComplianceState::Compliant));

    // A failing kustomization fails the provisioning, with the reason.
    env.kustomization_status(
        "cluster-config",
        "cc-apps",
        "False",
        revision,
        "Deployment/dev/web dry-run failed",
        json!({"entries": []}),
    )
    .await;
    let config = env
        .wait_config("cluster-config", "cc", "Failed", |config| {
            config.status.as_ref().and_then(|s| s.provisioning_state)
                == Some(ProvisioningState::Failed)
        })
        .await;
    let message = config.status.unwrap().error_message.unwrap();
    assert!(message.starts_with("reconciliation failed: "), "{message}");
}

#[tokio::test]
async fn helm_releases_applied_by_a_kustomization_are_reported_with_their_properties() {
    let env = Environment::start().await;
    env.create_namespace("cluster-config").await;
    env.create_namespace("dev").await;
    let releases = env.dynamic("helm.toolkit.fluxcd.io/v2", "HelmRelease", "dev");
    let release: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "podinfo", "namespace": "dev",
            "labels": {"kustomize.toolkit.fluxcd.io/name": "cc-apps",
                "kustomize.toolkit.fluxcd.io/namespace": "cluster-config"}},
        "spec": {"interval": "5m", "chart": {"spec": {"chart": "podinfo",
            "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}},
    }))
    .unwrap();
    let created = releases
        .create(&Default::default(), &release)
        .await
        .unwrap();
    let generation = created.metadata.generation;
    env.create_config("cluster-config", "cc", seed_spec()).await;
    let revision = "main@sha1:abc";
    env.source_ready("cluster-config", "cc", revision).await;
    env.kustomization_status(
        "cluster-config",
        "cc-infra",
        "True",
        revision,
        "ok",
        json!({"entries": []}),
    )
    .await;
    env.kustomization_status(
        "cluster-config",
        "cc-apps",
        "True",
        revision,
        "ok",
        json!({"entries": [{"id": "dev_podinfo_helm.toolkit.fluxcd.io_HelmRelease", "v": "v2"}]}),
    )
    .await;
    let status = json!({"status": {
        "observedGeneration": generation,
        "conditions": [common::condition("False", "InstallFailed", "install failed")],
        "helmChart": "cluster-config/dev-podinfo",
        "failures": 2, "installFailures": 2,
        "lastReleaseRevision": 1,
    }});
    releases
        .patch_status(
            "podinfo",
            &Default::default(),
            &kube::api::Patch::Merge(&status),
        )
        .await
        .unwrap();
    let config = env
        .wait_config(
            "cluster-config",
            "cc",
            "Non-Compliant through the release",
            |config| {
                object_state(config, "HelmRelease", "podinfo")
                    == Some(ComplianceState::NonCompliant)
            },
        )
        .await;
    assert_eq!(compliance(&config), Some(ComplianceState::NonCompliant));
    let statuses = config.status.unwrap().statuses.unwrap();
    let release = statuses
        .iter()
        .find(|e| e.kind.as_deref() == Some("HelmRelease"))
        .unwrap();
    assert_eq!(release.namespace.as_deref(), Some("dev"));
    let applied_by = release.applied_by.clone().unwrap();
    assert_eq!(applied_by.name.as_deref(), Some("cc-apps"));
    assert_eq!(applied_by.namespace.as_deref(), Some("cluster-config"));
    let properties = release.helm_release_properties.clone().unwrap();
    assert_eq!(properties.failure_count, Some(2));
    assert_eq!(properties.install_failure_count, Some(2));
    assert_eq!(properties.last_revision_applied, Some(1));
    let chart = properties.helm_chart_ref.unwrap();
    assert_eq!(chart.name.as_deref(), Some("dev-podinfo"));
    assert_eq!(chart.namespace.as_deref(), Some("cluster-config"));
}

#[tokio::test]
async fn an_ssh_url_without_a_key_gets_a_key_pair_generated_once() {
    let env = Environment::start().await;
    env.create_namespace("team").await;
    env.create_config(
        "team",
        "deploy",
        json!({"gitRepository": {"url": "ssh://git@git.example.invalid/org/repo.git",
            "repositoryRef": {"branch": "main"}}}),
    )
    .await;
    let config = env
        .wait_config("team", "deploy", "given a public key", |config| {
            config
                .status
                .as_ref()
                .and_then(|s| s.repository_public_key.as_ref())
                .is_some()
        })
        .await;
    let public_key = config.status.unwrap().repository_public_key.unwrap();
    assert!(
        public_key.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"),
        "{public_key}"
    );
    let source = env
        .wait_exists((GIT, "GitRepository", "team", "deploy"))
        .await;
    assert_eq!(source["spec"]["secretRef"], json!({"name": "deploy-auth"}));
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(env.client.clone(), "team");
    let secret = secrets.get("deploy-auth").await.unwrap();
    let data = secret.data.clone().unwrap();
    let identity = String::from_utf8(data["identity"].0.clone()).unwrap();
    assert!(identity.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    assert_eq!(
        String::from_utf8(data["identity.pub"].0.clone()).unwrap(),
        public_key
    );
    assert_eq!(
        secret.metadata.labels.unwrap()["clusterconfig.azure.com/name"],
        "deploy"
    );

    // A spec change keeps the same key pair.
    env.patch_config(
        "team",
        "deploy",
        json!({"gitRepository": {"syncIntervalInSeconds": 60}}),
    )
    .await;
    env.wait_object(
        (GIT, "GitRepository", "team", "deploy"),
        "updated",
        |source| source.is_some_and(|source| source["spec"]["interval"] == "1m0s"),
    )
    .await;
    let config = env.configs("team").get("deploy").await.unwrap();
    assert_eq!(
        config.status.unwrap().repository_public_key.as_deref(),
        Some(public_key.as_str())
    );
}

#[tokio::test]
async fn https_credentials_from_the_protected_parameters_become_a_flux_secret() {
    // No periodic re-check within the test's deadline: the rotation below arrives through a watch.
    let env = Environment::start_with(Options {
        recheck: std::time::Duration::from_secs(600),
        ..Options::default()
    })
    .await;
    env.create_namespace("team").await;
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(env.client.clone(), "team");
    let protected: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "metadata": {"name": "private-protected-parameters", "namespace": "team",
            "labels": {"clusterconfig.azure.com/name": "private",
                "clusterconfig.azure.com/namespace": "team"}},
        // ARM carries httpsKey base64-encoded, inside the Secret's own encoding.
        "data": {"httpsKey": "ZEc5clpXNHRNVEl6"},
    }))
    .unwrap();
    secrets
        .create(&Default::default(), &protected)
        .await
        .unwrap();
    env.create_config(
        "team",
        "private",
        json!({"gitRepository": {"url": "https://git.example.invalid/private.git", "timeoutInSeconds": 3600,
            "httpsUser": "bot", "repositoryRef": {"branch": "main"}}}),
    )
    .await;
    let source = env
        .wait_exists((GIT, "GitRepository", "team", "private"))
        .await;
    assert_eq!(source["spec"]["secretRef"], json!({"name": "private-auth"}));
    // Flux's source timeout pattern has no hours.
    assert_eq!(source["spec"]["timeout"], "60m0s");
    let secret = secrets.get("private-auth").await.unwrap();
    let data = secret.data.unwrap();
    assert_eq!(data["username"].0, b"bot");
    assert_eq!(data["password"].0, b"token-123");

    // A rotated key reaches the Flux Secret without waiting for a periodic re-check.
    secrets
        .patch(
            "private-protected-parameters",
            &Default::default(),
            // base64 of base64 of "token-456".
            &kube::api::Patch::Merge(json!({"data": {"httpsKey": "ZEc5clpXNHRORFUy"}})),
        )
        .await
        .unwrap();
    env.wait_object(
        ("v1", "Secret", "team", "private-auth"),
        "rotated",
        |secret| secret.is_some_and(|secret| secret["data"]["password"] == "dG9rZW4tNDU2"),
    )
    .await;
}

#[tokio::test]
async fn multi_tenancy_creates_the_flux_applier_account_and_its_bindings() {
    let env = Environment::start().await;
    env.create_namespace("platform").await;
    env.create_namespace("team-a").await;
    env.create_config("platform", "cluster-wide", seed_spec())
        .await;
    let mut namespaced = seed_spec();
    namespaced["scope"] = json!("namespace");
    env.create_config("team-a", "team", namespaced).await;

    env.wait_exists(("v1", "ServiceAccount", "platform", "flux-applier"))
        .await;
    let binding = env
        .wait_exists((
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            "",
            "flux-applier-platform",
        ))
        .await;
    assert_eq!(
        binding["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"})
    );
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "flux-applier", "namespace": "platform"}])
    );
    env.wait_exists(("v1", "ServiceAccount", "team-a", "flux-applier"))
        .await;
    let role_binding = env
        .wait_exists((
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            "team-a",
            "flux-applier",
        ))
        .await;
    assert_eq!(role_binding["roleRef"]["name"], "cluster-admin");
    assert!(
        env.read((
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            "",
            "flux-applier-team-a"
        ))
        .await
        .is_none()
    );
    let apps = env
        .wait_exists((KS, "Kustomization", "team-a", "team-apps"))
        .await;
    assert_eq!(apps["spec"]["serviceAccountName"], "flux-applier");

    // A configuration generating into another namespace is refused.
    let mut foreign = seed_spec();
    foreign["namespace"] = json!("platform");
    env.create_config("team-a", "sneaky", foreign).await;
    let config = env
        .wait_config("team-a", "sneaky", "refused", |config| {
            config.status.as_ref().and_then(|s| s.provisioning_state)
                == Some(ProvisioningState::Failed)
        })
        .await;
    let status = config.status.unwrap();
    assert!(status.error_message.unwrap().contains("cross-namespace"));
    let ready = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "AccessDenied")
    );
    assert!(
        env.read((GIT, "GitRepository", "platform", "sneaky"))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn without_multi_tenancy_no_account_is_created_or_impersonated() {
    let env = Environment::start_with(Options {
        multi_tenancy: false,
        ..Options::default()
    })
    .await;
    env.create_namespace("cluster-config").await;
    env.create_config("cluster-config", "cc", seed_spec()).await;
    let infra = env
        .wait_exists((KS, "Kustomization", "cluster-config", "cc-infra"))
        .await;
    assert!(infra["spec"].get("serviceAccountName").is_none());
    env.wait_config("cluster-config", "cc", "provisioned", |config| {
        config.status.as_ref().and_then(|s| s.provisioning_state)
            == Some(ProvisioningState::Succeeded)
    })
    .await;
    assert!(
        env.read(("v1", "ServiceAccount", "cluster-config", "flux-applier"))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn deleting_the_fluxconfig_removes_everything_it_created() {
    let env = Environment::start().await;
    env.create_namespace("cluster-config").await;
    env.create_config(
        "cluster-config",
        "cc",
        json!({"gitRepository": {"url": "git@git.example.invalid:org/repo.git"},
            "kustomizations": {"infra": {}, "apps": {"dependsOn": ["infra"]}}}),
    )
    .await;
    env.wait_exists(("v1", "Secret", "cluster-config", "cc-auth"))
        .await;
    env.wait_exists((KS, "Kustomization", "cluster-config", "cc-apps"))
        .await;
    env.wait_exists((
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        "",
        "flux-applier-cluster-config",
    ))
    .await;
    env.wait_config("cluster-config", "cc", "holding the finalizer", |config| {
        config
            .metadata
            .finalizers
            .as_ref()
            .is_some_and(|all| all.iter().any(|f| f == "finalizers.fluxcd.io"))
    })
    .await;

    env.delete_config("cluster-config", "cc").await;
    env.wait_object(
        (
            "clusterconfig.azure.com/v1alpha1",
            "FluxConfig",
            "cluster-config",
            "cc",
        ),
        "gone",
        |object| object.is_none(),
    )
    .await;
    for target in [
        (KS, "Kustomization", "cluster-config", "cc-infra"),
        (KS, "Kustomization", "cluster-config", "cc-apps"),
        (GIT, "GitRepository", "cluster-config", "cc"),
        ("v1", "Secret", "cluster-config", "cc-auth"),
        ("v1", "ServiceAccount", "cluster-config", "flux-applier"),
        (
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            "",
            "flux-applier-cluster-config",
        ),
    ] {
        assert!(
            env.read(target).await.is_none(),
            "{target:?} is still there"
        );
    }
}

#[tokio::test]
async fn the_status_webhook_receives_each_status_change() {
    let env = Environment::start_with(Options {
        webhook: true,
        ..Options::default()
    })
    .await;
    env.create_namespace("cluster-config").await;
    env.create_config("cluster-config", "cc", seed_spec()).await;
    let revision = "main@sha1:abcdef";
    env.source_ready("cluster-config", "cc", revision).await;
    env.kustomization_status(
        "cluster-config",
        "cc-infra",
        "True",
        revision,
        "ok",
        json!({"entries": []}),
    )
    .await;
    env.kustomization_status(
        "cluster-config",
        "cc-apps",
        "True",
        revision,
        "ok",
        json!({"entries": []}),
    )
    .await;
    let started = std::time::Instant::now();
    let compliant = loop {
        let received = env.webhook.lock().unwrap().clone();
        if let Some(body) = received
            .iter()
            .find(|body| body["properties"]["complianceState"] == "Compliant")
        {
            break (body.clone(), received);
        }
        assert!(
            started.elapsed() < common::DEADLINE,
            "no Compliant status reached the webhook; got {received:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let (body, all) = compliant;
    assert!(
        all.iter()
            .any(|body| body["properties"]["complianceState"] == "Pending"),
        "the Pending status was reported first: {all:?}"
    );
    assert_eq!(body["name"], "cc");
    assert_eq!(
        body["type"],
        "Microsoft.KubernetesConfiguration/fluxConfigurations"
    );
    let properties = &body["properties"];
    assert_eq!(properties["provisioningState"], "Succeeded");
    assert_eq!(properties["sourceSyncedCommitId"], "main/abcdef");
    assert_eq!(properties["scope"], "cluster");
    assert_eq!(properties["sourceKind"], "GitRepository");
    assert!(properties["statusUpdatedAt"].is_string());
    assert_eq!(properties["statuses"].as_array().unwrap().len(), 3);
    assert!(properties.get("conditions").is_none());
}

#[tokio::test]
async fn deletion_waits_for_kustomization_finalizers_before_removing_the_source() {
    let env = Environment::start().await;
    env.create_namespace("cluster-config").await;
    env.create_config("cluster-config", "cc", seed_spec()).await;
    env.wait_exists((KS, "Kustomization", "cluster-config", "cc-infra"))
        .await;
    env.wait_config("cluster-config", "cc", "holding the finalizer", |config| {
        config
            .metadata
            .finalizers
            .as_ref()
            .is_some_and(|all| all.iter().any(|f| f == "finalizers.fluxcd.io"))
    })
    .await;
    // kustomize-controller's finalizer, which prunes the workloads before letting go.
    let kustomizations = env.dynamic(KS, "Kustomization", "cluster-config");
    kustomizations
        .patch(
            "cc-infra",
            &Default::default(),
            &kube::api::Patch::Merge(json!({"metadata": {"finalizers": ["finalizers.fluxcd.io"]}})),
        )
        .await
        .unwrap();

    env.delete_config("cluster-config", "cc").await;
    env.wait_config("cluster-config", "cc", "Deleting", |config| {
        config.status.as_ref().and_then(|s| s.provisioning_state)
            == Some(ProvisioningState::Deleting)
    })
    .await;
    env.wait_gone((KS, "Kustomization", "cluster-config", "cc-apps"))
        .await;
    // The source and the applier account outlive the Kustomization still pruning.
    assert!(
        env.read((GIT, "GitRepository", "cluster-config", "cc"))
            .await
            .is_some()
    );
    assert!(
        env.read(("v1", "ServiceAccount", "cluster-config", "flux-applier"))
            .await
            .is_some()
    );
    assert!(
        env.read((
            "clusterconfig.azure.com/v1alpha1",
            "FluxConfig",
            "cluster-config",
            "cc"
        ))
        .await
        .is_some()
    );

    kustomizations
        .patch(
            "cc-infra",
            &Default::default(),
            &kube::api::Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    env.wait_gone((
        "clusterconfig.azure.com/v1alpha1",
        "FluxConfig",
        "cluster-config",
        "cc",
    ))
    .await;
    assert!(
        env.read((GIT, "GitRepository", "cluster-config", "cc"))
            .await
            .is_none()
    );
    assert!(
        env.read(("v1", "ServiceAccount", "cluster-config", "flux-applier"))
            .await
            .is_none()
    );
}
