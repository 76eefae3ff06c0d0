//! Server-side printing: `kubectl get` asks for `as=Table;v=v1;g=meta.k8s.io` and prints the
//! rows it gets back, so the columns and cell formats (ages such as `5m`, `<none>`) are ours.
//! Custom resources use their additionalPrinterColumns, evaluated with the JSONPath subset
//! CRDs use in practice (fields, indexes, `[*]` and `[?(@.field=="value")]` filters).

use serde_json::{Value, json};

/// How a column's cell is computed from an object.
#[derive(Clone)]
pub(crate) enum CellSource {
    /// A JSONPath into the object.
    Path(String),
    /// A timestamp at a JSONPath, shown as an age.
    Age(String),
    /// A built-in computation.
    Computed(fn(&Value) -> Value),
}

impl std::fmt::Debug for CellSource {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CellSource::Path(path) => write!(formatter, "Path({path})"),
            CellSource::Age(path) => write!(formatter, "Age({path})"),
            CellSource::Computed(_) => write!(formatter, "Computed"),
        }
    }
}

/// One Table column after the Name column.
#[derive(Debug, Clone)]
pub(crate) struct PrinterColumn {
    /// Header text.
    pub(crate) name: String,
    /// OpenAPI type: string, integer, number, boolean, date.
    pub(crate) column_type: String,
    /// OpenAPI format.
    pub(crate) format: String,
    /// Column description.
    pub(crate) description: String,
    /// 0 shows by default; higher shows with `-o wide`.
    pub(crate) priority: i64,
    /// Where the cell comes from.
    pub(crate) source: CellSource,
}

/// A column computed by a built-in function.
pub(crate) fn computed(name: &str, function: fn(&Value) -> Value) -> PrinterColumn {
    PrinterColumn {
        name: name.into(),
        column_type: "string".into(),
        format: String::new(),
        description: String::new(),
        priority: 0,
        source: CellSource::Computed(function),
    }
}

/// What each row embeds, from the `includeObject` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IncludeObject {
    /// No object.
    None,
    /// A PartialObjectMetadata (the default).
    Metadata,
    /// The full object.
    Object,
}

impl IncludeObject {
    /// Parses the query parameter; unknown values fall back to the default.
    pub(crate) fn parse(value: Option<&str>) -> Self {
        match value {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// The Table for `objects`, with column definitions unless `no_headers`.
pub(crate) fn table(
    columns: &[PrinterColumn],
    objects: &[Value],
    include: IncludeObject,
    list_metadata: Value,
    now: jiff::Timestamp,
) -> Value {
    let mut definitions = vec![json!({
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
        "priority": 0,
    })];
    for column in columns {
        definitions.push(json!({
            "name": column.name,
            "type": if column.column_type == "date" { "string" } else { column.column_type.as_str() },
            "format": column.format,
            "description": column.description,
            "priority": column.priority,
        }));
    }
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| row(columns, object, include, now))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

fn row(
    columns: &[PrinterColumn],
    object: &Value,
    include: IncludeObject,
    now: jiff::Timestamp,
) -> Value {
    let name = object
        .pointer("/metadata/name")
        .cloned()
        .unwrap_or(Value::String(String::new()));
    let mut cells = vec![name];
    for column in columns {
        cells.push(cell(column, object, now));
    }
    let mut row = json!({ "cells": cells });
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            row["object"] = json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": object.get("metadata").cloned().unwrap_or(json!({})),
            });
        }
        IncludeObject::Object => row["object"] = object.clone(),
    }
    row
}

fn cell(column: &PrinterColumn, object: &Value, now: jiff::Timestamp) -> Value {
    match &column.source {
        CellSource::Computed(function) => function(object),
        CellSource::Age(path) => age_cell(json_path(object, path).first(), now),
        CellSource::Path(path) => {
            let values = json_path(object, path);
            if column.column_type == "date" {
                return age_cell(values.first(), now);
            }
            match values.as_slice() {
                [] => Value::Null,
                [single] => match single {
                    Value::Object(_) | Value::Array(_) => Value::String(single.to_string()),
                    other => other.clone(),
                },
                several => Value::String(
                    several
                        .iter()
                        .map(|value| match value {
                            Value::String(text) => text.clone(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            }
        }
    }
}

fn age_cell(value: Option<&Value>, now: jiff::Timestamp) -> Value {
    let Some(stamp) = value.and_then(Value::as_str) else {
        return Value::String("<unknown>".into());
    };
    match stamp.parse::<jiff::Timestamp>() {
        Ok(then) => Value::String(human_duration(now.as_second() - then.as_second())),
        Err(_) => Value::String("<invalid>".into()),
    }
}

/// A duration in seconds written as apimachinery's `HumanDuration` writes it (`90s`, `5m3s`, `2d`).
pub(crate) fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    let seconds = seconds.max(0);
    let minutes = seconds / 60;
    let hours = minutes / 60;
    let days = hours / 24;
    let years = days / 365;
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        let rest = seconds % 60;
        if rest == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{rest}s")
        }
    } else if minutes < 180 {
        format!("{minutes}m")
    } else if hours < 8 {
        let rest = minutes % 60;
        if rest == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{rest}m")
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let rest = hours % 24;
        if rest == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{rest}h")
        }
    } else if hours < 24 * 365 * 2 {
        format!("{days}d")
    } else if hours < 24 * 365 * 8 {
        let rest = days % 365;
        if rest == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{rest}d")
        }
    } else {
        format!("{years}y")
    }
}

