//! The function map Helm gives templates: Sprig (minus `env`/`expandenv`) plus Helm's
//! own `include`, `tpl`, `required`, `toYaml`, `fromYaml`, `lookup`, ...

mod cipher;
mod collections;
mod convert;
mod crypto;
mod dates;
mod encoding;
mod password;
mod paths;
mod rsa_keygen;
mod strings;

use std::sync::Arc;

use eddy_gotemplate::{Function, FunctionMap, State, Value};

pub use convert::strval;

/// Helm's limit on how often one template may be nested inside itself via `include`.
const RECURSION_LIMIT: usize = 1000;

pub(crate) type Result<T> = std::result::Result<T, String>;

pub(crate) fn register(
    map: &mut FunctionMap,
    name: &str,
    body: impl Fn(&mut State, &[Value]) -> Result<Value> + Send + Sync + 'static,
) {
    let function: Function = Arc::new(body);
    map.insert(name.to_string(), function);
}

pub(crate) fn arg(args: &[Value], index: usize, name: &str, count: usize) -> Result<Value> {
    if args.len() != count {
        return Err(format!(
            "wrong number of args for {name}: want {count} got {}",
            args.len()
        ));
    }
    Ok(args[index].clone())
}

pub(crate) fn expect_count(args: &[Value], name: &str, count: usize) -> Result<()> {
    if args.len() != count {
        return Err(format!(
            "wrong number of args for {name}: want {count} got {}",
            args.len()
        ));
    }
    Ok(())
}

pub(crate) fn string_arg(args: &[Value], index: usize) -> Result<String> {
    match args.get(index) {
        Some(Value::String(text)) => Ok(text.to_string()),
        Some(Value::Nil) | None => Err("invalid value; expected string".to_string()),
        Some(other) => Err(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        )),
    }
}

/// Every function a Helm template can call.
pub fn function_map() -> FunctionMap {
    let mut map = FunctionMap::default();
    strings::register_all(&mut map);
    collections::register_all(&mut map);
    convert::register_all(&mut map);
    encoding::register_all(&mut map);
    crypto::register_all(&mut map);
    cipher::register_all(&mut map);
    dates::register_all(&mut map);
    paths::register_all(&mut map);
    password::register_all(&mut map);
    register_helm(&mut map);
    map
}

