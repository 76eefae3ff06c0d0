//! The flags of `eddy config …` (az's names and aliases) and how they become FluxConfig fields:
//! pure code, checked before anything is sent to the cluster.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use clap::{ArgAction, Args, ValueEnum};
use eddy_api::clusterconfig::v1alpha1::{
    GitRepositoryDefinition, KustomizationDefinition, RepositoryRefDefinition, protected_keys,
};
use serde_json::{Map, Value, json};

use super::validate;
use crate::output::Format;

/// Which configuration: `-n/--name` and `--namespace/--ns` (az's default `default`).
#[derive(Args, Debug, Clone)]
pub(crate) struct Target {
    /// Name of the flux configuration.
    #[arg(short = 'n', long)]
    pub(crate) name: String,
    /// Namespace of the flux configuration.
    #[arg(long = "namespace", visible_alias = "ns", default_value = "default")]
    pub(crate) namespace: String,
}

/// The source kinds az offers.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SourceKindArg {
    Git,
    Bucket,
    Azblob,
    Oci,
}

/// Scope of a configuration.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScopeArg {
    Cluster,
    Namespace,
}

/// Source and configuration flags shared by `create` and `update`.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct SourceArgs {
    /// Source kind (only git has a source reconciler today).
    #[arg(long, value_enum)]
    pub(crate) kind: Option<SourceKindArg>,
    /// URL of the source: http://, https://, ssh:// or git@host:path.
    #[arg(short = 'u', long)]
    pub(crate) url: Option<String>,
    /// Branch to sync.
    #[arg(long)]
    pub(crate) branch: Option<String>,
    /// Tag to sync.
    #[arg(long)]
    pub(crate) tag: Option<String>,
    /// Semver range of tags to sync.
    #[arg(long)]
    pub(crate) semver: Option<String>,
    /// Commit to sync.
    #[arg(long)]
    pub(crate) commit: Option<String>,
    /// HTTPS user name.
    #[arg(long)]
    pub(crate) https_user: Option<String>,
    /// HTTPS password or token (stored in the protected-parameters Secret).
    #[arg(long)]
    pub(crate) https_key: Option<String>,
    /// Base64 CA certificate for HTTPS.
    #[arg(long)]
    pub(crate) https_ca_cert: Option<String>,
    /// File with the CA certificate for HTTPS.
    #[arg(long)]
    pub(crate) https_ca_cert_file: Option<String>,
    /// Base64 PEM SSH private key (stored in the protected-parameters Secret).
    #[arg(long)]
    pub(crate) ssh_private_key: Option<String>,
    /// File with the PEM SSH private key.
    #[arg(long)]
    pub(crate) ssh_private_key_file: Option<String>,
    /// Base64 known_hosts for SSH.
    #[arg(long)]
    pub(crate) known_hosts: Option<String>,
    /// File with known_hosts for SSH.
    #[arg(long)]
    pub(crate) known_hosts_file: Option<String>,
    /// Name of a Secret in the configuration namespace with the source's credentials.
    #[arg(long, visible_alias = "local-ref")]
    pub(crate) local_auth_ref: Option<String>,
    /// Interval between syncs of the source (e.g. 10m, 1h30m).
    #[arg(long, visible_alias = "sync-interval")]
    pub(crate) interval: Option<String>,
    /// Timeout of source operations (e.g. 10m).
    #[arg(long)]
    pub(crate) timeout: Option<String>,
    /// Suspend the source and every kustomization.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = parse_bool)]
    pub(crate) suspend: Option<bool>,
    /// A kustomization: name=… path=… depends_on=… sync_interval=… retry_interval=…
    /// timeout=… prune=… force=… disable_health_check=… (repeatable).
    #[arg(short = 'k', long = "kustomization", num_args = 1.., value_name = "KEY=VALUE", action = ArgAction::Append)]
    pub(crate) kustomization_values: Vec<String>,
    /// `kustomization_values` grouped by occurrence (see [`SourceArgs::group_kustomizations`]).
    #[arg(skip)]
    pub(crate) kustomizations: Vec<Vec<String>>,
    /// Print the resulting FluxConfig.
    #[arg(short = 'o', long, value_enum)]
    pub(crate) output: Option<Format>,
}

