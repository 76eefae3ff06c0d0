//! `ImageUpdateAutomation`: rewrites image references marked with setters in a Git repository
//! to the images ImagePolicies elected, then commits and pushes.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ImageRef;
use crate::meta::LocalObjectReference;
use crate::source::v1::GitRepositoryRef;

/// Desired state of an [`ImageUpdateAutomation`].
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "image.toolkit.fluxcd.io",
    version = "v1",
    kind = "ImageUpdateAutomation",
    plural = "imageupdateautomations",
    namespaced,
    status = "ImageUpdateAutomationStatus",
    shortname = "iua",
    shortname = "imgupd",
    shortname = "imgauto",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-images",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name":"Last run","type":"string","jsonPath":".status.lastAutomationRunTime","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ImageUpdateAutomationSpec {
    /// The GitRepository giving the repository address and credentials.
    pub source_ref: CrossNamespaceSourceReference,
    /// How to check out, commit and push; needed in practice, as Git is the only source.
    #[serde(rename = "git", default, skip_serializing_if = "Option::is_none")]
    pub git_spec: Option<GitSpec>,
    /// Lower bound on how often the automation runs.
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: String,
    /// Labels of the ImagePolicies to apply; all policies in the namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-map-type" = "atomic"), transform = atomic_label_selector_lists)]
    pub policy_selector: Option<LabelSelector>,
    /// How files are updated; the `Setters` strategy at the root when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = {"strategy": "Setters"}))]
    pub update: Option<UpdateStrategy>,
    /// Stops the automation while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// Marks the lists of a label selector schema atomic, as Kubernetes' own `LabelSelector`
/// declares them (`matchExpressions` and each expression's `values`); k8s-openapi's schema
/// leaves the markers out.
fn atomic_label_selector_lists(schema: &mut schemars::Schema) {
    let atomic = || serde_json::Value::from("atomic");
    let Some(expressions) = schema
        .as_object_mut()
        .and_then(|object| object.get_mut("properties"))
        .and_then(|properties| properties.get_mut("matchExpressions"))
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    expressions.insert("x-kubernetes-list-type".into(), atomic());
    if let Some(values) = expressions
        .get_mut("items")
        .and_then(|items| items.get_mut("properties"))
        .and_then(|properties| properties.get_mut("values"))
        .and_then(serde_json::Value::as_object_mut)
    {
        values.insert("x-kubernetes-list-type".into(), atomic());
    }
}

/// Kinds an automation can update; only Git repositories today.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AutomationSourceKind {
    /// A GitRepository.
    #[default]
    GitRepository,
}

/// The source of an [`ImageUpdateAutomation`], possibly in another namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = require_kind)]
pub struct CrossNamespaceSourceReference {
    /// API version of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the source.
    #[serde(default)]
    pub kind: AutomationSourceKind,
    /// Name of the source.
    pub name: String,
    /// Namespace of the source; the automation's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Flux lists `kind` as required and defaulted; serde's default keeps parsing lenient.
fn require_kind(schema: &mut schemars::Schema) {
    crate::source::v1::mark_required(schema, "kind");
}

impl std::fmt::Display for CrossNamespaceSourceReference {
    /// `Kind/namespace/name`, or `Kind/name` without a namespace.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            AutomationSourceKind::GitRepository => "GitRepository",
        };
        match self.namespace.as_deref() {
            Some(namespace) if !namespace.is_empty() => {
                write!(f, "{kind}/{namespace}/{}", self.name)
            }
            _ => write!(f, "{kind}/{}", self.name),
        }
    }
}

/// The Git side of an automation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GitSpec {
    /// What to clone; the GitRepository's own `ref` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout: Option<GitCheckoutSpec>,
    /// How to commit.
    pub commit: CommitSpec,
    /// Where to push; back to the checked-out branch when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<PushSpec>,
}

impl GitSpec {
    /// Whether a push refspec is configured.
    pub fn has_refspec(&self) -> bool {
        self.push
            .as_ref()
            .and_then(|push| push.refspec.as_deref())
            .is_some_and(|refspec| !refspec.is_empty())
    }
}

/// The reference to clone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GitCheckoutSpec {
    /// Branch, tag or commit to clone.
    #[serde(rename = "ref")]
    pub reference: GitRepositoryRef,
}

/// How commits are made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitSpec {
    /// Author of the commits.
    pub author: CommitUser,
    /// Key to sign commits with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<SigningKey>,
    /// Go template of the commit message, given the changes made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_template: Option<String>,
    /// Extra values available to the message template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_template_values: Option<BTreeMap<String, String>>,
}

/// A commit author.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommitUser {
    /// Name of the author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email of the author.
    pub email: String,
}

/// Format of a commit signing key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SigningKeyType {
    /// OpenPGP key in `git.asc`, optional `passphrase`.
    #[default]
    Gpg,
    /// SSH private key in `identity`, optional `password`.
    Ssh,
}

/// A commit signing key held in a Secret of the automation's namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningKey {
    /// Secret with the key: `git.asc` (+`passphrase`) for gpg, `identity` (+`password`) for
    /// ssh.
    pub secret_ref: LocalObjectReference,
    /// Key format; `gpg` when unset.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<SigningKeyType>,
}

/// Where commits are pushed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PushSpec {
    /// Branch to push to, created from the checkout branch when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Refspec to push with (in addition to `branch` when both are set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refspec: Option<String>,
    /// Push options sent to the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, String>>,
}

/// Strategies for updating files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum UpdateStrategyName {
    /// kyaml setters: `# {"$imagepolicy": "<namespace>:<policy>[:tag|:name|:digest]"}` markers.
    #[default]
    Setters,
}

/// How files in the repository are updated.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UpdateStrategy {
    /// The strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Setters"))]
    pub strategy: Option<UpdateStrategyName>,
    /// Directory of the manifests to update; the repository root when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Observed state of an [`ImageUpdateAutomation`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageUpdateAutomationStatus {
    /// When the automation last ran to completion, with or without changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_automation_run_time: Option<Time>,
    /// SHA of the last commit pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_push_commit: Option<String>,
    /// When a change was last pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_push_time: Option<Time>,
    /// Generation of the spec last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions of the object (`Ready`, `Reconciling`, `Stalled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// The ImagePolicies considered by the last run, by name, with their latest image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_policies: Option<BTreeMap<String, ImageRef>>,
    /// The source revision last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_source_revision: Option<String>,
    /// The `reconcile.fluxcd.io/requestedAt` value last handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

crate::impl_status_fields!(ImageUpdateAutomationStatus);

crate::impl_reconciled!(ImageUpdateAutomation, ImageUpdateAutomationStatus);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_references_print_with_the_namespace_when_set() {
        let mut source = CrossNamespaceSourceReference {
            name: "fleet".into(),
            ..Default::default()
        };
        assert_eq!(source.to_string(), "GitRepository/fleet");
        source.namespace = Some("flux-system".into());
        assert_eq!(source.to_string(), "GitRepository/flux-system/fleet");
    }

    #[test]
    fn a_push_without_refspec_has_none() {
        let mut git = GitSpec::default();
        assert!(!git.has_refspec());
        git.push = Some(PushSpec {
            branch: Some("auto".into()),
            ..Default::default()
        });
        assert!(!git.has_refspec());
        git.push = Some(PushSpec {
            refspec: Some("refs/heads/auto:refs/heads/main".into()),
            ..Default::default()
        });
        assert!(git.has_refspec());
    }
}
