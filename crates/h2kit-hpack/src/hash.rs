//! A fast seeded hash for the encoder's table index.
//!
//! Word-at-a-time with a folded 64x64->128 multiply; the last partial word is read in
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
#[inline]
pub(crate) fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        h = fold_mul(h ^ word(c), K2);
    }
    let rem = chunks.remainder();
    // The last partial word is read without copying it into a buffer (a byte-wise copy
    // followed by a word load stalls on store forwarding): as the last 8 bytes of the
    // input when there are 8, else as overlapping pieces. The length is already mixed in,
    // so the overlap loses nothing.
    let tail = match (rem.len(), bytes.len()) {
        (0, _) => 0,
        (_, 8..) => word(&bytes[bytes.len() - 8..]),
        (4.., _) => {
            let lo = u32::from_le_bytes([rem[0], rem[1], rem[2], rem[3]]);
            let end = &rem[rem.len() - 4..];
            let hi = u32::from_le_bytes([end[0], end[1], end[2], end[3]]);
            u64::from(hi) << 32 | u64::from(lo)
        }
        (n, _) => u64::from(rem[0]) << 16 | u64::from(rem[n / 2]) << 8 | u64::from(rem[n - 1]),
    };
    fold_mul(h ^ tail, K)
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
