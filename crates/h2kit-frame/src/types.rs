//! Open newtypes for the values HTTP/2 puts on the wire.
//!
//! Each wraps the raw integer so that values this crate does not know round-trip unchanged;
//! the known ones are associated constants.

use core::fmt;

/// A frame type (RFC 9113 §4.1, §11.2). Unknown types are kept and can be skipped.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FrameType(pub u8);

impl FrameType {
    /// DATA (RFC 9113 §6.1).
    pub const DATA: Self = Self(0x0);
    /// HEADERS (RFC 9113 §6.2).
    pub const HEADERS: Self = Self(0x1);
    /// PRIORITY (RFC 9113 §6.3), deprecated but still parsed.
    pub const PRIORITY: Self = Self(0x2);
    /// RST_STREAM (RFC 9113 §6.4).
    pub const RST_STREAM: Self = Self(0x3);
    /// SETTINGS (RFC 9113 §6.5).
    pub const SETTINGS: Self = Self(0x4);
    /// PUSH_PROMISE (RFC 9113 §6.6).
    pub const PUSH_PROMISE: Self = Self(0x5);
    /// PING (RFC 9113 §6.7).
    pub const PING: Self = Self(0x6);
    /// GOAWAY (RFC 9113 §6.8).
    pub const GOAWAY: Self = Self(0x7);
    /// WINDOW_UPDATE (RFC 9113 §6.9).
    pub const WINDOW_UPDATE: Self = Self(0x8);
    /// CONTINUATION (RFC 9113 §6.10).
    pub const CONTINUATION: Self = Self(0x9);
    /// ALTSVC (RFC 7838 §4).
    pub const ALTSVC: Self = Self(0xa);
    /// ORIGIN (RFC 8336 §2).
    pub const ORIGIN: Self = Self(0xc);
    /// PRIORITY_UPDATE (RFC 9218 §7.1).
    pub const PRIORITY_UPDATE: Self = Self(0x10);

    /// The registered name of this type, or `None` when this crate does not know it.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0 => "DATA",
            0x1 => "HEADERS",
            0x2 => "PRIORITY",
            0x3 => "RST_STREAM",
            0x4 => "SETTINGS",
            0x5 => "PUSH_PROMISE",
            0x6 => "PING",
            0x7 => "GOAWAY",
            0x8 => "WINDOW_UPDATE",
            0x9 => "CONTINUATION",
            0xa => "ALTSVC",
            0xc => "ORIGIN",
            0x10 => "PRIORITY_UPDATE",
            _ => return None,
        })
    }
}

impl fmt::Debug for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "FrameType({:#x})", self.0),
        }
    }
}

impl fmt::Display for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// An error code carried by RST_STREAM and GOAWAY (RFC 9113 §7).
///
/// Unknown codes are valid on the wire and must not trigger special behaviour; they
/// round-trip unchanged.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// Graceful shutdown, or no error.
    pub const NO_ERROR: Self = Self(0x0);
    /// An unspecific protocol error.
    pub const PROTOCOL_ERROR: Self = Self(0x1);
    /// An unexpected internal error.
    pub const INTERNAL_ERROR: Self = Self(0x2);
    /// The peer violated flow control.
    pub const FLOW_CONTROL_ERROR: Self = Self(0x3);
    /// A SETTINGS frame was not acknowledged in time.
    pub const SETTINGS_TIMEOUT: Self = Self(0x4);
    /// A frame arrived after the stream was half-closed.
    pub const STREAM_CLOSED: Self = Self(0x5);
    /// A frame had an invalid size.
    pub const FRAME_SIZE_ERROR: Self = Self(0x6);
    /// The stream was refused before any application processing.
    pub const REFUSED_STREAM: Self = Self(0x7);
    /// The stream is no longer needed.
    pub const CANCEL: Self = Self(0x8);
    /// The HPACK compression context cannot be maintained.
    pub const COMPRESSION_ERROR: Self = Self(0x9);
    /// The connection for a CONNECT request failed.
    pub const CONNECT_ERROR: Self = Self(0xa);
    /// The peer is generating excessive load.
    pub const ENHANCE_YOUR_CALM: Self = Self(0xb);
    /// The transport does not meet minimum security requirements.
    pub const INADEQUATE_SECURITY: Self = Self(0xc);
    /// HTTP/1.1 is required instead of HTTP/2.
    pub const HTTP_1_1_REQUIRED: Self = Self(0xd);

    /// The registered name of this code, or `None` when it is not one of RFC 9113's.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0 => "NO_ERROR",
            0x1 => "PROTOCOL_ERROR",
            0x2 => "INTERNAL_ERROR",
            0x3 => "FLOW_CONTROL_ERROR",
            0x4 => "SETTINGS_TIMEOUT",
            0x5 => "STREAM_CLOSED",
            0x6 => "FRAME_SIZE_ERROR",
            0x7 => "REFUSED_STREAM",
            0x8 => "CANCEL",
            0x9 => "COMPRESSION_ERROR",
            0xa => "CONNECT_ERROR",
            0xb => "ENHANCE_YOUR_CALM",
            0xc => "INADEQUATE_SECURITY",
            0xd => "HTTP_1_1_REQUIRED",
            _ => return None,
        })
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "ErrorCode({:#x})", self.0),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A SETTINGS parameter identifier (RFC 9113 §6.5.2). Unknown ids are kept and ignored.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SettingId(pub u16);

