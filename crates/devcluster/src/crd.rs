//! CustomResourceDefinitions: validating them, turning each served version into a
//! [`ResourceType`] and writing the status kube-apiserver's controllers would (accepted names,
//! `NamesAccepted` and `Established` conditions, stored versions).

use serde_json::{Value, json};

use crate::kinds::{NameRule, ResourceType, ScalePaths};
use crate::object::{meta_str, timestamp};
use crate::registry::Registry;
use crate::status::{Cause, cause};
use crate::table::{CellSource, PrinterColumn};

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Problems with a CRD, as 422 causes.
pub(crate) fn validate_definition(crd: &Value, registry: &Registry) -> Vec<Cause> {
    let mut causes = Vec::new();
    let group = text(crd, "/spec/group");
    let plural = text(crd, "/spec/names/plural");
    let kind = text(crd, "/spec/names/kind");
    let name = meta_str(crd, "name");
    if group.is_empty() {
        causes.push(cause("FieldValueRequired", "spec.group", "Required value"));
    } else if !group.contains('.') {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.group",
            format!("Invalid value: \"{group}\": should be a domain with at least one dot"),
        ));
    }
    if plural.is_empty() {
        causes.push(cause(
            "FieldValueRequired",
            "spec.names.plural",
            "Required value",
        ));
    }
    if kind.is_empty() {
        causes.push(cause(
            "FieldValueRequired",
            "spec.names.kind",
            "Required value",
        ));
    }
    if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
        causes.push(cause(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    match text(crd, "/spec/scope") {
        "Namespaced" | "Cluster" => {}
        "" => causes.push(cause("FieldValueRequired", "spec.scope", "Required value")),
        other => causes.push(cause(
            "FieldValueNotSupported",
            "spec.scope",
            format!(
                "Unsupported value: \"{other}\": supported values: \"Cluster\", \"Namespaced\""
            ),
        )),
    }
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        causes.push(cause(
            "FieldValueRequired",
            "spec.versions",
            "Required value",
        ));
    }
    let storage_versions = versions
        .iter()
        .filter(|version| version.get("storage") == Some(&Value::Bool(true)))
        .count();
    if !versions.is_empty() && storage_versions != 1 {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.versions",
            format!(
                "Invalid value: {}: must have exactly one version marked as storage version",
                render_versions(&versions)
            ),
        ));
    }
    for (index, version) in versions.iter().enumerate() {
        if text(version, "/name").is_empty() {
            causes.push(cause(
                "FieldValueRequired",
                &format!("spec.versions[{index}].name"),
                "Required value",
            ));
        }
        if version.pointer("/schema/openAPIV3Schema").is_none() {
            causes.push(cause(
                "FieldValueRequired",
                &format!("spec.versions[{index}].schema.openAPIV3Schema"),
                "Required value: schemas are required",
            ));
        }
    }
    if !group.is_empty()
        && !plural.is_empty()
        && registry.all().iter().any(|resource| {
            !resource.custom && resource.group == group && resource.plural == plural
        })
    {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.names.plural",
            format!("Invalid value: \"{plural}\": collides with a built-in resource"),
        ));
    }
    causes
}