impl SourceArgs {
    /// Groups the `--kustomization` values by occurrence. clap's derive hands them over flat, so
    /// the boundaries are read back from the command line (the values are `KEY=VALUE` and never
    /// start with `-`).
    pub(crate) fn group_kustomizations(&mut self) {
        // `args_os`: `args` would panic on a non-UTF-8 argument.
        let argv = std::env::args_os().map(|arg| arg.to_string_lossy().into_owned());
        self.kustomizations = group_by_occurrence(&self.kustomization_values, argv);
    }
}

/// Splits `flat` into the groups that followed each `-k`/`--kustomization` in `argv`; if the
/// command line does not account for exactly those values, a new group starts at each
/// `name=`.
pub(crate) fn group_by_occurrence(
    flat: &[String],
    argv: impl IntoIterator<Item = String>,
) -> Vec<Vec<String>> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut collecting = false;
    for token in argv {
        if token == "-k" || token == "--kustomization" {
            groups.push(Vec::new());
            collecting = true;
        } else if let Some(value) = token.strip_prefix("--kustomization=") {
            groups.push(vec![value.to_string()]);
            collecting = true;
        } else if collecting && !token.starts_with('-') {
            if let Some(group) = groups.last_mut() {
                group.push(token);
            }
        } else {
            collecting = false;
        }
    }
    if groups.concat() == flat {
        return groups;
    }
    let mut groups: Vec<Vec<String>> = Vec::new();
    for value in flat {
        match groups.last_mut() {
            Some(group) if !value.starts_with("name=") => group.push(value.clone()),
            _ => groups.push(vec![value.clone()]),
        }
    }
    groups
}

fn parse_bool(text: &str) -> Result<bool, String> {
    validate::boolean("flag", text).map_err(|error| error.to_string())
}

/// The fields of one kustomization that were given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KustomizationValues {
    pub(crate) path: Option<String>,
    pub(crate) depends_on: Option<Vec<String>>,
    pub(crate) timeout: Option<i64>,
    pub(crate) sync_interval: Option<i64>,
    pub(crate) retry_interval: Option<i64>,
    pub(crate) prune: Option<bool>,
    pub(crate) force: Option<bool>,
    pub(crate) disable_health_check: Option<bool>,
}

impl KustomizationValues {
    /// The ARM definition with exactly the given fields (`disable_health_check` → `wait`).
    pub(crate) fn definition(&self) -> KustomizationDefinition {
        KustomizationDefinition {
            path: self.path.clone(),
            depends_on: self.depends_on.clone(),
            timeout_in_seconds: self.timeout,
            sync_interval_in_seconds: self.sync_interval,
            retry_interval_in_seconds: self.retry_interval,
            prune: self.prune,
            force: self.force,
            wait: self.disable_health_check.map(|disable| !disable),
            post_build: None,
        }
    }

    /// A JSON merge patch of the given fields only.
    pub(crate) fn patch(&self) -> Result<Value> {
        Ok(serde_json::to_value(self.definition())?)
    }
}

/// `a,b`, `[a,b]` or `["a","b"]`, as az's `parse_dependencies` (plus quote stripping).
pub(crate) fn parse_dependencies(text: &str) -> Vec<String> {
    let text = text.trim();
    let text = text
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(text);
    text.split(',')
        .map(|item| {
            item.trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .trim()
                .to_string()
        })
        .filter(|item| !item.is_empty())
        .collect()
}