#[derive(Debug, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    All,
    Filter(String, String),
}

fn parse_path(path: &str) -> Vec<Step> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut steps = Vec::new();
    let characters: Vec<char> = path.chars().collect();
    let mut position = 0;
    while position < characters.len() {
        match characters[position] {
            '.' => position += 1,
            '[' => {
                let end = characters[position..]
                    .iter()
                    .position(|&c| c == ']')
                    .map_or(characters.len(), |offset| position + offset);
                let inside: String = characters[position + 1..end.min(characters.len())]
                    .iter()
                    .collect();
                steps.push(bracket_step(&inside));
                position = end + 1;
            }
            _ => {
                let start = position;
                while position < characters.len()
                    && characters[position] != '.'
                    && characters[position] != '['
                {
                    position += 1;
                }
                steps.push(Step::Field(characters[start..position].iter().collect()));
            }
        }
    }
    steps
}

fn bracket_step(inside: &str) -> Step {
    let inside = inside.trim();
    if inside == "*" {
        return Step::All;
    }
    if let Ok(index) = inside.parse::<usize>() {
        return Step::Index(index);
    }
    if let Some(filter) = inside
        .strip_prefix("?(")
        .and_then(|rest| rest.strip_suffix(')'))
        && let Some((left, right)) = filter.split_once("==")
    {
        let field = left.trim().trim_start_matches("@.").to_string();
        let value = right
            .trim()
            .trim_matches('"')
            .trim_matches('\'')
            .to_string();
        return Step::Filter(field, value);
    }
    Step::Field(inside.trim_matches('\'').trim_matches('"').to_string())
}

/// Every value the JSONPath selects in `object`.
pub(crate) fn json_path(object: &Value, path: &str) -> Vec<Value> {
    let mut current = vec![object.clone()];
    for step in parse_path(path) {
        let mut next = Vec::new();
        for value in current {
            match &step {
                Step::Field(field) => {
                    if let Some(found) = value.get(field.as_str()) {
                        next.push(found.clone());
                    }
                }
                Step::Index(index) => {
                    if let Some(found) = value.get(*index) {
                        next.push(found.clone());
                    }
                }
                Step::All => match value {
                    Value::Array(items) => next.extend(items),
                    Value::Object(map) => next.extend(map.into_iter().map(|(_, v)| v)),
                    _ => {}
                },
                Step::Filter(field, expected) => {
                    if let Value::Array(items) = value {
                        next.extend(items.into_iter().filter(|item| {
                            match json_path(item, field).first() {
                                Some(Value::String(text)) => text == expected,
                                Some(other) => {
                                    *other
                                        == serde_json::from_str::<Value>(expected)
                                            .unwrap_or(Value::Null)
                                }
                                None => false,
                            }
                        }));
                    }
                }
            }
        }
        current = next;
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_path_filters_conditions_by_type() {
        let object = json!({"status": {"conditions": [
            {"type": "Reconciling", "status": "False"},
            {"type": "Ready", "status": "True", "message": "done"}
        ]}});
        assert_eq!(
            json_path(&object, ".status.conditions[?(@.type==\"Ready\")].status"),
            vec![json!("True")]
        );
        assert_eq!(
            json_path(&object, ".status.conditions[1].message"),
            vec![json!("done")]
        );
        assert_eq!(json_path(&object, ".status.conditions[*].type").len(), 2);
        assert!(json_path(&object, ".spec.missing").is_empty());
    }

    #[test]
    fn human_durations_match_apimachinery() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(183), "3m3s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 60), "3h1m");
        assert_eq!(human_duration(30 * 3600), "30h");
        assert_eq!(human_duration(3 * 86400), "3d");
        assert_eq!(human_duration(-5), "<invalid>");
    }

    #[test]
    fn table_rows_start_with_the_name() {
        let now = jiff::Timestamp::UNIX_EPOCH;
        let object = json!({"metadata": {"name": "a", "creationTimestamp": "1970-01-01T00:00:00Z"}, "spec": {"size": 3}});
        let columns = vec![PrinterColumn {
            name: "Size".into(),
            column_type: "integer".into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            source: CellSource::Path(".spec.size".into()),
        }];
        let table = table(&columns, &[object], IncludeObject::Metadata, json!({}), now);
        assert_eq!(table["rows"][0]["cells"], json!(["a", 3]));
        assert_eq!(table["columnDefinitions"][1]["name"], "Size");
    }
}
