//! `Provider`: where and how notifications are delivered (chat, Git commit status, event hubs,
//! generic webhooks). Providers have no status.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::meta::{InvalidDuration, LocalObjectReference, parse_duration};

/// Timeout of a delivery when `spec.timeout` is unset.
pub const DEFAULT_PROVIDER_TIMEOUT: Duration = Duration::from_secs(15);

/// Desired state of a Provider.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1beta3",
    kind = "Provider",
    plural = "providers",
    namespaced,
    derive = "PartialEq",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-notifications",
    doc = "Provider is the Schema for the providers API",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "message": "spec.commitStatusExpr is only supported for the 'github', 'gitlab', 'gitea', 'bitbucketserver', 'bitbucket', 'azuredevops' provider types",
    "rule": "self.type == 'github' || self.type == 'gitlab' || self.type == 'gitea' || self.type == 'bitbucketserver' || self.type == 'bitbucket' || self.type == 'azuredevops' || !has(self.commitStatusExpr)"
}]))]
pub struct ProviderSpec {
    /// Which provider implementation delivers the notifications.
    #[serde(rename = "type")]
    pub provider_type: ProviderType,
    /// Unused in v1beta3 (deprecated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: Option<String>,
    /// Destination channel, room or topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub channel: Option<String>,
    /// Name the notifications are posted as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub username: Option<String>,
    /// Where notifications go; its meaning depends on the type (a URL, a project, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub address: Option<String>,
    /// Timeout of a delivery; 15s when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$"))]
    pub timeout: Option<String>,
    /// HTTP/S proxy address (deprecated: use `proxySecretRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = r"^(http|https)://.*$"))]
    pub proxy: Option<String>,
    /// Secret with the proxy `address` and optional `username` and `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// Secret with the provider's credentials (`token`, `address`, `headers`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// ServiceAccount whose workload identity authenticates to cloud services
    /// (`azureeventhub`, `azuredevops`, `googlepubsub`); exclusive with static credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secret with TLS material: `ca.crt`, and `tls.crt` with `tls.key` for mutual TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Stops delivering notifications while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// CEL expression over `event`, `provider` and `alert` producing the commit status
    /// identifier (Git commit-status provider types only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_status_expr: Option<String>,
}

impl ProviderSpec {
    /// The delivery timeout, 15s when unset.
    pub fn get_timeout(&self) -> Result<Duration, InvalidDuration> {
        self.timeout
            .as_deref()
            .map_or(Ok(DEFAULT_PROVIDER_TIMEOUT), parse_duration)
    }

    /// Whether notifications are currently delivered.
    pub fn suspended(&self) -> bool {
        self.suspend.unwrap_or(false)
    }
}

/// Provider implementations, spelled as Flux spells them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ProviderType {
    /// Slack.
    #[serde(rename = "slack")]
    Slack,
    /// Discord.
    #[serde(rename = "discord")]
    Discord,
    /// Microsoft Teams.
    #[serde(rename = "msteams")]
    MsTeams,
    /// Rocket.Chat.
    #[serde(rename = "rocket")]
    Rocket,
    /// A generic HTTP webhook.
    #[default]
    #[serde(rename = "generic")]
    Generic,
    /// A generic HTTP webhook with an HMAC signature.
    #[serde(rename = "generic-hmac")]
    GenericHmac,
    /// GitHub commit status.
    #[serde(rename = "github")]
    GitHub,
    /// GitLab commit status.
    #[serde(rename = "gitlab")]
    GitLab,
    /// Gitea commit status.
    #[serde(rename = "gitea")]
    Gitea,
    /// Gitea pull request comment.
    #[serde(rename = "giteapullrequestcomment")]
    GiteaPullRequestComment,
    /// Bitbucket Server / Data Center commit status.
    #[serde(rename = "bitbucketserver")]
    BitbucketServer,
    /// Bitbucket Cloud commit status.
    #[serde(rename = "bitbucket")]
    Bitbucket,
    /// Azure DevOps commit status.
    #[serde(rename = "azuredevops")]
    AzureDevOps,
    /// Google Chat.
    #[serde(rename = "googlechat")]
    GoogleChat,
    /// Google Cloud Pub/Sub.
    #[serde(rename = "googlepubsub")]
    GooglePubSub,
    /// Webex.
    #[serde(rename = "webex")]
    Webex,
    /// Sentry.
    #[serde(rename = "sentry")]
    Sentry,
    /// Azure Event Hubs.
    #[serde(rename = "azureeventhub")]
    AzureEventHub,
    /// Telegram.
    #[serde(rename = "telegram")]
    Telegram,
    /// Lark.
    #[serde(rename = "lark")]
    Lark,
    /// Matrix.
    #[serde(rename = "matrix")]
    Matrix,
    /// Opsgenie.
    #[serde(rename = "opsgenie")]
    Opsgenie,
    /// Prometheus Alertmanager.
    #[serde(rename = "alertmanager")]
    Alertmanager,
    /// Grafana annotations.
    #[serde(rename = "grafana")]
    Grafana,
    /// GitHub repository dispatch.
    #[serde(rename = "githubdispatch")]
    GitHubDispatch,
    /// GitHub pull request comment.
    #[serde(rename = "githubpullrequestcomment")]
    GitHubPullRequestComment,
    /// GitLab merge request comment.
    #[serde(rename = "gitlabmergerequestcomment")]
    GitLabMergeRequestComment,
    /// PagerDuty.
    #[serde(rename = "pagerduty")]
    PagerDuty,
    /// Datadog events.
    #[serde(rename = "datadog")]
    Datadog,
    /// NATS.
    #[serde(rename = "nats")]
    Nats,
    /// Zulip.
    #[serde(rename = "zulip")]
    Zulip,
    /// OpenTelemetry traces.
    #[serde(rename = "otel")]
    Otel,
    /// Zoom.
    #[serde(rename = "zoom")]
    Zoom,
    /// incident.io.
    #[serde(rename = "incident.io")]
    IncidentIo,
}

impl ProviderType {
    /// Whether the type posts Git commit statuses (and so may set `commitStatusExpr`).
    pub fn is_commit_status(self) -> bool {
        matches!(
            self,
            Self::GitHub
                | Self::GitLab
                | Self::Gitea
                | Self::BitbucketServer
                | Self::Bitbucket
                | Self::AzureDevOps
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_timeout_defaults_to_fifteen_seconds() {
        assert_eq!(
            ProviderSpec::default().get_timeout(),
            Ok(Duration::from_secs(15))
        );
        let spec = ProviderSpec {
            timeout: Some("1m".to_string()),
            ..ProviderSpec::default()
        };
        assert_eq!(spec.get_timeout(), Ok(Duration::from_secs(60)));
    }

    #[test]
    fn only_git_commit_status_types_are_commit_status_providers() {
        assert!(ProviderType::GitHub.is_commit_status());
        assert!(ProviderType::AzureDevOps.is_commit_status());
        assert!(!ProviderType::GitHubDispatch.is_commit_status());
        assert!(!ProviderType::Slack.is_commit_status());
    }
}
