//! One task per connection drives the sans-IO core by its documented contract; one task per
//! request runs the handler and pulls the response body as credit allows. A request without a
//! body whose handler answers on its first poll with a body already in memory is answered by
//! the connection task itself, without a task.

use std::collections::HashMap;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use h2kit::{Connection, ErrorCode, Event, Field, Initiator, StreamError, StreamId, UsageError};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::AbortHandle;

use crate::body::{Body, Frame, Inbound, Incoming};
use crate::handler::{AccessLog, AccessLogger, Handler, PushConn, PushError, Pusher, StreamInfo};

/// Bytes gathered from `poll_transmit` before one write to the transport. 32 KiB: sending
/// 1 MiB responses over loopback (BBR, h2load -c4 -m4) cost the server ~360-400 us each with
/// 64 KiB writes, ~290 with 16 KiB and ~250 with 32 KiB (nghttpd: ~240); small responses
/// the same with all three.
const WRITE_TARGET: usize = 32 * 1024;
/// The reused read buffer.
const READ_SIZE: usize = 64 * 1024;
/// The least response data a stream may have in flight, whatever its window says.
const MIN_BUDGET: usize = 16 * 1024;
/// How long a terminated connection may take to write its last frames.
const LINGER: Duration = Duration::from_secs(5);
/// Commands taken in one go before output is generated again.
const CMD_BATCH: usize = 256;

/// Response-body credit: permits are bytes the response task may hand to the connection.
pub(crate) type Credit = Arc<Semaphore>;

/// What request tasks ask of the connection task.
#[derive(Debug)]
pub(crate) enum Cmd {
    Response {
        id: StreamId,
        fields: Vec<Field>,
        data: Option<Bytes>,
        end: bool,
    },
    Data {
        id: StreamId,
        data: Bytes,
        end: bool,
    },
    Trailers {
        id: StreamId,
        fields: Vec<Field>,
    },
    Reset {
        id: StreamId,
        code: ErrorCode,
    },
    Release {
        id: StreamId,
        len: u32,
    },
    Push {
        assoc: StreamId,
        fields: Vec<Field>,
        reply: oneshot::Sender<Result<(StreamId, Credit), PushError>>,
    },
    /// The task ended without completing the response (panic, abort, dropped body).
    Abandoned {
        id: StreamId,
    },
}

/// Per-connection facts the response tasks need.
#[derive(Clone)]
pub(crate) struct ResponseCtx {
    /// The user's access logger; without one, responses are logged with `tracing` at debug
    /// level when that is enabled.
    pub(crate) logger: Option<AccessLogger>,
    pub(crate) remote_addr: Option<SocketAddr>,
    /// The least credit a stream is always topped up to: what an on-demand body waits for
    /// before a read (see `acquire_for_read`).
    pub(crate) min_read: usize,
}

impl ResponseCtx {
    /// Whether responses are logged at all: when not, nothing is gathered for the log (no
    /// path copy, no clock read).
    pub(crate) fn logs(&self) -> bool {
        self.logger.is_some() || tracing::enabled!(tracing::Level::DEBUG)
    }

    /// The time a request's log line measures from, when responses are logged.
    pub(crate) fn log_start(&self) -> Option<Instant> {
        self.logs().then(Instant::now)
    }

    pub(crate) fn log(&self, line: &AccessLog) {
        match &self.logger {
            Some(logger) => logger(line),
            None => tracing::debug!(
                method = %line.method, path = %line.path, status = line.status.as_u16(),
                bytes = line.bytes, duration = ?line.duration, "response"
            ),
        }
    }
}

/// Everything the connection task is started with.
pub(crate) struct ConnParams {
    pub(crate) handler: Arc<dyn Handler>,
    pub(crate) logger: Option<AccessLogger>,
    pub(crate) remote_addr: Option<SocketAddr>,
    pub(crate) tls: bool,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// The core's `max_send_buffer_per_stream`: response credit never exceeds it.
    pub(crate) max_send_buffer: usize,
}

struct Entry {
    body_tx: Option<mpsc::UnboundedSender<Incoming>>,
    credit: Credit,
    /// Permits handed out so far.
    granted: u64,
    /// Body bytes given to the core so far.
    sent: u64,
    response_done: bool,
    abort: Option<AbortHandle>,
}

