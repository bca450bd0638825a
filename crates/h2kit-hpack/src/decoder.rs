//! The HPACK decoder (RFC 7541 §3, §6).

use bytes::{Bytes, BytesMut};

use crate::codec::decode_int;
use crate::field::{HeaderField, Representation};
use crate::table::{DynamicTable, EntryName, STATIC_LEN, arena_copy, arena_room};
use crate::{DecodeError, huffman};

/// Default maximum dynamic table size: the RFC 7541 initial value of
/// SETTINGS_HEADER_TABLE_SIZE.
pub const DEFAULT_TABLE_SIZE: usize = 4096;
/// Default maximum header list size, counted as RFC 9113 §6.5.2 does (64 KiB).
pub const DEFAULT_MAX_HEADER_LIST_SIZE: usize = 64 * 1024;
/// Default maximum size of one field's name plus value (32 KiB).
pub const DEFAULT_MAX_FIELD_SIZE: usize = 32 * 1024;

/// Decodes header blocks of one connection direction.
///
/// One decoder per connection: blocks must be given in the order they arrived, each one
/// complete (HEADERS plus its CONTINUATION frames). Limits:
///
/// - [`set_max_table_size`](Self::set_max_table_size): what we advertised in
///   SETTINGS_HEADER_TABLE_SIZE, applied when the peer acknowledges it.
/// - [`set_max_header_list_size`](Self::set_max_header_list_size) (default 64 KiB) and
///   [`set_max_field_size`](Self::set_max_field_size) (default 32 KiB): on excess, the block
///   is still decoded to the end so the dynamic table stays in step, and the error comes
///   after ([`DecodeError::is_limit`]).
///
/// Memory follows use: a new decoder allocates nothing; the table and the chunks its strings
/// are copied into grow with the entries added (up to 4 KiB chunks), and shrink when the
/// peer makes the table smaller.
#[derive(Debug)]
pub struct Decoder {
    table: DynamicTable,
    /// The acknowledged SETTINGS_HEADER_TABLE_SIZE.
    limit: usize,
    /// The limit went below the table's size: the next block must start with an update.
    update_required: bool,
    max_header_list_size: usize,
    max_field_size: usize,
    /// Copies of the entries added to the dynamic table (chunks sized to what the table
    /// holds, see [`arena_room`]: nothing until the first entry).
    arena: BytesMut,
    /// Decoded Huffman strings that do not go into the table (an arena like `arena`).
    scratch: BytesMut,
    /// Size of the next `scratch` chunk: it doubles with each chunk used up, to
    /// [`SCRATCH_CHUNK`], so that a decoder that sees few such strings holds little.
    scratch_chunk: usize,
    /// Changes whenever what a block decodes to may (see [`Decoder::table_version`]).
    version: u64,
    /// The last block may be reused (see [`Decoder::last_block_reusable`]).
    last_reusable: bool,
    /// The last block would decode the same again (see [`Decoder::last_block_repeatable`]).
    last_repeatable: bool,
}

/// `out.push(field)` when `out` is full, out of line (see [`Decoder::decode`]).
#[cold]
#[inline(never)]
fn push_growing(out: &mut Vec<HeaderField>, field: HeaderField) {
    out.push(field);
}

