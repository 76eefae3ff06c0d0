//! Go's `text/template`, reimplemented so that Helm charts render byte for byte as Go
//! renders them.
//!
//! Helm charts are programs in Go's template language, and their output is only correct
//! if every corner of Go's behaviour is reproduced: which values are "true", how `eq`
//! refuses to compare an `int` with a `float64`, that maps iterate in sorted key order,
//! how `printf` formats a `float64` (`1e+06`), what `{{-` trims, and the exact text of
//! error messages, which name the template, line and column. This crate is that
//! language and nothing more: a lexer ([`lex`]), a parser producing one tree per
//! template, an executor, Go's `fmt` verbs ([`fmt`]) and Go's predefined functions.
//! Helm's and Sprig's function libraries live in `eddy-helm` and are plugged in as a
//! [`FunctionMap`].
//!
//! Data is a dynamic [`Value`] mirroring the Go types charts see (`float64` numbers from
//! YAML, `int` from `len`, `int64` from Sprig arithmetic). Objects with methods (Helm's
//! `.Files`, `.Capabilities.APIVersions`) implement [`Object`]. Functions receive the
//! running [`State`], which lets Helm's `include` and `tpl` execute other templates of
//! the same set.

mod builtins;
mod exec;
pub mod fmt;
mod lex;
mod parse;
mod value;

use std::collections::HashMap;
use std::sync::Arc;

pub use builtins::{eq, length, query_escape};
pub use exec::{Limits, State};
pub use parse::{ParseError, Tree};
pub use value::{Map, Object, SharedMap, Value};

/// A template function: receives the running state and the evaluated arguments, and
/// returns a value or an error message (Go reports it as `error calling NAME: message`).
pub type Function = Arc<dyn Fn(&mut State, &[Value]) -> Result<Value, String> + Send + Sync>;

/// Functions by name.
/// Looked up on every call, so hashed with foldhash (fast, randomly seeded).
pub type FunctionMap = HashMap<String, Function, foldhash::fast::RandomState>;

/// A template failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The source is not a valid template.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Execution failed; the message is formatted as Go's `ExecError`.
    #[error("{0}")]
    Execute(String),
}

/// A set of named templates sharing one function map (Go's `*template.Template`).
#[derive(Clone)]
pub struct Template {
    trees: Arc<parse::TreeMap>,
    functions: Arc<FunctionMap>,
}

impl Template {
    /// An empty set with Go's builtins plus `functions` (which win on a name clash).
    pub fn new(functions: FunctionMap) -> Self {
        let mut all = builtins::builtins();
        all.extend(functions);
        Template {
            trees: Arc::new(parse::TreeMap::default()),
            functions: Arc::new(all),
        }
    }

    /// Whether a function of this name exists.
    pub fn has_function(&self, name: &str) -> bool {
        self.functions.contains_key(name)
    }

    /// Parses `source` as template `name`, adding its `define`s to the set. As in Go, a
    /// later definition replaces an earlier one unless its body is only whitespace.
    pub fn parse(&mut self, name: &str, source: &str) -> Result<(), Error> {
        let functions = self.functions.clone();
        let trees = parse::parse(name, source, &|function| functions.contains_key(function))?;
        let set = Arc::make_mut(&mut self.trees);
        for tree in trees {
            if tree.is_empty() && set.contains_key(&tree.name) {
                continue;
            }
            set.insert(tree.name.clone(), Arc::new(tree));
        }
        Ok(())
    }

