//! Errors: one enum per scope, sub-enums for who is at fault, one map to the wire.
//!
//! * [`ConnectionError`]: the connection is over (or going away). Carries who ended it.
//! * [`StreamError`]: one stream is over; the connection goes on.
//! * [`ProtocolViolation`]: the peer broke a MUST of RFC 9113 (or an extension). Each variant's
//!   doc names the section. Whether it ends the stream or the connection is decided by the
//!   wrapper ([`StreamError::Violation`] or [`ConnectionError::Violation`]), following RFC 9113
//!   §5.4.
//! * [`LimitExceeded`]: the peer stayed inside the protocol but went over one of our limits
//!   (see [`crate::manual`]).
//! * [`UsageError`]: the caller asked for something the protocol or the stream state forbids.
//!   Returned by commands; the connection stays usable.
//!
//! Every error that reaches the wire maps to an [`ErrorCode`] through one `code()` method.

use core::fmt;

use bytes::Bytes;
use h2kit_frame::{ErrorCode, StreamId};

use crate::headers::HeaderError;

/// Who ended a stream or a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Initiator {
    /// The application asked for it (a `reset` or `go_away` command).
    Local,
    /// The peer sent RST_STREAM or GOAWAY.
    Remote,
    /// This library decided: a protocol violation by the peer, a limit, or a timer.
    Library,
}

/// A MUST of RFC 9113 (or RFC 8441 / RFC 9218) that the peer broke.
///
/// Each variant's doc names the section. [`ProtocolViolation::code`] gives the error code the
/// RFC prescribes; the scope (stream or connection) is chosen where the violation is detected.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolViolation {
    /// §3.4: the client connection preface was not `PRI * HTTP/2.0…` followed by SETTINGS.
    BadPreface,
    /// §3.4: the first frame from the server was not SETTINGS.
    ExpectedSettingsFirst,
    /// §4.3: the field block could not be decoded (HPACK state lost).
    Compression(h2kit_hpack::DecodeError),
    /// §4, §6: a frame-level rule, detected by the frame decoder (its doc names the section).
    Frame(h2kit_frame::FrameError),
    /// §4.3 / §6.10: a frame other than CONTINUATION arrived inside a field block, or a
    /// CONTINUATION arrived outside one.
    ExpectedContinuation,
    /// §5.1: a frame other than HEADERS or PRIORITY on an idle stream.
    FrameOnIdleStream,
    /// §5.1: a frame a reserved stream cannot receive (e.g. DATA on reserved(local)).
    FrameOnReservedStream,
    /// §5.1, §6.1: DATA or HEADERS on a stream the peer already half-closed with END_STREAM.
    StreamHalfClosed,
    /// §5.1: a frame other than PRIORITY on a closed stream.
    FrameOnClosedStream,
    /// §5.1.1: a new stream id not greater than every id the peer opened before, or of the
    /// wrong parity for the peer's role.
    InvalidStreamId,
    /// §5.1.2: a HEADERS frame would exceed our SETTINGS_MAX_CONCURRENT_STREAMS.
    ConcurrencyExceeded,
    /// §5.3.1 (RFC 7540): a stream was made to depend on itself.
    SelfDependency,
    /// §6: a frame that must be on stream 0 was on a stream, or one that must not was.
    WrongStreamZero,
    /// §6.5.2: SETTINGS_ENABLE_PUSH was neither 0 nor 1.
    InvalidEnablePush,
    /// RFC 8441 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL not 0 or 1, or turned off after on.
    InvalidEnableConnectProtocol,
    /// §6.6, §8.4: PUSH_PROMISE received although we disabled push, or by a server.
    PushNotAllowed,
    /// §6.6: PUSH_PROMISE on an associated stream that is not open or half-closed(local),
    /// or promising a stream id that is not idle.
    InvalidPushPromise,
    /// RFC 9218 §7.1: a server sent PRIORITY_UPDATE (only clients may).
    PriorityUpdateFromServer,
    /// §6.9.1: a WINDOW_UPDATE (or a SETTINGS_INITIAL_WINDOW_SIZE change, §6.9.2) made a
    /// window exceed 2^31 - 1.
    WindowOverflow,
    /// §6.9.1: the peer sent more flow-controlled bytes than the window allowed.
    FlowControlExceeded,
    /// §8.1.1: the message is malformed: its field section failed validation (§8.2, §8.3).
    MalformedHeaders(HeaderError),
    /// §8.1.1: the DATA length does not agree with `content-length`.
    ContentLengthMismatch,
    /// §8.1: HEADERS without END_STREAM after the final headers (trailers must end the
    /// stream), a 1xx response with END_STREAM, or DATA before the final response.
    MalformedMessage,
    /// §3.2 / §8.8: an invalid HTTP2-Settings header or stream 1 misuse in an h2c upgrade.
    InvalidUpgrade,
}

