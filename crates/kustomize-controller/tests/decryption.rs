//! SOPS decryption with age keys against the dev cluster (issue 7, item 8).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is how these tests report failure"
)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Environment, condition};
use eddy_api::kustomize::v1::Kustomization;
use eddy_sops::Format;
use eddy_sops::testing::{self, Settings};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kustomize_controller::kustomization::decrypt::Decryptor;
use kustomize_controller::kustomization::{ApplySettings, apply, build};
use serde_json::json;

const PLAIN_SECRET: &str = "\
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: flux-system
data:
  password: aHVudGVyMi1mcm9tLWdpdA==
";
/// `password` of [`PLAIN_SECRET`], base64-encoded as the Secret holds it.
const PASSWORD_BASE64: &str = "aHVudGVyMi1mcm9tLWdpdA==";

/// The Secret manifest encrypted as `sops --encrypt --encrypted-regex '^(data|stringData)$'`.
fn encrypted_secret(recipient: &str) -> String {
    let key = testing::random_data_key();
    let age_keys = [(recipient.to_string(), testing::age_encrypt(recipient, &key))];
    let settings = Settings {
        encrypted_regex: Some("^(data|stringData)$".to_string()),
        mac_only_encrypted: false,
    };
    let bytes = testing::encrypt_bytes(
        PLAIN_SECRET.as_bytes(),
        Format::Yaml,
        &key,
        &age_keys,
        &settings,
    );
    String::from_utf8(bytes).unwrap()
}

async fn create_key_secret(env: &Environment, name: &str, identity: &str) {
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &env.namespace);
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": env.namespace},
        "stringData": {"identity.agekey": identity},
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

fn spec(secret_ref: &str) -> serde_json::Value {
    json!({"interval": "10m", "path": "./", "prune": true,
        "sourceRef": {"kind": "GitRepository", "name": "repo"},
        "decryption": {"provider": "sops", "secretRef": {"name": secret_ref}}})
}

