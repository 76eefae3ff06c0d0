//! JSON patch (RFC 6902) over [`Value`]s, with the error cases of evanphx/json-patch.

use crate::value::Value;

/// Why a JSON patch failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct JsonPatchError(pub String);

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn tokens(pointer: &str) -> Result<Vec<String>, JsonPatchError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(JsonPatchError(format!("invalid JSON pointer {pointer:?}")));
    };
    Ok(rest.split('/').map(unescape).collect())
}

fn parent_mut<'value>(
    document: &'value mut Value,
    path: &[String],
    pointer: &str,
) -> Result<&'value mut Value, JsonPatchError> {
    let mut current = document;
    for token in path {
        current = match current {
            Value::Map(map) => map.get_mut(token.as_str()),
            Value::Seq(items) => token
                .parse::<usize>()
                .ok()
                .and_then(|index| items.get_mut(index)),
            _ => None,
        }
        .ok_or_else(|| {
            JsonPatchError(format!("doc is missing path: \"{pointer}\": missing value"))
        })?;
    }
    Ok(current)
}

fn get(document: &Value, pointer: &str) -> Result<Value, JsonPatchError> {
    let mut current = document;
    for token in tokens(pointer)? {
        current = match current {
            Value::Map(map) => map.get(token.as_str()),
            Value::Seq(items) => token
                .parse::<usize>()
                .ok()
                .and_then(|index| items.get(index)),
            _ => None,
        }
        .ok_or_else(|| JsonPatchError(format!("doc is missing path: \"{pointer}\"")))?;
    }
    Ok(current.clone())
}

fn add(document: &mut Value, pointer: &str, value: Value) -> Result<(), JsonPatchError> {
    let path = tokens(pointer)?;
    let Some((last, parents)) = path.split_last() else {
        *document = value;
        return Ok(());
    };
    match parent_mut(document, parents, pointer)? {
        Value::Map(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Seq(items) => {
            if last == "-" {
                items.push(value);
                return Ok(());
            }
            let index = last
                .parse::<usize>()
                .ok()
                .filter(|index| *index <= items.len())
                .ok_or_else(|| {
                    JsonPatchError(format!("add operation index out of bounds: {pointer}"))
                })?;
            items.insert(index, value);
            Ok(())
        }
        _ => Err(JsonPatchError(format!(
            "add operation does not apply: doc is missing path: {pointer}"
        ))),
    }
}

fn remove(document: &mut Value, pointer: &str) -> Result<Value, JsonPatchError> {
    let path = tokens(pointer)?;
    let Some((last, parents)) = path.split_last() else {
        return Err(JsonPatchError("cannot remove the whole document".into()));
    };
    let missing = || {
        JsonPatchError(format!(
            "remove operation does not apply: doc is missing path: \"{pointer}\""
        ))
    };
    match parent_mut(document, parents, pointer).map_err(|_| missing())? {
        Value::Map(map) => map.shift_remove(last.as_str()).ok_or_else(missing),
        Value::Seq(items) => {
            let index = last
                .parse::<usize>()
                .ok()
                .filter(|index| *index < items.len())
                .ok_or_else(missing)?;
            Ok(items.remove(index))
        }
        _ => Err(missing()),
    }
}

fn replace(document: &mut Value, pointer: &str, value: Value) -> Result<(), JsonPatchError> {
    let path = tokens(pointer)?;
    let Some((last, parents)) = path.split_last() else {
        *document = value;
        return Ok(());
    };
    let missing = || {
        JsonPatchError(format!(
            "replace operation does not apply: doc is missing key: {pointer}: missing value"
        ))
    };
    match parent_mut(document, parents, pointer).map_err(|_| missing())? {
        Value::Map(map) => match map.get_mut(last.as_str()) {
            Some(slot) => {
                *slot = value;
                Ok(())
            }
            None => Err(missing()),
        },
        Value::Seq(items) => {
            let slot = last
                .parse::<usize>()
                .ok()
                .and_then(|index| items.get_mut(index))
                .ok_or_else(missing)?;
            *slot = value;
            Ok(())
        }
        _ => Err(missing()),
    }
}

/// Applies a list of operations (already parsed from YAML or JSON) to a document.
pub(crate) fn apply(document: &mut Value, operations: &Value) -> Result<(), JsonPatchError> {
    let Value::Seq(operations) = operations else {
        return Err(JsonPatchError(
            "a JSON patch must be a list of operations".into(),
        ));
    };
    for operation in operations {
        let text = |key: &str| {
            operation
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let op = text("op").unwrap_or_default();
        let path =
            text("path").ok_or_else(|| JsonPatchError(format!("operation {op:?} has no path")))?;
        let value = || {
            operation
                .get("value")
                .cloned()
                .ok_or_else(|| JsonPatchError(format!("operation {op:?} has no value")))
        };
        match op.as_str() {
            "add" => add(document, &path, value()?)?,
            "remove" => {
                remove(document, &path)?;
            }
            "replace" => replace(document, &path, value()?)?,
            "move" => {
                let from = text("from").unwrap_or_default();
                let moved = remove(document, &from)?;
                add(document, &path, moved)?;
            }
            "copy" => {
                let from = text("from").unwrap_or_default();
                let copied = get(document, &from)?;
                add(document, &path, copied)?;
            }
            "test" => {
                if get(document, &path)? != value()? {
                    return Err(JsonPatchError(format!("testing value {path} failed")));
                }
            }
            other => return Err(JsonPatchError(format!("unexpected op {other:?}"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    #[test]
    fn operations_apply_in_order() {
        let mut document = parse_documents("a:\n  b: [1, 2]\n")
            .unwrap_or_default()
            .remove(0);
        let patch = parse_documents(
            "- op: add\n  path: /a/b/-\n  value: 3\n- op: replace\n  path: /a/b/0\n  value: 9\n- op: remove\n  path: /a/b/1\n",
        )
        .unwrap_or_default()
        .remove(0);
        assert_eq!(apply(&mut document, &patch), Ok(()));
        assert_eq!(
            document.get_path(&["a", "b"]),
            Some(&Value::Seq(vec![Value::Int(9), Value::Int(3)]))
        );
    }

    #[test]
    fn replacing_a_missing_key_fails() {
        let mut document = parse_documents("a: 1\n").unwrap_or_default().remove(0);
        let patch = parse_documents("- op: replace\n  path: /b\n  value: 1\n")
            .unwrap_or_default()
            .remove(0);
        assert!(apply(&mut document, &patch).is_err());
    }
}