impl ProtocolViolation {
    /// The error code RFC 9113 prescribes for this violation.
    pub fn code(&self) -> ErrorCode {
        use ProtocolViolation as P;
        match self {
            P::BadPreface
            | P::ExpectedSettingsFirst
            | P::ExpectedContinuation
            | P::FrameOnIdleStream
            | P::FrameOnReservedStream
            | P::InvalidStreamId
            | P::SelfDependency
            | P::WrongStreamZero
            | P::InvalidEnablePush
            | P::InvalidEnableConnectProtocol
            | P::PushNotAllowed
            | P::PriorityUpdateFromServer
            | P::InvalidPushPromise
            | P::MalformedHeaders(_)
            | P::ContentLengthMismatch
            | P::MalformedMessage
            | P::InvalidUpgrade => ErrorCode::PROTOCOL_ERROR,
            P::Compression(_) => ErrorCode::COMPRESSION_ERROR,
            P::Frame(e) => e.code(),
            P::StreamHalfClosed | P::FrameOnClosedStream => ErrorCode::STREAM_CLOSED,
            P::ConcurrencyExceeded => ErrorCode::REFUSED_STREAM,
            P::WindowOverflow | P::FlowControlExceeded => ErrorCode::FLOW_CONTROL_ERROR,
        }
    }
}

impl fmt::Display for ProtocolViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ProtocolViolation as P;
        let text = match self {
            P::BadPreface => "invalid client connection preface (RFC 9113 §3.4)",
            P::ExpectedSettingsFirst => "the first frame was not SETTINGS (RFC 9113 §3.4)",
            P::Compression(e) => return write!(f, "field block could not be decoded: {e}"),
            P::Frame(e) => return write!(f, "{e}"),
            P::ExpectedContinuation => "field block interrupted or CONTINUATION out of place",
            P::FrameOnIdleStream => "frame other than HEADERS/PRIORITY on an idle stream",
            P::FrameOnReservedStream => "frame not allowed on a reserved stream",
            P::StreamHalfClosed => "frame on a stream the peer had half-closed",
            P::FrameOnClosedStream => "frame on a closed stream",
            P::InvalidStreamId => "unexpected stream identifier (RFC 9113 §5.1.1)",
            P::ConcurrencyExceeded => "peer exceeded SETTINGS_MAX_CONCURRENT_STREAMS",
            P::SelfDependency => "stream depends on itself",
            P::WrongStreamZero => "frame on the wrong stream (zero or non-zero)",
            P::InvalidEnablePush => "SETTINGS_ENABLE_PUSH not 0 or 1",
            P::InvalidEnableConnectProtocol => "invalid SETTINGS_ENABLE_CONNECT_PROTOCOL",
            P::PushNotAllowed => "PUSH_PROMISE not allowed",
            P::PriorityUpdateFromServer => "PRIORITY_UPDATE from a server (RFC 9218 §7.1)",
            P::InvalidPushPromise => "PUSH_PROMISE on an invalid stream",
            P::WindowOverflow => "flow-control window above 2^31-1",
            P::FlowControlExceeded => "peer sent more data than the flow-control window",
            P::MalformedHeaders(e) => return write!(f, "malformed field section: {e}"),
            P::ContentLengthMismatch => "DATA length disagrees with content-length",
            P::MalformedMessage => "malformed message framing (RFC 9113 §8.1)",
            P::InvalidUpgrade => "invalid h2c upgrade",
        };
        f.write_str(text)
    }
}