/// Appends an `http::HeaderMap` to a field list, skipping connection-specific fields that
/// HTTP/2 forbids (RFC 9113 §8.2.2).
pub(crate) fn push_header_map(fields: &mut Vec<Field>, headers: &HeaderMap) {
    for (name, value) in headers {
        let n = name.as_str();
        if matches!(
            n,
            "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "upgrade"
        ) {
            continue;
        }
        let name = Bytes::copy_from_slice(n.as_bytes());
        let v = Bytes::copy_from_slice(value.as_bytes());
        fields.push(if value.is_sensitive() {
            Field::sensitive(name, v)
        } else {
            Field::new(name, v)
        });
    }
}

/// The last `:authority` parsed on a connection: requests on one connection nearly always
/// name the same one, so its parse is reused when the bytes are equal.
#[derive(Default)]
struct AuthorityCache(Option<(Bytes, http::uri::Authority)>);

impl AuthorityCache {
    fn parse(&mut self, value: &Bytes) -> Option<http::uri::Authority> {
        if let Some((bytes, authority)) = &self.0 {
            if bytes == value {
                return Some(authority.clone());
            }
        }
        let authority = http::uri::Authority::from_maybe_shared(value.clone()).ok()?;
        self.0 = Some((value.clone(), authority.clone()));
        Some(authority)
    }
}

/// Regular header names parsed on a connection, in a small direct-mapped table: requests on
/// one connection repeat the same names, and a hit costs one comparison instead of a parse
/// (and, for a name `http` does not know, an allocation).
struct NameCache([Option<http::HeaderName>; NAME_SLOTS]);

/// Slots of [`NameCache`]; names longer than [`NAME_MAX`] are not kept.
const NAME_SLOTS: usize = 32;
const NAME_MAX: usize = 64;

impl Default for NameCache {
    fn default() -> Self {
        NameCache(std::array::from_fn(|_| None))
    }
}

impl NameCache {
    fn parse(&mut self, name: &[u8]) -> Option<http::HeaderName> {
        let (Some(&first), Some(&last)) = (name.first(), name.last()) else {
            return http::HeaderName::from_bytes(name).ok();
        };
        let slot = (name.len() * 7 + usize::from(first) * 3 + usize::from(last)) % NAME_SLOTS;
        let entry = self.0.get_mut(slot)?;
        if let Some(cached) = entry {
            if cached.as_str().as_bytes() == name {
                return Some(cached.clone());
            }
        }
        let parsed = http::HeaderName::from_bytes(name).ok()?;
        if name.len() <= NAME_MAX {
            *entry = Some(parsed.clone());
        }
        Some(parsed)
    }
}

/// What a connection remembers to build request heads faster.
#[derive(Default)]
struct HeadCache {
    authority: AuthorityCache,
    names: NameCache,
}

/// Builds a request head from received fields, sharing the decoded field bytes (no copies of
/// path, authority or values) and sizing the header map once for the regular fields (not
/// at all when there are none). `None` when a field does not make a valid `http` request
/// (the stream is then reset).
fn request_parts(fields: &[Field], cache: &mut HeadCache) -> Option<http::request::Parts> {
    let (mut parts, ()) = Request::new(()).into_parts();
    let regular = fields.iter().filter(|f| !f.name.starts_with(b":")).count();
    if regular > 0 {
        parts.headers.reserve(regular);
    }
    let mut uri = http::uri::Parts::default();
    for f in fields {
        match f.name.as_ref() {
            b":method" => parts.method = Method::from_bytes(&f.value).ok()?,
            b":scheme" => uri.scheme = Some(http::uri::Scheme::try_from(f.value.as_ref()).ok()?),
            b":authority" => uri.authority = Some(cache.authority.parse(&f.value)?),
            b":path" => {
                uri.path_and_query =
                    Some(http::uri::PathAndQuery::from_maybe_shared(f.value.clone()).ok()?)
            }
            b":protocol" => {}
            name => {
                let name = cache.names.parse(name)?;
                let value = http::HeaderValue::from_maybe_shared(f.value.clone()).ok()?;
                parts.headers.append(name, value);
            }
        }
    }
    parts.uri = http::Uri::from_parts(uri).ok()?;
    Some(parts)
}