/// Largest `scratch` chunk (unless one string needs more).
const SCRATCH_CHUNK: usize = 1024;

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder with the default limits (table 4096, header list 64 KiB, field 32 KiB).
    pub fn new() -> Self {
        Decoder {
            table: DynamicTable::new(DEFAULT_TABLE_SIZE),
            limit: DEFAULT_TABLE_SIZE,
            update_required: false,
            max_header_list_size: DEFAULT_MAX_HEADER_LIST_SIZE,
            max_field_size: DEFAULT_MAX_FIELD_SIZE,
            arena: BytesMut::new(),
            scratch: BytesMut::new(),
            scratch_chunk: 0,
            version: 0,
            last_reusable: false,
            last_repeatable: false,
        }
    }

    /// A number that changes whenever what a block decodes to may change: an entry added
    /// to or evicted from the dynamic table, its size or a limit changed. With
    /// [`last_block_reusable`](Self::last_block_reusable) it lets a caller reuse what a
    /// block decoded to: while the version stays the same, the same octets decode to the
    /// same fields.
    pub fn table_version(&self) -> u64 {
        self.version
    }

    /// Whether the last block [`decode`](Self::decode) decoded without error changed
    /// nothing in the decoder (no field entered the table, no size update) and none of its
    /// fields is a slice of the block: indexed fields (RFC 7541 §6.1), and literals not
    /// indexed whose strings are Huffman-coded (decoded into the decoder's own storage).
    /// Keeping such fields pins no input buffer.
    ///
    /// ```
    /// use bytes::{Bytes, BytesMut};
    /// use h2kit_hpack::{Decoder, Encoder, HeaderField};
    /// let (mut enc, mut dec) = (Encoder::new(), Decoder::new());
    /// let fields = [HeaderField::new(":status", "200"), HeaderField::new("etag", "\"a\"")];
    /// let mut out = Vec::new();
    /// for _ in 0..2 {
    ///     let mut block = BytesMut::new();
    ///     enc.encode(&fields, &mut block);
    ///     out.clear();
    ///     dec.decode(&block.freeze(), &mut out).unwrap();
    /// }
    /// // The first block put `etag` in the table; the second names both by index.
    /// assert!(dec.last_block_reusable());
    /// ```
    pub fn last_block_reusable(&self) -> bool {
        self.last_reusable
    }

    /// Whether the last block [`decode`](Self::decode) decoded without error changed
    /// nothing in the decoder (no field entered the table, no size update): while the
    /// [`table_version`](Self::table_version) stays the same, the same octets decode to the
    /// same fields. Unlike [`last_block_reusable`](Self::last_block_reusable), its fields
    /// may be slices of the block (literals not Huffman-coded): a caller that keeps them
    /// beyond the block copies those.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use h2kit_hpack::Decoder;
    /// let mut dec = Decoder::new();
    /// // `:status: 200` (indexed), `content-length: 12` (a plain literal, not indexed).
    /// let block = Bytes::from_static(b"\x88\x0f\x0d\x0212");
    /// let mut out = Vec::new();
    /// dec.decode(&block, &mut out).unwrap();
    /// assert!(dec.last_block_repeatable());
    /// assert!(!dec.last_block_reusable()); // "12" is a slice of the block
    /// ```
    pub fn last_block_repeatable(&self) -> bool {
        self.last_repeatable
    }

    /// Applies our SETTINGS_HEADER_TABLE_SIZE once the peer has acknowledged it.
    ///
    /// Size updates above `size` are errors from now on. If `size` is below the table's
    /// current maximum, the next block must begin with a size update (RFC 7541 §4.2).
    pub fn set_max_table_size(&mut self, size: usize) {
        self.version += 1;
        self.limit = size;
        if size < self.table.capacity() {
            self.update_required = true;
        }
    }

    /// Sets the maximum header list size (name + value + 32 per field, RFC 9113 §6.5.2).
    pub fn set_max_header_list_size(&mut self, size: usize) {
        self.version += 1;
        self.max_header_list_size = size;
    }

    /// Sets the maximum length of one field's name plus value.
    pub fn set_max_field_size(&mut self, size: usize) {
        self.version += 1;
        self.max_field_size = size;
    }

    /// The acknowledged table size limit.
    pub fn max_table_size(&self) -> usize {
        self.limit
    }

    /// The dynamic table's current maximum size, as last set by the peer's encoder.
    pub fn table_capacity(&self) -> usize {
        self.table.capacity()
    }

    /// The dynamic table's current size (RFC 7541 §4.1).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// The number of entries in the dynamic table.
    pub fn table_len(&self) -> usize {
        self.table.len()
    }

    /// Decodes one complete header block, appending its fields to `out`.
    ///
    /// Literals that are not Huffman-coded are handed out as slices of `block`; fields
    /// from the tables share the table's storage. No allocation per field.
    ///
    /// On error, `out` is truncated back to its length at the call. After a limit error
    /// ([`DecodeError::is_limit`]) the decoder is still usable; after any other error the
    /// connection must be closed with `COMPRESSION_ERROR`.
    pub fn decode(&mut self, block: &Bytes, out: &mut Vec<HeaderField>) -> Result<(), DecodeError> {
        let start = out.len();
        let result = self.decode_parts(block, |name, value, repr| {
            let field = HeaderField { name, value, repr };
            if out.len() < out.capacity() {
                out.push(field)
            } else {
                push_growing(out, field)
            }
        });
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Decodes one complete header block, giving each field to `sink` in order.
    ///
    /// After a limit error, `sink` has seen the fields before the limit was crossed and
    /// none after.
    pub fn decode_with<F: FnMut(HeaderField)>(
        &mut self,
        block: &Bytes,
        mut sink: F,
    ) -> Result<(), DecodeError> {
        self.decode_parts(block, |name, value, repr| {
            sink(HeaderField { name, value, repr })
        })
    }

    /// [`decode_with`](Self::decode_with) with the field given in parts: the field is then
    /// built where the sink puts it. (Built here and moved, it went through a stack copy
    /// whose 16-byte reloads of 8-byte stores stalled on store forwarding.)
    #[inline(always)]
    fn decode_parts<F: FnMut(Bytes, Bytes, Representation)>(
        &mut self,
        block: &Bytes,
        mut sink: F,
    ) -> Result<(), DecodeError> {
        let buf: &[u8] = block;
        let mut pos = 0;
        let mut seen_field = false;
        self.last_reusable = false;
        self.last_repeatable = false;
        let mut reusable = true;
        let mut repeatable = true;
        let mut list_size = 0usize;
        let mut deferred: Option<DecodeError> = None;

        if self.update_required && buf.first().is_none_or(|b| b & 0xe0 != 0x20) {
            return Err(DecodeError::MissingTableSizeUpdate);
        }

        while let Some(&b) = buf.get(pos) {
            let (name, value, repr) = if b & 0x80 != 0 {
                // Indexed field (§6.1).
                let index = decode_int(buf, &mut pos, 7)?;
                let (name, value) = self.entry(index)?;
                (name, value, Representation::IncrementalIndexing)
            } else if b & 0x40 != 0 {
                // Literal with incremental indexing (§6.2.1).
                let index = decode_int(buf, &mut pos, 6)?;
                let entry_name = if index == 0 {
                    EntryName::Shared(self.string(block, &mut pos, true)?)
                } else {
                    self.name(index)?
                };
                let name = entry_name.to_bytes();
                let value = self.string(block, &mut pos, true)?;
                self.table.insert(entry_name, value.clone());
                self.version += 1;
                repeatable = false;
                (name, value, Representation::IncrementalIndexing)
            } else if b & 0x20 != 0 {
                // Dynamic table size update (§6.3).
                if seen_field {
                    return Err(DecodeError::TableSizeUpdateAfterField);
                }
                let size = decode_int(buf, &mut pos, 5)?;
                if size > self.limit {
                    return Err(DecodeError::TableSizeUpdateTooLarge {
                        size,
                        limit: self.limit,
                    });
                }
                self.table.set_capacity(size);
                self.version += 1;
                repeatable = false;
                if size == 0 {
                    // Nothing more goes into the table until it grows again.
                    self.arena = BytesMut::new();
                }
                self.update_required = false;
                continue;
            } else {
                // Literal without indexing (§6.2.2) or never indexed (§6.2.3).
                let repr = if b & 0x10 != 0 {
                    Representation::NeverIndexed
                } else {
                    Representation::WithoutIndexing
                };
                let index = decode_int(buf, &mut pos, 4)?;
                // A string not Huffman-coded is handed out as a slice of the block.
                let huffman_at = |pos: usize| buf.get(pos).is_some_and(|b| b & 0x80 != 0);
                let name = if index == 0 {
                    reusable &= huffman_at(pos);
                    self.string(block, &mut pos, false)?
                } else {
                    self.name(index)?.to_bytes()
                };
                reusable &= huffman_at(pos);
                let value = self.string(block, &mut pos, false)?;
                (name, value, repr)
            };
            seen_field = true;

            let size = name.len() + value.len();
            list_size = list_size.saturating_add(size).saturating_add(32);
            if size > self.max_field_size || list_size > self.max_header_list_size {
                // The first limit crossed is the one reported; nothing is given after it.
                if deferred.is_none() {
                    deferred = Some(self.limit_error(size));
                }
            }
            if deferred.is_none() {
                sink(name, value, repr);
            }
        }
        match deferred {
            Some(e) => Err(e),
            None => {
                self.last_reusable = reusable && repeatable;
                self.last_repeatable = repeatable;
                Ok(())
            }
        }
    }

    /// The limit error for a field of `size` bytes that crossed a limit: the field's own,
    /// else the list's.
    #[cold]
    fn limit_error(&self, size: usize) -> DecodeError {
        if size > self.max_field_size {
            DecodeError::FieldTooLarge {
                size,
                limit: self.max_field_size,
            }
        } else {
            DecodeError::HeaderListTooLarge {
                limit: self.max_header_list_size,
            }
        }
    }

    fn max_index(&self) -> usize {
        STATIC_LEN + self.table.len()
    }

    #[inline(always)]
    fn entry(&self, index: usize) -> Result<(Bytes, Bytes), DecodeError> {
        if index == 0 {
            return Err(DecodeError::ZeroIndex);
        }
        self.table.get(index).ok_or(DecodeError::IndexOutOfRange {
            index,
            max: self.max_index(),
        })
    }

    #[inline(always)]
    fn name(&self, index: usize) -> Result<EntryName, DecodeError> {
        self.table.name(index).ok_or(DecodeError::IndexOutOfRange {
            index,
            max: self.max_index(),
        })
    }

    /// Reads a string literal (§5.2). Strings bound for the dynamic table are copied into
    /// the table's arena; others are slices of `block` or, when Huffman-coded, decoded
    /// into a shared scratch buffer.
    #[inline(always)]
    fn string(
        &mut self,
        block: &Bytes,
        pos: &mut usize,
        for_table: bool,
    ) -> Result<Bytes, DecodeError> {
        let huffman = block.get(*pos).ok_or(DecodeError::Truncated)? & 0x80 != 0;
        let len = decode_int(block, pos, 7)?;
        let remaining = block.len() - *pos;
        if len > remaining {
            return Err(DecodeError::StringTooLong { len, remaining });
        }
        let range = *pos..*pos + len;
        // The string and the rest of the block: the Huffman decoder reads whole words.
        let from_here = &block[*pos..];
        // A new arena chunk is sized for what may still come: the rest of this block, and
        // for the table, also as much as it already holds (so chunks grow with the table).
        let mut chunk = huffman::max_decoded_len(remaining);
        let raw = &from_here[..len];
        *pos += len;
        if huffman {
            let buf = if for_table {
                chunk = chunk.max(self.table.data_len());
                &mut self.arena
            } else {
                chunk = chunk.max(self.scratch_chunk);
                if self.scratch.len() < huffman::max_decoded_len(len) {
                    self.scratch_chunk = (2 * self.scratch_chunk).clamp(128, SCRATCH_CHUNK);
                }
                &mut self.scratch
            };
            // Room for the longest possible decoding (the shortest code is 5 bits).
            let room = arena_room(buf, huffman::max_decoded_len(len), chunk);
            let n = huffman::decode_to(from_here, len, room)?;
            Ok(buf.split_to(n).freeze())
        } else if for_table {
            let chunk = chunk.max(self.table.data_len());
            Ok(arena_copy(&mut self.arena, raw, chunk))
        } else {
            Ok(block.slice(range))
        }
    }
}