impl core::error::Error for ProtocolViolation {}

/// The peer stayed within the protocol but exceeded one of our limits.
///
/// See [`crate::manual`] for the attack each limit defends against.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitExceeded {
    /// Too many streams reset (by the peer, or by us because of the peer) per time window:
    /// the Rapid Reset attack.
    Resets,
    /// Too many SETTINGS frames per time window.
    SettingsFlood,
    /// Too many PING frames per time window.
    PingFlood,
    /// Too many empty DATA frames (no payload, no END_STREAM) per time window.
    EmptyDataFlood,
    /// Too many WINDOW_UPDATE frames per time window.
    WindowUpdateFlood,
    /// Too many PRIORITY / PRIORITY_UPDATE frames per time window.
    PriorityFlood,
    /// A field block had more CONTINUATION frames than allowed.
    ContinuationFrames,
    /// A field block's encoded bytes exceeded the cap.
    HeaderBlockSize,
    /// A decoded field section exceeded SETTINGS_MAX_HEADER_LIST_SIZE.
    HeaderListSize,
    /// The peer does not read our replies (PING/SETTINGS ACKs, RST_STREAM) fast enough: the
    /// bounded queue of control replies is full.
    ControlQueue,
    /// Too many streams are waiting to be accepted by the application.
    PendingAccept,
    /// Too many frames on streams that are no longer known.
    UnknownStreamFrames,
    /// Data waited longer than `limits.send_stall_timeout` for the peer to open a send
    /// window: the stream's (the stream is reset) or the connection's (the connection ends).
    SendStall,
}

impl LimitExceeded {
    /// The code we put on the wire when this limit trips.
    pub fn code(&self) -> ErrorCode {
        match self {
            LimitExceeded::PendingAccept => ErrorCode::REFUSED_STREAM,
            LimitExceeded::Resets
            | LimitExceeded::SettingsFlood
            | LimitExceeded::PingFlood
            | LimitExceeded::EmptyDataFlood
            | LimitExceeded::WindowUpdateFlood
            | LimitExceeded::PriorityFlood
            | LimitExceeded::ContinuationFrames
            | LimitExceeded::HeaderBlockSize
            | LimitExceeded::HeaderListSize
            | LimitExceeded::ControlQueue
            | LimitExceeded::UnknownStreamFrames
            | LimitExceeded::SendStall => ErrorCode::ENHANCE_YOUR_CALM,
        }
    }
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            LimitExceeded::Resets => "too many stream resets (rapid reset)",
            LimitExceeded::SettingsFlood => "SETTINGS flood",
            LimitExceeded::PingFlood => "PING flood",
            LimitExceeded::EmptyDataFlood => "empty DATA flood",
            LimitExceeded::WindowUpdateFlood => "WINDOW_UPDATE flood",
            LimitExceeded::PriorityFlood => "PRIORITY flood",
            LimitExceeded::ContinuationFrames => "too many CONTINUATION frames",
            LimitExceeded::HeaderBlockSize => "field block too large",
            LimitExceeded::HeaderListSize => "field section exceeds SETTINGS_MAX_HEADER_LIST_SIZE",
            LimitExceeded::ControlQueue => "peer does not read control replies",
            LimitExceeded::PendingAccept => "too many streams pending accept",
            LimitExceeded::UnknownStreamFrames => "too many frames on unknown streams",
            LimitExceeded::SendStall => "peer keeps its flow-control window closed",
        };
        f.write_str(text)
    }
}

impl core::error::Error for LimitExceeded {}

