//! RSA key generation for `genCA`, `genSelfSignedCert`, `genSignedCert` and
//! `genPrivateKey "rsa"`.
//!
//! The `rsa` crate's own generator (num-bigint-dig, 20 Miller-Rabin rounds plus a Lucas
//! test on every prime) took about three times as long as Go's and dominated rendering of
//! charts that make certificates. This one keeps the same guarantees a FIPS 186-5
//! (appendix A.1.3 / B.3) generator gives, faster:
//!
//! - candidates are random odd numbers with the two top bits set (so `p·q` has exactly
//!   the requested size), from the operating system's CSPRNG;
//! - a sieve over a window of candidates removes those with a prime factor below 2^16
//!   (and those with `p ≡ 1 mod 65537`, for which `e = 65537` has no inverse), so only about
//!   one survivor in 36 is composite-tested in vain;
//! - survivors go through Miller-Rabin with base 2 (computed with doublings instead of
//!   multiplications), then [`EXTRA_ROUNDS`] rounds with random bases: six rounds in
//!   all, more than the five FIPS 186-4 table C.2 asks for 1024-bit primes (and the
//!   error bound for random candidates of this size is far below 2^-100 even for one);
//! - modular exponentiation uses fixed-size Montgomery multiplication on 64-bit limbs;
//! - `p` and `q` are searched for on two threads at once;
//! - `|p − q|` must exceed 2^(bits/2 − 100), and `d = e⁻¹ mod λ(n)` as Go computes it.
//!
//! The key itself is assembled and validated by the `rsa` crate ([`rsa::RsaPrivateKey::from_p_q`]).

use rsa::BigUint;
use rsa::rand_core::{OsRng, RngCore as _};

/// Random-base Miller-Rabin rounds after the base-2 round.
const EXTRA_ROUNDS: usize = 5;
/// Candidates examined per sieve window (odd offsets `0, 2, …, 2·(WINDOW−1)`).
const WINDOW: usize = 8192;
/// Sieve primes are the odd primes below this bound.
const SIEVE_BOUND: u32 = 1 << 16;
/// The public exponent Go and Sprig use.
const PUBLIC_EXPONENT: u32 = 65_537;

/// Generates an RSA key of `bits` bits (2048 or 4096 in Sprig).
pub(crate) fn generate(bits: usize) -> Result<rsa::RsaPrivateKey, String> {
    let key = match bits {
        2048 => generate_with::<16>(),
        4096 => generate_with::<32>(),
        other => return Err(format!("unsupported RSA key size {other}")),
    };
    key.map_err(|error| format!("error generating RSA key: {error}"))
}

fn generate_with<const L: usize>() -> Result<rsa::RsaPrivateKey, rsa::Error> {
    let primes = small_primes();
    let prime_bits = 64 * L;
    loop {
        // The two primes are independent searches: run them on two threads (the
        // search dominates rendering of charts that make certificates).
        let (p, q) = std::thread::scope(|scope| {
            let other = scope.spawn(|| random_prime::<L>(&primes));
            let q = random_prime::<L>(&primes);
            let p = other.join().unwrap_or_else(|_| random_prime::<L>(&primes));
            (p, q)
        });
        let (p, q) = (to_biguint(&p), to_biguint(&q));
        let distance = if p > q { &p - &q } else { &q - &p };
        if distance.bits() <= prime_bits - 100 {
            continue;
        }
        return rsa::RsaPrivateKey::from_p_q(p, q, BigUint::from(PUBLIC_EXPONENT));
    }
}

fn small_primes() -> Vec<u32> {
    let bound = SIEVE_BOUND as usize;
    let mut composite = vec![false; bound];
    let mut primes = Vec::new();
    for number in 3..bound {
        if composite[number] {
            continue;
        }
        if number % 2 == 1 {
            primes.push(number as u32);
        }
        let mut multiple = number * number;
        while multiple < bound {
            composite[multiple] = true;
            multiple += number;
        }
    }
    primes
}

fn to_biguint<const L: usize>(limbs: &[u64; L]) -> BigUint {
    let mut bytes = Vec::with_capacity(8 * L);
    for limb in limbs.iter().rev() {
        bytes.extend_from_slice(&limb.to_be_bytes());
    }
    BigUint::from_bytes_be(&bytes)
}

fn random_limbs<const L: usize>() -> [u64; L] {
    let mut limbs = [0u64; L];
    for limb in &mut limbs {
        *limb = OsRng.next_u64();
    }
    limbs
}

