//! The connection task: the only owner of the sans-IO [`Connection`], driving it by its
//! contract (input, events, commands, output, wait) over any `AsyncRead + AsyncWrite`.
//!
//! Handles talk to it through one unbounded command channel; it answers each request
//! through the request's exchange (its response head, then its body's items; a short lock
//! held for one push or take, never across an await) and pings and upload acknowledgements
//! through oneshot channels.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2kit::http::{
    HeadCache, Origin, header_map, request_fields, request_parts, response_parts, trailer_fields,
};
use h2kit::{
    Connection, ConnectionError, ErrorCode, Event, Field, HeaderError, Initiator, StreamError,
    StreamId, StreamIdMap, UsageError,
};
use h2kit_io::{COMMAND_BATCH, PumpConfig, Transport};
use http::HeaderMap;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::decode::ContentDecoder;
use crate::error::Error;
use crate::msg::{
    Cmd, Head, Item, ItemSender, Link, MAX_UNREAD_PUSHES, PendingRequest, PingReply, Promise,
    RequestHead, Shared, UPLOAD_PIECE, Upload, item_channel, lock_advertised,
};
use crate::trace::Tracer;

/// An upload's next chunk is asked for once its queued bytes fall below this.
const UPLOAD_LOW_WATER: usize = 128 * 1024;
/// Request bodies up to this size are queued whole with the HEADERS.
const INLINE_BODY: usize = 256 * 1024;
/// Streams we open before the server's SETTINGS tell us its limit (RFC 9113 §6.5.2 asks
/// servers for at least 100): opening thousands at once would have them refused.
const STREAMS_BEFORE_SETTINGS: u32 = 100;

/// The most ALTSVC entries and ORIGIN origins kept per connection.
const MAX_ADVERTISED: usize = 16;

/// Whether two authorities name the same origin host and port (host names are
/// case-insensitive; ports must be written the same: `example.org` and `example.org:443`
/// differ, the conservative reading).
fn same_authority(a: &http::uri::Authority, b: &http::uri::Authority) -> bool {
    a.host().eq_ignore_ascii_case(b.host()) && a.port_u16() == b.port_u16()
}
/// Events delivered per turn when more are waiting: the turn then writes, lets the tasks it
/// woke run, and sends the requests they made before delivering the rest. The server then
/// works on those while we deliver, instead of both sides taking turns on whole batches.
/// Each turn costs a write and a poll of the runtime's I/O driver (system calls, and a
/// wake-up of the server): 128 events (64 small responses, about one read's worth with 100
/// streams in flight) spent 10% less CPU per request than 32 in `compare client`, at the
/// same rate.
const TURN_EVENTS: usize = 128;

/// Response body bytes handed to bodies since the task last let them run, above which it
/// lets them run before it reads again (see [`Driver::delivered`]).
const DELIVERED_YIELD: usize = 16 * 1024;

struct Slot {
    /// The request's exchange, until the response ended or its receiver let go.
    tx: Option<ItemSender>,
    /// The head (or an error in its place) went out: later news goes to the body.
    head_sent: bool,
    pushes: Option<mpsc::UnboundedSender<Promise>>,
    ack: Option<oneshot::Sender<Result<(), Error>>>,
    decompress: bool,
    recv_done: bool,
    send_done: bool,
    /// An extended CONNECT (RFC 8441).
    extended: bool,
    /// An extended CONNECT answered 2xx: a tunnel whose halves close independently, so the
    /// response's end does not stop the request body.
    half_close: bool,
    /// The response's DATA has begun arriving.
    data_seen: bool,
}

impl Slot {
    fn fail(&mut self, error: &Error) {
        if let Some(tx) = self.tx.take() {
            if self.head_sent {
                let _ = tx.send_last(Item::Error(error.clone()));
            } else {
                tx.send_head(Err(error.clone()));
                self.head_sent = true;
            }
        }
        if let Some(a) = self.ack.take() {
            let _ = a.send(Err(error.clone()));
        }
        self.pushes = None;
    }
}

