//! postBuild variable substitution, as kustomize-controller performs it.
//!
//! Flux runs a bash-like `envsubst` (fluxcd/pkg `envsubst`, a fork of drone/envsubst) over the
//! YAML text of each built object, then reads the text back as YAML, so a substituted
//! `replicas: ${REPLICAS}` becomes a number. The rules users rely on:
//!
//! - `${var}` is replaced; `$var` without braces is left alone; `$${var}` is the escape for a
//!   literal `${var}`.
//! - Operators: `${var:=default}` (also `=`, `-`, `:-`, `+`, `:+`, `?`, `:?`, which all mean
//!   "this text when the value is empty"), `${var:position}`, `${var:position:length}`,
//!   `${var/pattern/replacement}`, `${var//…}`, `${var/#…}`, `${var/%…}`, `${#var}`, the case
//!   operators `${var^}`, `${var^^}`, `${var,}`, `${var,,}` and the trimming operators
//!   `${var#glob}`, `${var##glob}`, `${var%glob}`, `${var%%glob}`.
//! - An undefined variable expands to the empty string, or is an error in strict mode (the
//!   `StrictPostBuildSubstitutions` feature gate) unless a default operator covers it.
//! - Variable names provided by the user must match `^[_[:alpha:]][_[:alpha:][:digit:]]*$`;
//!   newlines are removed from values.
//! - An object labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` is
//!   left untouched.
//! - With the default `WithVariables` strategy nothing runs unless at least one variable is
//!   defined; `Always` runs even without variables so that defaults apply.
//!
//! [`expand`] is the text-level engine; [`substitute_object`] and [`substitute_manifests`]
//! apply it to built objects, printing and re-reading them with the kustomize engine's YAML
//! codec so that quoting (and therefore the type a substituted value takes) matches Flux.

mod functions;
mod parse;

use std::collections::BTreeMap;

use eddy_api::meta::annotations::KUSTOMIZE_SUBSTITUTE;
use eddy_kustomize::value::Value;
use eddy_kustomize::yaml::{YamlError, parse_documents, to_yaml};

use parse::Node;

/// The value of the substitute label or annotation that turns substitution off for an object.
pub const DISABLED: &str = "disabled";

/// The pattern user-supplied variable names must match (Flux's `varsubRegex`).
pub const VARIABLE_NAME_PATTERN: &str = "^[_[:alpha:]][_[:alpha:][:digit:]]*$";

/// Why a substitution failed. Messages are Flux's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubstituteError {
    /// The template is malformed.
    #[error("bad substitution")]
    BadSubstitution,
    /// A `${` has no matching `}`.
    #[error("missing closing brace")]
    MissingClosingBrace,
    /// `${` is not followed by a variable name.
    #[error("unable to parse variable name")]
    VariableName,
    /// An operator's argument could not be parsed.
    #[error("unable to parse substitution within function")]
    FunctionSubstitution,
    /// A default operator could not be parsed.
    #[error("unable to parse default function")]
    DefaultFunction,
    /// Strict mode: a variable is referenced without a default but not defined.
    #[error("variable not set (strict mode): {0:?}")]
    VariableNotSet(String),
    /// `${var:position:length}` with a negative length (Go's envsubst panics here).
    #[error("substring length out of range in ${{{0}:…}}")]
    SubstringOutOfRange(String),
    /// A user-supplied variable name is not a valid name.
    #[error("'{0}' var name is invalid, must match '{VARIABLE_NAME_PATTERN}'")]
    InvalidVariableName(String),
    /// The substituted text is no longer valid YAML.
    #[error("YAMLToJSON: {0}")]
    Yaml(String),
}

/// An error of [`substitute_manifests`], naming the object like Flux does
/// (`post build failed for '<group>_<version>_<kind>/<name>': envsubst error: …`).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ManifestError {
    /// The manifests could not be read as YAML.
    #[error("{0}")]
    Read(#[from] YamlError),
    /// Substitution failed for one object.
    #[error(
        "post build failed for '{gvk}/{name}': envsubst error: variable substitution failed: {source}"
    )]
    Object {
        /// kustomize's `group_version_kind` notation, `~G` for the core group.
        gvk: String,
        /// The object's name.
        name: String,
        /// What went wrong.
        source: SubstituteError,
    },
}

/// The variables of one Kustomization: `substituteFrom` sources merged in order, then the
/// inline `substitute` map on top.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Variables {
    values: BTreeMap<String, String>,
}

impl Variables {
    /// No variables.
    pub fn new() -> Self {
        Self::default()
    }

    /// Defines (or redefines) a variable. Newlines are removed from the value, as Flux does
    /// for every source, so that a value cannot break the YAML around it.
    pub fn insert(&mut self, name: impl Into<String>, value: &str) {
        self.values.insert(name.into(), value.replace('\n', ""));
    }

    /// Adds every entry of a ConfigMap's or Secret's data (already decoded), overriding
    /// variables defined earlier; call it once per `substituteFrom` entry in order, then
    /// [`Variables::insert`] the inline `substitute` map last.
    pub fn extend<'entry>(&mut self, data: impl IntoIterator<Item = (&'entry str, &'entry str)>) {
        for (name, value) in data {
            self.insert(name, value);
        }
    }

    /// The value of a variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether no variable is defined.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// How many variables are defined.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Checks every name against [`VARIABLE_NAME_PATTERN`] (ASCII letters, digits and `_`,
    /// not starting with a digit).
    pub fn validate(&self) -> Result<(), SubstituteError> {
        for name in self.values.keys() {
            let mut characters = name.chars();
            let valid_start = characters
                .next()
                .is_some_and(|first| first == '_' || first.is_ascii_alphabetic());
            if !valid_start || !characters.all(|next| next == '_' || next.is_ascii_alphanumeric()) {
                return Err(SubstituteError::InvalidVariableName(name.clone()));
            }
        }
        Ok(())
    }
}