fn render_versions(versions: &[Value]) -> String {
    let names: Vec<&str> = versions
        .iter()
        .map(|version| text(version, "/name"))
        .collect();
    format!("[{}]", names.join(" "))
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The served resource types a (valid) CRD defines.
pub(crate) fn resource_types(crd: &Value) -> Vec<ResourceType> {
    let group = text(crd, "/spec/group").to_string();
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let kind = text(&names, "/kind").to_string();
    let plural = text(&names, "/plural").to_string();
    let singular = match text(&names, "/singular") {
        "" => kind.to_lowercase(),
        singular => singular.to_string(),
    };
    let list_kind = match text(&names, "/listKind") {
        "" => format!("{kind}List"),
        list_kind => list_kind.to_string(),
    };
    let namespaced = text(crd, "/spec/scope") == "Namespaced";
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    versions
        .iter()
        .filter(|version| version.get("served") != Some(&Value::Bool(false)))
        .map(|version| {
            let subresources = version.get("subresources");
            let has_status = subresources.is_some_and(|sub| sub.get("status").is_some());
            let scale = subresources
                .and_then(|sub| sub.get("scale"))
                .map(|scale| ScalePaths {
                    spec_replicas: text(scale, "/specReplicasPath").to_string(),
                    status_replicas: text(scale, "/statusReplicasPath").to_string(),
                    label_selector: scale
                        .get("labelSelectorPath")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                });
            let mut columns = printer_columns(version);
            if columns.is_empty() {
                columns.push(PrinterColumn {
                    name: "Age".into(),
                    column_type: "date".into(),
                    format: String::new(),
                    description: String::new(),
                    priority: 0,
                    source: CellSource::Age(".metadata.creationTimestamp".into()),
                });
            }
            ResourceType {
                group: group.clone(),
                storage_group: group.clone(),
                version: text(version, "/name").to_string(),
                kind: kind.clone(),
                list_kind: list_kind.clone(),
                plural: plural.clone(),
                singular: singular.clone(),
                namespaced,
                short_names: strings(names.get("shortNames")),
                categories: strings(names.get("categories")),
                has_status,
                scale,
                tracks_generation: true,
                columns,
                schema: version.pointer("/schema/openAPIV3Schema").cloned(),
                field_selectors: version
                    .get("selectableFields")
                    .and_then(Value::as_array)
                    .map(|fields| {
                        fields
                            .iter()
                            .filter_map(|field| field.get("jsonPath").and_then(Value::as_str))
                            .map(|path| path.trim_start_matches('.').to_string())
                            .collect()
                    })
                    .unwrap_or_default(),
                custom: true,
                name_rule: NameRule::Subdomain,
                review: false,
            }
        })
        .collect()
}

fn printer_columns(version: &Value) -> Vec<PrinterColumn> {
    version
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .map(|columns| {
            columns
                .iter()
                .map(|column| PrinterColumn {
                    name: text(column, "/name").to_string(),
                    column_type: text(column, "/type").to_string(),
                    format: text(column, "/format").to_string(),
                    description: text(column, "/description").to_string(),
                    priority: column.get("priority").and_then(Value::as_i64).unwrap_or(0),
                    source: CellSource::Path(text(column, "/jsonPath").to_string()),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Writes the status an established CRD has.
pub(crate) fn establish(crd: &mut Value, now: jiff::Timestamp) {
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let mut accepted = names.clone();
    if accepted.get("singular").is_none()
        && let Some(kind) = names.get("kind").and_then(Value::as_str)
    {
        accepted["singular"] = json!(kind.to_lowercase());
    }
    if accepted.get("listKind").is_none()
        && let Some(kind) = names.get("kind").and_then(Value::as_str)
    {
        accepted["listKind"] = json!(format!("{kind}List"));
    }
    let storage: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|versions| {
            versions
                .iter()
                .filter(|version| version.get("storage") == Some(&Value::Bool(true)))
                .filter_map(|version| version.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    let mut stored = crd
        .pointer("/status/storedVersions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for version in storage {
        if !stored.contains(&version) {
            stored.push(version);
        }
    }
    let previous_conditions = crd.pointer("/status/conditions").cloned();
    let stamp = timestamp(now);
    let condition = |kind: &str, reason: &str, message: &str| {
        let since = previous_conditions
            .as_ref()
            .and_then(Value::as_array)
            .and_then(|conditions| {
                conditions.iter().find(|condition| {
                    condition.get("type").and_then(Value::as_str) == Some(kind)
                        && condition.get("status").and_then(Value::as_str) == Some("True")
                })
            })
            .and_then(|condition| condition.get("lastTransitionTime").cloned())
            .unwrap_or(json!(stamp));
        json!({
            "type": kind,
            "status": "True",
            "lastTransitionTime": since,
            "reason": reason,
            "message": message,
        })
    };
    crd["status"] = json!({
        "acceptedNames": accepted,
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "storedVersions": stored,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widget_crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [
                    {"name": "v1", "served": true, "storage": true,
                     "schema": {"openAPIV3Schema": {"type": "object"}},
                     "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}},
                     "additionalPrinterColumns": [{"name": "Size", "type": "string", "jsonPath": ".spec.size"}]},
                    {"name": "v1beta1", "served": false, "storage": false,
                     "schema": {"openAPIV3Schema": {"type": "object"}}}
                ]
            }
        })
    }

    #[test]
    fn a_valid_crd_yields_its_served_versions() {
        let crd = widget_crd();
        assert!(validate_definition(&crd, &Registry::default()).is_empty());
        let types = resource_types(&crd);
        assert_eq!(types.len(), 1);
        assert_eq!(types[0].plural, "widgets");
        assert!(types[0].has_status && types[0].scale.is_some());
        assert_eq!(types[0].columns[0].name, "Size");
        assert_eq!(types[0].list_kind, "WidgetList");
    }

    #[test]
    fn a_crd_named_wrongly_is_invalid() {
        let mut crd = widget_crd();
        crd["metadata"]["name"] = json!("gadgets.example.com");
        let causes = validate_definition(&crd, &Registry::default());
        assert_eq!(causes[0].field, "metadata.name");
    }

    #[test]
    fn establishing_sets_both_conditions() {
        let mut crd = widget_crd();
        establish(&mut crd, jiff::Timestamp::UNIX_EPOCH);
        let conditions = crd["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[1]["type"], "Established");
        assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
        assert_eq!(crd["status"]["acceptedNames"]["singular"], "widget");
    }
}
