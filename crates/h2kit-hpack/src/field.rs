//! Header fields and their representation.

use bytes::Bytes;

/// How a field is (or was) represented on the wire (RFC 7541 §6.2).
///
/// On decode, this is what the peer sent. On encode, it is what the caller allows:
/// [`IncrementalIndexing`](Self::IncrementalIndexing) lets the encoder choose,
/// [`WithoutIndexing`](Self::WithoutIndexing) keeps the field out of the dynamic table,
/// and [`NeverIndexed`](Self::NeverIndexed) also obliges every intermediary to keep it out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Representation {
    /// The field may be added to the dynamic table. Decoded fields that came from an
    /// indexed representation or a literal with incremental indexing carry this.
    #[default]
    IncrementalIndexing,
    /// A literal that is not added to the dynamic table (RFC 7541 §6.2.2).
    WithoutIndexing,
    /// A sensitive literal that no encoder may index, now or when re-encoding it
    /// (RFC 7541 §6.2.3, §7.1.3).
    NeverIndexed,
}

/// One header field: a name, a value and its representation.
///
/// Names and values are [`Bytes`], so decoded fields share the decoder's table storage or the
/// input block instead of copying.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HeaderField {
    /// The field name (lower case in HTTP/2; HPACK does not check).
    pub name: Bytes,
    /// The field value.
    pub value: Bytes,
    /// How the field is represented on the wire.
    pub repr: Representation,
}

impl HeaderField {
    /// A field the encoder may index.
    pub fn new(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        HeaderField {
            name: name.into(),
            value: value.into(),
            repr: Representation::IncrementalIndexing,
        }
    }

    /// A sensitive field: encoded as a never-indexed literal (RFC 7541 §7.1.3).
    pub fn sensitive(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        HeaderField::new(name, value).with_repr(Representation::NeverIndexed)
    }

    /// The same field with another representation.
    pub fn with_repr(mut self, repr: Representation) -> Self {
        self.repr = repr;
        self
    }

    /// Whether the field is never-indexed.
    pub fn is_sensitive(&self) -> bool {
        self.repr == Representation::NeverIndexed
    }

    /// The field's size as RFC 7541 §4.1 and RFC 9113 §6.5.2 count it: name and value
    /// lengths plus 32.
    pub fn size(&self) -> usize {
        entry_size(self.name.len(), self.value.len())
    }
}

/// RFC 7541 §4.1: the size of an entry is its name and value lengths plus 32.
pub(crate) const fn entry_size(name_len: usize, value_len: usize) -> usize {
    name_len.saturating_add(value_len).saturating_add(32)
}
