//! Turning a built YAML stream into the objects to apply (fluxcd/pkg `ssa/utils.ReadObjects`).
//!
//! Documents that are not Kubernetes objects (no apiVersion, kind or name) and kustomize's own
//! `Kustomization` configs are dropped; `List` kinds are expanded into their items.

use eddy_kustomize::value::Value as YamlValue;
use eddy_kustomize::yaml::parse_documents;
use serde_json::{Map, Number, Value};

/// Why manifests could not be read.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ManifestsError {
    /// The text is not valid YAML.
    #[error("{0}")]
    Yaml(#[from] eddy_kustomize::yaml::YamlError),
    /// A number JSON cannot represent (`.inf`, `.nan`).
    #[error("json: unsupported value: {0}")]
    UnsupportedNumber(f64),
}

/// Reads the Kubernetes objects of a YAML stream, in document order.
pub fn read_objects(manifests: &str) -> Result<Vec<Value>, ManifestsError> {
    let mut objects = Vec::new();
    for document in parse_documents(manifests)? {
        let object = to_json(&document)?;
        if is_list(&object) {
            if let Some(items) = object.get("items").and_then(Value::as_array) {
                objects.extend(items.iter().filter(|item| item.is_object()).cloned());
            }
            continue;
        }
        if is_kubernetes_object(&object) && !is_kustomization(&object) {
            objects.push(object);
        }
    }
    Ok(objects)
}

/// Converts the kustomize engine's document model to JSON, keeping key order.
pub fn to_json(value: &YamlValue) -> Result<Value, ManifestsError> {
    Ok(match value {
        YamlValue::Null => Value::Null,
        YamlValue::Bool(flag) => Value::Bool(*flag),
        YamlValue::Int(number) => Value::Number((*number).into()),
        YamlValue::UInt(number) => Value::Number((*number).into()),
        YamlValue::Float(number) => Value::Number(
            Number::from_f64(*number).ok_or(ManifestsError::UnsupportedNumber(*number))?,
        ),
        YamlValue::String(text) => Value::String(text.clone()),
        YamlValue::Seq(items) => {
            Value::Array(items.iter().map(to_json).collect::<Result<Vec<_>, _>>()?)
        }
        YamlValue::Map(map) => {
            let mut object = Map::with_capacity(map.len());
            for (key, item) in map {
                object.insert(key.clone(), to_json(item)?);
            }
            Value::Object(object)
        }
    })
}

fn text<'value>(object: &'value Value, key: &str) -> &'value str {
    object.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `IsKubernetesObject`: apiVersion, kind and metadata.name are set.
fn is_kubernetes_object(object: &Value) -> bool {
    !text(object, "apiVersion").is_empty()
        && !text(object, "kind").is_empty()
        && object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .is_some_and(|name| !name.is_empty())
}

/// `IsKustomization`: a kustomize config rather than a cluster object.
fn is_kustomization(object: &Value) -> bool {
    text(object, "kind").eq_ignore_ascii_case("kustomization")
        && text(object, "apiVersion").starts_with("kustomize.config.k8s.io/")
}

/// A `v1 List` or any `*List` kind with items (`Unstructured.IsList`).
fn is_list(object: &Value) -> bool {
    text(object, "kind").ends_with("List") && object.get("items").is_some_and(Value::is_array)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn objects_are_read_in_order_with_their_types() {
        let objects = read_objects(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  replicas: 2\n  paused: false\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  ratio: \"0.5\"\n",
        );
        assert_eq!(
            objects,
            Ok(vec![
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
                    "spec": {"replicas": 2, "paused": false}}),
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
                    "data": {"ratio": "0.5"}}),
            ])
        );
    }

    #[test]
    fn non_objects_and_kustomizations_are_dropped() {
        let objects = read_objects(
            "---\n# only a comment\n---\nfoo: bar\n---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nmetadata:\n  name: k\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n",
        )
        .unwrap_or_default();
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0]["kind"], "Secret");
    }

    #[test]
    fn lists_are_expanded_into_their_items() {
        let objects = read_objects(
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\n",
        )
        .unwrap_or_default();
        let names: Vec<&str> = objects
            .iter()
            .filter_map(|object| object.pointer("/metadata/name").and_then(Value::as_str))
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn infinity_is_refused_like_kustomize_does() {
        assert!(matches!(
            read_objects("apiVersion: v1\nkind: X\nmetadata:\n  name: x\nvalue: .inf\n"),
            Err(ManifestsError::Yaml(error)) if error.message.contains("unsupported value")
        ));
        assert_eq!(
            to_json(&YamlValue::Float(f64::NAN))
                .err()
                .map(|error| error.to_string()),
            Some("json: unsupported value: NaN".to_string())
        );
    }

    #[test]
    fn malformed_yaml_is_an_error() {
        assert!(matches!(
            read_objects("a: [unclosed\n"),
            Err(ManifestsError::Yaml(_))
        ));
    }
}
