//! The sans-IO HTTP/2 connection.

mod h2c;
mod recv;
mod send;
mod stream;
mod streams;
mod table;
mod trace;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use h2kit_frame::{ErrorCode, FrameDecoder, PrioritySpec, Settings, StreamId};
use h2kit_hpack::{Decoder, Encoder};

use crate::config::{Config, LocalSettings, PeerSettings, SettingsValues};
use crate::error::{ConnectionError, Initiator, LimitExceeded, ProtocolViolation};
use crate::event::Event;
use crate::flow::{DEFAULT_WINDOW, RecvFlow, Window};
use crate::headers::{self, Field, MessageKind};
use crate::limits::Budget;
use crate::state::StreamState;

use stream::Stream;
pub use stream::StreamMut;
use streams::Streams;

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Sizes of a connection's internal queues (see [`Connection::debug_counts`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DebugCounts {
    /// Streams held.
    pub streams: usize,
    /// Closed stream ids remembered.
    pub closed: usize,
    /// Control frames queued.
    pub control: usize,
    /// Field blocks and resets queued.
    pub ordered: usize,
    /// Events not yet polled.
    pub events: usize,
    /// Encoded bytes held back by `poll_transmit`'s `max`.
    pub staging: usize,
    /// Received bytes not yet decoded (less than one frame).
    pub inbuf: usize,
    /// Streams with data, trailers or END_STREAM still queued.
    pub streams_with_output: usize,
}

/// Which end of the connection we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// We sent the preface and open odd-numbered streams.
    Client,
    /// We accept requests and may push on even-numbered streams.
    Server,
}

/// A frame of ours that does not depend on stream order: replies and connection-level frames.
#[derive(Debug)]
enum Control {
    Settings(Settings),
    SettingsAck,
    Ping {
        ack: bool,
        payload: [u8; 8],
    },
    WindowUpdate {
        stream: StreamId,
        increment: u32,
    },
    Reset {
        stream: StreamId,
        code: ErrorCode,
    },
    GoAway {
        last: StreamId,
        code: ErrorCode,
        debug: Bytes,
    },
    AltSvc {
        stream: StreamId,
        origin: Bytes,
        value: Bytes,
    },
    Origin(Vec<Bytes>),
}

/// A command's frame that must keep its order relative to the other field blocks (HPACK state)
/// and to the stream's own HEADERS.
#[derive(Debug)]
enum Ordered {
    Headers {
        stream: StreamId,
        fields: crate::headers::FieldList,
        end_stream: bool,
        priority: Option<PrioritySpec>,
    },
    PushPromise {
        stream: StreamId,
        promised: StreamId,
        fields: Vec<Field>,
    },
    Reset {
        stream: StreamId,
        code: ErrorCode,
    },
    Priority {
        stream: StreamId,
        spec: PrioritySpec,
    },
    PriorityUpdate {
        stream: StreamId,
        value: Bytes,
    },
}

