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

/// Number of static entries; dynamic indices start after it.
pub(crate) const STATIC_LEN: usize = STATIC.len();

/// Size of the chunks that dynamic table entries are copied into.
const ARENA_CHUNK: usize = 4096;

/// Copies `parts` into one shared chunk of `arena` and returns them as `Bytes`.
///
/// Entries are copied rather than kept as slices of the header block they arrived in, so the
/// table never pins whole blocks: what it retains is bounded by its size plus one chunk.
/// A chunk serves many entries, so this allocates once per ~4 KiB of inserted text.
pub(crate) fn arena_copy(arena: &mut BytesMut, data: &[u8]) -> Bytes {
    if arena.capacity() - arena.len() < data.len() {
        *arena = BytesMut::with_capacity(data.len().max(ARENA_CHUNK));
    }
    arena.extend_from_slice(data);
    arena.split().freeze()
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
