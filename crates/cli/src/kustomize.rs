//! `eddy kustomize build DIR`: prints what `kubectl kustomize DIR` prints, from the native
//! kustomize engine (crates/kustomize).

use anyhow::Result;
use clap::{Subcommand, ValueEnum};
use std::path::PathBuf;

/// `eddy kustomize` subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum KustomizeCommand {
    /// Build a kustomization directory and print the resulting YAML stream.
    Build {
        /// The kustomization directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Whether files outside the kustomization root may be loaded.
        #[arg(long, value_enum, default_value = "LoadRestrictionsRootOnly")]
        load_restrictor: LoadRestrictorFlag,
    },
}

/// kustomize's `--load-restrictor` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum LoadRestrictorFlag {
    /// Only files inside the kustomization root (kustomize's default).
    #[value(name = "LoadRestrictionsRootOnly")]
    RootOnly,
    /// Any file.
    #[value(name = "LoadRestrictionsNone")]
    None,
}

pub(crate) fn run(command: KustomizeCommand) -> Result<()> {
    match command {
        KustomizeCommand::Build {
            dir,
            load_restrictor,
        } => {
            let options = eddy_kustomize::BuildOptions {
                load_restrictor: match load_restrictor {
                    LoadRestrictorFlag::RootOnly => eddy_kustomize::LoadRestrictor::RootOnly,
                    LoadRestrictorFlag::None => eddy_kustomize::LoadRestrictor::None,
                },
            };
            let output = eddy_kustomize::build(&dir, &options)?;
            print!("{output}");
            Ok(())
        }
    }
}
