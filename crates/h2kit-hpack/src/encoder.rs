//! The HPACK encoder (RFC 7541 §6) and its indexing strategy.

use std::collections::VecDeque;

use bytes::BytesMut;

use crate::codec::{encode_int, encode_int_into, int_len};
use crate::field::{HeaderField, Representation, entry_size};
use crate::hash::{HashIndex, hash_bytes, random_seed};
use crate::huffman;
use crate::table::{STATIC, STATIC_LEN, const_eq, same_bytes, static_name};

/// When string literals are Huffman-coded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HuffmanPolicy {
    /// Huffman-code a string only when that makes it shorter.
    #[default]
    OnlyIfShorter,
    /// Always Huffman-code.
    Always,
    /// Never Huffman-code.
    Never,
}

/// Something the encoder can encode: a name, a value and a representation.
///
/// Implemented for [`HeaderField`], for `(name, value)` pairs of anything that is
/// `AsRef<[u8]>` (so `http::HeaderMap::iter()` works as is), and for
/// `(name, value, Representation)` triples.
pub trait Field {
    /// The field name.
    fn name(&self) -> &[u8];
    /// The field value.
    fn value(&self) -> &[u8];
    /// The representation the caller asks for; [`Representation::IncrementalIndexing`]
    /// lets the encoder decide.
    fn repr(&self) -> Representation {
        Representation::IncrementalIndexing
    }
}

impl Field for HeaderField {
    fn name(&self) -> &[u8] {
        &self.name
    }
    fn value(&self) -> &[u8] {
        &self.value
    }
    fn repr(&self) -> Representation {
        self.repr
    }
}

impl<T: Field + ?Sized> Field for &T {
    fn name(&self) -> &[u8] {
        (**self).name()
    }
    fn value(&self) -> &[u8] {
        (**self).value()
    }
    fn repr(&self) -> Representation {
        (**self).repr()
    }
}

impl<N: AsRef<[u8]>, V: AsRef<[u8]>> Field for (N, V) {
    fn name(&self) -> &[u8] {
        self.0.as_ref()
    }
    fn value(&self) -> &[u8] {
        self.1.as_ref()
    }
}

impl<N: AsRef<[u8]>, V: AsRef<[u8]>> Field for (N, V, Representation) {
    fn name(&self) -> &[u8] {
        self.0.as_ref()
    }
    fn value(&self) -> &[u8] {
        self.1.as_ref()
    }
    fn repr(&self) -> Representation {
        self.2
    }
}

/// Cookie values shorter than this are sent never-indexed by default: short cookies are
/// typically session tokens that a compression oracle could guess (RFC 7541 §7.1.3).
pub const SHORT_COOKIE: usize = 20;

/// An entry of the encoder's dynamic table: its name and value are in [`Store`].
#[derive(Debug)]
struct Entry {
    /// Position of the name in the store's stream; the value follows it.
    start: u64,
    name_len: usize,
    value_len: usize,
    name_hash: u64,
}

/// The bytes of the encoder's table entries, appended in insertion order.
///
/// Plain bytes rather than `Bytes`: the encoder only compares against its entries, so it
/// needs no reference counting. Positions count every byte ever appended; evicted bytes at
/// the front are dropped once they outweigh the table (at most `max(capacity, 4096)` dead
/// bytes are kept), so each byte is moved a bounded number of times on average.
#[derive(Debug, Default)]
struct Store {
    bytes: Vec<u8>,
    /// Stream position of `bytes[0]`.
    base: u64,
}

impl Store {
    /// The next position to be appended.
    fn end(&self) -> u64 {
        self.base + self.bytes.len() as u64
    }

    fn push(&mut self, name: &[u8], value: &[u8]) -> u64 {
        let start = self.end();
        self.bytes.extend_from_slice(name);
        self.bytes.extend_from_slice(value);
        start
    }

    fn name(&self, e: &Entry) -> &[u8] {
        let at = (e.start - self.base) as usize;
        &self.bytes[at..at + e.name_len]
    }

    fn value(&self, e: &Entry) -> &[u8] {
        let at = (e.start - self.base) as usize + e.name_len;
        &self.bytes[at..at + e.value_len]
    }

