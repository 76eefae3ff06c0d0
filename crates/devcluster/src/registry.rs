//! The set of served resources: the built-in table plus whatever CustomResourceDefinitions
//! registered. Lookups go by (group, version, plural) because that is what a request path names.

use std::sync::Arc;

use crate::kinds::{ResourceType, builtin_types};

/// Served resources, in discovery order.
#[derive(Debug, Clone)]
pub(crate) struct Registry {
    types: Vec<Arc<ResourceType>>,
    /// Bumped on every change, so caches derived from the registry know when to rebuild.
    revision: u64,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            types: builtin_types().into_iter().map(Arc::new).collect(),
            revision: 0,
        }
    }
}

impl Registry {
    /// The resource a request path names.
    pub(crate) fn find(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<Arc<ResourceType>> {
        self.types
            .iter()
            .find(|resource| {
                resource.group == group && resource.version == version && resource.plural == plural
            })
            .cloned()
    }

    /// Every served resource.
    pub(crate) fn all(&self) -> &[Arc<ResourceType>] {
        &self.types
    }

    /// Groups in discovery order, each with its versions in the order first seen.
    pub(crate) fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for resource in &self.types {
            match groups
                .iter_mut()
                .find(|(group, _)| *group == resource.group)
            {
                Some((_, versions)) => {
                    if !versions.contains(&resource.version) {
                        versions.push(resource.version.clone());
                    }
                }
                None => groups.push((resource.group.clone(), vec![resource.version.clone()])),
            }
        }
        for (_, versions) in &mut groups {
            versions.sort_by_key(|version| std::cmp::Reverse(version_priority(version)));
        }
        groups
    }

    /// Changes every time the served resources change.
    pub(crate) fn revision(&self) -> u64 {
        self.revision
    }

    /// Replaces every version of (group, plural) with `types` (empty to unregister).
    pub(crate) fn replace(&mut self, group: &str, plural: &str, types: Vec<ResourceType>) {
        self.types
            .retain(|resource| !(resource.group == group && resource.plural == plural));
        self.types.extend(types.into_iter().map(Arc::new));
        self.revision += 1;
    }
}

/// Kubernetes version ordering: GA above beta above alpha, higher numbers first; anything
/// else sorts last.
fn version_priority(version: &str) -> (u8, u64, u64) {
    let Some(rest) = version.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let Ok(major) = digits.parse::<u64>() else {
        return (0, 0, 0);
    };
    let suffix = &rest[digits.len()..];
    let stage = |prefix: &str| {
        suffix
            .strip_prefix(prefix)
            .and_then(|n| n.parse::<u64>().ok())
    };
    if suffix.is_empty() {
        (3, major, 0)
    } else if let Some(minor) = stage("beta") {
        (2, major, minor)
    } else if let Some(minor) = stage("alpha") {
        (1, major, minor)
    } else {
        (0, 0, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_builtins_by_path_and_by_kind() {
        let registry = Registry::default();
        assert!(registry.find("apps", "v1", "deployments").is_some());
        assert!(registry.find("apps", "v2", "deployments").is_none());
    }

    #[test]
    fn versions_sort_ga_before_beta_before_alpha() {
        let mut versions = vec!["v1alpha1", "v1beta2", "v2", "v1", "v1beta1"];
        versions.sort_by_key(|version| std::cmp::Reverse(version_priority(version)));
        assert_eq!(versions, vec!["v2", "v1", "v1beta2", "v1beta1", "v1alpha1"]);
    }

    #[test]
    fn core_group_comes_first_in_groups() {
        let groups = Registry::default().groups();
        assert_eq!(groups[0], (String::new(), vec!["v1".to_string()]));
    }
}