fn register_helm(map: &mut FunctionMap) {
    register(map, "include", |state, args| {
        expect_count(args, "include", 2)?;
        let name: std::sync::Arc<str> = match &args[0] {
            Value::String(text) => text.clone(),
            _ => string_arg(args, 0)?.into(),
        };
        // Counted without allocating once a name has been seen (include is hot).
        match state.counters.get_mut(&*name) {
            Some(count) if *count > RECURSION_LIMIT => {
                return Err(format!(
                    "rendering template has a nested reference name: {name}: unable to execute template"
                ));
            }
            Some(count) => *count += 1,
            None => {
                state.counters.insert(name.to_string(), 1);
            }
        }
        let result = state.execute_template(&name, args[1].clone());
        if let Some(counter) = state.counters.get_mut(&*name) {
            *counter = counter.saturating_sub(1);
        }
        result.map(Value::from).map_err(|error| error.to_string())
    });
    register(map, "tpl", |state, args| {
        expect_count(args, "tpl", 2)?;
        let text = string_arg(args, 0)?;
        let data = args[1].clone();
        let template_name = match &data {
            Value::Map(map) => match map.get("Template") {
                Some(Value::Map(template)) => template.get("Name").map(|name| name.to_go_string()),
                _ => None,
            },
            _ => None,
        };
        let Some(template_name) = template_name else {
            return Err(format!(
                "cannot retrieve Template.Name from values inside tpl function: {text}"
            ));
        };
        state
            .execute_text(&template_name, &text, data)
            .map(|out| Value::from(crate::engine::strip_no_value(out)))
            .map_err(|error| match error {
                eddy_gotemplate::Error::Parse(parse) => {
                    format!("cannot parse template {text:?}: {parse}")
                }
                other => format!("error during tpl function execution for {text:?}: {other}"),
            })
    });
    register(map, "required", |_, args| {
        expect_count(args, "required", 2)?;
        let message = strval(&args[0]);
        match &args[1] {
            Value::Nil => Err(message),
            Value::String(text) if text.is_empty() => Err(message),
            other => Ok(other.clone()),
        }
    });
    register(map, "fail", |_, args| {
        expect_count(args, "fail", 1)?;
        Err(strval(&args[0]))
    });
    register(map, "lookup", |_, _| {
        Ok(Value::from(eddy_gotemplate::Map::new()))
    });
    let to_yaml = |_: &mut State, args: &[Value]| -> Result<Value> {
        expect_count(args, "toYaml", 1)?;
        let text = crate::yaml_emit::to_yaml(&args[0]);
        Ok(Value::from(
            text.strip_suffix('\n').unwrap_or(&text).to_string(),
        ))
    };
    register(map, "toYaml", to_yaml);
    register(map, "mustToYaml", to_yaml);
    register(map, "toYamlPretty", to_yaml);
    let to_toml = |_: &mut State, args: &[Value]| -> Result<Value> {
        expect_count(args, "toToml", 1)?;
        Ok(Value::from(crate::toml::to_toml(&args[0])))
    };
    register(map, "toToml", to_toml);
    register(map, "mustToToml", to_toml);
    register(map, "fromToml", |_, args| {
        let text = strval(&arg(args, 0, "fromToml", 1)?);
        Ok(crate::toml::from_toml(&text))
    });
    register(map, "fromYaml", |_, args| {
        let text = strval(&arg(args, 0, "fromYaml", 1)?);
        Ok(match crate::yaml::parse(&text) {
            Ok(Value::Map(map)) => Value::Map(map),
            Ok(Value::Nil) => Value::from(eddy_gotemplate::Map::new()),
            Ok(other) => error_map(&format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&other)
            )),
            Err(error) => error_map(&format!("error converting YAML to JSON: {error}")),
        })
    });
    register(map, "fromYamlArray", |_, args| {
        let text = strval(&arg(args, 0, "fromYamlArray", 1)?);
        Ok(match crate::yaml::parse(&text) {
            Ok(Value::List(items)) => Value::List(items),
            Ok(Value::Nil) => Value::from(Vec::new()),
            Ok(other) => Value::from(vec![Value::from(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
                json_kind(&other)
            ))]),
            Err(error) => Value::from(vec![Value::from(format!(
                "error converting YAML to JSON: {error}"
            ))]),
        })
    });
    register(map, "fromJson", |_, args| {
        let text = strval(&arg(args, 0, "fromJson", 1)?);
        Ok(match crate::json::decode(&text) {
            Ok(Value::Map(map)) => Value::Map(map),
            Ok(_) => {
                error_map("json: cannot unmarshal into Go value of type map[string]interface {}")
            }
            Err(error) => error_map(&error),
        })
    });
    register(map, "mustFromJson", |_, args| {
        let text = strval(&arg(args, 0, "mustFromJson", 1)?);
        crate::json::decode(&text)
    });
    register(map, "fromJsonArray", |_, args| {
        let text = strval(&arg(args, 0, "fromJsonArray", 1)?);
        Ok(match crate::json::decode(&text) {
            Ok(Value::List(items)) => Value::List(items),
            Ok(_) => Value::from(vec![Value::from(
                "json: cannot unmarshal into Go value of type []interface {}",
            )]),
            Err(error) => Value::from(vec![Value::from(error)]),
        })
    });
    let to_json = |_: &mut State, args: &[Value]| -> Result<Value> {
        expect_count(args, "toJson", 1)?;
        Ok(Value::from(
            crate::json::encode(&args[0], true, None).unwrap_or_default(),
        ))
    };
    register(map, "toJson", to_json);
    register(map, "mustToJson", |_, args| {
        expect_count(args, "mustToJson", 1)?;
        crate::json::encode(&args[0], true, None).map(Value::from)
    });
    register(map, "toPrettyJson", |_, args| {
        expect_count(args, "toPrettyJson", 1)?;
        Ok(Value::from(
            crate::json::encode(&args[0], true, Some("  ")).unwrap_or_default(),
        ))
    });
    register(map, "mustToPrettyJson", |_, args| {
        expect_count(args, "mustToPrettyJson", 1)?;
        crate::json::encode(&args[0], true, Some("  ")).map(Value::from)
    });
    register(map, "toRawJson", |_, args| {
        expect_count(args, "toRawJson", 1)?;
        Ok(Value::from(
            crate::json::encode(&args[0], false, None).unwrap_or_default(),
        ))
    });
    register(map, "mustToRawJson", |_, args| {
        expect_count(args, "mustToRawJson", 1)?;
        crate::json::encode(&args[0], false, None).map(Value::from)
    });
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "string",
        Value::Float(_) | Value::Int(_) | Value::Int64(_) => "number",
        Value::Bool(_) => "bool",
        Value::List(_) => "array",
        _ => "object",
    }
}

fn error_map(message: &str) -> Value {
    let mut map = eddy_gotemplate::Map::new();
    map.insert("Error".to_string(), Value::from(message));
    Value::from(map)
}

