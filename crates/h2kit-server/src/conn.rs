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
use h2kit::http::{HeadCache, extend_response_fields, header_map, request_parts};
use h2kit::{
    Connection, ErrorCode, Event, Field, Initiator, StreamError, StreamId, StreamIdMap, UsageError,
};
use h2kit_io::{COMMAND_BATCH, PumpConfig, Step, Transport};
use http::uri::Scheme;
use http::{Method, Request, Response};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::AbortHandle;
use tracing::Instrument;

use crate::body::Body;
use crate::error::{BodyError, PushError};
use crate::handler::{Handler, PushConn, Pusher, StreamInfo};
use crate::log::{AccessLog, AccessLogger};
use crate::msg::{Cmd, Credit, Inbound, Incoming};
use crate::response::{ResponseCtx, StreamGuard, opens_tunnel, send_response, without_body};

/// The least response data a stream may have in flight, whatever its window says.
const MIN_BUDGET: usize = 16 * 1024;
/// How long a terminated connection may take to write its last frames.
const LINGER: Duration = Duration::from_secs(5);

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
    let mut io = Transport::new(io, PumpConfig::default().flush_after_write(driver.tls));
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
    shutdown: watch::Receiver<bool>,
    cmd_tx: mpsc::UnboundedSender<Cmd>,
    /// Shared by the pushers of every request (one reference count per request).
    push_conn: Arc<PushConn>,
    /// What the connection remembers of the request heads it received.
    heads: HeadCache,
    cmd_rx: mpsc::UnboundedReceiver<Cmd>,
    /// Per-stream state, keyed with the core's keyed stream-id hash (peers choose the ids).
    streams: StreamIdMap<Entry>,
    max_budget: usize,
    terminated_at: Option<Instant>,
    /// Entries with `stop_request` set.
    stop_requests: usize,
}

enum Wake {
    Io(Step),
    Cmd(Option<Cmd>),
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
            scheme: if params.tls {
                Scheme::HTTPS
            } else {
                Scheme::HTTP
            },
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
            heads: HeadCache::default(),
            cmd_rx,
            streams: StreamIdMap::default(),
            stop_requests: 0,
            max_budget,
            terminated_at: None,
        }
    }

    async fn run<S>(&mut self, io: &mut Transport<S>, initial: Bytes) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut shutdown_seen = *self.shutdown.borrow();
        if shutdown_seen {
            let _ = self.core.graceful_shutdown();
        }
        if !initial.is_empty() {
            let _ = self.core.recv(Instant::now(), &initial);
        }
        loop {
            let now = Instant::now();
            self.drain_events();
            if self.stop_requests > 0 {
                // Unread body data may just have arrived for an answered stream.
                self.stop_unread_requests();
            }
            if io.fill(&mut self.core, now, &mut ()) > 0 {
                self.top_up_credit();
                if self.stop_requests > 0 {
                    self.stop_unread_requests();
                }
                // Writing may end a draining connection (Event::Terminated).
                self.drain_events();
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
            let linger = self.terminated_at.map(|t| t + LINGER);
            let mut quiet = ();
            let wake = tokio::select! {
                step = io.step(&mut self.core, &mut quiet, linger) => Wake::Io(step),
                c = self.cmd_rx.recv() => Wake::Cmd(c),
                r = self.shutdown.changed(), if !shutdown_seen => {
                    if r.is_err() || *self.shutdown.borrow() { Wake::Shutdown } else { continue }
                }
            };
            match wake {
                Wake::Io(Step::Read(_)) => {
                    if self.drain_events() {
                        // Let the handlers just spawned answer, so their responses go out
                        // in the same write.
                        tokio::task::yield_now().await;
                    }
                    self.drain_commands();
                }
                Wake::Io(_) => {}
                Wake::Cmd(Some(c)) => {
                    self.on_cmd(c);
                    self.drain_commands();
                }
                Wake::Cmd(None) => {}
                Wake::Shutdown => {
                    shutdown_seen = true;
                    let _ = self.core.graceful_shutdown();
                }
            }
        }
    }

    fn drain_commands(&mut self) {
        for _ in 0..COMMAND_BATCH {
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
                    let map = match header_map(&headers, &mut self.heads) {
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
                    }
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
            id,
            Entry {
                body_tx,
                credit: credit.clone(),
                granted: budget as u64,
                sent: 0,
                response_done: false,
                stop_request: false,
                discarded: 0,
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
        let mut parts = match request_parts(&headers, &mut self.heads) {
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
        let task = async move {
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
        .instrument(span.clone());
        let task = tokio::spawn(task);
        if let Some(e) = self.streams.get_mut(&stream) {
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
        extend_response_fields(&mut fields, status, &parts.headers);
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
        }
        // Entries may also have left another way (the request ended after all).
        self.stop_requests = self.streams.values().filter(|e| e.stop_request).count();
    }

    /// Gives each streaming response credit up to its budget: bytes in flight between the
    /// response task and the wire (unused permits, the channel, the core's queue) stay within
    /// the stream's send window (at least 16 KiB, at most 1 MiB).
    fn top_up_credit(&mut self) {
        let max_budget = self.max_budget;
        for (&id, e) in self.streams.iter_mut() {
            if e.response_done || e.sent == 0 {
                continue;
            }
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