pub(crate) struct Driver {
    conn: Connection,
    link: Weak<Link>,
    slots: StreamIdMap<Slot>,
    pending: VecDeque<PendingRequest>,
    acks: Vec<StreamId>,
    pings: Vec<([u8; 8], Instant, PingReply)>,
    ping_counter: u64,
    /// DATA payload bytes handed to bodies since the task last yielded. Payloads share the
    /// connection's input buffer; once the bodies that read them promptly have dropped them,
    /// the next read lands in that same (cache-warm) buffer instead of a new allocation,
    /// whose fresh pages cost a page fault each (bulk downloads spent most of their CPU
    /// there).
    delivered: usize,
    goaway: Option<(ErrorCode, StreamId, Bytes)>,
    terminated: Option<ConnectionError>,
    io_error: Option<Arc<io::Error>>,
    tracer: Option<Tracer>,
    shared: Arc<Shared>,
    decompress_pushes: bool,
    /// The cap on each body's decoded size.
    max_decoded: Option<u64>,
    /// The server's first SETTINGS arrived.
    got_settings: bool,
    /// Extended CONNECTs waiting for the server's first SETTINGS, which say whether it
    /// accepts them (RFC 8441 §3).
    before_settings: VecDeque<PendingRequest>,
    /// What the connection remembers of the heads it received.
    heads: HeadCache,
    /// The origin's authority: pushes for any other are refused (RFC 9113 §8.4).
    authority: http::uri::Authority,
}

enum Wake {
    /// The transport moved bytes or a timer ran; its errors are kept by `note_io_error`.
    Io,
    Cmd(Option<Cmd>),
}

impl Driver {
    pub(crate) fn new(
        conn: Connection,
        link: Weak<Link>,
        shared: Arc<Shared>,
        tracer: Option<Tracer>,
        decompress_pushes: bool,
        max_decoded: Option<u64>,
        authority: http::uri::Authority,
    ) -> Self {
        shared.open.store(true, Ordering::Release);
        Driver {
            conn,
            link,
            slots: StreamIdMap::default(),
            pending: VecDeque::new(),
            acks: Vec::new(),
            pings: Vec::new(),
            ping_counter: 0,
            delivered: 0,
            goaway: None,
            terminated: None,
            io_error: None,
            tracer,
            shared,
            decompress_pushes,
            max_decoded,
            got_settings: false,
            before_settings: VecDeque::new(),
            heads: HeadCache::default(),
            authority,
        }
    }

    /// Drives the connection until it is closed and everything is written.
    pub(crate) async fn run<T>(mut self, io: T, mut rx: mpsc::UnboundedReceiver<Cmd>)
    where
        T: AsyncRead + AsyncWrite + Send + Unpin,
    {
        // Flushed after every write: the transport may be TLS or a proxy tunnel. While a
        // response streams in, reads land in the connection's input buffer, which the
        // bodies' payloads are cut from, without a copy.
        let mut io = Transport::new(io, PumpConfig::default().read_in_place(true));
        let mut cmds_open = true;
        loop {
            // Events (a turn's worth), then queued requests that may start now, then output.
            let mut backlog = self.process_events_bounded(TURN_EVENTS);
            if backlog && (io.write_failed() || !cmds_open) {
                // Nothing to interleave with: deliver everything now.
                self.process_events();
                backlog = false;
            }
            self.start_pending();
            self.fill(&mut io);
            if !backlog {
                // Writing may finish a drain (our last GOAWAY) or close streams.
                self.process_events();
            }
            self.check_acks();
            if backlog {
                // Send what we have, let the tasks we woke make their next requests, and
                // send those before delivering the rest.
                io.write_now(&mut self.conn).await;
                self.note_io_error(&mut io);
                if !io.write_failed() {
                    tokio::task::yield_now().await;
                    self.delivered = 0;
                    self.handle_ready(&mut rx);
                    self.start_pending();
                    self.fill(&mut io);
                    io.write_now(&mut self.conn).await;
                    self.note_io_error(&mut io);
                }
                continue;
            }
            if self.conn.is_closed() && io.is_flushed() {
                break;
            }
            if io.read_closed() && (io.write_failed() || self.conn.is_closed()) && !io.has_output()
            {
                break;
            }
            if !cmds_open && self.terminated.is_none() {
                // Every handle, body and upload is gone: nobody can use the connection.
                let _ = self.conn.go_away(ErrorCode::NO_ERROR, Bytes::new());
                continue;
            }
            if self.delivered >= DELIVERED_YIELD {
                // Let the bodies take what this read brought before reading more; what they
                // give back goes out with the output already gathered, in one write.
                self.delivered = 0;
                run_woken_tasks().await;
                self.handle_ready(&mut rx);
                continue;
            }
            let wake = tokio::select! {
                biased;
                _ = io.step(&mut self.conn, &mut self.tracer, None) => Wake::Io,
                c = rx.recv(), if cmds_open => Wake::Cmd(c),
            };
            match wake {
                Wake::Io => self.note_io_error(&mut io),
                Wake::Cmd(Some(cmd)) => {
                    self.handle(cmd);
                    self.handle_ready(&mut rx);
                }
                Wake::Cmd(None) => cmds_open = false,
            }
        }
        self.shared.open.store(false, Ordering::Release);
        self.process_events();
        let fallback = self
            .terminated
            .clone()
            .unwrap_or(ConnectionError::TransportClosed);
        self.fail_all(&fallback);
        io.shutdown(Duration::from_secs(1)).await;
    }

