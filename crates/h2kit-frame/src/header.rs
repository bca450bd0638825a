//! The 9-octet frame header (RFC 9113 §4.1).

use bytes::{BufMut, BytesMut};

use crate::types::{Flags, FrameType, StreamId};

/// Length of the frame header that precedes every payload.
pub const FRAME_HEADER_LEN: usize = 9;

/// The largest payload length the 24-bit length field can carry (2^24-1); also the largest
/// allowed SETTINGS_MAX_FRAME_SIZE.
pub const MAX_FRAME_SIZE_LIMIT: u32 = (1 << 24) - 1;

/// The initial and smallest SETTINGS_MAX_FRAME_SIZE (2^14, RFC 9113 §6.5.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 1 << 14;

/// The frame header: length, type, flags and stream id (RFC 9113 §4.1).
///
/// ```text
/// +-----------------------------------------------+
/// |                 Length (24)                   |
/// +---------------+---------------+---------------+
/// |   Type (8)    |   Flags (8)   |
/// +-+-------------+---------------+-------------------------------+
/// |R|                 Stream Identifier (31)                      |
/// +=+=============================================================+
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// Payload length, excluding these 9 octets (24 bits on the wire).
    pub length: u32,
    /// Frame type.
    pub frame_type: FrameType,
    /// Raw flags, including bits the type does not define.
    pub flags: Flags,
    /// Stream id; the reserved bit is dropped on receipt (RFC 9113 §4.1).
    pub stream_id: StreamId,
}

impl FrameHeader {
    /// A header from its parts.
    pub const fn new(
        frame_type: FrameType,
        flags: Flags,
        stream_id: StreamId,
        length: u32,
    ) -> Self {
        Self {
            length,
            frame_type,
            flags,
            stream_id,
        }
    }

    /// Reads a header from the first 9 octets of `src` without consuming anything, or `None`
    /// when fewer than 9 are there. Never fails otherwise: every bit pattern is a header.
    pub fn parse(src: &[u8]) -> Option<Self> {
        let b: &[u8; FRAME_HEADER_LEN] = src.get(..FRAME_HEADER_LEN)?.try_into().ok()?;
        Some(Self::from_bytes(b))
    }

    /// Reads a header from exactly 9 octets.
    pub const fn from_bytes(b: &[u8; FRAME_HEADER_LEN]) -> Self {
        Self {
            length: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            frame_type: FrameType(b[3]),
            flags: Flags(b[4]),
            stream_id: StreamId::new(u32::from_be_bytes([b[5], b[6], b[7], b[8]])),
        }
    }

    /// The 9 wire octets. Only the low 24 bits of `length` are written; the encoder functions
    /// check lengths before they get here.
    pub const fn to_bytes(&self) -> [u8; FRAME_HEADER_LEN] {
        let l = self.length.to_be_bytes();
        let s = self.stream_id.get().to_be_bytes();
        [
            l[1],
            l[2],
            l[3],
            self.frame_type.0,
            self.flags.0,
            s[0],
            s[1],
            s[2],
            s[3],
        ]
    }

    /// Appends the 9 wire octets to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.to_bytes());
    }
}
