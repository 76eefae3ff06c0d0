//! Shamir's secret sharing over GF(2^8), as SOPS uses it (a copy of HashiCorp Vault's `shamir`)
//! to split the data key across key groups: each share is one byte per secret byte followed by
//! its x coordinate; the secret is the polynomial's value at 0.

use crate::error::{Error, Result};

/// Multiplication in GF(2^8) with the AES polynomial, without data-dependent branches.
fn multiply(a: u8, b: u8) -> u8 {
    let (mut a, mut b, mut product) = (a, b, 0u8);
    for _ in 0..8 {
        product ^= a & 0u8.wrapping_sub(b & 1);
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (0x1b & carry);
        b >>= 1;
    }
    product
}

/// `a^254`, the inverse of `a` (0 for 0).
fn inverse(a: u8) -> u8 {
    let mut result = 1u8;
    let mut base = a;
    let mut exponent = 254u8;
    while exponent > 0 {
        if exponent & 1 == 1 {
            result = multiply(result, base);
        }
        base = multiply(base, base);
        exponent >>= 1;
    }
    result
}

/// Recovers the secret from shares (Vault `shamir.Combine`).
pub(crate) fn combine(parts: &[Vec<u8>]) -> Result<Vec<u8>> {
    let invalid =
        |reason: &str| Error::DataKey(format!("cannot combine key group shares: {reason}"));
    if parts.len() < 2 {
        return Err(invalid("less than two parts"));
    }
    let length = parts[0].len();
    if length < 2 || parts.iter().any(|part| part.len() != length) {
        return Err(invalid(
            "parts must be of equal length and at least two bytes",
        ));
    }
    let xs: Vec<u8> = parts.iter().map(|part| part[length - 1]).collect();
    for (index, x) in xs.iter().enumerate() {
        if xs[..index].contains(x) {
            return Err(invalid("duplicate part"));
        }
    }
    let mut secret = Vec::with_capacity(length - 1);
    for position in 0..length - 1 {
        let mut value = 0u8;
        for (i, part) in parts.iter().enumerate() {
            let mut basis = 1u8;
            for (j, x_j) in xs.iter().enumerate() {
                if i != j {
                    // (0 - x_j) / (x_i - x_j); subtraction is XOR in GF(2^8).
                    basis = multiply(basis, multiply(*x_j, inverse(xs[i] ^ x_j)));
                }
            }
            value ^= multiply(part[position], basis);
        }
        secret.push(value);
    }
    Ok(secret)
}

/// Splits `secret` into `parts` shares, any `threshold` of which recover it (tests only).
#[cfg(any(test, feature = "testing"))]
pub(crate) fn split(secret: &[u8], parts: u8, threshold: u8) -> Vec<Vec<u8>> {
    let xs: Vec<u8> = (1..=parts).collect();
    let mut shares: Vec<Vec<u8>> = xs
        .iter()
        .map(|_| Vec::with_capacity(secret.len() + 1))
        .collect();
    for byte in secret {
        let coefficients: Vec<u8> = std::iter::once(*byte)
            .chain((1..threshold).map(|_| crate::age::encrypt::random::<1>()[0]))
            .collect();
        for (share, x) in shares.iter_mut().zip(&xs) {
            // Horner's rule.
            let y = coefficients
                .iter()
                .rev()
                .fold(0u8, |acc, coefficient| multiply(acc, *x) ^ coefficient);
            share.push(y);
        }
    }
    for (share, x) in shares.iter_mut().zip(&xs) {
        share.push(*x);
    }
    shares
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    #[test]
    fn field_inverse_undoes_multiplication() {
        for a in 1..=255u8 {
            assert_eq!(multiply(a, inverse(a)), 1, "{a}");
        }
        assert_eq!(multiply(0x57, 0x83), 0xc1);
    }

    #[test]
    fn any_threshold_of_shares_recovers_the_secret() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let shares = split(secret, 3, 2);
        assert_eq!(combine(&shares[..2]).unwrap(), secret);
        assert_eq!(
            combine(&[shares[2].clone(), shares[0].clone()]).unwrap(),
            secret
        );
        assert_eq!(combine(&shares).unwrap(), secret);
        assert!(combine(&shares[..1]).is_err());
    }
}
