//! `eddy config`: Flux configurations as `az k8s-configuration flux` manages them, written to the
//! cluster as a `FluxConfig` (clusterconfig.azure.com/v1alpha1) and, for credentials, the
//! `<config>-protected-parameters` Secret; flux-config-agent turns them into a GitRepository
//! and Kustomizations `<config>-<key>`.

mod configs;
mod flags;
mod kustomizations;
mod validate;

use std::io::{BufRead, IsTerminal, Read, Write};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use eddy_api::clusterconfig::v1alpha1::FluxConfig;
use kube::api::Api;

use crate::cluster::{self, ClusterArgs};
use crate::output::{self, Format};
use flags::{ScopeArg, SourceArgs, Target};

/// `eddy config …` and the cluster to work on.
#[derive(Args, Debug)]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// `eddy config …`
#[derive(Subcommand, Debug)]
pub(crate) enum ConfigCommand {
    /// Create a flux configuration.
    Create(CreateArgs),
    /// Update a flux configuration (only the given fields change).
    Update(UpdateArgs),
    /// List flux configurations (every namespace unless --namespace is given).
    List(ListArgs),
    /// Show a flux configuration (its credentials are never shown).
    Show(ShowArgs),
    /// Delete a flux configuration.
    Delete(DeleteArgs),
    /// The kustomizations of a flux configuration.
    #[command(subcommand)]
    Kustomization(kustomizations::KustomizationCommand),
}

/// `eddy config create`
#[derive(Args, Debug)]
pub(crate) struct CreateArgs {
    #[command(flatten)]
    target: Target,
    /// Whether the configuration may change objects cluster-wide or only in its namespace.
    #[arg(short = 's', long, value_enum, default_value = "cluster")]
    scope: ScopeArg,
    #[command(flatten)]
    source: SourceArgs,
}

/// `eddy config update`
#[derive(Args, Debug)]
pub(crate) struct UpdateArgs {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    source: SourceArgs,
    /// Do not prompt for confirmation.
    #[arg(short = 'y', long)]
    yes: bool,
}

/// `eddy config list`
#[derive(Args, Debug)]
pub(crate) struct ListArgs {
    /// Only configurations in this namespace.
    #[arg(
        long = "namespace",
        visible_alias = "ns",
        conflicts_with = "all_namespaces"
    )]
    namespace: Option<String>,
    /// Configurations of every namespace (the default, as `az … flux list` lists a cluster's).
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Print YAML or JSON instead of a table.
    #[arg(short = 'o', long, value_enum)]
    output: Option<Format>,
}

/// `eddy config show`
#[derive(Args, Debug)]
pub(crate) struct ShowArgs {
    #[command(flatten)]
    target: Target,
    /// Output format (YAML by default).
    #[arg(short = 'o', long, value_enum, default_value = "yaml")]
    output: Format,
}

/// `eddy config delete`
#[derive(Args, Debug)]
pub(crate) struct DeleteArgs {
    #[command(flatten)]
    target: Target,
    /// Do not prompt for confirmation.
    #[arg(short = 'y', long)]
    yes: bool,
}

pub(crate) async fn run(args: ConfigArgs) -> Result<()> {
    let cluster_args = &args.cluster;
    match args.command {
        ConfigCommand::Create(mut args) => {
            args.source.group_kustomizations();
            configs::create(cluster_args, args).await
        }
        ConfigCommand::Update(mut args) => {
            args.source.group_kustomizations();
            configs::update(cluster_args, args).await
        }
        ConfigCommand::List(args) => configs::list(cluster_args, args).await,
        ConfigCommand::Show(args) => configs::show(cluster_args, args).await,
        ConfigCommand::Delete(args) => configs::delete(cluster_args, args).await,
        ConfigCommand::Kustomization(command) => kustomizations::run(cluster_args, command).await,
    }
}

/// Connects and reads the configuration `target` names; az's message when it does not exist.
async fn load(
    cluster_args: &ClusterArgs,
    target: &Target,
) -> Result<(Api<FluxConfig>, FluxConfig)> {
    validate::resource_name(&target.name, "--name", 63)?;
    validate::namespace_name(&target.namespace)?;
    let cluster = cluster::connect(cluster_args).await?;
    let api: Api<FluxConfig> = Api::namespaced(cluster.client, &target.namespace);
    let config = api
        .get_opt(&target.name)
        .await
        .with_context(|| format!("reading flux configuration {}", target.name))?
        .ok_or_else(|| not_found(target))?;
    Ok((api, config))
}

fn not_found(target: &Target) -> anyhow::Error {
    anyhow!(
        "(FluxConfigurationNotFound) The flux configuration '{}' could not be found in \
         namespace '{}'. Verify that the configuration exists: eddy config list",
        target.name,
        target.namespace
    )
}

/// The configuration as shown: managed fields left out, as kubectl does.
fn printable(config: &FluxConfig) -> Result<serde_json::Value> {
    let mut value = serde_json::to_value(config)?;
    if let Some(metadata) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        metadata.remove("managedFields");
    }
    Ok(value)
}

fn print_config(format: Format, config: &FluxConfig) -> Result<()> {
    output::print_value(format, &printable(config)?)
}

/// az's confirmation: `--yes`, or `y` typed at a terminal; never a silent yes when nobody
/// can answer.
fn confirm(yes: bool, question: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("{question} Confirmation required: pass --yes (-y) to proceed non-interactively");
    }
    eprint!("{question} (y/n): ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .take(64)
        .read_line(&mut answer)
        .context("reading the answer")?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        bail!("Operation cancelled.")
    }
}
