//! The optional `lookup` hook: without it `lookup` is an empty map (client-only
//! rendering, like `helm template`); with it, templates see what the hook returns.

use std::sync::Arc;

use eddy_gotemplate::{Map, SharedMap, Value};
use eddy_helm::engine::LookupHook;

fn chart_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-helm-lookup-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let templates = dir.join("templates");
    if let Err(error) = std::fs::create_dir_all(&templates) {
        panic!("cannot create {}: {error}", templates.display());
    }
    let _ = std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: look\nversion: 0.1.0\n",
    );
    let _ = std::fs::write(
        templates.join("secret.yaml"),
        "found: {{ (lookup \"v1\" \"Secret\" .Release.Namespace \"db\").data | default \"none\" }}\n",
    );
    dir
}

fn render(dir: &std::path::Path, lookup: Option<LookupHook>) -> String {
    let options = eddy_helm::TemplateOptions {
        namespace: "prod".to_string(),
        lookup,
        ..eddy_helm::TemplateOptions::default()
    };
    match eddy_helm::render_with_values(dir, &SharedMap::default(), &options) {
        Ok(rendered) => rendered
            .templates
            .get("look/templates/secret.yaml")
            .cloned()
            .unwrap_or_default(),
        Err(error) => format!("error: {error}"),
    }
}

#[test]
fn lookup_without_a_hook_finds_nothing() {
    let dir = chart_dir("none");
    assert_eq!(render(&dir, None), "found: none\n");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn lookup_with_a_hook_sees_its_answer() {
    let dir = chart_dir("hook");
    let hook = LookupHook(Arc::new(
        |api_version: &str, kind: &str, namespace: &str, name: &str| {
            let mut data = Map::new();
            data.insert(
                "asked".into(),
                Value::from(format!("{api_version}/{kind}/{namespace}/{name}")),
            );
            let mut object = Map::new();
            object.insert("data".into(), Value::from(data));
            Ok(Value::from(object))
        },
    ));
    assert_eq!(
        render(&dir, Some(hook)),
        "found: map[asked:v1/Secret/prod/db]\n"
    );
    let _ = std::fs::remove_dir_all(dir);
}