fn header_map(fields: &[Field]) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(fields.len());
    for f in fields {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(&f.name),
            http::HeaderValue::from_maybe_shared(f.value.clone()),
        ) {
            map.append(name, value);
        }
    }
    map
}

fn status_field(status: StatusCode) -> Field {
    let value = match status.as_u16() {
        200 => Bytes::from_static(b"200"),
        204 => Bytes::from_static(b"204"),
        206 => Bytes::from_static(b"206"),
        304 => Bytes::from_static(b"304"),
        404 => Bytes::from_static(b"404"),
        _ => Bytes::copy_from_slice(status.as_str().as_bytes()),
    };
    Field::new(":status", value)
}

/// Sends `Cmd::Abandoned` when dropped armed: a task that ends early never leaves a stream
/// hanging.
struct StreamGuard {
    id: StreamId,
    cmd: mpsc::UnboundedSender<Cmd>,
    armed: bool,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.cmd.send(Cmd::Abandoned { id: self.id });
        }
    }
}

/// Takes up to `want` bytes of credit, waiting for at least one. `None` when the stream is
/// gone.
async fn acquire(credit: &Semaphore, want: usize) -> Option<usize> {
    let first = credit.acquire().await.ok()?;
    first.forget();
    let extra = credit.available_permits().min(want.saturating_sub(1));
    let extra = u32::try_from(extra).unwrap_or(u32::MAX);
    if extra > 0 {
        if let Ok(p) = credit.try_acquire_many(extra) {
            p.forget();
            return Some(1 + extra as usize);
        }
    }
    Some(1)
}

/// Takes at least `min` (when `want` is that large) and up to `want` bytes of credit, waiting
/// for them: a body read on demand is not read a few bytes at a time. The wait ends when `min`
/// is at most `ResponseCtx::min_read`, the least a stream's credit is topped up to. `None`
/// when the stream is gone.
async fn acquire_for_read(credit: &Semaphore, min: usize, want: usize) -> Option<usize> {
    let min = min.min(want).max(1);
    let first = credit
        .acquire_many(u32::try_from(min).unwrap_or(u32::MAX))
        .await
        .ok()?;
    first.forget();
    let extra = credit.available_permits().min(want.saturating_sub(min));
    let extra = u32::try_from(extra).unwrap_or(u32::MAX);
    if extra > 0 {
        if let Ok(p) = credit.try_acquire_many(extra) {
            p.forget();
            return Some(min + extra as usize);
        }
    }
    Some(min)
}

/// Runs a handler's response out: headers, then the body as credit allows, then trailers or
/// END_STREAM. A body read on demand (a reader, a file) is polled only with credit in hand and
/// reads at most that much.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn send_response_task(
    ctx: ResponseCtx,
    cmd: mpsc::UnboundedSender<Cmd>,
    id: StreamId,
    credit: Credit,
    method: Method,
    path: String,
    response: Response<Body>,
    pushed: bool,
) {
    let start = ctx.log_start();
    send_response(ctx, cmd, id, credit, method, path, response, pushed, start).await;
}

