//! YAML reading and writing with the exact behaviour of the Go libraries kustomize uses.

pub mod emit;
pub mod number;
pub mod parse;

pub use emit::to_yaml;
pub use parse::{YamlError, parse_documents, parse_documents_with};
