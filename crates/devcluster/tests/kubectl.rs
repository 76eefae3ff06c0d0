//! The acceptance list from issue 3, driven through the machine's real `kubectl`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::{TestCluster, eventually, have_kubectl};

const APP: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
spec:
  selector: {app: web}
  ports:
  - port: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: demo
  labels: {tier: config}
data:
  greeting: hello
"#;

const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: string, jsonPath: .spec.size}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: string, enum: [small, large]}
              replicas: {type: integer, minimum: 1, maximum: 10, default: 1}
          status:
            type: object
            properties:
              conditions:
                type: array
                items: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

fn cluster_with_app() -> TestCluster {
    // These tests read workload status as the API server alone leaves it (`0/2` ready), so
    // the workload simulator (tests/simulator.rs) stays off.
    let cluster =
        TestCluster::start_with(eddy_devcluster::DevCluster::builder().simulate_workloads(false));
    cluster.ok(&["create", "namespace", "demo"]);
    let applied = cluster.apply(APP, &[]);
    assert!(applied.contains("deployment.apps/web created"), "{applied}");
    assert!(applied.contains("service/web created"), "{applied}");
    assert!(applied.contains("configmap/settings created"), "{applied}");
    cluster
}

#[test]
fn applying_the_same_manifests_again_changes_nothing() {
    if !have_kubectl() {
        return;
    }
    let cluster = cluster_with_app();
    let before = cluster.json(&["get", "deployment", "web", "-n", "demo"]);
    let again = cluster.apply(APP, &[]);
    assert!(again.contains("deployment.apps/web unchanged"), "{again}");
    assert!(again.contains("service/web unchanged"), "{again}");
    assert!(again.contains("configmap/settings unchanged"), "{again}");
    let after = cluster.json(&["get", "deployment", "web", "-n", "demo"]);
    assert_eq!(
        before["metadata"]["resourceVersion"],
        after["metadata"]["resourceVersion"]
    );
    assert_eq!(after["metadata"]["generation"], 1);
}

#[test]
fn changed_manifests_are_applied_with_a_strategic_merge() {
    if !have_kubectl() {
        return;
    }
    let cluster = cluster_with_app();
    let changed = APP.replace("nginx:1.27", "nginx:1.28");
    let output = cluster.apply(&changed, &[]);
    assert!(
        output.contains("deployment.apps/web configured"),
        "{output}"
    );
    let deployment = cluster.json(&["get", "deployment", "web", "-n", "demo"]);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx:1.28");
    assert_eq!(container["ports"][0]["containerPort"], 80);
    assert_eq!(deployment["metadata"]["generation"], 2);
}

#[test]
fn a_strategic_patch_merges_env_by_name_and_keeps_the_other_containers_fields() {
    if !have_kubectl() {
        return;
    }
    let cluster = cluster_with_app();
    let patch = |env: &str| {
        format!(
            r#"{{"spec":{{"template":{{"spec":{{"containers":[{{"name":"web","env":{env}}}]}}}}}}}}"#
        )
    };
    for env in [
        r#"[{"name":"MODE","value":"dev"},{"name":"LEVEL","value":"1"}]"#,
        r#"[{"name":"LEVEL","value":"2"}]"#,
    ] {
        cluster.ok(&[
            "patch",
            "deployment",
            "web",
            "-n",
            "demo",
            "--type",
            "strategic",
            "-p",
            &patch(env),
        ]);
    }
    let deployment = cluster.json(&["get", "deployment", "web", "-n", "demo"]);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["env"],
        serde_json::json!([{"name": "MODE", "value": "dev"}, {"name": "LEVEL", "value": "2"}]),
        "env entries merge by name"
    );
    assert_eq!(
        container["image"], "nginx:1.27",
        "the rest of the container stays"
    );
    assert_eq!(container["ports"][0]["containerPort"], 80);
}

