//! Pure rules for turning a FluxConfig into Flux objects: generated names, durations, and URL
//! normalisation.

use std::time::Duration;

use crate::meta::format_duration;

/// Suffix of the Secret that holds a configuration's protected settings.
pub const PROTECTED_PARAMETERS_SUFFIX: &str = "-protected-parameters";

/// Longest combined length of configuration name and kustomization key, so that the generated
/// `<config>-<key>` is at most 63 characters, a valid DNS-1123 label (Azure's CLI rule).
pub const MAX_COMBINED_NAME_LENGTH: usize = 62;

/// The name of the generated source object: the configuration's own name.
pub fn source_name(config: &str) -> String {
    config.to_string()
}

/// The name of the Kustomization generated for map key `key`: `<config>-<key>`.
pub fn kustomization_name(config: &str, key: &str) -> String {
    format!("{config}-{key}")
}

/// The name of the Secret holding protected settings: `<config>-protected-parameters`.
pub fn protected_parameters_secret_name(config: &str) -> String {
    format!("{config}{PROTECTED_PARAMETERS_SUFFIX}")
}

/// Suffix of the Secret flux-config-agent writes with the source's credentials in Flux's
/// format (built from the protected parameters, or a generated SSH key pair).
pub const AUTH_SECRET_SUFFIX: &str = "-auth";

/// The name of the managed credentials Secret: `<config>-auth`.
pub fn auth_secret_name(config: &str) -> String {
    format!("{config}{AUTH_SECRET_SUFFIX}")
}

/// The ServiceAccount generated Kustomizations impersonate under multi-tenancy (Azure's
/// `multiTenancy.enforce=true`).
pub const FLUX_APPLIER_SERVICE_ACCOUNT: &str = "flux-applier";

/// The ClusterRole `flux-applier` is bound to (cluster-wide for `scope: cluster`, in the
/// configuration namespace for `scope: namespace`).
pub const FLUX_APPLIER_CLUSTER_ROLE: &str = "cluster-admin";

/// The ClusterRoleBinding of a namespace's `flux-applier` (`scope: cluster`):
/// `flux-applier-<namespace>`, one per namespace since ClusterRoleBindings are cluster-wide.
pub fn flux_applier_cluster_role_binding_name(namespace: &str) -> String {
    format!("{FLUX_APPLIER_SERVICE_ACCOUNT}-{namespace}")
}

/// HelmReleases annotated `clusterconfig.azure.com/use-managed-source: "true"` get the
/// configuration's GitRepository as chart source, through a patch on every generated
/// Kustomization (Azure's managed-source feature).
pub const USE_MANAGED_SOURCE_ANNOTATION: &str = "clusterconfig.azure.com/use-managed-source";

/// Condition reason of a FluxConfig whose spec cannot be turned into Flux objects (Azure's
/// `ValidationFailed`).
pub const VALIDATION_FAILED_REASON: &str = "ValidationFailed";

/// Keys of the credentials Secret a Flux source reads (source-controller's contract).
pub mod flux_secret_keys {
    /// HTTPS basic auth user.
    pub const USERNAME: &str = "username";
    /// HTTPS basic auth password or token.
    pub const PASSWORD: &str = "password";
    /// SSH private key (PEM or OpenSSH).
    pub const IDENTITY: &str = "identity";
    /// SSH public key.
    pub const IDENTITY_PUB: &str = "identity.pub";
    /// SSH known hosts.
    pub const KNOWN_HOSTS: &str = "known_hosts";
    /// CA certificate (PEM).
    pub const CA_CERT: &str = "ca.crt";
    /// Bucket access key id.
    pub const ACCESS_KEY: &str = "accesskey";
    /// Bucket secret key.
    pub const SECRET_KEY: &str = "secretkey";
    /// Azure Blob account key.
    pub const ACCOUNT_KEY: &str = "accountKey";
    /// Azure Blob SAS token.
    pub const SAS_KEY: &str = "sasKey";
    /// Azure service principal client id.
    pub const CLIENT_ID: &str = "clientId";
    /// Azure service principal tenant id.
    pub const TENANT_ID: &str = "tenantId";
    /// Azure service principal client secret.
    pub const CLIENT_SECRET: &str = "clientSecret";
}

/// Azure's `sourceSyncedCommitId` from a Flux artifact revision: `main@sha1:<sha>` becomes
/// `main/<sha>`; a revision without a reference name (`sha1:<sha>`) becomes `<sha>`.
pub fn source_synced_commit_id(revision: &str) -> String {
    let (reference, digest) = match revision.rsplit_once('@') {
        Some((reference, digest)) => (reference, digest),
        None => ("", revision),
    };
    let sha = digest.split_once(':').map_or(digest, |(_, hex)| hex);
    if reference.is_empty() {
        sha.to_string()
    } else {
        format!("{reference}/{sha}")
    }
}