/// A random prime of exactly `64·L` bits with its two top bits set.
fn random_prime<const L: usize>(primes: &[u32]) -> [u64; L] {
    let mut sieve = vec![false; WINDOW];
    loop {
        let mut base = random_limbs::<L>();
        base[L - 1] |= 0b11 << 62;
        base[0] |= 1;
        // The last candidate must not carry out of the top limb.
        if base[L - 1] == u64::MAX {
            continue;
        }
        sieve.iter_mut().for_each(|slot| *slot = false);
        for &prime in primes {
            let residue = remainder(&base, prime) as usize;
            let prime = prime as usize;
            // First even offset `delta` with `base + delta ≡ 0 (mod prime)`.
            let mut delta = (prime - residue) % prime;
            if delta % 2 == 1 {
                delta += prime;
            }
            let mut index = delta / 2;
            while index < WINDOW {
                sieve[index] = true;
                index += prime;
            }
        }
        let exponent_residue = remainder(&base, PUBLIC_EXPONENT) as usize;
        for (index, &divisible) in sieve.iter().enumerate() {
            let delta = 2 * index;
            if divisible || (exponent_residue + delta) % PUBLIC_EXPONENT as usize == 1 {
                continue;
            }
            let mut candidate = base;
            add_small(&mut candidate, delta as u64);
            if passes_base_two(&candidate) && passes_random_rounds(&candidate) {
                return candidate;
            }
        }
    }
}

fn remainder<const L: usize>(number: &[u64; L], divisor: u32) -> u32 {
    let divisor = u64::from(divisor);
    let mut rest = 0u64;
    for limb in number.iter().rev() {
        rest = ((rest << 32) | (limb >> 32)) % divisor;
        rest = ((rest << 32) | (limb & 0xffff_ffff)) % divisor;
    }
    rest as u32
}

fn add_small<const L: usize>(number: &mut [u64; L], value: u64) {
    let mut carry = value;
    for limb in number.iter_mut() {
        let (sum, overflow) = limb.overflowing_add(carry);
        *limb = sum;
        carry = u64::from(overflow);
        if carry == 0 {
            break;
        }
    }
}

/// Miller-Rabin with base 2, then [`EXTRA_ROUNDS`] random bases. `n` is odd with its top
/// bit set.
#[cfg(test)]
fn is_probable_prime<const L: usize>(n: &[u64; L]) -> bool {
    passes_base_two(n) && passes_random_rounds(n)
}

/// What one Miller-Rabin round needs about `n`.
struct Candidate<const L: usize> {
    field: Montgomery<L>,
    /// The odd part `d` of `n − 1 = d·2^shift`.
    odd: [u64; L],
    shift: usize,
}

impl<const L: usize> Candidate<L> {
    fn new(n: &[u64; L]) -> Self {
        let mut minus_one = *n;
        minus_one[0] -= 1; // n is odd: no borrow
        let shift = trailing_zeros(&minus_one);
        Candidate {
            field: Montgomery::new(n),
            odd: shift_right(&minus_one, shift),
            shift,
        }
    }

    /// The end of a round: `start` is a^odd in Montgomery form; `n` passes if it is ±1
    /// or becomes −1 by squaring.
    fn witness(&self, start: [u64; L]) -> bool {
        let field = &self.field;
        let mut x = start;
        if x == field.one || x == field.minus_one {
            return true;
        }
        for _ in 1..self.shift {
            x = field.multiply(&x, &x);
            if x == field.minus_one {
                return true;
            }
            if x == field.one {
                return false;
            }
        }
        false
    }
}

fn passes_base_two<const L: usize>(n: &[u64; L]) -> bool {
    let candidate = Candidate::new(n);
    candidate.witness(candidate.field.power_of_two(&candidate.odd))
}

fn passes_random_rounds<const L: usize>(n: &[u64; L]) -> bool {
    let candidate = Candidate::new(n);
    let field = &candidate.field;
    let mut rounds = 0;
    while rounds < EXTRA_ROUNDS {
        // A uniformly random residue taken as the Montgomery form of the base: the base
        // a = y·R⁻¹ is then uniformly random too, and no conversion is needed.
        let mut base = random_limbs::<L>();
        base[L - 1] &= u64::MAX >> 1;
        if !less_than(&base, n) || base == field.one || base == field.minus_one || is_zero(&base) {
            continue;
        }
        if !candidate.witness(field.power(&base, &candidate.odd)) {
            return false;
        }
        rounds += 1;
    }
    true
}

fn is_zero<const L: usize>(number: &[u64; L]) -> bool {
    number.iter().all(|&limb| limb == 0)
}

