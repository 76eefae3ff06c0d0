//! The command line of kustomize-controller: the common controller flags plus Flux's own
//! (`--concurrent-ssa`, `--no-remote-bases`, `--override-manager`, `--custom-apply-stage-kinds`,
//! `--http-retry`) and its feature gates, with Flux's names and defaults (KC `main.go`,
//! `internal/features`).

use clap::{CommandFactory, Parser};
use eddy_runtime::features::FeatureGates;

/// One line on what this controller does, for `--help`.
pub const ABOUT: &str = "Builds Kustomizations from source artifacts (kustomize, postBuild substitution), applies them with server-side apply in stages, prunes what the source no longer has and checks health (Kustomization, kustomize.toolkit.fluxcd.io/v1).";

/// Command-line arguments of kustomize-controller.
#[derive(Parser, Debug, Clone)]
#[command(name = "kustomize-controller", version, about = ABOUT)]
pub struct Args {
    /// Flags every Eddy controller shares.
    #[command(flatten)]
    pub common: eddy_runtime::CommonArgs,

    /// kustomize-controller's own flags.
    #[command(flatten)]
    pub kustomize: KustomizeArgs,
}

/// Flags only kustomize-controller has.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct KustomizeArgs {
    /// Objects of one stage read and dry-run at once.
    #[arg(long, default_value_t = 4)]
    pub concurrent_ssa: usize,

    /// Refuse kustomize remote bases (Eddy's engine never fetches them; the flag is kept so
    /// Flux deployments start unchanged).
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub no_remote_bases: bool,

    /// Field managers whose fields are taken over on apply, besides kubectl's (repeatable).
    #[arg(long = "override-manager")]
    pub override_managers: Vec<String>,

    /// Kinds (`group/Kind`, or `Kind` for the core group) applied in their own stage after
    /// the classes, comma-separated or repeated.
    #[arg(long = "custom-apply-stage-kinds", value_delimiter = ',')]
    pub custom_apply_stage_kinds: Vec<String>,

    /// Retries of an artifact download before the reconcile fails.
    #[arg(long, default_value_t = 9)]
    pub http_retry: u32,

    /// The name of a Secret in the runtime namespace ($RUNTIME_NAMESPACE) whose `*.agekey`
    /// entries decrypt the Kustomizations that ask for SOPS decryption without a secretRef.
    #[arg(long, default_value = "")]
    pub sops_age_secret: String,

    /// Allow use of the user.exec section in kubeconfigs provided for remote apply.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub insecure_kubeconfig_exec: bool,

    /// Allow that kubeconfigs provided for remote apply can disable TLS verification.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub insecure_kubeconfig_tls: bool,
}

/// The feature gates kustomize-controller knows, with Flux's defaults.
pub const FEATURE_GATES: [(&str, bool); 12] = [
    ("CacheSecretsAndConfigMaps", false),
    ("DisableStatusPollerCache", true),
    ("DisableFailFastBehavior", false),
    ("StrictPostBuildSubstitutions", true),
    ("GroupChangeLog", false),
    ("AdditiveCELDependencyCheck", false),
    ("ExternalArtifact", false),
    ("CancelHealthCheckOnNewRevision", false),
    ("DisableConfigWatchers", false),
    ("DirectSourceFetch", false),
    ("MigrateAPIVersion", false),
    ("ObjectLevelWorkloadIdentity", false),
];

/// The gates this controller acts on, resolved against Flux's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Features {
    /// `StrictPostBuildSubstitutions`: an undefined variable without default fails the build.
    pub strict_substitutions: bool,
    /// Not `DisableFailFastBehavior`: health checks stop at the first Failed object.
    pub fail_fast: bool,
    /// `MigrateAPIVersion`: rewrite managed fields to the applied API version.
    pub migrate_api_version: bool,
    /// `ExternalArtifact`: allow ExternalArtifact sources.
    pub external_artifact: bool,
    /// Not `DisableConfigWatchers`: labelled ConfigMaps and Secrets trigger reconciles.
    pub watch_configs: bool,
    /// `AdditiveCELDependencyCheck`.
    pub additive_cel_dependency_check: bool,
    /// `DirectSourceFetch`: read sources from the API server instead of the watch cache.
    pub direct_source_fetch: bool,
}

impl Features {
    /// Resolves the gates; an unknown gate is an error, as in Flux.
    pub fn resolve(gates: &FeatureGates) -> Result<Self, String> {
        let known: Vec<&str> = FEATURE_GATES.iter().map(|(name, _)| *name).collect();
        gates.check_known(&known)?;
        let enabled = |name: &str| {
            let default = FEATURE_GATES
                .iter()
                .find(|(known, _)| *known == name)
                .is_some_and(|(_, default)| *default);
            gates.enabled_or(name, default)
        };
        Ok(Self {
            strict_substitutions: enabled("StrictPostBuildSubstitutions"),
            fail_fast: !enabled("DisableFailFastBehavior"),
            migrate_api_version: enabled("MigrateAPIVersion"),
            direct_source_fetch: enabled("DirectSourceFetch"),
            external_artifact: enabled("ExternalArtifact"),
            watch_configs: !enabled("DisableConfigWatchers"),
            additive_cel_dependency_check: enabled("AdditiveCELDependencyCheck"),
        })
    }
}

/// The clap command, with kustomize-controller's default of 4 for `--concurrent`.
pub fn command() -> clap::Command {
    Args::command().mut_arg("concurrent", |arg| arg.default_value("4"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::FromArgMatches;

    fn parse(arguments: &[&str]) -> Args {
        let matches = command()
            .try_get_matches_from(arguments)
            .unwrap_or_else(|error| panic!("{error}"));
        Args::from_arg_matches(&matches).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn defaults_are_fluxs() {
        let args = parse(&["kustomize-controller"]);
        assert_eq!(args.common.concurrent, 4);
        assert_eq!(args.kustomize.concurrent_ssa, 4);
        assert_eq!(args.kustomize.http_retry, 9);
        assert!(!args.kustomize.no_remote_bases);
        assert!(args.kustomize.override_managers.is_empty());
        let features =
            Features::resolve(&args.common.feature_gates).unwrap_or_else(|e| panic!("{e}"));
        assert!(features.strict_substitutions);
        assert!(features.fail_fast);
        assert!(!features.external_artifact);
        assert!(features.watch_configs);
    }

    #[test]
    fn repeatable_and_comma_separated_flags_accumulate() {
        let args = parse(&[
            "kustomize-controller",
            "--override-manager=helm",
            "--override-manager",
            "terraform",
            "--custom-apply-stage-kinds=cert-manager.io/Issuer,Secret",
            "--no-remote-bases",
            "--feature-gates=StrictPostBuildSubstitutions=false,DisableFailFastBehavior=true",
        ]);
        assert_eq!(args.kustomize.override_managers, ["helm", "terraform"]);
        assert_eq!(
            args.kustomize.custom_apply_stage_kinds,
            ["cert-manager.io/Issuer", "Secret"]
        );
        assert!(args.kustomize.no_remote_bases);
        let features =
            Features::resolve(&args.common.feature_gates).unwrap_or_else(|e| panic!("{e}"));
        assert!(!features.strict_substitutions);
        assert!(!features.fail_fast);
    }

    #[test]
    fn unknown_feature_gates_are_refused() {
        let args = parse(&["kustomize-controller", "--feature-gates=Teleport=true"]);
        assert!(Features::resolve(&args.common.feature_gates).is_err());
    }
}