    /// Forgets the bytes before `live` (the oldest entry's start, or `end()` when the table
    /// is empty) once there are more of them than `keep`.
    fn release(&mut self, live: u64, keep: usize) {
        let dead = (live - self.base) as usize;
        if dead > keep {
            self.bytes.drain(..dead);
            self.base = live;
        }
    }
}

/// A name's first few values are indexed before its statistics decide.
///
/// Tuned on hpack-test-case `raw-data` (one encoder per story, table 4096): warm-up 3 and
/// "index when at least half of the values repeated" give about 344,000 bytes; indexing
/// everything gives 361,000 and a 25% threshold 350,000.
const WARMUP: u16 = 3;
/// Names the encoder keeps statistics for.
const MAX_NAMES: usize = 512;
/// Slots of the "seen recently, not indexed" set of field hashes (at most).
const GHOSTS: usize = 1024;
/// The fixed seed of the ghosts' slot hash (see [`Ghosts::take`]).
const GHOST_SEED: u64 = 0x6768_6f73_7473_0001;

/// Fields seen recently and not indexed, as [`ghost_key`]s: a direct-mapped array (a key
/// goes in the slot its low bits name, replacing what was there), so a ghost lasts for about
/// as many newer ones as there are slots. It starts small and doubles, up to [`GHOSTS`]
/// slots, as ghosts are added.
#[derive(Debug, Default)]
struct Ghosts {
    slots: Vec<u64>,
    /// Ghosts added since the array last grew.
    added: usize,
}

impl Ghosts {
    /// Whether `key` is a ghost; it is one no more.
    #[inline(always)]
    fn take(&mut self, key: u64) -> bool {
        let mask = self.slots.len().wrapping_sub(1);
        match self.slots.get_mut(key as usize & mask) {
            Some(slot) if *slot == key && key != 0 => {
                *slot = 0;
                true
            }
            _ => false,
        }
    }

    fn add(&mut self, key: u64) {
        if self.added >= self.slots.len() / 2 && self.slots.len() < GHOSTS {
            let len = (2 * self.slots.len()).clamp(64, GHOSTS);
            let old = std::mem::replace(&mut self.slots, vec![0; len]);
            for k in old {
                if let Some(slot) = self.slots.get_mut(k as usize & (len - 1)) {
                    *slot = k;
                }
            }
            self.added = 0;
        }
        let mask = self.slots.len().wrapping_sub(1);
        if let Some(slot) = self.slots.get_mut(key as usize & mask) {
            *slot = key;
        }
        self.added += 1;
    }
}

/// A field's key in [`Ghosts`]: a hash of the value and the name's length and end bytes,
/// with a fixed seed, so that which ghosts collide (and so what the encoder writes) does
/// not depend on the encoder's random seed. Two fields that share a key only make the
/// encoder index one of them a little early.
#[inline(always)]
fn ghost_key(name: &[u8], value: &[u8]) -> u64 {
    let ends = match (name.first(), name.last()) {
        (Some(&f), Some(&l)) => u64::from(f) << 8 | u64::from(l),
        _ => 0,
    };
    hash_bytes(GHOST_SEED ^ ((name.len() as u64) << 16) ^ ends, value)
}

/// What the encoder has learned about one name.
#[derive(Clone, Copy, Debug, Default)]
struct NameStat {
    /// Fields with this name that needed a decision or matched (below 256).
    seen: u16,
    /// Of those, how many had a value that had been seen before.
    repeats: u16,
}

