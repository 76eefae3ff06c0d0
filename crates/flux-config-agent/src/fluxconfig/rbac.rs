//! Multi-tenancy as Azure's extension does it: a `flux-applier` ServiceAccount in the
//! configuration namespace, bound to `cluster-admin` cluster-wide (`scope: cluster`) or in
//! its namespace only (`scope: namespace`). The generated Kustomizations impersonate it.
//!
//! The account and its bindings are shared by every configuration of a namespace, so they
//! carry only the `is-managed` label and are removed with the last configuration needing them.

use eddy_api::clusterconfig::v1alpha1::{
    FLUX_APPLIER_CLUSTER_ROLE, FLUX_APPLIER_SERVICE_ACCOUNT, flux_applier_cluster_role_binding_name,
};
use eddy_api::meta::labels::CLUSTERCONFIG_IS_MANAGED;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use kube::api::ApiResource;
use serde_json::{Value, json};

use super::objects::{ObjectError, Objects};

/// The RBAC objects a namespace's `flux-applier` needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    /// A ClusterRoleBinding (some configuration of the namespace has `scope: cluster`).
    pub cluster: bool,
    /// A RoleBinding (some configuration has `scope: namespace`).
    pub namespace: bool,
}

fn labels() -> Value {
    json!({ CLUSTERCONFIG_IS_MANAGED: "true" })
}

fn subjects(namespace: &str) -> Value {
    json!([{"kind": "ServiceAccount", "name": FLUX_APPLIER_SERVICE_ACCOUNT, "namespace": namespace}])
}

fn role_ref() -> Value {
    json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": FLUX_APPLIER_CLUSTER_ROLE})
}

/// The ServiceAccount.
pub fn service_account(namespace: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": FLUX_APPLIER_SERVICE_ACCOUNT, "namespace": namespace, "labels": labels()},
    })
}

/// The ClusterRoleBinding `flux-applier-<namespace>` (scope cluster).
pub fn cluster_role_binding(namespace: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": flux_applier_cluster_role_binding_name(namespace), "labels": labels()},
        "roleRef": role_ref(),
        "subjects": subjects(namespace),
    })
}

/// The RoleBinding `flux-applier` in the namespace (scope namespace).
pub fn role_binding(namespace: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": FLUX_APPLIER_SERVICE_ACCOUNT, "namespace": namespace, "labels": labels()},
        "roleRef": role_ref(),
        "subjects": subjects(namespace),
    })
}

fn resources() -> (ApiResource, ApiResource, ApiResource) {
    (
        ApiResource::erase::<ServiceAccount>(&()),
        ApiResource::erase::<ClusterRoleBinding>(&()),
        ApiResource::erase::<RoleBinding>(&()),
    )
}

/// Creates or updates what `cluster_scope` asks for in `namespace`.
pub async fn ensure(
    objects: &Objects,
    namespace: &str,
    cluster_scope: bool,
) -> Result<(), ObjectError> {
    let (account, cluster_binding, binding) = resources();
    objects
        .apply(
            &account,
            Some(namespace),
            FLUX_APPLIER_SERVICE_ACCOUNT,
            &service_account(namespace),
        )
        .await?;
    if cluster_scope {
        objects
            .apply(
                &cluster_binding,
                None,
                &flux_applier_cluster_role_binding_name(namespace),
                &cluster_role_binding(namespace),
            )
            .await
    } else {
        objects
            .apply(
                &binding,
                Some(namespace),
                FLUX_APPLIER_SERVICE_ACCOUNT,
                &role_binding(namespace),
            )
            .await
    }
}

/// Deletes what the remaining configurations of `namespace` no longer need; returns the
/// objects still present that should be gone (to wait for).
pub async fn release(
    objects: &Objects,
    namespace: &str,
    needs: Needs,
) -> Result<Vec<String>, ObjectError> {
    let (account, cluster_binding, binding) = resources();
    let binding_name = flux_applier_cluster_role_binding_name(namespace);
    let mut remaining = Vec::new();
    if !needs.cluster {
        objects
            .delete(&cluster_binding, None, &binding_name)
            .await?;
        if objects
            .get(&cluster_binding, None, &binding_name)
            .await?
            .is_some()
        {
            remaining.push(format!("ClusterRoleBinding/{binding_name}"));
        }
    }
    if !needs.namespace {
        objects
            .delete(&binding, Some(namespace), FLUX_APPLIER_SERVICE_ACCOUNT)
            .await?;
        if objects
            .get(&binding, Some(namespace), FLUX_APPLIER_SERVICE_ACCOUNT)
            .await?
            .is_some()
        {
            remaining.push(format!("RoleBinding/{FLUX_APPLIER_SERVICE_ACCOUNT}"));
        }
    }
    if !needs.cluster && !needs.namespace {
        objects
            .delete(&account, Some(namespace), FLUX_APPLIER_SERVICE_ACCOUNT)
            .await?;
        if objects
            .get(&account, Some(namespace), FLUX_APPLIER_SERVICE_ACCOUNT)
            .await?
            .is_some()
        {
            remaining.push(format!("ServiceAccount/{FLUX_APPLIER_SERVICE_ACCOUNT}"));
        }
    }
    Ok(remaining)
}
