//! OpenAPI v3: the `/openapi/v3` index and one document per group-version. kubectl reads these
//! to decide whether the server validates fields itself (a `fieldValidation` parameter on each
//! PATCH operation tagged with the kind's `x-kubernetes-group-version-kind`) and whether to build
//! strategic merge patches from the schema (only when a PATCH operation offers
//! `application/strategic-merge-patch+json`; we do not, so kubectl falls back to its compiled-in
//! types, which is what it does against real clusters without OpenAPI too). Custom resources
//! carry their openAPIV3Schema; built-in kinds carry a minimal object schema.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::discovery::KUBERNETES_VERSION;
use crate::kinds::ResourceType;
use crate::registry::Registry;

/// Generated documents, kept until the registry changes: clients fetch the index (which needs
/// every document's hash) on each kubectl run, and built-in schemas are large.
#[derive(Default)]
pub(crate) struct DocumentCache {
    documents: std::sync::Mutex<HashMap<(String, String), CachedDocument>>,
}

#[derive(Clone)]
struct CachedDocument {
    revision: u64,
    document: Arc<Value>,
    hash: String,
}

impl DocumentCache {
    /// The document for a group-version and its hash.
    pub(crate) fn get(
        &self,
        registry: &Registry,
        group: &str,
        version: &str,
    ) -> Option<(Arc<Value>, String)> {
        let key = (group.to_string(), version.to_string());
        let mut documents = self
            .documents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(cached) = documents.get(&key)
            && cached.revision == registry.revision()
        {
            return Some((cached.document.clone(), cached.hash.clone()));
        }
        let generated = document(registry, group, version)?;
        let cached = CachedDocument {
            revision: registry.revision(),
            hash: document_hash(&generated),
            document: Arc::new(generated),
        };
        documents.insert(key, cached.clone());
        Some((cached.document, cached.hash))
    }
}

/// The index of group-version documents.
pub(crate) fn index(registry: &Registry, cache: &DocumentCache) -> Value {
    let mut paths = Map::new();
    for (group, versions) in registry.groups() {
        for version in versions {
            let path = document_path(&group, &version);
            let hash = cache
                .get(registry, &group, &version)
                .map(|(_, hash)| hash)
                .unwrap_or_default();
            paths.insert(
                path.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}),
            );
        }
    }
    json!({"paths": paths})
}

/// `api/v1` or `apis/<group>/<version>`.
pub(crate) fn document_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The content hash clients use as a cache key.
pub(crate) fn document_hash(document: &Value) -> String {
    hex::encode_upper(Sha256::digest(document.to_string().as_bytes()))
}

/// The schema name of a kind, in the reversed-domain style kube-apiserver uses for CRDs.
pub(crate) fn schema_name(resource: &ResourceType) -> String {
    let group = if resource.group.is_empty() {
        "io.k8s.api.core".to_string()
    } else if resource.custom {
        resource
            .group
            .split('.')
            .rev()
            .collect::<Vec<_>>()
            .join(".")
    } else {
        let short = resource.group.split('.').next().unwrap_or("");
        format!("io.k8s.api.{short}")
    };
    format!("{group}.{}.{}", resource.version, resource.kind)
}

fn gvk(resource: &ResourceType) -> Value {
    json!({"group": resource.group, "version": resource.version, "kind": resource.kind})
}