/// One `--kustomization KEY=VALUE …` occurrence: its name and given fields, keys spelled as
/// az accepts them.
pub(crate) fn parse_kustomization(values: &[String]) -> Result<(String, KustomizationValues)> {
    let mut name = None;
    let mut parsed = KustomizationValues::default();
    for item in values {
        let Some((key, value)) = item.split_once('=') else {
            bail!("usage error: --kustomization KEY=VALUE [KEY=VALUE ...]");
        };
        match key {
            "name" => {
                validate::resource_name(value, "name", 63)?;
                name = Some(value.to_string());
            }
            "path" => parsed.path = Some(value.to_string()),
            "depends_on" | "dependsOn" | "dependencies" | "depends" => {
                parsed.depends_on = Some(parse_dependencies(value));
            }
            "timeout" => parsed.timeout = Some(validate::duration_seconds("timeout", value)?),
            "sync_interval" | "interval" | "syncInterval" => {
                parsed.sync_interval = Some(validate::duration_seconds("sync-interval", value)?);
            }
            "retry_interval" | "retryInterval" => {
                parsed.retry_interval = Some(validate::duration_seconds("retry-interval", value)?);
            }
            "prune" => parsed.prune = Some(validate::boolean("prune", value)?),
            "force" => parsed.force = Some(validate::boolean("force", value)?),
            "disable_health_check" | "disable-health-check" | "disableHealthCheck" => {
                parsed.disable_health_check =
                    Some(validate::boolean("disable_health_check", value)?);
            }
            other => bail!(
                "Error! Invalid kustomization key '{other}' Valid keys are name, path, \
                 depends_on, timeout, sync_interval, retry_interval, prune, force, \
                 disable_health_check"
            ),
        }
    }
    let Some(name) = name else {
        bail!(
            "Error! Kustomization definition is invalid, required values {{'name'}} not found \
             Add the required values to the Kustomization object and try again"
        );
    };
    Ok((name, parsed))
}

/// Every `--kustomization` of a command, checked for duplicates and name length.
pub(crate) fn parse_kustomizations(
    config: &str,
    occurrences: &[Vec<String>],
) -> Result<BTreeMap<String, KustomizationValues>> {
    let mut all = BTreeMap::new();
    for values in occurrences {
        let (name, parsed) = parse_kustomization(values)?;
        validate::combined_name(config, &name)?;
        if all.insert(name.clone(), parsed).is_some() {
            bail!(
                "Error! Invalid kustomization list. Kustomization name '{name}' duplicated in \
                 multiple Kustomization objects Ensure that all Kustomization names are unique \
                 and try again"
            );
        }
    }
    Ok(all)
}

/// What the Git source flags change, validated; protected values are kept apart.
#[derive(Debug, Default)]
pub(crate) struct GitChanges {
    pub(crate) url: Option<String>,
    pub(crate) reference: Option<RepositoryRefDefinition>,
    pub(crate) timeout: Option<i64>,
    pub(crate) sync_interval: Option<i64>,
    pub(crate) known_hosts: Option<String>,
    pub(crate) https_user: Option<String>,
    pub(crate) https_ca_cert: Option<String>,
    pub(crate) local_auth_ref: Option<String>,
    /// Keys of the protected-parameters Secret and their values, base64 as Azure stores them.
    pub(crate) protected: BTreeMap<String, String>,
}

/// Refuses source kinds whose reconciler does not exist yet.
pub(crate) fn supported_kind(kind: Option<SourceKindArg>) -> Result<()> {
    let (flag, flux_kind) = match kind {
        None | Some(SourceKindArg::Git) => return Ok(()),
        Some(SourceKindArg::Bucket) => ("bucket", "Bucket"),
        Some(SourceKindArg::Azblob) => ("azblob", "Bucket (azure provider)"),
        Some(SourceKindArg::Oci) => ("oci", "OCIRepository"),
    };
    bail!(
        "Error! --kind {flag} is not supported yet: Eddy's source-controller has no \
         {flux_kind} reconciler (it reconciles GitRepository only). Use --kind git."
    )
}

