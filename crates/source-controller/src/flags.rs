//! The command line of source-controller: the common controller flags plus Flux's artifact
//! storage flags (fluxcd/pkg `artifact/config`), with Flux's names, environment variables and
//! defaults.

use clap::{CommandFactory, FromArgMatches, Parser};
use eddy_runtime::flags::parse_flag_duration;
use std::time::Duration;

/// One line on what this controller does, for `--help`.
pub const ABOUT: &str = "Turns Git repositories into deterministic tar.gz artifacts served over HTTP (GitRepository, source.toolkit.fluxcd.io/v1). HelmRepository, HelmChart, OCIRepository, Bucket and ExternalArtifact are not reconciled yet.";

/// Command-line arguments of source-controller.
#[derive(Parser, Debug, Clone)]
#[command(name = "source-controller", version, about = ABOUT)]
pub struct Args {
    /// Flags every Eddy controller shares.
    #[command(flatten)]
    pub common: eddy_runtime::CommonArgs,

    /// Artifact storage and serving.
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// Flux's artifact storage flags.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct StorageArgs {
    /// Local directory where artifacts are stored.
    #[arg(long, env = "STORAGE_PATH", default_value = "/data")]
    pub storage_path: String,

    /// Address the artifact file server listens on.
    #[arg(long, env = "STORAGE_ADDRESS", default_value = ":9090")]
    pub storage_addr: String,

    /// Address (host:port, or a URL) consumers download artifacts from. When empty it is derived
    /// from `--storage-addr`: an empty host becomes `localhost`, `0.0.0.0` becomes $HOSTNAME.
    #[arg(long, env = "STORAGE_ADV_ADDR", default_value = "")]
    pub storage_adv_addr: String,

    /// How long superseded artifacts are kept before garbage collection.
    #[arg(long, default_value = "1m", value_parser = parse_flag_duration)]
    pub artifact_retention_ttl: Duration,

    /// How many artifacts per object garbage collection keeps, the current one included.
    #[arg(long, default_value_t = eddy_artifact::DEFAULT_RETENTION_RECORDS)]
    pub artifact_retention_records: usize,
}

impl StorageArgs {
    /// The advertised address, applying Flux's derivation when `--storage-adv-addr` is empty.
    pub fn advertised_address(&self) -> String {
        let hostname = std::env::var("HOSTNAME").unwrap_or_default();
        eddy_artifact::advertised_address(
            &self.storage_addr,
            Some(self.storage_adv_addr.as_str()),
            &hostname,
        )
    }
}

/// The clap command, with source-controller's own default for `--concurrent` (Flux uses 2 here,
/// 4 in the other controllers).
pub fn command() -> clap::Command {
    Args::command().mut_arg("concurrent", |arg| arg.default_value("2"))
}

/// Parses `arguments` (the first is the program name).
pub fn parse<I, T>(arguments: I) -> Result<Args, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = command().try_get_matches_from(arguments)?;
    Args::from_arg_matches(&matches)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    #[test]
    fn storage_flags_default_as_fluxs() {
        let args = parse(["source-controller"]).unwrap();
        assert_eq!(args.common.concurrent, 2);
        // STORAGE_PATH and friends may be set in a developer's shell; only check them when not.
        if std::env::var_os("STORAGE_PATH").is_none() {
            assert_eq!(args.storage.storage_path, "/data");
        }
        if std::env::var_os("STORAGE_ADDRESS").is_none() {
            assert_eq!(args.storage.storage_addr, ":9090");
        }
        assert_eq!(args.storage.artifact_retention_ttl, Duration::from_secs(60));
        assert_eq!(args.storage.artifact_retention_records, 2);
    }

    #[test]
    fn storage_flags_take_go_style_values() {
        let args = parse([
            "source-controller",
            "--storage-path=/tmp/artifacts",
            "--storage-addr=127.0.0.1:9191",
            "--storage-adv-addr=source-controller.flux-system.svc.cluster.local.",
            "--artifact-retention-ttl=90s",
            "--artifact-retention-records=5",
            "--concurrent=6",
        ])
        .unwrap();
        assert_eq!(args.storage.storage_path, "/tmp/artifacts");
        assert_eq!(args.storage.artifact_retention_ttl, Duration::from_secs(90));
        assert_eq!(args.storage.artifact_retention_records, 5);
        assert_eq!(args.common.concurrent, 6);
        assert_eq!(
            args.storage.advertised_address(),
            "source-controller.flux-system.svc.cluster.local."
        );
    }

    #[test]
    fn advertised_address_is_derived_from_the_listen_address() {
        let args = parse([
            "source-controller",
            "--storage-addr=:9090",
            "--storage-adv-addr=",
        ])
        .unwrap();
        assert_eq!(args.storage.advertised_address(), "localhost:9090");
    }

    #[test]
    fn a_bad_retention_ttl_is_refused() {
        assert!(parse(["source-controller", "--artifact-retention-ttl=soon"]).is_err());
    }
}
