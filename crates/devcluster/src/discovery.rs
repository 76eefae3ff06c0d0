//! Discovery documents: `/version`, the legacy `/api`, `/apis`, `/api/v1` and
//! `/apis/<group>/<version>` lists, and the aggregated `apidiscovery.k8s.io/v2` form that
//! kubectl 1.32 and client-go ask for first (falling back to the legacy form when a server
//! answers with plain JSON).

use serde_json::{Value, json};

use crate::kinds::ResourceType;
use crate::registry::Registry;

/// The Kubernetes version the server reports.
pub const KUBERNETES_VERSION: &str = "v1.32.4";

/// The media type of aggregated discovery responses.
pub(crate) const AGGREGATED_V2: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
/// The beta media type some clients still ask for.
pub(crate) const AGGREGATED_V2BETA1: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

/// `/version`.
pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": KUBERNETES_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// Which aggregated discovery version an Accept header asks for, preferring v2.
pub(crate) fn wants_aggregated(accept: &str) -> Option<&'static str> {
    let compact: String = accept.chars().filter(|c| !c.is_whitespace()).collect();
    let offers: Vec<&str> = compact.split(',').collect();
    let asks = |version: &str| {
        offers.iter().any(|offer| {
            offer.contains("g=apidiscovery.k8s.io")
                && offer.contains(&format!("v={version}"))
                && offer.contains("as=APIGroupDiscoveryList")
        })
    };
    if asks("v2") {
        Some(AGGREGATED_V2)
    } else if asks("v2beta1") {
        Some(AGGREGATED_V2BETA1)
    } else {
        None
    }
}

/// Legacy `/api`.
pub(crate) fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_entry(group: &str, versions: &[String]) -> Value {
    let listed: Vec<Value> = versions
        .iter()
        .map(|version| json!({"groupVersion": format!("{group}/{version}"), "version": version}))
        .collect();
    let preferred = listed.first().cloned().unwrap_or(json!({}));
    json!({"name": group, "versions": listed, "preferredVersion": preferred})
}

/// Legacy `/apis`.
pub(crate) fn group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = registry
        .groups()
        .into_iter()
        .filter(|(group, _)| !group.is_empty())
        .map(|(group, versions)| group_entry(&group, &versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// Legacy `/apis/<group>`.
pub(crate) fn group(registry: &Registry, name: &str) -> Option<Value> {
    registry
        .groups()
        .into_iter()
        .find(|(group, _)| group == name && !group.is_empty())
        .map(|(group, versions)| {
            let mut entry = group_entry(&group, &versions);
            entry["kind"] = json!("APIGroup");
            entry["apiVersion"] = json!("v1");
            entry
        })
}

fn subresource_names(resource: &ResourceType) -> Vec<&'static str> {
    let mut names = Vec::new();
    if resource.has_status {
        names.push("status");
    }
    if resource.scale.is_some() {
        names.push("scale");
    }
    names
}

/// Legacy `/api/v1` or `/apis/<group>/<version>`; `None` when nothing is served there.
pub(crate) fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let served: Vec<&ResourceType> = registry
        .all()
        .iter()
        .map(AsRef::as_ref)
        .filter(|resource| resource.group == group && resource.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for resource in served {
        let mut entry = json!({
            "name": resource.plural,
            "singularName": resource.singular,
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": resource.verbs(),
        });
        if !resource.short_names.is_empty() {
            entry["shortNames"] = json!(resource.short_names);
        }
        if !resource.categories.is_empty() {
            entry["categories"] = json!(resource.categories);
        }
        resources.push(entry);
        for subresource in subresource_names(resource) {
            let kind = if subresource == "scale" {
                "Scale"
            } else {
                resource.kind.as_str()
            };
            let mut entry = json!({
                "name": format!("{}/{subresource}", resource.plural),
                "singularName": "",
                "namespaced": resource.namespaced,
                "kind": kind,
                "verbs": ["get", "patch", "update"],
            });
            if subresource == "scale" {
                entry["group"] = json!("autoscaling");
                entry["version"] = json!("v1");
            }
            resources.push(entry);
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

fn aggregated_resource(resource: &ResourceType) -> Value {
    let mut entry = json!({
        "resource": resource.plural,
        "responseKind": {"group": resource.group, "version": resource.version, "kind": resource.kind},
        "scope": if resource.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": resource.singular,
        "verbs": resource.verbs(),
    });
    if !resource.short_names.is_empty() {
        entry["shortNames"] = json!(resource.short_names);
    }
    if !resource.categories.is_empty() {
        entry["categories"] = json!(resource.categories);
    }
    let subresources: Vec<Value> = subresource_names(resource)
        .into_iter()
        .map(|subresource| {
            let kind = if subresource == "scale" {
                json!({"group": "autoscaling", "version": "v1", "kind": "Scale"})
            } else {
                json!({"group": resource.group, "version": resource.version, "kind": resource.kind})
            };
            json!({"subresource": subresource, "responseKind": kind, "verbs": ["get", "patch", "update"]})
        })
        .collect();
    if !subresources.is_empty() {
        entry["subresources"] = Value::Array(subresources);
    }
    entry
}

/// Aggregated discovery for the core group (`core == true`, `/api`) or the named groups (`/apis`).
pub(crate) fn aggregated(registry: &Registry, core: bool, media_type: &str) -> Value {
    let api_version = if media_type == AGGREGATED_V2 {
        "apidiscovery.k8s.io/v2"
    } else {
        "apidiscovery.k8s.io/v2beta1"
    };
    let items: Vec<Value> = registry
        .groups()
        .into_iter()
        .filter(|(group, _)| group.is_empty() == core)
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|version| {
                    let resources: Vec<Value> = registry
                        .all()
                        .iter()
                        .filter(|resource| resource.group == group && resource.version == *version)
                        .map(|resource| aggregated_resource(resource))
                        .collect();
                    json!({"version": version, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions})
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_accept_header_selects_aggregated_v2() {
        let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(wants_aggregated(accept), Some(AGGREGATED_V2));
        assert_eq!(wants_aggregated("application/json"), None);
    }

    #[test]
    fn apps_v1_lists_deployment_subresources() {
        let list = resource_list(&Registry::default(), "apps", "v1");
        let names: Vec<String> = list
            .map(|list| {
                list["resources"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|entry| entry["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        assert!(names.contains(&"deployments/scale".to_string()));
        assert!(names.contains(&"deployments/status".to_string()));
    }

    #[test]
    fn aggregated_core_has_one_unnamed_group() {
        let document = aggregated(&Registry::default(), true, AGGREGATED_V2);
        assert_eq!(document["items"].as_array().map(Vec::len), Some(1));
        assert_eq!(document["items"][0]["metadata"]["name"], "");
    }
}
