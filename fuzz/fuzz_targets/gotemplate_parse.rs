//! Any template text: parse, then execute against a small data tree with tight limits. Must
//! give output or an error, never a panic, hang or stack overflow.
#![no_main]

use eddy_gotemplate::{FunctionMap, Map, Template, Value};
use libfuzzer_sys::fuzz_target;

fn data() -> Value {
    let mut values = Map::new();
    values.insert("name".into(), Value::from("web"));
    values.insert("list".into(), Value::from(vec![Value::from("a"), Value::Float(2.0)]));
    let mut root = Map::new();
    root.insert("Values".into(), Value::from(values));
    Value::from(root)
}

fuzz_target!(|data_bytes: &[u8]| {
    let Ok(source) = std::str::from_utf8(data_bytes) else { return };
    let mut template = Template::new(FunctionMap::new());
    if template.parse("fuzz", source).is_err() {
        return;
    }
    let mut state = template.state();
    state.limits.max_iterations = 10_000;
    state.limits.max_output_bytes = 1 << 20;
    let _ = state.execute_template("fuzz", data());
});