/// Encodes header lists for one connection direction.
///
/// The encoder indexes a field when it expects it to recur: it learns, per name, how often
/// values repeat and keeps rarely repeating names out of the dynamic table (unless a value
/// does come back), which leaves room for the fields that do repeat. It never indexes
/// [`Representation::NeverIndexed`] fields, `authorization`, `proxy-authorization`, cookies
/// shorter than [`SHORT_COOKIE`] bytes (those are sent never-indexed), or fields larger than
/// the table.
///
/// Static table lookups are a match on the name; dynamic table lookups go through hash
/// indexes (seeded per encoder), not scans. Entries are copied into one reused byte store,
/// so encoding allocates nothing per field once the table has filled.
///
/// Memory follows use: a new encoder allocates nothing, its table storage and indexes grow
/// with the entries added and shrink when the table is made smaller.
#[derive(Debug)]
pub struct Encoder {
    entries: VecDeque<Entry>,
    size: usize,
    /// Maximum table size in use (what the decoder has been or will be told).
    capacity: usize,
    /// The largest table we are willing to use, whatever the peer allows.
    cap: usize,
    /// The peer's SETTINGS_HEADER_TABLE_SIZE.
    peer_limit: usize,
    /// Smallest capacity since the last block, if it changed.
    pending_min: Option<usize>,
    /// Number of entries ever inserted: the id of the next one.
    inserted: u64,
    by_field: HashIndex<u64>,
    by_name: HashIndex<u64>,
    seed: u64,
    huffman: HuffmanPolicy,
    store: Store,
    names: HashIndex<NameStat>,
    /// Statistics of the static table's names, by the index of their first entry: no
    /// hashing for the most common names.
    static_stats: [NameStat; STATIC_LEN + 1],
    /// Hashes of fields recently sent without indexing.
    ghosts: Ghosts,
    /// Changes whenever the dynamic table does (see [`Encoder::table_version`]).
    version: u64,
    /// The last block held indexed fields only (see [`Encoder::last_block_indexed`]).
    last_indexed: bool,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

impl Encoder {
    /// An encoder with the RFC 7541 initial table size (4096) and Huffman only if shorter.
    pub fn new() -> Self {
        // Nothing is allocated here: the table, its indexes and the statistics grow with
        // what is actually added (an idle connection holds one encoder).
        Encoder {
            entries: VecDeque::new(),
            size: 0,
            capacity: crate::DEFAULT_TABLE_SIZE,
            cap: crate::DEFAULT_TABLE_SIZE,
            peer_limit: crate::DEFAULT_TABLE_SIZE,
            pending_min: None,
            inserted: 0,
            by_field: HashIndex::default(),
            by_name: HashIndex::default(),
            seed: random_seed(),
            huffman: HuffmanPolicy::default(),
            store: Store::default(),
            names: HashIndex::default(),
            static_stats: [NameStat::default(); STATIC_LEN + 1],
            ghosts: Ghosts::default(),
            version: 0,
            last_indexed: false,
        }
    }

    /// Sets the Huffman policy.
    pub fn set_huffman(&mut self, policy: HuffmanPolicy) {
        self.huffman = policy;
    }

    /// The Huffman policy.
    pub fn huffman(&self) -> HuffmanPolicy {
        self.huffman
    }

    /// Applies the peer's SETTINGS_HEADER_TABLE_SIZE. The next block starts with the
    /// dynamic table size update(s) this requires (RFC 7541 §4.2): the smallest size since
    /// the previous block, then the final one, when they differ.
    pub fn set_max_table_size(&mut self, size: usize) {
        self.peer_limit = size;
        self.apply_capacity();
    }

    /// Limits the table to at most `cap` bytes even if the peer allows more (default 4096):
    /// a bigger table compresses a little better and costs memory per connection.
    pub fn set_table_size_cap(&mut self, cap: usize) {
        self.cap = cap;
        self.apply_capacity();
    }

    /// The dynamic table's maximum size in use.
    pub fn table_capacity(&self) -> usize {
        self.capacity
    }

    /// The dynamic table's current size (RFC 7541 §4.1).
    pub fn table_size(&self) -> usize {
        self.size
    }

    /// The number of entries in the dynamic table.
    pub fn table_len(&self) -> usize {
        self.entries.len()
    }

    fn apply_capacity(&mut self) {
        let new = self.peer_limit.min(self.cap);
        if new == self.capacity {
            return;
        }
        self.version += 1;
        self.pending_min = Some(
            self.pending_min
                .map_or(new.min(self.capacity), |m| m.min(new)),
        );
        self.capacity = new;
        self.evict_to(new);
        if new == 0 {
            // Nothing will be indexed: the ghosts are of no use.
            self.ghosts = Ghosts::default();
        }
        // Give back what a smaller table no longer needs.
        if self.entries.capacity() > 2 * self.entries.len() + 4 {
            self.entries.shrink_to(self.entries.len());
            self.purge_indexes();
            self.by_field.shrink_to(self.entries.len());
            self.by_name.shrink_to(self.entries.len());
            // The evicted entries' bytes too (`evict_to` keeps up to 4 KiB of them).
            let live = self.entries.back().map_or(self.store.end(), |e| e.start);
            self.store.release(live, 0);
            self.store.bytes.shrink_to(self.size);
        }
    }