#[test]
fn get_prints_yaml_json_and_tables() {
    if !have_kubectl() {
        return;
    }
    let cluster = cluster_with_app();
    let yaml = cluster.ok(&["get", "configmap", "settings", "-n", "demo", "-o", "yaml"]);
    assert!(yaml.contains("greeting: hello"), "{yaml}");
    assert!(yaml.contains("kind: ConfigMap"), "{yaml}");
    let object = cluster.json(&["get", "configmap", "settings", "-n", "demo"]);
    assert!(
        object["metadata"]["uid"]
            .as_str()
            .is_some_and(|uid| uid.len() == 36)
    );
    assert!(object["metadata"]["creationTimestamp"].is_string());
    let table = cluster.ok(&["get", "deployments,services,configmaps", "-n", "demo"]);
    assert!(table.contains("READY"), "{table}");
    assert!(table.contains("0/2"), "{table}");
    assert!(table.contains("CLUSTER-IP"), "{table}");
    assert!(table.contains("80/TCP"), "{table}");
    assert!(table.contains("settings"), "{table}");
    let all = cluster.ok(&["get", "all", "-n", "demo"]);
    assert!(all.contains("deployment.apps/web"), "{all}");
    assert!(all.contains("service/web"), "{all}");
}

#[test]
fn get_watch_sees_an_update_to_an_existing_object() {
    if !have_kubectl() {
        return;
    }
    let cluster = cluster_with_app();
    let mut child = cluster
        .command()
        .args(["get", "deployment", "web", "-n", "demo", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kubectl get -w");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_sender.send(line).is_err() {
                break;
            }
        }
    });
    let first = lines
        .recv_timeout(Duration::from_secs(20))
        .expect("header line");
    assert!(first.contains("READY"), "{first}");
    let row = lines.recv_timeout(Duration::from_secs(20)).expect("row");
    assert!(row.contains("0/2"), "{row}");
    cluster.ok(&["scale", "deployment", "web", "-n", "demo", "--replicas=5"]);
    let mut seen = Vec::new();
    let updated = loop {
        match lines.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.contains("0/5") => break true,
            Ok(line) => seen.push(line),
            Err(_) => break false,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(updated, "no updated row in {seen:?}");
}

#[test]
fn labels_annotations_patches_and_scale_behave_like_kube_apiserver() {
    if !have_kubectl() {
        return;
    }
    let cluster = cluster_with_app();
    cluster.ok(&["label", "configmap", "settings", "-n", "demo", "color=blue"]);
    let labelled = cluster.json(&["get", "configmap", "settings", "-n", "demo"]);
    assert_eq!(labelled["metadata"]["labels"]["color"], "blue");

    cluster.ok(&["annotate", "deployment", "web", "-n", "demo", "note=hello"]);
    let annotated = cluster.json(&["get", "deployment", "web", "-n", "demo"]);
    assert_eq!(annotated["metadata"]["annotations"]["note"], "hello");
    assert_eq!(
        annotated["metadata"]["generation"], 1,
        "annotations must not bump generation"
    );

    cluster.ok(&[
        "patch",
        "configmap",
        "settings",
        "-n",
        "demo",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"greeting":"hi"}}"#,
    ]);
    cluster.ok(&[
        "patch",
        "configmap",
        "settings",
        "-n",
        "demo",
        "--type",
        "json",
        "-p",
        r#"[{"op":"add","path":"/data/extra","value":"1"}]"#,
    ]);
    let patched = cluster.json(&["get", "configmap", "settings", "-n", "demo"]);
    assert_eq!(patched["data"]["greeting"], "hi");
    assert_eq!(patched["data"]["extra"], "1");

    let failed = cluster.fails(&[
        "patch",
        "configmap",
        "settings",
        "-n",
        "demo",
        "--type",
        "json",
        "-p",
        r#"[{"op":"remove","path":"/data/missing"}]"#,
    ]);
    assert!(
        failed.contains("the server rejected our request"),
        "{failed}"
    );

    cluster.ok(&["scale", "deployment", "web", "-n", "demo", "--replicas=3"]);
    let scaled = cluster.json(&["get", "deployment", "web", "-n", "demo"]);
    assert_eq!(scaled["spec"]["replicas"], 3);
    assert_eq!(scaled["metadata"]["generation"], 2);
}

