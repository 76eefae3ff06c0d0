//! `eddy helm template CHART`: prints what `helm template` prints, from the native chart
//! renderer (crates/helm), or writes one file per template with `--output-dir`.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `eddy helm` subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum HelmCommand {
    /// Render a chart locally, as `helm template` does.
    Template(TemplateArgs),
}

/// Flags of `eddy helm template`, named as Helm names them.
#[derive(Args, Debug)]
pub(crate) struct TemplateArgs {
    /// Chart directory or packaged `.tgz`.
    chart: PathBuf,
    /// Release name.
    #[arg(long, default_value = "release-name")]
    name: String,
    /// Release namespace.
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// Values files, later ones winning.
    #[arg(short = 'f', long = "values")]
    values: Vec<PathBuf>,
    /// `key=value` assignments (Helm's `--set` syntax).
    #[arg(long)]
    set: Vec<String>,
    /// `key=value` assignments whose values stay strings.
    #[arg(long)]
    set_string: Vec<String>,
    /// Kubernetes version reported by `.Capabilities.KubeVersion` (default v1.36.0).
    #[arg(long)]
    kube_version: Option<String>,
    /// Extra API versions for `.Capabilities.APIVersions`.
    #[arg(short = 'a', long)]
    api_versions: Vec<String>,
    /// Also print the chart's CRDs.
    #[arg(long)]
    include_crds: bool,
    /// Write each rendered template to a file under this directory instead of printing.
    #[arg(long)]
    output_dir: Option<PathBuf>,
}

pub(crate) fn run(command: HelmCommand) -> Result<()> {
    match command {
        HelmCommand::Template(args) => {
            let options = eddy_helm::TemplateOptions {
                release_name: args.name,
                namespace: args.namespace,
                values_files: args.values,
                set: args.set,
                set_string: args.set_string,
                kube_version: args.kube_version,
                api_versions: args.api_versions,
                include_crds: args.include_crds,
                ..Default::default()
            };
            let release = eddy_helm::template(&args.chart, &options)?;
            match args.output_dir {
                Some(directory) => release
                    .write_output_dir(&directory)
                    .with_context(|| format!("writing {}", directory.display())),
                None => {
                    print!("{}", release.output());
                    Ok(())
                }
            }
        }
    }
}
