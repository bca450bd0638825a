//! One task per connection drives the sans-IO core by its documented contract; one task per
//! request runs the handler and pulls the response body as credit allows
//! ([`response`](crate::response)). A request without a body whose handler answers on its
//! first poll with a body already in memory is answered by the connection task itself,
//! without a task.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2kit::headers::is_token;
use h2kit::http::{HeadCache, extend_response_fields, header_map, request_parts};
use h2kit::{
    Connection, ErrorCode, Event, Field, FieldList, Initiator, StreamError, StreamId, StreamIdMap,
    UsageError,
};
use h2kit_io::{COMMAND_BATCH, PumpConfig, Step, Transport};
use http::uri::Scheme;
use http::{Method, Request, Response};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::AbortHandle;
use tracing::Instrument;

use crate::body::Body;
use crate::error::{BodyError, PushError};
use crate::handler::{FieldsRequest, Handler, PushConn, Pusher, StreamInfo};
use crate::log::{AccessLog, AccessLogger};
use crate::msg::{Cmd, Credit, Inbound, Incoming, Parked};
use crate::response::{
    LogLine, ResponseCtx, StreamGuard, opens_tunnel, send_body, send_response, without_body,
};
use crate::shutdown::Signal;

/// The least response data a stream may have in flight, whatever its window says, and the
/// least credit granted at a time.
const MIN_BUDGET: usize = 16 * 1024;
/// Bytes written in a row after which the driver gives the runtime a turn
/// (`yield_now`: the runtime polls its I/O driver before it resumes the task, unless
/// something else, such as a response task's command, wakes the task first; the
/// runtime's `event_interval` bounds that case, see [`crate::RUNTIME_EVENT_INTERVAL`])
/// and then reads what has arrived before it gathers more output. A connection whose output is all
/// in the core (responses answered at once) and whose writes never wait would otherwise
/// write until its task's cooperative budget runs out, and a tokio socket reports input
/// only from the readiness the runtime last saw: a request arriving meanwhile waits
/// behind all of it. With this, the driver's test sees 64 KB of DATA go out between a
/// PING's arrival and its answer while 24 MiB of such responses are written (the PING
/// was not answered before all of them were, without it).
const YIELD_AFTER_WRITING: usize = 64 * 1024;
/// How long a terminated connection may take to write its last frames.
const LINGER: Duration = Duration::from_secs(5);
/// How long response tasks may wait for credit while nothing waits for the socket (the
/// budget is held by bodies that took credit and have not produced their data, such as a
/// reader waiting on a slow source) before one of them gets credit beyond the budget.
const STARVE_GRACE: Duration = Duration::from_millis(50);
/// How long a response task may wait for credit before it is told to hand its body back
/// and end (see `ResponseCtx::park`): credit comes back within milliseconds while the socket
/// drains, so tasks park only when it does not (a peer that does not read), and a busy
/// connection does not pay a task per read.
const PARK_AFTER: Duration = Duration::from_millis(20);

/// Everything the connection task is started with.
pub(crate) struct ConnParams {
    pub(crate) handler: Arc<dyn Handler>,
    pub(crate) logger: Option<AccessLogger>,
    pub(crate) remote_addr: Option<SocketAddr>,
    pub(crate) tls: bool,
    pub(crate) shutdown: Signal,
    /// The core's `max_send_buffer_per_stream`: response credit never exceeds it.
    pub(crate) max_send_buffer: usize,
    /// Response body bytes the connection holds for all its streams together (see
    /// `Driver::grant_credit`).
    pub(crate) send_budget: usize,
    /// How long output may wait for a socket that accepts none of it before the connection
    /// is dropped (the core's `send_stall_timeout`).
    pub(crate) write_stall_timeout: Option<Duration>,
    /// How long the TLS handshake or the h2c preface may take (see
    /// `Builder::handshake_timeout`).
    pub(crate) handshake_timeout: Duration,
}

struct Entry {
    body_tx: Option<mpsc::UnboundedSender<Incoming>>,
    /// The stream's response credit, shared with its task; made when a task needs it (a
    /// response parked from the start has none until it is granted credit).
    credit: Option<Credit>,
    /// Permits handed out so far.
    granted: u64,
    /// The response task waits for credit: at least the first, up to the second.
    asked: Option<(usize, usize)>,
    /// `sent` when `grant_credit` last looked, and since when credit the task took has not
    /// turned into data (see `STARVE_GRACE`).
    last_sent: u64,
    stuck_since: Option<Instant>,
    /// When the task asked for the credit it waits for.
    asked_at: Option<Instant>,
    /// A response ready at once whose head is sent and whose body waits for credit before
    /// its task starts (see `Driver::park`).
    parked: Option<Box<Parked>>,
    /// Body bytes given to the core so far.
    sent: u64,
    response_done: bool,
    abort: Option<AbortHandle>,
    /// The response is complete, the handler dropped the request body unread and the client
    /// has sent [`STOP_UNREAD_AFTER`] bytes of body nobody will read: once the response is
    /// written, RST_STREAM NO_ERROR tells the client to stop uploading (RFC 9113 §8.1),
    /// instead of sending a body that is only thrown away.
    stop_request: bool,
    /// Request body bytes that arrived after the handler dropped the body (saturating).
    /// Below [`STOP_UNREAD_AFTER`] a stream whose response is complete stays half-closed, so
    /// what the client sends on it is still checked: a WINDOW_UPDATE that overflows still
    /// gets FLOW_CONTROL_ERROR and a body that contradicts its content-length still gets
    /// PROTOCOL_ERROR, instead of a NO_ERROR reset that raced them.
    discarded: u32,
}

impl Entry {
    /// Credit permits the stream holds and its task has not taken.
    fn permits(&self) -> usize {
        self.credit.as_ref().map_or(0, |c| c.available_permits())
    }

    /// The stream's credit, made if it has none yet.
    fn credit(&mut self) -> &Credit {
        self.credit
            .get_or_insert_with(|| Arc::new(Semaphore::new(0)))
    }
}

/// A response a handler produced in its task, for the connection to send (`Cmd::Ready`).
pub(crate) struct Ready {
    pub(crate) response: Response<Body>,
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) start: Option<Instant>,
}

impl std::fmt::Debug for Ready {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ready")
            .field("status", &self.response.status())
            .finish_non_exhaustive()
    }
}

/// Unread request body bytes after which an answered upload is stopped (see
/// `Entry::stop_request`): one maximum-size frame at the default SETTINGS_MAX_FRAME_SIZE.
/// Small bodies finish on their own, large ones waste at most this much more.
const STOP_UNREAD_AFTER: u32 = 16 * 1024;

/// Drives one connection until it closes.
///
/// The driver and the transport are built before the future, which then holds each once
/// (an `async fn` would keep its arguments beside the driver built from them: the core
/// twice). Idle connections are this future and little else.
pub(crate) fn run<S>(
    io: S,
    core: Connection,
    initial: Bytes,
    params: ConnParams,
) -> impl Future<Output = ()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut driver = Driver::new(core, params);
    // Over a socket that writes slices as they are (TCP), large DATA payloads go from the
    // handler's `Bytes` to `writev` without a copy into an output buffer.
    let vectored = !driver.tls && io.is_write_vectored();
    let pump = PumpConfig::default()
        .flush_after_write(driver.tls)
        .vectored(vectored);
    let pump = if vectored {
        pump.write_target(h2kit_io::VECTORED_WRITE_TARGET)
    } else {
        pump
    };
    let mut io = Transport::new(io, pump);
    async move {
        if let Err(e) = driver.run(&mut io, initial).await {
            tracing::debug!(error = %e, "connection ended with an I/O error");
        }
        driver.finish();
    }
}

struct Driver {
    core: Connection,
    handler: Arc<dyn Handler>,
    ctx: ResponseCtx,
    tls: bool,
    shutdown: Signal,
    /// The command channel, made when a request needs it (a task, a request body, a push)
    /// and released after [`RELEASE_LINK_AFTER`] without streams or anyone holding a sender
    /// (see [`Link`]). A request answered at once needs none.
    link: Option<Link>,
    /// What the pushers of every request share; it hands them the link's sender, making the
    /// link if the connection has none.
    push: Arc<PushConn>,
    /// Since when the link has been unused (no streams, no senders but ours).
    link_unused_since: Option<Instant>,
    /// Per-stream state, keyed with the core's keyed stream-id hash (peers choose the ids).
    streams: StreamIdMap<Entry>,
    max_budget: usize,
    /// See `ConnParams::send_budget`.
    send_budget: usize,
    /// Streams whose tasks asked for credit may now get it (a task asked, or an entry left).
    credit_dirty: bool,
    /// The lowest stream id the next grant round starts at (round robin).
    next_grant: u32,
    /// Scratch list of streams waiting for credit: id and bytes outstanding.
    waiting: Vec<(u32, u64)>,
    /// See `ConnParams::write_stall_timeout`.
    write_stall_timeout: Option<Duration>,
    /// Since when gathered output has waited for the socket without any of it written.
    write_blocked_since: Option<Instant>,
    /// Since when response tasks have waited for credit that only bodies still producing
    /// their data hold (see `STARVE_GRACE`).
    starved_since: Option<Instant>,
    /// When a waiting task will have waited `PARK_AFTER`.
    park_due: Option<Instant>,
    terminated_at: Option<Instant>,
    /// Entries with `stop_request` set.
    stop_requests: usize,
    /// Output the socket would not take at once (`Transport::backlog`) when credit was last
    /// granted: it counts against `send_budget` like data the core holds.
    backlog: u64,
    /// The last request head checked for [`Handler::answer_fields`].
    head_memo: HeadMemo,
    /// Bytes written since the driver last yielded (see [`YIELD_AFTER_WRITING`]).
    written_since_yield: usize,
}