/// A configuration name and kustomization key too long to combine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameTooLong {
    /// The configuration name.
    pub config: String,
    /// The kustomization key.
    pub key: String,
}

impl std::fmt::Display for NameTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "kustomization {:?} of configuration {:?}: the names together are {} characters, \
             at most {MAX_COMBINED_NAME_LENGTH} are allowed",
            self.key,
            self.config,
            self.config.len() + self.key.len()
        )
    }
}

impl std::error::Error for NameTooLong {}

/// Checks Azure's length rule: configuration name plus kustomization key at most 62
/// characters.
pub fn check_combined_name_length(config: &str, key: &str) -> Result<(), NameTooLong> {
    if config.len() + key.len() > MAX_COMBINED_NAME_LENGTH {
        return Err(NameTooLong {
            config: config.to_string(),
            key: key.to_string(),
        });
    }
    Ok(())
}

/// A negative number of seconds where a duration was expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NegativeSeconds(pub i64);

impl std::fmt::Display for NegativeSeconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} seconds is not a valid duration", self.0)
    }
}

impl std::error::Error for NegativeSeconds {}

/// Converts ARM's `*InSeconds` to a Flux duration string as Go prints it (600 → `10m0s`).
pub fn seconds_to_flux_duration(seconds: i64) -> Result<String, NegativeSeconds> {
    let seconds = u64::try_from(seconds).map_err(|_| NegativeSeconds(seconds))?;
    Ok(format_duration(Duration::from_secs(seconds)))
}

/// Converts ARM's `timeoutInSeconds` to a source `timeout`, whose Flux pattern allows no
/// hours: minutes and seconds only (600 → `10m0s`, 3600 → `60m0s`, 45 → `45s`).
pub fn seconds_to_flux_timeout(seconds: i64) -> Result<String, NegativeSeconds> {
    let seconds = u64::try_from(seconds).map_err(|_| NegativeSeconds(seconds))?;
    Ok(if seconds < 60 {
        format!("{seconds}s")
    } else {
        format!("{}m{}s", seconds / 60, seconds % 60)
    })
}

/// Rewrites an scp-like Git address (`git@host:path`) to the `ssh://git@host/path` form Flux
/// requires; any other URL is returned unchanged.
pub fn normalize_git_url(url: &str) -> String {
    if url.contains("://") {
        return url.to_string();
    }
    let Some(rest) = url.strip_prefix("git@") else {
        return url.to_string();
    };
    match rest.split_once(':') {
        Some((host, path)) if !host.is_empty() && !host.contains('/') => {
            format!("ssh://git@{host}/{}", path.trim_start_matches('/'))
        }
        _ => url.to_string(),
    }
}

/// An ISO-8601 duration this crate cannot turn into a fixed length of time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidIsoDuration(pub String);

impl std::fmt::Display for InvalidIsoDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid ISO-8601 duration {:?}: expected e.g. PT5M, PT1H30M or P1D \
             (years and months are not fixed lengths)",
            self.0
        )
    }
}

impl std::error::Error for InvalidIsoDuration {}

/// Parses `reconciliationWaitDuration` (ISO-8601: `PT5M`, `PT1H`, `P1D`, `P1W`).
///
/// Weeks are 7 days and days 24 hours; years and months are refused since they have no fixed
/// length.
pub fn parse_iso8601_duration(text: &str) -> Result<Duration, InvalidIsoDuration> {
    let invalid = || InvalidIsoDuration(text.to_string());
    let body = text.strip_prefix('P').ok_or_else(invalid)?;
    let (date_part, time_part) = match body.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return Err(invalid()),
        None => (body, None),
    };
    if date_part.is_empty() && time_part.is_none() {
        return Err(invalid());
    }
    let mut seconds = 0.0_f64;
    for (number, unit) in designators(date_part).ok_or_else(invalid)? {
        let unit_seconds = match unit {
            'W' => 604_800.0,
            'D' => 86_400.0,
            _ => return Err(invalid()),
        };
        seconds += number * unit_seconds;
    }
    for (number, unit) in designators(time_part.unwrap_or_default()).ok_or_else(invalid)? {
        let unit_seconds = match unit {
            'H' => 3_600.0,
            'M' => 60.0,
            'S' => 1.0,
            _ => return Err(invalid()),
        };
        seconds += number * unit_seconds;
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| invalid())
}