#[test]
fn label_and_field_selectors_filter_lists() {
    if !have_kubectl() {
        return;
    }
    let cluster = cluster_with_app();
    cluster.ok(&[
        "create",
        "configmap",
        "other",
        "-n",
        "demo",
        "--from-literal=a=b",
    ]);
    let names = |arguments: &[&str]| {
        let mut full = vec!["get", "configmaps", "-n", "demo", "-o", "name"];
        full.extend_from_slice(arguments);
        let mut names: Vec<String> = cluster.ok(&full).lines().map(str::to_string).collect();
        names.sort();
        names
    };
    assert_eq!(names(&["-l", "tier=config"]), vec!["configmap/settings"]);
    assert_eq!(
        names(&["-l", "tier in (config,other)"]),
        vec!["configmap/settings"]
    );
    assert_eq!(names(&["-l", "!tier"]), vec!["configmap/other"]);
    assert_eq!(names(&["-l", "tier!=config"]), vec!["configmap/other"]);
    assert_eq!(
        names(&["--field-selector", "metadata.name=other"]),
        vec!["configmap/other"]
    );
    assert_eq!(
        names(&["--field-selector", "metadata.name!=other"]),
        vec!["configmap/settings"]
    );
    let unsupported = cluster.fails(&["get", "configmaps", "--field-selector", "data.a=b"]);
    assert!(
        unsupported.contains("field label not supported"),
        "{unsupported}"
    );
    let paged = cluster.ok(&[
        "get",
        "configmaps",
        "-n",
        "demo",
        "--chunk-size=1",
        "-o",
        "name",
    ]);
    assert_eq!(paged.lines().count(), 2, "{paged}");
}

#[test]
fn custom_resources_are_established_defaulted_pruned_validated_and_printed() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    cluster.apply(WIDGET_CRD, &[]);
    cluster.ok(&[
        "wait",
        "--for",
        "condition=Established",
        "crd/widgets.example.com",
        "--timeout=30s",
    ]);
    let widget = r#"
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1}
spec: {size: small, bogus: dropped}
"#;
    let strict = cluster.kubectl_with_input(&["apply", "-f", "-"], widget);
    assert!(
        !strict.status.success(),
        "unknown field accepted under Strict"
    );
    let message = String::from_utf8_lossy(&strict.stderr);
    assert!(message.contains("unknown field"), "{message}");

    cluster.apply(widget, &["--validate=false"]);
    let stored = cluster.json(&["get", "widget", "w1"]);
    assert_eq!(stored["spec"]["size"], "small");
    assert_eq!(stored["spec"]["replicas"], 1, "default applied");
    assert!(
        stored["spec"].get("bogus").is_none(),
        "unknown field pruned"
    );

    let invalid = cluster.kubectl_with_input(
        &["apply", "-f", "-"],
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w2}\nspec: {size: huge, replicas: 20}\n",
    );
    assert!(!invalid.status.success());
    let message = String::from_utf8_lossy(&invalid.stderr);
    assert!(message.contains("Unsupported value: \"huge\""), "{message}");
    assert!(message.contains("less than or equal to 10"), "{message}");

    cluster.ok(&[
        "patch",
        "widget",
        "w1",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"spec":{"size":"large"},"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#,
    ]);
    let after_status = cluster.json(&["get", "wd", "w1"]);
    assert_eq!(after_status["status"]["conditions"][0]["status"], "True");
    assert_eq!(
        after_status["spec"]["size"], "small",
        "status writes ignore spec"
    );
    assert_eq!(after_status["metadata"]["generation"], 1);

    cluster.ok(&[
        "patch",
        "widget",
        "w1",
        "--type=merge",
        "-p",
        r#"{"spec":{"size":"large"},"status":{"conditions":[]}}"#,
    ]);
    let after_main = cluster.json(&["get", "widget", "w1"]);
    assert_eq!(after_main["spec"]["size"], "large");
    assert_eq!(
        after_main["status"]["conditions"][0]["type"], "Ready",
        "main writes ignore status"
    );
    assert_eq!(after_main["metadata"]["generation"], 2);

    let table = cluster.ok(&["get", "widgets"]);
    let header = table.lines().next().unwrap_or_default();
    for column in ["NAME", "SIZE", "REPLICAS", "READY"] {
        assert!(header.contains(column), "{table}");
    }
    let row = table.lines().nth(1).unwrap_or_default();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells, vec!["w1", "large", "1", "True"], "{table}");

    cluster.ok(&["delete", "crd", "widgets.example.com", "--timeout=30s"]);
    let crd_gone = cluster.fails(&["get", "crd", "widgets.example.com"]);
    assert!(crd_gone.contains("NotFound"), "{crd_gone}");
    let raw = cluster.fails(&[
        "get",
        "--raw",
        "/apis/example.com/v1/namespaces/default/widgets",
    ]);
    assert!(
        raw.contains("NotFound") || raw.contains("not found"),
        "{raw}"
    );
}

