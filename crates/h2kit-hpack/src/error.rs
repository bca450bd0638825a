//! Decoding errors.

use std::fmt;

/// Why a header block could not be decoded.
///
/// Two kinds: the decoder is out of step with the peer's encoder after a *compression* error
/// (the connection must close with `COMPRESSION_ERROR`, RFC 9113 §4.3), while after a *limit*
/// error ([`HeaderListTooLarge`](Self::HeaderListTooLarge),
/// [`FieldTooLarge`](Self::FieldTooLarge)) the whole block was still processed and the
/// dynamic table is in step, so only the stream needs to be refused. See
/// [`is_limit`](Self::is_limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The block ended in the middle of a representation (an integer or a string length).
    Truncated,
    /// An integer does not fit in 32 bits or uses too many continuation bytes (RFC 7541 §5.1).
    IntegerOverflow,
    /// A string literal is longer than what is left of the block (RFC 7541 §5.2).
    StringTooLong {
        /// The string's declared length.
        len: usize,
        /// Bytes left in the block after the length.
        remaining: usize,
    },
    /// Huffman padding longer than 7 bits (RFC 7541 §5.2).
    HuffmanPaddingTooLong,
    /// Huffman padding that is not the most significant bits of EOS, all ones (RFC 7541 §5.2).
    HuffmanPaddingNotOnes,
    /// A Huffman string contains the EOS symbol (RFC 7541 §5.2).
    HuffmanEos,
    /// Index 0 in an indexed field representation (RFC 7541 §6.1).
    ZeroIndex,
    /// An index beyond the static and dynamic tables (RFC 7541 §2.3.3).
    IndexOutOfRange {
        /// The index received.
        index: usize,
        /// The highest valid index when it was received.
        max: usize,
    },
    /// A dynamic table size update above the acknowledged SETTINGS_HEADER_TABLE_SIZE
    /// (RFC 7541 §6.3).
    TableSizeUpdateTooLarge {
        /// The size the peer asked for.
        size: usize,
        /// The limit we advertised.
        limit: usize,
    },
    /// A dynamic table size update after the first field of a block (RFC 7541 §4.2).
    TableSizeUpdateAfterField,
    /// Our SETTINGS_HEADER_TABLE_SIZE went below the table's size but the next block did not
    /// start with a dynamic table size update (RFC 7541 §4.2).
    MissingTableSizeUpdate,
    /// The decoded header list is larger than the limit, counted as RFC 9113 §6.5.2 does
    /// (name + value + 32 per field). The block was fully processed; the table is in step.
    HeaderListTooLarge {
        /// The limit.
        limit: usize,
    },
    /// A single field (name + value length) is larger than the limit. The block was fully
    /// processed; the table is in step.
    FieldTooLarge {
        /// The field's name and value length.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

impl DecodeError {
    /// True for limit errors, after which the decoder is still in step with the peer: refuse
    /// the stream (e.g. `RST_STREAM` or a 431 response) and keep the connection. False for
    /// compression errors, which are connection errors of type `COMPRESSION_ERROR`.
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            DecodeError::HeaderListTooLarge { .. } | DecodeError::FieldTooLarge { .. }
        )
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("header block ends inside a representation"),
            DecodeError::IntegerOverflow => f.write_str("integer does not fit in 32 bits"),
            DecodeError::StringTooLong { len, remaining } => write!(
                f,
                "string literal of {len} bytes but only {remaining} bytes left in the block"
            ),
            DecodeError::HuffmanPaddingTooLong => f.write_str("Huffman padding longer than 7 bits"),
            DecodeError::HuffmanPaddingNotOnes => f.write_str("Huffman padding is not all ones"),
            DecodeError::HuffmanEos => f.write_str("EOS symbol inside a Huffman string"),
            DecodeError::ZeroIndex => f.write_str("index 0 in an indexed field"),
            DecodeError::IndexOutOfRange { index, max } => {
                write!(f, "index {index} out of range (highest is {max})")
            }
            DecodeError::TableSizeUpdateTooLarge { size, limit } => write!(
                f,
                "dynamic table size update to {size} above the advertised limit {limit}"
            ),
            DecodeError::TableSizeUpdateAfterField => {
                f.write_str("dynamic table size update after the first field")
            }
            DecodeError::MissingTableSizeUpdate => {
                f.write_str("expected a dynamic table size update at the start of the block")
            }
            DecodeError::HeaderListTooLarge { limit } => {
                write!(f, "header list larger than {limit} bytes")
            }
            DecodeError::FieldTooLarge { size, limit } => {
                write!(
                    f,
                    "header field of {size} bytes larger than the limit {limit}"
                )
            }
        }
    }
}

impl std::error::Error for DecodeError {}
