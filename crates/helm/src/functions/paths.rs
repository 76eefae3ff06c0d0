//! Sprig's remaining small helpers: path cleaning (`clean`, `os*`), `urlJoin`,
//! `abbrevboth`, `hello`, `duration`, `randBytes`, and the deprecated aliases Sprig
//! still ships (`trimall`, `date_in_zone`, `htmlDateInZone`).

use base64::Engine as _;
use eddy_gotemplate::{FunctionMap, Value};
use rand::Rng as _;

use super::convert::{strval, to_int};
use super::{arg, expect_count, register};

/// Go's `path.Clean`.
pub(crate) fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go's `time.Duration.String` for whole seconds.
/// Go's `url.PathEscape`-like escaping `URL.String()` applies to a path
/// (`shouldEscape(c, encodePath)`).
fn escape_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'-' | b'_'
                    | b'.'
                    | b'~'
                    | b'$'
                    | b'&'
                    | b'+'
                    | b','
                    | b'/'
                    | b':'
                    | b';'
                    | b'='
                    | b'@'
            );
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub(crate) fn register_all(map: &mut FunctionMap) {
    register(map, "hello", |_, _| Ok(Value::from("Hello!")));
    register(map, "clean", |_, args| {
        Ok(Value::from(clean(&strval(&arg(args, 0, "clean", 1)?))))
    });
    register(map, "osClean", |_, args| {
        Ok(Value::from(clean(&strval(&arg(args, 0, "osClean", 1)?))))
    });
    register(map, "osBase", |_, args| {
        let value = strval(&arg(args, 0, "osBase", 1)?);
        let trimmed = value.trim_end_matches('/');
        Ok(Value::from(match trimmed {
            "" if value.is_empty() => ".".to_string(),
            "" => "/".to_string(),
            other => other.rsplit('/').next().unwrap_or(other).to_string(),
        }))
    });
    register(map, "osDir", |_, args| {
        let value = strval(&arg(args, 0, "osDir", 1)?);
        let directory = match value.rfind('/') {
            Some(index) => &value[..=index],
            None => "",
        };
        Ok(Value::from(clean(directory)))
    });
    register(map, "osExt", |_, args| {
        let value = strval(&arg(args, 0, "osExt", 1)?);
        let base_start = value.rfind('/').map_or(0, |index| index + 1);
        Ok(Value::from(
            value[base_start..]
                .rfind('.')
                .map(|index| value[base_start + index..].to_string())
                .unwrap_or_default(),
        ))
    });
    register(map, "osIsAbs", |_, args| {
        Ok(Value::Bool(
            strval(&arg(args, 0, "osIsAbs", 1)?).starts_with('/'),
        ))
    });
    register(map, "abbrevboth", |_, args| {
        expect_count(args, "abbrevboth", 3)?;
        let (left, right) = (
            to_int(&args[0]).max(0) as usize,
            to_int(&args[1]).max(0) as usize,
        );
        let value = strval(&args[2]);
        let chars: Vec<char> = value.chars().collect();
        if right < 4 || chars.len() <= right {
            return Ok(Value::from(value));
        }
        let offset = left.min(chars.len());
        if offset <= 4 {
            let kept: String = chars.iter().take(right - 3).collect();
            return Ok(Value::from(format!("{kept}...")));
        }
        if right < 7 {
            return Ok(Value::from(value));
        }
        let tail: String = chars[offset..].iter().collect();
        if tail.chars().count() <= right - 3 {
            return Ok(Value::from(format!("...{tail}")));
        }
        let kept: String = tail.chars().take(right - 6).collect();
        Ok(Value::from(format!("...{kept}...")))
    });
    register(map, "trimall", |_, args| {
        expect_count(args, "trimall", 2)?;
        let cutset: Vec<char> = strval(&args[0]).chars().collect();
        Ok(Value::from(
            strval(&args[1])
                .trim_matches(|c| cutset.contains(&c))
                .to_string(),
        ))
    });
    register(map, "randBytes", |_, args| {
        let count = to_int(&arg(args, 0, "randBytes", 1)?);
        if !(0..=10_000_000).contains(&count) {
            return Err(format!("randBytes: invalid length {count}"));
        }
        let mut bytes = vec![0u8; count as usize];
        rand::rng().fill(bytes.as_mut_slice());
        Ok(Value::from(
            base64::engine::general_purpose::STANDARD.encode(bytes),
        ))
    });
    register(map, "urlJoin", |_, args| {
        let parts = match arg(args, 0, "urlJoin", 1)? {
            Value::Map(map) => map.snapshot(),
            other => {
                return Err(format!(
                    "wrong type for value; expected map[string]interface {{}}; got {}",
                    other.type_name()
                ));
            }
        };
        let text = |key: &str| parts.get(key).map(strval).unwrap_or_default();
        let mut out = String::new();
        if !text("scheme").is_empty() {
            out.push_str(&text("scheme"));
            out.push(':');
        }
        if !text("host").is_empty() {
            out.push_str("//");
            if !text("userinfo").is_empty() {
                out.push_str(&text("userinfo"));
                out.push('@');
            }
            out.push_str(&text("host"));
        }
        let path = text("path");
        if !path.is_empty() && !path.starts_with('/') && !text("host").is_empty() {
            out.push('/');
        }
        out.push_str(&escape_path(&path));
        if !text("query").is_empty() {
            out.push('?');
            out.push_str(&text("query"));
        }
        if !text("fragment").is_empty() {
            out.push('#');
            out.push_str(&text("fragment"));
        }
        Ok(Value::from(out))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_clean_like_go() {
        assert_eq!(clean("a/b/../c/./d/"), "a/c/d");
        assert_eq!(clean("/../x"), "/x");
        assert_eq!(clean("../../a"), "../../a");
        assert_eq!(clean(""), ".");
    }
}
