//! Sprig's list and dict functions. Dicts are Go maps, so `set`, `unset`, `merge` and
//! `mergeOverwrite` change the map in place, as charts rely on.

use eddy_gotemplate::{FunctionMap, Map, SharedMap, Value};

use super::convert::{deep_equal, is_empty, string_list, strval, to_int};
use super::{Result, expect_count, register};

fn list_of(value: &Value, name: &str) -> Result<Vec<Value>> {
    match value {
        Value::List(items) => Ok(items.to_vec()),
        Value::Bytes(bytes) => Ok(bytes
            .iter()
            .map(|byte| Value::Int(i64::from(*byte)))
            .collect()),
        Value::Nil => Ok(Vec::new()),
        Value::Object(object) => match object.as_data() {
            Value::List(items) => Ok(items.to_vec()),
            _ => Err(format!("Cannot {name} on type {}", object.type_name())),
        },
        other => Err(format!("Cannot {name} on type {}", other.type_name())),
    }
}

fn map_of(value: &Value) -> Result<SharedMap> {
    match value {
        Value::Map(map) => Ok(map.clone()),
        Value::Nil => Err("invalid value; expected map[string]interface {}".to_string()),
        other => Err(format!(
            "wrong type for value; expected map[string]interface {{}}; got {}",
            other.type_name()
        )),
    }
}

/// mergo's `isEmptyValue`.
fn mergo_empty(value: &Value) -> bool {
    is_empty(value)
}

/// mergo's map merge: `overwrite` lets source values replace existing ones.
fn merge_into(destination: &SharedMap, source: &SharedMap, overwrite: bool) {
    for (key, value) in source.snapshot() {
        let existing = destination.get(&key);
        if value.is_nil() {
            if overwrite {
                destination.insert(key, Value::Nil);
            }
            continue;
        }
        match (&existing, &value) {
            (Some(Value::Map(destination_map)), Value::Map(source_map)) => {
                merge_into(destination_map, source_map, overwrite);
                continue;
            }
            (Some(existing_value), Value::List(_)) if !mergo_empty(existing_value) => {
                if overwrite {
                    destination.insert(key, value.clone());
                }
                continue;
            }
            _ => {}
        }
        let replace = match &existing {
            None => true,
            Some(existing_value) => overwrite || mergo_empty(existing_value),
        };
        if replace {
            destination.insert(key, value.clone());
        }
    }
}