    /// Keeps the transport's first I/O error: requests it ends report it.
    fn note_io_error<T>(&mut self, io: &mut Transport<T>) {
        if let Some(e) = io.take_error() {
            if self.io_error.is_none() {
                self.io_error = Some(Arc::new(e));
            }
        }
    }

    /// Handles the commands already waiting, at most [`COMMAND_BATCH`] (bounds latency under
    /// load).
    fn handle_ready(&mut self, rx: &mut mpsc::UnboundedReceiver<Cmd>) {
        for _ in 0..COMMAND_BATCH {
            match rx.try_recv() {
                Ok(cmd) => self.handle(cmd),
                Err(_) => break,
            }
        }
    }

    /// Returns the capacity bodies pooled in [`Shared::released`] to the connection window.
    fn drain_released(&mut self) {
        if self.shared.released.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut n = self.shared.released.swap(0, Ordering::AcqRel);
        while n > 0 {
            let part = u32::try_from(n).unwrap_or(u32::MAX);
            // Stream 0 is no stream: only the connection window is reopened.
            self.conn.release_capacity(StreamId::ZERO, part);
            n -= u64::from(part);
        }
    }

    // ------------------------------------------------------------------ commands

    fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Request(req) => {
                if let Some(error) = self.closed_error(None) {
                    req.tx.send_head(Err(error));
                    return;
                }
                if req.extended && !self.got_settings {
                    self.before_settings.push_back(req);
                    return;
                }
                self.pending.push_back(req);
                self.start_pending();
            }
            Cmd::Data { id, data, ack } => match self.conn.send_data(id, data, false) {
                Ok(()) => {
                    let queued = self.conn.stream(id).map_or(0, |s| s.queued());
                    match self.slots.get_mut(&id) {
                        Some(slot) if queued >= UPLOAD_LOW_WATER => {
                            slot.ack = Some(ack);
                            self.acks.push(id);
                        }
                        _ => {
                            let _ = ack.send(Ok(()));
                        }
                    }
                }
                Err(e) => {
                    let _ = ack.send(Err(Error::Usage(e)));
                }
            },
            Cmd::Finish { id, trailers } => {
                let result = match trailers {
                    Some(t) if !t.is_empty() => self.conn.send_trailers(id, trailer_fields(&t)),
                    _ => self.conn.send_data(id, Bytes::new(), true),
                };
                if let Err(e) = result {
                    if let Some(mut slot) = self.slots.remove(&id) {
                        let _ = self.conn.reset(id, ErrorCode::INTERNAL_ERROR);
                        slot.fail(&Error::Usage(e));
                    }
                    return;
                }
                if let Some(slot) = self.slots.get_mut(&id) {
                    slot.send_done = true;
                }
                self.maybe_remove(id);
            }
            Cmd::UploadFailed { id, error } => {
                let _ = self.conn.reset(id, ErrorCode::CANCEL);
                if let Some(mut slot) = self.slots.remove(&id) {
                    slot.fail(&error);
                }
            }
            Cmd::Release { id, len } => self.conn.release_capacity(id, len),
            // `drain_released` runs before every write.
            Cmd::Released => {}
            Cmd::BodyDropped {
                id,
                unreleased,
                ended,
            } => {
                if unreleased > 0 {
                    self.conn.release_capacity(id, unreleased);
                }
                if let Some(slot) = self.slots.get_mut(&id) {
                    slot.tx = None;
                    if !ended && !slot.recv_done {
                        self.cancel_stream(id);
                    }
                }
            }
            Cmd::Ping { reply } => {
                self.ping_counter += 1;
                let payload = (self.ping_counter | 0x636c_6900_0000_0000).to_be_bytes();
                match self.conn.ping(payload) {
                    Ok(()) => self.pings.push((payload, Instant::now(), reply)),
                    Err(UsageError::ConnectionClosed) => {
                        let e = self.closed_error(None).unwrap_or(Error::ConnectionClosed);
                        let _ = reply.send(Err(e));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(Error::Usage(e)));
                    }
                }
            }
            Cmd::Stats { reply } => {
                let _ = reply.send(Ok(self.conn.window_stats()));
            }
            Cmd::Shutdown => {
                let _ = self.conn.graceful_shutdown();
                self.shared.open.store(false, Ordering::Release);
            }
        }
    }

    fn cancel_stream(&mut self, id: StreamId) {
        let _ = self.conn.reset(id, ErrorCode::CANCEL);
        if let Some(mut slot) = self.slots.remove(&id) {
            slot.fail(&Error::Reset(StreamError::Reset {
                code: ErrorCode::CANCEL,
                initiator: Initiator::Local,
            }));
        }
    }

    fn maybe_remove(&mut self, id: StreamId) {
        if let Some(slot) = self.slots.get(&id) {
            if slot.recv_done && slot.send_done {
                self.slots.remove(&id);
            }
        }
    }

    fn start_pending(&mut self) {
        while let Some(req) = self.pending.pop_front() {
            if let Err(req) = self.start(req) {
                self.pending.push_front(req);
                break;
            }
        }
    }

    /// Opens the stream for `req`; gives it back when the peer's concurrency limit is reached.
    fn start(&mut self, req: PendingRequest) -> Result<(), PendingRequest> {
        if !self.got_settings && self.conn.open_outbound_streams() >= STREAMS_BEFORE_SETTINGS {
            return Err(req);
        }
        if self.conn.can_open_stream() == Err(UsageError::ConcurrencyLimit) {
            // The core would refuse it: keep the fields for the next try.
            return Err(req);
        }
        let tunnel = req.tunnel;
        // Sent unless the request was abandoned meanwhile (then nothing is). The limits
        // were checked just above: the concurrency limit is no answer here.
        let sent = req.tx.open(|out| {
            // Every request's exchange holds what it sends until this step.
            let out = out.ok_or(UsageError::ConnectionClosed)?;
            let end = out.body.is_empty() && !tunnel;
            let fields = match out.head {
                RequestHead::Fields(fields) => fields,
                RequestHead::Http1(head) => request_fields(&head, &Origin::default()).into(),
            };
            // The method and path for the stream's span, read from the fields before they
            // go out (only when debug spans may be recorded at all).
            let names = tracing::level_enabled!(tracing::Level::DEBUG).then(|| {
                let path = field_text(&fields, b":path");
                (
                    field_text(&fields, b":method").to_owned(),
                    path.split('?').next().unwrap_or_default().to_owned(),
                )
            });
            let id = self.conn.send_request(fields, end)?;
            Ok((id, (out.body, out.pushes, out.decompress, end, names)))
        });
        let (id, (mut body, pushes, decompress, end, names)) = match sent {
            None => return Ok(()),
            Some(Ok(sent)) => sent,
            Some(Err(e)) => {
                let error = match e {
                    UsageError::ConnectionClosed => {
                        self.closed_error(None).unwrap_or(Error::ConnectionClosed)
                    }
                    UsageError::InvalidHeaders(h) => Error::InvalidRequest(h.to_string()),
                    UsageError::ExtendedConnectDisabled => Error::ExtendedConnectDisabled,
                    other => Error::Usage(other),
                };
                req.tx.send_head(Err(error));
                return Ok(());
            }
        };
        // The stream's span (a child of the connection's): the request's upload runs in it.
        let (method, path) = names
            .as_ref()
            .map_or(("", ""), |(m, p)| (m.as_str(), p.as_str()));
        let span = tracing::debug_span!("stream", id = id.get(), method = %method, path = path);
        span.in_scope(|| tracing::trace!(end_stream = end, "request sent"));
        let PendingRequest { tx, extended, .. } = req;
        let mut slot = Slot {
            tx: Some(tx),
            head_sent: false,
            pushes,
            ack: None,
            decompress,
            recv_done: false,
            send_done: end,
            extended,
            half_close: false,
            data_seen: false,
        };
        if !end && !tunnel {
            match &body.full {
                Some(b) if b.len() <= INLINE_BODY => {
                    let b = b.clone();
                    match self.conn.send_data(id, b, true) {
                        Ok(()) => slot.send_done = true,
                        Err(e) => {
                            let _ = self.conn.reset(id, ErrorCode::INTERNAL_ERROR);
                            slot.fail(&Error::Usage(e));
                            return Ok(());
                        }
                    }
                }
                _ => {
                    if let Some(link) = self.link.upgrade() {
                        let trailers = body.trailers.take().map(|t| *t);
                        let upload = upload(id, body, trailers, link.tx.clone());
                        tokio::spawn(upload.instrument(span));
                    }
                }
            }
        }
        self.slots.insert(id, slot);
        Ok(())
    }

    /// The error a request gets when the connection no longer accepts it; `id` is the
    /// request's stream, `None` when it was never sent.
    fn closed_error(&self, id: Option<StreamId>) -> Option<Error> {
        if let Some(e) = &self.terminated {
            return Some(self.map_conn_error(e, id));
        }
        if let Some((code, last, debug)) = &self.goaway {
            if id.is_none_or(|id| id > *last) {
                return Some(Error::GoAway {
                    code: *code,
                    last_stream_id: *last,
                    debug_data: debug.clone(),
                    retryable: true,
                });
            }
        }
        if !self.shared.open.load(Ordering::Acquire) && id.is_none() {
            return Some(Error::ConnectionClosed);
        }
        None
    }

    fn map_conn_error(&self, e: &ConnectionError, id: Option<StreamId>) -> Error {
        let goaway = |code: ErrorCode, last: StreamId, debug: Bytes| Error::GoAway {
            code,
            last_stream_id: last,
            debug_data: debug,
            retryable: id.is_none_or(|id| id > last),
        };
        match e {
            ConnectionError::GoAway {
                code,
                last_stream_id,
                debug_data,
                initiator: Initiator::Remote,
            } => goaway(*code, *last_stream_id, debug_data.clone()),
            ConnectionError::TransportClosed => {
                if let Some(io) = &self.io_error {
                    Error::Io(io.clone())
                } else if let Some((code, last, debug)) = &self.goaway {
                    goaway(*code, *last, debug.clone())
                } else {
                    Error::ConnectionClosed
                }
            }
            ConnectionError::IdleTimeout => Error::Timeout,
            ConnectionError::GoAway { .. } => Error::ConnectionClosed,
            other => Error::Connection(other.clone()),
        }
    }

    fn fail_all(&mut self, e: &ConnectionError) {
        let slots: Vec<(StreamId, Slot)> = self.slots.drain().collect();
        for (id, mut slot) in slots {
            let error = self.map_conn_error(e, Some(id));
            slot.fail(&error);
        }
        let waiting = std::mem::take(&mut self.pending);
        let before_settings = std::mem::take(&mut self.before_settings);
        for req in waiting.into_iter().chain(before_settings) {
            req.tx.send_head(Err(self.map_conn_error(e, None)));
        }
        for (_, _, reply) in self.pings.drain(..) {
            let _ = reply.send(Err(Error::ConnectionClosed));
        }
    }

    fn check_acks(&mut self) {
        let mut i = 0;
        while i < self.acks.len() {
            let id = self.acks[i];
            let queued = self.conn.stream(id).map_or(0, |s| s.queued());
            if queued < UPLOAD_LOW_WATER {
                if let Some(ack) = self.slots.get_mut(&id).and_then(|s| s.ack.take()) {
                    let _ = ack.send(Ok(()));
                }
                self.acks.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }

    // ------------------------------------------------------------------ events

    fn process_events(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            self.on_event(event);
        }
    }

    /// Handles at most `max` events; `true` when it stopped at the limit (more may wait).
    fn process_events_bounded(&mut self, max: usize) -> bool {
        for _ in 0..max {
            match self.conn.poll_event() {
                Some(event) => self.on_event(event),
                None => return false,
            }
        }
        true
    }

    /// Gathers output for the transport (returning pooled capacity to the window first).
    fn fill<T>(&mut self, io: &mut Transport<T>) {
        self.drain_released();
        io.fill(&mut self.conn, Instant::now(), &mut self.tracer);
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Response {
                stream,
                headers,
                end_stream,
                ..
            } => {
                self.on_response(stream, &headers, end_stream);
                // The next response decodes into this list: no allocation per response.
                self.conn.recycle_fields(headers);
            }
            Event::Data {
                stream,
                data,
                flow_controlled_len,
                end_stream,
            } => {
                let Some(slot) = self.slots.get_mut(&stream) else {
                    if flow_controlled_len > 0 {
                        self.conn.release_capacity(stream, flow_controlled_len);
                    }
                    return;
                };
                self.delivered += data.len();
                if !slot.data_seen {
                    slot.data_seen = true;
                    // A body of more than one frame: tell it the declared length, which
                    // `collect` sizes its buffer from (one lookup per such body).
                    if let (false, Some(tx)) = (end_stream, &slot.tx) {
                        if let Some(len) = self.conn.stream(stream).and_then(|s| s.content_length())
                        {
                            tx.hint_length(len);
                        }
                    }
                }
                let item = Item::Data {
                    data,
                    flow: flow_controlled_len,
                    end: end_stream,
                };
                let sent = if end_stream {
                    // The DATA carries the end: `end_slot` has nothing to send.
                    slot.tx.take().is_some_and(|tx| tx.send_last(item).is_ok())
                } else {
                    slot.tx.as_ref().is_some_and(|tx| tx.send(item).is_ok())
                };
                if !sent && flow_controlled_len > 0 {
                    self.conn.release_capacity(stream, flow_controlled_len);
                }
                // One map lookup for the DATA, its end and the slot's removal.
                if end_stream && end_slot(&mut self.conn, stream, slot, None) {
                    self.slots.remove(&stream);
                }
            }
            Event::Trailers { stream, headers } => match header_map(&headers, &mut self.heads) {
                Ok(map) => self.end_recv(stream, Some(map)),
                Err(e) => self.malformed(stream, e),
            },
            Event::StreamReset { stream, error } => {
                tracing::debug!(stream = stream.get(), %error, "stream reset");
                let error = match &self.goaway {
                    Some((gcode, last, debug))
                        if stream > *last && error.code() == ErrorCode::REFUSED_STREAM =>
                    {
                        Error::GoAway {
                            code: *gcode,
                            last_stream_id: *last,
                            debug_data: debug.clone(),
                            retryable: true,
                        }
                    }
                    _ => Error::Reset(error),
                };
                if let Some(mut slot) = self.slots.remove(&stream) {
                    slot.fail(&error);
                }
            }
            Event::PushPromise {
                stream,
                promised,
                headers,
            } => self.on_push(stream, promised, &headers),
            Event::PingAcknowledged { payload, rtt } => {
                if let Some(pos) = self.pings.iter().position(|p| p.0 == payload) {
                    let (_, sent, reply) = self.pings.swap_remove(pos);
                    let _ = reply.send(Ok(rtt.unwrap_or_else(|| sent.elapsed())));
                }
            }
            Event::GoAway {
                code,
                last_stream_id,
                debug_data,
            } => {
                self.shared.open.store(false, Ordering::Release);
                self.goaway = Some((code, last_stream_id, debug_data));
                let error = self.closed_error(None).unwrap_or(Error::ConnectionClosed);
                let waiting = std::mem::take(&mut self.pending);
                let before_settings = std::mem::take(&mut self.before_settings);
                for req in waiting.into_iter().chain(before_settings) {
                    req.tx.send_head(Err(error.clone()));
                }
            }
            Event::RemoteSettings { .. } => {
                self.got_settings = true;
                // The extended CONNECTs held back can be judged now (`start`).
                self.pending.extend(self.before_settings.drain(..));
            }
            Event::AltSvc {
                stream,
                origin,
                field_value,
            } => {
                let mut seen = lock_advertised(&self.shared);
                // Bounded: a server repeating itself replaces, and at most 16 are kept.
                if seen.alt_svc.len() >= MAX_ADVERTISED {
                    seen.alt_svc.remove(0);
                }
                seen.alt_svc.push(crate::AltSvc {
                    stream,
                    origin: String::from_utf8_lossy(&origin).into_owned(),
                    value: String::from_utf8_lossy(&field_value).into_owned(),
                });
            }
            Event::Origin { origins } => {
                // RFC 8336 §2.3: each ORIGIN frame replaces the set.
                let mut seen = lock_advertised(&self.shared);
                seen.origins = origins
                    .iter()
                    .take(MAX_ADVERTISED)
                    .map(|o| String::from_utf8_lossy(o).into_owned())
                    .collect();
            }
            Event::Terminated { error } => {
                self.shared.open.store(false, Ordering::Release);
                self.terminated = Some(error.clone());
                self.fail_all(&error);
            }
            _ => {}
        }
    }

    fn on_response(&mut self, stream: StreamId, headers: &[Field], end_stream: bool) {
        let Some(slot) = self.slots.get_mut(&stream) else {
            return;
        };
        if slot.head_sent {
            return;
        }
        let Some(tx) = slot.tx.as_ref() else {
            return;
        };
        let mut parts = match response_parts(headers, &mut self.heads) {
            Ok(parts) => parts,
            Err(e) => {
                self.malformed(stream, e);
                return;
            }
        };
        if self.conn.is_repeated_block(headers) {
            // A server answering one resource again and again: the next such head is a copy.
            self.heads.keep_response(headers, &parts);
        }
        slot.head_sent = true;
        slot.half_close = slot.extended && parts.status.is_success();
        parts.version = http::Version::HTTP_2;
        let decoder = if slot.decompress {
            ContentDecoder::take_from(&mut parts, self.max_decoded)
        } else {
            None
        };
        let head = Head {
            parts,
            stream,
            decoder,
        };
        if !tx.send_head(Ok(head)) {
            // The caller gave up on the response.
            self.cancel_stream(stream);
            return;
        }
        if end_stream {
            if let Some(tx) = slot.tx.take() {
                let _ = tx.send_last(Item::End);
            }
            slot.recv_done = true;
            self.maybe_remove(stream);
        }
    }

    /// A response head or trailers `http` cannot represent (only possible with validation
    /// off): the request fails and the stream is reset.
    fn malformed(&mut self, stream: StreamId, error: HeaderError) {
        let _ = self.conn.reset(stream, ErrorCode::PROTOCOL_ERROR);
        if let Some(mut slot) = self.slots.remove(&stream) {
            slot.fail(&Error::InvalidResponse(error.to_string()));
        }
    }

    fn end_recv(&mut self, stream: StreamId, trailers: Option<HeaderMap>) {
        let Some(slot) = self.slots.get_mut(&stream) else {
            return;
        };
        if end_slot(&mut self.conn, stream, slot, trailers) {
            self.slots.remove(&stream);
        }
    }

    fn on_push(&mut self, stream: StreamId, promised: StreamId, headers: &[Field]) {
        let sender = self.slots.get(&stream).and_then(|s| s.pushes.clone());
        let request = request_parts(headers, &mut self.heads)
            .ok()
            .map(|parts| http::Request::from_parts(parts, ()));
        // RFC 9113 §8.4: a push for an origin the server is not authoritative for is a
        // stream error. The server is trusted for this connection's authority only (over
        // TLS its certificate was checked for it), so any other is refused before the
        // application sees it.
        if let Some(r) = &request {
            let ours = r
                .uri()
                .authority()
                .is_some_and(|a| same_authority(a, &self.authority));
            if !ours {
                let _ = self.conn.reset(promised, ErrorCode::PROTOCOL_ERROR);
                return;
            }
        }
        // Unread pushes are bounded: each may hold up to a stream window of data.
        if self.shared.pushes.load(Ordering::Acquire) >= MAX_UNREAD_PUSHES {
            let _ = self.conn.reset(promised, ErrorCode::REFUSED_STREAM);
            return;
        }
        let (Some(sender), Some(request), Some(link)) = (sender, request, self.link.upgrade())
        else {
            let _ = self.conn.reset(promised, ErrorCode::CANCEL);
            return;
        };
        let (rtx, rrx) = item_channel();
        rtx.opened(promised);
        let push = Promise::new(request, promised, rrx, link);
        if sender.send(push).is_err() {
            let _ = self.conn.reset(promised, ErrorCode::CANCEL);
            return;
        }
        self.slots.insert(
            promised,
            Slot {
                tx: Some(rtx),
                head_sent: false,
                pushes: None,
                ack: None,
                decompress: self.decompress_pushes,
                recv_done: false,
                send_done: true,
                extended: false,
                half_close: false,
                data_seen: false,
            },
        );
    }
}

