//! Sprig's `derivePassword`: the Master Password algorithm (scrypt N=32768, r=8, p=2
//! over the user's name, then HMAC-SHA256 over the site and counter picks a template).
//! scrypt, PBKDF2 and HMAC are written out here on top of `sha2`.

use eddy_gotemplate::{FunctionMap, Value};
use sha2::Digest as _;

use super::convert::{strval, to_int};
use super::{expect_count, register};

const SEED: &str = "com.lyndir.masterpassword";

fn templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn characters(class: u8) -> &'static [u8] {
    match class {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&sha2::Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = sha2::Sha256::new();
    inner.update(block.map(|byte| byte ^ 0x36));
    inner.update(message);
    let mut outer = sha2::Sha256::new();
    outer.update(block.map(|byte| byte ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// PBKDF2-HMAC-SHA256 with one iteration (all scrypt needs).
fn pbkdf2_once(password: &[u8], salt: &[u8], length: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(length + 32);
    let mut block_index: u32 = 1;
    while out.len() < length {
        let mut message = salt.to_vec();
        message.extend_from_slice(&block_index.to_be_bytes());
        out.extend_from_slice(&hmac_sha256(password, &message));
        block_index += 1;
    }
    out.truncate(length);
    out
}

fn salsa20_8(block: &mut [u32; 16]) {
    let input = *block;
    let x = block;
    for _ in 0..4 {
        for (a, b, c, d) in [
            (4, 0, 12, 7),
            (8, 4, 0, 9),
            (12, 8, 4, 13),
            (0, 12, 8, 18),
            (9, 5, 1, 7),
            (13, 9, 5, 9),
            (1, 13, 9, 13),
            (5, 1, 13, 18),
            (14, 10, 6, 7),
            (2, 14, 10, 9),
            (6, 2, 14, 13),
            (10, 6, 2, 18),
            (3, 15, 11, 7),
            (7, 3, 15, 9),
            (11, 7, 3, 13),
            (15, 11, 7, 18),
        ] {
            x[a] ^= x[b].wrapping_add(x[c]).rotate_left(d);
        }
        for (a, b, c, d) in [
            (1, 0, 3, 7),
            (2, 1, 0, 9),
            (3, 2, 1, 13),
            (0, 3, 2, 18),
            (6, 5, 4, 7),
            (7, 6, 5, 9),
            (4, 7, 6, 13),
            (5, 4, 7, 18),
            (11, 10, 9, 7),
            (8, 11, 10, 9),
            (9, 8, 11, 13),
            (10, 9, 8, 18),
            (12, 15, 14, 7),
            (13, 12, 15, 9),
            (14, 13, 12, 13),
            (15, 14, 13, 18),
        ] {
            x[a] ^= x[b].wrapping_add(x[c]).rotate_left(d);
        }
    }
    for (word, original) in x.iter_mut().zip(input) {
        *word = word.wrapping_add(original);
    }
}

fn block_mix(input: &[u32], output: &mut [u32], r: usize) {
    let mut x = [0u32; 16];
    x.copy_from_slice(&input[(2 * r - 1) * 16..2 * r * 16]);
    for index in 0..2 * r {
        for (word, value) in x.iter_mut().zip(&input[index * 16..(index + 1) * 16]) {
            *word ^= value;
        }
        salsa20_8(&mut x);
        let target = if index % 2 == 0 {
            index / 2
        } else {
            r + index / 2
        };
        output[target * 16..(target + 1) * 16].copy_from_slice(&x);
    }
}

fn ro_mix(block: &mut [u32], n: usize, r: usize) {
    let words = 32 * r;
    let mut table = vec![0u32; words * n];
    let mut x = block.to_vec();
    let mut y = vec![0u32; words];
    for index in 0..n {
        table[index * words..(index + 1) * words].copy_from_slice(&x);
        block_mix(&x, &mut y, r);
        std::mem::swap(&mut x, &mut y);
    }
    for _ in 0..n {
        let j = (x[(2 * r - 1) * 16] as usize) & (n - 1);
        for (word, value) in x.iter_mut().zip(&table[j * words..(j + 1) * words]) {
            *word ^= value;
        }
        block_mix(&x, &mut y, r);
        std::mem::swap(&mut x, &mut y);
    }
    block.copy_from_slice(&x);
}

/// scrypt (RFC 7914); `n` must be a power of two.
fn scrypt(password: &[u8], salt: &[u8], n: usize, r: usize, p: usize, length: usize) -> Vec<u8> {
    let bytes = pbkdf2_once(password, salt, p * 128 * r);
    let mut words: Vec<u32> = bytes
        .chunks(4)
        .map(|chunk| u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
        .collect();
    for chunk in words.chunks_mut(32 * r) {
        ro_mix(chunk, n, r);
    }
    let mixed: Vec<u8> = words.iter().flat_map(|word| word.to_le_bytes()).collect();
    pbkdf2_once(password, &mixed, length)
}

/// The scrypt master key costs tens of milliseconds (seconds unoptimised) and charts
/// derive many passwords from one master password, so recent keys are kept.
fn master_key(password: &str, user: &str, salt: &[u8]) -> Vec<u8> {
    type Cache = std::sync::Mutex<Vec<((String, String), Vec<u8>)>>;
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(|| std::sync::Mutex::new(Vec::new()));
    let wanted = (password.to_string(), user.to_string());
    if let Ok(entries) = cache.lock()
        && let Some((_, key)) = entries.iter().find(|(entry, _)| *entry == wanted)
    {
        return key.clone();
    }
    let key = scrypt(password.as_bytes(), salt, 32_768, 8, 2, 64);
    if let Ok(mut entries) = cache.lock() {
        if entries.len() >= 16 {
            entries.remove(0);
        }
        entries.push((wanted, key.clone()));
    }
    key
}

fn derive(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    let Some(templates) = templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    let mut salt = SEED.as_bytes().to_vec();
    salt.extend_from_slice(&(user.len() as u32).to_be_bytes());
    salt.extend_from_slice(user.as_bytes());
    let key = master_key(password, user, &salt);
    let mut message = SEED.as_bytes().to_vec();
    message.extend_from_slice(&(site.len() as u32).to_be_bytes());
    message.extend_from_slice(site.as_bytes());
    message.extend_from_slice(&counter.to_be_bytes());
    let seed = hmac_sha256(&key, &message);
    let template = templates[usize::from(seed[0]) % templates.len()];
    template
        .bytes()
        .enumerate()
        .map(|(index, class)| {
            let choices = characters(class);
            choices[usize::from(seed[index + 1]) % choices.len()] as char
        })
        .collect()
}

pub(crate) fn register_all(map: &mut FunctionMap) {
    register(map, "derivePassword", |_, args| {
        expect_count(args, "derivePassword", 5)?;
        let counter =
            u32::try_from(to_int(&args[0])).map_err(|_| "counter out of range".to_string())?;
        Ok(Value::from(derive(
            counter,
            &strval(&args[1]),
            &strval(&args[2]),
            &strval(&args[3]),
            &strval(&args[4]),
        )))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrypt_matches_the_rfc_test_vector() {
        let key = scrypt(b"password", b"NaCl", 1024, 8, 16, 64);
        assert_eq!(
            hex::encode(key),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"
        );
    }
}