fn kustomization(env: &Environment, secret_ref: &str) -> Kustomization {
    serde_json::from_value(json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "secrets", "namespace": env.namespace},
        "spec": spec(secret_ref),
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_come_from_the_agekey_entries_of_the_referenced_secret() {
    let env = Environment::start().await;
    let (identity, recipient) = testing::generate_identity();
    create_key_secret(
        &env,
        "sops-age",
        &format!("# created by a test\n{identity}\n"),
    )
    .await;

    let ks = kustomization(&env, "sops-age");
    assert_decrypts_for(&env, &ks, None, &recipient).await;
    assert_eq!(
        load_error(&env, &kustomization(&env, "missing"), None).await,
        "secrets \"missing\" not found"
    );
}

/// Loads the decryptor of `ks` and checks it decrypts a Secret encrypted for `recipient`.
async fn assert_decrypts_for(
    env: &Environment,
    ks: &Kustomization,
    global: Option<&(String, String)>,
    recipient: &str,
) {
    let decryptor = Decryptor::load(&env.client, ks, global)
        .await
        .unwrap()
        .expect("spec.decryption is set");
    let manifests = decryptor
        .decrypt_manifests(&encrypted_secret(recipient))
        .unwrap();
    assert!(
        manifests.contains(&format!("password: {PASSWORD_BASE64}")),
        "{manifests}"
    );
    assert!(!manifests.contains("sops:"), "{manifests}");
}

/// Why the decryptor of `ks` could not be loaded.
async fn load_error(
    env: &Environment,
    ks: &Kustomization,
    global: Option<&(String, String)>,
) -> String {
    Decryptor::load(&env.client, ks, global)
        .await
        .unwrap_err()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_ref_the_sops_age_secret_of_the_controller_is_used() {
    let env = Environment::start().await;
    let (identity, recipient) = testing::generate_identity();
    create_key_secret(&env, "global-age", &identity).await;
    let mut ks = kustomization(&env, "unused");
    let decryption = ks.spec.decryption.as_mut().expect("spec.decryption is set");
    decryption.secret_ref = None;
    let global = (env.namespace.clone(), "global-age".to_string());

    assert_decrypts_for(&env, &ks, Some(&global), &recipient).await;
    // A secretRef takes precedence over the controller's Secret.
    let with_ref = kustomization(&env, "missing");
    assert_eq!(
        load_error(&env, &with_ref, Some(&global)).await,
        "secrets \"missing\" not found"
    );
    let missing_global = (env.namespace.clone(), "absent".to_string());
    assert_eq!(
        load_error(&env, &ks, Some(&missing_global)).await,
        "secrets \"absent\" not found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_build_path_applies_encrypted_resources_and_generator_sources_in_plaintext() {
    let env = Environment::start().await;
    let (identity, recipient) = testing::generate_identity();
    create_key_secret(&env, "sops-age", &identity).await;
    let key = testing::random_data_key();
    let age_keys = [(recipient.clone(), testing::age_encrypt(&recipient, &key))];
    let env_file = testing::encrypt_bytes(
        b"USER=admin\n",
        Format::Dotenv,
        &key,
        &age_keys,
        &Settings::default(),
    );
    let root = tempfile::tempdir().unwrap();
    let write = |path: &str, data: &[u8]| std::fs::write(root.path().join(path), data).unwrap();
    write("secret.yaml", encrypted_secret(&recipient).as_bytes());
    write("app.env", &env_file);
    write(
        "kustomization.yaml",
        b"namespace: flux-system\nresources: [secret.yaml]\n\
          generatorOptions: {disableNameSuffixHash: true}\n\
          secretGenerator:\n- name: app\n  envs: [app.env]\n",
    );

    // The steps of the reconcile's build and apply, in order.
    let ks = kustomization(&env, "sops-age");
    let decryptor = Decryptor::load(&env.client, &ks, None).await.unwrap();
    let manifests =
        build::kustomize_decrypting(root.path(), root.path(), decryptor.as_ref()).unwrap();
    let variables = eddy_apply::substitute::Variables::new();
    let mut objects = build::finish(&ks, manifests, &variables, true)
        .unwrap()
        .objects;
    apply::prepare_objects(&ks, &mut objects).unwrap();
    let settings = ApplySettings {
        stage_wait_interval: std::time::Duration::from_millis(100),
        stage_wait_timeout: std::time::Duration::from_secs(10),
        ..ApplySettings::default()
    };
    let options = apply::apply_options(&ks, &settings).unwrap();
    eddy_apply::manager::ResourceManager::new(env.client.clone(), "kustomize-controller")
        .apply_all_staged(objects, &options)
        .await
        .unwrap();

    let db = env
        .read("v1", "Secret", &env.namespace, "db")
        .await
        .unwrap();
    assert_eq!(db["data"]["password"], PASSWORD_BASE64);
    assert!(db.get("sops").is_none());
    let app = env
        .read("v1", "Secret", &env.namespace, "app")
        .await
        .unwrap();
    assert_eq!(app["data"]["USER"], STANDARD.encode("admin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_age_encrypted_secret_is_applied_in_plaintext_and_fails_clearly_without_the_key() {
    let env = Environment::start().await;
    let (identity, recipient) = testing::generate_identity();
    let encrypted = encrypted_secret(&recipient);
    assert!(!encrypted.contains(PASSWORD_BASE64));
    env.publish("repo", "main@sha1:1111", &[("secret.yaml", &encrypted)])
        .await;

    // Without the key Secret the build fails, naming the Secret and no plaintext.
    env.create("secrets", spec("sops-age")).await;
    let failed = env.wait_not_ready("secrets", "BuildFailed").await;
    let message = &condition(&failed, "Ready").unwrap().message;
    assert_eq!(message, "secrets \"sops-age\" not found");

    // A key that is not a recipient fails with SOPS's clear message.
    let (other, _) = testing::generate_identity();
    create_key_secret(&env, "sops-age", &other).await;
    env.request_reconcile("secrets").await;
    let failed = env
        .wait_for(
            "secrets",
            "failing on the wrong key",
            common::DEADLINE,
            |ks| {
                condition(ks, "Ready")
                    .is_some_and(|ready| ready.message.contains("no identity matched"))
            },
        )
        .await;
    let message = &condition(&failed, "Ready").unwrap().message;
    assert!(
        message.starts_with("decryption failed for 'Secret.v1.[noGrp]/db'"),
        "{message}"
    );
    assert!(!message.contains(PASSWORD_BASE64), "{message}");

    // With the right key the Kustomization becomes Ready and the Secret holds the plaintext.
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &env.namespace);
    let mut key_secret = secrets.get("sops-age").await.unwrap();
    key_secret.data = Some(
        [(
            "identity.agekey".to_string(),
            k8s_openapi::ByteString(identity.into_bytes()),
        )]
        .into(),
    );
    secrets
        .replace("sops-age", &PostParams::default(), &key_secret)
        .await
        .unwrap();
    env.request_reconcile("secrets").await;
    env.wait_ready("secrets", "main@sha1:1111").await;
    let secret = env
        .read("v1", "Secret", &env.namespace, "db")
        .await
        .unwrap();
    assert_eq!(secret["data"]["password"], PASSWORD_BASE64);
    assert!(secret.get("sops").is_none());
}