#[allow(clippy::too_many_arguments)]
async fn send_response(
    ctx: ResponseCtx,
    cmd: mpsc::UnboundedSender<Cmd>,
    id: StreamId,
    credit: Credit,
    method: Method,
    path: String,
    response: Response<Body>,
    pushed: bool,
    start: Option<Instant>,
) {
    let mut guard = StreamGuard {
        id,
        cmd: cmd.clone(),
        armed: true,
    };
    let (parts, mut body) = response.into_parts();
    let status = parts.status;
    let mut fields = Vec::with_capacity(parts.headers.len() + 1);
    fields.push(status_field(status));
    push_header_map(&mut fields, &parts.headers);
    let no_body = method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let mut bytes = 0u64;
    let mut complete = false;
    let mut head = Some(fields);
    if no_body || body.is_end_stream() {
        if let Some(fields) = head.take() {
            let _ = cmd.send(Cmd::Response {
                id,
                fields,
                data: None,
                end: true,
            });
        }
        complete = true;
    } else {
        'body: loop {
            // Credit taken before polling an on-demand body, for the data it then reads.
            let mut held = 0;
            if body.reads_on_demand() {
                let want = body.next_read_size();
                let Some(n) = acquire_for_read(&credit, ctx.min_read, want).await else {
                    break 'body;
                };
                held = n;
                body.limit_next_read(n);
            }
            match body.frame().await {
                None => {
                    let _ = cmd.send(match head.take() {
                        Some(fields) => Cmd::Response {
                            id,
                            fields,
                            data: None,
                            end: true,
                        },
                        None => Cmd::Data {
                            id,
                            data: Bytes::new(),
                            end: true,
                        },
                    });
                    complete = true;
                    break;
                }
                Some(Err(e)) => {
                    tracing::debug!(stream = id.get(), error = %e, "response body failed");
                    if let Some(fields) = head.take() {
                        // Nothing is out yet: headers then a reset say "failed" clearly.
                        let _ = cmd.send(Cmd::Response {
                            id,
                            fields,
                            data: None,
                            end: false,
                        });
                    }
                    let _ = cmd.send(Cmd::Reset {
                        id,
                        code: ErrorCode::INTERNAL_ERROR,
                    });
                    break;
                }
                Some(Ok(Frame::Trailers(t))) => {
                    if let Some(fields) = head.take() {
                        let _ = cmd.send(Cmd::Response {
                            id,
                            fields,
                            data: None,
                            end: false,
                        });
                    }
                    let mut fields = Vec::with_capacity(t.len());
                    push_header_map(&mut fields, &t);
                    let _ = cmd.send(Cmd::Trailers { id, fields });
                    complete = true;
                    break;
                }
                Some(Ok(Frame::Data(mut d))) => {
                    if held > d.len() {
                        credit.add_permits(held - d.len());
                        held = d.len();
                    }
                    while !d.is_empty() {
                        let n = match std::mem::take(&mut held) {
                            0 => match acquire(&credit, d.len()).await {
                                Some(n) => n,
                                None => break 'body,
                            },
                            n => n,
                        };
                        let piece = d.split_to(n.min(d.len()));
                        bytes += piece.len() as u64;
                        let end = d.is_empty() && body.is_end_stream();
                        let sent = match head.take() {
                            Some(fields) => cmd.send(Cmd::Response {
                                id,
                                fields,
                                data: Some(piece),
                                end,
                            }),
                            None => cmd.send(Cmd::Data {
                                id,
                                data: piece,
                                end,
                            }),
                        };
                        if sent.is_err() {
                            break 'body;
                        }
                        if end {
                            complete = true;
                            break 'body;
                        }
                    }
                }
            }
        }
    }
    guard.armed = !complete;
    drop(guard);
    if ctx.logs() {
        ctx.log(&AccessLog {
            method,
            path,
            status,
            bytes,
            duration: start.map_or(Duration::ZERO, |s| s.elapsed()),
            stream_id: id,
            remote_addr: ctx.remote_addr,
            complete,
            pushed,
        });
    }
}

/// Drives one connection until it closes.
pub(crate) async fn run<S>(io: S, core: Connection, initial: Bytes, params: ConnParams)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut driver = Driver::new(core, params);
    if let Err(e) = driver.run(io, initial).await {
        tracing::debug!(error = %e, "connection ended with an I/O error");
    }
    driver.finish();
}

struct Driver {
    core: Connection,
    handler: Arc<dyn Handler>,
    ctx: ResponseCtx,
    tls: bool,
    shutdown: watch::Receiver<bool>,
    cmd_tx: mpsc::UnboundedSender<Cmd>,
    /// Shared by the pushers of every request (one reference count per request).
    push_conn: Arc<PushConn>,
    head_cache: HeadCache,
    cmd_rx: mpsc::UnboundedReceiver<Cmd>,
    streams: HashMap<u32, Entry>,
    max_budget: usize,
    terminated_at: Option<Instant>,
}

enum Wake {
    Read(usize),
    Wrote(usize),
    Flushed,
    Cmd(Option<Cmd>),
    Timer,
    Shutdown,
}