/// How long a connection keeps an unused command channel: long enough that a client making
/// one request after another does not pay for a new one each time, short enough that idle
/// connections do not hold one (about 2.6 KiB: the channel's first block of slots and its
/// state).
const RELEASE_LINK_AFTER: Duration = Duration::from_secs(1);

/// The channel request tasks, request bodies and pushers send [`Cmd`]s on. Its sender is
/// also in the pushers' [`PushConn`] slot while it exists.
struct Link {
    tx: mpsc::UnboundedSender<Cmd>,
    rx: mpsc::UnboundedReceiver<Cmd>,
}

thread_local! {
    /// What this thread remembers of the request heads it converted (header names, the
    /// last `:authority`), shared by the connections it serves: clients send the same names
    /// on every connection, and a cache per connection (1.3 KiB) would be held by each.
    static HEADS: std::cell::RefCell<HeadCache> = std::cell::RefCell::new(HeadCache::default());
}

/// Runs `f` with this thread's [`HeadCache`].
fn with_heads<T>(f: impl FnOnce(&mut HeadCache) -> T) -> T {
    HEADS.with(|heads| f(&mut heads.borrow_mut()))
}

/// Whether `value` is one `http::HeaderValue` takes: no control octet but tab, no DEL.
/// Eight octets at a time when none is below 0x20 or 0x7f or above (the usual ASCII
/// text), else octet by octet.
fn http_value(value: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const SPACES: u64 = u64::from_ne_bytes([0x20; 8]);
    let exact = |bytes: &[u8]| {
        bytes
            .iter()
            .all(|&b| (b >= 0x20 && b != 0x7f) || b == b'\t')
    };
    let mut words = value.chunks_exact(8);
    for chunk in &mut words {
        let w = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
        // A high bit set in `w`, a byte below 0x20 (the subtraction borrows into its high
        // bit) or a DEL (0x7f + 1 sets it): look closer.
        let suspect = (w | w.wrapping_sub(SPACES) | w.wrapping_add(ONES)) & HIGHS;
        if suspect != 0 && !exact(chunk) {
            return false;
        }
    }
    exact(words.remainder())
}

/// Where a request head's method and path are, as [`fields_head`] found them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HeadAt {
    /// The index of the `:method` field.
    method: usize,
    /// The index of the `:path` field.
    path: usize,
    /// The length of the path without its query (a character boundary).
    path_end: usize,
}

impl HeadAt {
    /// The method and the path (without its query) in `fields`, the head this was found in
    /// (or one with the same bytes).
    fn get(self, fields: &[Field]) -> Option<(&[u8], &str)> {
        let method = &fields.get(self.method)?.value[..];
        let path = fields.get(self.path)?.value.get(..self.path_end)?;
        Some((method, std::str::from_utf8(path).ok()?))
    }
}

/// The method and the path (without its query) of a request head that `request_parts`
/// converts, for [`Handler::answer_fields`]: the checks it makes, without building
/// anything. `None` sends the request the usual way, which refuses what does not convert.
fn fields_head(fields: &[Field]) -> Option<HeadAt> {
    let (mut method, mut path, mut authority, mut scheme) = (None, None, None, false);
    for (i, f) in fields.iter().enumerate() {
        match &f.name[..] {
            b":method" => method = Some(i),
            b":scheme" => scheme = matches!(&f.value[..], b"http" | b"https"),
            b":authority" => authority = Some(&f.value),
            b":path" => path = Some(i),
            name if name.first() == Some(&b':') => return None,
            name => {
                // As `HeaderName` and `HeaderValue` take them.
                if !is_token(name) || !http_value(&f.value) {
                    return None;
                }
            }
        }
    }
    let method = method.filter(|&m| is_token(&fields[m].value))?;
    if !scheme {
        return None;
    }
    let authority = authority?;
    with_heads(|heads| heads.authority.parse(authority)).ok()?;
    let path_at = path?;
    let path = &fields[path_at].value;
    http::uri::PathAndQuery::from_maybe_shared(path.clone()).ok()?;
    let path_end = path.iter().position(|&b| b == b'?').unwrap_or(path.len());
    std::str::from_utf8(&path[..path_end]).ok()?;
    Some(HeadAt {
        method,
        path: path_at,
        path_end,
    })
}

/// How long a connection keeps its [`HeadMemo`] unused (its fields hold the bytes of the
/// last request head, which an idle connection should not).
const RELEASE_HEAD_MEMO_AFTER: Duration = Duration::from_secs(1);

/// The last request head [`fields_head`] checked that the core's receive memo handed out: a
/// head whose block came again with the same octets arrives as the memo's own shared list
/// ([`FieldList::Shared`]; clients such as h2load send the same head every time), so the
/// same list again is the same head, checked already.
///
/// Holding the list keeps it alive, so its address cannot be reused by another while it is
/// compared.
#[derive(Default)]
struct HeadMemo {
    /// The head, once the core has handed it out as repeated.
    fields: Option<Arc<[Field]>>,
    /// What checking it found.
    at: Option<HeadAt>,
    /// Whether it served a head since the last [`release_head_memo`](Driver::release_head_memo).
    used: bool,
    /// Since when it has gone unused.
    unused_since: Option<Instant>,
}

impl HeadMemo {
    /// Where `fields`' method and path are, if `request_parts` would convert the head; a
    /// shared list (a repeated head) is remembered with the answer.
    fn check(&mut self, fields: &FieldList) -> Option<HeadAt> {
        let FieldList::Shared(shared) = fields else {
            return fields_head(fields);
        };
        self.used = true;
        if self
            .fields
            .as_ref()
            .is_some_and(|kept| Arc::ptr_eq(kept, shared))
        {
            return self.at;
        }
        self.at = fields_head(shared);
        self.fields = Some(shared.clone());
        self.at
    }
}

/// The connection's command channel: the one it has, the one a pusher made, or a new one
/// (whose sender the pushers' slot then holds).
fn ensure_link<'a>(link: &'a mut Option<Link>, push: &PushConn) -> &'a Link {
    link.get_or_insert_with(|| {
        let mut slot = push.link.lock().unwrap_or_else(|e| e.into_inner());
        if let (Some(tx), Some(rx)) = (slot.tx.clone(), slot.made_rx.take()) {
            return Link { tx, rx };
        }
        let (tx, rx) = mpsc::unbounded_channel();
        slot.tx = Some(tx.clone());
        Link { tx, rx }
    })
}

/// The next command; without a link, `None` once a pusher made one (the loop then takes
/// it, see [`ensure_link`]).
async fn next_cmd(link: &mut Option<Link>, push: &PushConn) -> Option<Cmd> {
    match link {
        Some(link) => link.rx.recv().await,
        None => {
            std::future::poll_fn(|cx| {
                let mut slot = push.link.lock().unwrap_or_else(|e| e.into_inner());
                if slot.made_rx.is_some() {
                    return Poll::Ready(None);
                }
                match &slot.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => slot.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            })
            .await
        }
    }
}

enum Wake {
    Io(Step),
    Cmd(Option<Cmd>),
    Shutdown,
}

impl Driver {
    fn new(core: Connection, params: ConnParams) -> Self {
        let max_budget = params.max_send_buffer.clamp(1, 1 << 20);
        let ctx = ResponseCtx {
            logger: params.logger,
            remote_addr: params.remote_addr,
            min_read: MIN_BUDGET.min(max_budget),
            park: Arc::new(tokio::sync::Notify::new()),
        };
        let scheme = if params.tls {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        };
        Driver {
            core,
            handler: params.handler,
            push: Arc::new(PushConn::new(scheme, ctx.clone())),
            ctx,
            tls: params.tls,
            shutdown: params.shutdown,
            link: None,
            link_unused_since: None,
            streams: StreamIdMap::default(),
            stop_requests: 0,
            max_budget,
            send_budget: params.send_budget.max(MIN_BUDGET.min(max_budget)),
            credit_dirty: false,
            next_grant: 0,
            waiting: Vec::new(),
            write_stall_timeout: params.write_stall_timeout,
            write_blocked_since: None,
            starved_since: None,
            park_due: None,
            terminated_at: None,
            backlog: 0,
            head_memo: HeadMemo::default(),
            written_since_yield: 0,
        }
    }

