//! Errors: what a peer got wrong ([`FrameError`]) and what a caller got wrong ([`EncodeError`]).

use core::fmt;

use crate::frame::Headers;
use crate::header::FrameHeader;
use crate::types::{ErrorCode, FrameType, StreamId};

/// Where a [`FrameError`] applies, as RFC 9113 §5.4 defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorScope {
    /// A connection error (RFC 9113 §5.4.1): send GOAWAY with [`FrameError::code`] and close.
    Connection,
    /// A stream error (RFC 9113 §5.4.2): send RST_STREAM on this stream with
    /// [`FrameError::code`]; the connection carries on. The decoder has consumed the frame, so
    /// the next call decodes the frame after it.
    Stream(StreamId),
}

/// A frame broke a frame-level rule of RFC 9113 §4 and §6 (or of the extension that defines
/// it).
///
/// Each variant names the rule's section. [`scope`](Self::scope) says whether the RFC makes it
/// a connection or a stream error and [`code`](Self::code) gives the error code to send; the
/// mapping is in one place, here.
///
/// The decoder consumes the offending frame (an over-long one is skipped without being
/// buffered), so after a [`ErrorScope::Stream`] error decoding simply continues. After a
/// connection error the caller should stop reading.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// RFC 9113 §4.2: the frame is longer than our SETTINGS_MAX_FRAME_SIZE. Detected from the
    /// 9-byte header, before any of the payload is buffered; the payload is then skipped.
    ///
    /// FRAME_SIZE_ERROR. A connection error for frames that can change the state of the whole
    /// connection (HEADERS, PUSH_PROMISE, CONTINUATION, SETTINGS, anything on stream 0, and —
    /// as we cannot know what they do — unknown types, plus RST_STREAM and WINDOW_UPDATE whose
    /// own length rules are connection errors); a stream error for DATA and PRIORITY on a
    /// stream. For DATA, [`FrameError::flow_controlled_len`] is the full advertised length.
    FrameTooLarge {
        /// The offending header.
        header: FrameHeader,
        /// Our SETTINGS_MAX_FRAME_SIZE at the time.
        max_frame_size: u32,
    },
    /// RFC 9113 §6.1, §6.2, §6.3, §6.4, §6.6, §6.10: this frame type must be sent on a stream,
    /// but arrived on stream 0. Connection error, PROTOCOL_ERROR.
    StreamIdRequired {
        /// The frame type.
        frame_type: FrameType,
    },
    /// RFC 9113 §6.5, §6.7, §6.8 and RFC 9218 §7.1: this frame type must be sent on stream 0,
    /// but arrived on a stream. Connection error, PROTOCOL_ERROR.
    StreamIdForbidden {
        /// The frame type.
        frame_type: FrameType,
        /// The stream it arrived on.
        stream_id: StreamId,
    },
    /// RFC 9113 §6.1 with §4.2: a DATA frame has the PADDED flag but no room for the Pad
    /// Length octet (empty payload). Stream error, FRAME_SIZE_ERROR (flow-controlled length 0).
    DataPadLengthMissing {
        /// The stream.
        stream_id: StreamId,
    },
    /// RFC 9113 §6.2 with §4.2: a HEADERS frame is too short for the Pad Length octet and/or
    /// the priority fields its flags announce. Connection error, FRAME_SIZE_ERROR (it carries a
    /// field block).
    HeadersTooShort {
        /// The stream.
        stream_id: StreamId,
        /// The payload length.
        length: u32,
    },
    /// RFC 9113 §6.6 with §4.2: a PUSH_PROMISE frame is too short for the Pad Length octet and
    /// the Promised Stream ID. Connection error, FRAME_SIZE_ERROR.
    PushPromiseTooShort {
        /// The stream.
        stream_id: StreamId,
        /// The payload length.
        length: u32,
    },
    /// RFC 9113 §6.1, §6.2, §6.6: the Pad Length is not smaller than what is left of the
    /// payload after the mandatory fields. Connection error, PROTOCOL_ERROR.
    PaddingTooLong {
        /// DATA, HEADERS or PUSH_PROMISE.
        frame_type: FrameType,
        /// The stream.
        stream_id: StreamId,
        /// The Pad Length field.
        pad_len: u8,
        /// The payload length (including the Pad Length octet).
        length: u32,
    },
    /// RFC 9113 §6.3: a PRIORITY frame is not exactly 5 octets. Stream error,
    /// FRAME_SIZE_ERROR.
    PriorityLength {
        /// The stream.
        stream_id: StreamId,
        /// The payload length.
        length: u32,
    },
    /// RFC 9113 §5.3.1: a PRIORITY frame makes a stream depend on itself. Stream error,
    /// PROTOCOL_ERROR.
    PrioritySelfDependency {
        /// The stream.
        stream_id: StreamId,
    },
    /// RFC 9113 §5.3.1: a HEADERS frame makes its stream depend on itself. Stream error,
    /// PROTOCOL_ERROR.
    ///
    /// The frame is carried whole: its field block fragment must still be fed to the HPACK
    /// decoder (RFC 9113 §4.3) and any CONTINUATION frames that follow still belong to it.
    HeadersSelfDependency {
        /// The frame as decoded.
        headers: Box<Headers>,
    },
    /// RFC 9113 §6.4: an RST_STREAM frame is not exactly 4 octets. Connection error,
    /// FRAME_SIZE_ERROR.
    RstStreamLength {
        /// The stream.
        stream_id: StreamId,
        /// The payload length.
        length: u32,
    },
    /// RFC 9113 §6.5: a SETTINGS frame's length is not a multiple of 6. Connection error,
    /// FRAME_SIZE_ERROR.
    SettingsLength {
        /// The payload length.
        length: u32,
    },
    /// RFC 9113 §6.5: a SETTINGS frame with the ACK flag has a payload. Connection error,
    /// FRAME_SIZE_ERROR.
    SettingsAckWithPayload {
        /// The payload length.
        length: u32,
    },
    /// RFC 9113 §6.5.2: SETTINGS_ENABLE_PUSH is neither 0 nor 1. Connection error,
    /// PROTOCOL_ERROR.
    InvalidEnablePush {
        /// The value received.
        value: u32,
    },
    /// RFC 9113 §6.5.2: SETTINGS_INITIAL_WINDOW_SIZE is above 2^31-1. Connection error,
    /// FLOW_CONTROL_ERROR.
    InvalidInitialWindowSize {
        /// The value received.
        value: u32,
    },
    /// RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE is outside 2^14 ..= 2^24-1. Connection error,
    /// PROTOCOL_ERROR.
    InvalidMaxFrameSize {
        /// The value received.
        value: u32,
    },
    /// RFC 8441 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL is neither 0 nor 1. Connection error,
    /// PROTOCOL_ERROR.
    InvalidEnableConnectProtocol {
        /// The value received.
        value: u32,
    },
    /// RFC 9218 §2.1: SETTINGS_NO_RFC7540_PRIORITIES is neither 0 nor 1. Connection error,
    /// PROTOCOL_ERROR.
    InvalidNoRfc7540Priorities {
        /// The value received.
        value: u32,
    },
    /// RFC 9113 §6.7: a PING frame is not exactly 8 octets. Connection error,
    /// FRAME_SIZE_ERROR.
    PingLength {
        /// The payload length.
        length: u32,
    },
    /// RFC 9113 §6.8 with §4.2: a GOAWAY frame is shorter than its 8 mandatory octets.
    /// Connection error, FRAME_SIZE_ERROR.
    GoAwayTooShort {
        /// The payload length.
        length: u32,
    },
    /// RFC 9113 §6.9: a WINDOW_UPDATE frame is not exactly 4 octets. Connection error,
    /// FRAME_SIZE_ERROR (on any stream).
    WindowUpdateLength {
        /// The stream (0 for the connection window).
        stream_id: StreamId,
        /// The payload length.
        length: u32,
    },
    /// RFC 9113 §6.9: a WINDOW_UPDATE on stream 0 has an increment of 0. Connection error,
    /// PROTOCOL_ERROR.
    ZeroConnectionWindowIncrement,
    /// RFC 9113 §6.9: a WINDOW_UPDATE on a stream has an increment of 0. Stream error,
    /// PROTOCOL_ERROR.
    ZeroStreamWindowIncrement {
        /// The stream.
        stream_id: StreamId,
    },
    /// RFC 9113 §6.10 (and §6.2, §6.6): a field block was left open (no END_HEADERS) but the
    /// next frame is not a CONTINUATION on the same stream. Connection error, PROTOCOL_ERROR.
    /// Only [`FrameDecoder`](crate::FrameDecoder) checks this; [`Frame::parse`](crate::Frame::parse)
    /// is stateless.
    ExpectedContinuation {
        /// The stream whose field block is open.
        stream_id: StreamId,
        /// The type of the frame that came instead.
        got_type: FrameType,
        /// The stream of the frame that came instead.
        got_stream_id: StreamId,
    },
    /// RFC 9113 §6.10: a CONTINUATION frame does not follow a HEADERS, PUSH_PROMISE or
    /// CONTINUATION frame without END_HEADERS. Connection error, PROTOCOL_ERROR. Only
    /// [`FrameDecoder`](crate::FrameDecoder) checks this.
    UnexpectedContinuation {
        /// The stream of the CONTINUATION frame.
        stream_id: StreamId,
    },
    /// RFC 9218 §7.1 with RFC 9113 §4.2: a PRIORITY_UPDATE frame is shorter than its 4-octet
    /// Prioritized Stream ID. Connection error, FRAME_SIZE_ERROR.
    PriorityUpdateTooShort {
        /// The payload length.
        length: u32,
    },
    /// RFC 9218 §7.1: a PRIORITY_UPDATE frame's Prioritized Stream ID is 0. Connection error,
    /// PROTOCOL_ERROR.
    PriorityUpdateForStreamZero,
    /// RFC 7838 §4 with RFC 9113 §4.2: an ALTSVC frame is shorter than its 2-octet Origin-Len
    /// or the origin runs past the payload. FRAME_SIZE_ERROR; a connection error on stream 0,
    /// a stream error on a stream.
    AltSvcMalformed {
        /// The stream.
        stream_id: StreamId,
        /// The payload length.
        length: u32,
    },
    /// RFC 8336 §2 with RFC 9113 §4.2: an ORIGIN frame's entries do not fit the payload
    /// exactly. Connection error, FRAME_SIZE_ERROR.
    OriginMalformed {
        /// The payload length.
        length: u32,
    },
}