#[cfg(test)]
mod tests {
    /// Every name in Sprig v3.3.0's `GenericFuncMap` except `env` and `expandenv`.
    const SPRIG: &[&str] = &[
        "abbrev",
        "abbrevboth",
        "add",
        "add1",
        "add1f",
        "addf",
        "adler32sum",
        "ago",
        "all",
        "any",
        "append",
        "atoi",
        "b32dec",
        "b32enc",
        "b64dec",
        "b64enc",
        "base",
        "bcrypt",
        "biggest",
        "buildCustomCert",
        "camelcase",
        "cat",
        "ceil",
        "chunk",
        "clean",
        "coalesce",
        "compact",
        "concat",
        "contains",
        "date",
        "dateInZone",
        "dateModify",
        "date_in_zone",
        "date_modify",
        "decryptAES",
        "deepCopy",
        "deepEqual",
        "default",
        "derivePassword",
        "dict",
        "dig",
        "dir",
        "div",
        "divf",
        "duration",
        "durationRound",
        "empty",
        "encryptAES",
        "ext",
        "fail",
        "first",
        "float64",
        "floor",
        "fromJson",
        "genCA",
        "genCAWithKey",
        "genPrivateKey",
        "genSelfSignedCert",
        "genSelfSignedCertWithKey",
        "genSignedCert",
        "genSignedCertWithKey",
        "get",
        "getHostByName",
        "has",
        "hasKey",
        "hasPrefix",
        "hasSuffix",
        "hello",
        "htmlDate",
        "htmlDateInZone",
        "htpasswd",
        "indent",
        "initial",
        "initials",
        "int",
        "int64",
        "isAbs",
        "join",
        "kebabcase",
        "keys",
        "kindIs",
        "kindOf",
        "last",
        "list",
        "lower",
        "max",
        "maxf",
        "merge",
        "mergeOverwrite",
        "min",
        "minf",
        "mod",
        "mul",
        "mulf",
        "mustAppend",
        "mustChunk",
        "mustCompact",
        "mustDateModify",
        "mustDeepCopy",
        "mustFirst",
        "mustFromJson",
        "mustHas",
        "mustInitial",
        "mustLast",
        "mustMerge",
        "mustMergeOverwrite",
        "mustPrepend",
        "mustRegexFind",
        "mustRegexFindAll",
        "mustRegexMatch",
        "mustRegexReplaceAll",
        "mustRegexReplaceAllLiteral",
        "mustRegexSplit",
        "mustRest",
        "mustReverse",
        "mustSlice",
        "mustToDate",
        "mustToJson",
        "mustToPrettyJson",
        "mustToRawJson",
        "mustUniq",
        "mustWithout",
        "must_date_modify",
        "nindent",
        "nospace",
        "now",
        "omit",
        "osBase",
        "osClean",
        "osDir",
        "osExt",
        "osIsAbs",
        "pick",
        "pluck",
        "plural",
        "prepend",
        "quote",
        "randAlpha",
        "randAlphaNum",
        "randAscii",
        "randBytes",
        "randInt",
        "randNumeric",
        "regexFind",
        "regexFindAll",
        "regexMatch",
        "regexQuoteMeta",
        "regexReplaceAll",
        "regexReplaceAllLiteral",
        "regexSplit",
        "repeat",
        "replace",
        "rest",
        "reverse",
        "round",
        "semver",
        "semverCompare",
        "seq",
        "set",
        "sha1sum",
        "sha256sum",
        "sha512sum",
        "shuffle",
        "slice",
        "snakecase",
        "sortAlpha",
        "split",
        "splitList",
        "splitn",
        "squote",
        "sub",
        "subf",
        "substr",
        "swapcase",
        "ternary",
        "title",
        "toDate",
        "toDecimal",
        "toJson",
        "toPrettyJson",
        "toRawJson",
        "toString",
        "toStrings",
        "trim",
        "trimAll",
        "trimPrefix",
        "trimSuffix",
        "trimall",
        "trunc",
        "tuple",
        "typeIs",
        "typeIsLike",
        "typeOf",
        "uniq",
        "unixEpoch",
        "unset",
        "until",
        "untilStep",
        "untitle",
        "upper",
        "urlJoin",
        "urlParse",
        "uuidv4",
        "values",
        "without",
        "wrap",
        "wrapWith",
    ];
    /// What Helm v4.2.3's `funcMap` adds.
    const HELM: &[&str] = &[
        "toToml",
        "mustToToml",
        "fromToml",
        "toYaml",
        "mustToYaml",
        "toYamlPretty",
        "fromYaml",
        "fromYamlArray",
        "toJson",
        "mustToJson",
        "fromJson",
        "fromJsonArray",
        "include",
        "tpl",
        "required",
        "lookup",
    ];

    #[test]
    fn every_sprig_and_helm_function_is_registered_and_env_is_not() {
        let map = super::function_map();
        let missing: Vec<&str> = SPRIG
            .iter()
            .chain(HELM)
            .copied()
            .filter(|name| !map.contains_key(*name))
            .collect();
        assert!(missing.is_empty(), "missing functions: {missing:?}");
        assert!(!map.contains_key("env") && !map.contains_key("expandenv"));
    }
}
