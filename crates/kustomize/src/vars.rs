//! Legacy `vars`: `$(NAME)` references in the var-reference fields are replaced with a field of
//! another resource, after all names are final.

use crate::Error;
use crate::fieldspec::apply_specs;
use crate::resource::Gvk;
use crate::target::Accumulator;
use crate::value::Value;

/// Reads a dotted field path (`spec.ports[0].port`, `metadata.name`).
pub(crate) fn lookup_dotted<'value>(value: &'value Value, path: &str) -> Option<&'value Value> {
    let mut current = value;
    for segment in path.split('.') {
        let (key, indices) = match segment.find('[') {
            Some(position) => (&segment[..position], &segment[position..]),
            None => (segment, ""),
        };
        if !key.is_empty() {
            current = current.get(key)?;
        }
        for index in indices.split(['[', ']']).filter(|part| !part.is_empty()) {
            let index: usize = index.parse().ok()?;
            current = current.as_seq()?.get(index)?;
        }
    }
    Some(current)
}

/// Expands `$(NAME)` in `text` the way Kubernetes' `expansion` package does (`$$` escapes).
pub(crate) fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let bytes: Vec<char> = text.chars().collect();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == '$' && index + 1 < bytes.len() {
            if bytes[index + 1] == '$' {
                out.push('$');
                index += 2;
                continue;
            }
            if bytes[index + 1] == '('
                && let Some(close) = bytes[index + 2..]
                    .iter()
                    .position(|character| *character == ')')
            {
                {
                    let name: String = bytes[index + 2..index + 2 + close].iter().collect();
                    match lookup(&name) {
                        Some(value) => out.push_str(&value),
                        None => {
                            out.push_str("$(");
                            out.push_str(&name);
                            out.push(')');
                        }
                    }
                    index += close + 3;
                    continue;
                }
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    out
}

fn objref(var: &Value) -> (Gvk, String, String) {
    let reference = var.get("objref").cloned().unwrap_or(Value::Null);
    let text = |key: &str| {
        reference
            .get(key)
            .and_then(Value::scalar_text)
            .unwrap_or_default()
    };
    (
        Gvk::from_api_version(&text("apiVersion"), &text("kind")),
        text("name"),
        text("namespace"),
    )
}

/// Binds a var to the one resource its `objref` names at the level where it is declared.
pub(crate) fn bind(accumulator: &mut Accumulator, var: &Value) -> Result<(), Error> {
    let name = var
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (selector, object_name, namespace) = objref(var);
    let matches: Vec<usize> = accumulator.matching_any_id(&|id| {
        id.gvk.is_selected_by(&selector)
            && id.name == object_name
            && (namespace.is_empty() || id.effective_namespace() == namespace)
    });
    match matches.as_slice() {
        [] => Ok(()),
        [index] => {
            accumulator.resources[*index].ref_var_names.push(name);
            Ok(())
        }
        _ => Err(Error::Build(format!(
            "found {} resId matches for var {name} (unable to disambiguate)",
            matches.len()
        ))),
    }
}

/// Resolves every var and substitutes it.
pub(crate) fn resolve(accumulator: &mut Accumulator) -> Result<(), Error> {
    if accumulator.vars.is_empty() {
        return Ok(());
    }
    let mut values: Vec<(String, Value)> = Vec::new();
    for var in &accumulator.vars {
        let name = var
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let field_path = var
            .get_path(&["fieldref", "fieldpath"])
            .and_then(Value::as_str)
            .unwrap_or("metadata.name")
            .to_string();
        let Some(resource) = accumulator
            .resources
            .iter()
            .find(|resource| resource.ref_var_names.contains(&name))
        else {
            return Err(Error::Build(format!(
                "var '{name}' cannot be mapped to a field in the set of known resources"
            )));
        };
        let value = lookup_dotted(&resource.value, &field_path)
            .cloned()
            .ok_or_else(|| {
                Error::Build(format!(
                    "field specified in var '{name}' not found in corresponding resource"
                ))
            })?;
        values.push((name, value));
    }
    let specs = accumulator.config.var_reference.clone();
    let text_of = |name: &str| {
        values
            .iter()
            .find(|(candidate, _)| candidate == name)
            .and_then(|(_, value)| value.scalar_text())
    };
    for resource in &mut accumulator.resources {
        let gvk = resource.gvk();
        apply_specs(&mut resource.value, &gvk, &specs, &mut |field| {
            substitute(field, &values, &text_of);
            Ok(())
        })?;
    }
    Ok(())
}

fn substitute(
    field: &mut Value,
    values: &[(String, Value)],
    text_of: &dyn Fn(&str) -> Option<String>,
) {
    match field {
        Value::String(text) => {
            if let Some(name) = text
                .strip_prefix("$(")
                .and_then(|rest| rest.strip_suffix(')'))
                && let Some((_, value)) = values.iter().find(|(candidate, _)| candidate == name)
                && !matches!(value, Value::Seq(_) | Value::Map(_))
            {
                *field = value.clone();
                return;
            }
            *text = expand(text, text_of);
        }
        Value::Seq(items) => {
            for item in items {
                substitute(item, values, text_of);
            }
        }
        Value::Map(map) => {
            for (_, item) in map.iter_mut() {
                substitute(item, values, text_of);
            }
        }
        _ => {}
    }
}
