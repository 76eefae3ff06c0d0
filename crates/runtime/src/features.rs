//! Feature gates (`--feature-gates=Name=true,Other=false`), as fluxcd/pkg `runtime/features`.

use std::collections::BTreeMap;

/// Parsed `--feature-gates`: explicit settings only; each controller knows its own defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeatureGates(BTreeMap<String, bool>);

impl FeatureGates {
    /// Parses `Name=true,Other=false` (whitespace around entries allowed, empty is no gates).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut gates = BTreeMap::new();
        for entry in text
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
        {
            let (name, value) = entry
                .split_once('=')
                .ok_or_else(|| format!("feature gate {entry:?} must be Name=true|false"))?;
            let value = match value.trim() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(format!(
                        "feature gate {name}: {other:?} is not true or false"
                    ));
                }
            };
            gates.insert(name.trim().to_string(), value);
        }
        Ok(Self(gates))
    }

    /// The explicit setting of a gate, if any.
    pub fn enabled(&self, name: &str) -> Option<bool> {
        self.0.get(name).copied()
    }

    /// The setting of a gate, or its default when not set.
    pub fn enabled_or(&self, name: &str, default: bool) -> bool {
        self.enabled(name).unwrap_or(default)
    }

    /// Fails when a gate is set that the controller does not know, as Flux does.
    pub fn check_known(&self, known: &[&str]) -> Result<(), String> {
        match self.0.keys().find(|name| !known.contains(&name.as_str())) {
            Some(name) => Err(format!(
                "unknown feature gate {name:?}; known gates: {}",
                known.join(", ")
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_gates_are_reported_by_name() {
        let gates = FeatureGates::parse("Mystery=true").expect("parses");
        let error = gates.check_known(&["Known"]).expect_err("unknown gate");
        assert!(error.contains("Mystery"), "{error}");
    }

    #[test]
    fn defaults_apply_to_unset_gates() {
        let gates = FeatureGates::parse(" A=true , B=false ").expect("parses");
        assert!(gates.enabled_or("A", false));
        assert!(!gates.enabled_or("B", true));
        assert!(gates.enabled_or("C", true));
    }
}