#[test]
fn an_object_with_a_finalizer_waits_for_it_to_be_removed() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    cluster.apply(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\n",
        &[],
    );
    cluster.ok(&["delete", "configmap", "held", "--wait=false"]);
    let deleting = cluster.json(&["get", "configmap", "held"]);
    assert!(deleting["metadata"]["deletionTimestamp"].is_string());
    cluster.ok(&[
        "patch",
        "configmap",
        "held",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ]);
    let gone = cluster.fails(&["get", "configmap", "held"]);
    assert!(gone.contains("NotFound"), "{gone}");
}

#[test]
fn dependents_are_garbage_collected_with_their_owner() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    cluster.ok(&["create", "configmap", "owner", "--from-literal=a=b"]);
    let owner = cluster.json(&["get", "configmap", "owner"]);
    let uid = owner["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let child = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: child\n  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: owner\n    uid: {uid}\n"
    );
    cluster.apply(&child, &[]);
    cluster.ok(&["get", "configmap", "child"]);
    cluster.ok(&["delete", "configmap", "owner"]);
    eventually("the child to be collected", Duration::from_secs(20), || {
        !cluster
            .kubectl(&["get", "configmap", "child"])
            .status
            .success()
    });
}

#[test]
fn a_stale_update_is_a_conflict() {
    if !have_kubectl() {
        return;
    }
    let cluster = cluster_with_app();
    let stale = cluster.ok(&["get", "configmap", "settings", "-n", "demo", "-o", "json"]);
    cluster.ok(&["label", "configmap", "settings", "-n", "demo", "bump=1"]);
    let replaced = cluster.kubectl_with_input(&["replace", "-f", "-"], &stale);
    assert!(!replaced.status.success());
    let message = String::from_utf8_lossy(&replaced.stderr);
    assert!(message.contains("Conflict"), "{message}");
    assert!(
        message.contains("the object has been modified"),
        "{message}"
    );
}

#[test]
fn deleting_a_namespace_deletes_its_contents() {
    if !have_kubectl() {
        return;
    }
    let cluster = cluster_with_app();
    cluster.ok(&["delete", "namespace", "demo", "--timeout=30s"]);
    let missing = cluster.fails(&["get", "namespace", "demo"]);
    assert!(missing.contains("NotFound"), "{missing}");
    let leftovers = cluster.ok(&["get", "configmaps,deployments,services", "-A", "-o", "name"]);
    assert!(
        !leftovers.contains("settings") && !leftovers.contains("web"),
        "{leftovers}"
    );
    let into_missing = cluster.fails(&["create", "configmap", "late", "-n", "demo"]);
    assert!(
        into_missing.contains("namespaces \"demo\" not found"),
        "{into_missing}"
    );
}

