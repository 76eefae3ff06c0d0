//! `eddy config …` against an in-process dev cluster: what `create` writes (FluxConfig and the
//! protected-parameters Secret), az's validation, `update`, `delete`, the kustomization
//! subcommands, and that credentials are never printed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is how these tests report failure"
)]

mod common;

use common::Cluster;
use eddy_api::clusterconfig::v1alpha1::FluxConfig;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use serde_json::Value;

const SECRET: &str = "s3cret-token-value";

async fn create_demo(cluster: &Cluster) {
    cluster
        .eddy(&[
            "config",
            "create",
            "-n",
            "cluster-config",
            "--namespace",
            "cluster-config",
            "-u",
            "https://git.example.com/org/repo.git",
            "--branch",
            "main",
            "--https-user",
            "git",
            "--https-key",
            SECRET,
            "--interval",
            "1m",
            "--timeout",
            "5m",
            "--kustomization",
            "name=infra",
            "path=./infra",
            "prune=true",
            "--kustomization",
            "name=apps",
            "path=./apps",
            "prune=true",
            "depends_on=infra",
            "sync_interval=30s",
        ])
        .await
        .ok();
}

fn configs(cluster: &Cluster, namespace: &str) -> Api<FluxConfig> {
    Api::namespaced(cluster.client.clone(), namespace)
}

#[tokio::test]
async fn config_create_writes_the_flux_config_and_its_protected_secret() {
    let cluster = Cluster::start().await;
    create_demo(&cluster).await;

    let config = configs(&cluster, "cluster-config")
        .get("cluster-config")
        .await
        .unwrap();
    let spec = serde_json::to_value(&config.spec).unwrap();
    assert_eq!(spec["scope"], "cluster");
    assert_eq!(spec["sourceKind"], "GitRepository");
    assert_eq!(spec["suspend"], false);
    let git = &spec["gitRepository"];
    assert_eq!(git["url"], "https://git.example.com/org/repo.git");
    assert_eq!(git["repositoryRef"], serde_json::json!({"branch": "main"}));
    assert_eq!(git["syncIntervalInSeconds"], 60);
    assert_eq!(git["timeoutInSeconds"], 300);
    assert_eq!(git["httpsUser"], "git");
    // The dev cluster fills in the CRD's defaults (600 s, wait true) for what was not given.
    assert_eq!(
        spec["kustomizations"]["infra"],
        serde_json::json!({"path": "./infra", "prune": true, "force": false, "wait": true,
                           "timeoutInSeconds": 600, "syncIntervalInSeconds": 600})
    );
    assert_eq!(
        spec["kustomizations"]["apps"],
        serde_json::json!({"path": "./apps", "prune": true, "dependsOn": ["infra"], "force": false,
                           "wait": true, "timeoutInSeconds": 600, "syncIntervalInSeconds": 30})
    );
    assert_eq!(
        spec["protectedParametersSecretRef"]["name"],
        "cluster-config-protected-parameters"
    );
    // The credential is nowhere in the custom resource.
    assert!(!serde_json::to_string(&config).unwrap().contains(SECRET));

    let secret = Api::<Secret>::namespaced(cluster.client.clone(), "cluster-config")
        .get("cluster-config-protected-parameters")
        .await
        .unwrap();
    let data = secret.data.unwrap();
    // Base64 as Azure's protected settings hold it (the Secret's own encoding on top).
    assert_eq!(
        String::from_utf8(data["httpsKey"].0.clone()).unwrap(),
        "czNjcmV0LXRva2VuLXZhbHVl"
    );
    let owners = secret.metadata.owner_references.unwrap();
    assert_eq!(owners[0].kind, "FluxConfig");
    assert_eq!(owners[0].name, "cluster-config");
}