fn trailing_zeros<const L: usize>(number: &[u64; L]) -> usize {
    let mut count = 0;
    for &limb in number {
        if limb == 0 {
            count += 64;
        } else {
            return count + limb.trailing_zeros() as usize;
        }
    }
    count
}

fn shift_right<const L: usize>(number: &[u64; L], shift: usize) -> [u64; L] {
    let (words, bits) = (shift / 64, shift % 64);
    let mut out = [0u64; L];
    for (index, slot) in out.iter_mut().enumerate() {
        let source = index + words;
        if source >= L {
            break;
        }
        let mut limb = number[source] >> bits;
        if bits > 0 && source + 1 < L {
            limb |= number[source + 1] << (64 - bits);
        }
        *slot = limb;
    }
    out
}

fn less_than<const L: usize>(a: &[u64; L], b: &[u64; L]) -> bool {
    for index in (0..L).rev() {
        if a[index] != b[index] {
            return a[index] < b[index];
        }
    }
    false
}

/// `a − b`, returning the borrow.
fn subtract<const L: usize>(a: &mut [u64; L], b: &[u64; L]) -> bool {
    let mut borrow = false;
    for index in 0..L {
        let (difference, first) = a[index].overflowing_sub(b[index]);
        let (difference, second) = difference.overflowing_sub(u64::from(borrow));
        a[index] = difference;
        borrow = first || second;
    }
    borrow
}

/// Arithmetic modulo an odd `n` of exactly `64·L` bits, in Montgomery form (R = 2^(64·L)).
struct Montgomery<const L: usize> {
    modulus: [u64; L],
    /// −n⁻¹ mod 2^64.
    inverse: u64,
    /// R mod n: 1 in Montgomery form.
    one: [u64; L],
    /// n − (R mod n): −1 in Montgomery form.
    minus_one: [u64; L],
}

