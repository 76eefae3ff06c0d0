//! SOPS decryption of a Kustomization's build (KC `internal/decryptor`), with age keys.
//!
//! ```text
//!   load              spec.decryption.secretRef in the Kustomization's namespace: *.agekey
//!                     entries become identities (other key kinds: "not supported")
//!   decrypt_sources   before kustomize: secretGenerator files/envs and patch files that carry
//!                     the SOPS marker are decrypted in place, confined to the artifact root
//!   decrypt_object    after kustomize: a resource with `sops.mac` is decrypted whole; a
//!                     Secret's `data` entries that are SOPS documents are decrypted one by one
//! ```
//!
//! As in Flux, the MAC is not checked on resources and files: kustomize adds labels, names and
//! namespaces that the MAC did not cover. Messages never carry plaintext or keys.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use eddy_api::kustomize::v1::Kustomization;
use eddy_api::meta::annotations::KUSTOMIZE_DECRYPT;
use eddy_sops::{Format, Identities, Options};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use serde_json::Value;

use super::build::{resolve, strings};
use super::generate::find_kustomization_file;

/// The extension of Secret entries holding age identities (Flux `DecryptionAgeExt`).
const AGE_KEY_EXTENSION: &str = ".agekey";
/// Secret entries of key kinds this build does not support, by extension or name.
const UNSUPPORTED_ENTRIES: [(&str, &str); 5] = [
    (".asc", "OpenPGP"),
    ("sops.vault-token", "HashiCorp Vault"),
    ("sops.aws-kms", "AWS KMS"),
    ("sops.azure-kv", "Azure Key Vault"),
    ("sops.gcp-kms", "GCP KMS"),
];
/// Flux's `maxEncryptedFileSize`.
const MAX_FILE_SIZE: u64 = eddy_sops::MAX_DOCUMENT_SIZE as u64;
/// Flux never checks the MAC of resources or source files (`checkSopsMac` is off).
const OPTIONS: Options = Options { verify_mac: false };

/// Why decryption failed; the message becomes the BuildFailed condition, as in Flux.
#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    /// The decryption Secret could not be read or holds unusable keys.
    #[error("{0}")]
    Keys(String),
    /// A generator or patch source file could not be decrypted.
    #[error("error decrypting sources: {0}")]
    Sources(String),
    /// A built resource could not be decrypted.
    #[error("decryption failed for '{gvk}/{name}': {message}")]
    Resource {
        /// kustomize's `Gvk.String()`: `Kind.version.group`.
        gvk: String,
        /// The resource's name.
        name: String,
        /// What failed.
        message: String,
    },
}

/// The keys of one Kustomization, ready to decrypt its sources and resources.
#[derive(Clone, Debug)]
pub struct Decryptor {
    identities: Arc<Identities>,
    /// Why there are no keys, when the Secret holds only key kinds this build cannot use:
    /// said when a document needs a key, so a Kustomization that decrypts nothing still
    /// reconciles (Flux imports those keys and succeeds).
    missing_keys: Option<String>,
}

impl Decryptor {
    /// The decryptor of `kustomization`, or `None` when it has no `spec.decryption`. Keys come
    /// from `secretRef` in the Kustomization's namespace or, without one, from the
    /// `--sops-age-secret` Secret `global` (age keys only, as in Flux), read with `client` (the
    /// controller's own client, as in Flux).
    pub async fn load(
        client: &kube::Client,
        kustomization: &Kustomization,
        global: Option<&(String, String)>,
    ) -> Result<Option<Self>, DecryptError> {
        let Some(decryption) = &kustomization.spec.decryption else {
            return Ok(None);
        };
        let (identities, missing_keys) = match (&decryption.secret_ref, global) {
            (Some(reference), _) => {
                let namespace = kustomization.metadata.namespace.clone().unwrap_or_default();
                let entries = read_key_secret(client, &namespace, &reference.name, "").await?;
                import_keys(&entries, &format!("{namespace}/{}", reference.name))?
            }
            (None, Some((namespace, name))) => {
                let entries = read_key_secret(client, namespace, name, " age").await?;
                let secret = format!("sops SOPS age decryption Secret '{namespace}/{name}'");
                (import_age_keys(&entries, &secret)?, None)
            }
            (None, None) => (Identities::new(), None),
        };
        Ok(Some(Self {
            identities: Arc::new(identities),
            missing_keys,
        }))
    }