    /// A number that changes whenever the dynamic table does (an entry added or evicted,
    /// its size changed). With [`last_block_indexed`](Self::last_block_indexed) it lets a
    /// caller reuse a block: while the version stays the same, the same fields encode to
    /// the same octets.
    pub fn table_version(&self) -> u64 {
        self.version
    }

    /// Whether the last block [`encode`](Self::encode) wrote is made of indexed fields only
    /// (no literal, no table size update): encoding the same fields again at the same
    /// [`table_version`](Self::table_version) writes the same octets and changes nothing
    /// but the statistics the encoder keeps for choosing what to index.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use h2kit_hpack::{Encoder, HeaderField};
    /// let mut enc = Encoder::new();
    /// let fields = [HeaderField::new(":status", "200"), HeaderField::new("etag", "\"a\"")];
    /// let mut first = BytesMut::new();
    /// enc.encode(&fields, &mut first); // `etag` goes into the table: a literal
    /// assert!(!enc.last_block_indexed());
    /// let version = enc.table_version();
    /// let mut second = BytesMut::new();
    /// enc.encode(&fields, &mut second);
    /// assert!(enc.last_block_indexed());
    /// assert_eq!(enc.table_version(), version);
    /// let mut third = BytesMut::new();
    /// enc.encode(&fields, &mut third);
    /// assert_eq!(second, third);
    /// ```
    pub fn last_block_indexed(&self) -> bool {
        self.last_indexed
    }

    /// Encodes one header list as a complete header block, appended to `dst`.
    pub fn encode<I>(&mut self, fields: I, dst: &mut BytesMut)
    where
        I: IntoIterator,
        I::Item: Field,
    {
        self.last_indexed = self.pending_min.is_none();
        if let Some(min) = self.pending_min.take() {
            if min < self.capacity {
                encode_int(min, 5, 0x20, dst);
            }
            encode_int(self.capacity, 5, 0x20, dst);
        }
        for f in fields {
            self.encode_field(f.name(), f.value(), f.repr(), dst);
        }
    }

    fn encode_field(
        &mut self,
        name: &[u8],
        value: &[u8],
        repr: Representation,
        dst: &mut BytesMut,
    ) {
        let in_static = static_name(name);
        let sensitive = repr == Representation::NeverIndexed || default_sensitive(in_static, value);
        if !sensitive {
            // A whole static entry (`:method GET`, `:status 200`, ...) needs no hash: a
            // static name's statistics are kept by its index.
            if let Some(index) = static_field(in_static, value) {
                encode_int(index, 7, 0x80, dst);
                self.learn(in_static, 0, true);
                return;
            }
        }
        let name_hash = hash_bytes(self.seed, name);
        let field_hash = hash_bytes(name_hash, value);
        if !sensitive {
            if let Some(index) = self.find_dynamic_field(name, value, name_hash, field_hash) {
                encode_int(index, 7, 0x80, dst);
                self.learn(in_static, name_hash, true);
                return;
            }
        }
        self.last_indexed = false;
        let name_index = self.find_name(name, in_static, name_hash);

        let index = !sensitive
            && repr == Representation::IncrementalIndexing
            && self.should_index(name, value, in_static, name_hash);

        let (prefix, flags) = if index {
            (6, 0x40)
        } else if sensitive {
            (4, 0x10)
        } else {
            (4, 0x00)
        };
        match name_index {
            Some(i) => encode_int(i, prefix, flags, dst),
            None => {
                encode_int(0, prefix, flags, dst);
                self.encode_string(name, dst);
            }
        }
        self.encode_string(value, dst);
        if index {
            self.insert(name, value, name_hash, field_hash);
        }
    }

