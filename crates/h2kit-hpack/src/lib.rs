//! HPACK (RFC 7541): header compression for HTTP/2.
//!
//! - [`Decoder`] turns complete header blocks into [`HeaderField`]s, with configurable limits
//!   and typed [`DecodeError`]s. Names and values are [`bytes::Bytes`] that share the input
//!   block or the decoder's table storage: decoding into a reused `Vec` allocates nothing per
//!   field.
//! - Every field carries its [`Representation`]: a never-indexed field stays never-indexed
//!   when an intermediary re-encodes it.
//!
//! The Huffman code is generated from the RFC's code list (`data/huffman-codes.txt`) into a
//! 4-bit state machine checked in as `src/huffman/table.rs`; a test regenerates it and
//! compares.
//!
//! ```
//! use bytes::Bytes;
//! use h2kit_hpack::{Decoder, HeaderField};
//!
//! # fn main() -> Result<(), h2kit_hpack::DecodeError> {
//! // RFC 7541 C.3.1: a GET request for http://www.example.com/
//! let block = Bytes::from_static(b"\x82\x86\x84\x41\x0fwww.example.com");
//! let mut decoder = Decoder::new();
//! let mut fields = Vec::new();
//! decoder.decode(&block, &mut fields)?;
//! assert_eq!(fields[3], HeaderField::new(":authority", "www.example.com"));
//! assert_eq!(decoder.table_size(), 57);
//! # Ok(())
//! # }
//! ```

#[allow(dead_code)] // The encoding half is used by the encoder, coming next.
mod codec;
mod decoder;
mod error;
mod field;
#[allow(dead_code)] // The encoding half is used by the encoder, coming next.
mod huffman;
mod table;

pub use decoder::{
    DEFAULT_MAX_FIELD_SIZE, DEFAULT_MAX_HEADER_LIST_SIZE, DEFAULT_TABLE_SIZE, Decoder,
};
pub use error::DecodeError;
pub use field::{HeaderField, Representation};