#[tokio::test]
async fn invalid_flags_exit_non_zero_with_az_messages_and_create_nothing() {
    let cluster = Cluster::start().await;
    let base = ["config", "create", "--namespace", "default"];
    let long_name = "x".repeat(64);
    let long_config = "c".repeat(40);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "-n",
                "demo",
                "-u",
                "https://example.com/r",
                "--branch",
                "main",
                "--tag",
                "v1",
            ],
            "Specifying more than one repository ref argument is invalid",
        ),
        (
            vec!["-n", "demo", "-u", "https://example.com/r"],
            "Specifying one of [--branch, --tag, --semver, --commit] is required",
        ),
        (
            vec!["-n", "demo", "-u", "example.com/r", "--branch", "main"],
            "Error! Invalid --url.",
        ),
        (
            vec![
                "-n",
                &long_name,
                "-u",
                "https://example.com/r",
                "--branch",
                "main",
            ],
            "can be a maximum of 63 characters",
        ),
        (
            vec![
                "-n",
                &long_config,
                "-u",
                "https://example.com/r",
                "--branch",
                "main",
                "--kustomization",
                "name=kkkkkkkkkkkkkkkkkkkkkkkk",
            ],
            "cannot be greater than 62 characters",
        ),
        (
            vec![
                "-n",
                "demo",
                "-u",
                "https://example.com/r",
                "--branch",
                "main",
                "--interval",
                "10x",
            ],
            "Error! Invalid --sync-interval.",
        ),
        (
            vec![
                "-n",
                "demo",
                "-u",
                "ssh://git@example.com/r",
                "--branch",
                "main",
                "--https-user",
                "u",
                "--https-key",
                SECRET,
            ],
            "cannot be used with a non-http(s) url",
        ),
        (
            vec![
                "-n",
                "demo",
                "--kind",
                "bucket",
                "-u",
                "https://s3.example.com",
            ],
            "not supported yet",
        ),
    ];
    for (args, message) in cases {
        let mut all: Vec<&str> = base.to_vec();
        all.extend(args);
        let run = cluster.eddy(&all).await.failed();
        assert!(
            run.stderr.contains(message),
            "{all:?}: expected {message:?} in {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains(SECRET),
            "the key was echoed: {}",
            run.stderr
        );
    }
    let all: Api<FluxConfig> = Api::all(cluster.client.clone());
    assert!(
        all.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let secrets: Api<Secret> = Api::all(cluster.client.clone());
    assert!(
        secrets
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .all(|secret| !secret
                .metadata
                .name
                .clone()
                .unwrap_or_default()
                .ends_with("-protected-parameters"))
    );
}

#[tokio::test]
async fn update_changes_only_the_given_fields() {
    let cluster = Cluster::start().await;
    create_demo(&cluster).await;
    cluster
        .eddy(&[
            "config",
            "update",
            "-n",
            "cluster-config",
            "--ns",
            "cluster-config",
            "--tag",
            "v2",
            "--kustomization",
            "name=apps",
            "prune=false",
            "--suspend",
        ])
        .await
        .ok();
    let config = configs(&cluster, "cluster-config")
        .get("cluster-config")
        .await
        .unwrap();
    let spec = serde_json::to_value(&config.spec).unwrap();
    assert_eq!(spec["suspend"], true);
    assert_eq!(
        spec["gitRepository"]["repositoryRef"],
        serde_json::json!({"tag": "v2"})
    );
    assert_eq!(
        spec["gitRepository"]["url"],
        "https://git.example.com/org/repo.git"
    );
    assert_eq!(spec["gitRepository"]["syncIntervalInSeconds"], 60);
    let apps = &spec["kustomizations"]["apps"];
    assert_eq!(apps["prune"], false);
    assert_eq!(apps["path"], "./apps");
    assert_eq!(apps["dependsOn"], serde_json::json!(["infra"]));
    assert_eq!(apps["syncIntervalInSeconds"], 30);
    assert_eq!(spec["kustomizations"]["infra"]["prune"], true);
}

#[tokio::test]
async fn show_and_list_print_the_configuration_but_never_its_secrets() {
    let cluster = Cluster::start().await;
    create_demo(&cluster).await;
    let show = cluster
        .eddy(&[
            "config",
            "show",
            "-n",
            "cluster-config",
            "--namespace",
            "cluster-config",
            "-o",
            "json",
        ])
        .await
        .ok();
    let shown: Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(shown["kind"], "FluxConfig");
    assert_eq!(shown["spec"]["gitRepository"]["httpsUser"], "git");
    let yaml = cluster
        .eddy(&[
            "config",
            "show",
            "-n",
            "cluster-config",
            "--namespace",
            "cluster-config",
        ])
        .await
        .ok();
    assert!(yaml.stdout.contains("kind: FluxConfig"), "{}", yaml.stdout);
    let list = cluster.eddy(&["config", "list"]).await.ok();
    assert!(list.stdout.starts_with("Namespace"), "{}", list.stdout);
    assert!(
        list.stdout
            .contains("cluster-config  cluster-config  cluster"),
        "{}",
        list.stdout
    );
    for run in [&show, &yaml, &list] {
        assert!(!run.stdout.contains(SECRET) && !run.stderr.contains(SECRET));
        assert!(!run.stdout.contains("czNjcmV0"));
    }
}