/// A caller mistake: the command was refused and nothing was sent. The connection (and, unless
/// the variant says otherwise, the stream) stays usable.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsageError {
    /// No stream with this id is known (never opened, or closed and forgotten).
    UnknownStream,
    /// The stream is closed; only PRIORITY may be sent on it.
    StreamClosed,
    /// We already ended our side of the stream with END_STREAM.
    SendAfterEndStream,
    /// HEADERS are not allowed in the stream's state (e.g. a second final response).
    HeadersInWrongState,
    /// DATA before HEADERS, or on a reserved stream.
    DataInWrongState,
    /// The frame type cannot be sent in the stream's state (e.g. WINDOW_UPDATE on idle).
    FrameInWrongState,
    /// The outbound queue for this stream is full; wait for it to drain.
    SendBufferFull,
    /// The header list failed validation (RFC 9113 §8.2, §8.3).
    InvalidHeaders(HeaderError),
    /// Padding longer than 255 bytes or than the frame allows.
    InvalidPadding,
    /// A SETTINGS value out of its range.
    InvalidSetting,
    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS is reached; wait for a stream to close.
    ConcurrencyLimit,
    /// All stream identifiers are used up; open a new connection.
    StreamIdsExhausted,
    /// The peer disabled server push, or we are the client.
    PushDisabled,
    /// The command is for the other role (e.g. `send_request` on a server).
    WrongRole,
    /// The connection is closed or closing and no new streams may be opened.
    ConnectionClosed,
    /// Too many SETTINGS or PING frames of ours await acknowledgement.
    TooManyPending,
    /// An extended CONNECT (a request with `:protocol`) to a server that has not sent
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3), or whose SETTINGS have not
    /// arrived yet.
    ExtendedConnectDisabled,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::UnknownStream => f.write_str("unknown stream"),
            UsageError::StreamClosed => f.write_str("stream is closed"),
            UsageError::SendAfterEndStream => f.write_str("stream already ended by us"),
            UsageError::HeadersInWrongState => f.write_str("HEADERS not allowed in this state"),
            UsageError::DataInWrongState => f.write_str("DATA not allowed in this state"),
            UsageError::FrameInWrongState => f.write_str("frame not allowed in this state"),
            UsageError::SendBufferFull => f.write_str("stream send buffer is full"),
            UsageError::InvalidHeaders(e) => write!(f, "invalid headers: {e}"),
            UsageError::InvalidPadding => f.write_str("invalid padding"),
            UsageError::InvalidSetting => f.write_str("setting value out of range"),
            UsageError::ConcurrencyLimit => f.write_str("peer's concurrent stream limit reached"),
            UsageError::StreamIdsExhausted => f.write_str("stream identifiers exhausted"),
            UsageError::PushDisabled => f.write_str("server push is disabled"),
            UsageError::WrongRole => f.write_str("command not available in this role"),
            UsageError::ConnectionClosed => f.write_str("connection is closed or closing"),
            UsageError::TooManyPending => f.write_str("too many unacknowledged frames"),
            UsageError::ExtendedConnectDisabled => {
                f.write_str("the peer has not enabled extended CONNECT")
            }
        }
    }
}

impl core::error::Error for UsageError {}

impl From<HeaderError> for UsageError {
    fn from(e: HeaderError) -> Self {
        UsageError::InvalidHeaders(e)
    }
}

/// Why a stream ended abnormally.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// The peer broke the protocol on this stream; we reset it with
    /// [`ProtocolViolation::code`] (initiator: [`Initiator::Library`]).
    Violation(ProtocolViolation),
    /// The peer exceeded a per-stream limit; we reset the stream.
    Limit(LimitExceeded),
    /// The stream was reset with `code` by `initiator`.
    Reset {
        /// The RST_STREAM error code.
        code: ErrorCode,
        /// Who sent the RST_STREAM.
        initiator: Initiator,
    },
}

impl StreamError {
    /// The code on the RST_STREAM that ended (or will end) the stream.
    pub fn code(&self) -> ErrorCode {
        match self {
            StreamError::Violation(v) => v.code(),
            StreamError::Limit(l) => l.code(),
            StreamError::Reset { code, .. } => *code,
        }
    }

