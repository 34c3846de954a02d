//! bcrypt: standard `$2b$` hashes, made and checked by authql's own
//! Eksblowfish ([`eks`]), as fast as the C implementations.
//!
//! The format is the one every bcrypt library reads: `$2b$`, a two-digit
//! cost, `$`, 22 characters of salt and 31 of hash, in bcrypt's own base64
//! alphabet. `$2a$` and `$2y$` hashes (other libraries', or imported from
//! another system) verify too; for UTF-8 passwords of at most 72 bytes,
//! which is every password authql lets through, all three name the same
//! computation. (They differ only for OpenBSD's old 256-byte length
//! wraparound and for Openwall's `$2a$` countermeasure, which needs a
//! `0xff` byte, never found in UTF-8.) `$2x$`, the emulation of an old
//! sign-extension bug, is refused as malformed.
//!
//! This is security code written here rather than taken from a crate
//! because the crates measured 12 to 17 % slower than C, and for an auth
//! server the sign-in path is the product's cost. The tests hold it to the
//! OpenBSD and Openwall vectors, to hashes made by the system's
//! `crypt_blowfish`, and, by property tests, to the independent `bcrypt`
//! crate, which made every hash authql stored before.

mod eks;
mod pi;
#[cfg(test)]
mod tests;

use eks::Blowfish;

/// Lowest cost the format allows (16 rounds of the key schedule).
pub const MIN_COST: u32 = 4;
/// Highest cost the format allows.
pub const MAX_COST: u32 = 31;
/// Bytes of salt in a hash.
pub const SALT_BYTES: usize = 16;

/// A stored hash that is not a bcrypt hash authql can check.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed;

/// bcrypt's base64 alphabet (not RFC 4648's: `.` and `/` come first).
const ALPHABET: &[u8; 64] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// The block bcrypt encrypts 64 times with the expensive key.
const MAGIC: &[u8; 24] = b"OrpheanBeholderScryDoubt";
/// Bytes of the 24-byte result a hash keeps (bcrypt drops the last).
const DIGEST_BYTES: usize = 23;
/// Length of a whole hash: `$2b$10$` + 22 + 31.
const HASH_LEN: usize = 60;

/// Hashes `password` at `cost` with `salt` into a `$2b$` hash.
///
/// Only the first 72 bytes count (the key is the password and a NUL byte,
/// repeated to 72 bytes); callers refuse longer passwords before they get
/// here. Panics when `cost` is outside [`MIN_COST`]..=[`MAX_COST`].
pub fn hash(password: &[u8], cost: u32, salt: &[u8; SALT_BYTES]) -> String {
    assert!(
        (MIN_COST..=MAX_COST).contains(&cost),
        "bcrypt cost out of range"
    );
    let digest = digest(password, cost, salt);
    let mut out = String::with_capacity(HASH_LEN);
    out.push_str("$2b$");
    out.push(char::from(b'0' + (cost / 10) as u8));
    out.push(char::from(b'0' + (cost % 10) as u8));
    out.push('$');
    encode(salt, &mut out);
    encode(&digest, &mut out);
    out
}

/// True when `password` hashes to `hash`. The comparison takes the same
/// time wherever the digests differ.
pub fn verify(password: &[u8], hash: &str) -> Result<bool, Malformed> {
    let parsed = Parsed::new(hash)?;
    let computed = digest(password, parsed.cost, &parsed.salt);
    let differences = computed
        .iter()
        .zip(&parsed.digest)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    Ok(differences == 0)
}

/// The cost a stored hash was made at.
pub fn cost(hash: &str) -> Result<u32, Malformed> {
    Parsed::new(hash).map(|parsed| parsed.cost)
}

struct Parsed {
    cost: u32,
    salt: [u8; SALT_BYTES],
    digest: [u8; DIGEST_BYTES],
}

impl Parsed {
    fn new(hash: &str) -> Result<Self, Malformed> {
        let bytes = hash.as_bytes();
        if bytes.len() != HASH_LEN {
            return Err(Malformed);
        }
        let (head, rest) = bytes.split_at(7);
        let cost = match head {
            [
                b'$',
                b'2',
                b'a' | b'b' | b'y',
                b'$',
                tens @ b'0'..=b'9',
                ones @ b'0'..=b'9',
                b'$',
            ] => u32::from(tens - b'0') * 10 + u32::from(ones - b'0'),
            _ => return Err(Malformed),
        };
        if !(MIN_COST..=MAX_COST).contains(&cost) {
            return Err(Malformed);
        }
        let (salt, digest) = rest.split_at(22);
        Ok(Self {
            cost,
            salt: decode(salt)?,
            digest: decode(digest)?,
        })
    }
}

/// The 23 bytes a hash keeps.
fn digest(password: &[u8], cost: u32, salt: &[u8; SALT_BYTES]) -> [u8; DIGEST_BYTES] {
    let salt_words: eks::Salt = std::array::from_fn(|i| word(&salt[4 * i..4 * i + 4]));
    let state = Blowfish::eks_setup(cost, &salt_words, &key(password));
    let mut blocks: [u32; 6] = std::array::from_fn(|i| word(&MAGIC[4 * i..4 * i + 4]));
    for pair in blocks.chunks_exact_mut(2) {
        let (mut l, mut r) = (pair[0], pair[1]);
        for _ in 0..64 {
            (l, r) = state.encrypt(l, r);
        }
        pair[0] = l;
        pair[1] = r;
    }
    let mut out = [0u8; DIGEST_BYTES];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = blocks[i / 4].to_be_bytes()[i % 4];
    }
    out
}

/// The password and a NUL byte, repeated to 72 bytes, as 18 big-endian words.
fn key(password: &[u8]) -> eks::Key {
    let mut stream = password.iter().copied().chain([0]).cycle();
    std::array::from_fn(|_| {
        let mut word = 0u32;
        for _ in 0..4 {
            word = word << 8 | u32::from(stream.next().unwrap_or(0));
        }
        word
    })
}

fn word(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |acc, &b| acc << 8 | u32::from(b))
}

/// Appends `bytes` in bcrypt's base64, without padding.
fn encode(bytes: &[u8], out: &mut String) {
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
}

/// Reads `N` bytes from bcrypt's base64. The unused low bits of the last
/// character are ignored, as every implementation does.
fn decode<const N: usize>(text: &[u8]) -> Result<[u8; N], Malformed> {
    if text.len() != (N * 4).div_ceil(3) {
        return Err(Malformed);
    }
    let mut out = [0u8; N];
    let mut bits = 0u32;
    let mut held = 0;
    let mut filled = 0;
    for &c in text {
        let value = ALPHABET.iter().position(|&a| a == c).ok_or(Malformed)?;
        bits = bits << 6 | value as u32;
        held += 6;
        if held >= 8 {
            held -= 8;
            if filled < N {
                out[filled] = (bits >> held) as u8;
                filled += 1;
            }
        }
    }
    Ok(out)
}
