//! The static table (RFC 7541 Appendix A) and the decoder's dynamic table (§2.3.2, §4).

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use crate::field::entry_size;

/// The static table; HPACK index `i` is `STATIC[i - 1]`.
pub(crate) static STATIC: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// The static entries named `name`: `(first index, count)` (entries of one name are
/// adjacent). No hashing with a seed and nothing to build per encoder: a fixed hash of the
/// length, first and last byte picks the only candidate, and one comparison confirms.
/// (Lookups cost the same whatever the name, so there is nothing to attack.)
#[inline]
pub(crate) fn static_name(name: &[u8]) -> Option<(u8, u8)> {
    let (&first, &last) = (name.first()?, name.last()?);
    let (index, count) = NAME_SLOTS[name_slot(name.len(), first, last)];
    let candidate = STATIC.get(usize::from(index).checked_sub(1)?)?.0;
    same_bytes(candidate, name).then_some((index, count))
}

/// The slot of a name in [`NAME_SLOTS`]. Collision-free over the static names; building
/// `NAME_SLOTS` checks it at compile time.
const fn name_slot(len: usize, first: u8, last: u8) -> usize {
    ((len as u8).wrapping_mul(9) ^ first.wrapping_mul(163) ^ last) as usize
}

/// `(first index, count)` of each static name at its [`name_slot`]; `(0, 0)` elsewhere.
static NAME_SLOTS: [(u8, u8); 256] = {
    let mut slots = [(0u8, 0u8); 256];
    let mut i = 0;
    while i < STATIC.len() {
        let name = STATIC[i].0;
        let mut end = i + 1;
        while end < STATIC.len() && const_eq(STATIC[end].0, name) {
            end += 1;
        }
        let slot = name_slot(name.len(), name[0], name[name.len() - 1]);
        assert!(slots[slot].0 == 0, "two static names share a slot");
        slots[slot] = ((i + 1) as u8, (end - i) as u8);
        i = end;
    }
    slots
};

pub(crate) const fn const_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Byte equality for short strings, inline: whole words and an overlapping last one (a
/// `memcmp` call costs more than the comparison at these lengths).
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let len = a.len();
    if len != b.len() {
        return false;
    }
    if len < 4 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    if len < 8 {
        let half = |s: &[u8], at: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&s[at..at + 4]);
            u32::from_ne_bytes(w)
        };
        return half(a, 0) == half(b, 0) && half(a, len - 4) == half(b, len - 4);
    }
    let word = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_ne_bytes(w)
    };
    let mut at = 0;
    while at + 8 < len {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    word(a, len - 8) == word(b, len - 8)
}

/// Number of static entries; dynamic indices start after it.
pub(crate) const STATIC_LEN: usize = STATIC.len();

/// Largest chunk that decoded strings are written into.
pub(crate) const ARENA_CHUNK: usize = 4096;

/// Makes sure `arena` has `need` bytes of room at its front, starting a new chunk of
/// `max(need, min(chunk, ARENA_CHUNK))` bytes if not.
///
/// An arena is a zero-filled chunk whose *length* is the room left: strings are written into
/// its front and split off with [`BytesMut::split_to`], so nothing is resized, zeroed or
/// truncated per string. The caller picks `chunk` from what it expects to write (the rest
/// of the block, the table's contents), so a chunk serves many strings once a connection
/// is busy (one allocation per ~4 KiB) while an idle or lightly used decoder holds little.
pub(crate) fn arena_room(arena: &mut BytesMut, need: usize, chunk: usize) -> &mut [u8] {
    if arena.len() < need {
        *arena = BytesMut::zeroed(need.max(chunk.min(ARENA_CHUNK)));
    }
    &mut arena[..need]
}

/// Copies `data` into `arena` (see [`arena_room`]) and returns it as `Bytes`.
pub(crate) fn arena_copy(arena: &mut BytesMut, data: &[u8], chunk: usize) -> Bytes {
    arena_room(arena, data.len(), chunk).copy_from_slice(data);
    arena.split_to(data.len()).freeze()
}

/// A dynamic table entry's name. A name taken from the static table stays a static slice, so
/// that handing it out makes a static `Bytes` directly, without a call through the vtable of
/// `Bytes::clone` (whose target would alternate between static and shared names).
#[derive(Clone, Debug)]
pub(crate) enum EntryName {
    /// A name of the static table.
    Static(&'static [u8]),
    /// A name decoded from a literal (it lives in the decoder's arena).
    Shared(Bytes),
}

impl EntryName {
    /// The name as `Bytes` (static, or sharing the entry's storage).
    #[inline(always)]
    pub(crate) fn to_bytes(&self) -> Bytes {
        match self {
            EntryName::Static(s) => Bytes::from_static(s),
            EntryName::Shared(b) => b.clone(),
        }
    }

