//! Server-side apply through kubectl and kube-rs: managedFields per manager, pruning of fields
//! a manager stops applying, conflicts and forced take-over, dry runs, and moving between
//! client-side and server-side apply.

mod common;

use common::{TestCluster, have_kubectl};
use serde_json::{Value, json};

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels:
    app: web
    tier: frontend
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
        env:
        - name: MODE
          value: production
"#;

fn managers(object: &Value) -> Vec<(String, String)> {
    object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| {
            (
                entry["manager"].as_str().unwrap_or("").to_string(),
                entry["operation"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn fields_of<'a>(object: &'a Value, manager: &str) -> &'a Value {
    object["metadata"]["managedFields"]
        .as_array()
        .and_then(|entries| entries.iter().find(|entry| entry["manager"] == manager))
        .map(|entry| &entry["fieldsV1"])
        .unwrap_or(&Value::Null)
}

#[test]
fn server_side_apply_creates_records_ownership_and_prunes_what_is_no_longer_applied() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    let output = cluster.apply(DEPLOYMENT, &["--server-side"]);
    assert!(
        output.contains("deployment.apps/web serverside-applied"),
        "{output}"
    );
    let deployment = cluster.json(&["get", "deployment", "web", "--show-managed-fields"]);
    assert!(
        managers(&deployment).contains(&("kubectl".to_string(), "Apply".to_string())),
        "{deployment}"
    );
    let fields = fields_of(&deployment, "kubectl");
    assert_eq!(
        fields["f:metadata"]["f:labels"],
        json!({"f:app": {}, "f:tier": {}})
    );
    assert_eq!(fields["f:spec"]["f:replicas"], json!({}));
    assert_eq!(
        fields["f:spec"]["f:selector"],
        json!({}),
        "label selectors are atomic"
    );
    let container =
        &fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"];
    assert_eq!(container["."], json!({}), "{fields}");
    assert_eq!(
        container["f:ports"]["k:{\"containerPort\":80,\"protocol\":\"TCP\"}"]["f:containerPort"],
        json!({}),
        "{fields}"
    );
    assert_eq!(
        container["f:env"]["k:{\"name\":\"MODE\"}"]["f:value"],
        json!({})
    );

    // Re-applying without the tier label and the env var removes both.
    let trimmed = DEPLOYMENT.replace("    tier: frontend\n", "").replace(
        "        env:\n        - name: MODE\n          value: production\n",
        "",
    );
    cluster.apply(&trimmed, &["--server-side"]);
    let deployment = cluster.json(&["get", "deployment", "web"]);
    assert_eq!(deployment["metadata"]["labels"], json!({"app": "web"}));
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert!(container.get("env").is_none(), "{container}");
    assert_eq!(container["image"], "nginx:1.27");
}

#[test]
fn a_second_manager_conflicts_unless_it_forces_and_then_owns_the_field() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    cluster.apply(DEPLOYMENT, &["--server-side"]);
    let scaled = DEPLOYMENT.replace("replicas: 2", "replicas: 5");
    let output = cluster.kubectl_with_input(
        &[
            "apply",
            "--server-side",
            "--field-manager",
            "autoscaler",
            "-f",
            "-",
        ],
        &scaled,
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"),
        "{stderr}"
    );
    assert_eq!(
        cluster.json(&["get", "deployment", "web"])["spec"]["replicas"],
        2
    );
    cluster.apply(
        &scaled,
        &[
            "--server-side",
            "--field-manager",
            "autoscaler",
            "--force-conflicts",
        ],
    );
    let deployment = cluster.json(&["get", "deployment", "web", "--show-managed-fields"]);
    assert_eq!(deployment["spec"]["replicas"], 5);
    assert_eq!(
        fields_of(&deployment, "autoscaler")["f:spec"]["f:replicas"],
        json!({})
    );
    assert!(
        fields_of(&deployment, "kubectl")["f:spec"]
            .get("f:replicas")
            .is_none(),
        "the forced field moved away from kubectl: {deployment}"
    );
    // kubectl no longer owns replicas, so re-applying its old value conflicts with the new owner.
    let output = cluster.kubectl_with_input(&["apply", "--server-side", "-f", "-"], DEPLOYMENT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("conflict with \"autoscaler\": .spec.replicas"),
        "{stderr}"
    );
}