#[tokio::test]
async fn delete_with_prune_needs_yes_and_removes_the_secret_too() {
    let cluster = Cluster::start().await;
    create_demo(&cluster).await;
    let refused = cluster
        .eddy(&[
            "config",
            "delete",
            "-n",
            "cluster-config",
            "--namespace",
            "cluster-config",
        ])
        .await
        .failed();
    assert!(
        refused.stderr.contains("Prune is enabled"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    let api = configs(&cluster, "cluster-config");
    assert!(api.get_opt("cluster-config").await.unwrap().is_some());

    cluster
        .eddy(&[
            "config",
            "delete",
            "-n",
            "cluster-config",
            "--namespace",
            "cluster-config",
            "-y",
        ])
        .await
        .ok();
    eddy_testkit::eventually("the configuration to be gone", common::DEADLINE, || async {
        api.get_opt("cluster-config")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), "cluster-config");
    assert!(
        secrets
            .get_opt("cluster-config-protected-parameters")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn kustomizations_are_added_changed_and_removed_one_by_one() {
    let cluster = Cluster::start().await;
    create_demo(&cluster).await;
    let target = ["-n", "cluster-config", "--namespace", "cluster-config"];
    let with = |extra: &[&'static str]| {
        let mut args = vec!["config", "kustomization"];
        args.extend_from_slice(&extra[..1]);
        args.extend(target);
        args.extend_from_slice(&extra[1..]);
        args
    };
    cluster
        .eddy(&with(&[
            "create",
            "-k",
            "monitoring",
            "--path",
            "./monitoring",
            "--depends-on",
            "infra,apps",
            "--interval",
            "2m",
            "--disable-health-check",
        ]))
        .await
        .ok();
    let again = cluster
        .eddy(&with(&["create", "-k", "monitoring", "--path", "./x"]))
        .await
        .failed();
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    cluster
        .eddy(&with(&["update", "-k", "monitoring", "--prune"]))
        .await
        .ok();
    let missing = cluster
        .eddy(&with(&["update", "-k", "nothing", "--prune"]))
        .await
        .failed();
    assert!(
        missing.stderr.contains("doesn't exist"),
        "{}",
        missing.stderr
    );

    let config = configs(&cluster, "cluster-config")
        .get("cluster-config")
        .await
        .unwrap();
    let spec = serde_json::to_value(&config.spec).unwrap();
    let monitoring = &spec["kustomizations"]["monitoring"];
    assert_eq!(monitoring["path"], "./monitoring");
    assert_eq!(
        monitoring["dependsOn"],
        serde_json::json!(["infra", "apps"])
    );
    assert_eq!(monitoring["syncIntervalInSeconds"], 120);
    assert_eq!(monitoring["wait"], false);
    assert_eq!(monitoring["prune"], true);
    let list = cluster.eddy(&with(&["list"])).await.ok();
    assert!(
        list.stdout
            .contains("monitoring  ./monitoring  infra,apps  2m"),
        "{}",
        list.stdout
    );

    // prune=true now: removing it needs --yes.
    cluster
        .eddy(&with(&["delete", "-k", "monitoring"]))
        .await
        .failed();
    cluster
        .eddy(&with(&["delete", "-k", "monitoring", "--yes"]))
        .await
        .ok();
    let config = configs(&cluster, "cluster-config")
        .get("cluster-config")
        .await
        .unwrap();
    let kustomizations = config.spec.kustomizations.unwrap();
    assert_eq!(
        kustomizations.keys().cloned().collect::<Vec<_>>(),
        vec!["apps".to_string(), "infra".to_string()]
    );
}

#[tokio::test]
async fn an_unreachable_cluster_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n\
         contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["config", "list", "--kubeconfig"])
        .arg(&kubeconfig)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot reach the Kubernetes API server at https://127.0.0.1:1"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_ssh_key_file_is_stored_base64_and_scp_urls_are_accepted() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----\n";
    let key_file = dir.path().join("id_ed25519");
    std::fs::write(&key_file, key).unwrap();
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(
        &known_hosts,
        "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n",
    )
    .unwrap();
    let run = cluster
        .eddy(&[
            "config",
            "create",
            "-n",
            "ssh-demo",
            "-u",
            "git@github.com:org/repo.git",
            "--commit",
            "0123456789abcdef0123456789abcdef01234567",
            "--ssh-private-key-file",
            key_file.to_str().unwrap(),
            "--known-hosts-file",
            known_hosts.to_str().unwrap(),
            "--scope",
            "namespace",
        ])
        .await
        .ok();
    assert!(run.stderr.contains("kustomization-1"), "{}", run.stderr);
    assert!(!run.stderr.contains("OPENSSH") && !run.stdout.contains("OPENSSH"));
    let config = configs(&cluster, "default").get("ssh-demo").await.unwrap();
    let spec = serde_json::to_value(&config.spec).unwrap();
    assert_eq!(spec["scope"], "namespace");
    assert_eq!(spec["gitRepository"]["url"], "git@github.com:org/repo.git");
    assert!(spec["gitRepository"]["sshKnownHosts"].is_string());
    assert!(spec["kustomizations"]["kustomization-1"].is_object());
    let secret = Api::<Secret>::namespaced(cluster.client.clone(), "default")
        .get("ssh-demo-protected-parameters")
        .await
        .unwrap();
    use base64::Engine;
    let stored = String::from_utf8(secret.data.unwrap()["sshPrivateKey"].0.clone()).unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(stored)
            .unwrap(),
        key.as_bytes()
    );
}
