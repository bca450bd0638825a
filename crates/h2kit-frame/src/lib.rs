//! HTTP/2 frames (RFC 9113 §4, §6): a zero-copy push decoder and an allocation-free encoder.
//!
//! This crate knows the wire format of every HTTP/2 frame and every frame-level rule of
//! RFC 9113 §6, and nothing about streams, windows or header fields: that is the connection
//! core's job (`h2kit`), which feeds this crate bytes and HPACK blocks.
//!
//! # Main types
//!
//! - [`FrameDecoder`]: push bytes in (a [`BytesMut`](bytes::BytesMut)), take [`Frame`]s out.
//!   It says "need more" with `Ok(None)`, checks each frame's length against our
//!   SETTINGS_MAX_FRAME_SIZE from the 9-octet header before buffering the payload, and hands
//!   payloads out as [`Bytes`](bytes::Bytes) slices of the input. Lower layers:
//!   [`FrameDecoder::decode_raw`], [`FrameHeader::parse`] and [`Frame::parse`].
//! - [`Frame`]: one variant per frame type — the ten of RFC 9113, PRIORITY_UPDATE (RFC 9218),
//!   ALTSVC (RFC 7838), ORIGIN (RFC 8336) — and [`Unknown`] for the rest, kept so they can be
//!   skipped.
//! - [`FrameError`]: one variant per frame-level rule, each naming its RFC section, with
//!   [`FrameError::scope`] (connection or stream error, RFC 9113 §5.4) and
//!   [`FrameError::code`] (the [`ErrorCode`] to send). DATA errors also report
//!   [`FrameError::flow_controlled_len`] so window accounting stays exact.
//! - Encoder functions ([`encode_headers`], [`encode_data`], [`encode_data_header`], …) and
//!   [`Frame::encode`]: append to a caller's `BytesMut`, reserving once, with no intermediate
//!   buffer. [`encode_headers`] splits a field block into CONTINUATION frames.
//! - [`Settings`]: SETTINGS parameters in wire order, validated per RFC 9113 §6.5.2.
//! - Open wire newtypes [`FrameType`], [`ErrorCode`], [`SettingId`], [`Flags`] and
//!   [`StreamId`]: unknown values round-trip unchanged.
//!
//! # Example
//!
//! ```
//! use bytes::BytesMut;
//! use h2kit_frame::{encode_data, encode_headers, ErrorScope, Frame, FrameDecoder, StreamId};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let stream = StreamId::new(1);
//! let mut wire = BytesMut::new();
//! // A 40-octet header block split at a (tiny, for the example) max frame size of 16.
//! encode_headers(stream, &[0x82; 40], false, None, None, 16, &mut wire)?;
//! encode_data(stream, b"hello", true, Some(3), &mut wire)?;
//!
//! let mut decoder = FrameDecoder::new();
//! let mut input = BytesMut::new();
//! let mut frames = Vec::new();
//! // Bytes may arrive in any pieces; the frames come out the same.
//! for piece in wire.chunks(7) {
//!     input.extend_from_slice(piece);
//!     while let Some(frame) = decoder.decode(&mut input)? {
//!         frames.push(frame);
//!     }
//! }
//! assert_eq!(frames.len(), 4); // HEADERS, CONTINUATION, CONTINUATION, DATA
//! let Frame::Data(data) = &frames[3] else { panic!("expected DATA") };
//! assert_eq!(&data.data[..], b"hello");
//! assert_eq!(data.flow_controlled_len(), 5 + 3 + 1);
//!
//! // A peer error says how far it reaches and what to send.
//! let mut bad = BytesMut::from(&[0, 0, 4, 0x8, 0, 0, 0, 0, 3, 0, 0, 0, 0][..]);
//! let err = decoder.decode(&mut bad).unwrap_err(); // WINDOW_UPDATE of 0 on stream 3
//! assert_eq!(err.scope(), ErrorScope::Stream(StreamId::new(3)));
//! assert_eq!(err.code(), h2kit_frame::ErrorCode::PROTOCOL_ERROR);
//! # Ok(())
//! # }
//! ```

mod decoder;
mod encoder;
mod error;
mod frame;
mod header;
mod settings;
mod types;

#[doc(hidden)]
pub mod fuzzing;

pub use decoder::FrameDecoder;
pub use encoder::{
    data_header, encode_altsvc, encode_continuation, encode_data, encode_data_header,
    encode_goaway, encode_headers, encode_origin, encode_ping, encode_priority,
    encode_priority_update, encode_push_promise, encode_raw, encode_rst_stream, encode_settings,
    encode_settings_ack, encode_window_update,
};
pub use error::{EncodeError, ErrorScope, FrameError};
pub use frame::{
    AltSvc, Continuation, Data, Frame, GoAway, Headers, Origin, Ping, Priority, PrioritySpec,
    PriorityUpdate, PushPromise, RstStream, Unknown, WindowUpdate,
};
pub use header::{DEFAULT_MAX_FRAME_SIZE, FRAME_HEADER_LEN, FrameHeader, MAX_FRAME_SIZE_LIMIT};
pub use settings::{MAX_WINDOW_SIZE, Settings, check_setting};
pub use types::{ErrorCode, Flags, FrameType, SettingId, StreamId};
