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
//! Validating a request before it reaches the HPACK encoder, and driving a stream's state:
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

pub use self::http::{request_from_fields, response_from_fields};
pub use config::{Config, Limits, LocalSettings, SchedulerKind};
pub use connection::{Connection, PREFACE, PeerSettings, Role, StreamMut};
pub use error::{
    ConnectionError, Initiator, LimitExceeded, PeerError, ProtocolViolation, StreamError,
    UsageError,
};
pub use event::{Event, SettingChange};
pub use h2kit_frame::{ErrorCode, FrameType, SettingId, StreamId};
pub use h2kit_priority::{ExtensiblePriority, PrioritySignal, TreePriority, Urgency};
pub use headers::{Field, HeaderError, HeaderValidation, MessageKind};
pub use state::StreamState;