    /// Who ended the stream.
    pub fn initiator(&self) -> Initiator {
        match self {
            StreamError::Violation(_) | StreamError::Limit(_) => Initiator::Library,
            StreamError::Reset { initiator, .. } => *initiator,
        }
    }
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Violation(v) => write!(f, "stream error: {v}"),
            StreamError::Limit(l) => write!(f, "stream error: {l}"),
            StreamError::Reset { code, initiator } => {
                write!(f, "stream reset with {code} ({initiator:?})")
            }
        }
    }
}

impl core::error::Error for StreamError {}

/// Why a connection ended (or is ending).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionError {
    /// The peer broke the protocol; we sent GOAWAY with [`ProtocolViolation::code`].
    Violation(ProtocolViolation),
    /// The peer exceeded a connection limit; we sent GOAWAY with [`LimitExceeded::code`].
    Limit(LimitExceeded),
    /// A GOAWAY closed the connection.
    GoAway {
        /// The GOAWAY error code.
        code: ErrorCode,
        /// The last stream id the sender of the GOAWAY may have processed.
        last_stream_id: StreamId,
        /// Opaque debug data from the GOAWAY.
        debug_data: Bytes,
        /// [`Initiator::Remote`] if the peer sent it, [`Initiator::Local`] if the application
        /// asked for it.
        initiator: Initiator,
    },
    /// Our SETTINGS were not acknowledged in time (RFC 9113 §6.5.3).
    SettingsTimeout,
    /// No frame arrived within the idle timeout, or a keep-alive PING went unanswered.
    IdleTimeout,
    /// The peer opened no stream within `limits.first_request_timeout` (servers only).
    FirstRequestTimeout,
    /// The transport ended (the driver told us the peer closed) before a GOAWAY.
    TransportClosed,
}

impl ConnectionError {
    /// The GOAWAY code of this connection error.
    pub fn code(&self) -> ErrorCode {
        match self {
            ConnectionError::Violation(v) => v.code(),
            ConnectionError::Limit(l) => l.code(),
            ConnectionError::GoAway { code, .. } => *code,
            ConnectionError::SettingsTimeout => ErrorCode::SETTINGS_TIMEOUT,
            ConnectionError::IdleTimeout
            | ConnectionError::FirstRequestTimeout
            | ConnectionError::TransportClosed => ErrorCode::NO_ERROR,
        }
    }

    /// Who ended the connection.
    pub fn initiator(&self) -> Initiator {
        match self {
            ConnectionError::Violation(_)
            | ConnectionError::Limit(_)
            | ConnectionError::SettingsTimeout
            | ConnectionError::IdleTimeout
            | ConnectionError::FirstRequestTimeout => Initiator::Library,
            ConnectionError::GoAway { initiator, .. } => *initiator,
            ConnectionError::TransportClosed => Initiator::Remote,
        }
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionError::Violation(v) => write!(f, "connection error: {v}"),
            ConnectionError::Limit(l) => write!(f, "connection error: {l}"),
            ConnectionError::GoAway {
                code,
                last_stream_id,
                initiator,
                ..
            } => write!(
                f,
                "GOAWAY {code} (last stream {last_stream_id}, {initiator:?})"
            ),
            ConnectionError::SettingsTimeout => f.write_str("SETTINGS not acknowledged in time"),
            ConnectionError::IdleTimeout => f.write_str("idle timeout"),
            ConnectionError::FirstRequestTimeout => f.write_str("no request in time"),
            ConnectionError::TransportClosed => f.write_str("transport closed"),
        }
    }
}

impl core::error::Error for ConnectionError {}

impl From<ProtocolViolation> for ConnectionError {
    fn from(v: ProtocolViolation) -> Self {
        ConnectionError::Violation(v)
    }
}

impl From<LimitExceeded> for ConnectionError {
    fn from(l: LimitExceeded) -> Self {
        ConnectionError::Limit(l)
    }
}

