//! A whole build from a fuzzed kustomization.yaml next to one resource: any kustomization must
//! build or fail with an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

const RESOURCE: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  key: value
";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(dir) = tempfile::tempdir() else { return };
    if std::fs::write(dir.path().join("kustomization.yaml"), text).is_err()
        || std::fs::write(dir.path().join("cm.yaml"), RESOURCE).is_err()
    {
        return;
    }
    let _ = eddy_kustomize::build(dir.path(), &eddy_kustomize::BuildOptions::default());
});
