//! The `eddy` binary end to end: `kustomize build` and `helm template` print what the oracles
//! printed for the conformance corpus, and `dev apiserver` serves a cluster kubectl can use.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn eddy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eddy"))
}

/// `../shared/corpus` beside the repository, or `$EDDY_CORPUS_DIR`; `None` (and a message)
/// when absent.
fn corpus(part: &str) -> Option<PathBuf> {
    let root = std::env::var_os("EDDY_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    let path = root.join(part);
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "skipped: conformance corpus not found at {}",
            path.display()
        );
        None
    }
}

#[test]
fn kustomize_build_prints_exactly_what_kubectl_kustomize_printed() {
    let Some(cases) = corpus("kustomize/cases") else {
        return;
    };
    let mut checked = 0;
    for name in [
        "configmaps_test__TestGeneratorIntVsStringNoMerge",
        "examples-helloWorld__build1",
    ] {
        let case = cases.join(name);
        if !case.exists() {
            continue;
        }
        let build_dir = std::fs::read_to_string(case.join("build-dir")).expect("build-dir");
        let output = eddy()
            .args(["kustomize", "build"])
            .arg(case.join("input").join(build_dir.trim()))
            .output()
            .expect("runs");
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let expected = std::fs::read_to_string(case.join("expected.yaml")).expect("expected");
        assert_eq!(String::from_utf8_lossy(&output.stdout), expected, "{name}");
        checked += 1;
    }
    assert!(checked > 0, "no known kustomize case found in the corpus");
}

#[test]
fn kustomize_build_fails_where_kustomize_fails() {
    let Some(cases) = corpus("kustomize/cases") else {
        return;
    };
    let case = cases.join("accumulation_test__TestBaseMustHaveKustomizationFile");
    let build_dir = std::fs::read_to_string(case.join("build-dir")).expect("build-dir");
    let output = eddy()
        .args(["kustomize", "build"])
        .arg(case.join("input").join(build_dir.trim()))
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("eddy: "), "{stderr}");
    assert!(stderr.contains("kustomization"), "{stderr}");
}

#[test]
fn helm_template_prints_the_release_manifest_helm_rendered() {
    let Some(helm) = corpus("helm") else { return };
    let case = helm.join("cases/alertmanager__default");
    let output = eddy()
        .args([
            "helm",
            "template",
            "--name",
            "demo",
            "--namespace",
            "demo-ns",
            "-f",
        ])
        .arg(case.join("values.yaml"))
        .arg(helm.join("charts/alertmanager"))
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = std::fs::read_to_string(case.join("expected/ALL.yaml")).expect("ALL.yaml");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.starts_with(&expected),
        "helm template must print the release manifest first"
    );
}

#[test]
fn dev_apiserver_serves_a_cluster_that_kubectl_uses_unchanged() {
    let dir = std::env::temp_dir().join(format!("eddy-cli-dev-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let kubeconfig = dir.join("kubeconfig");
    let mut server = eddy()
        .args([
            "dev",
            "apiserver",
            "--listen",
            "127.0.0.1:0",
            "--kubeconfig",
        ])
        .arg(&kubeconfig)
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    // The server says where it serves once the kubeconfig is written.
    let stderr = server.stderr.take().expect("stderr");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let ready = receiver
        .recv_timeout(Duration::from_secs(30))
        .expect("a serving line within 30s");
    assert!(ready.contains("serving at https://127.0.0.1:"), "{ready}");
    let kubectl = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["get", "namespaces", "-o", "name"])
        .output();
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let stopped = server.wait().expect("waits");
    let Ok(kubectl) = kubectl else {
        eprintln!("skipped: kubectl not installed");
        return;
    };
    assert!(
        kubectl.status.success(),
        "{}",
        String::from_utf8_lossy(&kubectl.stderr)
    );
    assert!(String::from_utf8_lossy(&kubectl.stdout).contains("namespace/default"));
    assert!(stopped.success(), "SIGTERM ends eddy dev apiserver cleanly");
}
