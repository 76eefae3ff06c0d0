//! RBAC and impersonation: the kubeconfig's token is the administrator; requests impersonating
//! a user, service account or group are authorized by Roles, ClusterRoles and their bindings,
//! and denials carry kube-apiserver's exact 403 Status.

mod common;

use common::{TestCluster, have_kubectl};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Client;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

const SETUP: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: team-a
---
apiVersion: v1
kind: Namespace
metadata:
  name: team-b
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: team-a
data:
  key: value
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: team-b
data:
  key: value
"#;

const ROLE_BINDING: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: configmap-reader
  namespace: team-a
rules:
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: deployer-reads-configmaps
  namespace: team-a
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: configmap-reader
subjects:
- kind: ServiceAccount
  name: deployer
  namespace: team-a
"#;

fn client_as(cluster: &TestCluster, user: &str, groups: &[&str]) -> Client {
    cluster.runtime.block_on(async {
        let kubeconfig =
            Kubeconfig::from_yaml(&cluster.running().kubeconfig()).expect("kubeconfig parses");
        let mut config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .expect("config");
        config.auth_info.impersonate = Some(user.to_string());
        if !groups.is_empty() {
            config.auth_info.impersonate_groups =
                Some(groups.iter().map(|group| group.to_string()).collect());
        }
        Client::try_from(config).expect("client")
    })
}

fn forbidden_status(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(response) => *response,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[test]
fn a_service_account_without_a_binding_gets_kube_apiservers_exact_403() {
    let cluster = TestCluster::start();
    cluster.apply(SETUP, &[]);
    let client = client_as(&cluster, "system:serviceaccount:team-a:deployer", &[]);
    let config_maps: Api<ConfigMap> = Api::namespaced(client, "team-a");
    let error = cluster
        .runtime
        .block_on(config_maps.get("settings"))
        .expect_err("denied");
    let status = forbidden_status(error);
    assert_eq!(status.code, 403);
    assert_eq!(status.reason, "Forbidden");
    assert_eq!(
        status.message,
        "configmaps \"settings\" is forbidden: User \"system:serviceaccount:team-a:deployer\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"team-a\""
    );

    // The raw body, byte for byte as kube-apiserver writes it.
    let client = client_as(&cluster, "system:serviceaccount:team-a:deployer", &[]);
    let body = cluster.runtime.block_on(async {
        use http_body_util::BodyExt;
        let request = http::Request::get("/apis/apps/v1/namespaces/team-a/deployments/web")
            .body(kube::client::Body::empty())
            .expect("request");
        let response = client.send(request).await.expect("response");
        assert_eq!(response.status(), 403);
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        String::from_utf8(bytes.to_vec()).expect("UTF-8")
    });
    assert_eq!(
        body,
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \"web\" is forbidden: User \"system:serviceaccount:team-a:deployer\" cannot get resource \"deployments\" in API group \"apps\" in the namespace \"team-a\"","reason":"Forbidden","details":{"name":"web","group":"apps","kind":"deployments"},"code":403}"#
    );
}

#[test]
fn a_role_binding_allows_its_namespace_and_nothing_else() {
    let cluster = TestCluster::start();
    cluster.apply(SETUP, &[]);
    cluster.apply(ROLE_BINDING, &[]);
    let client = client_as(&cluster, "system:serviceaccount:team-a:deployer", &[]);
    let team_a: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    let team_b: Api<ConfigMap> = Api::namespaced(client.clone(), "team-b");
    cluster.runtime.block_on(async {
        let settings = team_a.get("settings").await.expect("allowed in team-a");
        assert_eq!(settings.data.unwrap_or_default()["key"], "value");
        assert_eq!(team_a.list(&Default::default()).await.expect("list").items.len(), 1);
        let created: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "new"}}))
            .expect("config map");
        team_a
            .create(&PostParams::default(), &created)
            .await
            .expect("create allowed in team-a");
        let denied = forbidden_status(team_b.get("settings").await.expect_err("denied in team-b"));
        assert_eq!(
            denied.message,
            "configmaps \"settings\" is forbidden: User \"system:serviceaccount:team-a:deployer\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"team-b\""
        );
        let denied = forbidden_status(
            team_a
                .delete("settings", &Default::default())
                .await
                .expect_err("delete is not granted"),
        );
        assert_eq!(denied.code, 403);
    });
}