pub(crate) fn register_all(map: &mut FunctionMap) {
    register(map, "list", |_, args| Ok(Value::from(args.to_vec())));
    register(map, "tuple", |_, args| Ok(Value::from(args.to_vec())));
    register(map, "dict", |_, args| {
        let mut out = Map::new();
        for pair in args.chunks(2) {
            let key = strval(&pair[0]);
            let value = pair.get(1).cloned().unwrap_or_else(|| Value::from(""));
            out.insert(key, value);
        }
        Ok(Value::from(out))
    });
    for (name, must) in [
        ("append", false),
        ("push", false),
        ("mustAppend", true),
        ("mustPush", true),
    ] {
        register(map, name, move |_, args| {
            expect_count(args, name, 2)?;
            let mut items = list_of(&args[0], "append to")
                .map_err(|error| if must { error.clone() } else { error })?;
            items.push(args[1].clone());
            Ok(Value::from(items))
        });
    }
    for name in ["prepend", "mustPrepend"] {
        register(map, name, move |_, args| {
            expect_count(args, name, 2)?;
            let mut items = list_of(&args[0], "prepend")?;
            items.insert(0, args[1].clone());
            Ok(Value::from(items))
        });
    }
    register(map, "concat", |_, args| {
        let mut out = Vec::new();
        for arg in args {
            out.extend(list_of(arg, "concat")?);
        }
        Ok(Value::from(out))
    });
    for name in ["first", "mustFirst"] {
        register(map, name, move |_, args| {
            expect_count(args, name, 1)?;
            Ok(list_of(&args[0], "find first")?
                .into_iter()
                .next()
                .unwrap_or(Value::Nil))
        });
    }
    for name in ["last", "mustLast"] {
        register(map, name, move |_, args| {
            expect_count(args, name, 1)?;
            Ok(list_of(&args[0], "find last")?.pop().unwrap_or(Value::Nil))
        });
    }
    for name in ["rest", "mustRest"] {
        register(map, name, move |_, args| {
            expect_count(args, name, 1)?;
            let items = list_of(&args[0], "find rest")?;
            if items.is_empty() {
                return Ok(Value::Nil);
            }
            Ok(Value::from(items[1..].to_vec()))
        });
    }
    for name in ["initial", "mustInitial"] {
        register(map, name, move |_, args| {
            expect_count(args, name, 1)?;
            let items = list_of(&args[0], "find initial")?;
            if items.is_empty() {
                return Ok(Value::Nil);
            }
            Ok(Value::from(items[..items.len() - 1].to_vec()))
        });
    }
    for name in ["reverse", "mustReverse"] {
        register(map, name, move |_, args| {
            expect_count(args, name, 1)?;
            let mut items = list_of(&args[0], "find reverse")?;
            items.reverse();
            Ok(Value::from(items))
        });
    }
    for name in ["uniq", "mustUniq"] {
        register(map, name, move |_, args| {
            expect_count(args, name, 1)?;
            let mut out: Vec<Value> = Vec::new();
            for item in list_of(&args[0], "find uniq")? {
                if !out.iter().any(|existing| deep_equal(existing, &item)) {
                    out.push(item);
                }
            }
            Ok(Value::from(out))
        });
    }
    for name in ["without", "mustWithout"] {
        register(map, name, move |_, args| {
            if args.is_empty() {
                return Err(format!(
                    "wrong number of args for {name}: want at least 1 got 0"
                ));
            }
            let items = list_of(&args[0], "find without")?;
            let out: Vec<Value> = items
                .into_iter()
                .filter(|item| !args[1..].iter().any(|omit| deep_equal(omit, item)))
                .collect();
            Ok(Value::from(out))
        });
    }
    for name in ["has", "mustHas"] {
        register(map, name, move |_, args| {
            expect_count(args, name, 2)?;
            if args[1].is_nil() {
                return Ok(Value::Bool(false));
            }
            let items = list_of(&args[1], "find has")?;
            Ok(Value::Bool(
                items.iter().any(|item| deep_equal(item, &args[0])),
            ))
        });
    }
    for name in ["compact", "mustCompact"] {
        register(map, name, move |_, args| {
            expect_count(args, name, 1)?;
            let items = list_of(&args[0], "compact")?;
            Ok(Value::from(
                items
                    .into_iter()
                    .filter(|item| !is_empty(item))
                    .collect::<Vec<_>>(),
            ))
        });
    }
    for name in ["slice", "mustSlice"] {
        register(map, name, move |_, args| {
            if args.is_empty() {
                return Err(format!(
                    "wrong number of args for {name}: want at least 1 got 0"
                ));
            }
            let items = list_of(&args[0], "slice")?;
            let start = args.get(1).map_or(0, to_int).max(0) as usize;
            let end = args.get(2).map_or(items.len() as i64, to_int).max(0) as usize;
            if start > end || end > items.len() {
                return Err(format!(
                    "runtime error: slice bounds out of range [{start}:{end}]"
                ));
            }
            Ok(Value::from(items[start..end].to_vec()))
        });
    }
    for name in ["chunk", "mustChunk"] {
        register(map, name, move |_, args| {
            expect_count(args, name, 2)?;
            let size = to_int(&args[0]).max(1) as usize;
            let items = list_of(&args[1], "chunk")?;
            Ok(Value::from(
                items
                    .chunks(size)
                    .map(|chunk| Value::from(chunk.to_vec()))
                    .collect::<Vec<_>>(),
            ))
        });
    }
    register(map, "sortAlpha", |_, args| {
        expect_count(args, "sortAlpha", 1)?;
        let mut items = match &args[0] {
            Value::List(_) => string_list(&args[0]),
            other => vec![strval(other)],
        };
        items.sort();
        Ok(Value::from(
            items.into_iter().map(Value::from).collect::<Vec<_>>(),
        ))
    });
    register_dicts(map);
}

