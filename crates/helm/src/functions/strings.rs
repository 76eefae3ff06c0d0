//! Sprig's string functions and regular expressions.

use eddy_gotemplate::{FunctionMap, Map, Value};

use super::convert::{string_list, strval, to_int};
use super::{Result, arg, expect_count, register};

fn text(args: &[Value], index: usize) -> String {
    args.get(index).map(strval).unwrap_or_default()
}

fn string_value(text: String) -> Result<Value> {
    Ok(Value::from(text))
}

/// Go's `strings.Title`: upper-case the first letter of every word.
fn title(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous_is_separator = true;
    for character in text.chars() {
        if previous_is_separator {
            out.extend(character.to_uppercase());
        } else {
            out.push(character);
        }
        previous_is_separator = !(character.is_alphanumeric() || character == '_');
    }
    out
}

fn untitle(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous_is_space = true;
    for character in text.chars() {
        if previous_is_space {
            out.extend(character.to_lowercase());
        } else {
            out.push(character);
        }
        previous_is_space = character.is_whitespace();
    }
    out
}

/// Compiled patterns of the current render. Go compiles on every call; compiling is
/// the costly part (charts call `regexMatch` in loops), so each pattern is compiled once
/// per rendering thread, which lives for one render (see `engine::render`).
const REGEX_CACHE_LIMIT: usize = 1024;

thread_local! {
    static REGEX_CACHE: std::cell::RefCell<std::collections::HashMap<String, regex::Regex>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

fn compile(pattern: &str) -> Result<regex::Regex> {
    if let Some(found) = REGEX_CACHE.with(|cache| cache.borrow().get(pattern).cloned()) {
        return Ok(found);
    }
    let compiled =
        regex::Regex::new(pattern).map_err(|error| format!("error parsing regexp: {error}"))?;
    REGEX_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= REGEX_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(pattern.to_string(), compiled.clone());
    });
    Ok(compiled)
}

/// Converts Go's `Expand` template (`$1`, `${name}`) to the regex crate's, which
/// agrees except that Go treats `$1a` as a group named `1a` too; they match.
fn replacement(template: &str) -> String {
    template.to_string()
}