#[test]
fn a_server_dry_run_apply_changes_nothing() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    let output = cluster.apply(DEPLOYMENT, &["--server-side", "--dry-run=server"]);
    assert!(
        output.contains("serverside-applied (server dry run)"),
        "{output}"
    );
    let missing = cluster.fails(&["get", "deployment", "web"]);
    assert!(missing.contains("NotFound"), "{missing}");
    cluster.apply(DEPLOYMENT, &["--server-side"]);
    let before = cluster.json(&["get", "deployment", "web", "--show-managed-fields"]);
    let scaled = DEPLOYMENT.replace("replicas: 2", "replicas: 7");
    cluster.apply(&scaled, &["--server-side", "--dry-run=server"]);
    let after = cluster.json(&["get", "deployment", "web", "--show-managed-fields"]);
    assert_eq!(before, after);
}

#[test]
fn an_update_is_recorded_as_its_own_manager_and_conflicts_with_apply() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    cluster.apply(DEPLOYMENT, &["--server-side"]);
    cluster.ok(&["scale", "deployment", "web", "--replicas=3"]);
    let deployment = cluster.json(&["get", "deployment", "web", "--show-managed-fields"]);
    assert!(
        managers(&deployment).contains(&("kubectl".to_string(), "Update".to_string())),
        "{deployment}"
    );
    let patched = cluster.kubectl(&[
        "patch",
        "deployment",
        "web",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"replicas":4}}"#,
        "--field-manager",
        "kubectl-client-side-apply",
    ]);
    assert!(patched.status.success());
    let output = cluster.kubectl_with_input(&["apply", "--server-side", "-f", "-"], DEPLOYMENT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
        ),
        "{stderr}"
    );
}

#[test]
fn client_side_apply_after_server_side_apply_and_back_behave_as_on_kube_apiserver() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    // Client-side first: the annotation is written and kubectl-client-side-apply owns the fields.
    cluster.apply(DEPLOYMENT, &[]);
    let deployment = cluster.json(&["get", "deployment", "web", "--show-managed-fields"]);
    assert!(
        deployment["metadata"]["annotations"]
            .get("kubectl.kubernetes.io/last-applied-configuration")
            .is_some()
    );
    assert!(
        managers(&deployment).contains(&(
            "kubectl-client-side-apply".to_string(),
            "Update".to_string()
        )),
        "{deployment}"
    );
    // Server-side next, with a changed field: no conflict, because the fields come from the
    // last-applied configuration and nobody changed them since; the annotation follows.
    let scaled = DEPLOYMENT.replace("replicas: 2", "replicas: 3");
    let output = cluster.apply(&scaled, &["--server-side"]);
    assert!(output.contains("serverside-applied"), "{output}");
    let deployment = cluster.json(&["get", "deployment", "web"]);
    assert_eq!(deployment["spec"]["replicas"], 3);
    let annotation =
        deployment["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap_or("");
    let last: Value = serde_json::from_str(annotation).expect("annotation is JSON");
    assert_eq!(last["spec"]["replicas"], 3);
    // And client-side again: the three-way merge against the updated annotation works.
    let again = DEPLOYMENT.replace("replicas: 2", "replicas: 4");
    cluster.apply(&again, &[]);
    let deployment = cluster.json(&["get", "deployment", "web"]);
    assert_eq!(deployment["spec"]["replicas"], 4);
    assert_eq!(deployment["metadata"]["labels"]["tier"], "frontend");
}

