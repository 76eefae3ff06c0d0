//! The inventory of applied objects recorded in `status.inventory` by Kustomization and
//! HelmRelease, and the object id format its entries use (`<namespace>_<name>_<group>_<kind>`,
//! as `sigs.k8s.io/cli-utils` `ObjMetadata` writes it).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The objects applied by the last successful reconciliation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResourceInventory {
    /// One entry per applied object.
    pub entries: Vec<ResourceRef>,
}

/// An applied object: its id and the API version it was applied with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResourceRef {
    /// `<namespace>_<name>_<group>_<kind>`; the namespace is empty for cluster-scoped objects.
    pub id: String,
    /// API version of the object's kind, e.g. `v1`.
    #[serde(rename = "v")]
    pub version: String,
}

/// The identity of an object in an inventory: namespace, name, group and kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId {
    /// Namespace, empty for cluster-scoped objects.
    pub namespace: String,
    /// Name of the object.
    pub name: String,
    /// API group, empty for the core group.
    pub group: String,
    /// Kind of the object.
    pub kind: String,
}

/// Separator between the fields of an inventory id; it cannot occur in names.
const FIELD_SEPARATOR: char = '_';
/// How a `:` in an RBAC object's name is written in an inventory id.
const COLON_TRANSCODED: &str = "__";
/// The RBAC kinds whose names may contain `:` and are therefore transcoded.
const RBAC_KINDS: [&str; 4] = ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"];
/// API group of the RBAC kinds.
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// An inventory id that does not have the four `_`-separated fields.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidObjectId {
    /// Fewer than four fields.
    #[error("unable to parse stored object metadata: {0}")]
    MissingFields(String),
    /// The name field still contains a separator after decoding.
    #[error("too many fields within: {0}")]
    TooManyFields(String),
}

impl ObjectId {
    /// Builds an id from its parts.
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        group: impl Into<String>,
        kind: impl Into<String>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            group: group.into(),
            kind: kind.into(),
        }
    }

    /// The inventory id string. Colons in names are written as `__` only for RBAC kinds, the
    /// only kinds whose names may hold them; cli-utils does the same, so ids match Flux's.
    pub fn to_id(&self) -> String {
        let is_rbac = self.group == RBAC_GROUP && RBAC_KINDS.contains(&self.kind.as_str());
        let name = if is_rbac {
            self.name.replace(':', COLON_TRANSCODED)
        } else {
            self.name.clone()
        };
        format!(
            "{}{FIELD_SEPARATOR}{name}{FIELD_SEPARATOR}{}{FIELD_SEPARATOR}{}",
            self.namespace, self.group, self.kind
        )
    }

    /// Parses an inventory id: the namespace is everything before the first `_`, kind and group
    /// the last two `_`-separated fields, and the name what remains with `__` decoded to `:`.
    pub fn parse(id: &str) -> Result<Self, InvalidObjectId> {
        let missing = || InvalidObjectId::MissingFields(id.to_string());
        let (namespace, rest) = id.split_once(FIELD_SEPARATOR).ok_or_else(missing)?;
        let (rest, kind) = rest.rsplit_once(FIELD_SEPARATOR).ok_or_else(missing)?;
        let (name, group) = rest.rsplit_once(FIELD_SEPARATOR).ok_or_else(missing)?;
        let name = name.replace(COLON_TRANSCODED, ":");
        if name.contains(FIELD_SEPARATOR) {
            return Err(InvalidObjectId::TooManyFields(id.to_string()));
        }
        Ok(Self::new(namespace, name, group, kind))
    }
}

impl std::fmt::Display for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_id())
    }
}

impl ResourceRef {
    /// The parsed identity of this entry.
    pub fn object_id(&self) -> Result<ObjectId, InvalidObjectId> {
        ObjectId::parse(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced_object_id_has_four_fields() {
        let id = ObjectId::new("apps", "podinfo", "apps", "Deployment");
        assert_eq!(id.to_id(), "apps_podinfo_apps_Deployment");
        assert_eq!(ObjectId::parse("apps_podinfo_apps_Deployment"), Ok(id));
    }

    #[test]
    fn core_and_cluster_scoped_objects_leave_fields_empty() {
        let namespace = ObjectId::new("", "apps", "", "Namespace");
        assert_eq!(namespace.to_id(), "_apps__Namespace");
        assert_eq!(ObjectId::parse("_apps__Namespace"), Ok(namespace));
        let config_map = ObjectId::new("default", "settings", "", "ConfigMap");
        assert_eq!(config_map.to_id(), "default_settings__ConfigMap");
        assert_eq!(
            ObjectId::parse("default_settings__ConfigMap"),
            Ok(config_map)
        );
    }

    #[test]
    fn colons_in_rbac_names_are_written_as_double_underscores() {
        let role = ObjectId::new(
            "",
            "system:controller:flux",
            "rbac.authorization.k8s.io",
            "ClusterRole",
        );
        let id = role.to_id();
        assert_eq!(
            id,
            "_system__controller__flux_rbac.authorization.k8s.io_ClusterRole"
        );
        assert_eq!(ObjectId::parse(&id), Ok(role));
    }

    #[test]
    fn ids_with_too_few_fields_are_rejected() {
        for id in ["", "podinfo", "apps_podinfo", "apps_podinfo_Deployment"] {
            assert!(
                matches!(ObjectId::parse(id), Err(InvalidObjectId::MissingFields(_))),
                "{id} should not parse"
            );
        }
    }

    #[test]
    fn ids_with_extra_fields_are_rejected() {
        assert_eq!(
            ObjectId::parse("apps_pod_info_apps_Deployment"),
            Err(InvalidObjectId::TooManyFields(
                "apps_pod_info_apps_Deployment".to_string()
            ))
        );
    }
}
