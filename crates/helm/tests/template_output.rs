//! `template()` prints what `helm template` prints: manifests in install order with
//! `# Source:` lines, hooks after them, CRDs first when asked; `--output-dir` writes
//! one file per template.

use std::path::PathBuf;

fn chart() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-helm-template-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["templates", "crds"] {
        if let Err(error) = std::fs::create_dir_all(dir.join(sub)) {
            panic!("cannot create chart: {error}");
        }
    }
    let files = [
        ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 0.1.0\n"),
        ("values.yaml", "replicas: 1\n"),
        (
            "crds/widget.yaml",
            "kind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n",
        ),
        (
            "templates/deployment.yaml",
            "kind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicas }}\n",
        ),
        (
            "templates/service.yaml",
            "kind: Service\nmetadata:\n  name: {{ .Release.Name }}\n",
        ),
        (
            "templates/hook.yaml",
            "kind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install\n",
        ),
        ("templates/NOTES.txt", "installed {{ .Release.Name }}\n"),
    ];
    for (name, text) in files {
        if let Err(error) = std::fs::write(dir.join(name), text) {
            panic!("cannot write {name}: {error}");
        }
    }
    dir
}

#[test]
fn output_is_manifests_in_install_order_then_hooks() {
    let dir = chart();
    let options = eddy_helm::TemplateOptions {
        release_name: "web".to_string(),
        set: vec!["replicas=3".to_string()],
        include_crds: true,
        ..eddy_helm::TemplateOptions::default()
    };
    let release = match eddy_helm::template(&dir, &options) {
        Ok(release) => release,
        Err(error) => panic!("template failed: {error}"),
    };
    assert_eq!(
        release.output(),
        "---\n# Source: app/crds/widget.yaml\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n\n\
         ---\n# Source: app/templates/service.yaml\nkind: Service\nmetadata:\n  name: web\n\n\
         ---\n# Source: app/templates/deployment.yaml\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n\n\
         ---\n# Source: app/templates/hook.yaml\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install\n\n"
    );
    let out = dir.join("out");
    assert!(release.write_output_dir(&out).is_ok());
    let written =
        std::fs::read_to_string(out.join("app/templates/service.yaml")).unwrap_or_default();
    assert_eq!(
        written,
        "---\n# Source: app/templates/service.yaml\nkind: Service\nmetadata:\n  name: web\n\n"
    );
    let _ = std::fs::remove_dir_all(dir);
}