    /// Decides whether a field not in the table should be added to it, and learns from it.
    #[inline(always)]
    fn should_index(
        &mut self,
        name: &[u8],
        value: &[u8],
        in_static: Option<(u8, u8)>,
        name_hash: u64,
    ) -> bool {
        let size = entry_size(name.len(), value.len());
        if size > self.capacity {
            return false;
        }
        let ghost = ghost_key(name, value);
        let seen_before = self.ghosts.take(ghost);
        let stat = self.learn(in_static, name_hash, seen_before);
        if seen_before {
            // It came back: index it now.
            return true;
        }
        // Index values of names whose values tend to repeat (and names we know little of).
        let index = stat.seen <= WARMUP || stat.repeats * 2 >= stat.seen;
        if !index {
            self.ghosts.add(ghost);
        }
        index
    }

    /// Counts a field under its name (a static name by its index, others by their hash);
    /// returns the updated statistics.
    #[inline(always)]
    fn learn(&mut self, in_static: Option<(u8, u8)>, name_hash: u64, repeat: bool) -> NameStat {
        let by_index =
            in_static.and_then(|(first, _)| self.static_stats.get_mut(usize::from(first)));
        let slot = match by_index {
            Some(slot) => slot,
            None => match self.names.get_mut(&name_hash) {
                Some(slot) => slot,
                None => {
                    if self.names.len() >= MAX_NAMES {
                        // Bounded memory: forget everything rather than grow.
                        self.names.clear();
                    }
                    self.names.entry(name_hash).or_default()
                }
            },
        };
        slot.seen += 1;
        slot.repeats += u16::from(repeat);
        if slot.seen >= 256 {
            slot.seen /= 2;
            slot.repeats /= 2;
        }
        *slot
    }

    #[inline(always)]
    fn find_dynamic_field(
        &self,
        name: &[u8],
        value: &[u8],
        name_hash: u64,
        field_hash: u64,
    ) -> Option<usize> {
        let &id = self.by_field.get(&field_hash)?;
        let pos = (self.inserted - 1 - id) as usize;
        let e = self.entries.get(pos)?;
        (e.name_hash == name_hash
            && same_bytes(self.store.name(e), name)
            && same_bytes(self.store.value(e), value))
        .then_some(STATIC_LEN + 1 + pos)
    }

    #[inline(always)]
    fn find_name(&self, name: &[u8], in_static: Option<(u8, u8)>, name_hash: u64) -> Option<usize> {
        if let Some((first, _)) = in_static {
            return Some(usize::from(first));
        }
        let &id = self.by_name.get(&name_hash)?;
        let pos = (self.inserted - 1 - id) as usize;
        let e = self.entries.get(pos)?;
        same_bytes(self.store.name(e), name).then_some(STATIC_LEN + 1 + pos)
    }

    fn insert(&mut self, name: &[u8], value: &[u8], name_hash: u64, field_hash: u64) {
        self.version += 1;
        let size = entry_size(name.len(), value.len());
        if size > self.capacity {
            self.evict_to(0);
            return;
        }
        self.evict_to(self.capacity - size);
        let id = self.inserted;
        self.inserted += 1;
        self.by_field.insert(field_hash, id);
        self.by_name.insert(name_hash, id);
        if self.by_field.len().max(self.by_name.len()) > 2 * self.entries.len() + 16 {
            self.purge_indexes();
        }
        self.size += size;
        let start = self.store.push(name, value);
        self.entries.push_front(Entry {
            start,
            name_len: name.len(),
            value_len: value.len(),
            name_hash,
        });
    }

    /// Drops the index keys of evicted entries.
    fn purge_indexes(&mut self) {
        let oldest = self.inserted - self.entries.len() as u64;
        self.by_field.retain(|_, id| *id >= oldest);
        self.by_name.retain(|_, id| *id >= oldest);
    }

