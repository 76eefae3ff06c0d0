//! OpenAPI schemas for the built-in kinds, generated from k8s-openapi's types so `kubectl
//! explain` can describe them. Only documentation uses these: built-in objects are not pruned
//! or validated against them.

use k8s_openapi::api;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apiregistration;
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value};

fn reference<T: JsonSchema>(generator: &mut SchemaGenerator) -> String {
    generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

/// Adds the schema of a built-in kind to the generator; returns its schema name.
fn add_kind(
    generator: &mut SchemaGenerator,
    group: &str,
    version: &str,
    kind: &str,
) -> Option<String> {
    Some(match (group, version, kind) {
        ("", "v1", "Namespace") => reference::<api::core::v1::Namespace>(generator),
        ("", "v1", "ConfigMap") => reference::<api::core::v1::ConfigMap>(generator),
        ("", "v1", "Secret") => reference::<api::core::v1::Secret>(generator),
        ("", "v1", "ServiceAccount") => reference::<api::core::v1::ServiceAccount>(generator),
        ("", "v1", "Service") => reference::<api::core::v1::Service>(generator),
        ("", "v1", "Endpoints") => reference::<api::core::v1::Endpoints>(generator),
        ("", "v1", "Pod") => reference::<api::core::v1::Pod>(generator),
        ("", "v1", "Event") => reference::<api::core::v1::Event>(generator),
        ("", "v1", "PersistentVolumeClaim") => {
            reference::<api::core::v1::PersistentVolumeClaim>(generator)
        }
        ("", "v1", "PersistentVolume") => reference::<api::core::v1::PersistentVolume>(generator),
        ("", "v1", "Node") => reference::<api::core::v1::Node>(generator),
        ("events.k8s.io", "v1", "Event") => reference::<api::events::v1::Event>(generator),
        ("apps", "v1", "Deployment") => reference::<api::apps::v1::Deployment>(generator),
        ("apps", "v1", "ReplicaSet") => reference::<api::apps::v1::ReplicaSet>(generator),
        ("apps", "v1", "StatefulSet") => reference::<api::apps::v1::StatefulSet>(generator),
        ("apps", "v1", "DaemonSet") => reference::<api::apps::v1::DaemonSet>(generator),
        ("batch", "v1", "Job") => reference::<api::batch::v1::Job>(generator),
        ("batch", "v1", "CronJob") => reference::<api::batch::v1::CronJob>(generator),
        ("networking.k8s.io", "v1", "Ingress") => {
            reference::<api::networking::v1::Ingress>(generator)
        }
        ("networking.k8s.io", "v1", "IngressClass") => {
            reference::<api::networking::v1::IngressClass>(generator)
        }
        ("networking.k8s.io", "v1", "NetworkPolicy") => {
            reference::<api::networking::v1::NetworkPolicy>(generator)
        }
        ("storage.k8s.io", "v1", "StorageClass") => {
            reference::<api::storage::v1::StorageClass>(generator)
        }
        ("rbac.authorization.k8s.io", "v1", "Role") => reference::<api::rbac::v1::Role>(generator),
        ("rbac.authorization.k8s.io", "v1", "RoleBinding") => {
            reference::<api::rbac::v1::RoleBinding>(generator)
        }
        ("rbac.authorization.k8s.io", "v1", "ClusterRole") => {
            reference::<api::rbac::v1::ClusterRole>(generator)
        }
        ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding") => {
            reference::<api::rbac::v1::ClusterRoleBinding>(generator)
        }
        ("coordination.k8s.io", "v1", "Lease") => {
            reference::<api::coordination::v1::Lease>(generator)
        }
        ("scheduling.k8s.io", "v1", "PriorityClass") => {
            reference::<api::scheduling::v1::PriorityClass>(generator)
        }
        ("autoscaling", "v2", "HorizontalPodAutoscaler") => {
            reference::<api::autoscaling::v2::HorizontalPodAutoscaler>(generator)
        }
        ("autoscaling", "v1", "HorizontalPodAutoscaler") => {
            reference::<api::autoscaling::v1::HorizontalPodAutoscaler>(generator)
        }
        ("policy", "v1", "PodDisruptionBudget") => {
            reference::<api::policy::v1::PodDisruptionBudget>(generator)
        }
        ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration") => {
            reference::<api::admissionregistration::v1::ValidatingWebhookConfiguration>(generator)
        }
        ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration") => {
            reference::<api::admissionregistration::v1::MutatingWebhookConfiguration>(generator)
        }
        ("apiregistration.k8s.io", "v1", "APIService") => {
            reference::<apiregistration::APIService>(generator)
        }
        ("apiextensions.k8s.io", "v1", "CustomResourceDefinition") => {
            reference::<apiextensions::CustomResourceDefinition>(generator)
        }
        _ => return None,
    })
}

/// The schemas for built-in kinds of one group-version: every definition they reference, and
/// for each kind the name of its own schema.
pub(crate) fn schemas(
    group: &str,
    version: &str,
    kinds: &[&str],
) -> (Map<String, Value>, Vec<(String, String)>) {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let names: Vec<(String, String)> = kinds
        .iter()
        .filter_map(|kind| {
            Some((
                kind.to_string(),
                add_kind(&mut generator, group, version, kind)?,
            ))
        })
        .collect();
    (generator.take_definitions(true), names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_schemas_describe_the_spec_and_reference_the_pod_template() {
        let (definitions, names) = schemas("apps", "v1", &["Deployment"]);
        assert_eq!(
            names,
            vec![(
                "Deployment".to_string(),
                "io.k8s.api.apps.v1.Deployment".to_string()
            )]
        );
        let deployment = &definitions["io.k8s.api.apps.v1.Deployment"];
        assert!(deployment["properties"]["spec"].is_object());
        assert!(definitions.contains_key("io.k8s.api.core.v1.PodTemplateSpec"));
        let text = serde_json::to_string(deployment).unwrap_or_default();
        assert!(text.contains("#/components/schemas/"), "{text}");
    }
}