impl Ordered {
    /// The stream the frame is about.
    fn stream(&self) -> StreamId {
        match self {
            Ordered::Headers { stream, .. }
            | Ordered::PushPromise { stream, .. }
            | Ordered::Reset { stream, .. }
            | Ordered::Priority { stream, .. }
            | Ordered::PriorityUpdate { stream, .. } => *stream,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PingPurpose {
    User,
    KeepAlive,
    Shutdown,
    /// Measures the round trip for the window policies while data flows (see
    /// `Connection::maybe_estimate`).
    Estimate,
}

/// The least time between two of our estimator PINGs (see `Connection::maybe_estimate`).
const ESTIMATE_INTERVAL_FLOOR: Duration = Duration::from_millis(100);

/// The connection's timers, each with at most one deadline at a time
/// (see `Connection::deadline`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// A release of an idle connection's spare capacity, put off (`shrink_if_idle`).
    Shrink,
    /// After the peer's GOAWAY and our last stream, the wait for the peer to close.
    GoAwayLinger,
    /// Our SETTINGS must be acknowledged in time.
    SettingsAck,
    /// Data waits for a send window: stalled streams are reset, a stalled connection
    /// closes.
    SendStall,
    /// Keep-alive: a PING after a quiet interval, which must be answered in time.
    KeepAlive,
    /// A server connection on which the peer opened no stream for this long closes.
    FirstRequest,
    /// No stream and nothing received for this long: the connection closes.
    Idle,
}

impl Timer {
    /// Every timer, in the order `handle_timeout` fires those due.
    const ALL: [Timer; 7] = [
        Timer::Shrink,
        Timer::GoAwayLinger,
        Timer::SettingsAck,
        Timer::SendStall,
        Timer::KeepAlive,
        Timer::FirstRequest,
        Timer::Idle,
    ];
}

#[derive(Debug)]
struct PendingPing {
    payload: [u8; 8],
    sent_at: Option<Instant>,
    purpose: PingPurpose,
}

#[derive(Debug)]
struct PendingSettings {
    settings: LocalSettings,
    sent_at: Option<Instant>,
}

/// A field block being assembled from HEADERS / PUSH_PROMISE and CONTINUATION frames.
#[derive(Debug)]
struct Block {
    stream: StreamId,
    promised: Option<StreamId>,
    end_stream: bool,
    priority: Option<PrioritySpec>,
    self_dependency: bool,
    buf: BytesMut,
    continuations: u32,
}

#[derive(Debug)]
struct Budgets {
    resets: Budget,
    settings: Budget,
    pings: Budget,
    empty_data: Budget,
    window_updates: Budget,
    priority: Budget,
    unknown: Budget,
}

/// Graceful shutdown progress (two-phase GOAWAY).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shutdown {
    None,
    /// GOAWAY(2^31-1) and a PING are out; waiting for the PING ack.
    AwaitingPing,
    /// The final GOAWAY is out.
    Final,
}

/// A sans-IO HTTP/2 connection, client or server.
///
/// # Driving contract
///
/// The connection never does I/O and never reads the clock. A driver (blocking, async, or a
/// test simulator) repeats, in this order:
///
/// 1. **Input.** Pass every byte read from the transport to [`recv`](Self::recv) (any split,
///    down to one byte); when the transport reports end of file, call
///    [`recv_eof`](Self::recv_eof); when the deadline of [`poll_timeout`](Self::poll_timeout)
///    has passed, call [`handle_timeout`](Self::handle_timeout).
/// 2. **Events.** Drain [`poll_event`](Self::poll_event) until `None` and act on each (answer
///    requests, consume data and give the capacity back with
///    [`release_capacity`](Self::release_capacity)).
/// 3. **Commands** at any time: [`send_request`](Self::send_request),
///    [`send_response`](Self::send_response), [`send_data`](Self::send_data),
///    [`send_trailers`](Self::send_trailers), [`reset`](Self::reset),
///    [`push_promise`](Self::push_promise), [`ping`](Self::ping),
///    [`update_settings`](Self::update_settings), [`go_away`](Self::go_away),
///    [`graceful_shutdown`](Self::graceful_shutdown), or the same on a borrowed
///    [`stream`](Self::stream) view. A refused command returns a [`UsageError`] and changes
///    nothing; the connection stays usable.
/// 4. **Output.** Call [`poll_transmit`](Self::poll_transmit) until it returns 0 and write what
///    it appended to the transport; pass a `max` to take no more than the transport accepts.
///    Frames are generated lazily from bounded queues at this point, so the connection never
///    holds more than one frame of encoded output beyond what was asked for.
///    [`poll_transmit_vectored`](Self::poll_transmit_vectored) does the same into a list of
///    `Bytes` for a vectored write, handing DATA payloads out without copying them.
/// 5. **Events again.** Every call of step 1 and step 4 can queue events, not only `recv`:
///    `recv_eof` and a timer of `handle_timeout` end the connection with
///    [`Event::Terminated`], and `poll_transmit` does too when a draining connection (after
///    GOAWAY) has written its last frame. Drain [`poll_event`](Self::poll_event) again before
///    waiting.
/// 6. **Wait** for more input or until [`poll_timeout`](Self::poll_timeout).
///
/// `now`, passed to `recv`, `handle_timeout` and the polls, is the driver's monotonic clock
/// (`Instant::now()`, or a virtual clock in tests). It must not go backwards: an earlier `now`
/// than one passed before is taken as the latest one seen, so no deadline moves back and no
/// timer fires early.
///
/// When [`is_closed`](Self::is_closed) turns true, everything has been written (including
/// our GOAWAY) and the transport can be closed. After a connection error, the events produced
/// before it are still delivered, followed by [`Event::Terminated`].
///
/// [`UsageError`]: crate::UsageError
///
/// # Example
///
/// A client and a server in memory exchange a GET:
///
/// ```
/// use std::time::Instant;
/// use bytes::BytesMut;
/// use h2kit::{Config, Connection, Event, Field};
///
/// let now = Instant::now();
/// let mut client = Connection::client(Config::default());
/// let mut server = Connection::server(Config::default());
/// let id = client.send_request(vec![
///     Field::new(":method", "GET"), Field::new(":scheme", "https"),
///     Field::new(":path", "/"), Field::new(":authority", "example.com"),
/// ], true)?;
///
/// let mut buf = BytesMut::new();
/// let mut answered = false;
/// for _ in 0..10 {
///     buf.clear();
///     while client.poll_transmit(now, &mut buf, None) > 0 {}
///     server.recv(now, &buf)?;
///     while let Some(event) = server.poll_event() {
///         if let Event::Request { stream, .. } = event {
///             server.send_response(stream, vec![Field::new(":status", "204")], true)?;
///         }
///     }
///     buf.clear();
///     while server.poll_transmit(now, &mut buf, None) > 0 {}
///     client.recv(now, &buf)?;
///     while let Some(event) = client.poll_event() {
///         if let Event::Response { stream, status, .. } = event {
///             assert_eq!((stream, status), (id, 204));
///             answered = true;
///         }
///     }
/// }
/// assert!(answered);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Connection {
    role: Role,
    /// Shared by every connection made from the same `Arc` (a server's thousands of
    /// connections hold one configuration, not a copy each).
    config: Arc<Config>,
    now: Option<Instant>,
    /// The first time the driver passed in (see `Limits::first_request_timeout`).
    started: Option<Instant>,
    last_recv: Option<Instant>,

