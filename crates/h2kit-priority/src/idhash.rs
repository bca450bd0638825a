//! A fast hasher for maps keyed by stream id, keyed per map so a peer cannot pick colliding
//! ids. Every h2kit crate that maps peer-chosen stream ids uses this one: the schedulers here,
//! and through `h2kit::StreamIdMap` (`h2kit` re-exports [`StreamHash`]) the connection core
//! and both drivers.
//!
//! Stream ids come from the peer. std's default SipHash-1-3 is safe against chosen
//! collisions but cost about a hundred instructions per lookup on the request path, where a
//! stream is looked up a dozen times. [`StreamHash`] mixes a key with a folded 64×64→128
//! multiply, `fold((h ^ x ^ k0) * k1)`, and finishes with a second one, with `k0` and `k1`
//! drawn per map from std's OS-seeded `RandomState`. Without the keys a peer cannot tell
//! which ids share a bucket, and the concurrency and stream limits bound every map in any
//! case.
//!
//! ```
//! use h2kit_priority::idhash::{StreamMap, stream_map};
//!
//! let mut open: StreamMap<u32, &str> = stream_map();
//! open.insert(1, "GET /");
//! assert_eq!(open.get(&1), Some(&"GET /"));
//! ```

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// A map from stream id (or anything hashed as a few integers) to `V`.
pub type StreamMap<K, V> = HashMap<K, V, StreamHash>;

/// An empty [`StreamMap`] with fresh keys.
pub fn stream_map<K, V>() -> StreamMap<K, V> {
    HashMap::with_hasher(StreamHash::new())
}

/// Builds [`StreamHasher`]s with one map's secret keys.
#[derive(Clone)]
pub struct StreamHash {
    k0: u64,
    k1: u64,
}

impl StreamHash {
    /// A builder with fresh secret keys.
    pub fn new() -> Self {
        // Each `RandomState::new()` has its own keys (OS-seeded per thread, stepped per call);
        // hashing two constants through it gives two secret 64-bit keys.
        let seed = RandomState::new();
        StreamHash {
            k0: seed.hash_one(0x6a09_e667_f3bc_c908_u64),
            // Odd, so the multiply is a bijection on the low word.
            k1: seed.hash_one(0xbb67_ae85_84ca_a73b_u64) | 1,
        }
    }
}

impl Default for StreamHash {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for StreamHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The keys stay secret.
        f.write_str("StreamHash")
    }
}

impl BuildHasher for StreamHash {
    type Hasher = StreamHasher;

    #[inline]
    fn build_hasher(&self) -> StreamHasher {
        StreamHasher {
            k0: self.k0,
            k1: self.k1,
            h: 0,
        }
    }
}

/// The hasher [`StreamHash`] builds.
pub struct StreamHasher {
    k0: u64,
    k1: u64,
    h: u64,
}

impl StreamHasher {
    #[inline]
    fn mix(&mut self, x: u64) {
        let p = u128::from(self.h ^ x ^ self.k0) * u128::from(self.k1);
        self.h = (p as u64) ^ ((p >> 64) as u64);
    }
}

impl Hasher for StreamHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Integer keys use the `write_*` shortcuts; other keys go eight bytes at a time, the
        // length folded into the last word so "a" and "a\0" differ.
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        self.mix(u64::from_le_bytes(w) ^ ((bytes.len() as u64) << 56));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // A second folded multiply: one round leaves the top bits (hashbrown's tag) clustered
        // for some keys when ids differ only in their low bits.
        let p = u128::from(self.h) * u128::from(self.k0 | 1);
        (p as u64) ^ ((p >> 64) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_get_their_own_keys() {
        let (a, b) = (StreamHash::new(), StreamHash::new());
        assert!(a.k0 != b.k0 || a.k1 != b.k1);
        assert_eq!(a.k1 & 1, 1);
        assert_ne!(a.hash_one(1u32), b.hash_one(1u32));
    }

    #[test]
    fn consecutive_ids_spread_over_buckets() {
        // Client ids 1, 3, 5, ...: the low 7 bits (bucket index of a 128-slot table) and the
        // top 7 bits (hashbrown's tag) must both vary, whatever the keys.
        for _ in 0..200 {
            let h = StreamHash::new();
            let mut low = std::collections::HashSet::new();
            let mut top = std::collections::HashSet::new();
            for id in (1..2_000u32).step_by(2) {
                let x = h.hash_one(id);
                low.insert(x & 127);
                top.insert(x >> 57);
            }
            assert!(low.len() > 110, "{}", low.len());
            assert!(top.len() > 110, "{}", top.len());
        }
    }

    #[test]
    fn ids_apart_by_powers_of_two_spread_over_buckets() {
        // Ids differing only in high bits (what a peer would try against an unkeyed or
        // identity hash) must still vary the low 10 bits and the top 7 bits.
        for _ in 0..200 {
            let h = StreamHash::new();
            let mut low = std::collections::HashSet::new();
            let mut top = std::collections::HashSet::new();
            for i in 0..512u32 {
                let x = h.hash_one(1 + (i << 10));
                low.insert(x & 1023);
                top.insert(x >> 57);
            }
            assert!(low.len() > 256, "low bits collide: {} distinct", low.len());
            assert!(top.len() > 64, "top bits collide: {} distinct", top.len());
        }
    }

    #[test]
    fn keys_stay_secret_in_debug_output() {
        assert_eq!(format!("{:?}", StreamHash::new()), "StreamHash");
    }

    #[test]
    fn byte_keys_hash_their_length() {
        let h = StreamHash::new();
        assert_ne!(h.hash_one(&b"a"[..]), h.hash_one(&b"a\0"[..]));
        let map: StreamMap<u32, u8> = stream_map();
        assert!(map.is_empty());
    }
}