    /// A decryptor holding `identities` (for callers that have the keys already).
    pub fn from_identities(identities: Identities) -> Self {
        Self {
            identities: Arc::new(identities),
            missing_keys: None,
        }
    }

    /// The keys to decrypt a document with, or why there are none this build can use.
    fn keys(&self) -> Result<&Identities, String> {
        match &self.missing_keys {
            Some(reason) => Err(reason.clone()),
            None => Ok(&self.identities),
        }
    }

    /// Decrypts, in place, the SOPS-encrypted secretGenerator `files`/`envs` and patch files of
    /// every kustomization reachable from `dir` (Flux `DecryptSources`). Paths are confined to
    /// `root`. Blocking: call from a blocking task.
    pub fn decrypt_sources(&self, root: &Path, dir: &Path) -> Result<(), DecryptError> {
        let mut visited_dirs = BTreeSet::new();
        let mut decrypted = BTreeSet::new();
        self.visit_directory(root, dir, &mut visited_dirs, &mut decrypted)
            .map_err(DecryptError::Sources)
    }

    fn visit_directory(
        &self,
        root: &Path,
        dir: &Path,
        visited_dirs: &mut BTreeSet<PathBuf>,
        decrypted: &mut BTreeSet<PathBuf>,
    ) -> Result<(), String> {
        if !visited_dirs.insert(dir.to_path_buf()) || !dir.is_dir() {
            return Ok(());
        }
        let Some(file) = find_kustomization_file(dir) else {
            return Ok(());
        };
        let text = read_bounded(&file)
            .map_err(|error| format!("failed to read kustomization file: {error}"))?;
        let document = eddy_kustomize::yaml::parse_documents(&text)
            .ok()
            .and_then(|documents| documents.into_iter().next())
            .and_then(|document| eddy_apply::manifests::to_json(&document).ok())
            .unwrap_or(Value::Null);
        for generator in items(document.get("secretGenerator")) {
            for entry in strings(generator.get("files")) {
                let (key, path) = entry.split_once('=').unwrap_or((&entry, &entry));
                self.decrypt_file(root, dir, path, Format::for_path(key), decrypted)?;
            }
            for path in strings(generator.get("envs")) {
                let format = match Format::for_path(&path) {
                    Format::Binary => Format::Dotenv,
                    other => other,
                };
                self.decrypt_file(root, dir, &path, format, decrypted)?;
            }
        }
        for patch in items(document.get("patches")) {
            for path in strings(patch.get("path")) {
                if is_remote(&path) {
                    continue;
                }
                self.decrypt_file(root, dir, &path, Format::for_path(&path), decrypted)?;
            }
        }
        for list in ["resources", "components"] {
            for entry in strings(document.get(list)) {
                if let Some(next) = confine(root, dir, &entry) {
                    self.visit_directory(root, &next, visited_dirs, decrypted)?;
                }
            }
        }
        Ok(())
    }