pub(crate) fn register_all(map: &mut FunctionMap) {
    register(map, "trim", |_, args| {
        string_value(strval(&arg(args, 0, "trim", 1)?).trim().to_string())
    });
    register(map, "trimAll", |_, args| {
        expect_count(args, "trimAll", 2)?;
        let cutset: Vec<char> = text(args, 0).chars().collect();
        string_value(
            text(args, 1)
                .trim_matches(|c| cutset.contains(&c))
                .to_string(),
        )
    });
    register(map, "trimPrefix", |_, args| {
        expect_count(args, "trimPrefix", 2)?;
        let (prefix, value) = (text(args, 0), text(args, 1));
        string_value(
            value
                .strip_prefix(prefix.as_str())
                .unwrap_or(&value)
                .to_string(),
        )
    });
    register(map, "trimSuffix", |_, args| {
        expect_count(args, "trimSuffix", 2)?;
        let (suffix, value) = (text(args, 0), text(args, 1));
        string_value(
            value
                .strip_suffix(suffix.as_str())
                .unwrap_or(&value)
                .to_string(),
        )
    });
    register(map, "upper", |_, args| {
        string_value(strval(&arg(args, 0, "upper", 1)?).to_uppercase())
    });
    register(map, "lower", |_, args| {
        string_value(strval(&arg(args, 0, "lower", 1)?).to_lowercase())
    });
    register(map, "title", |_, args| {
        string_value(title(&strval(&arg(args, 0, "title", 1)?)))
    });
    register(map, "untitle", |_, args| {
        string_value(untitle(&strval(&arg(args, 0, "untitle", 1)?)))
    });
    register(map, "repeat", |_, args| {
        expect_count(args, "repeat", 2)?;
        let count = to_int(&args[0]);
        if count < 0 {
            return Err("strings: negative Repeat count".to_string());
        }
        let value = text(args, 1);
        if value.len().saturating_mul(count as usize) > 100_000_000 {
            return Err("strings: Repeat output length overflow".to_string());
        }
        string_value(value.repeat(count as usize))
    });
    register(map, "substr", |_, args| {
        expect_count(args, "substr", 3)?;
        let (start, end, value) = (to_int(&args[0]), to_int(&args[1]), text(args, 2));
        let bytes = value.as_bytes();
        let slice = if start < 0 {
            &bytes[..(end.max(0) as usize).min(bytes.len())]
        } else if end < 0 || end as usize > bytes.len() {
            &bytes[(start as usize).min(bytes.len())..]
        } else {
            let start = (start as usize).min(end as usize);
            &bytes[start..end as usize]
        };
        string_value(String::from_utf8_lossy(slice).to_string())
    });
    register(map, "nospace", |_, args| {
        string_value(
            strval(&arg(args, 0, "nospace", 1)?)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect(),
        )
    });
    register(map, "trunc", |_, args| {
        expect_count(args, "trunc", 2)?;
        let count = to_int(&args[0]);
        let value = text(args, 1);
        let length = value.len() as i64;
        let bytes = value.as_bytes();
        let out = if count < 0 && length + count > 0 {
            &bytes[(length + count) as usize..]
        } else if count >= 0 && length > count {
            &bytes[..count as usize]
        } else {
            bytes
        };
        string_value(String::from_utf8_lossy(out).to_string())
    });
    register(map, "abbrev", |_, args| {
        expect_count(args, "abbrev", 2)?;
        let width = to_int(&args[0]);
        let value = text(args, 1);
        if width < 4 || value.chars().count() as i64 <= width {
            return string_value(value);
        }
        let kept: String = value.chars().take((width - 3) as usize).collect();
        string_value(format!("{kept}..."))
    });
    register(map, "initials", |_, args| {
        let value = strval(&arg(args, 0, "initials", 1)?);
        string_value(
            value
                .split_whitespace()
                .filter_map(|word| word.chars().next())
                .collect(),
        )
    });
    register(map, "contains", |_, args| {
        expect_count(args, "contains", 2)?;
        Ok(Value::Bool(text(args, 1).contains(&text(args, 0))))
    });
    register(map, "hasPrefix", |_, args| {
        expect_count(args, "hasPrefix", 2)?;
        Ok(Value::Bool(text(args, 1).starts_with(&text(args, 0))))
    });
    register(map, "hasSuffix", |_, args| {
        expect_count(args, "hasSuffix", 2)?;
        Ok(Value::Bool(text(args, 1).ends_with(&text(args, 0))))
    });
    register(map, "quote", |_, args| {
        let quoted: Vec<String> = args
            .iter()
            .filter(|value| !value.is_nil())
            .map(|value| eddy_gotemplate::fmt::quote(&strval(value)))
            .collect();
        string_value(quoted.join(" "))
    });
    register(map, "squote", |_, args| {
        let quoted: Vec<String> = args
            .iter()
            .filter(|value| !value.is_nil())
            .map(|value| format!("'{}'", strval(value)))
            .collect();
        string_value(quoted.join(" "))
    });
    register(map, "cat", |_, args| {
        let parts: Vec<String> = args
            .iter()
            .filter(|value| !value.is_nil())
            .map(strval)
            .collect();
        string_value(parts.join(" "))
    });
    register(map, "indent", |_, args| {
        expect_count(args, "indent", 2)?;
        let pad = " ".repeat(to_int(&args[0]).max(0) as usize);
        let value = text(args, 1);
        string_value(format!("{pad}{}", value.replace('\n', &format!("\n{pad}"))))
    });
    register(map, "nindent", |_, args| {
        expect_count(args, "nindent", 2)?;
        let pad = " ".repeat(to_int(&args[0]).max(0) as usize);
        let value = text(args, 1);
        string_value(format!(
            "\n{pad}{}",
            value.replace('\n', &format!("\n{pad}"))
        ))
    });
    register(map, "replace", |_, args| {
        expect_count(args, "replace", 3)?;
        string_value(text(args, 2).replace(&text(args, 0), &text(args, 1)))
    });
    register(map, "plural", |_, args| {
        expect_count(args, "plural", 3)?;
        Ok(if to_int(&args[2]) == 1 {
            Value::from(text(args, 0))
        } else {
            Value::from(text(args, 1))
        })
    });
    register(map, "snakecase", |_, args| {
        string_value(snake_case(&strval(&arg(args, 0, "snakecase", 1)?), '_'))
    });
    register(map, "kebabcase", |_, args| {
        string_value(snake_case(&strval(&arg(args, 0, "kebabcase", 1)?), '-'))
    });
    register(map, "camelcase", |_, args| {
        let value = strval(&arg(args, 0, "camelcase", 1)?);
        string_value(
            value
                .split('_')
                .filter(|part| !part.is_empty())
                .map(title)
                .collect(),
        )
    });
    register(map, "swapcase", |_, args| {
        let value = strval(&arg(args, 0, "swapcase", 1)?);
        string_value(
            value
                .chars()
                .map(|c| {
                    if c.is_uppercase() {
                        c.to_lowercase().collect::<String>()
                    } else {
                        c.to_uppercase().collect()
                    }
                })
                .collect(),
        )
    });
    register(map, "wrap", |_, args| {
        expect_count(args, "wrap", 2)?;
        string_value(wrap(&text(args, 1), to_int(&args[0]).max(1) as usize, "\n"))
    });
    register(map, "wrapWith", |_, args| {
        expect_count(args, "wrapWith", 3)?;
        string_value(wrap(
            &text(args, 2),
            to_int(&args[0]).max(1) as usize,
            &text(args, 1),
        ))
    });
    register(map, "join", |_, args| {
        expect_count(args, "join", 2)?;
        string_value(string_list(&args[1]).join(&text(args, 0)))
    });
    register(map, "splitList", |_, args| {
        expect_count(args, "splitList", 2)?;
        let (separator, value) = (text(args, 0), text(args, 1));
        Ok(Value::from(
            go_split(&value, &separator)
                .into_iter()
                .map(Value::from)
                .collect::<Vec<_>>(),
        ))
    });
    register(map, "split", |_, args| {
        expect_count(args, "split", 2)?;
        let (separator, value) = (text(args, 0), text(args, 1));
        let mut out = Map::new();
        for (index, part) in go_split(&value, &separator).into_iter().enumerate() {
            out.insert(format!("_{index}"), Value::from(part));
        }
        Ok(Value::from(out))
    });
    register(map, "splitn", |_, args| {
        expect_count(args, "splitn", 3)?;
        let (separator, count, value) = (text(args, 0), to_int(&args[1]), text(args, 2));
        let parts: Vec<String> = if count < 0 {
            go_split(&value, &separator)
        } else {
            value
                .splitn(count as usize, separator.as_str())
                .map(str::to_string)
                .collect()
        };
        let mut out = Map::new();
        for (index, part) in parts.into_iter().enumerate() {
            out.insert(format!("_{index}"), Value::from(part));
        }
        Ok(Value::from(out))
    });
    register(map, "shuffle", |_, args| {
        let value = strval(&arg(args, 0, "shuffle", 1)?);
        let mut chars: Vec<char> = value.chars().collect();
        use rand::seq::SliceRandom as _;
        chars.shuffle(&mut rand::rng());
        string_value(chars.into_iter().collect())
    });
    register_regex(map);
}

