//! h2kit: a sans-IO HTTP/2 connection (RFC 9113): bytes in, events out, bytes to send.
//!
//! The core does no I/O and never reads the clock: the driver passes received bytes and the
//! current time in, and takes bytes to send, events and the next deadline out. It never
//! depends on an async runtime, sockets or TLS.
//!
//! ```text
//!   socket ──bytes──▶ recv() ──▶ frames ─▶ streams (state machine, flow control, validation)
//!                                                  │
//!   app ◀──────────── poll_event() ◀── events ◀────┘
//!   app ──commands──▶ send_request / send_data / reset / ping … ─▶ queues (bounded)
//!   socket ◀─bytes─── poll_transmit(buf, max) ◀── frames generated lazily from the queues
//!   socket ──EOF────▶ recv_eof()
//!   timer  ──now────▶ handle_timeout(now);  poll_timeout() ──▶ next deadline
//! ```
//!
//! # Main types
//!
//! * [`Connection`]: the connection, client or server ([`Connection::client`],
//!   [`Connection::server`], h2c upgrades); its doc states the driving contract every driver
//!   follows. [`StreamMut`] is a borrowed view of one stream.
//! * [`Event`]: what happened, in order (requests, responses, data with its
//!   `flow_controlled_len`, resets with their [`Initiator`], settings, pings with RTT, GOAWAY…).
//! * [`Config`]: our SETTINGS, [`Limits`] against hostile peers, header validation switches,
//!   flow-control strategies and the priority scheduler.
//!
//! # Building blocks
//!
//! * [`error`]: [`ConnectionError`], [`StreamError`], [`ProtocolViolation`] (one variant per
//!   RFC MUST), [`LimitExceeded`], [`UsageError`], [`Initiator`].
//! * [`state`]: the RFC 9113 §5.1 stream state machine, [`StreamState::on`].
//! * [`headers`]: field validation (§8.2, §8.3, RFC 8441) and cookie joining.
//! * [`http`](mod@http): conversions between the `http` crate's types and fields, both ways
//!   ([`Connection::send_http_request`], [`request_from_fields`], per-connection caches).
//! * [`flow`]: windows and [`flow::WindowPolicy`] (threshold, manual, BDP-adaptive).
//! * [`limits`]: flood budgets and the bounded closed-stream memory.
//! * [`config`]: [`Config`] with SETTINGS and limits; [`manual`] explains each default.
//!
//! # Example
//!
//! A client and a server in memory, following the driving contract of [`Connection`]: a
//! request, its response and the response body.
//!
//! ```
//! use std::time::Instant;
//!
//! use bytes::{Bytes, BytesMut};
//! use h2kit::{Config, Connection, ConnectionError, Event, Field};
//!
//! /// What `from` has to send, received by `to`; returns `to`'s events.
//! fn exchange(
//!     from: &mut Connection,
//!     to: &mut Connection,
//!     now: Instant,
//! ) -> Result<Vec<Event>, ConnectionError> {
//!     let mut wire = BytesMut::new();
//!     while from.poll_transmit(now, &mut wire, None) > 0 {}
//!     to.recv(now, &wire)?;
//!     Ok(std::iter::from_fn(|| to.poll_event()).collect())
//! }
//!
//! let now = Instant::now();
//! let mut client = Connection::client(Config::default());
//! let mut server = Connection::server(Config::default());
//! let request = vec![
//!     Field::new(":method", "GET"),
//!     Field::new(":scheme", "https"),
//!     Field::new(":path", "/hello"),
//!     Field::new(":authority", "example.com"),
//! ];
//! let id = client.send_request(request, true)?;
//!
//! let (mut status, mut body, mut done) = (0, Vec::new(), false);
//! for _ in 0..4 {
//!     for event in exchange(&mut client, &mut server, now)? {
//!         if let Event::Request { stream, .. } = event {
//!             server.send_response(stream, vec![Field::new(":status", "200")], false)?;
//!             server.send_data(stream, Bytes::from_static(b"hello, world"), true)?;
//!         }
//!     }
//!     for event in exchange(&mut server, &mut client, now)? {
//!         match event {
//!             Event::Response { stream, status: s, .. } if stream == id => status = s,
//!             Event::Data { stream, data, flow_controlled_len, end_stream } if stream == id => {
//!                 body.extend_from_slice(&data);
//!                 // Consumed: the peer may send that much again.
//!                 client.release_capacity(stream, flow_controlled_len);
//!                 done = end_stream;
//!             }
//!             _ => {}
//!         }
//!     }
//! }
//! assert_eq!((status, &body[..], done), (200, &b"hello, world"[..], true));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The building blocks work alone too: validating a request before it reaches the HPACK
//! encoder, and driving a stream's state:
//!
//! ```
//! use h2kit::headers::{validate_fields, Field, HeaderValidation, MessageKind};
//! use h2kit::state::{Input, StreamState};
//!
//! let request = [
//!     Field::new(":method", "GET"),
//!     Field::new(":scheme", "https"),
//!     Field::new(":path", "/"),
//!     Field::new(":authority", "example.com"),
//! ];
//! validate_fields(MessageKind::Request, &request, &HeaderValidation::STRICT, false)?;
//!
//! let (state, effects) = StreamState::Idle.on(Input::SendHeaders { end_stream: true })
//!     .map_err(|e| format!("{e:?}"))?;
//! assert_eq!(state, StreamState::HalfClosedLocal);
//! assert!(effects.activated && effects.send_ended);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod config;
mod connection;
pub mod error;
pub mod event;
pub mod flow;
#[doc(hidden)]
pub mod fuzzing;
pub mod headers;
pub mod http;
pub mod limits;
pub mod manual;
pub mod state;