    /// Evicts the oldest entries until the table holds at most `target` bytes.
    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            let Some(e) = self.entries.pop_back() else {
                self.size = 0;
                break;
            };
            self.size -= entry_size(e.name_len, e.value_len);
            // The indexes still map its hashes to its id (unless a newer entry took them
            // over): lookups see that the id is gone, and `purge_indexes` drops such keys
            // once they outnumber the live ones.
        }
        let live = self.entries.back().map_or(self.store.end(), |e| e.start);
        self.store.release(live, self.capacity.max(4096));
    }

    /// Writes a string literal (RFC 7541 §5.2). Huffman coding is done in one pass, straight
    /// into `dst` after room for the length prefix; with [`HuffmanPolicy::OnlyIfShorter`] it
    /// stops as soon as the result would not be shorter and the raw bytes are written instead.
    #[inline(always)]
    fn encode_string(&self, s: &[u8], dst: &mut BytesMut) {
        let limit = match self.huffman {
            HuffmanPolicy::Never => None,
            HuffmanPolicy::Always => Some(huffman::max_encoded_len(s.len())),
            HuffmanPolicy::OnlyIfShorter => s.len().checked_sub(1),
        };
        if let Some(limit) = limit {
            let start = dst.len();
            // The prefix of a length up to `limit` takes at most this many bytes.
            let room = int_len(limit, 7);
            dst.resize(start + room + limit + huffman::ENCODE_SLACK, 0);
            if let Some(len) = huffman::encode_into(s, &mut dst[start + room..], limit) {
                let used = int_len(len, 7);
                if used < room {
                    dst.copy_within(start + room..start + room + len, start + used);
                }
                encode_int_into(len, 7, 0x80, &mut dst[start..start + used]);
                dst.truncate(start + used + len);
                return;
            }
            dst.truncate(start);
        }
        encode_int(s.len(), 7, 0, dst);
        dst.extend_from_slice(s);
    }
}

/// Fields the encoder keeps out of every table unless told otherwise (RFC 7541 §7.1.3):
/// `authorization`, `proxy-authorization` and short `cookie` values. All three names are in
/// the static table, so the name's static index (`static_name`) tells.
#[inline(always)]
fn default_sensitive(in_static: Option<(u8, u8)>, value: &[u8]) -> bool {
    match in_static {
        Some((AUTHORIZATION | PROXY_AUTHORIZATION, _)) => true,
        Some((COOKIE, _)) => value.len() < SHORT_COOKIE,
        _ => false,
    }
}

/// Static table indices of the names [`default_sensitive`] looks for.
const AUTHORIZATION: u8 = 23;
const COOKIE: u8 = 32;
const PROXY_AUTHORIZATION: u8 = 49;
const _: () = {
    assert!(const_eq(
        STATIC[AUTHORIZATION as usize - 1].0,
        b"authorization"
    ));
    assert!(const_eq(STATIC[COOKIE as usize - 1].0, b"cookie"));
    assert!(const_eq(
        STATIC[PROXY_AUTHORIZATION as usize - 1].0,
        b"proxy-authorization"
    ));
};

/// The index of the static entry with this name (`in_static`, from `static_name`) and value.
#[inline(always)]
fn static_field(in_static: Option<(u8, u8)>, value: &[u8]) -> Option<usize> {
    let (first, count) = in_static?;
    let first = usize::from(first);
    STATIC
        .get(first - 1..first - 1 + usize::from(count))?
        .iter()
        .position(|&(_, v)| same_bytes(v, value))
        .map(|i| first + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_store_stays_bounded_and_correct() {
        let mut enc = Encoder::new();
        let mut dec = crate::Decoder::new();
        let mut block = BytesMut::new();
        let mut out = Vec::new();
        let mut indexed = 0;
        for i in 0..5000u32 {
            // Every field comes three times: the encoder indexes it and then finds it.
            let field = (format!("x-name-{}", i / 3 % 7), format!("value-{}", i / 3));
            block.clear();
            enc.encode([&field], &mut block);
            let block_len = block.len();
            out.clear();
            dec.decode(&block.split().freeze(), &mut out)
                .expect("decodes");
            assert_eq!(out[0].name, field.0.as_bytes());
            assert_eq!(out[0].value, field.1.as_bytes());
            indexed += usize::from(block_len == 1);
            assert!(
                enc.store.bytes.len() <= 2 * 4096 + 64,
                "store grew to {}",
                enc.store.bytes.len()
            );
            // Evicted entries' index keys are dropped once they outnumber the live ones.
            let bound = 2 * enc.table_len() + 17;
            assert!(enc.by_field.len() <= bound && enc.by_name.len() <= bound);
        }
        assert!(enc.table_len() > 0);
        // The third of each was found in the table: one byte.
        assert!(indexed >= 1600, "{indexed}");
    }
}
