//! `eddy config kustomization create|update|list|show|delete`: one entry of a configuration's
//! `kustomizations` map, changed with a JSON merge patch as az PATCHes the ARM resource.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use eddy_api::clusterconfig::v1alpha1::{FluxConfig, KustomizationDefinition};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use super::flags::{KustomizationValues, Target, parse_dependencies};
use super::{confirm, load, validate};
use crate::cluster::ClusterArgs;
use crate::output::{self, Format, log};

/// `eddy config kustomization …`
#[derive(Subcommand, Debug)]
pub(crate) enum KustomizationCommand {
    /// Add a kustomization to a configuration.
    Create(KustomizationArgs),
    /// Change the given fields of a kustomization.
    Update(KustomizationArgs),
    /// List the kustomizations of a configuration.
    List(ListArgs),
    /// Show one kustomization.
    Show(ShowArgs),
    /// Remove a kustomization from a configuration.
    Delete(DeleteArgs),
}

/// Flags of `create` and `update` (az's names).
#[derive(Args, Debug)]
pub(crate) struct KustomizationArgs {
    #[command(flatten)]
    target: Target,
    /// Name of the kustomization.
    #[arg(short = 'k', long)]
    kustomization_name: String,
    /// Path in the source to reconcile.
    #[arg(long)]
    path: Option<String>,
    /// Kustomizations of this configuration that must be ready first (comma-separated).
    #[arg(long = "depends-on", visible_aliases = ["dependencies", "depends"])]
    depends_on: Option<String>,
    /// Timeout of apply and health checks (e.g. 10m).
    #[arg(long)]
    timeout: Option<String>,
    /// Interval between reconciliations (e.g. 10m).
    #[arg(long = "sync-interval", visible_alias = "interval")]
    sync_interval: Option<String>,
    /// Interval between retries after a failure (default: the sync interval).
    #[arg(long)]
    retry_interval: Option<String>,
    /// Garbage-collect objects removed from the source.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = parse_bool)]
    prune: Option<bool>,
    /// Recreate objects whose immutable fields changed.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = parse_bool)]
    force: Option<bool>,
    /// Do not health-check the applied objects.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = parse_bool)]
    disable_health_check: Option<bool>,
    /// Print the resulting kustomization.
    #[arg(short = 'o', long, value_enum)]
    output: Option<Format>,
}

fn parse_bool(text: &str) -> Result<bool, String> {
    validate::boolean("flag", text).map_err(|error| error.to_string())
}

/// `list`
#[derive(Args, Debug)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    target: Target,
    /// Print YAML or JSON instead of a table.
    #[arg(short = 'o', long, value_enum)]
    output: Option<Format>,
}

/// `show`
#[derive(Args, Debug)]
pub(crate) struct ShowArgs {
    #[command(flatten)]
    target: Target,
    /// Name of the kustomization.
    #[arg(short = 'k', long)]
    kustomization_name: String,
    /// Output format (YAML by default).
    #[arg(short = 'o', long, value_enum, default_value = "yaml")]
    output: Format,
}

/// `delete`
#[derive(Args, Debug)]
pub(crate) struct DeleteArgs {
    #[command(flatten)]
    target: Target,
    /// Name of the kustomization.
    #[arg(short = 'k', long)]
    kustomization_name: String,
    /// Do not prompt for confirmation.
    #[arg(short = 'y', long)]
    yes: bool,
}

pub(crate) async fn run(cluster_args: &ClusterArgs, command: KustomizationCommand) -> Result<()> {
    match command {
        KustomizationCommand::Create(args) => write(cluster_args, args, true).await,
        KustomizationCommand::Update(args) => write(cluster_args, args, false).await,
        KustomizationCommand::List(args) => list(cluster_args, args).await,
        KustomizationCommand::Show(args) => show(cluster_args, args).await,
        KustomizationCommand::Delete(args) => delete(cluster_args, args).await,
    }
}

fn values(args: &KustomizationArgs) -> Result<KustomizationValues> {
    let duration = |argument: &str, text: &Option<String>| {
        text.as_deref()
            .map(|text| validate::duration_seconds(argument, text))
            .transpose()
    };
    Ok(KustomizationValues {
        path: args.path.clone(),
        depends_on: args.depends_on.as_deref().map(parse_dependencies),
        timeout: duration("--timeout", &args.timeout)?,
        sync_interval: duration("--sync-interval", &args.sync_interval)?,
        retry_interval: duration("--retry-interval", &args.retry_interval)?,
        prune: args.prune,
        force: args.force,
        disable_health_check: args.disable_health_check,
    })
}

