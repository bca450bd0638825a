//! HPACK (RFC 7541): header compression for HTTP/2.
//!
//! - [`Encoder`] turns header lists into header blocks. It decides per field whether to add
//!   it to the dynamic table from statistics it learns per name (on the hpack-test-case
//!   `raw-data` stories it writes about 344,000 bytes for 1,162,372 plain bytes; indexing
//!   everything writes 361,000), keeps sensitive fields out of the table, and Huffman-codes
//!   strings according to a [`HuffmanPolicy`].
//! - [`Decoder`] turns complete header blocks into [`HeaderField`]s, with configurable limits
//!   and typed [`DecodeError`]s. Names and values are [`bytes::Bytes`] that share the input
//!   block or the decoder's table storage: decoding into a reused `Vec` allocates nothing per
//!   field. Over-limit header lists are still decoded to the end, so the dynamic table stays
//!   in step and only the stream has to be refused ([`DecodeError::is_limit`]).
//! - Every field carries its [`Representation`]: a never-indexed field stays never-indexed
//!   when an intermediary re-encodes it.
//!
//! For the connection: call [`Decoder::set_max_table_size`] when the peer acknowledges our
//! SETTINGS_HEADER_TABLE_SIZE and [`Encoder::set_max_table_size`] when we receive the peer's;
//! the encoder emits the required size updates at the start of its next block.
//!
//! The Huffman code is generated from the RFC's code list (`data/huffman-codes.txt`) into
//! tables checked in as `src/huffman/table.rs` (a 14-bit lookahead that decodes one or two
//! symbols per step, and canonical-code tables for the rare longer codes); a test
//! regenerates them and compares.
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use h2kit_hpack::{Decoder, Encoder, HeaderField, Representation};
//!
//! # fn main() -> Result<(), h2kit_hpack::DecodeError> {
//! let mut encoder = Encoder::new();
//! let mut decoder = Decoder::new();
//! let request = [
//!     HeaderField::new(":method", "GET"),
//!     HeaderField::new(":path", "/"),
//!     HeaderField::new(":authority", "example.com"),
//!     HeaderField::sensitive("x-api-key", "secret"),
//! ];
//! let mut block = BytesMut::new();
//! encoder.encode(&request, &mut block);
//!
//! let mut fields = Vec::new();
//! decoder.decode(&block.freeze(), &mut fields)?;
//! assert_eq!(fields[2].value, "example.com");
//! assert_eq!(fields[3].repr, Representation::NeverIndexed);
//!
//! // RFC 7541 C.3.1, from another encoder.
//! let block = Bytes::from_static(b"\x82\x86\x84\x41\x0fwww.example.com");
//! fields.clear();
//! Decoder::new().decode(&block, &mut fields)?;
//! assert_eq!(fields[3], HeaderField::new(":authority", "www.example.com"));
//! # Ok(())
//! # }
//! ```

mod codec;
mod decoder;
mod encoder;
mod error;
mod field;
#[doc(hidden)]
pub mod fuzzing;
mod hash;
mod huffman;
mod table;

pub use decoder::{
    DEFAULT_MAX_FIELD_SIZE, DEFAULT_MAX_HEADER_LIST_SIZE, DEFAULT_TABLE_SIZE, Decoder,
};
pub use encoder::{Encoder, Field, HuffmanPolicy, SHORT_COOKIE};
pub use error::DecodeError;
pub use field::{HeaderField, Representation};
