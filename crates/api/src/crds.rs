//! The CustomResourceDefinitions of every kind, as Flux declares them.
//!
//! kube's derive produces the schema from the Rust types; this module makes the result match what
//! Flux's controller-gen CRDs declare:
//! - reconciled kinds default `status` to `{observedGeneration: -1}`, so kstatus sees a new object
//!   as not yet observed (Flux's "status defaults" e2e test);
//! - no `nullable: true` on optional fields (kube adds it for `Option`; Flux's CRDs have none, so
//!   the API server drops a `null` instead of storing it);
//! - `status.conditions` items carry metav1.Condition's validation (patterns, lengths, enum);
//! - the root lists `apiVersion`, `kind` and `metadata`, has no `title` and no `required`, and
//!   is described as controller-gen describes it;
//! - `names.listKind` is set and the CRD is annotated
//!   `kustomize.toolkit.fluxcd.io/substitute: disabled`, as Flux ships them.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSON, JSONSchemaProps, JSONSchemaPropsOrArray,
};
use kube::CustomResourceExt;
use std::collections::BTreeMap;

/// How a kind's CRD differs from the plain derive output, as Flux ships it.
#[derive(Clone, Copy)]
struct Conventions {
    /// `status` defaults to `{observedGeneration: -1}` (kinds whose status has that field).
    status_default: bool,
    /// Annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` (all Flux CRDs but
    /// ImageRepository and ImagePolicy).
    substitute_disabled: bool,
}

const RECONCILED: Conventions = Conventions {
    status_default: true,
    substitute_disabled: true,
};

/// Every CRD Eddy serves, in a stable order.
pub fn all() -> Vec<CustomResourceDefinition> {
    let no_status = Conventions {
        status_default: false,
        substitute_disabled: true,
    };
    let image_reflector = Conventions {
        status_default: true,
        substitute_disabled: false,
    };
    let fluxconfig = Conventions {
        status_default: true,
        substitute_disabled: false,
    };
    let mut crds: Vec<CustomResourceDefinition> = [
        (crate::source::v1::GitRepository::crd(), RECONCILED),
        (crate::source::v1::HelmRepository::crd(), RECONCILED),
        (crate::source::v1::HelmChart::crd(), RECONCILED),
        (crate::source::v1::Bucket::crd(), RECONCILED),
        (crate::source::v1::OCIRepository::crd(), RECONCILED),
        // ExternalArtifact's status has no observedGeneration, so no default either.
        (crate::source::v1::ExternalArtifact::crd(), no_status),
        (crate::kustomize::v1::Kustomization::crd(), RECONCILED),
        (crate::helm::v2::HelmRelease::crd(), RECONCILED),
        (crate::notification::v1beta3::Alert::crd(), no_status),
        (crate::notification::v1beta3::Provider::crd(), no_status),
        (crate::notification::v1::Receiver::crd(), RECONCILED),
        (crate::image::v1::ImageRepository::crd(), image_reflector),
        (crate::image::v1::ImagePolicy::crd(), image_reflector),
        (crate::image::v1::ImageUpdateAutomation::crd(), RECONCILED),
        (
            crate::clusterconfig::v1alpha1::FluxConfig::crd(),
            fluxconfig,
        ),
    ]
    .into_iter()
    .map(|(mut crd, conventions)| {
        match_flux_conventions(&mut crd, &conventions);
        crd
    })
    .collect();
    crds.sort_by(|left, right| {
        left.spec
            .group
            .cmp(&right.spec.group)
            .then(left.spec.names.plural.cmp(&right.spec.names.plural))
    });
    crds
}

/// Applies the controller-gen conventions listed in the module documentation.
fn match_flux_conventions(crd: &mut CustomResourceDefinition, conventions: &Conventions) {
    if conventions.substitute_disabled {
        crd.metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(
                crate::meta::annotations::KUSTOMIZE_SUBSTITUTE.to_string(),
                "disabled".to_string(),
            );
    }
    crd.spec.names.list_kind = Some(format!("{}List", crd.spec.names.kind));
    for version in &mut crd.spec.versions {
        // controller-gen writes `subresources: {}` for kinds without a status subresource.
        version.subresources.get_or_insert_with(Default::default);
    }
    for version in &mut crd.spec.versions {
        let Some(root) = version
            .schema
            .as_mut()
            .and_then(|validation| validation.open_api_v3_schema.as_mut())
        else {
            continue;
        };
        remove_nullable(root);
        root.description = Some(format!(
            "{} is the Schema for the {} API.",
            crd.spec.names.kind, crd.spec.names.plural
        ));
        root.title = None;
        root.required = None;
        let properties = root.properties.get_or_insert_with(BTreeMap::new);
        properties.insert(
            "apiVersion".to_string(),
            string_property(API_VERSION_DESCRIPTION),
        );
        properties.insert("kind".to_string(), string_property(KIND_DESCRIPTION));
        properties.insert(
            "metadata".to_string(),
            JSONSchemaProps {
                type_: Some("object".to_string()),
                ..Default::default()
            },
        );
        if conventions.status_default
            && let Some(status) = properties.get_mut("status")
        {
            status.default = Some(JSON(serde_json::json!({"observedGeneration": -1})));
        }
        if let Some(conditions) = properties
            .get_mut("status")
            .and_then(|status| status.properties.as_mut())
            .and_then(|status| status.get_mut("conditions"))
        {
            conditions.items = Some(JSONSchemaPropsOrArray::Schema(Box::new(condition_schema())));
        }
    }
}