/// The value of the first field named `name`, as text ("" when absent or not UTF-8).
fn field_text<'a>(fields: &'a [Field], name: &[u8]) -> &'a str {
    fields
        .iter()
        .find(|f| f.name.as_ref() == name)
        .and_then(|f| std::str::from_utf8(&f.value).ok())
        .unwrap_or_default()
}

/// Records the end of the response on `stream` in its slot (handing the body its end or
/// trailers, and stopping an upload the server no longer reads). Returns whether the slot
/// is done with in both directions, for the caller to remove it: always, except for a
/// tunnel, whose request half stays open until the application closes it.
fn end_slot(
    conn: &mut Connection,
    stream: StreamId,
    slot: &mut Slot,
    trailers: Option<HeaderMap>,
) -> bool {
    slot.recv_done = true;
    slot.pushes = None;
    if let Some(tx) = slot.tx.take() {
        if slot.head_sent {
            let _ = tx.send_last(match trailers {
                Some(t) => Item::Trailers(Box::new(t)),
                None => Item::End,
            });
        } else {
            // Trailers without a final response cannot happen (the core checks framing).
            tx.send_head(Err(Error::InvalidResponse(
                "stream ended without a response".into(),
            )));
            slot.head_sent = true;
        }
    }
    if !slot.send_done && slot.half_close {
        // A tunnel (RFC 8441 §5): the server closed its half only.
        return false;
    }
    if !slot.send_done {
        // The server answered before our body ended: stop uploading (RFC 9113 §8.1).
        if let Some(a) = slot.ack.take() {
            let _ = a.send(Err(Error::Reset(StreamError::Reset {
                code: ErrorCode::NO_ERROR,
                initiator: Initiator::Local,
            })));
        }
        let _ = conn.reset(stream, ErrorCode::NO_ERROR);
        slot.send_done = true;
    }
    true
}

