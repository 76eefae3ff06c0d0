//! Bad input must fail with an error that names the file and the problem — never a panic,
//! never unbounded memory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use eddy_kustomize::{BuildOptions, Error, LoadRestrictor, build};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(files: &[(&str, &str)]) -> Scratch {
        let id = NEXT.fetch_add(1, Ordering::SeqCst);
        let root = std::env::temp_dir().join(format!(
            "eddy-kustomize-bad-input-{}-{id}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        for (path, content) in files {
            let path = root.join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create scratch directory");
            }
            std::fs::write(path, content).expect("write scratch file");
        }
        std::fs::create_dir_all(&root).expect("create scratch root");
        Scratch(root)
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.0.join(relative)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn build_error(dir: &Path) -> String {
    match build(dir, &BuildOptions::default()) {
        Ok(output) => panic!("expected the build to fail, got:\n{output}"),
        Err(error) => error.to_string(),
    }
}

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n";

#[test]
fn malformed_yaml_names_the_file() {
    let scratch = Scratch::new(&[
        ("kustomization.yaml", "resources:\n- broken.yaml\n"),
        (
            "broken.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n",
        ),
    ]);
    let message = build_error(&scratch.0);
    assert!(message.contains("broken.yaml"), "{message}");
}

#[test]
fn a_missing_resource_file_names_the_file() {
    let scratch = Scratch::new(&[("kustomization.yaml", "resources:\n- nowhere.yaml\n")]);
    let message = build_error(&scratch.0);
    assert!(message.contains("nowhere.yaml"), "{message}");
}

#[test]
fn a_directory_without_kustomization_is_an_error() {
    let scratch = Scratch::new(&[("empty/.keep", "")]);
    let message = build_error(&scratch.path("empty"));
    assert!(message.contains("unable to find one of"), "{message}");
}

#[test]
fn kustomizations_that_include_each_other_are_a_cycle() {
    let scratch = Scratch::new(&[
        ("a/kustomization.yaml", "resources:\n- ../b\n"),
        ("b/kustomization.yaml", "resources:\n- ../a\n"),
    ]);
    let message = build_error(&scratch.path("a"));
    assert!(message.contains("cycle"), "{message}");
}

#[test]
fn duplicate_resource_ids_are_rejected() {
    let scratch = Scratch::new(&[
        ("kustomization.yaml", "resources:\n- one.yaml\n- two.yaml\n"),
        ("one.yaml", DEPLOYMENT),
        ("two.yaml", DEPLOYMENT),
    ]);
    let message = build_error(&scratch.0);
    assert!(message.contains("already registered id"), "{message}");
}

#[test]
fn duplicate_keys_in_a_resource_are_rejected() {
    let scratch = Scratch::new(&[
        ("kustomization.yaml", "resources:\n- cm.yaml\n"),
        (
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n",
        ),
    ]);
    let message = build_error(&scratch.0);
    assert!(
        message.contains("cm.yaml") && message.contains("already defined"),
        "{message}"
    );
}

#[test]
fn a_billion_laughs_document_fails_instead_of_exhausting_memory() {
    let mut bomb = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n");
    bomb.push_str("  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let previous = format!("*a{}", level - 1);
        let items = [previous.as_str(); 10].join(", ");
        bomb.push_str(&format!("  a{level}: &a{level} [{items}]\n"));
    }
    let scratch = Scratch::new(&[
        ("kustomization.yaml", "resources:\n- bomb.yaml\n"),
        ("bomb.yaml", &bomb),
    ]);
    let message = build_error(&scratch.0);
    assert!(
        message.contains("bomb.yaml") && message.contains("aliases"),
        "{message}"
    );
}

#[test]
fn files_outside_the_root_are_refused_by_default() {
    let scratch = Scratch::new(&[
        ("app/kustomization.yaml", "resources:\n- ../shared.yaml\n"),
        ("shared.yaml", DEPLOYMENT),
    ]);
    let message = build_error(&scratch.path("app"));
    assert!(message.contains("is not in or below"), "{message}");
}

