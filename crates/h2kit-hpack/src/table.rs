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
/// adjacent). No hashing and nothing to build: length, first and last byte tell the static
/// names apart, then one comparison with a constant confirms.
pub(crate) fn static_name(name: &[u8]) -> Option<(u8, u8)> {
    let (&first, &last) = (name.first()?, name.last()?);
    let found = match (name.len(), first, last) {
        (3, b'a', b'e') if name == b"age" => (21, 1),
        (3, b'v', b'a') if name == b"via" => (60, 1),
        (4, b'd', b'e') if name == b"date" => (33, 1),
        (4, b'e', b'g') if name == b"etag" => (34, 1),
        (4, b'f', b'm') if name == b"from" => (37, 1),
        (4, b'h', b't') if name == b"host" => (38, 1),
        (4, b'l', b'k') if name == b"link" => (45, 1),
        (4, b'v', b'y') if name == b"vary" => (59, 1),
        (5, b':', b'h') if name == b":path" => (4, 2),
        (5, b'a', b'w') if name == b"allow" => (22, 1),
        (5, b'r', b'e') if name == b"range" => (50, 1),
        (6, b'a', b't') if name == b"accept" => (19, 1),
        (6, b'c', b'e') if name == b"cookie" => (32, 1),
        (6, b'e', b't') if name == b"expect" => (35, 1),
        (6, b's', b'r') if name == b"server" => (54, 1),
        (7, b':', b'd') if name == b":method" => (2, 2),
        (7, b':', b'e') if name == b":scheme" => (6, 2),
        (7, b':', b's') if name == b":status" => (8, 7),
        (7, b'e', b's') if name == b"expires" => (36, 1),
        (7, b'r', b'r') if name == b"referer" => (51, 1),
        (7, b'r', b'h') if name == b"refresh" => (52, 1),
        (8, b'i', b'h') if name == b"if-match" => (39, 1),
        (8, b'i', b'e') if name == b"if-range" => (42, 1),
        (8, b'l', b'n') if name == b"location" => (46, 1),
        (10, b':', b'y') if name == b":authority" => (1, 1),
        (10, b's', b'e') if name == b"set-cookie" => (55, 1),
        (10, b'u', b't') if name == b"user-agent" => (58, 1),
        (11, b'r', b'r') if name == b"retry-after" => (53, 1),
        (12, b'c', b'e') if name == b"content-type" => (31, 1),
        (12, b'm', b's') if name == b"max-forwards" => (47, 1),
        (13, b'a', b's') if name == b"accept-ranges" => (18, 1),
        (13, b'a', b'n') if name == b"authorization" => (23, 1),
        (13, b'c', b'l') if name == b"cache-control" => (24, 1),
        (13, b'c', b'e') if name == b"content-range" => (30, 1),
        (13, b'i', b'h') if name == b"if-none-match" => (41, 1),
        (13, b'l', b'd') if name == b"last-modified" => (44, 1),
        (14, b'a', b't') if name == b"accept-charset" => (15, 1),
        (14, b'c', b'h') if name == b"content-length" => (28, 1),
        (15, b'a', b'g') if name == b"accept-encoding" => (16, 1),
        (15, b'a', b'e') if name == b"accept-language" => (17, 1),
        (16, b'c', b'g') if name == b"content-encoding" => (26, 1),
        (16, b'c', b'e') if name == b"content-language" => (27, 1),
        (16, b'c', b'n') if name == b"content-location" => (29, 1),
        (16, b'w', b'e') if name == b"www-authenticate" => (61, 1),
        (17, b'i', b'e') if name == b"if-modified-since" => (40, 1),
        (17, b't', b'g') if name == b"transfer-encoding" => (57, 1),
        (18, b'p', b'e') if name == b"proxy-authenticate" => (48, 1),
        (19, b'c', b'n') if name == b"content-disposition" => (25, 1),
        (19, b'i', b'e') if name == b"if-unmodified-since" => (43, 1),
        (19, b'p', b'n') if name == b"proxy-authorization" => (49, 1),
        (25, b's', b'y') if name == b"strict-transport-security" => (56, 1),
        (27, b'a', b'n') if name == b"access-control-allow-origin" => (20, 1),
        _ => return None,
    };
    Some(found)
}

/// Number of static entries; dynamic indices start after it.
pub(crate) const STATIC_LEN: usize = STATIC.len();

/// Size of the chunks that decoded strings are written into.
const ARENA_CHUNK: usize = 4096;

/// Makes sure `arena` has `need` bytes of room at its front, starting a new chunk if not.
///
/// An arena is a zero-filled chunk whose *length* is the room left: strings are written into
/// its front and split off with [`BytesMut::split_to`], so nothing is resized, zeroed or
/// truncated per string. Entries are copied rather than kept as slices of the header block
/// they arrived in, so the table never pins whole blocks: what it retains is bounded by its
/// size plus one chunk. A chunk serves many strings: one allocation per ~4 KiB.
pub(crate) fn arena_room(arena: &mut BytesMut, need: usize) -> &mut [u8] {
    if arena.len() < need {
        *arena = BytesMut::zeroed(need.max(ARENA_CHUNK));
    }
    &mut arena[..need]
}

/// Copies `data` into `arena` (see [`arena_room`]) and returns it as `Bytes`.
pub(crate) fn arena_copy(arena: &mut BytesMut, data: &[u8]) -> Bytes {
    arena_room(arena, data.len()).copy_from_slice(data);
    arena.split_to(data.len()).freeze()
}

/// The decoder's dynamic table: newest entry first.
#[derive(Debug)]
pub(crate) struct DynamicTable {
    entries: VecDeque<(Bytes, Bytes)>,
    size: usize,
    capacity: usize,
}

impl DynamicTable {
    pub(crate) fn new(capacity: usize) -> Self {
        DynamicTable {
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

    /// The entry at HPACK index `index` (1-based, static entries first).
    #[inline(always)]
    pub(crate) fn get(&self, index: usize) -> Option<(Bytes, Bytes)> {
        if index == 0 {
            None
        } else if index <= STATIC_LEN {
            let (n, v) = STATIC[index - 1];
            Some((Bytes::from_static(n), Bytes::from_static(v)))
        } else {
            self.entries.get(index - STATIC_LEN - 1).cloned()
        }
    }

    /// The name at HPACK index `index`.
    #[inline(always)]
    pub(crate) fn name(&self, index: usize) -> Option<Bytes> {
        if index == 0 {
            None
        } else if index <= STATIC_LEN {
            Some(Bytes::from_static(STATIC[index - 1].0))
        } else {
            self.entries
                .get(index - STATIC_LEN - 1)
                .map(|(n, _)| n.clone())
        }
    }

    /// Adds an entry, evicting old ones (RFC 7541 §4.4). An entry larger than the table
    /// empties it and is not added.
    pub(crate) fn insert(&mut self, name: Bytes, value: Bytes) {
        let size = entry_size(name.len(), value.len());
        if size > self.capacity {
            self.entries.clear();
            self.size = 0;
            return;
        }
        while self.size + size > self.capacity {
            self.evict();
        }
        self.size += size;
        self.entries.push_front((name, value));
    }

    /// Changes the maximum size, evicting as needed (RFC 7541 §4.3).
    pub(crate) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        while self.size > capacity {
            self.evict();
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