/// Lets the tasks already woken run before the caller goes on: the task wakes itself and
/// steps aside once, which puts it behind them in the runtime's queue. Unlike
/// `tokio::task::yield_now`, whose wake-up waits for the runtime's next I/O poll (a system
/// call), this costs only the re-scheduling.
async fn run_woken_tasks() {
    let mut stepped_aside = false;
    std::future::poll_fn(|cx| {
        if stepped_aside {
            return std::task::Poll::Ready(());
        }
        stepped_aside = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}

/// Streams a request body to the connection task, one piece at a time: the next piece is
/// read only when the task says the stream's queue has room (its windows are moving).
async fn upload(
    id: StreamId,
    mut body: Upload,
    trailers: Option<HeaderMap>,
    tx: mpsc::UnboundedSender<Cmd>,
) {
    while let Some(chunk) = body.chunk().await {
        let mut chunk = match chunk {
            Ok(c) => c,
            Err(error) => {
                let _ = tx.send(Cmd::UploadFailed { id, error });
                return;
            }
        };
        while !chunk.is_empty() {
            let piece = chunk.split_to(chunk.len().min(UPLOAD_PIECE));
            let (ack, done) = oneshot::channel();
            if tx
                .send(Cmd::Data {
                    id,
                    data: piece,
                    ack,
                })
                .is_err()
            {
                return;
            }
            match done.await {
                Ok(Ok(())) => {}
                _ => return,
            }
        }
    }
    let _ = tx.send(Cmd::Finish { id, trailers });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Forty 16 KiB responses, each one DATA frame with END_STREAM, through the smallest
    /// connection window (65,535): they only all arrive if the capacity their bodies pool
    /// in [`Shared::released`] goes back to the connection.
    #[tokio::test]
    async fn pooled_capacity_of_ended_bodies_reopens_the_connection_window() {
        let (ours, theirs) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            let mut conn = h2::server::handshake(theirs).await?;
            while let Some(request) = conn.accept().await {
                let (_, mut respond) = request?;
                let mut send = respond.send_response(http::Response::new(()), false)?;
                send.send_data(Bytes::from(vec![b'x'; 16 * 1024]), true)?;
            }
            Ok::<_, h2::Error>(())
        });
        let client = crate::Client::builder()
            .connection_window_size(65_535)
            .handshake(
                ours,
                "http".parse().unwrap(),
                "example.com".parse().unwrap(),
            )
            .unwrap();
        let all = async {
            for _ in 0..40 {
                let response = client.get("/").await.unwrap();
                let body = response.into_body().collect().await.unwrap();
                assert_eq!(body.len(), 16 * 1024);
            }
        };
        tokio::time::timeout(Duration::from_secs(10), all)
            .await
            .expect("the connection window stayed closed");
    }
}