fn register_dicts(map: &mut FunctionMap) {
    register(map, "get", |_, args| {
        expect_count(args, "get", 2)?;
        let dict = map_of(&args[0])?;
        Ok(dict
            .get(&strval(&args[1]))
            .unwrap_or_else(|| Value::from("")))
    });
    register(map, "set", |_, args| {
        expect_count(args, "set", 3)?;
        let dict = map_of(&args[0])?;
        dict.insert(strval(&args[1]), args[2].clone());
        Ok(Value::Map(dict))
    });
    register(map, "unset", |_, args| {
        expect_count(args, "unset", 2)?;
        let dict = map_of(&args[0])?;
        dict.remove(&strval(&args[1]));
        Ok(Value::Map(dict))
    });
    register(map, "hasKey", |_, args| {
        expect_count(args, "hasKey", 2)?;
        let dict = map_of(&args[0])?;
        Ok(Value::Bool(dict.contains_key(&strval(&args[1]))))
    });
    register(map, "pluck", |_, args| {
        if args.is_empty() {
            return Err("wrong number of args for pluck: want at least 1 got 0".to_string());
        }
        let key = strval(&args[0]);
        let mut out = Vec::new();
        for dict in &args[1..] {
            if let Some(value) = map_of(dict)?.get(&key) {
                out.push(value);
            }
        }
        Ok(Value::from(out))
    });
    register(map, "keys", |_, args| {
        let mut out = Vec::new();
        for dict in args {
            out.extend(map_of(dict)?.keys().into_iter().map(Value::from));
        }
        Ok(Value::from(out))
    });
    register(map, "values", |_, args| {
        expect_count(args, "values", 1)?;
        Ok(Value::from(
            map_of(&args[0])?
                .snapshot()
                .into_values()
                .collect::<Vec<_>>(),
        ))
    });
    register(map, "pick", |_, args| {
        if args.is_empty() {
            return Err("wrong number of args for pick: want at least 1 got 0".to_string());
        }
        let dict = map_of(&args[0])?;
        let mut out = Map::new();
        for key in &args[1..] {
            let key = strval(key);
            if let Some(value) = dict.get(&key) {
                out.insert(key, value);
            }
        }
        Ok(Value::from(out))
    });
    register(map, "omit", |_, args| {
        if args.is_empty() {
            return Err("wrong number of args for omit: want at least 1 got 0".to_string());
        }
        let dict = map_of(&args[0])?;
        let omitted: Vec<String> = args[1..].iter().map(strval).collect();
        let out: Map = dict
            .snapshot()
            .into_iter()
            .filter(|(key, _)| !omitted.contains(key))
            .collect();
        Ok(Value::from(out))
    });
    register(map, "dig", |_, args| {
        if args.len() < 3 {
            return Err(format!(
                "wrong number of args for dig: want at least 3 got {}",
                args.len()
            ));
        }
        if let Value::Map(map) = &args[args.len() - 1]
            && let Some(name) = map.type_name()
        {
            return Err(format!(
                "interface conversion: interface {{}} is {name}, not map[string]interface {{}}"
            ));
        }
        let dict = map_of(&args[args.len() - 1])?;
        let fallback = args[args.len() - 2].clone();
        let keys: Vec<String> = args[..args.len() - 2].iter().map(strval).collect();
        let mut current = dict;
        for (index, key) in keys.iter().enumerate() {
            let Some(value) = current.get(key) else {
                return Ok(fallback);
            };
            if index + 1 == keys.len() {
                return Ok(value);
            }
            match value {
                Value::Map(next) => current = next,
                _ => {
                    return Err(format!(
                        "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                        value.type_name()
                    ));
                }
            }
        }
        Ok(fallback)
    });
    for (name, overwrite) in [
        ("merge", false),
        ("mustMerge", false),
        ("mergeOverwrite", true),
        ("mustMergeOverwrite", true),
    ] {
        register(map, name, move |_, args| {
            if args.is_empty() {
                return Err(format!(
                    "wrong number of args for {name}: want at least 1 got 0"
                ));
            }
            let destination = map_of(&args[0])?;
            for source in &args[1..] {
                let source = map_of(source)?;
                merge_into(&destination, &source, overwrite);
            }
            Ok(Value::Map(destination))
        });
    }
    for name in ["deepCopy", "mustDeepCopy"] {
        register(map, name, move |_, args| {
            expect_count(args, name, 1)?;
            Ok(args[0].deep_copy())
        });
    }
}