impl SettingId {
    /// SETTINGS_HEADER_TABLE_SIZE.
    pub const HEADER_TABLE_SIZE: Self = Self(0x1);
    /// SETTINGS_ENABLE_PUSH.
    pub const ENABLE_PUSH: Self = Self(0x2);
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub const MAX_CONCURRENT_STREAMS: Self = Self(0x3);
    /// SETTINGS_INITIAL_WINDOW_SIZE.
    pub const INITIAL_WINDOW_SIZE: Self = Self(0x4);
    /// SETTINGS_MAX_FRAME_SIZE.
    pub const MAX_FRAME_SIZE: Self = Self(0x5);
    /// SETTINGS_MAX_HEADER_LIST_SIZE.
    pub const MAX_HEADER_LIST_SIZE: Self = Self(0x6);
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3).
    pub const ENABLE_CONNECT_PROTOCOL: Self = Self(0x8);
    /// SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218 §2.1).
    pub const NO_RFC7540_PRIORITIES: Self = Self(0x9);

    /// The registered name of this setting, or `None` when this crate does not know it.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x1 => "HEADER_TABLE_SIZE",
            0x2 => "ENABLE_PUSH",
            0x3 => "MAX_CONCURRENT_STREAMS",
            0x4 => "INITIAL_WINDOW_SIZE",
            0x5 => "MAX_FRAME_SIZE",
            0x6 => "MAX_HEADER_LIST_SIZE",
            0x8 => "ENABLE_CONNECT_PROTOCOL",
            0x9 => "NO_RFC7540_PRIORITIES",
            _ => return None,
        })
    }
}

impl fmt::Debug for SettingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "SettingId({:#x})", self.0),
        }
    }
}

/// A 31-bit stream identifier (RFC 9113 §5.1.1). Stream 0 is the connection itself.
///
/// The reserved high bit is never stored: [`StreamId::new`] masks it off, as a receiver must
/// ignore it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId(u32);

impl StreamId {
    /// Stream 0: frames about the whole connection.
    pub const ZERO: Self = Self(0);
    /// The largest stream identifier, 2^31 - 1.
    pub const MAX: Self = Self(0x7fff_ffff);

    /// A stream id from a raw value, dropping the reserved bit.
    pub const fn new(raw: u32) -> Self {
        Self(raw & 0x7fff_ffff)
    }

    /// The numeric value (always below 2^31).
    pub const fn get(self) -> u32 {
        self.0
    }

    /// Whether this is stream 0, the connection.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Whether a client initiated this stream (odd ids).
    pub const fn is_client_initiated(self) -> bool {
        self.0 % 2 == 1
    }

    /// Whether a server initiated this stream (even, non-zero ids).
    pub const fn is_server_initiated(self) -> bool {
        self.0 != 0 && self.0 % 2 == 0
    }
}

impl From<u32> for StreamId {
    fn from(raw: u32) -> Self {
        Self::new(raw)
    }
}

impl From<StreamId> for u32 {
    fn from(id: StreamId) -> u32 {
        id.0
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamId({})", self.0)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The flags octet of a frame header (RFC 9113 §4.1).
///
/// Open like the other wire newtypes: bits this crate does not define are kept on
/// [`FrameHeader`](crate::FrameHeader) and in [`Unknown`](crate::Unknown) frames. Typed frames
/// turn the bits they define into `bool` fields and drop the rest, since RFC 9113 §4.1 says
/// undefined flags are ignored on receipt and left unset when sending.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// No flag set.
    pub const EMPTY: Self = Self(0x0);
    /// END_STREAM on DATA (RFC 9113 §6.1) and HEADERS (§6.2).
    pub const END_STREAM: Self = Self(0x1);
    /// ACK on SETTINGS (RFC 9113 §6.5) and PING (§6.7); same bit as END_STREAM.
    pub const ACK: Self = Self(0x1);
    /// END_HEADERS on HEADERS, PUSH_PROMISE and CONTINUATION (RFC 9113 §6.2, §6.6, §6.10).
    pub const END_HEADERS: Self = Self(0x4);
    /// PADDED on DATA, HEADERS and PUSH_PROMISE (RFC 9113 §6.1, §6.2, §6.6).
    pub const PADDED: Self = Self(0x8);
    /// PRIORITY on HEADERS (RFC 9113 §6.2).
    pub const PRIORITY: Self = Self(0x20);

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The bits of both.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// `self` with the bits of `other` set when `on` is true.
    #[must_use]
    pub const fn with_if(self, other: Self, on: bool) -> Self {
        if on { self.union(other) } else { self }
    }

    /// The raw octet.
    pub const fn bits(self) -> u8 {
        self.0
    }
}

impl core::ops::BitOr for Flags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags({:#04x})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_round_trip_and_print_raw() {
        assert_eq!(format!("{:?}", ErrorCode(0xff)), "ErrorCode(0xff)");
        assert_eq!(format!("{:?}", ErrorCode::CANCEL), "CANCEL");
        assert_eq!(format!("{:?}", FrameType(0xee)), "FrameType(0xee)");
        assert_eq!(format!("{:?}", SettingId(0x42)), "SettingId(0x42)");
        assert_eq!(ErrorCode(0x1234).0, 0x1234);
    }

    #[test]
    fn stream_id_drops_reserved_bit() {
        assert_eq!(StreamId::new(0x8000_0001).get(), 1);
        assert!(StreamId::new(3).is_client_initiated());
        assert!(StreamId::new(2).is_server_initiated());
        assert!(!StreamId::ZERO.is_server_initiated());
    }
}