/// Checks the source flags as az does and collects what they set. `existing_url` is the
/// configuration's URL on update; `creating` requires a URL and a reference.
pub(crate) fn git_changes(
    source: &SourceArgs,
    existing_url: Option<&str>,
    creating: bool,
) -> Result<GitChanges> {
    supported_kind(source.kind)?;
    let timeout = source
        .timeout
        .as_deref()
        .map(|text| validate::duration_seconds("--timeout", text))
        .transpose()?;
    let sync_interval = source
        .interval
        .as_deref()
        .map(|text| validate::duration_seconds("--sync-interval", text))
        .transpose()?;
    let known_hosts = validate::inline_or_file(
        source.known_hosts.as_deref(),
        source.known_hosts_file.as_deref(),
        true,
    )?;
    if let Some(known_hosts) = &known_hosts {
        validate::known_hosts(known_hosts)?;
    }
    let https_ca_cert = validate::inline_or_file(
        source.https_ca_cert.as_deref(),
        source.https_ca_cert_file.as_deref(),
        true,
    )?;
    let ssh_private_key = validate::inline_or_file(
        source.ssh_private_key.as_deref(),
        source.ssh_private_key_file.as_deref(),
        false,
    )?;
    let url = source.url.clone();
    let effective_url = url.as_deref().or(existing_url);
    if creating && effective_url.is_none() {
        bail!(
            "Error! Required properties ['--url'] were not specified for kind 'git' Add the \
             missing required properties and try again"
        );
    }
    if let Some(url) = &url {
        validate::git_url(url)?;
    }
    let credentials_given = ssh_private_key.is_some()
        || known_hosts.is_some()
        || source.https_user.is_some()
        || source.https_key.is_some();
    if let Some(effective_url) = effective_url
        && (url.is_some() || credentials_given)
    {
        validate::credentials_match_url(
            effective_url,
            ssh_private_key.is_some(),
            known_hosts.is_some(),
            source.https_user.is_some(),
            source.https_key.is_some(),
        )?;
    }
    let references = [&source.branch, &source.tag, &source.semver, &source.commit];
    let given = references.iter().filter(|value| value.is_some()).count();
    let reference = if creating || given > 0 {
        validate::one_reference(given)?;
        Some(RepositoryRefDefinition {
            branch: source.branch.clone(),
            tag: source.tag.clone(),
            semver: source.semver.clone(),
            commit: source.commit.clone(),
        })
    } else {
        None
    };
    let mut protected = BTreeMap::new();
    if let Some(key) = ssh_private_key {
        validate::private_key(&key)?;
        protected.insert(protected_keys::SSH_PRIVATE_KEY.to_string(), key);
    }
    if let Some(key) = &source.https_key {
        use base64::Engine;
        protected.insert(
            protected_keys::HTTPS_KEY.to_string(),
            base64::engine::general_purpose::STANDARD.encode(key),
        );
    }
    Ok(GitChanges {
        url,
        reference,
        timeout,
        sync_interval,
        known_hosts,
        https_user: source.https_user.clone(),
        https_ca_cert,
        local_auth_ref: source.local_auth_ref.clone(),
        protected,
    })
}

impl GitChanges {
    /// The full Git source of a new configuration.
    pub(crate) fn definition(&self) -> GitRepositoryDefinition {
        GitRepositoryDefinition {
            url: self.url.clone().unwrap_or_default(),
            timeout_in_seconds: self.timeout,
            sync_interval_in_seconds: self.sync_interval,
            repository_ref: self.reference.clone(),
            ssh_known_hosts: self.known_hosts.clone(),
            https_user: self.https_user.clone(),
            https_ca_cert: self.https_ca_cert.clone(),
            local_auth_ref: self.local_auth_ref.clone(),
            provider: None,
        }
    }

