//! A cheap keyed hasher for the connection task's maps (stream id → slot, request key →
//! stream id).
//!
//! std's SipHash costs about a hundred instructions a lookup, and the task looks a stream up
//! several times per response. Keys are mixed with a 64×64→128 multiply folded to 64 bits,
//! with two keys drawn per map from std's OS-seeded `RandomState`, so a server choosing
//! promised stream ids cannot aim at one bucket; the concurrency limit bounds the maps anyway.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// A map keyed by stream id or request key.
pub(crate) type IdMap<K, V> = HashMap<K, V, IdHash>;

/// An empty [`IdMap`] with fresh keys.
pub(crate) fn id_map<K, V>() -> IdMap<K, V> {
    HashMap::with_hasher(IdHash::new())
}

/// Builds [`IdHasher`]s with one map's keys.
#[derive(Clone, Debug)]
pub(crate) struct IdHash {
    k0: u64,
    k1: u64,
}

impl IdHash {
    fn new() -> Self {
        let seed = RandomState::new();
        IdHash {
            k0: seed.hash_one(0x243f_6a88_85a3_08d3_u64),
            k1: seed.hash_one(0x1319_8a2e_0370_7344_u64) | 1,
        }
    }
}

fn mix(x: u64, k: u64) -> u64 {
    let p = u128::from(x).wrapping_mul(u128::from(k));
    (p as u64) ^ ((p >> 64) as u64)
}

impl BuildHasher for IdHash {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher {
            h: self.k0,
            k1: self.k1,
        }
    }
}

/// Hashes a few integers; see the module overview.
#[derive(Debug)]
pub(crate) struct IdHasher {
    h: u64,
    k1: u64,
}

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        mix(self.h, self.k1.rotate_left(29) | 1)
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.h = mix(self.h ^ n, self.k1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_spread_and_maps_work() {
        let b = IdHash::new();
        let hashes: std::collections::HashSet<u64> =
            (0..1000u32).map(|i| b.hash_one(2 * i + 1)).collect();
        assert_eq!(hashes.len(), 1000);
        // Low bits (the bucket index) differ too.
        let low: std::collections::HashSet<u64> =
            (0..64u32).map(|i| b.hash_one(2 * i + 1) & 0xff).collect();
        assert!(low.len() > 32, "{}", low.len());
        let mut m: IdMap<u32, u32> = id_map();
        for i in 0..100 {
            m.insert(i, i * 2);
        }
        assert_eq!(m.get(&42), Some(&84));
        assert_eq!(m.remove(&7), Some(14));
        assert_eq!(m.len(), 99);
    }
}
