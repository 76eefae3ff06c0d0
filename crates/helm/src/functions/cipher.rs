//! Sprig's `encryptAES`/`decryptAES` (AES-256-CBC, the password zero-padded or cut to
//! 32 bytes as the key, PKCS#7 padding, a random IV before the ciphertext, base64),
//! `bcrypt`, and `getHostByName` (which Helm disables).

use aes::cipher::{
    BlockDecrypt as _, BlockEncrypt as _, KeyInit as _, generic_array::GenericArray,
};
use base64::Engine as _;
use eddy_gotemplate::{FunctionMap, Value};
use rand::Rng as _;

use super::{Result, expect_count, register, string_arg};

const BLOCK: usize = 16;
/// Go's `bcrypt.DefaultCost` (the Rust crate's default is 12).
pub(crate) const GO_BCRYPT_COST: u32 = 10;

fn cipher_for(password: &str) -> aes::Aes256 {
    let mut key = [0u8; 32];
    let bytes = password.as_bytes();
    let length = bytes.len().min(32);
    key[..length].copy_from_slice(&bytes[..length]);
    aes::Aes256::new(GenericArray::from_slice(&key))
}

fn encrypt(password: &str, plaintext: &str) -> String {
    if plaintext.is_empty() {
        return String::new();
    }
    let cipher = cipher_for(password);
    let mut content = plaintext.as_bytes().to_vec();
    let padding = BLOCK - content.len() % BLOCK;
    content.extend(std::iter::repeat_n(padding as u8, padding));
    let mut previous = [0u8; BLOCK];
    rand::rng().fill(&mut previous);
    let mut out = previous.to_vec();
    for chunk in content.chunks(BLOCK) {
        let mut block = [0u8; BLOCK];
        for (index, byte) in chunk.iter().enumerate() {
            block[index] = byte ^ previous[index];
        }
        let mut array = GenericArray::from(block);
        cipher.encrypt_block(&mut array);
        previous.copy_from_slice(&array);
        out.extend_from_slice(&array);
    }
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// Go panics on short or ragged input; the template sees the panic as the error.
fn decrypt(password: &str, encoded: &str) -> Result<String> {
    if encoded.is_empty() {
        return Ok(String::new());
    }
    let crypt = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|error| go_base64_error(encoded, &error))?;
    if crypt.len() < BLOCK {
        return Err(format!(
            "runtime error: slice bounds out of range [:16] with capacity {}",
            crypt.len()
        ));
    }
    let (iv, body) = crypt.split_at(BLOCK);
    if body.len() % BLOCK != 0 {
        return Err("crypto/cipher: input not full blocks".to_string());
    }
    if body.is_empty() {
        return Err("runtime error: index out of range [-1]".to_string());
    }
    let cipher = cipher_for(password);
    let mut previous: [u8; BLOCK] = [0; BLOCK];
    previous.copy_from_slice(iv);
    let mut plain = Vec::with_capacity(body.len());
    for chunk in body.chunks(BLOCK) {
        let mut array = GenericArray::clone_from_slice(chunk);
        cipher.decrypt_block(&mut array);
        for (index, byte) in array.iter().enumerate() {
            plain.push(byte ^ previous[index]);
        }
        previous.copy_from_slice(chunk);
    }
    let padding = usize::from(plain[plain.len() - 1]);
    if padding > plain.len() {
        return Err(format!(
            "runtime error: slice bounds out of range [:{}]",
            plain.len() as i64 - padding as i64
        ));
    }
    plain.truncate(plain.len() - padding);
    Ok(String::from_utf8_lossy(&plain).to_string())
}

/// Go's `base64.CorruptInputError` text.
fn go_base64_error(text: &str, error: &base64::DecodeError) -> String {
    let offset = match error {
        base64::DecodeError::InvalidByte(offset, _)
        | base64::DecodeError::InvalidLastSymbol(offset, _) => *offset,
        base64::DecodeError::InvalidLength(length) => *length,
        base64::DecodeError::InvalidPadding => text.len(),
    };
    format!("illegal base64 data at input byte {offset}")
}

pub(crate) fn register_all(map: &mut FunctionMap) {
    register(map, "encryptAES", |_, args| {
        expect_count(args, "encryptAES", 2)?;
        Ok(Value::from(encrypt(
            &string_arg(args, 0)?,
            &string_arg(args, 1)?,
        )))
    });
    register(map, "decryptAES", |_, args| {
        expect_count(args, "decryptAES", 2)?;
        decrypt(&string_arg(args, 0)?, &string_arg(args, 1)?).map(Value::from)
    });
    register(map, "bcrypt", |_, args| {
        expect_count(args, "bcrypt", 1)?;
        let input = string_arg(args, 0)?;
        Ok(Value::from(match bcrypt::hash(input, GO_BCRYPT_COST) {
            // Go's bcrypt writes the `$2a$` variant.
            Ok(hash) => hash.replacen("$2b$", "$2a$", 1),
            Err(error) => format!("failed to encrypt string with bcrypt: {error}"),
        }))
    });
    // Helm replaces Sprig's resolver with one that returns "" unless DNS lookups are
    // enabled (`--enable-dns`), which `helm template` and the SDK default to off.
    register(map, "getHostByName", |_, args| {
        expect_count(args, "getHostByName", 1)?;
        string_arg(args, 0)?;
        Ok(Value::from(""))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_round_trips_and_pads_like_sprig() {
        let sealed = encrypt("secret", "hello world");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&sealed)
            .expect("a value");
        assert_eq!(raw.len(), 32);
        assert_eq!(decrypt("secret", &sealed).expect("a value"), "hello world");
        assert_eq!(encrypt("secret", ""), "");
        assert!(
            decrypt("secret", "AAAA")
                .expect_err("an error")
                .contains("slice bounds")
        );
    }
}