    /// Flux `sopsDecryptFile`: a regular file within the size bound, decrypted only when it
    /// carries the marker of its format, and written back in the same format.
    fn decrypt_file(
        &self,
        root: &Path,
        dir: &Path,
        entry: &str,
        format: Format,
        decrypted: &mut BTreeSet<PathBuf>,
    ) -> Result<(), String> {
        let Some(path) = confine(root, dir, entry) else {
            return Err(format!(
                "path '{entry}' is not in or below the artifact root"
            ));
        };
        if decrypted.contains(&path) {
            return Ok(());
        }
        let shown = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let metadata = std::fs::symlink_metadata(&path)
            .map_err(|error| format!("lstat {shown}: {}", io_reason(&error)))?;
        if !metadata.file_type().is_file() {
            return Err(
                "cannot decrypt irregular file as it has file mode type bits set".to_string(),
            );
        }
        if metadata.len() > MAX_FILE_SIZE {
            return Err(format!(
                "cannot decrypt file with size ({} bytes) exceeding limit ({MAX_FILE_SIZE})",
                metadata.len()
            ));
        }
        let data =
            std::fs::read(&path).map_err(|error| format!("read {shown}: {}", io_reason(&error)))?;
        if !eddy_sops::has_marker(&data, format) {
            return Ok(());
        }
        let plain = eddy_sops::decrypt(&data, format, format, self.keys()?, OPTIONS)
            .map_err(|error| error.to_string())?;
        write_private(&path, &plain).map_err(|error| {
            format!(
                "error writing sops decrypted {} data to {} file: {}",
                format.name(),
                format.name(),
                io_reason(&error)
            )
        })?;
        decrypted.insert(path);
        Ok(())
    }

    /// Decrypts one built resource in place (Flux `DecryptResource`); `true` when it changed.
    pub fn decrypt_object(&self, object: &mut Value) -> Result<bool, DecryptError> {
        if decryption_disabled(object) {
            return Ok(false);
        }
        let failure = |object: &Value, message: String| DecryptError::Resource {
            gvk: kustomize_gvk(object),
            name: text(object, &["metadata", "name"]).to_string(),
            message,
        };
        let subject = format!(
            "{}/{}",
            text(object, &["metadata", "namespace"]),
            text(object, &["metadata", "name"])
        );
        if eddy_sops::is_encrypted_document(object) {
            let kind = text(object, &["kind"]).to_string();
            let keys = self.keys().map_err(|message| failure(object, message))?;
            return eddy_sops::decrypt_value(object, keys, OPTIONS)
                .map(|()| true)
                .map_err(|error| {
                    failure(
                        object,
                        format!("failed to decrypt and format '{subject}' {kind} data: {error}"),
                    )
                });
        }
        if text(object, &["kind"]) != "Secret" {
            return Ok(false);
        }
        let mut changed = false;
        let mut replacements = Vec::new();
        for (key, value) in object
            .get("data")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            // Values that are not base64 are left for the API server to refuse, as in Flux.
            let Some(data) = value.as_str().and_then(|text| STANDARD.decode(text).ok()) else {
                continue;
            };
            let Some(input) = Format::detect(&data) else {
                continue;
            };
            let output = Format::for_path(key);
            let keys = self.keys().map_err(|message| failure(object, message))?;
            let plain =
                eddy_sops::decrypt(&data, input, output, keys, OPTIONS).map_err(|error| {
                    failure(
                        object,
                        format!(
                            "failed to decrypt and format '{subject}' Secret field '{key}': {error}"
                        ),
                    )
                })?;
            replacements.push((key.clone(), STANDARD.encode(plain)));
        }
        if let Some(data) = object.get_mut("data").and_then(Value::as_object_mut) {
            for (key, value) in replacements {
                data.insert(key, Value::String(value));
                changed = true;
            }
        }
        Ok(changed)
    }

    /// Decrypts the resources of a built YAML stream (before substitution, as Flux does). The
    /// stream is returned unchanged, byte for byte, when nothing was encrypted.
    pub fn decrypt_manifests(&self, manifests: &str) -> Result<String, DecryptError> {
        let invalid = |error: String| DecryptError::Resource {
            gvk: String::new(),
            name: String::new(),
            message: error,
        };
        let documents = eddy_kustomize::yaml::parse_documents(manifests)
            .map_err(|error| invalid(error.to_string()))?;
        let mut changed = false;
        let mut output = String::with_capacity(manifests.len());
        for document in documents.iter().filter(|document| !document.is_null()) {
            let mut object = eddy_apply::manifests::to_json(document)
                .map_err(|error| invalid(error.to_string()))?;
            let text = if self.decrypt_object(&mut object)? {
                changed = true;
                eddy_kustomize::yaml::to_yaml(&from_json(&object))
            } else {
                eddy_kustomize::yaml::to_yaml(document)
            };
            if !output.is_empty() {
                output.push_str("---\n");
            }
            output.push_str(&text);
        }
        Ok(if changed {
            output
        } else {
            manifests.to_string()
        })
    }
}