fn entries(config: &FluxConfig) -> BTreeMap<String, KustomizationDefinition> {
    config.spec.kustomizations.clone().unwrap_or_default()
}

async fn write(cluster_args: &ClusterArgs, args: KustomizationArgs, creating: bool) -> Result<()> {
    let key = &args.kustomization_name;
    validate::resource_name(key, "--kustomization-name", 63)?;
    validate::combined_name(&args.target.name, key)?;
    let mut values = values(&args)?;
    if creating && values.path.is_none() {
        // az's default path for a new kustomization: the root of the source.
        values.path = Some(String::new());
    }
    let (api, config) = load(cluster_args, &args.target).await?;
    let exists = entries(&config).contains_key(key);
    if creating && exists {
        bail!(
            "Error! Cannot create a kustomization that already exists. Kustomization name \
             '{key}' already exists on configuration '{}' You can update an already created \
             kustomization with 'eddy config kustomization update'",
            args.target.name
        );
    }
    if !creating && !exists {
        bail!(
            "Error! Cannot update a kustomization that doesn't exist. Kustomization name \
             '{key}' does not exist on configuration '{}' You can add the kustomization to the \
             configuration with 'eddy config kustomization create'",
            args.target.name
        );
    }
    let updated = patch(
        &api,
        &args.target.name,
        json!({key.clone(): values.patch()?}),
    )
    .await?;
    if let Some(format) = args.output {
        print_entry(format, &updated, key)?;
    }
    Ok(())
}

async fn patch(api: &Api<FluxConfig>, name: &str, kustomizations: Value) -> Result<FluxConfig> {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"kustomizations": kustomizations}})),
    )
    .await
    .with_context(|| format!("updating flux configuration {name}"))
}

fn print_entry(format: Format, config: &FluxConfig, key: &str) -> Result<()> {
    let entry = entries(config).remove(key).unwrap_or_default();
    output::print_value(format, &json!({key: entry}))
}

async fn list(cluster_args: &ClusterArgs, args: ListArgs) -> Result<()> {
    let (_, config) = load(cluster_args, &args.target).await?;
    let entries = entries(&config);
    if let Some(format) = args.output {
        return output::print_value(format, &entries);
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|(name, entry)| {
            vec![
                name.clone(),
                entry.path().to_string(),
                entry.depends_on.clone().unwrap_or_default().join(","),
                validate::format_seconds(entry.sync_interval_in_seconds()),
                validate::format_seconds(entry.retry_interval_in_seconds()),
                validate::format_seconds(entry.timeout_in_seconds()),
                entry.prune().to_string(),
                entry.force().to_string(),
                entry.wait().to_string(),
            ]
        })
        .collect();
    output::print_stdout(&output::az_table(
        &[
            "Name",
            "Path",
            "DependsOn",
            "SyncInterval",
            "RetryInterval",
            "Timeout",
            "Prune",
            "Force",
            "Wait",
        ],
        &rows,
    ))
}

async fn show(cluster_args: &ClusterArgs, args: ShowArgs) -> Result<()> {
    let (_, config) = load(cluster_args, &args.target).await?;
    if !entries(&config).contains_key(&args.kustomization_name) {
        bail!(
            "Error! Kustomization with name '{}' does not exist on configuration '{}'. You can \
             view all kustomizations on a configuration with 'eddy config kustomization list'",
            args.kustomization_name,
            args.target.name
        );
    }
    print_entry(args.output, &config, &args.kustomization_name)
}

async fn delete(cluster_args: &ClusterArgs, args: DeleteArgs) -> Result<()> {
    let key = &args.kustomization_name;
    let (api, config) = load(cluster_args, &args.target).await?;
    let Some(entry) = entries(&config).remove(key) else {
        bail!(
            "Error! Cannot delete a kustomization that doesn't exist. You can view all \
             kustomizations on a configuration with 'eddy config kustomization list'"
        );
    };
    if entry.prune() {
        log::warning(
            "Prune is enabled on this kustomization. Deleting a kustomization with prune \
             enabled will also delete the Kubernetes objects deployed by the kustomization.",
        );
        confirm(args.yes, "Do you want to continue?")?;
    }
    patch(&api, &args.target.name, json!({key.clone(): null})).await?;
    log::success(&format!(
        "kustomization '{key}' removed from flux configuration '{}'",
        args.target.name
    ));
    Ok(())
}