/// How substitution runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubstituteOptions {
    /// Undefined variables without a default are an error (`StrictPostBuildSubstitutions`).
    pub strict: bool,
    /// Substitute even when no variable is defined (`substituteStrategy: Always`).
    pub always: bool,
}

/// Expands the `${…}` expressions of `text` with `variables` (envsubst's `Eval`).
pub fn expand(text: &str, variables: &Variables, strict: bool) -> Result<String, SubstituteError> {
    expand_with(text, |name| variables.get(name).map(str::to_string), strict)
}

/// Expands `text` with values from `lookup`; `None` means undefined.
pub fn expand_with(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
    strict: bool,
) -> Result<String, SubstituteError> {
    let template = parse::parse(text)?;
    let mut output = String::with_capacity(text.len());
    evaluate(&template, &lookup, strict, &mut output)?;
    Ok(output)
}

fn evaluate(
    node: &Node,
    lookup: &impl Fn(&str) -> Option<String>,
    strict: bool,
    output: &mut String,
) -> Result<(), SubstituteError> {
    match node {
        Node::Text(text) => output.push_str(text),
        Node::List(nodes) => {
            for node in nodes {
                evaluate(node, lookup, strict, output)?;
            }
        }
        Node::Function {
            parameter,
            operator,
            arguments,
        } => {
            let mut values = Vec::with_capacity(arguments.len());
            for argument in arguments {
                let mut value = String::new();
                evaluate(argument, lookup, strict, &mut value)?;
                values.push(value);
            }
            let value = match lookup(parameter) {
                Some(value) => value,
                None if strict && !functions::is_default_operator(operator) => {
                    return Err(SubstituteError::VariableNotSet(parameter.clone()));
                }
                None => String::new(),
            };
            match functions::apply(operator, &value, &values) {
                Some(expanded) => output.push_str(&expanded),
                None => return Err(SubstituteError::SubstringOutOfRange(parameter.clone())),
            }
        }
    }
    Ok(())
}

/// Whether an object opts out of substitution with the substitute label or annotation.
pub fn is_substitution_disabled(object: &Value) -> bool {
    ["labels", "annotations"].iter().any(|field| {
        object
            .get_path(&["metadata", field, KUSTOMIZE_SUBSTITUTE])
            .and_then(Value::as_str)
            == Some(DISABLED)
    })
}

/// Substitutes the variables in one built object (fluxcd/pkg `SubstituteVariables`).
///
/// Returns `None` when the object is left as it is: it opted out, or there are no variables
/// and the strategy is not `Always`.
pub fn substitute_object(
    object: &Value,
    variables: &Variables,
    options: SubstituteOptions,
) -> Result<Option<Value>, SubstituteError> {
    if is_substitution_disabled(object) {
        return Ok(None);
    }
    if variables.is_empty() && !options.always {
        return Ok(None);
    }
    variables.validate()?;
    let text = expand(&to_yaml(object), variables, options.strict)?;
    let mut documents =
        parse_documents(&text).map_err(|error| SubstituteError::Yaml(error.to_string()))?;
    let substituted = match documents.len() {
        0 => Value::Null,
        1 => documents.remove(0),
        _ => {
            return Err(SubstituteError::Yaml(
                "substituted object holds more than one document".to_string(),
            ));
        }
    };
    Ok(Some(substituted))
}

/// Substitutes the variables in every object of a YAML stream (the output of a kustomize
/// build) and prints the stream again the way kustomize does.
pub fn substitute_manifests(
    manifests: &str,
    variables: &Variables,
    options: SubstituteOptions,
) -> Result<String, ManifestError> {
    let documents = parse_documents(manifests)?;
    let mut output = String::with_capacity(manifests.len());
    for document in documents
        .iter()
        .filter(|document| **document != Value::Null)
    {
        let substituted = substitute_object(document, variables, options).map_err(|source| {
            ManifestError::Object {
                gvk: kustomize_gvk(document),
                name: text_at(document, &["metadata", "name"]).to_string(),
                source,
            }
        })?;
        if !output.is_empty() {
            output.push_str("---\n");
        }
        output.push_str(&to_yaml(substituted.as_ref().unwrap_or(document)));
    }
    Ok(output)
}

fn text_at<'value>(object: &'value Value, path: &[&str]) -> &'value str {
    object.get_path(path).and_then(Value::as_str).unwrap_or("")
}

/// kustomize's `Gvk.String()`: `group_version_kind`, with `~G`, `~V`, `~K` for empty parts.
fn kustomize_gvk(object: &Value) -> String {
    let api_version = text_at(object, &["apiVersion"]);
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let kind = text_at(object, &["kind"]);
    let or = |part: &str, placeholder: &str| {
        if part.is_empty() {
            placeholder.to_string()
        } else {
            part.to_string()
        }
    };
    format!(
        "{}_{}_{}",
        or(group, "~G"),
        or(version, "~V"),
        or(kind, "~K")
    )
}

#[cfg(test)]
mod tests;
