//! The command line of flux-config-agent: the common controller flags plus the agent's own
//! (`--multi-tenancy`, Azure's `multiTenancy.enforce`, and `--status-webhook`).

use clap::{CommandFactory, Parser};

/// One line on what this agent does, for `--help`.
pub const ABOUT: &str = "Turns each Azure-style FluxConfig into a source and its Kustomizations and reports their compliance back in the FluxConfig status (FluxConfig; clusterconfig.azure.com/v1alpha1).";

/// Command-line arguments of flux-config-agent.
#[derive(Parser, Debug, Clone)]
#[command(name = "flux-config-agent", version, about = ABOUT)]
pub struct Args {
    /// Flags every Eddy controller shares.
    #[command(flatten)]
    pub common: eddy_runtime::CommonArgs,

    /// The agent's own flags.
    #[command(flatten)]
    pub agent: AgentArgs,
}

/// Flags only flux-config-agent has.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct AgentArgs {
    /// Generated Kustomizations impersonate the `flux-applier` ServiceAccount the agent
    /// creates in the configuration namespace, and cross-namespace references are refused
    /// (Azure's `multiTenancy.enforce`, on by default).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub multi_tenancy: bool,

    /// POST each configuration's ARM-shaped status as JSON to this URL whenever it changes
    /// (see docs/flux-config-agent.md).
    #[arg(long)]
    pub status_webhook: Option<String>,
}

/// The clap command, with the agent's default of 4 for `--concurrent`.
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
    fn multi_tenancy_is_on_by_default_and_can_be_turned_off() {
        let args = parse(&["flux-config-agent"]);
        assert!(args.agent.multi_tenancy);
        assert_eq!(args.agent.status_webhook, None);
        assert_eq!(args.common.concurrent, 4);
        let args = parse(&["flux-config-agent", "--multi-tenancy=false"]);
        assert!(!args.agent.multi_tenancy);
        let args = parse(&["flux-config-agent", "--multi-tenancy"]);
        assert!(args.agent.multi_tenancy);
    }

    #[test]
    fn the_status_webhook_takes_a_url() {
        let args = parse(&[
            "flux-config-agent",
            "--status-webhook",
            "http://127.0.0.1:9000/status",
        ]);
        assert_eq!(
            args.agent.status_webhook.as_deref(),
            Some("http://127.0.0.1:9000/status")
        );
    }
}
