//! Charts packaged as `.tgz` (at the top level and under `charts/`) render exactly like
//! the same chart as a directory.

use std::path::{Path, PathBuf};

fn pack(chart_dir: &Path, top: &str, out: &Path) {
    let file = match std::fs::File::create(out) {
        Ok(file) => file,
        Err(error) => panic!("cannot create {}: {error}", out.display()),
    };
    let encoder = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    if let Err(error) = builder.append_dir_all(top, chart_dir) {
        panic!("cannot pack {}: {error}", chart_dir.display());
    }
    match builder.into_inner().and_then(|encoder| encoder.finish()) {
        Ok(_) => {}
        Err(error) => panic!("cannot finish archive: {error}"),
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-helm-archive-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(error) = std::fs::create_dir_all(&dir) {
        panic!("cannot create {}: {error}", dir.display());
    }
    dir
}

fn render(path: &Path) -> std::collections::BTreeMap<String, String> {
    let options = eddy_helm::TemplateOptions::default();
    match eddy_helm::render_with_values(path, &eddy_gotemplate::SharedMap::default(), &options) {
        Ok(rendered) => rendered.templates,
        Err(error) => panic!("render of {} failed: {error}", path.display()),
    }
}

#[test]
fn a_packaged_chart_renders_like_its_directory() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/functions/chart");
    let dir = scratch("top");
    let archive = dir.join("functions-1.2.3.tgz");
    pack(&source, "functions", &archive);
    assert_eq!(render(&archive), render(&source));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_packaged_subchart_renders_like_a_vendored_directory() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/functions/chart");
    let dir = scratch("sub");
    let parent = dir.join("parent");
    if let Err(error) = std::fs::create_dir_all(parent.join("charts")) {
        panic!("cannot create parent: {error}");
    }
    let _ = std::fs::write(
        parent.join("Chart.yaml"),
        "apiVersion: v2\nname: parent\nversion: 0.1.0\n",
    );
    pack(
        &source,
        "functions",
        &parent.join("charts/functions-1.2.3.tgz"),
    );
    let rendered = render(&parent);
    let direct = render(&source);
    let key = "parent/charts/functions/templates/lists.yaml";
    assert_eq!(
        rendered.get(key),
        direct.get("functions/templates/lists.yaml")
    );
    let _ = std::fs::remove_dir_all(dir);
}