#[test]
fn files_outside_the_root_load_without_restriction() {
    let scratch = Scratch::new(&[
        ("app/kustomization.yaml", "resources:\n- ../shared.yaml\n"),
        ("shared.yaml", DEPLOYMENT),
    ]);
    let options = BuildOptions {
        load_restrictor: LoadRestrictor::None,
    };
    let output = build(&scratch.path("app"), &options).expect("unrestricted build");
    assert!(output.contains("name: web"), "{output}");
}

#[test]
fn helm_charts_are_refused() {
    let scratch = Scratch::new(&[(
        "kustomization.yaml",
        "helmCharts:\n- name: podinfo\n  repo: https://example.invalid\n",
    )]);
    let error = build(&scratch.0, &BuildOptions::default()).expect_err("helm is refused");
    assert!(matches!(error, Error::Unsupported(_)), "{error}");
}

#[test]
fn remote_resources_are_refused() {
    let scratch = Scratch::new(&[(
        "kustomization.yaml",
        "resources:\n- https://github.com/example/repo//deploy?ref=main\n",
    )]);
    let message = build_error(&scratch.0);
    assert!(message.contains("not supported"), "{message}");
}

#[test]
fn exec_plugins_are_refused() {
    let scratch = Scratch::new(&[
        ("kustomization.yaml", "transformers:\n- plugin.yaml\n"),
        (
            "plugin.yaml",
            "apiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: x\n",
        ),
    ]);
    let message = build_error(&scratch.0);
    assert!(message.contains("not supported"), "{message}");
}

#[test]
fn a_patch_without_a_target_object_fails() {
    let scratch = Scratch::new(&[
        (
            "kustomization.yaml",
            "resources:\n- d.yaml\npatches:\n- path: p.yaml\n",
        ),
        ("d.yaml", DEPLOYMENT),
        (
            "p.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: other\n",
        ),
    ]);
    let message = build_error(&scratch.0);
    assert!(message.contains("no matches"), "{message}");
}

#[test]
fn unknown_kustomization_fields_are_rejected() {
    let scratch = Scratch::new(&[("kustomization.yaml", "resourcez:\n- a.yaml\n")]);
    let message = build_error(&scratch.0);
    assert!(message.contains("unknown field"), "{message}");
}

#[test]
fn binary_garbage_is_an_error_not_a_panic() {
    let scratch = Scratch::new(&[("kustomization.yaml", "resources:\n- blob.yaml\n")]);
    std::fs::write(
        scratch.path("blob.yaml"),
        [0xff_u8, 0xfe, 0x00, 0x12, 0x80, 0x81],
    )
    .expect("write blob");
    let message = build_error(&scratch.0);
    assert!(message.contains("blob.yaml"), "{message}");
}

/// Every prefix of every corpus YAML file must parse or fail cleanly.
#[test]
fn truncated_corpus_files_never_panic() {
    let corpus = std::env::var_os("EDDY_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"))
        .join("kustomize/cases");
    let Ok(cases) = std::fs::read_dir(&corpus) else {
        println!("corpus not found at {}, skipping", corpus.display());
        return;
    };
    let mut checked = 0;
    for case in cases.filter_map(Result::ok).take(60) {
        let mut stack = vec![case.path().join("input")];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.filter_map(Result::ok) {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                for cut in (0..text.len())
                    .step_by(7)
                    .filter(|cut| text.is_char_boundary(*cut))
                {
                    let _ = eddy_kustomize::yaml::parse_documents(&text[..cut]);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 0);
}

#[test]
fn deeply_nested_documents_fail_cleanly() {
    let depth = 5000;
    let nested = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata:\n  x: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let scratch = Scratch::new(&[
        ("kustomization.yaml", "resources:\n- deep.yaml\n"),
        ("deep.yaml", &nested),
    ]);
    let message = build_error(&scratch.0);
    assert!(message.contains("deep.yaml"), "{message}");
}
