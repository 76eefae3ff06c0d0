//! `ImagePolicy`: selects the latest image of an ImageRepository by a semver, alphabetical or
//! numerical ordering of its tags.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{NamespacedObjectReference, Reconciled};

/// Desired state of an [`ImagePolicy`].
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "image.toolkit.fluxcd.io",
    version = "v1",
    kind = "ImagePolicy",
    plural = "imagepolicies",
    namespaced,
    status = "ImagePolicyStatus",
    shortname = "imgpol",
    shortname = "imagepol",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-images",
    printcolumn = r#"{"name":"Image","type":"string","jsonPath":".status.latestRef.name"}"#,
    printcolumn = r#"{"name":"Tag","type":"string","jsonPath":".status.latestRef.tag"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "message": "spec.interval is only accepted when spec.digestReflectionPolicy is set to 'Always'",
        "rule": "!has(self.interval) || (has(self.digestReflectionPolicy) && self.digestReflectionPolicy == 'Always')"
    },
    {
        "message": "spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'",
        "rule": "has(self.interval) || !has(self.digestReflectionPolicy) || self.digestReflectionPolicy != 'Always'"
    }
]))]
pub struct ImagePolicySpec {
    /// The ImageRepository whose tags are considered.
    pub image_repository_ref: NamespacedObjectReference,
    /// How the latest image is chosen.
    pub policy: ImagePolicyChoice,
    /// Which tags take part, and what part of them is compared; all tags when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_tags: Option<TagFilter>,
    /// When `status.latestRef.digest` is filled in: `Never`, `IfNotPresent` (once per
    /// image) or `Always` (refreshed every interval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Never"))]
    pub digest_reflection_policy: Option<ReflectionPolicy>,
    /// How often the digest of the latest tag is refreshed; only with `Always`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: Option<String>,
    /// Stops further policy evaluations while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// When to copy a value from the registry into the object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ReflectionPolicy {
    /// Always reflect the registry's current value, overwriting the stored one.
    Always,
    /// Reflect only while the stored value is empty.
    IfNotPresent,
    /// Never reflect.
    #[default]
    Never,
}

/// The ordering that elects the latest tag; exactly one should be set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImagePolicyChoice {
    /// Highest version within a semver range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<SemVerPolicy>,
    /// Alphabetical ordering of the tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alphabetical: Option<AlphabeticalPolicy>,
    /// Numerical ordering of the tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerical: Option<NumericalPolicy>,
}

/// Select the highest version in a range.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SemVerPolicy {
    /// The semver range tags must fall in.
    pub range: String,
}

/// Sort direction of alphabetical and numerical policies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Ascending: the last tag wins (`Z`, `9`).
    #[default]
    Asc,
    /// Descending: the first tag wins (`A`, `0`).
    Desc,
}

/// Select by alphabetical order of the tags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AlphabeticalPolicy {
    /// Sort direction; with `asc`, `Z` beats `A`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "asc"))]
    pub order: Option<SortOrder>,
}

/// Select by numerical order of the tags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NumericalPolicy {
    /// Sort direction; with `asc`, `9` beats `0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "asc"))]
    pub order: Option<SortOrder>,
}

/// Filters tags by a regular expression and optionally rewrites them before ordering.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TagFilter {
    /// Regular expression a tag must match to take part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Replacement (with capture groups such as `$ts`) whose result is compared instead of
    /// the tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<String>,
}

/// An image reference: name, tag and optional digest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImageRef {
    /// The image name without tag or digest.
    pub name: String,
    /// The tag.
    pub tag: String,
    /// The digest, when reflected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl std::fmt::Display for ImageRef {
    /// `name:tag`, with `@digest` appended when known.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)?;
        match self.digest.as_deref() {
            Some(digest) if !digest.is_empty() => write!(f, "@{digest}"),
            _ => Ok(()),
        }
    }
}

/// Observed state of an [`ImagePolicy`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImagePolicyStatus {
    /// The image elected by the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_ref: Option<ImageRef>,
    /// The previously elected image, to tell what changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_previous_ref: Option<ImageRef>,
    /// Generation of the spec last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions of the object (`Ready`, `Reconciling`, `Stalled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// The `reconcile.fluxcd.io/requestedAt` value last handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

crate::impl_status_fields!(ImagePolicyStatus);

/// Digest refresh interval of an `Always` policy that sets none.
pub const DEFAULT_DIGEST_REFRESH_INTERVAL: &str = "10m";

impl ImagePolicy {
    /// The reflection policy in effect (`Never` when unset).
    pub fn digest_reflection_policy(&self) -> ReflectionPolicy {
        self.spec.digest_reflection_policy.unwrap_or_default()
    }

    /// The periodic refresh interval as Flux computes it: only `Always` policies refresh,
    /// every `spec.interval` or 10m.
    pub fn refresh_interval(&self) -> Option<&str> {
        if self.digest_reflection_policy() != ReflectionPolicy::Always {
            return None;
        }
        match self.spec.interval.as_deref() {
            Some(interval) if !interval.is_empty() => Some(interval),
            _ => Some(DEFAULT_DIGEST_REFRESH_INTERVAL),
        }
    }
}

impl Reconciled for ImagePolicy {
    type Status = ImagePolicyStatus;

    fn suspended(&self) -> bool {
        self.spec.suspend.unwrap_or(false)
    }

    /// Flux re-evaluates a policy only when its ImageRepository changes, unless it is
    /// `Always`; the shared harness always requeues, so non-`Always` policies get the 10m
    /// default as a safety-net resync.
    fn interval(&self) -> &str {
        self.refresh_interval()
            .unwrap_or(DEFAULT_DIGEST_REFRESH_INTERVAL)
    }

    fn status(&self) -> Option<&ImagePolicyStatus> {
        self.status.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_always_policies_refresh_periodically() {
        let mut policy = ImagePolicy::new("podinfo", ImagePolicySpec::default());
        assert_eq!(policy.refresh_interval(), None);
        policy.spec.digest_reflection_policy = Some(ReflectionPolicy::Always);
        assert_eq!(policy.refresh_interval(), Some("10m"));
        policy.spec.interval = Some("1h".into());
        assert_eq!(policy.refresh_interval(), Some("1h"));
    }

    #[test]
    fn image_refs_print_with_the_digest_when_known() {
        let mut image = ImageRef {
            name: "ghcr.io/stefanprodan/podinfo".into(),
            tag: "6.5.0".into(),
            digest: None,
        };
        assert_eq!(image.to_string(), "ghcr.io/stefanprodan/podinfo:6.5.0");
        image.digest = Some("sha256:abc".into());
        assert_eq!(
            image.to_string(),
            "ghcr.io/stefanprodan/podinfo:6.5.0@sha256:abc"
        );
    }
}
