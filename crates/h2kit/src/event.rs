//! What the connection reports to the application, in order, through
//! [`Connection::poll_event`](crate::Connection::poll_event).

use std::time::Duration;

use bytes::Bytes;
use h2kit_frame::{ErrorCode, Flags, FrameType, SettingId, StreamId};
use h2kit_priority::PrioritySignal;

use crate::error::{ConnectionError, StreamError};
use crate::headers::FieldList;

/// One SETTINGS parameter the peer changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SettingChange {
    /// The parameter.
    pub id: SettingId,
    /// The value before (the RFC default if never sent).
    pub old: u32,
    /// The value now in effect.
    pub new: u32,
}

/// Something that happened on the connection.
///
/// Events carry what python h2 attaches as "related events": a field section carries
/// `end_stream` and the priority it came with, so there is no separate "stream ended" event
/// to correlate. Events produced before a connection error are still delivered, then
/// [`Event::Terminated`].
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// (Server) A request arrived on a new stream.
    Request {
        /// The stream.
        stream: StreamId,
        /// The validated fields, pseudo-headers first, cookies joined. A head whose block
        /// repeats the one before it (the same octets at the same HPACK table version)
        /// comes, from that block's third coming on, as a list shared with the connection's
        /// memo ([`FieldList::Shared`]: no copy, see
        /// [`Connection::is_repeated_block`](crate::Connection::is_repeated_block)).
        /// A list of its own ([`FieldList::Owned`]) may, once read, be cleared and passed
        /// back as the response's fields
        /// ([`Connection::send_response`](crate::Connection::send_response)): after it is
        /// written, the core decodes a later request into the same allocation.
        headers: FieldList,
        /// The request has no body (END_STREAM was on the HEADERS frame).
        end_stream: bool,
        /// The priority signals that came with it (HEADERS priority, `priority` header).
        priority: PrioritySignal,
    },
    /// (Client) A final response arrived.
    Response {
        /// The stream.
        stream: StreamId,
        /// The `:status`.
        status: u16,
        /// The validated fields: shared with the connection's memo when the head repeats
        /// the one before it (see [`Event::Request`]).
        headers: FieldList,
        /// The response has no body.
        end_stream: bool,
    },
    /// (Client) An informational (1xx) response arrived.
    Informational {
        /// The stream.
        stream: StreamId,
        /// The `:status` (100..=199, never 101).
        status: u16,
        /// The validated fields.
        headers: FieldList,
    },
    /// Trailers arrived; they always end the stream.
    Trailers {
        /// The stream.
        stream: StreamId,
        /// The validated fields.
        headers: FieldList,
    },
    /// Body bytes arrived.
    Data {
        /// The stream.
        stream: StreamId,
        /// The payload (a slice of the receive buffer, no copy).
        data: Bytes,
        /// Bytes the frame took from the flow-control windows (payload and padding). Give this
        /// back with `release_capacity` when the data is consumed.
        flow_controlled_len: u32,
        /// This was the last DATA frame of the stream.
        end_stream: bool,
    },
    /// A stream was reset.
    ///
    /// Also reported when the frame that ended the stream broke a rule (a body shorter than
    /// its `content-length`, malformed trailers): the stream then ends with our RST_STREAM,
    /// not with END_STREAM, and no end-of-stream event comes before this one.
    StreamReset {
        /// The stream.
        stream: StreamId,
        /// Why: [`StreamError::Reset`] with [`Initiator::Remote`](crate::Initiator::Remote) when the peer sent
        /// RST_STREAM (or refused the stream with GOAWAY); [`StreamError::Violation`] or
        /// [`StreamError::Limit`] naming the rule when we reset it because of the peer.
        /// [`StreamError::code`] is the RST_STREAM code either way.
        error: StreamError,
    },
    /// The peer opened a send window (stream 0: the connection window).
    WindowUpdated {
        /// The stream, or 0.
        stream: StreamId,
        /// The increment.
        increment: u32,
    },
    /// The peer's SETTINGS took effect (we acknowledged them).
    RemoteSettings {
        /// Each parameter in the frame, with its old and new value.
        changes: Vec<SettingChange>,
    },
    /// The peer acknowledged our SETTINGS; they are now in effect.
    SettingsAcknowledged,
    /// (Client) The server promised a pushed stream.
    PushPromise {
        /// The stream the promise came on.
        stream: StreamId,
        /// The promised stream, on which the response will arrive.
        promised: StreamId,
        /// The promised request.
        headers: FieldList,
    },
    /// The peer sent a PING (it is answered automatically).
    PingReceived {
        /// Its payload.
        payload: [u8; 8],
    },
    /// The peer acknowledged one of our PINGs.
    PingAcknowledged {
        /// Its payload.
        payload: [u8; 8],
        /// The round-trip time, when we sent that PING.
        rtt: Option<Duration>,
    },
    /// The peer sent GOAWAY: streams above `last_stream_id` were not processed (they are
    /// reported reset with REFUSED_STREAM), no new streams may be opened, and the connection
    /// ends when the remaining streams do.
    GoAway {
        /// The error code.
        code: ErrorCode,
        /// The last stream the peer processed.
        last_stream_id: StreamId,
        /// Debug data.
        debug_data: Bytes,
    },
    /// The connection is over; nothing more will happen except flushing our last frames.
    Terminated {
        /// Why.
        error: ConnectionError,
    },
    /// The peer changed the priority of a stream (PRIORITY or PRIORITY_UPDATE).
    PriorityUpdated {
        /// The stream.
        stream: StreamId,
        /// The new signal.
        priority: PrioritySignal,
    },
    /// (Client) An ALTSVC frame (RFC 7838).
    AltSvc {
        /// The stream (0 when `origin` is set).
        stream: StreamId,
        /// The origin, for stream 0.
        origin: Bytes,
        /// The Alt-Svc field value.
        field_value: Bytes,
    },
    /// (Client) An ORIGIN frame (RFC 8336).
    Origin {
        /// The origins.
        origins: Vec<Bytes>,
    },
    /// A frame of a type we do not know (ignored otherwise).
    UnknownFrame {
        /// Its type.
        frame_type: FrameType,
        /// Its flags.
        flags: Flags,
        /// Its stream.
        stream: StreamId,
        /// Its payload.
        payload: Bytes,
    },
}
