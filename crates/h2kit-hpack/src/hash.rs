//! A fast seeded hash for the encoder's table index.
//!
//! Two words at a time with a folded 64x64->128 multiply; partial words are read in
//! overlapping pieces rather than copied. The seed comes from std's
//! `RandomState`, so peers cannot aim collisions at an encoder; collisions only cost
//! compression anyway, since every hit is checked against the entry's bytes.

use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

const K: u64 = 0x9e37_79b9_7f4a_7c15;
const K2: u64 = 0xa076_1d64_78bd_642f;

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let m = u128::from(a) * u128::from(b);
    (m as u64) ^ ((m >> 64) as u64)
}

/// Hashes `bytes` starting from `seed`.
///
/// Sixteen bytes per multiply: each step multiplies two input words, each mixed with the
/// running (secret) state, so no input can zero a product without knowing the seed.
/// Inputs are read in overlapping pieces rather than copied into a buffer (a byte-wise copy
/// followed by a word load stalls on store forwarding); the length is mixed in first, so
/// the overlap loses nothing.
#[inline]
pub(crate) fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let len = bytes.len();
    let mut h = seed ^ (len as u64).wrapping_mul(K);
    let (a, b) = match len {
        0 => (0, 0),
        1..=3 => {
            let v = u64::from(bytes[0]) << 16
                | u64::from(bytes[len / 2]) << 8
                | u64::from(bytes[len - 1]);
            (v, 0)
        }
        4..=7 => (u64::from(half(bytes)), u64::from(half(&bytes[len - 4..]))),
        8..=16 => (word(bytes), word(&bytes[len - 8..])),
        _ => {
            let mut rest = bytes;
            while rest.len() > 16 {
                h = step(h, word(rest), word(&rest[8..]));
                rest = &rest[16..];
            }
            // The last 16 bytes: what is left, and some already hashed.
            let end = &bytes[len - 16..];
            (word(end), word(&end[8..]))
        }
    };
    step(h, a, b)
}

#[inline]
fn step(h: u64, a: u64, b: u64) -> u64 {
    fold_mul(a ^ h.rotate_left(32) ^ K2, b ^ h)
}

/// The little-endian 32-bit word in the first 4 bytes of `c` (which has at least 4).
#[inline]
fn half(c: &[u8]) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&c[..4]);
    u32::from_le_bytes(w)
}

/// The little-endian word in the first 8 bytes of `c` (which has at least 8).
#[inline]
fn word(c: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&c[..8]);
    u64::from_le_bytes(w)
}

/// A fresh random seed.
pub(crate) fn random_seed() -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(0x0068_7061_636b_u64)
}

/// A `Hasher` for keys that are already hashes.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash_bytes(self.0, bytes);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Maps keyed by precomputed hashes.
pub(crate) type HashIndex<V> = std::collections::HashMap<u64, V, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_counts() {
        let seed = random_seed();
        for len in 0..80usize {
            let base: Vec<u8> = (0..len as u8).collect();
            let h = hash_bytes(seed, &base);
            for i in 0..len {
                for flip in [1u8, 0x80, 0xff] {
                    let mut other = base.clone();
                    other[i] ^= flip;
                    assert_ne!(hash_bytes(seed, &other), h, "len {len}, byte {i}");
                }
            }
            let mut longer = base.clone();
            longer.push(0);
            assert_ne!(hash_bytes(seed, &longer), h, "len {len}");
        }
    }
}
