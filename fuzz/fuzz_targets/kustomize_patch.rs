//! A strategic merge patch against a Deployment: any patch must apply or fail, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

const TARGET: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      containers:
      - name: app
        image: nginx
        env:
        - name: A
          value: a
        ports:
        - containerPort: 80
";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(patches) = eddy_kustomize::yaml::parse_documents(text) else { return };
    let Ok(targets) = eddy_kustomize::yaml::parse_documents(TARGET) else { return };
    for patch in &patches {
        let _ = eddy_kustomize::smp::merge_object(&targets[0], patch);
    }
});