/// Flux `ImportKeys` for the kinds this build supports: every `*.agekey` entry. Other key
/// kinds are refused when no age key is present, so the failure names what is unsupported.
/// The entries of a key Secret; `kind` words the error (`" age"` for the global Secret, as
/// Flux's "cannot get sops age decryption Secret").
async fn read_key_secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    kind: &str,
) -> Result<Vec<(String, Vec<u8>)>, DecryptError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api.get_opt(name).await.map_err(|error| {
        DecryptError::Keys(format!(
            "cannot get sops{kind} decryption Secret '{namespace}/{name}': {error}"
        ))
    })?;
    let Some(secret) = secret else {
        return Err(DecryptError::Keys(format!("secrets \"{name}\" not found")));
    };
    Ok(secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| (name, value.0))
        .collect())
}

/// The identities of the `*.agekey` entries; `secret` names the Secret in errors. Other
/// entries are ignored (the global Secret holds age keys only, as in Flux).
fn import_age_keys(
    entries: &[(String, Vec<u8>)],
    secret: &str,
) -> Result<Identities, DecryptError> {
    let mut identities = Identities::new();
    for (name, value) in entries
        .iter()
        .filter(|(name, _)| name.ends_with(AGE_KEY_EXTENSION))
    {
        identities
            .import(&String::from_utf8_lossy(value))
            .map_err(|error| {
                DecryptError::Keys(format!(
                    "failed to import '{name}' data from {secret}: {error}"
                ))
            })?;
    }
    Ok(identities)
}

/// The age identities of a `secretRef` Secret and, when it holds only key kinds this build does
/// not support, the message saying so.
fn import_keys(
    entries: &[(String, Vec<u8>)],
    described: &str,
) -> Result<(Identities, Option<String>), DecryptError> {
    let identities = import_age_keys(entries, &format!("sops decryption Secret '{described}'"))?;
    let unsupported: BTreeSet<&str> = entries
        .iter()
        .filter_map(|(name, _)| {
            UNSUPPORTED_ENTRIES
                .iter()
                .find(|(suffix, _)| name.ends_with(suffix))
                .map(|(_, kind)| *kind)
        })
        .collect();
    let missing = (identities.is_empty() && !unsupported.is_empty()).then(|| {
        format!(
            "sops decryption Secret '{described}' holds {} keys, which are not supported by this build of kustomize-controller (age keys in '*.agekey' entries are)",
            unsupported.into_iter().collect::<Vec<_>>().join(", ")
        )
    });
    Ok((identities, missing))
}

/// `kustomize.toolkit.fluxcd.io/decrypt: disabled` (compared case-insensitively, as Flux does).
fn decryption_disabled(object: &Value) -> bool {
    object
        .pointer("/metadata/annotations")
        .and_then(|annotations| annotations.get(KUSTOMIZE_DECRYPT))
        .and_then(Value::as_str)
        .is_some_and(|value| value.eq_ignore_ascii_case("disabled"))
}