/// A peer's fault with its scope decided (RFC 9113 §5.4): it ends either one stream or the
/// whole connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerError {
    /// Reset the stream with RST_STREAM and carry on (§5.4.2).
    Stream(ProtocolViolation),
    /// Send GOAWAY and close the connection (§5.4.1).
    Connection(ProtocolViolation),
}

impl PeerError {
    /// The code on the RST_STREAM or GOAWAY.
    pub fn code(&self) -> ErrorCode {
        match self {
            PeerError::Stream(v) | PeerError::Connection(v) => v.code(),
        }
    }

    /// The violation, whatever its scope.
    pub fn violation(&self) -> &ProtocolViolation {
        match self {
            PeerError::Stream(v) | PeerError::Connection(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violation_codes_follow_rfc() {
        assert_eq!(
            ProtocolViolation::StreamHalfClosed.code(),
            ErrorCode::STREAM_CLOSED
        );
        assert_eq!(
            ProtocolViolation::FrameOnIdleStream.code(),
            ErrorCode::PROTOCOL_ERROR
        );
        assert_eq!(
            ProtocolViolation::WindowOverflow.code(),
            ErrorCode::FLOW_CONTROL_ERROR
        );
        assert_eq!(
            ProtocolViolation::Frame(h2kit_frame::FrameError::SettingsAckWithPayload { length: 4 })
                .code(),
            ErrorCode::FRAME_SIZE_ERROR
        );
        assert_eq!(
            ProtocolViolation::Compression(h2kit_hpack::DecodeError::ZeroIndex).code(),
            ErrorCode::COMPRESSION_ERROR
        );
        assert_eq!(
            ProtocolViolation::ConcurrencyExceeded.code(),
            ErrorCode::REFUSED_STREAM
        );
        assert_eq!(
            ProtocolViolation::MalformedHeaders(HeaderError::UppercaseName).code(),
            ErrorCode::PROTOCOL_ERROR
        );
    }

    #[test]
    fn limits_map_to_enhance_your_calm() {
        assert_eq!(LimitExceeded::Resets.code(), ErrorCode::ENHANCE_YOUR_CALM);
        assert_eq!(
            LimitExceeded::ControlQueue.code(),
            ErrorCode::ENHANCE_YOUR_CALM
        );
        assert_eq!(
            LimitExceeded::PendingAccept.code(),
            ErrorCode::REFUSED_STREAM
        );
    }

    #[test]
    fn initiators_distinguish_peer_from_library() {
        let refused = StreamError::Reset {
            code: ErrorCode::REFUSED_STREAM,
            initiator: Initiator::Remote,
        };
        assert_eq!(refused.initiator(), Initiator::Remote);
        assert_eq!(refused.code(), ErrorCode::REFUSED_STREAM);
        let ours = StreamError::Violation(ProtocolViolation::ContentLengthMismatch);
        assert_eq!(ours.initiator(), Initiator::Library);
        assert_eq!(ours.code(), ErrorCode::PROTOCOL_ERROR);
        assert_eq!(ConnectionError::IdleTimeout.initiator(), Initiator::Library);
        assert_eq!(
            ConnectionError::SettingsTimeout.code(),
            ErrorCode::SETTINGS_TIMEOUT
        );
        let away = ConnectionError::GoAway {
            code: ErrorCode(0xabc),
            last_stream_id: StreamId::new(7),
            debug_data: Bytes::from_static(b"bye"),
            initiator: Initiator::Remote,
        };
        assert_eq!(away.code(), ErrorCode(0xabc));
        assert_eq!(away.initiator(), Initiator::Remote);
    }

    #[test]
    fn display_is_informative() {
        let e = UsageError::InvalidHeaders(HeaderError::UppercaseName);
        assert!(e.to_string().contains("invalid headers"));
        let e = ConnectionError::Violation(ProtocolViolation::BadPreface);
        assert!(e.to_string().contains("§3.4"));
    }
}