#[test]
fn raw_discovery_and_a_wrong_token() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    let groups: serde_json::Value =
        serde_json::from_str(&cluster.ok(&["get", "--raw", "/apis"])).expect("JSON");
    assert_eq!(groups["kind"], "APIGroupList");
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .map(|groups| groups.iter().filter_map(|g| g["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        names.contains(&"apps") && names.contains(&"apiextensions.k8s.io"),
        "{names:?}"
    );
    assert_eq!(
        cluster
            .ok(&["auth", "can-i", "create", "deployments"])
            .trim(),
        "yes"
    );
    assert!(cluster.ok(&["auth", "whoami"]).contains("eddy-dev"));
    let explained = cluster.ok(&["explain", "deployment.spec.replicas"]);
    assert!(explained.contains("Number of desired pods"), "{explained}");
    let version = cluster.ok(&["version", "-o", "json"]);
    assert!(version.contains("\"gitVersion\": \"v1.32"), "{version}");

    let wrong = std::fs::read_to_string(&cluster.kubeconfig)
        .expect("kubeconfig")
        .replace("token: test-token", "token: wrong-token");
    let wrong_path = cluster.directory.path.join("wrong-kubeconfig");
    std::fs::write(&wrong_path, wrong).expect("write kubeconfig");
    let output = cluster
        .command()
        .arg("--kubeconfig")
        .arg(&wrong_path)
        .args(["get", "configmaps"])
        .output()
        .expect("kubectl");
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("Unauthorized") || message.contains("provide credentials"),
        "{message}"
    );
}

#[test]
fn bad_input_gets_kube_apiserver_status_codes() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    let invalid_name = cluster.fails(&["create", "configmap", "Bad_Name"]);
    assert!(invalid_name.contains("is invalid"), "{invalid_name}");
    assert!(invalid_name.contains("RFC 1123"), "{invalid_name}");
    let unknown = cluster.fails(&["get", "gizmos"]);
    assert!(
        unknown.contains("doesn't have a resource type"),
        "{unknown}"
    );
    let duplicate = {
        cluster.ok(&["create", "configmap", "twice"]);
        cluster.fails(&["create", "configmap", "twice"])
    };
    assert!(
        duplicate.contains("configmaps \"twice\" already exists"),
        "{duplicate}"
    );
    let raw_missing = cluster.fails(&["get", "--raw", "/apis/example.com/v1/gizmos"]);
    assert!(
        raw_missing.contains("NotFound") || raw_missing.contains("not found"),
        "{raw_missing}"
    );
}

#[test]
fn kubectl_create_commands_send_protobuf_that_the_server_reads() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    for arguments in [
        &[
            "create",
            "deployment",
            "nginx",
            "--image=nginx",
            "--port=80",
            "--replicas=2",
        ][..],
        &[
            "create",
            "secret",
            "generic",
            "s1",
            "--from-literal=password=x",
        ],
        &["create", "serviceaccount", "robot"],
        &["create", "service", "clusterip", "svc", "--tcp=80:8080"],
        &["create", "job", "once", "--image=busybox"],
        &[
            "create",
            "cronjob",
            "tick",
            "--image=busybox",
            "--schedule=*/5 * * * *",
        ],
        &["create", "ingress", "ing", "--rule=a.example.com/=svc:80"],
        &[
            "create",
            "poddisruptionbudget",
            "pdb",
            "--selector=app=x",
            "--min-available=1",
        ],
        &["create", "priorityclass", "high", "--value=1000"],
        &[
            "create",
            "role",
            "reader",
            "--verb=get,list",
            "--resource=pods",
        ],
        &[
            "create",
            "rolebinding",
            "rb",
            "--role=reader",
            "--serviceaccount=default:robot",
        ],
        &[
            "create",
            "clusterrole",
            "cr",
            "--verb=get",
            "--resource=nodes",
        ],
        &[
            "create",
            "clusterrolebinding",
            "crb",
            "--clusterrole=cr",
            "--user=bob",
        ],
        &[
            "autoscale",
            "deployment",
            "nginx",
            "--max=3",
            "--cpu-percent=60",
        ],
    ] {
        cluster.ok(arguments);
    }
    let deployment = cluster.json(&["get", "deployment", "nginx"]);
    assert_eq!(deployment["spec"]["replicas"], 2);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx");
    assert_eq!(container["ports"][0]["containerPort"], 80);
    assert!(
        deployment["metadata"].get("generateName").is_none(),
        "zero values are unset"
    );
    let secret = cluster.json(&["get", "secret", "s1"]);
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret["data"]["password"], "eA==");
    let service = cluster.json(&["get", "service", "svc"]);
    assert!(
        service["spec"]["clusterIP"]
            .as_str()
            .and_then(|ip| ip.parse::<std::net::Ipv4Addr>().ok())
            .is_some_and(|ip| ip.octets()[0] == 10 && (96..112).contains(&ip.octets()[1]))
    );
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 8080);
    let ingress = cluster.json(&["get", "ingress", "ing"]);
    let backend = &ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    assert_eq!(backend["name"], "svc");
    assert_eq!(backend["port"]["number"], 80);
    let binding = cluster.json(&["get", "rolebinding", "rb"]);
    assert_eq!(binding["roleRef"]["name"], "reader");
    assert_eq!(binding["subjects"][0]["name"], "robot");
    let autoscaler = cluster.json(&["get", "hpa", "nginx"]);
    assert_eq!(autoscaler["apiVersion"], "autoscaling/v2");
    let cpu = &autoscaler["spec"]["metrics"][0]["resource"];
    assert_eq!(cpu["target"]["averageUtilization"], 60);
}