fn text<'v>(object: &'v Value, path: &[&str]) -> &'v str {
    path.iter()
        .try_fold(object, |value, key| value.get(*key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// kustomize's `Gvk.String()`: `Kind.version.group`, `[noGrp]` for the core group.
fn kustomize_gvk(object: &Value) -> String {
    let api_version = text(object, &["apiVersion"]);
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let or = |part: &str, missing: &str| {
        if part.is_empty() {
            missing.to_string()
        } else {
            part.to_string()
        }
    };
    format!(
        "{}.{}.{}",
        or(text(object, &["kind"]), "[noKind]"),
        or(version, "[noVer]"),
        or(group, "[noGrp]")
    )
}

fn items(value: Option<&Value>) -> impl Iterator<Item = &Value> {
    value.and_then(Value::as_array).into_iter().flatten()
}

/// Flux `isRemoteURL`: a scheme and a host.
fn is_remote(path: &str) -> bool {
    path.split_once("://").is_some_and(|(scheme, rest)| {
        !scheme.is_empty() && !rest.is_empty() && !rest.starts_with('/')
    })
}

/// `entry` (relative to `dir`, or absolute meaning relative to `root`) resolved lexically and
/// then through symlinks (the result has none left); `None` when either leaves `root`.
fn confine(root: &Path, dir: &Path, entry: &str) -> Option<PathBuf> {
    let resolved = if Path::new(entry).is_absolute() {
        resolve(root, entry.trim_start_matches('/'))
    } else {
        resolve(dir, entry)
    }?;
    if !resolved.starts_with(root) {
        return None;
    }
    // A path that exists must also stay inside once symlinks are followed, and is used
    // resolved (as Flux's securejoin does), so a symlink to a file in the root reads as it.
    match (resolved.canonicalize(), root.canonicalize()) {
        (Ok(real), Ok(real_root)) => real
            .strip_prefix(&real_root)
            .ok()
            .map(|inside| root.join(inside)),
        _ => Some(resolved),
    }
}

fn read_bounded(path: &Path) -> std::io::Result<String> {
    let metadata = std::fs::metadata(path)?;
    if metadata.len() > MAX_FILE_SIZE {
        return Err(std::io::Error::other("file too large"));
    }
    std::fs::read_to_string(path)
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, data)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => error.to_string(),
    }
}

