//! YAML documents in, the kustomize emitter out: parsing any bytes must fail cleanly or give
//! documents that print and parse back to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(documents) = eddy_kustomize::yaml::parse_documents(text) else { return };
    for document in documents {
        let printed = eddy_kustomize::yaml::to_yaml(&document);
        if let Ok(reparsed) = eddy_kustomize::yaml::parse_documents(&printed) {
            assert_eq!(reparsed.len(), 1, "one document prints as one document");
        }
    }
});