    // Input.
    inbuf: BytesMut,
    preface_left: usize,
    got_settings: bool,
    decoder: FrameDecoder,
    hpack_dec: Decoder,
    /// The last received field block of indexed fields only (see `on_block`).
    recv_memo: Option<Box<recv::RecvMemo>>,
    /// The number of fields the last field block decoded to: the next block's list is
    /// sized for it, so a typical request's list is allocated once, not grown.
    fields_hint: usize,
    /// Emptied field lists kept from written field blocks, to decode the next ones into
    /// (see [`Connection::recycle_fields`]).
    spare_fields: Vec<Vec<Field>>,
    /// When an idle connection last released its spare capacity after serving streams.
    last_shrink: Option<Instant>,
    /// The highest peer stream id and our next stream id at the last release: streams were
    /// opened since when they changed.
    shrink_mark: (u32, u32),
    /// A release of spare capacity put off by `shrink_if_idle`, due then.
    shrink_due: Option<Instant>,
    block: Option<Block>,

    // Output.
    hpack_enc: Encoder,
    /// The last field block that held indexed fields only (see `write_field_block`).
    headers_memo: Option<Box<send::HeadersMemo>>,
    staging: BytesMut,
    scratch: BytesMut,
    /// Encoded frames between payloads for `poll_transmit_vectored` (empty when idle).
    out_buf: BytesMut,
    preface_written: bool,
    sent_settings: bool,
    control: VecDeque<Control>,
    ordered: VecDeque<Ordered>,

    streams: Streams,
    /// Streams opened by the peer whose [`Event::Request`] was not polled yet.
    pending_accept: usize,

    // Settings.
    local: LocalSettings,
    pending_settings: VecDeque<PendingSettings>,
    remote: PeerSettings,

    // Connection-level flow control.
    send_window: Window,
    recv_flow: RecvFlow,

    // PING.
    pings: VecDeque<PendingPing>,
    ping_counter: u64,
    last_rtt: Option<Duration>,
    /// The smallest RTT measured (PINGs, our first SETTINGS): new streams' policies start
    /// with it.
    min_rtt: Option<Duration>,
    /// An estimator PING is outstanding.
    estimating: bool,
    /// No estimator PING before this.
    next_estimate: Option<Instant>,
    /// The largest target a stream receive window reached (at least the configured initial
    /// window: only growth beyond it counts).
    largest_stream_target: u32,

    // Lifecycle.
    goaway_sent: Option<StreamId>,
    goaway_recv: Option<StreamId>,
    /// The code and debug data of the peer's latest GOAWAY.
    goaway_recv_reason: (ErrorCode, Bytes),
    /// When the connection became drained after the peer's GOAWAY (see
    /// `Limits::goaway_linger`).
    drained_at: Option<Instant>,
    shutdown: Shutdown,
    error: Option<ConnectionError>,

    budgets: Budgets,
    events: VecDeque<Event>,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("streams", &self.streams.len())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A client connection: it will send the preface and its SETTINGS first. `config` is a
    /// [`Config`] or an `Arc<Config>` shared with other connections.
    pub fn client(config: impl Into<Arc<Config>>) -> Self {
        Self::new(Role::Client, config.into())
    }

    /// A server connection: it expects the client preface first. `config` is a [`Config`]
    /// or an `Arc<Config>` shared with other connections (a server accepting many keeps one
    /// copy; with SETTINGS_ENABLE_PUSH off, as a server's must be, it is not copied).
    pub fn server(config: impl Into<Arc<Config>>) -> Self {
        Self::new(Role::Server, config.into())
    }