#[test]
fn immutable_fields_are_refused_and_replace_force_recreates() {
    if !have_kubectl() {
        return;
    }
    let cluster = cluster_with_app();
    let moved = APP.replace("{app: web}", "{app: other}");
    let refused = cluster.kubectl_with_input(&["apply", "-f", "-"], &moved);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("field is immutable"), "{message}");
    let before = cluster.json(&["get", "deployment", "web", "-n", "demo"]);
    let replaced = cluster.kubectl_with_input(&["replace", "--force", "-f", "-"], &moved);
    assert!(
        replaced.status.success(),
        "{}",
        String::from_utf8_lossy(&replaced.stderr)
    );
    let after = cluster.json(&["get", "deployment", "web", "-n", "demo"]);
    assert_ne!(before["metadata"]["uid"], after["metadata"]["uid"]);
    assert_eq!(after["spec"]["selector"]["matchLabels"]["app"], "other");
}

#[test]
fn cel_validation_rules_reject_objects_that_break_them() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    let crd = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: releases.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: releases, singular: release, kind: Release}
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
            x-kubernetes-validations:
            - rule: (has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))
              message: either chart or chartRef must be set
            properties:
              chart: {type: string}
              chartRef: {type: string}
"#;
    cluster.apply(crd, &[]);
    cluster.ok(&[
        "wait",
        "--for",
        "condition=Established",
        "crd/releases.example.com",
        "--timeout=30s",
    ]);
    let rejected = cluster.kubectl_with_input(
        &["apply", "-f", "-"],
        "apiVersion: example.com/v1\nkind: Release\nmetadata: {name: neither}\nspec: {}\n",
    );
    assert!(!rejected.status.success());
    let message = String::from_utf8_lossy(&rejected.stderr);
    assert!(
        message.contains(
            "is invalid: spec: Invalid value: \"object\": either chart or chartRef must be set"
        ),
        "{message}"
    );
    cluster.apply(
        "apiVersion: example.com/v1\nkind: Release\nmetadata: {name: one}\nspec: {chart: a}\n",
        &[],
    );
}

#[test]
fn the_project_crds_load_and_become_established() {
    if !have_kubectl() {
        return;
    }
    let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../charts/eddy/crds");
    let Ok(entries) = std::fs::read_dir(&directory) else {
        eprintln!("no {}; skipping", directory.display());
        return;
    };
    let files = entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .path()
                .extension()
                .is_some_and(|extension| extension == "yaml")
        })
        .count();
    if files == 0 {
        return;
    }
    let cluster = TestCluster::start();
    let directory_text = directory.display().to_string();
    let output = cluster.ok(&["apply", "-f", &directory_text]);
    let created = output
        .lines()
        .filter(|line| line.ends_with(" created"))
        .count();
    assert!(created >= files, "{output}");
    cluster.ok(&[
        "wait",
        "--for",
        "condition=Established",
        "crd",
        "--all",
        "--timeout=30s",
    ]);
}