    /// Whether the set has a template of this name.
    pub fn has_template(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// Executes the named template with `data` as both `.` and `$`.
    pub fn execute(&self, name: &str, data: Value) -> Result<String, Error> {
        let mut state = self.state();
        state.execute_template(name, data)
    }

    /// A fresh execution state over this set, for running several templates that share
    /// function counters.
    pub fn state(&self) -> State {
        State {
            trees: self.trees.clone(),
            overlay: None,
            functions: self.functions.clone(),
            depth: 0,
            counters: HashMap::default(),
            limits: Limits::default(),
            iterations: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str, data: Value) -> String {
        let mut template = Template::new(FunctionMap::default());
        if let Err(error) = template.parse("t", source) {
            return format!("PARSE: {error}");
        }
        match template.execute("t", data) {
            Ok(text) => text,
            Err(error) => format!("EXEC: {error}"),
        }
    }

    fn data() -> Value {
        let mut values = Map::new();
        values.insert("name".into(), Value::from("web"));
        values.insert("count".into(), Value::Float(3.0));
        values.insert("big".into(), Value::Float(1_000_000.0));
        values.insert(
            "list".into(),
            Value::from(vec![Value::from("a"), Value::from("b")]),
        );
        let mut inner = Map::new();
        inner.insert("z".into(), Value::Int(1));
        inner.insert("a".into(), Value::Int(2));
        values.insert("map".into(), Value::from(inner));
        let mut root = Map::new();
        root.insert("Values".into(), Value::from(values));
        Value::from(root)
    }

    #[test]
    fn trimming_removes_surrounding_whitespace() {
        assert_eq!(render("a  \n {{- .Values.name -}} \n  b", data()), "awebb");
    }

    #[test]
    fn range_over_map_is_sorted_and_binds_key_and_value() {
        assert_eq!(
            render(
                "{{ range $k, $v := .Values.map }}{{ $k }}={{ $v }};{{ end }}",
                data()
            ),
            "a=2;z=1;"
        );
    }

    #[test]
    fn missing_keys_print_no_value_and_nested_missing_keys_fail() {
        assert_eq!(render("{{ .Values.nope }}", data()), "<no value>");
        assert_eq!(
            render("\n  {{ .Values.nope.deeper }}", data()),
            "EXEC: template: t:2:12: executing \"t\" at <.Values.nope.deeper>: nil pointer evaluating interface {}.deeper"
        );
    }

    #[test]
    fn floats_print_in_go_notation() {
        assert_eq!(
            render("{{ .Values.big }} {{ .Values.count }}", data()),
            "1e+06 3"
        );
    }

    #[test]
    fn else_if_chains_and_with_rebinds_dot() {
        let source = "{{ if eq .Values.name \"x\" }}x{{ else if eq .Values.name \"web\" }}w{{ else }}e{{ end }}{{ with .Values.list }}{{ index . 1 }}{{ end }}";
        assert_eq!(render(source, data()), "wb");
    }

    #[test]
    fn comparing_int_with_float_is_an_error() {
        assert_eq!(
            render("{{ eq .Values.count 3 }}", data()),
            "EXEC: template: t:1:3: executing \"t\" at <eq .Values.count 3>: error calling eq: incompatible types for comparison: float64 and int"
        );
    }

    #[test]
    fn variables_are_scoped_and_assignable() {
        let source = "{{ $x := 1 }}{{ range .Values.list }}{{ $x = . }}{{ end }}{{ $x }}";
        assert_eq!(render(source, data()), "b");
    }

    #[test]
    fn break_and_continue_control_range() {
        let source = "{{ range $i, $v := .Values.list }}{{ if eq $i 0 }}{{ continue }}{{ end }}{{ $v }}{{ break }}{{ end }}";
        assert_eq!(render(source, data()), "b");
    }

    #[test]
    fn templates_and_blocks_execute_with_their_argument() {
        let source = "{{ define \"x\" }}[{{ . }}]{{ end }}{{ template \"x\" .Values.name }}{{ block \"y\" 2 }}({{ . }}){{ end }}";
        assert_eq!(render(source, data()), "[web](2)");
    }

    #[test]
    fn and_or_short_circuit_and_return_operands() {
        assert_eq!(
            render(
                "{{ or .Values.nope \"d\" }} {{ and 1 0 2 }} {{ and 1 2 }}",
                data()
            ),
            "d 0 2"
        );
        assert_eq!(render("{{ or 1 .Values.nope.x }}", data()), "1");
    }

    #[test]
    fn enormous_loops_stop_with_an_error_instead_of_running_away() {
        let mut template = Template::new(FunctionMap::default());
        assert!(
            template
                .parse("t", "{{ range 1000000000 }}{{ end }}")
                .is_ok()
        );
        let mut state = template.state();
        state.limits.max_iterations = 1000;
        let error = state
            .execute_template("t", Value::Nil)
            .err()
            .map(|error| error.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "template: t:1:3: executing \"t\" at <1000000000>: range: exceeded the limit of 1000 loop iterations"
            )
        );
    }

    #[test]
    fn huge_output_stops_with_an_error() {
        let mut template = Template::new(FunctionMap::default());
        assert!(
            template
                .parse("t", "{{ range 100 }}{{ printf \"%0100d\" 1 }}{{ end }}")
                .is_ok()
        );
        let mut state = template.state();
        state.limits.max_output_bytes = 1000;
        let error = state
            .execute_template("t", Value::Nil)
            .err()
            .map(|error| error.to_string());
        assert!(error.is_some_and(|error| error.ends_with("template output exceeds 1000 bytes")));
    }

    #[test]
    fn comments_and_raw_strings() {
        assert_eq!(
            render("a{{/* c */}}b {{- /* c */ -}} c{{ `x\\n` }}", data()),
            "abcx\\n"
        );
    }
}