    fn new(role: Role, mut config: Arc<Config>) -> Self {
        if role == Role::Server && config.settings.enable_push {
            Arc::make_mut(&mut config).settings.enable_push = false;
        }
        let limits = config.limits;
        let budgets = Budgets {
            resets: Budget::new(limits.resets),
            settings: Budget::new(limits.settings),
            pings: Budget::new(limits.pings),
            empty_data: Budget::new(limits.empty_data),
            window_updates: Budget::new(limits.window_updates),
            priority: Budget::new(limits.priority),
            unknown: Budget::new(limits.unknown_stream_frames),
        };
        let scheduler = config.scheduler.build();
        let mut hpack_dec = Decoder::new();
        hpack_dec.set_max_header_list_size(config.settings.max_header_list_size as usize);
        let mut hpack_enc = Encoder::new();
        hpack_enc.set_table_size_cap(limits.max_encoder_table_size as usize);
        let conn_target = config.connection_window_size.max(DEFAULT_WINDOW);
        let recv_flow = RecvFlow::new(DEFAULT_WINDOW, config.connection_window.build(conn_target));

        // Until the peer acknowledges our SETTINGS, the RFC defaults apply to what depends on
        // the peer having seen them (windows, table size, frame size); limits that protect
        // only us apply at once.
        let rfc = SettingsValues::RFC_DEFAULTS;
        let local = LocalSettings {
            header_table_size: rfc.header_table_size,
            initial_window_size: rfc.initial_window_size,
            max_frame_size: rfc.max_frame_size,
            ..config.settings
        };

        let mut conn = Connection {
            role,
            now: None,
            started: None,
            last_recv: None,
            inbuf: BytesMut::new(),
            preface_left: if role == Role::Server {
                PREFACE.len()
            } else {
                0
            },
            got_settings: false,
            decoder: FrameDecoder::new(),
            hpack_dec,
            recv_memo: None,
            fields_hint: 8,
            spare_fields: Vec::new(),
            last_shrink: None,
            // As `Streams` starts: no peer stream, our first id.
            shrink_mark: (0, if role == Role::Client { 1 } else { 2 }),
            shrink_due: None,
            block: None,
            hpack_enc,
            headers_memo: None,
            staging: BytesMut::new(),
            scratch: BytesMut::new(),
            out_buf: BytesMut::new(),
            preface_written: false,
            sent_settings: false,
            control: VecDeque::new(),
            ordered: VecDeque::new(),
            streams: Streams::new(role, &limits, scheduler),
            pending_accept: 0,
            local,
            pending_settings: VecDeque::new(),
            remote: SettingsValues::RFC_DEFAULTS,
            send_window: Window::saturating(DEFAULT_WINDOW),
            recv_flow,
            pings: VecDeque::new(),
            ping_counter: 0,
            last_rtt: None,
            min_rtt: None,
            estimating: false,
            next_estimate: None,
            largest_stream_target: config.settings.initial_window_size,
            goaway_sent: None,
            goaway_recv: None,
            goaway_recv_reason: (ErrorCode::NO_ERROR, Bytes::new()),
            drained_at: None,
            shutdown: Shutdown::None,
            error: None,
            budgets,
            events: VecDeque::new(),
            config,
        };
        let initial = conn.config.settings;
        let settings = conn.settings_frame(&SettingsValues::RFC_DEFAULTS, &initial, true);
        conn.control.push_back(Control::Settings(settings));
        conn.pending_settings.push_back(PendingSettings {
            settings: initial,
            sent_at: None,
        });
        if conn_target > DEFAULT_WINDOW {
            let _ = conn.recv_flow.increase(conn_target - DEFAULT_WINDOW);
            conn.control.push_back(Control::WindowUpdate {
                stream: StreamId::ZERO,
                increment: conn_target - DEFAULT_WINDOW,
            });
        }
        conn
    }

    /// Builds the SETTINGS frame announcing `new`: what differs from `old`, and when `all`
    /// also the limits that stay at their (unlimited) RFC defaults otherwise, so that the peer
    /// knows them. Settings the other role cannot use are left out.
    fn settings_frame(&self, old: &LocalSettings, new: &LocalSettings, all: bool) -> Settings {
        use h2kit_frame::SettingId as S;
        let mut frame = Settings::new();
        for ((id, old), (_, new)) in old.pairs().into_iter().zip(new.pairs()) {
            let applies = match id {
                S::ENABLE_PUSH => self.role == Role::Client,
                S::ENABLE_CONNECT_PROTOCOL => self.role == Role::Server,
                _ => true,
            };
            let always = all && matches!(id, S::MAX_CONCURRENT_STREAMS | S::MAX_HEADER_LIST_SIZE);
            if applies && (always || old != new) {
                frame.push(id, new);
            }
        }
        frame
    }

    /// Validates a received field section by our configuration. The fields of a block
    /// decoded from the receive memo (see `on_block`) are those validated before: what
    /// that found is kept there and taken again.
    fn validate_recv(
        &mut self,
        kind: MessageKind,
        fields: &[Field],
    ) -> core::result::Result<headers::MessageInfo, ProtocolViolation> {
        let extended = self.connect_protocol_announced();
        // A block answered from the memo comes as the memo's own list (shared, see
        // `on_block`): the same slice, which needs no comparing field by field.
        let memo = self.recv_memo.as_deref_mut().filter(|m| {
            m.filled
                && (core::ptr::eq(&m.fields[..], fields) || headers::same_bytes(&m.fields, fields))
        });
        if let Some(m) = &memo {
            if let Some((k, e, info)) = m.info {
                if k == kind && e == extended {
                    return Ok(info);
                }
            }
        }
        let info = headers::validate_fields(kind, fields, &self.config.validate_recv, extended)
            .map_err(ProtocolViolation::MalformedHeaders)?;
        if let Some(m) = memo {
            m.info = Some((kind, extended, info));
        }
        Ok(info)
    }

    /// Whether `fields` (a received head or trailers, as an event handed them out) are the
    /// receive memo's: their block came again with the same octets at the same HPACK table
    /// version as the one before, and was neither decoded nor validated again. Such fields
    /// share the memo's storage, never the input buffer: a driver may keep clones of them,
    /// with what it made of them, and know a later head for the same one by its fields'
    /// addresses ([`same_bytes`](crate::headers::same_bytes)) while it holds them.
    ///
    /// ```
    /// use h2kit::{Config, Connection, Field};
    /// let conn = Connection::client(Config::default());
    /// assert!(!conn.is_repeated_block(&[Field::new(":status", "200")]));
    /// ```
    pub fn is_repeated_block(&self, fields: &[Field]) -> bool {
        self.recv_memo
            .as_deref()
            .is_some_and(|m| m.filled && headers::same_bytes(&m.fields, fields))
    }