fn go_split(value: &str, separator: &str) -> Vec<String> {
    if separator.is_empty() {
        return value.chars().map(|c| c.to_string()).collect();
    }
    value.split(separator).map(str::to_string).collect()
}

fn snake_case(value: &str, separator: char) -> String {
    let mut out = String::new();
    let chars: Vec<char> = value.chars().collect();
    for (index, &character) in chars.iter().enumerate() {
        if character == '_' || character == '-' || character == ' ' {
            if !out.ends_with(separator) && !out.is_empty() {
                out.push(separator);
            }
            continue;
        }
        if character.is_uppercase() {
            let previous_lower =
                index > 0 && (chars[index - 1].is_lowercase() || chars[index - 1].is_ascii_digit());
            let next_lower = chars.get(index + 1).is_some_and(|c| c.is_lowercase());
            let previous_upper = index > 0 && chars[index - 1].is_uppercase();
            if (previous_lower || (previous_upper && next_lower)) && !out.ends_with(separator) {
                out.push(separator);
            }
            out.extend(character.to_lowercase());
        } else {
            out.push(character);
        }
    }
    out
}

fn wrap(value: &str, width: usize, newline: &str) -> String {
    let mut lines = Vec::new();
    for line in value.split('\n') {
        let mut current = String::new();
        for word in line.split(' ') {
            if !current.is_empty() && current.len() + 1 + word.len() > width {
                lines.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        lines.push(current);
    }
    lines.join(newline)
}

fn register_regex(map: &mut FunctionMap) {
    for (name, must) in [("regexMatch", false), ("mustRegexMatch", true)] {
        register(map, name, move |_, args| {
            expect_count(args, name, 2)?;
            match compile(&text(args, 0)) {
                Ok(pattern) => Ok(Value::Bool(pattern.is_match(&text(args, 1)))),
                Err(error) if must => Err(error),
                Err(_) => Ok(Value::Bool(false)),
            }
        });
    }
    for (name, must) in [("regexFind", false), ("mustRegexFind", true)] {
        register(map, name, move |_, args| {
            expect_count(args, name, 2)?;
            match compile(&text(args, 0)) {
                Ok(pattern) => Ok(Value::from(
                    pattern
                        .find(&text(args, 1))
                        .map(|found| found.as_str().to_string())
                        .unwrap_or_default(),
                )),
                Err(error) if must => Err(error),
                Err(_) => Ok(Value::from("")),
            }
        });
    }
    for (name, must) in [("regexFindAll", false), ("mustRegexFindAll", true)] {
        register(map, name, move |_, args| {
            expect_count(args, name, 3)?;
            let limit = to_int(&args[2]);
            match compile(&text(args, 0)) {
                Ok(pattern) => {
                    let value = text(args, 1);
                    let found = pattern
                        .find_iter(&value)
                        .map(|found| Value::from(found.as_str()));
                    let found: Vec<Value> = if limit < 0 {
                        found.collect()
                    } else {
                        found.take(limit as usize).collect()
                    };
                    Ok(Value::from(found))
                }
                Err(error) if must => Err(error),
                Err(_) => Ok(Value::from(Vec::new())),
            }
        });
    }
    for (name, must, literal) in [
        ("regexReplaceAll", false, false),
        ("mustRegexReplaceAll", true, false),
        ("regexReplaceAllLiteral", false, true),
        ("mustRegexReplaceAllLiteral", true, true),
    ] {
        register(map, name, move |_, args| {
            expect_count(args, name, 3)?;
            match compile(&text(args, 0)) {
                Ok(pattern) => {
                    let value = text(args, 1);
                    let with = text(args, 2);
                    let out = if literal {
                        pattern
                            .replace_all(&value, regex::NoExpand(&with))
                            .to_string()
                    } else {
                        pattern
                            .replace_all(&value, replacement(&with).as_str())
                            .to_string()
                    };
                    Ok(Value::from(out))
                }
                Err(error) if must => Err(error),
                Err(_) => Ok(Value::from("")),
            }
        });
    }
    for (name, must) in [("regexSplit", false), ("mustRegexSplit", true)] {
        register(map, name, move |_, args| {
            expect_count(args, name, 3)?;
            let limit = to_int(&args[2]);
            match compile(&text(args, 0)) {
                Ok(pattern) => {
                    let value = text(args, 1);
                    let parts: Vec<Value> = if limit < 0 {
                        pattern.split(&value).map(Value::from).collect()
                    } else if limit == 0 {
                        Vec::new()
                    } else {
                        pattern
                            .splitn(&value, limit as usize)
                            .map(Value::from)
                            .collect()
                    };
                    Ok(Value::from(parts))
                }
                Err(error) if must => Err(error),
                Err(_) => Ok(Value::from(Vec::new())),
            }
        });
    }
    register(map, "regexQuoteMeta", |_, args| {
        Ok(Value::from(regex::escape(&strval(&arg(
            args,
            0,
            "regexQuoteMeta",
            1,
        )?))))
    });
}