    /// A merge patch of the given fields; a new reference replaces the old one whole (the
    /// other three are cleared), so exactly one stays set.
    pub(crate) fn patch(&self) -> Map<String, Value> {
        let mut patch = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                patch.insert(key.to_string(), value);
            }
        };
        put("url", self.url.clone().map(Value::from));
        put("timeoutInSeconds", self.timeout.map(Value::from));
        put("syncIntervalInSeconds", self.sync_interval.map(Value::from));
        put("sshKnownHosts", self.known_hosts.clone().map(Value::from));
        put("httpsUser", self.https_user.clone().map(Value::from));
        put("httpsCACert", self.https_ca_cert.clone().map(Value::from));
        put("localAuthRef", self.local_auth_ref.clone().map(Value::from));
        put(
            "repositoryRef",
            self.reference.as_ref().map(|reference| {
                json!({
                    "branch": reference.branch,
                    "tag": reference.tag,
                    "semver": reference.semver,
                    "commit": reference.commit,
                })
            }),
        );
        patch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    #[test]
    fn kustomization_keys_take_azs_spellings() {
        let (name, values) = parse_kustomization(&strings(&[
            "name=apps",
            "path=./apps",
            "dependsOn=[\"infra\",\"crds\"]",
            "interval=1m",
            "retryInterval=30s",
            "timeout=5m",
            "prune=true",
            "force=false",
            "disable_health_check=true",
        ]))
        .expect("parses");
        assert_eq!(name, "apps");
        assert_eq!(
            values,
            KustomizationValues {
                path: Some("./apps".into()),
                depends_on: Some(vec!["infra".into(), "crds".into()]),
                timeout: Some(300),
                sync_interval: Some(60),
                retry_interval: Some(30),
                prune: Some(true),
                force: Some(false),
                disable_health_check: Some(true),
            }
        );
        assert_eq!(values.definition().wait, Some(false));
    }

    #[test]
    fn a_kustomization_needs_a_name_and_known_keys() {
        assert!(parse_kustomization(&strings(&["path=./apps"])).is_err());
        assert!(parse_kustomization(&strings(&["name=apps", "bogus=1"])).is_err());
        assert!(parse_kustomization(&strings(&["name=apps", "path"])).is_err());
    }

    #[test]
    fn duplicate_or_too_long_kustomization_names_are_refused() {
        let twice = vec![strings(&["name=apps"]), strings(&["name=apps"])];
        assert!(
            parse_kustomizations("demo", &twice)
                .expect_err("duplicate")
                .to_string()
                .contains("duplicated")
        );
        let long = vec![strings(&[&format!("name={}", "k".repeat(30))])];
        assert!(parse_kustomizations(&"c".repeat(33), &long).is_err());
    }

    #[test]
    fn kustomization_values_are_grouped_by_occurrence() {
        let argv = strings(&[
            "eddy",
            "config",
            "create",
            "-k",
            "path=./a",
            "name=a",
            "--kustomization",
            "name=b",
            "--branch",
            "main",
            "--kustomization=name=c",
            "prune=true",
        ]);
        let flat = strings(&["path=./a", "name=a", "name=b", "name=c", "prune=true"]);
        assert_eq!(
            group_by_occurrence(&flat, argv),
            vec![
                strings(&["path=./a", "name=a"]),
                strings(&["name=b"]),
                strings(&["name=c", "prune=true"]),
            ]
        );
    }

    #[test]
    fn dependencies_are_read_in_every_list_form() {
        assert_eq!(parse_dependencies("a,b"), vec!["a", "b"]);
        assert_eq!(parse_dependencies("[a, b]"), vec!["a", "b"]);
        assert_eq!(parse_dependencies("[\"a\",\"b\"]"), vec!["a", "b"]);
    }

    #[test]
    fn https_keys_are_stored_base64_as_azure_stores_them() {
        let source = SourceArgs {
            url: Some("https://example.com/repo".into()),
            branch: Some("main".into()),
            https_user: Some("git".into()),
            https_key: Some("s3cret".into()),
            ..SourceArgs::default()
        };
        let changes = git_changes(&source, None, true).expect("valid");
        assert_eq!(
            changes.protected.get("httpsKey").map(String::as_str),
            Some("czNjcmV0")
        );
        assert_eq!(changes.definition().https_user.as_deref(), Some("git"));
    }

    #[test]
    fn creating_needs_a_url_and_exactly_one_reference() {
        let no_url = SourceArgs {
            branch: Some("main".into()),
            ..SourceArgs::default()
        };
        assert!(git_changes(&no_url, None, true).is_err());
        let two_refs = SourceArgs {
            url: Some("https://example.com/repo".into()),
            branch: Some("main".into()),
            tag: Some("v1".into()),
            ..SourceArgs::default()
        };
        assert!(git_changes(&two_refs, None, true).is_err());
    }

    #[test]
    fn unsupported_source_kinds_fail_clearly() {
        let bucket = SourceArgs {
            kind: Some(SourceKindArg::Bucket),
            ..SourceArgs::default()
        };
        let error = git_changes(&bucket, None, true).expect_err("bucket");
        assert!(error.to_string().contains("not supported yet"), "{error}");
    }

    #[test]
    fn an_updated_reference_replaces_the_old_one() {
        let source = SourceArgs {
            tag: Some("v2".into()),
            ..SourceArgs::default()
        };
        let changes = git_changes(&source, Some("https://example.com/repo"), false).expect("ok");
        assert_eq!(
            Value::Object(changes.patch()),
            json!({"repositoryRef": {"branch": null, "tag": "v2", "semver": null, "commit": null}})
        );
    }
}