    async fn run<S>(&mut self, io: &mut Transport<S>, initial: Bytes) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut shutdown = if self.shutdown.is_down() {
            let _ = self.core.graceful_shutdown();
            None
        } else {
            Some(self.shutdown.watch())
        };
        if !initial.is_empty() {
            let _ = self.core.recv(Instant::now(), &initial);
        }
        // Not kept for the connection's life: it may hold the whole preface read buffer.
        drop(initial);
        // A time as good as a fresh look at the system clock, if one was taken in this same
        // run of the task: the wait below ended without the task being suspended, or the
        // read just gave the core the time it was made. A clock read costs about 50 ns on a
        // virtual machine; this saves two per request.
        let mut fresh: Option<Instant> = None;
        loop {
            let now = fresh.take().unwrap_or_else(Instant::now);
            self.drain_events();
            if self.stop_requests > 0 {
                // Unread body data may just have arrived for an answered stream.
                self.stop_unread_requests();
            }
            if self.starved_since.is_some_and(|t| now >= t + STARVE_GRACE) {
                // Look again: credit taken and unused for that long stops counting.
                self.starved_since = None;
                self.credit_dirty = true;
            }
            if self.park_due.is_some_and(|t| now >= t) {
                self.park_due = None;
                self.credit_dirty = true;
            }
            let filled = io.fill(&mut self.core, now, &mut ()) > 0;
            let backlog = io.backlog() as u64;
            if backlog < self.backlog {
                // Credit the backlog held is free again.
                self.credit_dirty = true;
            }
            self.backlog = backlog;
            if filled {
                self.grant_credit(now);
                if self.stop_requests > 0 {
                    self.stop_unread_requests();
                }
                // Writing may end a draining connection (Event::Terminated).
                self.drain_events();
            }
            if self.credit_dirty {
                self.grant_credit(now);
            }
            if !io.has_output() {
                self.write_blocked_since = None;
            } else if self.write_blocked_since.is_none() {
                self.write_blocked_since = Some(now);
            }
            let write_deadline = self
                .write_blocked_since
                .zip(self.write_stall_timeout)
                .map(|(since, timeout)| since + timeout);
            if write_deadline.is_some_and(|t| now >= t) {
                // The peer reads none of what we write (its windows may be wide open, which
                // the core's send-stall timeout cannot see): what we hold for it is bounded
                // by `send_budget`, the time by this.
                tracing::debug!("the peer reads nothing: closing the connection");
                return Ok(());
            }
            if let Some(e) = io.take_error() {
                return Err(e);
            }
            if io.is_flushed() && self.core.is_closed() {
                return Ok(());
            }
            if self.core.error().is_some() {
                let t = *self.terminated_at.get_or_insert(now);
                if now >= t + LINGER {
                    return Ok(());
                }
            }
            if self.link.is_none() && self.push.has_made_link() {
                // A pusher made the channel (a task of a handler that answered at once).
                self.link();
            }
            let release_link = self.release_unused_link(now);
            let release_memo = self.release_head_memo(now);
            let linger = self.terminated_at.map(|t| t + LINGER);
            let starve_deadline = self.starved_since.map(|t| t + STARVE_GRACE);
            let extra = [
                linger,
                write_deadline,
                starve_deadline,
                self.park_due,
                release_link,
                release_memo,
            ]
            .into_iter()
            .flatten()
            .min();
            let mut quiet = ();
            let mut waited = false;
            let wake = {
                let next = async {
                    tokio::select! {
                        step = io.step(&mut self.core, &mut quiet, extra) => Wake::Io(step),
                        c = next_cmd(&mut self.link, &self.push) => Wake::Cmd(c),
                        () = std::future::poll_fn(|cx| match shutdown.as_mut() {
                            Some(watch) => watch.poll_down(cx),
                            None => Poll::Pending,
                        }) => Wake::Shutdown,
                    }
                };
                let mut next = std::pin::pin!(next);
                std::future::poll_fn(|cx| {
                    let polled = next.as_mut().poll(cx);
                    waited |= polled.is_pending();
                    polled
                })
                .await
            };
            match wake {
                Wake::Io(Step::Read(_)) => {
                    if !self.on_read().await {
                        fresh = self.core.clock();
                    }
                }
                Wake::Io(Step::Wrote(n)) => {
                    self.write_blocked_since = None;
                    self.written_since_yield += n;
                    if !waited {
                        fresh = Some(now);
                    }
                    if self.written_since_yield >= YIELD_AFTER_WRITING {
                        fresh = None;
                        self.written_since_yield = 0;
                        // The runtime's I/O driver usually runs first, so the readiness the
                        // read below goes by is fresh; what arrived is read before more
                        // output is gathered, so a request that came meanwhile is
                        // scheduled ahead of it.
                        tokio::task::yield_now().await;
                        if let Some(Step::Read(_)) = io.read_now(&mut self.core, &mut quiet).await {
                            self.on_read().await;
                        }
                    }
                }
                Wake::Io(_) => {}
                Wake::Cmd(Some(c)) => {
                    self.on_cmd(c);
                    self.drain_commands();
                }
                Wake::Cmd(None) => {}
                Wake::Shutdown => {
                    shutdown = None;
                    let _ = self.core.graceful_shutdown();
                }
            }
        }
    }

    /// Handles what a read gave the core: its events, then the commands of the handlers
    /// they started.
    /// True when it let other tasks run.
    async fn on_read(&mut self) -> bool {
        let spawned = self.drain_events();
        if spawned {
            // Let the handlers just spawned answer, so their responses go out in the same
            // write.
            tokio::task::yield_now().await;
        }
        self.drain_commands();
        spawned
    }

    fn drain_commands(&mut self) {
        for _ in 0..COMMAND_BATCH {
            let Some(link) = &mut self.link else { return };
            match link.rx.try_recv() {
                Ok(c) => self.on_cmd(c),
                Err(_) => break,
            }
        }
    }

    /// The command channel, made if the connection has none.
    fn link(&mut self) -> &Link {
        self.link_unused_since = None;
        ensure_link(&mut self.link, &self.push)
    }

    /// Drops the command channel once it has been unused for [`RELEASE_LINK_AFTER`];
    /// returns when to look again while it is unused.
    fn release_unused_link(&mut self, now: Instant) -> Option<Instant> {
        let Some(link) = self.link.as_ref().filter(|_| self.streams.is_empty()) else {
            self.link_unused_since = None;
            return None;
        };
        // Nothing waits in it and nobody but this driver and the pushers' slot holds a
        // sender (checked, and the slot emptied, under the slot's lock: a pusher cannot
        // take a sender in between).
        let mut slot = self.push.link.lock().unwrap_or_else(|e| e.into_inner());
        if !link.rx.is_empty() || link.tx.strong_count() > 2 {
            self.link_unused_since = None;
            return None;
        }
        let since = *self.link_unused_since.get_or_insert(now);
        if now >= since + RELEASE_LINK_AFTER {
            slot.tx = None;
            drop(slot);
            self.link = None;
            self.link_unused_since = None;
            return None;
        }
        Some(since + RELEASE_LINK_AFTER)
    }

    /// Drops the head memo once it has gone unused for [`RELEASE_HEAD_MEMO_AFTER`]; returns
    /// when to look again while it is held.
    fn release_head_memo(&mut self, now: Instant) -> Option<Instant> {
        let memo = &mut self.head_memo;
        if memo.fields.is_none() {
            memo.unused_since = None;
            return None;
        }
        if std::mem::take(&mut memo.used) {
            memo.unused_since = Some(now);
        }
        let due = *memo.unused_since.get_or_insert(now) + RELEASE_HEAD_MEMO_AFTER;
        if now < due {
            return Some(due);
        }
        *memo = HeadMemo::default();
        None
    }

    /// Handles every pending event; true when a request task was spawned.
    fn drain_events(&mut self) -> bool {
        let mut spawned = false;
        while let Some(event) = self.core.poll_event() {
            match event {
                Event::Request {
                    stream,
                    headers,
                    end_stream,
                    priority,
                } => {
                    tracing::trace!(stream = stream.get(), end_stream, "request");
                    spawned |= self.on_request(stream, headers, end_stream, priority);
                }
                Event::Data {
                    stream,
                    data,
                    flow_controlled_len,
                    end_stream,
                } => self.on_data(stream, data, flow_controlled_len, end_stream),
                Event::Trailers { stream, headers } => {
                    let map = match with_heads(|heads| header_map(&headers, heads)) {
                        Ok(map) => map,
                        Err(error) => {
                            self.malformed(stream, error);
                            continue;
                        }
                    };
                    if let Some(e) = self.streams.get_mut(&stream) {
                        if let Some(tx) = e.body_tx.take() {
                            let _ = tx.send(Incoming::Trailers(map));
                        }
                    }
                    self.maybe_remove(stream);
                }
                Event::StreamReset { stream, error } => {
                    tracing::debug!(stream = stream.get(), %error, "stream reset");
                    if let Some(e) = self.streams.remove(&stream) {
                        Self::kill(e, BodyError::Reset(error));
                        self.credit_dirty = true;
                    }
                }
                Event::WindowUpdated { stream, .. } if stream.is_zero() => {
                    // The budget is bounded by the connection window (see `grant_credit`).
                    self.credit_dirty = true;
                }
                Event::Terminated { error } => {
                    tracing::debug!(%error, "connection terminated");
                    self.terminated_at.get_or_insert_with(Instant::now);
                    for (_, e) in self.streams.drain() {
                        Self::kill(e, BodyError::ConnectionClosed);
                    }
                }
                _ => {}
            }
        }
        spawned
    }

    /// Ends a stream's tasks: a handler still reading the request body learns the error from
    /// it; one that is not is aborted; a response being sent stops at its next credit wait.
    fn kill(e: Entry, error: BodyError) {
        if let Some(credit) = &e.credit {
            credit.close();
        }
        match e.body_tx {
            Some(tx) if tx.send(Incoming::Error(error)).is_ok() => {}
            _ => {
                if let Some(a) = e.abort {
                    a.abort();
                }
            }
        }
    }

    fn budget(&self, id: StreamId) -> usize {
        (self.core.send_capacity(id) as usize)
            .clamp(MIN_BUDGET.min(self.max_budget), self.max_budget)
    }

    /// A stream's entry, with no credit yet: its response task asks for credit when it has
    /// something to send (see `grant_credit`).
    fn new_entry(
        &mut self,
        id: StreamId,
        body_tx: Option<mpsc::UnboundedSender<Incoming>>,
    ) -> Credit {
        let credit = Arc::new(Semaphore::new(0));
        self.insert_entry(id, body_tx, Some(credit.clone()));
        credit
    }

    /// A stream's entry, with `credit` if a task is to share it.
    fn insert_entry(
        &mut self,
        id: StreamId,
        body_tx: Option<mpsc::UnboundedSender<Incoming>>,
        credit: Option<Credit>,
    ) {
        self.streams.insert(
            id,
            Entry {
                body_tx,
                credit,
                granted: 0,
                asked: None,
                last_sent: 0,
                stuck_since: None,
                asked_at: None,
                parked: None,
                sent: 0,
                response_done: false,
                stop_request: false,
                discarded: 0,
                abort: None,
            },
        );
    }

    /// Starts a request's handler; true when a task was spawned for it (false: it was
    /// answered at once, or refused).
    fn on_request(
        &mut self,
        stream: StreamId,
        mut headers: FieldList,
        end_stream: bool,
        priority: h2kit::PrioritySignal,
    ) -> bool {
        if end_stream && self.answer_from_fields(stream, &mut headers) {
            return false;
        }
        let mut parts = match with_heads(|heads| request_parts(&headers, heads)) {
            Ok(parts) => parts,
            Err(error) => {
                tracing::debug!(stream = stream.get(), %error, "request head refused");
                let _ = self.core.reset(stream, ErrorCode::PROTOCOL_ERROR);
                return false;
            }
        };
        // The stream's span: the handler's first call and poll here, its task and the
        // response it sends all run in it (a child of the connection's span).
        let span = tracing::debug_span!(
            "stream",
            id = stream.get(),
            method = %parts.method,
            path = parts.uri.path(),
        );
        let _entered = span.enter();
        // The request's field list, emptied, carries the response's fields if it is
        // answered at once: the core then reuses it for a later request (no list allocated).
        // A head shared with the core's memo has no list of its own.
        let mut headers = match headers {
            FieldList::Owned(mut list) => {
                list.clear();
                list
            }
            FieldList::Shared(_) => Vec::new(),
        };
        let (body, body_tx) = if end_stream {
            (Body::empty(), None)
        } else {
            let (tx, rx) = mpsc::unbounded_channel();
            let inbound = Inbound {
                rx,
                id: stream,
                cmd: self.link().tx.clone(),
                done: false,
            };
            (Body::inbound(inbound), Some(tx))
        };
        let pusher = Pusher {
            assoc: stream,
            authority: parts.uri.authority().cloned(),
            conn: self.push.clone(),
        };
        // One extension (each costs an allocation and a map entry).
        parts.extensions.insert(StreamInfo {
            stream_id: stream,
            priority,
            remote_addr: self.ctx.remote_addr,
            tls: self.tls,
            pusher,
        });
        let method = parts.method.clone();
        // Only the access log reads the path: skip the copy when there is none.
        let mut path = if self.ctx.logs() {
            parts
                .uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned())
        } else {
            String::new()
        };
        let request = Request::from_parts(parts, body);
        let start = self.ctx.log_start();
        let mut future = self.handler.call(request);
        // A request without a body whose handler answers on its first poll, with a body
        // already in memory, is answered here: no task, no commands, no credit. Any other
        // handler goes on in its own task, which polls it again with a real waker.
        let mut response = None;
        if body_tx.is_none() {
            let waker = std::task::Waker::noop();
            let mut cx = std::task::Context::from_waker(waker);
            let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                future.as_mut().poll(&mut cx)
            }));
            match polled {
                Ok(Poll::Ready(r)) => {
                    match self.answer_now(stream, &method, &mut path, r, start, &mut headers) {
                        None => return false,
                        Some(r) => response = Some(r),
                    }
                }
                Ok(Poll::Pending) => {}
                Err(_) => {
                    tracing::debug!(stream = stream.get(), "handler panicked");
                    let _ = self.core.reset(stream, ErrorCode::INTERNAL_ERROR);
                    return false;
                }
            }
        }
        if let Some(r) = response.take() {
            response = self.park(stream, method.clone(), &mut path, r, start, headers);
            if response.is_none() {
                return false;
            }
        }
        // A request without a body whose handler answers later hands the response back to
        // the connection, which sends it as it does one ready at once: the task ends there,
        // instead of waiting (with the whole response) for credit.
        let hand_back = body_tx.is_none() && response.is_none();
        let credit = self.new_entry(stream, body_tx);
        let cmd = self.link().tx.clone();
        let task = if hand_back {
            // A small task: the handler's future and what the log line needs, nothing of a
            // response being sent.
            tokio::spawn(
                async move {
                    let mut guard = StreamGuard {
                        id: stream,
                        cmd: cmd.clone(),
                        armed: true,
                    };
                    let response = future.await;
                    guard.armed = false;
                    let ready = Box::new(Ready {
                        response,
                        method,
                        path,
                        start,
                    });
                    let _ = cmd.send(Cmd::Ready { id: stream, ready });
                }
                .instrument(span.clone()),
            )
        } else {
            let ctx = self.ctx.clone();
            tokio::spawn(
                async move {
                    let guard = StreamGuard {
                        id: stream,
                        cmd: cmd.clone(),
                        armed: true,
                    };
                    let response = match response {
                        Some(r) => r,
                        None => future.await,
                    };
                    let mut guard = guard;
                    guard.armed = false;
                    send_response(
                        ctx, cmd, stream, credit, method, path, response, false, start,
                    )
                    .await;
                }
                .instrument(span.clone()),
            )
        };
        if let Some(e) = self.streams.get_mut(&stream) {
            e.abort = Some(task.abort_handle());
        }
        true
    }

    /// Sends the head of a response that was ready at once with a body to stream, and parks
    /// the body in the stream's entry: its task starts once the stream is granted credit
    /// (see `grant_credit`), so a stream waiting for the connection's budget costs its entry
    /// and its body, not a task (a flood of large responses nobody reads would otherwise
    /// hold one task per stream). Returns the response when it is not parked (a tunnel, or
    /// nothing to stream), `None` when it was parked or refused.
    fn park(
        &mut self,
        id: StreamId,
        method: Method,
        path: &mut String,
        response: Response<Body>,
        start: Option<Instant>,
        mut fields: Vec<Field>,
    ) -> Option<Response<Body>> {
        let status = response.status();
        // Only a body read on demand (a file, a reader) waits for credit before it produces
        // anything; any other produces its data first (a channel may hold a stream open
        // without sending) and asks for credit then, from its task.
        if opens_tunnel(&method, status)
            || response.body().is_end_stream()
            || !response.body().reads_on_demand()
        {
            return Some(response);
        }
        let (parts, body) = response.into_parts();
        fields.clear();
        // The head may wait in the core for a while (100 of them for a peer that opens 100
        // streams and reads nothing): room for its fields exactly, not the next power of
        // two the list would grow to (a static file's head: 7 fields, 448 bytes, not 512).
        fields.reserve_exact(parts.headers.len() + 1);
        extend_response_fields(&mut fields, status, &parts.headers);
        drop(parts);
        if let Err(error) = self.core.send_response(id, fields, false) {
            tracing::debug!(stream = id.get(), %error, "response refused by the core");
            let _ = self.core.reset(id, ErrorCode::INTERNAL_ERROR);
            return None;
        }
        let want = body.next_read_size().max(1);
        let min = self.ctx.min_read.min(want).max(1);
        if !self.streams.contains_key(&id) {
            // No task yet: the credit is made when the stream is granted some.
            self.insert_entry(id, None, None);
        }
        if let Some(e) = self.streams.get_mut(&id) {
            e.asked = Some((min, want));
            e.parked = Some(Box::new(Parked {
                line: LogLine {
                    method,
                    path: std::mem::take(path),
                    status,
                    pushed: false,
                    start,
                    bytes: 0,
                },
                body,
                min,
                want,
            }));
        }
        self.credit_dirty = true;
        None
    }

    /// Sends the response a handler produced in its task (`Cmd::Ready`) as one ready at once:
    /// answered now if its body is in memory, else parked until the stream has credit (a
    /// tunnel, or a response without body data, gets a task of its own).
    fn on_ready(&mut self, id: StreamId, ready: Ready) {
        let Some(e) = self.streams.get_mut(&id) else {
            return;
        };
        e.abort = None;
        let Ready {
            response,
            method,
            mut path,
            start,
        } = ready;
        let mut fields = Vec::new();
        let response = match self.answer_now(id, &method, &mut path, response, start, &mut fields) {
            None => {
                self.response_done(id);
                return;
            }
            Some(r) => r,
        };
        let Some(response) = self.park(id, method.clone(), &mut path, response, start, fields)
        else {
            if self.streams.get(&id).is_some_and(|e| e.parked.is_none()) {
                // Refused by the core (and reset).
                self.response_done(id);
            }
            return;
        };
        let Some(e) = self.streams.get_mut(&id) else {
            return;
        };
        let task = tokio::spawn(send_response(
            self.ctx.clone(),
            ensure_link(&mut self.link, &self.push).tx.clone(),
            id,
            e.credit().clone(),
            method,
            path,
            response,
            false,
            start,
        ));
        e.abort = Some(task.abort_handle());
    }

    /// Starts the task of a parked response (see `park`), which now has credit.
    fn unpark(ctx: &ResponseCtx, cmd: &mpsc::UnboundedSender<Cmd>, id: StreamId, e: &mut Entry) {
        if let Some(p) = e.parked.take() {
            let Parked { line, body, .. } = *p;
            let task = tokio::spawn(send_body(
                ctx.clone(),
                cmd.clone(),
                id,
                e.credit().clone(),
                line,
                None,
                body,
            ));
            e.abort = Some(task.abort_handle());
        }
    }

    /// Answers a request without a body by [`Handler::answer_fields`] when the handler can:
    /// no `http` types, no task. True when it did; the request's field list goes back to
    /// the core for the next block received.
    fn answer_from_fields(&mut self, id: StreamId, headers: &mut FieldList) -> bool {
        let Some((method, path)) = self.head_memo.check(headers).and_then(|at| at.get(headers))
        else {
            return false;
        };
        let request = FieldsRequest {
            method,
            path,
            fields: headers,
            max_body: self.budget(id),
            received: self.core.clock().unwrap_or_else(Instant::now),
        };
        let start = self.ctx.log_start();
        let Some(answer) = self.handler.answer_fields(&request) else {
            return false;
        };
        let Ok(method) = Method::from_bytes(method) else {
            return false;
        };
        let span = tracing::debug_span!("stream", id = id.get(), method = %method, path);
        let _entered = span.enter();
        let logged_path = self.ctx.logs().then(|| {
            headers
                .iter()
                .find(|f| &f.name[..] == b":path")
                .map_or_else(String::new, |f| {
                    String::from_utf8_lossy(&f.value).into_owned()
                })
        });
        let body = if without_body(&method, answer.status) {
            Bytes::new()
        } else {
            answer.body
        };
        // The response goes out with the handler's shared fields; the request's list, if
        // it has one of its own, is kept for the next block received.
        if let FieldList::Owned(list) = std::mem::replace(headers, FieldList::Owned(Vec::new())) {
            self.core.recycle_fields(list);
        }
        let log = logged_path.map(|path| (method, path, start));
        self.send_whole(id, answer.fields.into(), body, answer.status, log);
        true
    }

    /// Queues a whole response (its fields, then its body, if any) and writes its access log
    /// line when `log` gives the method, the path and the start; a response the core refuses
    /// resets the stream.
    fn send_whole(
        &mut self,
        id: StreamId,
        fields: FieldList,
        body: Bytes,
        status: http::StatusCode,
        log: Option<(Method, String, Option<Instant>)>,
    ) {
        let bytes = body.len() as u64;
        let sent = if body.is_empty() {
            self.core.send_response(id, fields, true)
        } else {
            self.core
                .send_response(id, fields, false)
                .and_then(|()| self.core.send_data(id, body, true))
        };
        let complete = match sent {
            Ok(()) => true,
            Err(error) => {
                tracing::debug!(stream = id.get(), %error, "response refused by the core");
                let _ = self.core.reset(id, ErrorCode::INTERNAL_ERROR);
                false
            }
        };
        if let Some((method, path, start)) = log {
            self.ctx.log(&AccessLog {
                method,
                path,
                status,
                bytes,
                duration: start.map_or(Duration::ZERO, |s| s.elapsed()),
                stream_id: id,
                remote_addr: self.ctx.remote_addr,
                complete,
                pushed: false,
            });
        }
    }

    /// Sends a response whose body is already in memory (no trailers, within the stream's
    /// budget) straight to the core and returns `None`; any other response comes back, to
    /// go out from a task.
    fn answer_now(
        &mut self,
        id: StreamId,
        method: &Method,
        path: &mut String,
        response: Response<Body>,
        start: Option<Instant>,
        fields: &mut Vec<Field>,
    ) -> Option<Response<Body>> {
        let (mut parts, mut body) = response.into_parts();
        let status = parts.status;
        if opens_tunnel(method, status) {
            parts.headers.remove(http::header::CONTENT_LENGTH);
        }
        let data = if without_body(method, status) {
            Bytes::new()
        } else {
            match body.take_complete() {
                Some(d) if d.len() <= self.budget(id) => d,
                Some(d) => return Some(Response::from_parts(parts, Body::full(d))),
                None => return Some(Response::from_parts(parts, body)),
            }
        };
        fields.clear();
        extend_response_fields(fields, status, &parts.headers);
        let fields = std::mem::take(fields);
        let log = self
            .ctx
            .logs()
            .then(|| (method.clone(), std::mem::take(path), start));
        self.send_whole(id, fields.into(), data, status, log);
        None
    }

    fn on_data(&mut self, stream: StreamId, data: Bytes, len: u32, end: bool) {
        let delivered = match self.streams.get_mut(&stream) {
            Some(e) => match &e.body_tx {
                Some(tx) => {
                    let ok = tx.send(Incoming::Data(data, len)).is_ok();
                    if end {
                        if let Some(tx) = e.body_tx.take() {
                            let _ = tx.send(Incoming::End);
                        }
                    }
                    ok
                }
                None => false,
            },
            None => false,
        };
        if !delivered {
            // Nobody will read it: give the window back at once.
            self.core.release_capacity(stream, len);
            self.note_discarded(stream, len);
        }
        if end {
            self.maybe_remove(stream);
        }
    }

    fn maybe_remove(&mut self, id: StreamId) {
        if let Some(e) = self.streams.get(&id) {
            if e.response_done && e.body_tx.is_none() {
                self.streams.remove(&id);
                self.credit_dirty = true;
            }
        }
    }

    fn fail_stream(&mut self, id: StreamId, error: UsageError) {
        tracing::debug!(stream = id.get(), %error, "response refused by the core");
        self.reset_stream(id, ErrorCode::INTERNAL_ERROR);
    }

    /// Trailers `http` cannot represent (only possible with validation off).
    fn malformed(&mut self, id: StreamId, error: h2kit::HeaderError) {
        tracing::debug!(stream = id.get(), %error, "request trailers refused");
        self.reset_stream(id, ErrorCode::PROTOCOL_ERROR);
    }

    /// Resets stream `id` with `code` and ends its tasks with that reset.
    fn reset_stream(&mut self, id: StreamId, code: ErrorCode) {
        let _ = self.core.reset(id, code);
        if let Some(e) = self.streams.remove(&id) {
            self.credit_dirty = true;
            Self::kill(
                e,
                BodyError::Reset(StreamError::Reset {
                    code,
                    initiator: Initiator::Local,
                }),
            );
        }
    }

    fn on_cmd(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Response {
                id,
                fields,
                data,
                end,
            } => {
                if !self.streams.contains_key(&id) {
                    return;
                }
                let data = data.filter(|d| !d.is_empty());
                let headers_end = end && data.is_none();
                if let Err(e) = self.core.send_response(id, fields, headers_end) {
                    self.fail_stream(id, e);
                    return;
                }
                if let Some(d) = data {
                    let len = d.len() as u64;
                    if let Err(e) = self.core.send_data(id, d, end) {
                        self.fail_stream(id, e);
                        return;
                    }
                    if let Some(e) = self.streams.get_mut(&id) {
                        e.sent += len;
                    }
                }
                if end {
                    self.response_done(id);
                }
            }
            Cmd::Data { id, data, end } => {
                if !self.streams.contains_key(&id) {
                    return;
                }
                let len = data.len() as u64;
                if let Err(e) = self.core.send_data(id, data, end) {
                    self.fail_stream(id, e);
                    return;
                }
                if let Some(e) = self.streams.get_mut(&id) {
                    e.sent += len;
                }
                if end {
                    self.response_done(id);
                }
            }
            Cmd::Trailers { id, fields } => {
                if !self.streams.contains_key(&id) {
                    return;
                }
                if let Err(e) = self.core.send_trailers(id, fields) {
                    self.fail_stream(id, e);
                    return;
                }
                self.response_done(id);
            }
            Cmd::Reset { id, code } => self.reset_stream(id, code),
            Cmd::Release { id, len } => {
                self.core.release_capacity(id, len);
                // A dropped body gives back what it never read.
                self.note_discarded(id, len);
            }
            Cmd::Push {
                assoc,
                fields,
                reply,
            } => {
                let result = if !self.core.peer_settings().enable_push {
                    Err(PushError::Disabled)
                } else {
                    match self.core.push_promise(assoc, fields) {
                        Ok(promised) => Ok((promised, self.new_entry(promised, None))),
                        Err(UsageError::PushDisabled) => Err(PushError::Disabled),
                        Err(UsageError::ConnectionClosed) => Err(PushError::ConnectionClosed),
                        Err(e) => Err(PushError::Refused(e)),
                    }
                };
                let _ = reply.send(result);
            }
            Cmd::Ready { id, ready } => self.on_ready(id, *ready),
            Cmd::Park { id, parked } => {
                let ctx = &self.ctx;
                let cmd = &ensure_link(&mut self.link, &self.push).tx;
                if let Some(e) = self.streams.get_mut(&id) {
                    e.abort = None;
                    let (min, want) = (parked.min, parked.want);
                    e.parked = Some(parked);
                    if e.permits() >= min {
                        // Granted while the task decided to park.
                        e.asked = None;
                        Self::unpark(ctx, cmd, id, e);
                    } else {
                        e.asked = Some((min, want));
                        self.credit_dirty = true;
                    }
                }
            }
            Cmd::Credit { id, min, want } => {
                if let Some(e) = self.streams.get_mut(&id) {
                    e.asked = Some((min, want));
                    e.asked_at = Some(Instant::now());
                    self.credit_dirty = true;
                }
            }
            Cmd::Abandoned { id } => {
                if self.streams.get(&id).is_some_and(|e| !e.response_done) {
                    self.fail_stream(id, UsageError::StreamClosed);
                }
            }
        }
    }

    fn response_done(&mut self, id: StreamId) {
        if let Some(e) = self.streams.get_mut(&id) {
            e.response_done = true;
            e.abort = None;
            if e.discarded >= STOP_UNREAD_AFTER
                && !e.stop_request
                && e.body_tx.as_ref().is_some_and(|tx| tx.is_closed())
            {
                e.stop_request = true;
                self.stop_requests += 1;
            }
        }
        self.maybe_remove(id);
    }

    /// `len` bytes of request body on `id` went unread (the handler dropped the body): past
    /// [`STOP_UNREAD_AFTER`], once the response is complete, the upload is stopped (see
    /// `Entry::stop_request`).
    fn note_discarded(&mut self, id: StreamId, len: u32) {
        if let Some(e) = self.streams.get_mut(&id) {
            if !e.body_tx.as_ref().is_some_and(|tx| tx.is_closed()) {
                return;
            }
            e.discarded = e.discarded.saturating_add(len);
            if e.discarded >= STOP_UNREAD_AFTER && e.response_done && !e.stop_request {
                e.stop_request = true;
                self.stop_requests += 1;
            }
        }
    }

    /// Resets, with NO_ERROR, the streams whose complete response is now written and whose
    /// request body nobody reads (see `Entry::stop_request`).
    fn stop_unread_requests(&mut self) {
        let done: Vec<StreamId> = self
            .streams
            .iter()
            .filter(|(_, e)| e.stop_request)
            .map(|(&id, _)| id)
            .filter(|&id| !self.core.stream(id).is_some_and(|s| s.has_output()))
            .collect();
        for id in done {
            let _ = self.core.reset(id, ErrorCode::NO_ERROR);
            self.streams.remove(&id);
            self.credit_dirty = true;
        }
        // Entries may also have left another way (the request ended after all).
        self.stop_requests = self.streams.values().filter(|e| e.stop_request).count();
    }

    /// Grants the response tasks waiting for credit what they asked for, within two budgets:
    /// the stream's (bytes handed out and not yet written stay within its send window, at
    /// least 16 KiB, at most 1 MiB) and the connection's (`send_budget` for all its streams
    /// together). Bytes "handed out" are permits not yet used, data on its way to the core
    /// and data queued in the core; they leave the budgets as the core writes them to the
    /// socket, so a peer that does not read holds at most `send_budget` of response data,
    /// however many streams it opens. Waiting streams are served round robin, at least
    /// `MIN_BUDGET` (or what they need, if less) at a time.
    fn grant_credit(&mut self, now: Instant) {
        self.credit_dirty = false;
        // Output the socket refused holds the budget too (a peer that reads nothing keeps
        // it), and its writing frees it.
        let mut used = self.backlog;
        // Credit taken by tasks and not yet written: its writing will free credit.
        let mut in_flight = self.backlog;
        // Data the core holds for the socket: written as the socket drains.
        let mut queued_any = self.backlog > 0;
        self.waiting.clear();
        for (&id, e) in self.streams.iter_mut() {
            let raw = id.get();
            let queued = self.core.stream(id).map_or(0, |s| s.queued()) as u64;
            queued_any |= queued > 0;
            if e.response_done {
                used += queued;
                in_flight += queued;
                continue;
            }
            let written = e.sent.saturating_sub(queued);
            let outstanding = e.granted.saturating_sub(written);
            let available = e.permits() as u64;
            // Credit the task took and has not turned into data yet: a file read takes
            // microseconds, a reader may wait on its source for as long as it likes.
            let taken = e.granted.saturating_sub(e.sent).saturating_sub(available);
            if taken == 0 || e.sent != e.last_sent {
                e.last_sent = e.sent;
                e.stuck_since = None;
            } else if now >= *e.stuck_since.get_or_insert(now) + STARVE_GRACE {
                // Stuck: its credit no longer holds the others back (the budget is exceeded
                // by it once its data comes).
                used += outstanding - taken;
                in_flight += outstanding.saturating_sub(available) - taken;
                if e.asked.is_some() {
                    self.waiting.push((raw, outstanding - taken));
                }
                continue;
            }
            used += outstanding;
            in_flight += outstanding.saturating_sub(available);
            if e.asked.is_some() {
                self.waiting.push((raw, outstanding));
            }
        }
        if self.waiting.is_empty() {
            self.starved_since = None;
            return;
        }
        // Data beyond the connection's send window cannot leave until the peer opens it:
        // the budget holds at most the window and one grant more (a peer that never opens
        // its connection window gets 16 KiB read ahead, not the whole budget).
        let window = u64::try_from(self.core.connection_send_window()).unwrap_or(0);
        let budget = (self.send_budget as u64).min(window + MIN_BUDGET.min(self.max_budget) as u64);
        let mut left = budget.saturating_sub(used);
        self.waiting.sort_unstable_by_key(|w| w.0);
        let start = self.waiting.partition_point(|w| w.0 < self.next_grant);
        self.waiting.rotate_left(start);
        let max_budget = self.max_budget as u64;
        let min_budget = MIN_BUDGET.min(self.max_budget) as u64;
        let mut granted_any = false;
        let mut park = false;
        let mut held_back = false;
        self.park_due = None;
        for i in 0..self.waiting.len() {
            let (raw, outstanding) = self.waiting[i];
            let capacity = u64::from(self.core.send_capacity(StreamId::new(raw)));
            let Some(e) = self.streams.get_mut(&StreamId::new(raw)) else {
                continue;
            };
            let Some((min, want)) = e.asked else {
                continue;
            };
            let budget = capacity.clamp(min_budget, max_budget);
            let have = e.permits() as u64;
            let full = (want as u64)
                .saturating_sub(have)
                .min(budget.saturating_sub(outstanding))
                .min(self.send_budget as u64);
            let add = if held_back { 0 } else { full.min(left) };
            // Less than a read asked for while data waits for the socket: its writing will
            // soon free enough for a whole read (a short read is copied out of its buffer),
            // and the streams after this one wait too, so that it is the next served.
            let whole_read = !held_back && min > 1 && add < full && queued_any;
            // Or not enough to let the task go on: it would only hold credit others need.
            if held_back || whole_read || add == 0 || have + add < min as u64 {
                if e.parked.is_none() {
                    match e.asked_at {
                        Some(t) if now >= t + PARK_AFTER => park = true,
                        Some(t) => {
                            let due = t + PARK_AFTER;
                            self.park_due = Some(self.park_due.map_or(due, |d| d.min(due)));
                        }
                        None => {}
                    }
                }
                // The streams after it get nothing this round, but are still looked at: a
                // task among them that has waited `PARK_AFTER` must park (a peer that reads
                // nothing would otherwise keep every task that ever had credit).
                held_back |= whole_read;
                continue;
            }
            e.credit().add_permits(add as usize);
            e.granted += add;
            e.asked = None;
            let cmd = &ensure_link(&mut self.link, &self.push).tx;
            Self::unpark(&self.ctx, cmd, StreamId::new(raw), e);
            left -= add;
            granted_any = true;
            self.next_grant = raw + 1;
        }
        if park {
            // Tasks that have waited `PARK_AFTER` hand their bodies back and end (see
            // `ResponseCtx::park`); so do the others waiting right now.
            self.ctx.park.notify_waiters();
        }
        let unserved = self.waiting.iter().any(|&(raw, _)| {
            self.streams
                .get(&StreamId::new(raw))
                .is_some_and(|e| e.asked.is_some())
        });
        if unserved && !queued_any {
            // No write will come to free credit: look again after `STARVE_GRACE`, when
            // credit taken and unused meanwhile (a reader waiting on its source) stops
            // counting.
            self.starved_since.get_or_insert(now);
        } else {
            self.starved_since = None;
        }
        if !granted_any && in_flight == 0 {
            // No credit is in use (what is held, unused, is held by tasks that themselves
            // wait): nothing will free any.
            // The first waiting task gets its minimum anyway, so that none waits forever.
            // This exceeds the budget by one read at most.
            let raw = self.waiting[0].0;
            if let Some(e) = self.streams.get_mut(&StreamId::new(raw)) {
                if let Some((min, _)) = e.asked.take() {
                    let add = (min as u64).saturating_sub(e.permits() as u64);
                    e.credit().add_permits(add as usize);
                    e.granted += add;
                    let cmd = &ensure_link(&mut self.link, &self.push).tx;
                    Self::unpark(&self.ctx, cmd, StreamId::new(raw), e);
                    self.next_grant = raw + 1;
                }
            }
        }
    }

    fn finish(&mut self) {
        for (_, e) in self.streams.drain() {
            Self::kill(e, BodyError::ConnectionClosed);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use http::{Request, Response, StatusCode};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    use crate::{Body, Server};

    #[test]
    fn http_value_agrees_with_header_value_for_every_octet_anywhere() {
        for octet in 0..=255u8 {
            for len in 1..20 {
                for at in 0..len {
                    let mut value = vec![b'a'; len];
                    value[at] = octet;
                    // Borrows and carries between neighbours: a space or a tilde beside it.
                    if at + 1 < len {
                        value[at + 1] = if octet % 2 == 0 { b' ' } else { b'~' };
                    }
                    let takes = http::HeaderValue::from_bytes(&value).is_ok();
                    assert_eq!(super::http_value(&value), takes, "{value:?}");
                }
            }
        }
    }

    /// A request head whose fields are fresh allocations (as a decoder's are).
    fn head(path: &str, authority: &str) -> Vec<h2kit::Field> {
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", authority),
            (":path", path),
            ("accept", "*/*"),
        ]
        .into_iter()
        .map(|(n, v)| h2kit::Field::new(n, Bytes::copy_from_slice(v.as_bytes())))
        .collect()
    }

    #[test]
    fn the_head_memo_answers_only_for_the_same_list() {
        use h2kit::FieldList;
        let mut memo = super::HeadMemo::default();
        let a = head("/a?x=1", "localhost");
        let path = |fields: &[h2kit::Field], at: Option<super::HeadAt>| {
            at.and_then(|at| at.get(fields))
                .map(|(m, p)| (m.to_vec(), p.to_owned()))
        };
        let want_a = Some((b"GET".to_vec(), "/a".to_owned()));
        // A head the core did not hand out as repeated (a list of its own) is checked and
        // not kept.
        let owned = FieldList::Owned(a.clone());
        assert_eq!(path(&owned, memo.check(&owned)), want_a);
        assert!(memo.fields.is_none());
        // The core's receive memo hands a repeated head out as its shared list: the first
        // one is kept, and the memo answers the same list again from it.
        let shared = FieldList::Shared(a.clone().into());
        for i in 0..4 {
            let at = memo.check(&shared);
            assert_eq!(path(&shared, at), want_a, "{i}");
            assert!(memo.fields.is_some(), "{i}");
        }
        // An equal list elsewhere is another head: checked again, with the same result.
        let equal = FieldList::Shared(head("/a?x=1", "localhost").into());
        assert_eq!(path(&equal, memo.check(&equal)), want_a);
        // Another path, and a head `request_parts` refuses (repeated: refused each time,
        // also when answered from the memo).
        let b = FieldList::Shared(head("/b", "localhost").into());
        assert_eq!(
            path(&b, memo.check(&b)),
            Some((b"GET".to_vec(), "/b".to_owned()))
        );
        let bad = FieldList::Shared(head("/c", "bad host").into());
        for _ in 0..3 {
            assert_eq!(memo.check(&bad), None);
        }
    }

    fn pattern(len: usize) -> Bytes {
        (0..len)
            .map(|i| (i * 31 % 251) as u8)
            .collect::<Vec<u8>>()
            .into()
    }

    fn get(path: &str) -> Request<()> {
        Request::get(format!("http://localhost{path}"))
            .body(())
            .unwrap()
    }

    async fn read_body(mut body: h2::RecvStream) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.unwrap();
            let _ = body.flow_control().release_capacity(chunk.len());
            out.extend_from_slice(&chunk);
        }
        out
    }

    /// Handlers that answer on their first poll are answered on the connection task: the
    /// response, HEAD, a body larger than the stream's budget, a panic, and the access log must
    /// all behave as they do for handlers that run in their own task.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn handlers_ready_at_once_answer_like_spawned_ones() {
        let logged = Arc::new(Mutex::new(Vec::new()));
        let log = logged.clone();
        let server = Server::builder()
            .on_access(move |l| {
                log.lock()
                    .unwrap()
                    .push((l.path.clone(), l.status, l.bytes, l.complete));
            })
            .build()
            .await
            .unwrap();
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .serve_with_shutdown(
                    |req: Request<Body>| async move {
                        match req.uri().path() {
                            "/panic" => panic!("handler panics on purpose"),
                            "/big" => Response::new(Body::full(pattern(3 << 20))),
                            "/none" => Response::builder()
                                .status(StatusCode::NO_CONTENT)
                                .body(Body::full("ignored"))
                                .unwrap(),
                            _ => Response::builder()
                                .header("x-kind", "small")
                                .body(Body::full("twelve bytes"))
                                .unwrap(),
                        }
                    },
                    async move {
                        let _ = stopped.await;
                    },
                )
                .await
                .unwrap();
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (client, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut client = client.ready().await.unwrap();

        let (resp, _) = client.send_request(get("/panic"), true).unwrap();
        let err = resp.await.unwrap_err();
        assert_eq!(err.reason(), Some(h2::Reason::INTERNAL_ERROR));

        let (resp, _) = client.send_request(get("/small"), true).unwrap();
        let resp = resp.await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["x-kind"], "small");
        assert_eq!(read_body(resp.into_body()).await, b"twelve bytes");

        let head = Request::head("http://localhost/small").body(()).unwrap();
        let (resp, _) = client.send_request(head, true).unwrap();
        let resp = resp.await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(read_body(resp.into_body()).await.is_empty());

        let (resp, _) = client.send_request(get("/none"), true).unwrap();
        let resp = resp.await.unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert!(read_body(resp.into_body()).await.is_empty());

        let (resp, _) = client.send_request(get("/big"), true).unwrap();
        let resp = resp.await.unwrap();
        assert_eq!(read_body(resp.into_body()).await, pattern(3 << 20));

        drop(client);
        stop.send(()).unwrap();
        task.await.unwrap();
        let logged = logged.lock().unwrap().clone();
        let want = [
            ("/small".to_owned(), StatusCode::OK, 12, true),
            ("/small".to_owned(), StatusCode::OK, 0, true),
            ("/none".to_owned(), StatusCode::NO_CONTENT, 0, true),
            ("/big".to_owned(), StatusCode::OK, 3 << 20, true),
        ];
        assert_eq!(logged, want);
    }

    /// Issue 15: with the smallest connection send budget, streams whose handlers hold a
    /// body open without sending hold no credit, readers stuck on their source hold theirs
    /// only for a while, and many large responses at once (files read on demand and bodies
    /// in memory, parked and resumed as credit frees) all arrive whole.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_send_budget_serves_many_large_responses_beside_idle_ones() {
        const FILE_LEN: usize = 300 * 1024;
        let path = std::env::temp_dir().join(format!("h2kit-budget-{}", std::process::id()));
        std::fs::write(&path, pattern(FILE_LEN)).unwrap();
        let file = Arc::new(std::fs::File::open(&path).unwrap());
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = held.clone();
        let sources = Arc::new(Mutex::new(Vec::new()));
        let sources_in = sources.clone();
        let server = Server::builder()
            .connection_send_budget(16 * 1024)
            .build()
            .await
            .unwrap();
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .serve_with_shutdown(
                    move |req: Request<Body>| {
                        let file = file.clone();
                        let keep = keep.clone();
                        let sources = sources_in.clone();
                        async move {
                            match req.uri().path() {
                                "/stuck" => {
                                    // A reader whose source never writes.
                                    let (source, reader) = tokio::io::duplex(64);
                                    sources.lock().unwrap().push(source);
                                    Response::new(Body::from_reader(reader, Some(1 << 20)))
                                }
                                "/hold" => {
                                    let (tx, body) = Body::channel();
                                    keep.lock().unwrap().push(tx);
                                    Response::new(body)
                                }
                                "/file" => Response::new(Body::from_file(file, 0, FILE_LEN as u64)),
                                _ => Response::new(Body::full(pattern(FILE_LEN))),
                            }
                        }
                    },
                    async move {
                        let _ = stopped.await;
                    },
                )
                .await
                .unwrap();
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (client, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut holds = Vec::new();
        for _ in 0..40 {
            let mut c = client.clone().ready().await.unwrap();
            holds.push(c.send_request(get("/hold"), true).unwrap());
        }
        for _ in 0..4 {
            let mut c = client.clone().ready().await.unwrap();
            holds.push(c.send_request(get("/stuck"), true).unwrap());
        }
        let mut fetches = Vec::new();
        for i in 0..24 {
            let mut c = client.clone().ready().await.unwrap();
            let (resp, _) = c
                .send_request(get(if i % 4 == 0 { "/mem" } else { "/file" }), true)
                .unwrap();
            fetches.push(tokio::spawn(async move {
                read_body(resp.await.unwrap().into_body()).await
            }));
        }
        let all = async {
            for f in fetches {
                assert_eq!(f.await.unwrap(), pattern(FILE_LEN));
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), all)
            .await
            .expect("every large response arrives");
        assert_eq!(held.lock().unwrap().len(), 40);
        assert_eq!(sources.lock().unwrap().len(), 4);
        drop(holds);
        drop(client);
        stop.send(()).unwrap();
        held.lock().unwrap().clear();
        sources.lock().unwrap().clear();
        let _ = task.await;
        let _ = std::fs::remove_file(&path);
    }
}