/// The `tracing` target of the connection's frame events: one TRACE event per frame
/// received (`direction = "recv"`) and per frame sent (`"send"`), with the frame's
/// `frame_type`, `stream`, `length` and `flags` from its header. With `tracing-subscriber`,
/// `RUST_LOG=h2kit::frame=trace` turns them on. When TRACE is off for this target a frame costs
/// one level check and nothing is formatted.
pub const FRAME_TARGET: &str = "h2kit::frame";

/// A map keyed by stream id, hashed with [`StreamHash`]: the connection keeps its streams in
/// one, and the drivers key their per-stream state the same way. `StreamIdMap::default()`
/// makes an empty map with fresh secret keys.
///
/// Stream ids are chosen by the peer. [`StreamHash`] costs a few instructions per lookup
/// (std's SipHash about a hundred) and is keyed per map from std's OS-seeded `RandomState`,
/// so a peer cannot pick ids that collide. It lives in `h2kit-priority`, whose schedulers
/// need it too, and is re-exported here so that users need no other crate.
///
/// ```
/// use h2kit::{StreamId, StreamIdMap};
///
/// let mut open: StreamIdMap<&str> = StreamIdMap::default();
/// open.insert(StreamId::new(1), "GET /");
/// assert_eq!(open.get(&StreamId::new(1)), Some(&"GET /"));
/// ```
pub type StreamIdMap<V> = std::collections::HashMap<StreamId, V, StreamHash>;

pub use self::http::{request_from_fields, response_from_fields};
pub use config::{
    Config, Limits, LocalSettings, PeerSettings, SchedulerFactory, SchedulerKind, SettingsValues,
};
pub use connection::{Connection, DebugCounts, PREFACE, Role, StreamMut};
pub use error::{
    ConnectionError, Initiator, LimitExceeded, PeerError, ProtocolViolation, StreamError,
    UsageError,
};
pub use event::{Event, SettingChange};
pub use h2kit_frame::{ErrorCode, FrameType, SettingId, StreamId};
pub use h2kit_priority::idhash::StreamHash;
pub use h2kit_priority::{
    ExtensiblePriority, PriorityError, PrioritySignal, Scheduler, TreePriority, Urgency,
};
pub use headers::{Field, FieldList, HeaderError, HeaderValidation, MessageKind};
pub use state::StreamState;