/// JSON back to the kustomize engine's document model (key order kept) for printing.
fn from_json(value: &Value) -> eddy_kustomize::value::Value {
    use eddy_kustomize::value::Value as Y;
    match value {
        Value::Null => Y::Null,
        Value::Bool(flag) => Y::Bool(*flag),
        Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(integer), _) => Y::Int(integer),
            (None, Some(integer)) => Y::UInt(integer),
            _ => Y::Float(number.as_f64().unwrap_or_default()),
        },
        Value::String(text) => Y::String(text.clone()),
        Value::Array(items) => Y::Seq(items.iter().map(from_json).collect()),
        Value::Object(map) => Y::Map(
            map.iter()
                .map(|(key, item)| (key.clone(), from_json(item)))
                .collect(),
        ),
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;
    use eddy_sops::testing::{self, Settings};
    use serde_json::json;

    fn decryptor(identity: &str) -> Decryptor {
        let mut identities = Identities::new();
        identities.import(identity).unwrap();
        Decryptor::from_identities(identities)
    }

    fn secret() -> Value {
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "apps"},
            "stringData": {"password": "hunter2-secret"}})
    }

    fn data_regex() -> Settings {
        Settings {
            encrypted_regex: Some("^(data|stringData)$".to_string()),
            mac_only_encrypted: false,
        }
    }

    #[test]
    fn a_whole_encrypted_secret_is_decrypted_even_after_kustomize_added_labels() {
        let (identity, recipient) = testing::generate_identity();
        let mut object = testing::encrypt_value_for(&secret(), &recipient, &data_regex());
        object["metadata"]["labels"] = json!({"added": "by-kustomize"});
        assert!(decryptor(&identity).decrypt_object(&mut object).unwrap());
        assert_eq!(object["stringData"]["password"], "hunter2-secret");
        assert!(object.get("sops").is_none());
    }

    #[test]
    fn a_wrong_key_names_the_resource_but_not_the_value() {
        let (_, recipient) = testing::generate_identity();
        let (other, _) = testing::generate_identity();
        let mut object = testing::encrypt_value_for(&secret(), &recipient, &data_regex());
        let error = decryptor(&other).decrypt_object(&mut object).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("decryption failed for 'Secret.v1.[noGrp]/db': failed to decrypt and format 'apps/db' Secret data: cannot get sops data key"),
            "{message}"
        );
        assert!(message.contains("no identity matched"), "{message}");
        assert!(!message.contains("hunter2"));
    }

    #[test]
    fn encrypted_secret_data_entries_are_decrypted_into_the_format_of_their_key() {
        let (identity, recipient) = testing::generate_identity();
        let key = testing::random_data_key();
        let age_keys = [(recipient.clone(), testing::age_encrypt(&recipient, &key))];
        let env = testing::encrypt_bytes(
            b"USER=admin\n",
            Format::Dotenv,
            &key,
            &age_keys,
            &Settings::default(),
        );
        let json = testing::encrypt_bytes(
            b"{\"data\": \"raw-bytes\"}",
            Format::Json,
            &key,
            &age_keys,
            &Settings::default(),
        );
        let mut object = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "gen", "namespace": "apps"},
            "data": {"app.env": STANDARD.encode(env), "key.bin": STANDARD.encode(json),
                "plain": STANDARD.encode("untouched"), "notbase64": "%%%"}});
        assert!(decryptor(&identity).decrypt_object(&mut object).unwrap());
        let decoded = |key: &str| {
            String::from_utf8(
                STANDARD
                    .decode(object["data"][key].as_str().unwrap())
                    .unwrap(),
            )
            .unwrap()
        };
        assert_eq!(decoded("app.env"), "USER=admin\n");
        assert_eq!(decoded("key.bin"), "raw-bytes");
        assert_eq!(decoded("plain"), "untouched");
        assert_eq!(object["data"]["notbase64"], "%%%");
    }

    #[test]
    fn the_decrypt_disabled_annotation_leaves_the_object_alone() {
        let (identity, recipient) = testing::generate_identity();
        let mut object = testing::encrypt_value_for(&secret(), &recipient, &data_regex());
        object["metadata"]["annotations"] = json!({KUSTOMIZE_DECRYPT: "disabled"});
        let before = object.clone();
        assert!(!decryptor(&identity).decrypt_object(&mut object).unwrap());
        assert_eq!(object, before);
    }

    #[test]
    fn manifests_without_sops_data_are_returned_byte_for_byte() {
        let manifests = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
        let (identity, _) = testing::generate_identity();
        assert_eq!(
            decryptor(&identity).decrypt_manifests(manifests).unwrap(),
            manifests
        );
    }

    #[test]
    fn generator_sources_are_decrypted_in_place_and_paths_stay_inside_the_root() {
        let (identity, recipient) = testing::generate_identity();
        let key = testing::random_data_key();
        let age_keys = [(recipient.clone(), testing::age_encrypt(&recipient, &key))];
        let root = tempfile::tempdir().unwrap();
        let app = root.path().join("app");
        std::fs::create_dir_all(app.join("base")).unwrap();
        std::fs::write(
            app.join("kustomization.yaml"),
            "resources: [base]\nsecretGenerator:\n- name: s\n  envs: [app.env]\n  files: [token=token.txt]\n",
        )
        .unwrap();
        std::fs::write(
            app.join("app.env"),
            testing::encrypt_bytes(
                b"USER=admin\n",
                Format::Dotenv,
                &key,
                &age_keys,
                &Settings::default(),
            ),
        )
        .unwrap();
        std::fs::write(
            app.join("token.txt"),
            testing::encrypt_bytes(
                b"t0k3n",
                Format::Binary,
                &key,
                &age_keys,
                &Settings::default(),
            ),
        )
        .unwrap();
        std::fs::write(
            app.join("base/kustomization.yaml"),
            "secretGenerator:\n- name: b\n  files: [plain.txt]\n",
        )
        .unwrap();
        std::fs::write(app.join("base/plain.txt"), "not encrypted").unwrap();
        let decryptor = decryptor(&identity);
        decryptor.decrypt_sources(root.path(), &app).unwrap();
        assert_eq!(
            std::fs::read_to_string(app.join("app.env")).unwrap(),
            "USER=admin\n"
        );
        assert_eq!(
            std::fs::read_to_string(app.join("token.txt")).unwrap(),
            "t0k3n"
        );
        assert_eq!(
            std::fs::read_to_string(app.join("base/plain.txt")).unwrap(),
            "not encrypted"
        );

        std::fs::write(
            app.join("kustomization.yaml"),
            "secretGenerator:\n- name: s\n  files: [../../etc/passwd]\n",
        )
        .unwrap();
        let error = decryptor.decrypt_sources(root.path(), &app).unwrap_err();
        assert!(
            error.to_string().starts_with(
                "error decrypting sources: path '../../etc/passwd' is not in or below"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_symlink_inside_the_root_is_decrypted_as_its_target_and_one_leaving_it_is_refused() {
        let (identity, recipient) = testing::generate_identity();
        let key = testing::random_data_key();
        let age_keys = [(recipient.clone(), testing::age_encrypt(&recipient, &key))];
        let root = tempfile::tempdir().unwrap();
        let shared = root.path().join("shared");
        let app = root.path().join("app");
        std::fs::create_dir_all(&shared).unwrap();
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(
            shared.join("app.env"),
            testing::encrypt_bytes(
                b"USER=admin\n",
                Format::Dotenv,
                &key,
                &age_keys,
                &Settings::default(),
            ),
        )
        .unwrap();
        std::os::unix::fs::symlink("../shared/app.env", app.join("app.env")).unwrap();
        std::fs::write(
            app.join("kustomization.yaml"),
            "secretGenerator:\n- name: s\n  envs: [app.env]\n",
        )
        .unwrap();
        decryptor(&identity)
            .decrypt_sources(root.path(), &app)
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(app.join("app.env")).unwrap(),
            "USER=admin\n"
        );

        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.env"), "A=b\n").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.env"), app.join("out.env")).unwrap();
        std::fs::write(
            app.join("kustomization.yaml"),
            "secretGenerator:\n- name: s\n  envs: [out.env]\n",
        )
        .unwrap();
        let error = decryptor(&identity)
            .decrypt_sources(root.path(), &app)
            .unwrap_err();
        assert!(error.to_string().contains("is not in or below"), "{error}");
    }

    #[test]
    fn only_unsupported_key_kinds_fail_clearly_once_a_document_needs_a_key() {
        let entries = vec![("identity.asc".to_string(), b"-----BEGIN PGP".to_vec())];
        let (identities, missing) = import_keys(&entries, "flux-system/sops-keys").unwrap();
        let decryptor = Decryptor {
            identities: Arc::new(identities),
            missing_keys: missing,
        };
        // Nothing encrypted: nothing to say.
        let mut plain = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "plain"}, "data": {"a": "Yg=="}});
        assert!(!decryptor.decrypt_object(&mut plain).unwrap());
        // An encrypted document: the reason there is no key.
        let (_, recipient) = testing::generate_identity();
        let mut encrypted = testing::encrypt_value_for(&secret(), &recipient, &data_regex());
        let error = decryptor.decrypt_object(&mut encrypted).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("OpenPGP keys, which are not supported"),
            "{error}"
        );
        let (identity, _) = testing::generate_identity();
        let entries = vec![
            ("identity.asc".to_string(), b"-----BEGIN PGP".to_vec()),
            ("identity.agekey".to_string(), identity.into_bytes()),
        ];
        let (identities, missing) = import_keys(&entries, "ns/keys").unwrap();
        assert_eq!((identities.len(), missing), (1, None));
        let entries = vec![("bad.agekey".to_string(), b"AGE-SECRET-KEY-1XYZ".to_vec())];
        let error = import_keys(&entries, "ns/keys").unwrap_err().to_string();
        assert!(
            error.starts_with(
                "failed to import 'bad.agekey' data from sops decryption Secret 'ns/keys'"
            ),
            "{error}"
        );
        assert!(!error.contains("XYZ"), "{error}");
    }
}