/// Splits `1D2H` into `[(1, 'D'), (2, 'H')]`; `None` on anything malformed.
fn designators(text: &str) -> Option<Vec<(f64, char)>> {
    let mut parts = Vec::new();
    let mut number = String::new();
    for character in text.chars() {
        if character.is_ascii_digit() || character == '.' {
            number.push(character);
        } else {
            if number.is_empty() {
                return None;
            }
            parts.push((number.parse().ok()?, character));
            number.clear();
        }
    }
    number.is_empty().then_some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_objects_are_named_after_the_configuration() {
        assert_eq!(source_name("cluster-config"), "cluster-config");
        assert_eq!(
            kustomization_name("cluster-config", "infra"),
            "cluster-config-infra"
        );
        assert_eq!(
            protected_parameters_secret_name("cluster-config"),
            "cluster-config-protected-parameters"
        );
    }

    #[test]
    fn artifact_revisions_become_azure_commit_ids() {
        assert_eq!(source_synced_commit_id("main@sha1:abc123"), "main/abc123");
        assert_eq!(
            source_synced_commit_id("refs/heads/dev@sha1:abc"),
            "refs/heads/dev/abc"
        );
        assert_eq!(source_synced_commit_id("sha1:abc"), "abc");
        assert_eq!(source_synced_commit_id("latest@sha256:0f0f"), "latest/0f0f");
        assert_eq!(auth_secret_name("c"), "c-auth");
        assert_eq!(
            flux_applier_cluster_role_binding_name("team-a"),
            "flux-applier-team-a"
        );
    }

    #[test]
    fn combined_names_may_use_at_most_62_characters() {
        let config = "c".repeat(40);
        assert_eq!(check_combined_name_length(&config, &"k".repeat(22)), Ok(()));
        assert_eq!(kustomization_name(&config, &"k".repeat(22)).len(), 63);
        let error = check_combined_name_length(&config, &"k".repeat(23));
        assert_eq!(
            error,
            Err(NameTooLong {
                config: config.clone(),
                key: "k".repeat(23)
            })
        );
    }

    #[test]
    fn seconds_become_go_duration_strings() {
        assert_eq!(seconds_to_flux_duration(600), Ok("10m0s".to_string()));
        assert_eq!(seconds_to_flux_duration(3600), Ok("1h0m0s".to_string()));
        assert_eq!(seconds_to_flux_duration(45), Ok("45s".to_string()));
        assert_eq!(seconds_to_flux_duration(0), Ok("0s".to_string()));
        assert_eq!(seconds_to_flux_duration(-1), Err(NegativeSeconds(-1)));
    }

    #[test]
    fn source_timeouts_never_use_hours() {
        assert_eq!(seconds_to_flux_timeout(600), Ok("10m0s".to_string()));
        assert_eq!(seconds_to_flux_timeout(3600), Ok("60m0s".to_string()));
        assert_eq!(seconds_to_flux_timeout(45), Ok("45s".to_string()));
        assert_eq!(seconds_to_flux_timeout(-5), Err(NegativeSeconds(-5)));
    }

    #[test]
    fn scp_like_git_addresses_become_ssh_urls() {
        assert_eq!(
            normalize_git_url("git@github.com:fluxcd/flux2-kustomize-helm-example.git"),
            "ssh://git@github.com/fluxcd/flux2-kustomize-helm-example.git"
        );
        assert_eq!(
            normalize_git_url("git@ssh.dev.azure.com:v3/org/project/repo"),
            "ssh://git@ssh.dev.azure.com/v3/org/project/repo"
        );
        assert_eq!(
            normalize_git_url("git@example.com:/srv/repo.git"),
            "ssh://git@example.com/srv/repo.git"
        );
    }

    #[test]
    fn urls_with_a_scheme_are_left_alone() {
        for url in [
            "https://github.com/fluxcd/flux2",
            "ssh://git@github.com/fluxcd/flux2",
            "http://gitea.local:3000/org/repo",
        ] {
            assert_eq!(normalize_git_url(url), url);
        }
    }

    #[test]
    fn iso_durations_parse_to_fixed_lengths() {
        assert_eq!(parse_iso8601_duration("PT5M"), Ok(Duration::from_secs(300)));
        assert_eq!(
            parse_iso8601_duration("PT1H30M"),
            Ok(Duration::from_secs(5400))
        );
        assert_eq!(
            parse_iso8601_duration("P1D"),
            Ok(Duration::from_secs(86_400))
        );
        assert_eq!(
            parse_iso8601_duration("P1DT1S"),
            Ok(Duration::from_secs(86_401))
        );
        assert_eq!(
            parse_iso8601_duration("PT0.5S"),
            Ok(Duration::from_millis(500))
        );
    }

    #[test]
    fn malformed_or_calendar_iso_durations_are_rejected() {
        for text in [
            "", "P", "PT", "5M", "P1M", "P1Y", "PTM", "P1H", "PT1D", "PT5",
        ] {
            assert!(
                parse_iso8601_duration(text).is_err(),
                "{text} should not parse"
            );
        }
    }
}