const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object.\nServers should convert recognized schemas to the latest internal value, and\nmay reject unrecognized values.\nMore info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents.\nServers may infer this from the endpoint the client submits requests to.\nCannot be updated.\nIn CamelCase.\nMore info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

fn string_property(description: &str) -> JSONSchemaProps {
    JSONSchemaProps {
        description: Some(description.to_string()),
        type_: Some("string".to_string()),
        ..Default::default()
    }
}

fn remove_nullable(schema: &mut JSONSchemaProps) {
    schema.nullable = None;
    for child in schema
        .properties
        .iter_mut()
        .flat_map(|properties| properties.values_mut())
    {
        remove_nullable(child);
    }
    match &mut schema.items {
        Some(JSONSchemaPropsOrArray::Schema(items)) => remove_nullable(items),
        Some(JSONSchemaPropsOrArray::Schemas(all)) => all.iter_mut().for_each(remove_nullable),
        None => {}
    }
    if let Some(k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrBool::Schema(values)) =
        &mut schema.additional_properties
    {
        remove_nullable(values);
    }
    for group in [&mut schema.all_of, &mut schema.any_of, &mut schema.one_of]
        .into_iter()
        .flatten()
    {
        group.iter_mut().for_each(remove_nullable);
    }
}

/// metav1.Condition with the validation its kubebuilder markers declare.
fn condition_schema() -> JSONSchemaProps {
    let string = |description: &str| string_property(description);
    let mut properties = BTreeMap::new();
    properties.insert(
        "lastTransitionTime".to_string(),
        JSONSchemaProps {
            format: Some("date-time".to_string()),
            ..string("lastTransitionTime is the last time the condition transitioned from one status to another.\nThis should be when the underlying condition changed.  If that is not known, then using the time when the API field changed is acceptable.")
        },
    );
    properties.insert(
        "message".to_string(),
        JSONSchemaProps {
            max_length: Some(32768),
            ..string("message is a human readable message indicating details about the transition.\nThis may be an empty string.")
        },
    );
    properties.insert(
        "observedGeneration".to_string(),
        JSONSchemaProps {
            description: Some("observedGeneration represents the .metadata.generation that the condition was set based upon.\nFor instance, if .metadata.generation is currently 12, but the .status.conditions[x].observedGeneration is 9, the condition is out of date\nwith respect to the current state of the instance.".to_string()),
            format: Some("int64".to_string()),
            minimum: Some(0.0),
            type_: Some("integer".to_string()),
            ..Default::default()
        },
    );
    properties.insert(
        "reason".to_string(),
        JSONSchemaProps {
            max_length: Some(1024),
            min_length: Some(1),
            pattern: Some("^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$".to_string()),
            ..string("reason contains a programmatic identifier indicating the reason for the condition's last transition.\nProducers of specific condition types may define expected values and meanings for this field,\nand whether the values are considered a guaranteed API.\nThe value should be a CamelCase string.\nThis field may not be empty.")
        },
    );
    properties.insert(
        "status".to_string(),
        JSONSchemaProps {
            enum_: Some(
                ["True", "False", "Unknown"]
                    .map(|value| JSON(serde_json::json!(value)))
                    .to_vec(),
            ),
            ..string("status of the condition, one of True, False, Unknown.")
        },
    );
    properties.insert(
        "type".to_string(),
        JSONSchemaProps {
            max_length: Some(316),
            pattern: Some(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$".to_string()),
            ..string("type of condition in CamelCase or in foo.example.com/CamelCase.")
        },
    );
    JSONSchemaProps {
        description: Some(
            "Condition contains details for one aspect of the current state of this API Resource."
                .to_string(),
        ),
        properties: Some(properties),
        required: Some(
            ["lastTransitionTime", "message", "reason", "status", "type"]
                .map(String::from)
                .to_vec(),
        ),
        type_: Some("object".to_string()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(plural: &str) -> CustomResourceDefinition {
        all()
            .into_iter()
            .find(|crd| crd.spec.names.plural == plural)
            .unwrap_or_else(|| panic!("no CRD for {plural}"))
    }

    #[test]
    fn there_is_one_crd_per_kind() {
        let crds = all();
        assert_eq!(crds.len(), 15);
        let names: Vec<_> = crds
            .iter()
            .map(|crd| crd.metadata.name.clone().unwrap_or_default())
            .collect();
        for expected in [
            "gitrepositories.source.toolkit.fluxcd.io",
            "helmrepositories.source.toolkit.fluxcd.io",
            "helmcharts.source.toolkit.fluxcd.io",
            "buckets.source.toolkit.fluxcd.io",
            "ocirepositories.source.toolkit.fluxcd.io",
            "externalartifacts.source.toolkit.fluxcd.io",
            "kustomizations.kustomize.toolkit.fluxcd.io",
            "helmreleases.helm.toolkit.fluxcd.io",
            "alerts.notification.toolkit.fluxcd.io",
            "providers.notification.toolkit.fluxcd.io",
            "receivers.notification.toolkit.fluxcd.io",
            "imagerepositories.image.toolkit.fluxcd.io",
            "imagepolicies.image.toolkit.fluxcd.io",
            "imageupdateautomations.image.toolkit.fluxcd.io",
            "fluxconfigs.clusterconfig.azure.com",
        ] {
            assert!(
                names.iter().any(|name| name == expected),
                "missing {expected}"
            );
        }
    }

    #[test]
    fn reconciled_kinds_default_observed_generation_to_minus_one() {
        let crd = find("gitrepositories");
        let status = crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .and_then(|root| root.properties.as_ref())
            .and_then(|properties| properties.get("status"))
            .and_then(|status| status.default.as_ref())
            .map(|default| default.0.clone());
        assert_eq!(status, Some(serde_json::json!({"observedGeneration": -1})));
    }

    #[test]
    fn alerts_and_providers_have_no_status() {
        for plural in ["alerts", "providers"] {
            let crd = find(plural);
            let version = &crd.spec.versions[0];
            assert_eq!(version.name, "v1beta3");
            assert!(
                version
                    .subresources
                    .as_ref()
                    .and_then(|s| s.status.as_ref())
                    .is_none()
            );
            let has_status = version
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .and_then(|root| root.properties.as_ref())
                .is_some_and(|properties| properties.contains_key("status"));
            assert!(!has_status, "{plural} must have no status");
        }
    }

    fn schema_root(crd: &CustomResourceDefinition) -> &JSONSchemaProps {
        crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("schema")
    }

    fn has_nullable(schema: &JSONSchemaProps) -> bool {
        schema.nullable.is_some()
            || schema
                .properties
                .iter()
                .flat_map(|p| p.values())
                .any(has_nullable)
            || matches!(&schema.items, Some(JSONSchemaPropsOrArray::Schema(items)) if has_nullable(items))
    }

    #[test]
    fn schemas_follow_controller_gen_conventions() {
        for crd in all() {
            let name = crd.metadata.name.clone().unwrap_or_default();
            let root = schema_root(&crd);
            assert!(!has_nullable(root), "{name} has nullable fields");
            assert!(
                root.required.is_none() && root.title.is_none(),
                "{name} root"
            );
            let properties = root.properties.as_ref().expect("properties");
            for key in ["apiVersion", "kind", "metadata", "spec"] {
                assert!(properties.contains_key(key), "{name} lacks {key}");
            }
            assert_eq!(
                crd.spec.names.list_kind,
                Some(format!("{}List", crd.spec.names.kind))
            );
            let annotations = crd.metadata.annotations.clone().unwrap_or_default();
            let substitute = annotations
                .get("kustomize.toolkit.fluxcd.io/substitute")
                .map(String::as_str);
            let expected = match crd.spec.names.kind.as_str() {
                "ImageRepository" | "ImagePolicy" | "FluxConfig" => None,
                _ => Some("disabled"),
            };
            assert_eq!(substitute, expected, "{name}");
        }
    }

    #[test]
    fn condition_items_are_validated_as_metav1_condition() {
        let crd = find("kustomizations");
        let conditions = schema_root(&crd)
            .properties
            .as_ref()
            .and_then(|p| p.get("status"))
            .and_then(|status| status.properties.as_ref())
            .and_then(|p| p.get("conditions"))
            .expect("conditions");
        let Some(JSONSchemaPropsOrArray::Schema(items)) = &conditions.items else {
            panic!("items")
        };
        let reason = items
            .properties
            .as_ref()
            .and_then(|p| p.get("reason"))
            .expect("reason");
        assert_eq!(
            reason.pattern.as_deref(),
            Some("^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
        );
        assert_eq!(items.required.as_ref().map(Vec::len), Some(5));
    }

    #[test]
    fn fluxconfig_is_namespaced_with_short_name_fc() {
        let crd = find("fluxconfigs");
        assert_eq!(crd.spec.group, "clusterconfig.azure.com");
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.versions[0].name, "v1alpha1");
        assert_eq!(crd.spec.names.short_names, Some(vec!["fc".to_string()]));
        let columns: Vec<_> = crd.spec.versions[0]
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|column| column.name.to_uppercase())
            .collect();
        // kubectl prints column names upper-cased.
        assert_eq!(columns, ["SCOPE", "URL", "PROVISION", "AGE"]);
    }
}
