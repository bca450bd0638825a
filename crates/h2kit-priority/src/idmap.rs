//! The stream id → slot map every scheduler uses, with a fast hash keyed per instance.
//!
//! Stream ids come from the peer, so the map must not let a peer choose ids that collide
//! (HashDoS). std's default, SipHash-1-3 with random keys, is safe but was most of the
//! cost of `block` and `unblock`. [`IdHashBuilder`] hashes a `u32` with a folded 64×64→128
//! multiply, `fold((id ^ k0) * k1)`, and finishes with a second one, where `k0` and `k1` are
//! drawn per map from std's `RandomState` (the OS-seeded keys SipHash would have used). Without the keys a peer cannot compute which ids collide,
//! and the stream limit (`max_streams`) bounds the table in any case.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};

/// Map from stream id to slot.
pub(crate) type IdMap = HashMap<u32, u32, IdHashBuilder>;

/// A new, empty [`IdMap`] with fresh random keys.
pub(crate) fn id_map() -> IdMap {
    HashMap::with_hasher(IdHashBuilder::new())
}

/// Builds [`IdHasher`]s with this map's random keys.
#[derive(Clone)]
pub(crate) struct IdHashBuilder {
    k0: u64,
    k1: u64,
}

impl IdHashBuilder {
    fn new() -> Self {
        // RandomState::new() is seeded from the OS once per thread and stepped per call, so
        // every map gets its own keys. Hashing two constants through it yields two
        // independent 64-bit keys.
        let state = RandomState::new();
        Self {
            k0: state.hash_one(0x243f_6a88_85a3_08d3_u64),
            // Odd, so the multiply loses no low bits.
            k1: state.hash_one(0x1319_8a2e_0370_7344_u64) | 1,
        }
    }
}

impl fmt::Debug for IdHashBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the keys.
        f.write_str("IdHashBuilder { .. }")
    }
}

impl BuildHasher for IdHashBuilder {
    type Hasher = IdHasher;

    #[inline]
    fn build_hasher(&self) -> IdHasher {
        IdHasher {
            k0: self.k0,
            k1: self.k1,
            h: 0,
        }
    }
}

/// The hasher of [`IdHashBuilder`]: one folded multiply per 8 bytes written, one to finish.
pub(crate) struct IdHasher {
    k0: u64,
    k1: u64,
    h: u64,
}

impl IdHasher {
    #[inline]
    fn mix(&mut self, x: u64) {
        let p = u128::from(self.h ^ x ^ self.k0) * u128::from(self.k1);
        self.h = (p as u64) ^ ((p >> 64) as u64);
    }
}

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Not used by `IdMap` (a u32 key calls `write_u32`); here for completeness.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word) ^ ((chunk.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    #[inline]
    fn finish(&self) -> u64 {
        // A second folded multiply: after one round the top bits (hashbrown's control tag)
        // cluster for some keys when ids differ only in their high bits.
        let p = u128::from(self.h) * u128::from(self.k0 | 1);
        (p as u64) ^ ((p >> 64) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_per_map_and_hashes_spread() {
        let (a, b) = (IdHashBuilder::new(), IdHashBuilder::new());
        assert!(a.k0 != b.k0 || a.k1 != b.k1, "two maps got the same keys");
        assert_eq!(a.k1 & 1, 1);
        // Ids that differ in one bit, or by a multiple of a power of two (what a peer
        // would try against an unkeyed or identity hash), land in different buckets of a
        // 1024-bucket table with the low 10 bits and the top 7 bits both varying.
        let mut low = std::collections::HashSet::new();
        let mut top = std::collections::HashSet::new();
        for i in 0..512u32 {
            let h = a.hash_one(1 + (i << 10));
            low.insert(h & 1023);
            top.insert(h >> 57);
        }
        assert!(low.len() > 256, "low bits collide: {} distinct", low.len());
        assert!(top.len() > 64, "top bits collide: {} distinct", top.len());
        assert_ne!(a.hash_one(1u32), b.hash_one(1u32));
        assert_eq!(a.hash_one(7u32), a.clone().hash_one(7u32));
        assert_eq!(format!("{a:?}"), "IdHashBuilder { .. }");
    }

    #[test]
    fn map_works() {
        let mut m = id_map();
        for id in (1..2000u32).step_by(2) {
            m.insert(id, id / 2);
        }
        assert!(
            (1..2000u32)
                .step_by(2)
                .all(|id| m.get(&id) == Some(&(id / 2)))
        );
        assert!(!m.contains_key(&2));
    }
}