fn query_parameter(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

fn write_parameters() -> Value {
    json!([
        query_parameter(
            "dryRun",
            "When present, indicates that modifications should not be persisted."
        ),
        query_parameter(
            "fieldManager",
            "fieldManager is a name associated with the actor or entity that is making these changes."
        ),
        query_parameter(
            "fieldValidation",
            "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields."
        ),
    ])
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn operations(resource: &ResourceType, name: &str) -> (Value, Value) {
    let body = |types: &[&str]| {
        let mut content = Map::new();
        for media_type in types {
            content.insert(
                (*media_type).to_string(),
                json!({"schema": reference(name)}),
            );
        }
        json!({"content": content, "required": true})
    };
    let ok = json!({"200": {"description": "OK", "content": {"application/json": {"schema": reference(name)}}}});
    let operation = |action: &str, verb: &str| {
        json!({
            "operationId": format!("{verb}{}", resource.kind),
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk(resource),
            "responses": ok,
        })
    };
    let mut collection = json!({
        "get": operation("list", "list"),
        "post": operation("post", "create"),
        "delete": operation("deletecollection", "deleteCollection"),
    });
    collection["post"]["parameters"] = write_parameters();
    collection["post"]["requestBody"] = body(&["*/*"]);
    let mut item = json!({
        "get": operation("get", "read"),
        "put": operation("put", "replace"),
        "patch": operation("patch", "patch"),
        "delete": operation("delete", "delete"),
    });
    item["put"]["parameters"] = write_parameters();
    item["put"]["requestBody"] = body(&["*/*"]);
    item["patch"]["parameters"] = write_parameters();
    item["patch"]["requestBody"] = body(&[
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/apply-patch+yaml",
    ]);
    (collection, item)
}

fn base_schema(resource: &ResourceType) -> Value {
    let mut schema = match &resource.schema {
        Some(schema) => schema.clone(),
        None => json!({
            "type": "object",
            "description": format!("{} is a built-in Kubernetes kind.", resource.kind),
            "x-kubernetes-preserve-unknown-fields": true,
        }),
    };
    let Some(map) = schema.as_object_mut() else {
        return schema;
    };
    let properties = map
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(properties) = properties.as_object_mut() {
        properties.insert(
            "apiVersion".into(),
            json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."}),
        );
        properties.insert(
            "kind".into(),
            json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."}),
        );
        properties.insert(
            "metadata".into(),
            json!({"allOf": [reference("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")], "description": "Standard object's metadata."}),
        );
    }
    map.insert(
        "x-kubernetes-group-version-kind".into(),
        json!([gvk(resource)]),
    );
    schema
}

/// The document for one group-version, or `None` when nothing is served there.
pub(crate) fn document(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let served: Vec<&ResourceType> = registry
        .all()
        .iter()
        .map(AsRef::as_ref)
        .filter(|resource| resource.group == group && resource.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta".into(),
        json!({
            "type": "object",
            "description": "ObjectMeta is metadata that all persisted resources must have.",
            "properties": {
                "name": {"type": "string"},
                "generateName": {"type": "string"},
                "namespace": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                "finalizers": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"},
                "ownerReferences": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}, "x-kubernetes-list-map-keys": ["uid"], "x-kubernetes-list-type": "map", "x-kubernetes-patch-merge-key": "uid", "x-kubernetes-patch-strategy": "merge"},
                "uid": {"type": "string"},
                "resourceVersion": {"type": "string"},
                "generation": {"type": "integer", "format": "int64"},
                "creationTimestamp": {"type": "string", "format": "date-time"},
                "deletionTimestamp": {"type": "string", "format": "date-time"},
                "deletionGracePeriodSeconds": {"type": "integer", "format": "int64"},
                "managedFields": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
            }
        }),
    );
    let builtin_kinds: Vec<&str> = served
        .iter()
        .filter(|resource| !resource.custom)
        .map(|resource| resource.kind.as_str())
        .collect();
    let (definitions, builtin_names) =
        crate::builtin_schemas::schemas(group, version, &builtin_kinds);
    schemas.extend(definitions);
    for resource in served {
        let builtin_name = builtin_names
            .iter()
            .find(|(kind, _)| !resource.custom && *kind == resource.kind)
            .map(|(_, name)| name.clone());
        let name = builtin_name
            .clone()
            .unwrap_or_else(|| schema_name(resource));
        let (collection, item) = operations(resource, &name);
        let plural = &resource.plural;
        if resource.namespaced {
            paths.insert(
                format!("{prefix}/namespaces/{{namespace}}/{plural}"),
                collection,
            );
            paths.insert(
                format!("{prefix}/namespaces/{{namespace}}/{plural}/{{name}}"),
                item,
            );
            paths.insert(
                format!("{prefix}/{plural}"),
                json!({"get": {"x-kubernetes-action": "list", "x-kubernetes-group-version-kind": gvk(resource), "responses": {}}}),
            );
        } else {
            paths.insert(format!("{prefix}/{plural}"), collection);
            paths.insert(format!("{prefix}/{plural}/{{name}}"), item);
        }
        match builtin_name.and_then(|name| schemas.get_mut(&name)) {
            Some(Value::Object(schema)) => {
                schema.insert(
                    "x-kubernetes-group-version-kind".into(),
                    json!([gvk(resource)]),
                );
            }
            _ => {
                schemas.insert(name, base_schema(resource));
            }
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_group_version_is_indexed() {
        let registry = Registry::default();
        let index = index(&registry, &DocumentCache::default());
        assert!(
            index["paths"]["api/v1"]["serverRelativeURL"]
                .as_str()
                .is_some_and(|url| url.starts_with("/openapi/v3/api/v1?hash="))
        );
        assert!(index["paths"].get("apis/apps/v1").is_some());
    }

    #[test]
    fn patch_operations_offer_field_validation_for_their_kind() {
        let document = document(&Registry::default(), "apps", "v1");
        let patch = document
            .as_ref()
            .and_then(|document| {
                document["paths"].get("/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
            })
            .map(|path| path["patch"].clone())
            .unwrap_or_default();
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert!(
            patch["parameters"]
                .as_array()
                .is_some_and(|parameters| parameters
                    .iter()
                    .any(|p| p["name"] == "fieldValidation"))
        );
    }
}
