//! A fast seeded hash for the encoder's table index.
//!
//! Word-at-a-time with a folded 64x64->128 multiply. The seed comes from std's
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
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = fold_mul(h ^ u64::from_le_bytes(w), K2);
    }
    let rem = chunks.remainder();
    let mut w = [0u8; 8];
    w[..rem.len()].copy_from_slice(rem);
    fold_mul(h ^ u64::from_le_bytes(w), K)
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