    /// (Server) Whether we announced SETTINGS_ENABLE_CONNECT_PROTOCOL = 1, acknowledged or
    /// not: a client may send an extended CONNECT as soon as it has read our SETTINGS, and
    /// need not wait for its acknowledgement to reach us. Once announced it stays on
    /// (RFC 8441 §3; [`update_settings`](Self::update_settings) keeps it).
    fn connect_protocol_announced(&self) -> bool {
        self.local.enable_connect_protocol
            || self
                .pending_settings
                .iter()
                .any(|p| p.settings.enable_connect_protocol)
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Moves the connection's clock to `now` and returns the time in effect: the driver's
    /// clock must not go backwards, and an earlier `now` than one seen before is taken as
    /// that one, so no deadline or measurement runs backwards.
    fn tick(&mut self, now: Instant) -> Instant {
        let now = self.now.map_or(now, |last| last.max(now));
        self.now = Some(now);
        if self.last_recv.is_none() {
            self.last_recv = Some(now);
            self.started = Some(now);
        }
        self.streams.tick(now);
        now
    }

    /// The connection's clock: the latest `now` the driver has given it (to `recv`, the
    /// polls or `handle_timeout`), `None` before the first. A driver that has just given a
    /// fresh time can take it from here instead of reading the system clock again.
    pub fn clock(&self) -> Option<Instant> {
        self.now
    }

    // ---------------------------------------------------------------- outputs

    /// The next event, in the order things happened.
    ///
    /// Drain it after every input and after output: see the driving contract on
    /// [`Connection`].
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front()?;
        if matches!(event, Event::Request { .. }) {
            self.pending_accept = self.pending_accept.saturating_sub(1);
        }
        Some(event)
    }