#[test]
fn a_cluster_role_binding_to_cluster_admin_allows_cluster_scoped_creates() {
    let cluster = TestCluster::start();
    let client = client_as(
        &cluster,
        "system:serviceaccount:flux-system:kustomize-controller",
        &[],
    );
    let namespaces: Api<Namespace> = Api::all(client);
    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "tenant"}})).expect("namespace");
    let denied = forbidden_status(
        cluster
            .runtime
            .block_on(namespaces.create(&PostParams::default(), &namespace))
            .expect_err("denied before the binding"),
    );
    assert_eq!(
        denied.message,
        "namespaces is forbidden: User \"system:serviceaccount:flux-system:kustomize-controller\" cannot create resource \"namespaces\" in API group \"\" at the cluster scope"
    );
    cluster.apply(
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: kustomize-controller-admin
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: ServiceAccount
  name: kustomize-controller
  namespace: flux-system
"#,
        &[],
    );
    cluster
        .runtime
        .block_on(namespaces.create(&PostParams::default(), &namespace))
        .expect("allowed after the binding");
}

#[test]
fn impersonated_groups_are_matched_by_group_subjects() {
    let cluster = TestCluster::start();
    cluster.apply(SETUP, &[]);
    cluster.apply(
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: viewers
  namespace: team-b
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: view
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: Group
  name: auditors
"#,
        &[],
    );
    let auditor = client_as(&cluster, "alice", &["auditors"]);
    let outsider = client_as(&cluster, "bob", &["developers"]);
    cluster.runtime.block_on(async {
        let as_auditor: Api<ConfigMap> = Api::namespaced(auditor.clone(), "team-b");
        as_auditor
            .get("settings")
            .await
            .expect("auditors may view team-b");
        let writing = as_auditor
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "x"}})).expect("cm"),
            )
            .await
            .expect_err("view does not allow create");
        assert_eq!(forbidden_status(writing).code, 403);
        let as_outsider: Api<ConfigMap> = Api::namespaced(outsider, "team-b");
        let denied = forbidden_status(as_outsider.get("settings").await.expect_err("denied"));
        assert!(
            denied.message.contains("User \"bob\" cannot get"),
            "{}",
            denied.message
        );
    });
}

#[test]
fn kubectl_as_a_service_account_is_denied_then_allowed_and_discovery_stays_open() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    cluster.apply(SETUP, &[]);
    let as_deployer = ["--as", "system:serviceaccount:team-a:deployer"];
    let mut arguments = vec!["get", "configmap", "settings", "-n", "team-a"];
    arguments.extend_from_slice(&as_deployer);
    let stderr = cluster.fails(&arguments);
    assert!(
        stderr.contains(
            "Error from server (Forbidden): configmaps \"settings\" is forbidden: User \"system:serviceaccount:team-a:deployer\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"team-a\""
        ),
        "{stderr}"
    );
    cluster.apply(ROLE_BINDING, &[]);
    let stdout = cluster.ok(&arguments);
    assert!(stdout.contains("settings"), "{stdout}");
    let mut other = vec!["get", "configmap", "settings", "-n", "team-b"];
    other.extend_from_slice(&as_deployer);
    cluster.fails(&other);
    let mut can_i = vec!["auth", "can-i", "list", "configmaps", "-n", "team-a"];
    can_i.extend_from_slice(&as_deployer);
    assert_eq!(cluster.ok(&can_i).trim(), "yes");
    let mut version = vec!["version", "-o", "json"];
    version.extend_from_slice(&as_deployer);
    cluster.ok(&version);
    let mut resources = vec!["api-resources", "--api-group", "apps"];
    resources.extend_from_slice(&as_deployer);
    assert!(cluster.ok(&resources).contains("deployments"));
}

#[test]
fn an_apply_that_would_create_needs_create_as_well_as_patch() {
    use kube::api::{Patch, PatchParams};
    let cluster = TestCluster::start();
    cluster.apply(SETUP, &[]);
    cluster.apply(
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: patcher
  namespace: team-a
rules:
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "patch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: patcher
  namespace: team-a
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: patcher
subjects:
- kind: ServiceAccount
  name: deployer
  namespace: team-a
"#,
        &[],
    );
    let client = client_as(&cluster, "system:serviceaccount:team-a:deployer", &[]);
    let config_maps: Api<ConfigMap> = Api::namespaced(client, "team-a");
    let params = PatchParams::apply("deployer").force();
    cluster.runtime.block_on(async {
        let existing = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings"}, "data": {"key": "changed"}});
        config_maps
            .patch("settings", &params, &Patch::Apply(&existing))
            .await
            .expect("applying to an existing object needs only patch");
        let new = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "fresh"}, "data": {"key": "value"}});
        let denied = forbidden_status(
            config_maps
                .patch("fresh", &params, &Patch::Apply(&new))
                .await
                .expect_err("creating needs create"),
        );
        assert_eq!(
            denied.message,
            "configmaps \"fresh\" is forbidden: User \"system:serviceaccount:team-a:deployer\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"team-a\""
        );
    });
}
