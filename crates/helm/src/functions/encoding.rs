//! Sprig's encodings and hashes, random strings, UUIDs, semantic versions, paths, URLs
//! and dates.

use std::sync::Arc;

use base64::Engine as _;
use eddy_gotemplate::{FunctionMap, Map, Object, Value};
use rand::Rng as _;
use sha2::Digest as _;

use super::convert::{strval, to_int};
use super::{Result, arg, expect_count, register};
use crate::semver::{Version, constraint_matches};

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const NUMERIC: &[u8] = b"0123456789";

fn random_string(count: i64, alphabet: &[u8]) -> Result<Value> {
    if count < 0 {
        return Err("negative length".to_string());
    }
    if count > 10_000_000 {
        return Err("requested random string is too long".to_string());
    }
    let mut generator = rand::rng();
    let text: String = (0..count)
        .map(|_| alphabet[generator.random_range(0..alphabet.len())] as char)
        .collect();
    Ok(Value::from(text))
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

fn base32_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    for chunk in data.chunks(5) {
        let mut buffer = [0u8; 5];
        buffer[..chunk.len()].copy_from_slice(chunk);
        let bits = buffer
            .iter()
            .fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte));
        let symbols = (chunk.len() * 8).div_ceil(5);
        for index in 0..8 {
            if index < symbols {
                out.push(ALPHABET[((bits >> (35 - index * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base32_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let trimmed = text.trim_end_matches('=');
    let mut bits: u64 = 0;
    let mut count = 0;
    let mut out = Vec::new();
    for character in trimmed.bytes() {
        let value = ALPHABET.iter().position(|symbol| *symbol == character)? as u64;
        bits = (bits << 5) | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push(((bits >> count) & 0xFF) as u8);
        }
    }
    Some(out)
}

pub(crate) fn register_all(map: &mut FunctionMap) {
    register(map, "b64enc", |_, args| {
        let value = strval(&arg(args, 0, "b64enc", 1)?);
        Ok(Value::from(
            base64::engine::general_purpose::STANDARD.encode(value.as_bytes()),
        ))
    });
    register(map, "b64dec", |_, args| {
        let value = strval(&arg(args, 0, "b64dec", 1)?);
        Ok(Value::from(
            match base64::engine::general_purpose::STANDARD.decode(value.as_bytes()) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).to_string(),
                Err(error) => error.to_string(),
            },
        ))
    });
    register(map, "b32enc", |_, args| {
        Ok(Value::from(base32_encode(
            strval(&arg(args, 0, "b32enc", 1)?).as_bytes(),
        )))
    });
    register(map, "b32dec", |_, args| {
        let value = strval(&arg(args, 0, "b32dec", 1)?);
        Ok(Value::from(match base32_decode(&value) {
            Some(bytes) => String::from_utf8_lossy(&bytes).to_string(),
            None => "illegal base32 data".to_string(),
        }))
    });
    register(map, "sha256sum", |_, args| {
        let value = strval(&arg(args, 0, "sha256sum", 1)?);
        Ok(Value::from(hex::encode(sha2::Sha256::digest(
            value.as_bytes(),
        ))))
    });
    register(map, "sha512sum", |_, args| {
        let value = strval(&arg(args, 0, "sha512sum", 1)?);
        Ok(Value::from(hex::encode(sha2::Sha512::digest(
            value.as_bytes(),
        ))))
    });
    register(map, "sha1sum", |_, args| {
        let value = strval(&arg(args, 0, "sha1sum", 1)?);
        Ok(Value::from(hex::encode(crate::sha1::digest(
            value.as_bytes(),
        ))))
    });
    register(map, "adler32sum", |_, args| {
        let value = strval(&arg(args, 0, "adler32sum", 1)?);
        Ok(Value::from(adler32(value.as_bytes()).to_string()))
    });
    register(map, "randAlphaNum", |_, args| {
        random_string(to_int(&arg(args, 0, "randAlphaNum", 1)?), ALPHANUMERIC)
    });
    register(map, "randAlpha", |_, args| {
        random_string(to_int(&arg(args, 0, "randAlpha", 1)?), ALPHA)
    });
    register(map, "randNumeric", |_, args| {
        random_string(to_int(&arg(args, 0, "randNumeric", 1)?), NUMERIC)
    });
    register(map, "randAscii", |_, args| {
        let printable: Vec<u8> = (32u8..127).collect();
        random_string(to_int(&arg(args, 0, "randAscii", 1)?), &printable)
    });
    register(map, "randInt", |_, args| {
        expect_count(args, "randInt", 2)?;
        let (low, high) = (to_int(&args[0]), to_int(&args[1]));
        if high <= low {
            return Err("invalid argument to Intn".to_string());
        }
        Ok(Value::Int(rand::rng().random_range(low..high)))
    });
    register(map, "uuidv4", |_, _| {
        let mut bytes: [u8; 16] = rand::rng().random();
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let text = hex::encode(bytes);
        Ok(Value::from(format!(
            "{}-{}-{}-{}-{}",
            &text[0..8],
            &text[8..12],
            &text[12..16],
            &text[16..20],
            &text[20..32]
        )))
    });
    register(map, "semverCompare", |_, args| {
        expect_count(args, "semverCompare", 2)?;
        let constraint = strval(&args[0]);
        let version = Version::parse(&strval(&args[1]))
            .ok_or_else(|| "Invalid Semantic Version".to_string())?;
        constraint_matches(&constraint, &version).map(Value::Bool)
    });
    register(map, "semver", |_, args| {
        let text = strval(&arg(args, 0, "semver", 1)?);
        let version =
            Version::parse(&text).ok_or_else(|| "Invalid Semantic Version".to_string())?;
        Ok(Value::Object(Arc::new(version)))
    });
    register(map, "base", |_, args| {
        Ok(Value::from(path_base(&strval(&arg(args, 0, "base", 1)?))))
    });
    register(map, "dir", |_, args| {
        Ok(Value::from(path_dir(&strval(&arg(args, 0, "dir", 1)?))))
    });
    register(map, "ext", |_, args| {
        let value = strval(&arg(args, 0, "ext", 1)?);
        let base_start = value.rfind('/').map_or(0, |index| index + 1);
        Ok(Value::from(
            value[base_start..]
                .rfind('.')
                .map(|index| value[base_start + index..].to_string())
                .unwrap_or_default(),
        ))
    });
    register(map, "isAbs", |_, args| {
        Ok(Value::Bool(
            strval(&arg(args, 0, "isAbs", 1)?).starts_with('/'),
        ))
    });
    register(map, "urlParse", |_, args| {
        let value = strval(&arg(args, 0, "urlParse", 1)?);
        Ok(Value::from(parse_url(&value)))
    });
}

fn path_base(value: &str) -> String {
    if value.is_empty() {
        return ".".to_string();
    }
    let trimmed = value.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".to_string();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

fn path_dir(value: &str) -> String {
    match value.rfind('/') {
        Some(0) => "/".to_string(),
        Some(index) => value[..index].to_string(),
        None => ".".to_string(),
    }
}

fn parse_url(value: &str) -> Map {
    let mut out = Map::new();
    let (scheme, rest) = match value.split_once("://") {
        Some((scheme, rest)) => (scheme.to_string(), rest.to_string()),
        None => (String::new(), value.to_string()),
    };
    let (rest, fragment) = rest
        .split_once('#')
        .map_or((rest.clone(), String::new()), |(a, b)| {
            (a.to_string(), b.to_string())
        });
    let (rest, query) = rest
        .split_once('?')
        .map_or((rest.clone(), String::new()), |(a, b)| {
            (a.to_string(), b.to_string())
        });
    let (authority, path) = if scheme.is_empty() {
        (String::new(), rest)
    } else {
        match rest.find('/') {
            Some(index) => (rest[..index].to_string(), rest[index..].to_string()),
            None => (rest, String::new()),
        }
    };
    let (userinfo, host) = authority
        .rsplit_once('@')
        .map_or((String::new(), authority.clone()), |(a, b)| {
            (a.to_string(), b.to_string())
        });
    out.insert("scheme".into(), Value::from(scheme));
    out.insert("host".into(), Value::from(host.clone()));
    out.insert(
        "hostname".into(),
        Value::from(host.split(':').next().unwrap_or_default().to_string()),
    );
    out.insert("path".into(), Value::from(path));
    out.insert("query".into(), Value::from(query));
    out.insert("opaque".into(), Value::from(""));
    out.insert("fragment".into(), Value::from(fragment));
    out.insert("userinfo".into(), Value::from(userinfo));
    out
}

impl Object for Version {
    fn type_name(&self) -> &str {
        "*semver.Version"
    }

    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Major" => Value::Int(self.major as i64),
            "Minor" => Value::Int(self.minor as i64),
            "Patch" => Value::Int(self.patch as i64),
            "Prerelease" => Value::from(self.prerelease.as_str()),
            "Metadata" => Value::from(self.metadata.as_str()),
            "Original" => Value::from(self.original.as_str()),
            "String" => Value::from(self.to_string()),
            _ => return None,
        })
    }

    fn display(&self) -> String {
        self.to_string()
    }
}