    #[inline(always)]
    fn len(&self) -> usize {
        match self {
            EntryName::Static(s) => s.len(),
            EntryName::Shared(b) => b.len(),
        }
    }
}

/// The decoder's dynamic table: newest entry first.
#[derive(Debug)]
pub(crate) struct DynamicTable {
    entries: VecDeque<(EntryName, Bytes)>,
    size: usize,
    capacity: usize,
}

impl DynamicTable {
    pub(crate) fn new(capacity: usize) -> Self {
        DynamicTable {
            // Grows with the entries added: an idle connection holds one decoder.
            entries: VecDeque::new(),
            size: 0,
            capacity,
        }
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes of names and values in the table (its size without the 32 per entry).
    pub(crate) fn data_len(&self) -> usize {
        self.size - 32 * self.entries.len()
    }

    /// The entry at HPACK index `index` (1-based, static entries first).
    #[inline(always)]
    pub(crate) fn get(&self, index: usize) -> Option<(Bytes, Bytes)> {
        if index == 0 {
            None
        } else if index <= STATIC_LEN {
            let (n, v) = STATIC[index - 1];
            Some((Bytes::from_static(n), Bytes::from_static(v)))
        } else {
            self.entries
                .get(index - STATIC_LEN - 1)
                .map(|(n, v)| (n.to_bytes(), v.clone()))
        }
    }

    /// The name at HPACK index `index`.
    #[inline(always)]
    pub(crate) fn name(&self, index: usize) -> Option<EntryName> {
        if index == 0 {
            None
        } else if index <= STATIC_LEN {
            Some(EntryName::Static(STATIC[index - 1].0))
        } else {
            self.entries
                .get(index - STATIC_LEN - 1)
                .map(|(n, _)| n.clone())
        }
    }

    /// Adds an entry, evicting old ones (RFC 7541 §4.4). An entry larger than the table
    /// empties it and is not added.
    ///
    /// Inlined, with the entry stored only where the deque has room (else out of line): an
    /// entry passed or built in memory is reloaded in 16-byte halves of its 8-byte stores,
    /// which stalls on store forwarding.
    #[inline(always)]
    pub(crate) fn insert(&mut self, name: EntryName, value: Bytes) {
        let size = entry_size(name.len(), value.len());
        if size > self.capacity {
            self.entries.clear();
            self.size = 0;
            return;
        }
        if self.size + size > self.capacity {
            self.evict_for(size);
        }
        self.size += size;
        if self.entries.len() < self.entries.capacity() {
            self.entries.push_front((name, value));
        } else {
            self.push_growing(name, value);
        }
    }

    /// Evicts until an entry of `size` fits.
    #[inline(never)]
    fn evict_for(&mut self, size: usize) {
        while self.size + size > self.capacity {
            self.evict();
        }
    }

    #[cold]
    #[inline(never)]
    fn push_growing(&mut self, name: EntryName, value: Bytes) {
        self.entries.push_front((name, value));
    }

    /// Changes the maximum size, evicting as needed (RFC 7541 §4.3).
    pub(crate) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        while self.size > capacity {
            self.evict();
        }
        // Give back what a smaller table no longer needs.
        if self.entries.capacity() > 2 * self.entries.len() + 4 {
            self.entries.shrink_to(self.entries.len());
        }
    }

    fn evict(&mut self) {
        if let Some((n, v)) = self.entries.pop_back() {
            self.size -= entry_size(n.len(), v.len());
        } else {
            self.size = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_name_finds_every_entry() {
        for (i, (name, _)) in STATIC.iter().enumerate() {
            let (first, count) = static_name(name).expect("listed");
            let range = usize::from(first)..usize::from(first) + usize::from(count);
            assert!(range.contains(&(i + 1)), "{i}");
            assert!(range.clone().all(|j| STATIC[j - 1].0 == *name));
            assert!(first == 1 || STATIC[usize::from(first) - 2].0 != *name);
        }
        assert_eq!(static_name(b"x-custom"), None);
        assert_eq!(static_name(b":Method"), None);
        assert_eq!(static_name(b""), None);
    }
}

#[cfg(test)]
mod same_bytes_tests {
    use super::same_bytes;

    #[test]
    fn same_bytes_sees_every_byte() {
        for len in 0..40usize {
            let a: Vec<u8> = (0..len as u8).collect();
            assert!(same_bytes(&a, &a.clone()));
            for i in 0..len {
                let mut b = a.clone();
                b[i] ^= 0x20;
                assert!(!same_bytes(&a, &b), "len {len}, byte {i}");
            }
            assert!(!same_bytes(&a, &[a.as_slice(), &[0]].concat()));
        }
    }
}