impl Driver {
    fn new(core: Connection, params: ConnParams) -> Self {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let max_budget = params.max_send_buffer.clamp(1, 1 << 20);
        let ctx = ResponseCtx {
            logger: params.logger,
            remote_addr: params.remote_addr,
            min_read: MIN_BUDGET.min(max_budget),
        };
        let push_conn = Arc::new(PushConn {
            scheme: if params.tls { "https" } else { "http" },
            cmd: cmd_tx.clone(),
            ctx: ctx.clone(),
        });
        Driver {
            core,
            handler: params.handler,
            ctx,
            tls: params.tls,
            shutdown: params.shutdown,
            cmd_tx,
            push_conn,
            head_cache: HeadCache::default(),
            cmd_rx,
            streams: HashMap::new(),
            max_budget,
            terminated_at: None,
        }
    }

    async fn run<S>(&mut self, mut io: S, initial: Bytes) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut rbuf = vec![0u8; READ_SIZE];
        let mut wbuf = BytesMut::with_capacity(WRITE_TARGET + 16 * 1024);
        let mut reading = true;
        let mut need_flush = false;
        let mut shutdown_seen = *self.shutdown.borrow();
        if shutdown_seen {
            let _ = self.core.graceful_shutdown();
        }
        let sleep = tokio::time::sleep_until(tokio::time::Instant::now());
        tokio::pin!(sleep);
        let mut armed: Option<Instant> = None;
        if !initial.is_empty() {
            let _ = self.core.recv(Instant::now(), &initial);
        }
        loop {
            let now = Instant::now();
            self.drain_events();
            // Output: gather frames into one large write.
            let mut wrote_any = false;
            while wbuf.len() < WRITE_TARGET {
                let room = WRITE_TARGET - wbuf.len();
                let n = self.core.poll_transmit(now, &mut wbuf, Some(room));
                if n == 0 {
                    break;
                }
                wrote_any = true;
            }
            if wrote_any {
                self.top_up_credit();
            }
            if wbuf.is_empty() && !need_flush && self.core.is_closed() {
                return Ok(());
            }
            if self.core.error().is_some() {
                let t = *self.terminated_at.get_or_insert(now);
                if now >= t + LINGER {
                    return Ok(());
                }
            }
            // Timer.
            let deadline = match (self.core.poll_timeout(), self.terminated_at) {
                (Some(a), Some(t)) => Some(a.min(t + LINGER)),
                (a, t) => a.or(t.map(|t| t + LINGER)),
            };
            if deadline != armed {
                if let Some(d) = deadline {
                    sleep.as_mut().reset(tokio::time::Instant::from_std(d));
                }
                armed = deadline;
            }
            let tls = self.tls;
            let wake = {
                let io_ready = poll_fn(|cx| {
                    if !wbuf.is_empty() {
                        match Pin::new(&mut io).poll_write(cx, &wbuf) {
                            Poll::Ready(Ok(0)) => {
                                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                            }
                            Poll::Ready(Ok(n)) => return Poll::Ready(Ok(Wake::Wrote(n))),
                            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                            Poll::Pending => {}
                        }
                    } else if need_flush {
                        match Pin::new(&mut io).poll_flush(cx) {
                            Poll::Ready(Ok(())) => return Poll::Ready(Ok(Wake::Flushed)),
                            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                            Poll::Pending => {}
                        }
                    }
                    if reading {
                        let mut rb = ReadBuf::new(&mut rbuf);
                        match Pin::new(&mut io).poll_read(cx, &mut rb) {
                            Poll::Ready(Ok(())) => {
                                return Poll::Ready(Ok(Wake::Read(rb.filled().len())));
                            }
                            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                            Poll::Pending => {}
                        }
                    }
                    Poll::Pending
                });
                tokio::select! {
                    r = io_ready => r?,
                    c = self.cmd_rx.recv() => Wake::Cmd(c),
                    () = &mut sleep, if armed.is_some() => Wake::Timer,
                    r = self.shutdown.changed(), if !shutdown_seen => {
                        if r.is_err() || *self.shutdown.borrow() { Wake::Shutdown } else { continue }
                    }
                }
            };
            match wake {
                Wake::Read(0) => {
                    reading = false;
                    self.core.recv_eof();
                }
                Wake::Read(n) => {
                    let _ = self.core.recv(Instant::now(), &rbuf[..n]);
                    if self.drain_events() {
                        // Let the handlers just spawned answer, so their responses go out
                        // in the same write.
                        tokio::task::yield_now().await;
                    }
                    self.drain_commands();
                }
                Wake::Wrote(n) => {
                    let _ = wbuf.split_to(n);
                    if wbuf.is_empty() {
                        wbuf.clear();
                        need_flush = tls;
                    }
                }
                Wake::Flushed => need_flush = false,
                Wake::Cmd(Some(c)) => {
                    self.on_cmd(c);
                    self.drain_commands();
                }
                Wake::Cmd(None) => {}
                Wake::Timer => {
                    armed = None;
                    self.core.handle_timeout(Instant::now());
                }
                Wake::Shutdown => {
                    shutdown_seen = true;
                    let _ = self.core.graceful_shutdown();
                }
            }
        }
    }

    fn drain_commands(&mut self) {
        for _ in 0..CMD_BATCH {
            match self.cmd_rx.try_recv() {
                Ok(c) => self.on_cmd(c),
                Err(_) => break,
            }
        }
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
                    spawned |= self.on_request(stream, headers, end_stream, priority);
                }
                Event::Data {
                    stream,
                    data,
                    flow_controlled_len,
                    end_stream,
                } => self.on_data(stream, data, flow_controlled_len, end_stream),
                Event::Trailers { stream, headers } => {
                    if let Some(e) = self.streams.get_mut(&stream.get()) {
                        if let Some(tx) = e.body_tx.take() {
                            let _ = tx.send(Incoming::Trailers(header_map(&headers)));
                        }
                    }
                    self.maybe_remove(stream);
                }
                Event::StreamReset { stream, error } => {
                    if let Some(e) = self.streams.remove(&stream.get()) {
                        Self::kill(e, crate::body::BodyError::Reset(error));
                    }
                }
                Event::Terminated { error } => {
                    tracing::debug!(%error, "connection terminated");
                    self.terminated_at.get_or_insert_with(Instant::now);
                    for (_, e) in self.streams.drain() {
                        Self::kill(e, crate::body::BodyError::ConnectionClosed);
                    }
                }
                _ => {}
            }
        }
        spawned
    }

    /// Ends a stream's tasks: a handler still reading the request body learns the error from
    /// it; one that is not is aborted; a response being sent stops at its next credit wait.
    fn kill(e: Entry, error: crate::body::BodyError) {
        e.credit.close();
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

    fn new_entry(
        &mut self,
        id: StreamId,
        body_tx: Option<mpsc::UnboundedSender<Incoming>>,
    ) -> Credit {
        let budget = self.budget(id);
        let credit = Arc::new(Semaphore::new(budget));
        self.streams.insert(
            id.get(),
            Entry {
                body_tx,
                credit: credit.clone(),
                granted: budget as u64,
                sent: 0,
                response_done: false,
                abort: None,
            },
        );
        credit
    }

    /// Starts a request's handler; true when a task was spawned for it (false: it was
    /// answered at once, or refused).
    fn on_request(
        &mut self,
        stream: StreamId,
        mut headers: Vec<Field>,
        end_stream: bool,
        priority: h2kit::PrioritySignal,
    ) -> bool {
        let Some(mut parts) = request_parts(&headers, &mut self.head_cache) else {
            let _ = self.core.reset(stream, ErrorCode::PROTOCOL_ERROR);
            return false;
        };
        // The request's field list, emptied, carries the response's fields if it is
        // answered at once: the core then reuses it for a later request (no list allocated).
        headers.clear();
        let (body, body_tx) = if end_stream {
            (Body::empty(), None)
        } else {
            let (tx, rx) = mpsc::unbounded_channel();
            let inbound = Inbound {
                rx,
                id: stream,
                cmd: self.cmd_tx.clone(),
                done: false,
            };
            (Body::inbound(inbound), Some(tx))
        };
        let pusher = Pusher {
            assoc: stream,
            authority: parts.uri.authority().cloned(),
            conn: self.push_conn.clone(),
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
                    match self.answer_now(stream, &method, &mut path, r, start, headers) {
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
        let credit = self.new_entry(stream, body_tx);
        let ctx = self.ctx.clone();
        let cmd = self.cmd_tx.clone();
        let task = tokio::spawn(async move {
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
        });
        if let Some(e) = self.streams.get_mut(&stream.get()) {
            e.abort = Some(task.abort_handle());
        }
        true
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
        mut fields: Vec<Field>,
    ) -> Option<Response<Body>> {
        let (parts, mut body) = response.into_parts();
        let status = parts.status;
        let no_body = *method == Method::HEAD
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        let data = if no_body {
            Bytes::new()
        } else {
            match body.take_complete() {
                Some(d) if d.len() <= self.budget(id) => d,
                Some(d) => return Some(Response::from_parts(parts, Body::full(d))),
                None => return Some(Response::from_parts(parts, body)),
            }
        };
        fields.clear();
        fields.reserve(parts.headers.len() + 1);
        fields.push(status_field(status));
        push_header_map(&mut fields, &parts.headers);
        let bytes = data.len() as u64;
        let complete = if data.is_empty() {
            self.core.send_response(id, fields, true)
        } else {
            self.core
                .send_response(id, fields, false)
                .and_then(|()| self.core.send_data(id, data, true))
        };
        let complete = match complete {
            Ok(()) => true,
            Err(error) => {
                tracing::debug!(stream = id.get(), %error, "response refused by the core");
                let _ = self.core.reset(id, ErrorCode::INTERNAL_ERROR);
                false
            }
        };
        if self.ctx.logs() {
            self.ctx.log(&AccessLog {
                method: method.clone(),
                path: std::mem::take(path),
                status,
                bytes,
                duration: start.map_or(Duration::ZERO, |s| s.elapsed()),
                stream_id: id,
                remote_addr: self.ctx.remote_addr,
                complete,
                pushed: false,
            });
        }
        None
    }

    fn on_data(&mut self, stream: StreamId, data: Bytes, len: u32, end: bool) {
        let delivered = match self.streams.get_mut(&stream.get()) {
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
        }
        if end {
            self.maybe_remove(stream);
        }
    }

    fn maybe_remove(&mut self, id: StreamId) {
        if let Some(e) = self.streams.get(&id.get()) {
            if e.response_done && e.body_tx.is_none() {
                self.streams.remove(&id.get());
            }
        }
    }

    fn fail_stream(&mut self, id: StreamId, error: UsageError) {
        tracing::debug!(stream = id.get(), %error, "response refused by the core");
        let _ = self.core.reset(id, ErrorCode::INTERNAL_ERROR);
        if let Some(e) = self.streams.remove(&id.get()) {
            Self::kill(
                e,
                crate::body::BodyError::Reset(StreamError::Reset {
                    code: ErrorCode::INTERNAL_ERROR,
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
                if !self.streams.contains_key(&id.get()) {
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
                    if let Some(e) = self.streams.get_mut(&id.get()) {
                        e.sent += len;
                    }
                }
                if end {
                    self.response_done(id);
                }
            }
            Cmd::Data { id, data, end } => {
                if !self.streams.contains_key(&id.get()) {
                    return;
                }
                let len = data.len() as u64;
                if let Err(e) = self.core.send_data(id, data, end) {
                    self.fail_stream(id, e);
                    return;
                }
                if let Some(e) = self.streams.get_mut(&id.get()) {
                    e.sent += len;
                }
                if end {
                    self.response_done(id);
                }
            }
            Cmd::Trailers { id, fields } => {
                if !self.streams.contains_key(&id.get()) {
                    return;
                }
                if let Err(e) = self.core.send_trailers(id, fields) {
                    self.fail_stream(id, e);
                    return;
                }
                self.response_done(id);
            }
            Cmd::Reset { id, code } => {
                let _ = self.core.reset(id, code);
                if let Some(e) = self.streams.remove(&id.get()) {
                    Self::kill(
                        e,
                        crate::body::BodyError::Reset(StreamError::Reset {
                            code,
                            initiator: Initiator::Local,
                        }),
                    );
                }
            }
            Cmd::Release { id, len } => self.core.release_capacity(id, len),
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
            Cmd::Abandoned { id } => {
                if self
                    .streams
                    .get(&id.get())
                    .is_some_and(|e| !e.response_done)
                {
                    self.fail_stream(id, UsageError::StreamClosed);
                }
            }
        }
    }

    fn response_done(&mut self, id: StreamId) {
        if let Some(e) = self.streams.get_mut(&id.get()) {
            e.response_done = true;
            e.abort = None;
        }
        self.maybe_remove(id);
    }

    /// Gives each streaming response credit up to its budget: bytes in flight between the
    /// response task and the wire (unused permits, the channel, the core's queue) stay within
    /// the stream's send window (at least 16 KiB, at most 1 MiB).
    fn top_up_credit(&mut self) {
        let max_budget = self.max_budget;
        for (&raw, e) in self.streams.iter_mut() {
            if e.response_done || e.sent == 0 {
                continue;
            }
            let id = StreamId::new(raw);
            let queued = self.core.stream(id).map_or(0, |s| s.queued()) as u64;
            let written = e.sent.saturating_sub(queued);
            let outstanding = e.granted.saturating_sub(written);
            let budget = (self.core.send_capacity(id) as usize)
                .clamp(MIN_BUDGET.min(max_budget), max_budget) as u64;
            if outstanding < budget {
                let add = budget - outstanding;
                e.credit.add_permits(add as usize);
                e.granted += add;
            }
        }
    }

    fn finish(&mut self) {
        for (_, e) in self.streams.drain() {
            Self::kill(e, crate::body::BodyError::ConnectionClosed);
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
    fn request_parts_reuse_an_equal_authority_and_parse_a_new_one() {
        use h2kit::Field;
        let req = |authority: &'static str, extra: &[(&'static str, &'static str)]| {
            let mut f = vec![
                Field::new(":method", Bytes::from_static(b"GET")),
                Field::new(":scheme", Bytes::from_static(b"http")),
                Field::new(":authority", Bytes::from_static(authority.as_bytes())),
                Field::new(":path", Bytes::from_static(b"/a?b")),
            ];
            for (n, v) in extra {
                f.push(Field::new(*n, Bytes::from_static(v.as_bytes())));
            }
            f
        };
        let mut cache = super::HeadCache::default();
        let a = super::request_parts(&req("example.com:8080", &[]), &mut cache).unwrap();
        assert_eq!(a.uri.to_string(), "http://example.com:8080/a?b");
        assert!(a.headers.is_empty());
        // Equal bytes from another buffer: the cached parse.
        let owned = Bytes::from(b"example.com:8080".to_vec());
        let mut fields = req("x", &[("accept", "*/*"), ("accept", "text/html")]);
        fields[2].value = owned;
        let b = super::request_parts(&fields, &mut cache).unwrap();
        assert_eq!(b.uri.authority().unwrap().as_str(), "example.com:8080");
        assert_eq!(b.uri.port_u16(), Some(8080));
        assert_eq!(b.headers.get_all("accept").iter().count(), 2);
        // A different authority is parsed, not taken from the cache.
        let c = super::request_parts(&req("other.example", &[]), &mut cache).unwrap();
        assert_eq!(c.uri.host(), Some("other.example"));
        // An invalid one fails and leaves the cache as it was.
        assert!(super::request_parts(&req("bad authority", &[]), &mut cache).is_none());
        let d = super::request_parts(&req("other.example", &[]), &mut cache).unwrap();
        assert_eq!(d.uri.host(), Some("other.example"));
    }

    #[test]
    fn cached_header_names_equal_parsed_ones() {
        let mut cache = super::NameCache::default();
        let mut names: Vec<String> = [
            "accept",
            "user-agent",
            "x-custom",
            "te",
            "a",
            "content-type",
            "X-Upper",
            "sec-ch-ua-platform",
            "accept-encoding",
            "accept-language",
            "cookie",
        ]
        .iter()
        .map(|n| n.to_string())
        .collect();
        names.extend((0..200).map(|i| format!("x-h{i}")));
        names.push("x-".repeat(40));
        // Several rounds, so hits, misses and slot replacements all happen.
        for _ in 0..3 {
            for n in &names {
                let want = http::HeaderName::from_bytes(n.as_bytes()).unwrap();
                assert_eq!(cache.parse(n.as_bytes()), Some(want), "{n}");
            }
        }
        assert_eq!(cache.parse(b""), None);
        assert_eq!(cache.parse(b"bad name"), None);
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
}