/// The driver looks at its input between writes while a large response goes out, over a
/// real socket whose readiness only the runtime's I/O driver refreshes.
#[cfg(test)]
mod read_between_writes {
    use std::future::Future;
    use std::io;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll};
    use std::time::{Duration, Instant};

    use bytes::{Bytes, BytesMut};
    use h2kit::{Config, Connection, Event, Field};
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::{ConnParams, run};
    use crate::Body;

    /// A writer that takes everything at once, as a socket does while its peer keeps up:
    /// the connection's writes never wait, so nothing but the driver itself makes it read.
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl tokio::io::AsyncWrite for Sink {
        fn poll_write(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// A connection whose every response is `len` octets, from memory.
    fn params(len: usize) -> ConnParams {
        let shutdown = crate::shutdown::Signal::never();
        let body = Bytes::from(vec![7u8; len]);
        ConnParams {
            handler: Arc::new(move |_r: http::Request<Body>| {
                let body = body.clone();
                async move { http::Response::new(Body::full(body)) }
            }),
            logger: None,
            remote_addr: None,
            tls: false,
            shutdown,
            max_send_buffer: 1 << 20,
            send_budget: crate::server::DEFAULT_CONNECTION_SEND_BUDGET,
            write_stall_timeout: None,
            handshake_timeout: crate::server::DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    fn on_a_suggested_runtime(test: impl Future<Output = ()>) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .event_interval(crate::RUNTIME_EVENT_INTERVAL)
            .build()
            .unwrap()
            .block_on(test);
    }

    /// A PING sent while a 32 MiB response is being written is answered within a few
    /// writes, on a runtime set up as [`crate::RUNTIME_EVENT_INTERVAL`] suggests: the
    /// response's task and the connection keep each other busy, and the runtime polls its
    /// I/O driver between them often enough.
    #[test]
    fn a_ping_sent_during_a_streamed_response_is_answered_within_a_few_writes() {
        on_a_suggested_runtime(ping_during_responses(1, 32 << 20));
    }

    /// The same while 24 responses of 1 MiB answered at once go out: the connection has all
    /// their data and no task to wait for, so only its own turns (see
    /// [`super::YIELD_AFTER_WRITING`]) let the runtime look at the socket.
    #[test]
    fn a_ping_sent_during_responses_answered_at_once_is_answered_within_a_few_writes() {
        on_a_suggested_runtime(ping_during_responses(24, 1 << 20));
    }

    /// Sends `requests` GETs, each answered with `len` octets, and a PING once 2 MiB of
    /// DATA has arrived; asserts how much DATA went out between the PING's arrival in the
    /// server's socket and its acknowledgement.
    async fn ping_during_responses(requests: usize, len: usize) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (client_sock, accepted) = tokio::join!(
            TcpStream::connect(listener.local_addr().unwrap()),
            listener.accept()
        );
        let mut client_sock = client_sock.unwrap();
        let server_sock = accepted.unwrap().0;
        // The server's socket seen from the test, to wait until what the client sends has
        // reached it (a loaded machine's kernel may deliver loopback data late).
        let probe = std::net::TcpStream::from(
            std::os::fd::AsFd::as_fd(&server_sock)
                .try_clone_to_owned()
                .unwrap(),
        );
        let (server_read, _server_write) = server_sock.into_split();
        let out = Arc::new(Mutex::new(Vec::new()));
        let io = tokio::io::join(server_read, Sink(out.clone()));
        let server = tokio::spawn(run(
            io,
            Connection::server(Config::default()),
            Bytes::new(),
            params(len),
        ));

        let mut config = Config::default();
        config.settings.initial_window_size = h2kit::flow::MAX_WINDOW;
        config.connection_window_size = h2kit::flow::MAX_WINDOW;
        let mut client = Connection::client(config);
        for _ in 0..requests {
            let fields: Vec<Field> = [
                (":method", "GET"),
                (":scheme", "http"),
                (":authority", "localhost"),
                (":path", "/bulk"),
            ]
            .into_iter()
            .map(|(n, v)| Field::new(n, v))
            .collect::<Vec<_>>();
            client.send_request(fields, true).unwrap();
        }
        let mut wire = BytesMut::new();
        while client.poll_transmit(Instant::now(), &mut wire, None) > 0 {}
        client_sock.write_all(&wire).await.unwrap();

        // Decodes what the server wrote since the last call: DATA octets, and whether our
        // PING's acknowledgement came.
        let mut fed = 0;
        let mut feed = |client: &mut Connection| {
            let new = out.lock().unwrap()[fed..].to_vec();
            fed += new.len();
            client.recv(Instant::now(), &new).unwrap();
            let (mut data, mut acked) = (0, false);
            while let Some(event) = client.poll_event() {
                match event {
                    Event::Data { data: d, .. } if !acked => data += d.len(),
                    Event::PingAcknowledged { payload, .. } => acked |= payload == [9; 8],
                    _ => {}
                }
            }
            (data, acked)
        };
        let mut received = 0;
        while received < 2 << 20 {
            tokio::task::yield_now().await;
            received += feed(&mut client).0;
        }
        client.ping([9; 8]).unwrap();
        wire.clear();
        while client.poll_transmit(Instant::now(), &mut wire, None) > 0 {}
        client_sock.write_all(&wire).await.unwrap();
        // Holding the runtime's only thread, so the server writes nothing meanwhile.
        let waiting = Instant::now();
        while probe.peek(&mut [0; 1]).is_err() {
            assert!(
                waiting.elapsed() < Duration::from_secs(60),
                "the PING never arrived"
            );
            std::thread::sleep(Duration::from_micros(50));
        }
        let mut ahead = 0;
        loop {
            tokio::task::yield_now().await;
            let (data, acked) = feed(&mut client);
            ahead += data;
            if acked {
                break;
            }
            assert!(
                received + ahead < requests * len,
                "the PING was never answered"
            );
        }
        let bound = 256 * 1024;
        assert!(
            ahead <= bound,
            "{ahead} bytes of DATA went out first (at most {bound})"
        );
        server.abort();
    }
}