impl<const L: usize> Montgomery<L> {
    fn new(modulus: &[u64; L]) -> Self {
        // Newton's iteration for n⁻¹ mod 2^64 (each step doubles the correct low bits).
        let mut inverse: u64 = 1;
        for _ in 0..6 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(modulus[0].wrapping_mul(inverse)));
        }
        // The top bit of n is set, so R − n < n and R mod n is the two's complement of n.
        let mut one = [0u64; L];
        subtract(&mut one, modulus);
        let mut minus_one = *modulus;
        subtract(&mut minus_one, &one);
        Montgomery {
            modulus: *modulus,
            inverse: inverse.wrapping_neg(),
            one,
            minus_one,
        }
    }

    /// a·b·R⁻¹ mod n (coarsely integrated operand scanning). Measured faster here than
    /// a fused single pass or a dedicated squaring, so squarings use it too.
    fn multiply(&self, a: &[u64; L], b: &[u64; L]) -> [u64; L] {
        let n = &self.modulus;
        let mut t = [0u64; L];
        let mut top: u64 = 0;
        for &word in b {
            let mut carry: u64 = 0;
            for index in 0..L {
                let sum = u128::from(t[index])
                    + u128::from(a[index]) * u128::from(word)
                    + u128::from(carry);
                t[index] = sum as u64;
                carry = (sum >> 64) as u64;
            }
            let sum = u128::from(top) + u128::from(carry);
            top = sum as u64;
            let overflow = (sum >> 64) as u64;
            let factor = t[0].wrapping_mul(self.inverse);
            let sum = u128::from(t[0]) + u128::from(factor) * u128::from(n[0]);
            let mut carry = (sum >> 64) as u64;
            for index in 1..L {
                let sum = u128::from(t[index])
                    + u128::from(factor) * u128::from(n[index])
                    + u128::from(carry);
                t[index - 1] = sum as u64;
                carry = (sum >> 64) as u64;
            }
            let sum = u128::from(top) + u128::from(carry);
            t[L - 1] = sum as u64;
            top = overflow + (sum >> 64) as u64;
        }
        if top != 0 || !less_than(&t, n) {
            subtract(&mut t, n);
        }
        t
    }

    /// x + x mod n.
    fn double(&self, x: &[u64; L]) -> [u64; L] {
        let mut out = [0u64; L];
        let mut carry = 0u64;
        for index in 0..L {
            out[index] = (x[index] << 1) | carry;
            carry = x[index] >> 63;
        }
        if carry != 0 || !less_than(&out, &self.modulus) {
            subtract(&mut out, &self.modulus);
        }
        out
    }

    /// 2^exponent in Montgomery form: square and double, no multiplications.
    fn power_of_two(&self, exponent: &[u64; L]) -> [u64; L] {
        let mut x = self.one;
        let mut started = false;
        for index in (0..L).rev() {
            for bit in (0..64).rev() {
                if started {
                    x = self.multiply(&x, &x);
                }
                if (exponent[index] >> bit) & 1 == 1 {
                    x = self.double(&x);
                    started = true;
                }
            }
        }
        x
    }

    /// base^exponent for `base` in Montgomery form, with a fixed 4-bit window.
    fn power(&self, base: &[u64; L], exponent: &[u64; L]) -> [u64; L] {
        let mut table = [self.one; 16];
        for index in 1..16 {
            table[index] = self.multiply(&table[index - 1], base);
        }
        let mut x = self.one;
        for index in (0..L).rev() {
            for nibble in (0..16).rev() {
                for _ in 0..4 {
                    x = self.multiply(&x, &x);
                }
                let digit = ((exponent[index] >> (4 * nibble)) & 0xf) as usize;
                if digit != 0 {
                    x = self.multiply(&x, &table[digit]);
                }
            }
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::traits::PublicKeyParts as _;

    #[test]
    fn known_primes_pass_and_composites_fail() {
        // 2^127 − 1 is prime; as a 2-limb number its top bit is clear, so use 2^128 − 159
        // (the largest 128-bit prime) and its neighbour.
        let prime: [u64; 2] = [u64::MAX - 158, u64::MAX];
        assert!(is_probable_prime(&prime));
        let composite: [u64; 2] = [u64::MAX - 160, u64::MAX];
        assert!(!is_probable_prime(&composite));
        // A product of two 64-bit primes (2^64 − 59 and 2^64 − 83).
        let p = u128::from(u64::MAX - 58);
        let q = u128::from(u64::MAX - 82);
        let product = p * q;
        let number: [u64; 2] = [product as u64, (product >> 64) as u64];
        assert!(!is_probable_prime(&number));
    }

    #[test]
    fn multiplication_agrees_with_num_bigint_at_key_size() {
        for _ in 0..20 {
            let mut modulus = random_limbs::<16>();
            modulus[15] |= 1 << 63;
            modulus[0] |= 1;
            let field = Montgomery::new(&modulus);
            let (mut a, mut b) = (random_limbs::<16>(), random_limbs::<16>());
            a[15] >>= 1;
            b[15] >>= 1;
            let big_modulus = to_biguint(&modulus);
            let r = (BigUint::from(1u8) << 1024) % &big_modulus;
            // multiply(a, b) = a·b·R⁻¹, so multiplying by R again gives a·b.
            let product = to_biguint(&field.multiply(&a, &b));
            assert_eq!(
                (product * &r) % &big_modulus,
                (to_biguint(&a) * to_biguint(&b)) % &big_modulus
            );
        }
    }

    #[test]
    fn generated_keys_are_valid_and_differ() {
        let first = generate(2048).expect("a value");
        let second = generate(2048).expect("a value");
        first.validate().expect("a value");
        assert_eq!(first.n().bits(), 2048);
        assert_eq!(first.e(), &BigUint::from(PUBLIC_EXPONENT));
        assert_ne!(first.n(), second.n());
    }

    #[test]
    fn montgomery_powers_agree_with_num_bigint() {
        let modulus: [u64; 2] = [u64::MAX - 158, u64::MAX];
        let field = Montgomery::new(&modulus);
        let big_modulus = to_biguint(&modulus);
        let exponent: [u64; 2] = [0x1234_5678_9abc_def1, 0x0fed_cba9_8765_4321];
        let big_exponent = to_biguint(&exponent);
        let r = (BigUint::from(1u8) << 128) % &big_modulus;
        // 2^e in Montgomery form is 2^e·R.
        let expected = (BigUint::from(2u8).modpow(&big_exponent, &big_modulus) * &r) % &big_modulus;
        assert_eq!(to_biguint(&field.power_of_two(&exponent)), expected);
        // y as the Montgomery form of a = y·R⁻¹: result is a^e·R.
        let y: [u64; 2] = [0xdead_beef, 0x1234];
        let r_inverse = r
            .clone()
            .modpow(&(&big_modulus - BigUint::from(2u8)), &big_modulus);
        let a = (to_biguint(&y) * &r_inverse) % &big_modulus;
        let expected = (a.modpow(&big_exponent, &big_modulus) * &r) % &big_modulus;
        assert_eq!(to_biguint(&field.power(&y, &exponent)), expected);
    }
}