impl FrameError {
    /// Whether the RFC makes this a connection error or a stream error (RFC 9113 §5.4).
    pub fn scope(&self) -> ErrorScope {
        use ErrorScope::{Connection, Stream};
        match self {
            Self::FrameTooLarge { header, .. } => {
                let per_stream = matches!(header.frame_type, FrameType::DATA | FrameType::PRIORITY);
                if per_stream && !header.stream_id.is_zero() {
                    Stream(header.stream_id)
                } else {
                    Connection
                }
            }
            Self::DataPadLengthMissing { stream_id }
            | Self::PriorityLength { stream_id, .. }
            | Self::PrioritySelfDependency { stream_id }
            | Self::ZeroStreamWindowIncrement { stream_id } => Stream(*stream_id),
            Self::HeadersSelfDependency { headers } => Stream(headers.stream_id),
            Self::AltSvcMalformed { stream_id, .. } if !stream_id.is_zero() => Stream(*stream_id),
            _ => Connection,
        }
    }

    /// The error code to send in RST_STREAM or GOAWAY.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::FrameTooLarge { .. }
            | Self::DataPadLengthMissing { .. }
            | Self::HeadersTooShort { .. }
            | Self::PushPromiseTooShort { .. }
            | Self::PriorityLength { .. }
            | Self::RstStreamLength { .. }
            | Self::SettingsLength { .. }
            | Self::SettingsAckWithPayload { .. }
            | Self::PingLength { .. }
            | Self::GoAwayTooShort { .. }
            | Self::WindowUpdateLength { .. }
            | Self::PriorityUpdateTooShort { .. }
            | Self::AltSvcMalformed { .. }
            | Self::OriginMalformed { .. } => ErrorCode::FRAME_SIZE_ERROR,
            Self::InvalidInitialWindowSize { .. } => ErrorCode::FLOW_CONTROL_ERROR,
            Self::StreamIdRequired { .. }
            | Self::StreamIdForbidden { .. }
            | Self::PaddingTooLong { .. }
            | Self::PrioritySelfDependency { .. }
            | Self::HeadersSelfDependency { .. }
            | Self::InvalidEnablePush { .. }
            | Self::InvalidMaxFrameSize { .. }
            | Self::InvalidEnableConnectProtocol { .. }
            | Self::InvalidNoRfc7540Priorities { .. }
            | Self::ZeroConnectionWindowIncrement
            | Self::ZeroStreamWindowIncrement { .. }
            | Self::ExpectedContinuation { .. }
            | Self::UnexpectedContinuation { .. }
            | Self::PriorityUpdateForStreamZero => ErrorCode::PROTOCOL_ERROR,
        }
    }

    /// The octets of the offending frame that count against flow control (RFC 9113 §6.9.1):
    /// the whole payload length for a DATA frame, 0 for every other type.
    ///
    /// A stream error on DATA still used up connection window; the core credits it with this
    /// so its accounting stays exact.
    pub fn flow_controlled_len(&self) -> u32 {
        match self {
            Self::FrameTooLarge { header, .. } if header.frame_type == FrameType::DATA => {
                header.length
            }
            Self::PaddingTooLong {
                frame_type, length, ..
            } if *frame_type == FrameType::DATA => *length,
            // DataPadLengthMissing is an empty payload: 0.
            _ => 0,
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FrameTooLarge {
                header,
                max_frame_size,
            } => write!(
                f,
                "{} frame of {} octets exceeds SETTINGS_MAX_FRAME_SIZE {} (RFC 9113 §4.2)",
                header.frame_type, header.length, max_frame_size
            ),
            Self::StreamIdRequired { frame_type } => {
                write!(f, "{frame_type} frame on stream 0 (RFC 9113 §6)")
            }
            Self::StreamIdForbidden {
                frame_type,
                stream_id,
            } => {
                write!(
                    f,
                    "{frame_type} frame on stream {stream_id}, must be 0 (RFC 9113 §6)"
                )
            }
            Self::DataPadLengthMissing { stream_id } => {
                write!(
                    f,
                    "padded DATA on stream {stream_id} has no Pad Length (RFC 9113 §6.1)"
                )
            }
            Self::HeadersTooShort { stream_id, length } => write!(
                f,
                "HEADERS on stream {stream_id} too short ({length} octets) for its flags (RFC 9113 §6.2)"
            ),
            Self::PushPromiseTooShort { stream_id, length } => write!(
                f,
                "PUSH_PROMISE on stream {stream_id} too short ({length} octets) (RFC 9113 §6.6)"
            ),
            Self::PaddingTooLong {
                frame_type,
                stream_id,
                pad_len,
                length,
            } => write!(
                f,
                "{frame_type} on stream {stream_id}: padding {pad_len} too long for {length}-octet payload (RFC 9113 §6.1)"
            ),
            Self::PriorityLength { stream_id, length } => write!(
                f,
                "PRIORITY on stream {stream_id} is {length} octets, must be 5 (RFC 9113 §6.3)"
            ),
            Self::PrioritySelfDependency { stream_id } => {
                write!(
                    f,
                    "PRIORITY makes stream {stream_id} depend on itself (RFC 9113 §5.3.1)"
                )
            }
            Self::HeadersSelfDependency { headers } => write!(
                f,
                "HEADERS makes stream {} depend on itself (RFC 9113 §5.3.1)",
                headers.stream_id
            ),
            Self::RstStreamLength { stream_id, length } => write!(
                f,
                "RST_STREAM on stream {stream_id} is {length} octets, must be 4 (RFC 9113 §6.4)"
            ),
            Self::SettingsLength { length } => {
                write!(
                    f,
                    "SETTINGS length {length} is not a multiple of 6 (RFC 9113 §6.5)"
                )
            }
            Self::SettingsAckWithPayload { length } => {
                write!(
                    f,
                    "SETTINGS ACK with a {length}-octet payload (RFC 9113 §6.5)"
                )
            }
            Self::InvalidEnablePush { value } => {
                write!(
                    f,
                    "SETTINGS_ENABLE_PUSH = {value}, must be 0 or 1 (RFC 9113 §6.5.2)"
                )
            }
            Self::InvalidInitialWindowSize { value } => write!(
                f,
                "SETTINGS_INITIAL_WINDOW_SIZE = {value} exceeds 2^31-1 (RFC 9113 §6.5.2)"
            ),
            Self::InvalidMaxFrameSize { value } => write!(
                f,
                "SETTINGS_MAX_FRAME_SIZE = {value} outside 16384..=16777215 (RFC 9113 §6.5.2)"
            ),
            Self::InvalidEnableConnectProtocol { value } => write!(
                f,
                "SETTINGS_ENABLE_CONNECT_PROTOCOL = {value}, must be 0 or 1 (RFC 8441 §3)"
            ),
            Self::InvalidNoRfc7540Priorities { value } => write!(
                f,
                "SETTINGS_NO_RFC7540_PRIORITIES = {value}, must be 0 or 1 (RFC 9218 §2.1)"
            ),
            Self::PingLength { length } => {
                write!(f, "PING is {length} octets, must be 8 (RFC 9113 §6.7)")
            }
            Self::GoAwayTooShort { length } => {
                write!(
                    f,
                    "GOAWAY is {length} octets, needs at least 8 (RFC 9113 §6.8)"
                )
            }
            Self::WindowUpdateLength { stream_id, length } => write!(
                f,
                "WINDOW_UPDATE on stream {stream_id} is {length} octets, must be 4 (RFC 9113 §6.9)"
            ),
            Self::ZeroConnectionWindowIncrement => {
                write!(f, "WINDOW_UPDATE of 0 on the connection (RFC 9113 §6.9)")
            }
            Self::ZeroStreamWindowIncrement { stream_id } => {
                write!(
                    f,
                    "WINDOW_UPDATE of 0 on stream {stream_id} (RFC 9113 §6.9)"
                )
            }
            Self::ExpectedContinuation {
                stream_id,
                got_type,
                got_stream_id,
            } => write!(
                f,
                "expected CONTINUATION on stream {stream_id}, got {got_type} on stream {got_stream_id} (RFC 9113 §6.10)"
            ),
            Self::UnexpectedContinuation { stream_id } => write!(
                f,
                "CONTINUATION on stream {stream_id} without an open field block (RFC 9113 §6.10)"
            ),
            Self::PriorityUpdateTooShort { length } => {
                write!(
                    f,
                    "PRIORITY_UPDATE is {length} octets, needs at least 4 (RFC 9218 §7.1)"
                )
            }
            Self::PriorityUpdateForStreamZero => {
                write!(f, "PRIORITY_UPDATE for stream 0 (RFC 9218 §7.1)")
            }
            Self::AltSvcMalformed { stream_id, length } => write!(
                f,
                "malformed {length}-octet ALTSVC on stream {stream_id} (RFC 7838 §4)"
            ),
            Self::OriginMalformed { length } => {
                write!(f, "malformed {length}-octet ORIGIN frame (RFC 8336 §2)")
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// The caller asked the encoder for something the wire cannot carry. Nothing was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncodeError {
    /// A single frame's payload would exceed 2^24-1 octets (RFC 9113 §4.1), or, for DATA and
    /// the fixed-size frames, the `max_frame_size` given.
    PayloadTooLarge {
        /// The payload length that was asked for.
        length: usize,
        /// The limit it broke.
        max: u32,
    },
    /// `max_frame_size` leaves no room for a field block octet after the priority fields and
    /// padding of the first frame.
    MaxFrameSizeTooSmall {
        /// The `max_frame_size` given.
        max_frame_size: u32,
        /// Octets of the first frame taken by Pad Length, priority fields and padding.
        overhead: u32,
    },
    /// The frame type must be sent on a stream, but stream 0 was given (RFC 9113 §6).
    StreamIdRequired {
        /// The frame type.
        frame_type: FrameType,
    },
    /// The frame type must be sent on stream 0, but a stream was given (RFC 9113 §6).
    StreamIdForbidden {
        /// The frame type.
        frame_type: FrameType,
    },
    /// A WINDOW_UPDATE increment must be in 1 ..= 2^31-1 (RFC 9113 §6.9).
    InvalidWindowIncrement {
        /// The increment that was asked for.
        increment: u32,
    },
    /// An ORIGIN entry or ALTSVC origin longer than its 16-bit length field allows.
    OriginTooLong {
        /// Its length.
        length: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PayloadTooLarge { length, max } => {
                write!(f, "frame payload of {length} octets exceeds {max}")
            }
            Self::MaxFrameSizeTooSmall {
                max_frame_size,
                overhead,
            } => write!(
                f,
                "max frame size {max_frame_size} leaves no room after {overhead} octets of padding and priority"
            ),
            Self::StreamIdRequired { frame_type } => {
                write!(f, "{frame_type} frames need a non-zero stream id")
            }
            Self::StreamIdForbidden { frame_type } => {
                write!(f, "{frame_type} frames must be sent on stream 0")
            }
            Self::InvalidWindowIncrement { increment } => {
                write!(f, "window increment {increment} outside 1..=2^31-1")
            }
            Self::OriginTooLong { length } => {
                write!(f, "origin of {length} octets does not fit a 16-bit length")
            }
        }
    }
}

impl std::error::Error for EncodeError {}