#[test]
fn a_status_apply_removes_status_fields_it_stops_applying() {
    use k8s_openapi::api::core::v1::Service;
    use kube::api::{Api, Patch, PatchParams};
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let cluster = TestCluster::start();
    cluster.runtime.block_on(async {
        let kubeconfig =
            Kubeconfig::from_yaml(&cluster.running().kubeconfig()).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("config");
        let client = kube::Client::try_from(config).expect("client");
        let api: Api<Service> = Api::namespaced(client, "default");
        let service = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}}});
        api.patch("web", &PatchParams::apply("owner"), &Patch::Apply(&service))
            .await
            .expect("apply");
        let status = PatchParams::apply("status-writer").force();
        let first = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "status": {
                "loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]},
                "conditions": [
                    {"type": "Ready", "status": "True", "reason": "Up", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"},
                    {"type": "Degraded", "status": "False", "reason": "Fine", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
        api.patch_status("web", &status, &Patch::Apply(&first))
            .await
            .expect("status apply");
        let second = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "status": {"conditions": [
                {"type": "Ready", "status": "False", "reason": "Down", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
        let patched = api
            .patch_status("web", &status, &Patch::Apply(&second))
            .await
            .expect("second status apply");
        let patched = serde_json::to_value(&patched).expect("json");
        assert_eq!(
            patched["status"]["conditions"],
            json!([{"type": "Ready", "status": "False", "reason": "Down", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]),
            "{patched}"
        );
        assert!(
            patched["status"]["loadBalancer"].get("ingress").is_none(),
            "{patched}"
        );
        let entries = patched["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
        let writer = entries
            .iter()
            .find(|entry| entry["manager"] == "status-writer")
            .expect("status-writer entry");
        assert_eq!(writer["subresource"], "status");
        assert_eq!(writer["operation"], "Apply");
        assert_eq!(patched["spec"]["ports"][0]["port"], 80);
        assert_eq!(patched["spec"]["selector"], json!({"app": "web"}));
    });
}

const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              parts:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  properties:
                    name: {type: string}
                    size: {type: integer}
              tags:
                type: array
                x-kubernetes-list-type: set
                items: {type: string}
              args:
                type: array
                items: {type: string}
"#;

fn widget(parts: &str, tags: &str) -> String {
    format!(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: default\nspec:\n  parts: {parts}\n  tags: {tags}\n"
    )
}

#[test]
fn custom_resource_lists_merge_by_their_schema_list_type() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    cluster.apply(WIDGET_CRD, &[]);
    common::eventually(
        "the CRD is served",
        std::time::Duration::from_secs(20),
        || cluster.kubectl(&["get", "widgets"]).status.success(),
    );
    let as_manager = |manager: &str, manifest: &str| {
        let output = cluster.kubectl_with_input(
            &[
                "apply",
                "--server-side",
                "--field-manager",
                manager,
                "-f",
                "-",
            ],
            manifest,
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    as_manager("one", &widget("[{name: a, size: 1}]", "[blue]"));
    as_manager("two", &widget("[{name: b, size: 2}]", "[green]"));
    let object = cluster.json(&["get", "widget", "w", "--show-managed-fields"]);
    assert_eq!(
        object["spec"]["parts"],
        json!([{"name": "a", "size": 1}, {"name": "b", "size": 2}])
    );
    assert_eq!(object["spec"]["tags"], json!(["blue", "green"]));
    assert_eq!(
        fields_of(&object, "two")["f:spec"],
        json!({"f:parts": {"k:{\"name\":\"b\"}": {".": {}, "f:name": {}, "f:size": {}}},
               "f:tags": {"v:\"green\"": {}}})
    );
    // Manager one stops applying its part and tag: they go, manager two's stay.
    as_manager("one", &widget("[]", "[]"));
    let object = cluster.json(&["get", "widget", "w"]);
    assert_eq!(object["spec"]["parts"], json!([{"name": "b", "size": 2}]));
    assert_eq!(object["spec"]["tags"], json!(["green"]));
}

#[test]
fn client_side_apply_after_a_server_side_create_adopts_the_object() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    cluster.apply(DEPLOYMENT, &["--server-side"]);
    let scaled = DEPLOYMENT.replace("replicas: 2", "replicas: 6");
    let output = cluster.kubectl_with_input(&["apply", "-f", "-"], &scaled);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("missing the kubectl.kubernetes.io/last-applied-configuration annotation"),
        "{stderr}"
    );
    let deployment = cluster.json(&["get", "deployment", "web", "--show-managed-fields"]);
    assert_eq!(deployment["spec"]["replicas"], 6);
    assert!(
        deployment["metadata"]["annotations"]
            .get("kubectl.kubernetes.io/last-applied-configuration")
            .is_some()
    );
    assert!(
        managers(&deployment).contains(&(
            "kubectl-client-side-apply".to_string(),
            "Update".to_string()
        )),
        "{deployment}"
    );
}