    /// The next time [`handle_timeout`](Self::handle_timeout) must be called, if any. It
    /// changes with every call that takes input, a command or output.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.error.is_some() {
            return None;
        }
        Timer::ALL
            .into_iter()
            .filter_map(|timer| self.deadline(timer))
            .min()
    }

    /// Fires the timers due at `now`: SETTINGS acknowledgement, idle and keep-alive, the
    /// first request (servers), send stalls, the wait for the peer to close after its
    /// GOAWAY, the release of spare capacity. A timer that ends the connection queues
    /// [`Event::Terminated`]; a keep-alive queues a PING; a stream whose data waited too long
    /// for its window is reset with [`Event::StreamReset`] (see
    /// [`Limits::send_stall_timeout`](crate::config::Limits::send_stall_timeout)).
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.tick(now);
        for timer in Timer::ALL {
            if self.error.is_some() {
                return;
            }
            if self.deadline(timer).is_some_and(|t| now >= t) {
                self.fire(timer, now);
            }
        }
    }

    /// When `timer` is due, if it runs.
    fn deadline(&self, timer: Timer) -> Option<Instant> {
        let limits = &self.config.limits;
        match timer {
            // Only while idle: a connection that is busy again shrinks when it next goes idle.
            Timer::Shrink if self.streams.is_empty() && self.ordered.is_empty() => self.shrink_due,
            Timer::Shrink => None,
            Timer::GoAwayLinger => self.drained_at.map(|t| t + limits.goaway_linger),
            Timer::SettingsAck => self
                .pending_settings
                .front()
                .and_then(|p| p.sent_at)
                .map(|t| t + limits.settings_ack_timeout),
            Timer::KeepAlive => match self.keep_alive_ping() {
                Some(p) => p.sent_at.map(|t| t + limits.keep_alive_timeout),
                None => Some(self.last_recv? + limits.keep_alive_interval?),
            },
            Timer::SendStall => Some(self.streams.stalled_since()? + limits.send_stall_timeout?),
            Timer::FirstRequest
                if self.role == Role::Server && self.streams.max_remote().is_zero() =>
            {
                Some(self.started? + limits.first_request_timeout?)
            }
            Timer::FirstRequest => None,
            Timer::Idle if self.streams.none_active() => {
                Some(self.last_recv? + limits.idle_timeout?)
            }
            Timer::Idle => None,
        }
    }

    /// Does what `timer` is for; it is due.
    fn fire(&mut self, timer: Timer, now: Instant) {
        match timer {
            Timer::Shrink => {
                self.shrink_due = None;
                self.shrink_if_idle(now);
            }
            Timer::GoAwayLinger => self.close_after_peer_goaway(),
            Timer::SettingsAck => self.fail(ConnectionError::SettingsTimeout),
            Timer::KeepAlive if self.keep_alive_ping().is_some() => {
                // Not answered in time.
                self.fail(ConnectionError::IdleTimeout);
            }
            Timer::KeepAlive => {
                let payload = self.next_ping_payload();
                self.queue_ping(payload, PingPurpose::KeepAlive);
            }
            Timer::SendStall => self.send_stall(now),
            Timer::FirstRequest => self.fail(ConnectionError::FirstRequestTimeout),
            Timer::Idle => self.fail(ConnectionError::IdleTimeout),
        }
    }

    /// Ends what waited longer than `limits.send_stall_timeout` for a send window: the
    /// connection if it was the connection's window, else each stream whose own it was.
    fn send_stall(&mut self, now: Instant) {
        let Some(timeout) = self.config.limits.send_stall_timeout else {
            return;
        };
        let due = |since: Instant| since + timeout <= now;
        let conn_window = self.send_window.available();
        if self
            .streams
            .connection_stalled_since(conn_window)
            .is_some_and(due)
        {
            self.fail(ConnectionError::Limit(LimitExceeded::SendStall));
            return;
        }
        for id in self.streams.take_stalled(conn_window, due) {
            if let Err(e) = self.stall_reset(id, now) {
                self.fail(e);
                return;
            }
        }
    }

    /// The keep-alive PING awaiting its acknowledgement, if any.
    fn keep_alive_ping(&self) -> Option<&PendingPing> {
        self.pings
            .iter()
            .find(|p| p.purpose == PingPurpose::KeepAlive)
    }

    /// Queues a PING of ours (not an acknowledgement) and remembers it until it is answered.
    fn queue_ping(&mut self, payload: [u8; 8], purpose: PingPurpose) {
        self.control.push_back(Control::Ping {
            ack: false,
            payload,
        });
        self.pings.push_back(PendingPing {
            payload,
            sent_at: None,
            purpose,
        });
    }

    /// Whether the connection is over and everything, including our GOAWAY, was written.
    pub fn is_closed(&self) -> bool {
        self.error.is_some() && self.control.is_empty() && self.staging.is_empty()
    }

    /// The error that ended the connection, if it ended.
    pub fn error(&self) -> Option<&ConnectionError> {
        self.error.as_ref()
    }

    /// Ends the connection with `error`: GOAWAY (unless the peer's GOAWAY ended it), drop all
    /// queued stream output, report [`Event::Terminated`].
    fn fail(&mut self, error: ConnectionError) {
        if self.error.is_some() {
            return;
        }
        let from_peer = matches!(
            error,
            ConnectionError::GoAway {
                initiator: Initiator::Remote,
                ..
            } | ConnectionError::TransportClosed
        );
        // Replies and stream output are pointless now. Our SETTINGS stay if they are not out
        // yet: they must be the first frame we send (RFC 9113 §3.4), even before a GOAWAY.
        let sent_settings = self.sent_settings;
        self.control
            .retain(|c| !sent_settings && matches!(c, Control::Settings(_)));
        self.control.truncate(1);
        self.ordered.clear();
        if !from_peer && !matches!(error, ConnectionError::GoAway { .. }) {
            let debug = Bytes::from(error.to_string());
            self.control.push_back(Control::GoAway {
                last: self.streams.max_remote(),
                code: error.code(),
                debug,
            });
        }
        self.streams.clear_output();
        self.inbuf = BytesMut::new();
        self.events.push_back(Event::Terminated {
            error: error.clone(),
        });
        self.error = Some(error);
    }

    /// Tells the connection the transport was closed by the peer (EOF): an input (step 1 of
    /// the driving contract on [`Connection`]). It ends the connection and queues
    /// [`Event::Terminated`]: with [`ConnectionError::GoAway`] after the peer's GOAWAY (the
    /// peer closes then, as it must), our replies still queued, our own GOAWAY among them,
    /// staying for [`poll_transmit`](Self::poll_transmit); else with
    /// [`ConnectionError::TransportClosed`]. Does nothing once the connection has ended.
    pub fn recv_eof(&mut self) {
        if self.error.is_some() {
        } else if self.goaway_recv.is_some() {
            // The peer closed after its GOAWAY, as it must (RFC 9113 §6.8).
            self.close_after_peer_goaway();
        } else {
            self.fail(ConnectionError::TransportClosed);
        }
    }

    /// Ends the connection the peer's GOAWAY announced, still writing our queued replies
    /// (our own GOAWAY among them).
    fn close_after_peer_goaway(&mut self) {
        let Some(last) = self.goaway_recv else {
            return;
        };
        let (code, debug_data) = self.goaway_recv_reason.clone();
        let pending = core::mem::take(&mut self.control);
        self.fail(ConnectionError::GoAway {
            code,
            last_stream_id: last,
            debug_data,
            initiator: Initiator::Remote,
        });
        // `fail` drops queued control frames; the last GOAWAY and replies must still go out.
        self.control = pending;
    }

    /// After GOAWAY (either way), the connection ends when no stream is left.
    fn check_drained(&mut self) {
        if self.error.is_some() {
            return;
        }
        let draining = self.goaway_recv.is_some() || self.shutdown == Shutdown::Final;
        if !draining || !self.streams.none_active() {
            return;
        }
        if !self.ordered.is_empty() || self.streams.any_output() {
            // Finish writing first; `poll_transmit` checks again when everything is out.
            return;
        }
        let (code, last, initiator) = match (self.goaway_recv, self.goaway_sent) {
            (Some(last), _) => (self.goaway_recv_reason.0, last, Initiator::Remote),
            (None, Some(last)) => (ErrorCode::NO_ERROR, last, Initiator::Local),
            (None, None) => return,
        };
        if self.goaway_sent.is_none() {
            // Answer the peer's GOAWAY with ours so it knows what we processed.
            let last_processed = self.streams.last_processed();
            self.goaway_sent = Some(last_processed);
            self.control.push_back(Control::GoAway {
                last: last_processed,
                code: ErrorCode::NO_ERROR,
                debug: Bytes::new(),
            });
        }
        if initiator == Initiator::Remote && self.shutdown != Shutdown::Final {
            // The GOAWAY's sender closes the transport (RFC 9113 §5.4.1, §6.8). Until it
            // does, or `goaway_linger` passes, PING and SETTINGS are still answered (§7:
            // no error code, known or not, triggers special behaviour).
            if self.drained_at.is_none() {
                self.drained_at = self.now;
            }
            if self.drained_at.is_some() {
                return;
            }
        }
        let pending = std::mem::take(&mut self.control);
        self.fail(ConnectionError::GoAway {
            code,
            last_stream_id: last,
            debug_data: Bytes::new(),
            initiator,
        });
        // `fail` drops queued control frames; the last GOAWAY and replies must still go out.
        self.control = pending;
    }

    /// Phase two of a graceful shutdown: the PING came back, so every stream the peer opened
    /// before our first GOAWAY has arrived; announce the real last stream id.
    fn final_goaway(&mut self) {
        if self.shutdown != Shutdown::AwaitingPing {
            return;
        }
        self.shutdown = Shutdown::Final;
        let last = self.streams.last_processed();
        self.goaway_sent = Some(last);
        self.control.push_back(Control::GoAway {
            last,
            code: ErrorCode::NO_ERROR,
            debug: Bytes::new(),
        });
        self.check_drained();
    }

    /// Removes stream `id` if it is closed and fully written; a draining connection may end
    /// with it.
    fn maybe_remove(&mut self, id: StreamId) {
        if self.streams.remove_if_done(id) {
            self.check_drained();
        }
    }

    // ---------------------------------------------------------------- queries

    /// Sizes of the internal queues and buffers, for tests of memory bounds.
    #[doc(hidden)]
    pub fn debug_counts(&self) -> DebugCounts {
        DebugCounts {
            streams: self.streams.len(),
            closed: self.streams.closed_len(),
            control: self.control.len(),
            ordered: self.ordered.len(),
            events: self.events.len(),
            staging: self.staging.len(),
            inbuf: self.inbuf.len(),
            streams_with_output: self.streams.with_output(),
        }
    }

    /// The stream view for `id`, if the stream is known (open, reserved, or closed with output
    /// still queued).
    pub fn stream(&mut self, id: StreamId) -> Option<StreamMut<'_>> {
        if self.streams.contains(id) {
            Some(StreamMut { conn: self, id })
        } else {
            None
        }
    }

    /// The state of stream `id` (closed when unknown and below the highest id used, idle
    /// above).
    pub fn stream_state(&self, id: StreamId) -> StreamState {
        self.streams.state(id)
    }

    /// The id the next [`send_request`](Self::send_request) (or push) will use.
    pub fn next_stream_id(&self) -> StreamId {
        self.streams.next_local()
    }

    /// Streams we opened that are open or half-closed.
    pub fn open_outbound_streams(&self) -> u32 {
        self.streams.active_local()
    }

    /// Streams the peer opened that are open or half-closed.
    pub fn open_inbound_streams(&self) -> u32 {
        self.streams.active_remote()
    }

    /// The connection send window (what we may still send on all streams together). The
    /// connection's windows are `connection_send_window` and
    /// [`connection_recv_window`](Self::connection_recv_window); a stream's are
    /// [`send_capacity`](Self::send_capacity) and [`recv_window`](Self::recv_window).
    pub fn connection_send_window(&self) -> i32 {
        self.send_window.get()
    }

    /// The connection receive window (what the peer may still send on all streams together).
    pub fn connection_recv_window(&self) -> i32 {
        self.recv_flow.window().get()
    }

    /// What we may send on `id` right now: the smaller of its window and the connection's.
    pub fn send_capacity(&self, id: StreamId) -> u32 {
        self.streams.get(id).map_or(0, |s| {
            s.send_window.available().min(self.send_window.available())
        })
    }

    /// The receive window of stream `id`, if known.
    pub fn recv_window(&self, id: StreamId) -> Option<i32> {
        self.streams.get(id).map(|s| s.recv.window().get())
    }

    /// The largest DATA payload we may put in one frame (the peer's SETTINGS_MAX_FRAME_SIZE).
    pub fn max_outbound_frame_size(&self) -> u32 {
        self.remote.max_frame_size
    }

    /// The peer's SETTINGS in effect.
    pub fn peer_settings(&self) -> &PeerSettings {
        &self.remote
    }

    /// Our SETTINGS in effect (acknowledged by the peer).
    pub fn local_settings(&self) -> &LocalSettings {
        &self.local
    }

    /// Whether the peer's first SETTINGS frame has arrived. Until then
    /// [`peer_settings`](Self::peer_settings) holds the RFC defaults.
    pub fn peer_settings_received(&self) -> bool {
        self.got_settings
    }

    /// (Client) Whether the server sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3),
    /// so that [`send_request`](Self::send_request) may open an extended CONNECT (a request
    /// with `:protocol`). False until the server's SETTINGS arrive
    /// ([`peer_settings_received`](Self::peer_settings_received)): a client that wants one
    /// waits for them first.
    pub fn extended_connect_enabled(&self) -> bool {
        self.remote.enable_connect_protocol
    }

    /// The latest RTT measured by a PING round trip.
    pub fn rtt(&self) -> Option<Duration> {
        self.last_rtt
    }

    /// Our flow control at a glance: the initial windows both ways, the connection windows,
    /// the largest stream window reached and the RTTs measured.
    pub fn window_stats(&self) -> crate::flow::WindowStats {
        crate::flow::WindowStats {
            local_initial_window: self.local.initial_window_size,
            peer_initial_window: self.remote.initial_window_size,
            connection_recv_target: self.recv_flow.target(),
            connection_send_window: self.send_window.get(),
            largest_stream_recv_target: self
                .largest_stream_target
                .max(self.local.initial_window_size),
            rtt: self.last_rtt,
            min_rtt: self.min_rtt,
        }
    }

    /// An RTT sample for every window policy (and the connection's record of it).
    fn rtt_sample(&mut self, rtt: Duration) {
        self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
        self.recv_flow.on_rtt_sample(rtt);
        for s in self.streams.values_mut() {
            s.recv.on_rtt_sample(rtt);
        }
    }

    /// Called for DATA carrying flow-controlled bytes: measures the round trip with a PING
    /// when the connection's window policy, or the receiving stream's (`stream_wants`), wants
    /// RTT samples (see [`WindowPolicy::wants_rtt`](crate::flow::WindowPolicy::wants_rtt)).
    /// At most one such PING is outstanding, and the next goes out no sooner than one RTT
    /// (and [`ESTIMATE_INTERVAL_FLOOR`]) after the previous one came back, so its rate is
    /// ours to bound, whatever the peer sends: the first goes out with the first DATA.
    fn maybe_estimate(&mut self, now: Instant, stream_wants: bool) {
        if self.estimating
            || self.next_estimate.is_some_and(|t| now < t)
            || !(stream_wants || self.recv_flow.wants_rtt())
            || self.pings.len() >= self.config.limits.max_pending_local
        {
            return;
        }
        self.estimating = true;
        let payload = self.next_ping_payload();
        self.queue_ping(payload, PingPurpose::Estimate);
    }

    /// Our estimator PING came back (`rtt` is `None` for an acknowledgement that arrived
    /// before the PING was written, which only a peer guessing payloads sends).
    fn estimate_done(&mut self, now: Instant, rtt: Option<Duration>) {
        self.estimating = false;
        let wait = rtt.map_or(ESTIMATE_INTERVAL_FLOOR, |r| r.max(ESTIMATE_INTERVAL_FLOOR));
        self.next_estimate = Some(now + wait);
    }

    /// After a release on a stream whose target is now `target`: records the largest, has a
    /// growing connection window follow it, and once a stream window has grown to at least
    /// twice our SETTINGS_INITIAL_WINDOW_SIZE, announces the grown size so that new streams
    /// start there ([`Config::grow_initial_window`]).
    fn note_stream_target(&mut self, target: u32) {
        if target <= self.largest_stream_target {
            return;
        }
        self.largest_stream_target = target;
        if self.error.is_some() {
            return;
        }
        // The connection window follows (half as much again, as Chrome keeps 2.5 times its
        // stream window), so that it does not hold back the stream that grew.
        let inc = self.recv_flow.follow(target.saturating_add(target / 2));
        self.queue_window_update(StreamId::ZERO, inc);
        if !self.config.grow_initial_window {
            return;
        }
        let latest = self
            .pending_settings
            .back()
            .map_or(self.local, |p| p.settings);
        if u64::from(target) < 2 * u64::from(latest.initial_window_size)
            || self.pending_settings.len() + 1 >= self.config.limits.max_pending_local
        {
            return;
        }
        let _ = self.update_settings(LocalSettings {
            initial_window_size: target,
            ..latest
        });
    }

    fn next_ping_payload(&mut self) -> [u8; 8] {
        self.ping_counter = self.ping_counter.wrapping_add(1);
        (self.ping_counter | 0x6832_6b69_0000_0000).to_be_bytes()
    }

    fn stream_window_strategy_target(&self) -> u32 {
        self.local.initial_window_size
    }

    fn new_stream(&self, local: bool) -> Stream {
        let send = Window::saturating(self.remote.initial_window_size);
        let target = self.stream_window_strategy_target();
        let mut recv = RecvFlow::new(target, self.config.stream_window.build(target));
        if let Some(rtt) = self.min_rtt {
            recv.on_rtt_sample(rtt);
        }
        Stream::new(local, send, recv)
    }
}
