//! A small blocking driver for [`h2kit::Connection`] on std sockets.
//!
//! It follows the driving contract documented on `Connection` and nothing else: one thread
//! owns the connection and loops over *events → commands → output → wait for input or the
//! next deadline*. A second thread only reads the socket and hands the bytes over through a
//! bounded channel, so a blocking write never stops us from reading (and a peer that does not
//! read eventually stalls on TCP backpressure, not on our memory).
//!
//! Used by `examples/std_server.rs`, `examples/std_client.rs` and by the interop and
//! conformance tests (`#[path]`-included), so it carries no dependency beyond `h2kit`,
//! `bytes` and `std`.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use h2kit::{Config, Connection, ErrorCode, Event, Field, Initiator, StreamId, StreamIdMap};

/// What an application plugged into [`drive`] does.
pub trait App {
    /// Called for every event, in order.
    fn on_event(&mut self, conn: &mut Connection, event: Event);
    /// Called once per loop turn before output is written: move queued bodies into the
    /// connection as its buffers allow.
    fn pump(&mut self, _conn: &mut Connection) {}
    /// True when the application wants the connection closed (graceful GOAWAY).
    fn finished(&self) -> bool {
        false
    }
}

enum Input {
    Bytes(Vec<u8>),
    Eof,
}

/// Bytes handed to `poll_transmit` per call (one `write_all` each).
const WRITE_CHUNK: usize = 256 * 1024;
/// The longest the loop sleeps without looking at timers.
const MAX_WAIT: Duration = Duration::from_millis(100);

/// Runs `conn` over `socket` until the connection is closed, the peer closes the socket, or
/// `limit` elapses (then `ErrorKind::TimedOut`).
pub fn drive(
    socket: TcpStream,
    mut conn: Connection,
    app: &mut dyn App,
    limit: Option<Duration>,
) -> io::Result<()> {
    socket.set_nodelay(true)?;
    socket.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = socket.try_clone()?;
    let (tx, rx) = mpsc::sync_channel::<Input>(64);
    let reader_thread = thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.send(Input::Bytes(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = tx.send(Input::Eof);
    });
    let mut writer = socket;
    let start = Instant::now();
    let mut out = BytesMut::with_capacity(WRITE_CHUNK);
    let mut eof = false;
    let mut closing = false;
    let mut result = Ok(());
    loop {
        // 2. Events, 3. commands.
        while let Some(event) = conn.poll_event() {
            app.on_event(&mut conn, event);
        }
        app.pump(&mut conn);
        if app.finished() && !closing {
            closing = true;
            // Graceful: RST_STREAM frames and END_STREAMs still queued go out first.
            if conn.graceful_shutdown().is_err() {
                let _ = conn.go_away(ErrorCode::NO_ERROR, Bytes::new());
            }
        }
        // 4. Output.
        let mut write_failed = false;
        loop {
            out.clear();
            if conn.poll_transmit(Instant::now(), &mut out, Some(WRITE_CHUNK)) == 0 {
                break;
            }
            if writer.write_all(&out).is_err() {
                write_failed = true;
                break;
            }
        }
        if conn.is_closed() || eof || write_failed {
            break;
        }
        if limit.is_some_and(|l| start.elapsed() > l) {
            result = Err(io::Error::new(io::ErrorKind::TimedOut, "driver time limit"));
            break;
        }
        // 5. Wait for input or the next deadline; 1. input.
        let wait = conn
            .poll_timeout()
            .map_or(MAX_WAIT, |t| t.saturating_duration_since(Instant::now()))
            .min(MAX_WAIT);
        let mut next = rx.recv_timeout(wait);
        loop {
            match next {
                Ok(Input::Bytes(b)) => {
                    let _ = conn.recv(Instant::now(), &b);
                }
                Ok(Input::Eof) | Err(RecvTimeoutError::Disconnected) => {
                    conn.recv_eof();
                    eof = true;
                    break;
                }
                Err(RecvTimeoutError::Timeout) => break,
            }
            // Take whatever else already arrived before producing output.
            next = match rx.try_recv() {
                Ok(input) => Ok(input),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
            };
        }
        let now = Instant::now();
        if conn.poll_timeout().is_some_and(|t| t <= now) {
            conn.handle_timeout(now);
        }
    }
    // Deliver what happened last (e.g. `Terminated`), then close gracefully: stop writing and
    // keep reading for a moment, so a GOAWAY we wrote is not destroyed by a TCP reset.
    while let Some(event) = conn.poll_event() {
        app.on_event(&mut conn, event);
    }
    let _ = writer.shutdown(Shutdown::Write);
    if !eof {
        let linger = Instant::now() + Duration::from_millis(500);
        while let Ok(Input::Bytes(_)) =
            rx.recv_timeout(linger.saturating_duration_since(Instant::now()))
        {}
    }
    let _ = writer.shutdown(Shutdown::Both);
    drop(rx);
    let _ = reader_thread.join();
    result
}

// ------------------------------------------------------------------ bodies

struct Body {
    /// Chunks to send, each with the receive capacity to give back once it is handed over
    /// (an echo only reopens the peer's window as fast as it can send the bytes back).
    chunks: VecDeque<(Bytes, u32)>,
    end: bool,
    trailers: Option<Vec<Field>>,
}

/// Bodies waiting to go out, moved into the connection as its per-stream buffers allow.
#[derive(Default)]
pub struct Outbox {
    bodies: StreamIdMap<Body>,
}

/// How much the driver lets the connection buffer per stream before it holds data back.
const HIGH_WATER: usize = 128 * 1024;
/// The largest slice handed to `send_data` at once.
const SLICE: usize = 64 * 1024;

impl Outbox {
    fn body(&mut self, id: StreamId) -> &mut Body {
        self.bodies.entry(id).or_insert_with(|| Body {
            chunks: VecDeque::new(),
            end: false,
            trailers: None,
        })
    }

    /// Queues `data` for stream `id` (sliced, no copy); `release` bytes of receive capacity
    /// are given back on `id` when the last slice is handed to the connection.
    pub fn push(&mut self, id: StreamId, data: Bytes, release: u32) {
        let body = self.body(id);
        let mut rest = data;
        while rest.len() > SLICE {
            let head = rest.split_to(SLICE);
            body.chunks.push_back((head, 0));
        }
        body.chunks.push_back((rest, release));
    }

    /// Ends the body of `id` after what is queued, with trailers or an empty END_STREAM.
    pub fn end(&mut self, id: StreamId, trailers: Option<Vec<Field>>) {
        let body = self.body(id);
        body.end = true;
        body.trailers = trailers;
    }

    /// Forgets the body of `id` (the stream was reset).
    pub fn cancel(&mut self, id: StreamId) {
        self.bodies.remove(&id);
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.bodies.is_empty()
    }

    /// Moves queued data into the connection.
    pub fn pump(&mut self, conn: &mut Connection) {
        let mut done = Vec::new();
        for (&id, body) in self.bodies.iter_mut() {
            loop {
                let Some(queued) = conn.stream(id).map(|s| s.queued()) else {
                    // Reset or gone: nothing more to send.
                    done.push(id);
                    break;
                };
                if queued >= HIGH_WATER {
                    break;
                }
                let Some((data, release)) = body.chunks.pop_front() else {
                    if body.end {
                        let r = match body.trailers.take() {
                            Some(t) => conn.send_trailers(id, t),
                            None => conn.send_data(id, Bytes::new(), true),
                        };
                        let _ = r;
                        done.push(id);
                    }
                    break;
                };
                match conn.send_data(id, data.clone(), false) {
                    Ok(()) => {
                        if release > 0 {
                            conn.release_capacity(id, release);
                        }
                    }
                    Err(h2kit::UsageError::SendBufferFull) => {
                        body.chunks.push_front((data, release));
                        break;
                    }
                    Err(_) => {
                        done.push(id);
                        break;
                    }
                }
            }
        }
        for id in done {
            self.bodies.remove(&id);
        }
    }
}

// ------------------------------------------------------------------ fields

/// The value of the first field called `name`.
pub fn field<'a>(fields: &'a [Field], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|f| f.name.as_ref() == name.as_bytes())
        .map(|f| f.value.as_ref())
}

/// A deterministic body of `len` bytes (for integrity checks).
pub fn pattern(len: usize) -> Bytes {
    let mut v = Vec::with_capacity(len);
    let mut x: u32 = 0x2545_f491;
    for _ in 0..len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.push(x as u8);
    }
    Bytes::from(v)
}

// ------------------------------------------------------------------ server

/// A stream reset seen by the test server, with the request path it belonged to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenReset {
    /// The request's `:path`.
    pub path: String,
    /// The RST_STREAM code.
    pub code: ErrorCode,
    /// Who reset it.
    pub initiator: Initiator,
}

/// The test server's routes:
///
/// * `/echo`: the request body back as the response body, request trailers as response
///   trailers (flow control end to end: the client's window reopens as we send).
/// * `/trailers`: `trailers-body` followed by trailers `x-checksum: 42`, `grpc-status: 0`.
/// * `/reset`: RST_STREAM(INTERNAL_ERROR) instead of a response.
/// * `/hold`: response headers, then nothing until the client resets the stream.
/// * `/bytes/N`: N bytes of [`pattern`].
/// * anything else: `200`, `hello from h2kit\n` (no body for HEAD).
pub struct ServerApp {
    routes: StreamIdMap<Route>,
    outbox: Outbox,
    resets: Arc<Mutex<Vec<SeenReset>>>,
}

#[derive(Clone)]
enum Route {
    Echo,
    Other(String),
}

impl ServerApp {
    /// A server app recording the resets it sees into `resets`.
    pub fn new(resets: Arc<Mutex<Vec<SeenReset>>>) -> Self {
        ServerApp {
            routes: StreamIdMap::default(),
            outbox: Outbox::default(),
            resets,
        }
    }

    fn on_request(&mut self, conn: &mut Connection, id: StreamId, fields: &[Field], end: bool) {
        let path = String::from_utf8_lossy(field(fields, ":path").unwrap_or(b"/")).into_owned();
        let head = field(fields, ":method") == Some(b"HEAD");
        let ok = |len: Option<usize>| {
            let mut f = vec![
                Field::new(":status", "200"),
                Field::new("content-type", "application/octet-stream"),
            ];
            if let Some(len) = len {
                f.push(Field::new("content-length", len.to_string()));
            }
            f
        };
        if path == "/echo" {
            self.routes.insert(id, Route::Echo);
            let _ = conn.send_response(id, ok(None), end);
            return;
        }
        self.routes.insert(id, Route::Other(path.clone()));
        match path.as_str() {
            "/trailers" => {
                if conn.send_response(id, ok(None), false).is_ok() {
                    self.outbox
                        .push(id, Bytes::from_static(b"trailers-body"), 0);
                    self.outbox.end(
                        id,
                        Some(vec![
                            Field::new("x-checksum", "42"),
                            Field::new("grpc-status", "0"),
                        ]),
                    );
                }
            }
            "/reset" => {
                let _ = conn.reset(id, ErrorCode::INTERNAL_ERROR);
            }
            "/hold" => {
                let _ = conn.send_response(id, ok(None), false);
            }
            p if p.starts_with("/bytes/") => {
                let n = p["/bytes/".len()..].parse::<usize>().unwrap_or(0);
                if conn.send_response(id, ok(Some(n)), head || n == 0).is_ok() && !head && n > 0 {
                    self.outbox.push(id, pattern(n), 0);
                    self.outbox.end(id, None);
                }
            }
            _ => {
                let body = Bytes::from_static(b"hello from h2kit\n");
                if conn.send_response(id, ok(Some(body.len())), head).is_ok() && !head {
                    self.outbox.push(id, body, 0);
                    self.outbox.end(id, None);
                }
            }
        }
    }
}

impl App for ServerApp {
    fn on_event(&mut self, conn: &mut Connection, event: Event) {
        match event {
            Event::Request {
                stream,
                headers,
                end_stream,
                ..
            } => self.on_request(conn, stream, &headers, end_stream),
            Event::Data {
                stream,
                data,
                flow_controlled_len,
                end_stream,
            } => {
                if let Some(Route::Echo) = self.routes.get(&stream) {
                    let payload = data.len() as u32;
                    // Padding is given back at once, the payload as it is echoed.
                    conn.release_capacity(stream, flow_controlled_len - payload);
                    if !data.is_empty() {
                        self.outbox.push(stream, data, payload);
                    }
                    if end_stream {
                        self.outbox.end(stream, None);
                    }
                } else {
                    conn.release_capacity(stream, flow_controlled_len);
                }
            }
            Event::Trailers { stream, headers } => {
                if let Some(Route::Echo) = self.routes.get(&stream) {
                    self.outbox.end(stream, Some(headers.into_owned()));
                }
            }
            Event::StreamReset { stream, error } => {
                let (code, initiator) = (error.code(), error.initiator());
                self.outbox.cancel(stream);
                let path = match self.routes.remove(&stream) {
                    Some(Route::Echo) => "/echo".to_owned(),
                    Some(Route::Other(p)) => p,
                    None => String::new(),
                };
                if let Ok(mut log) = self.resets.lock() {
                    log.push(SeenReset {
                        path,
                        code,
                        initiator,
                    });
                }
            }
            _ => {}
        }
    }

    fn pump(&mut self, conn: &mut Connection) {
        self.outbox.pump(conn);
        // Forget routes of streams the connection no longer knows.
        if self.routes.len() > 64 {
            self.routes.retain(|id, _| conn.stream(*id).is_some());
        }
    }
}

/// A test server on a loopback port: one thread accepts, one thread (plus its reader) runs
/// each connection. Dropping it stops accepting; connections end on their own.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    resets: Arc<Mutex<Vec<SeenReset>>>,
}

impl Server {
    /// Listens on `addr` (port 0 for any) with connections built from `config()`.
    pub fn start(
        addr: impl ToSocketAddrs,
        config: impl Fn() -> Config + Send + 'static,
    ) -> io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let resets = Arc::new(Mutex::new(Vec::new()));
        let (stop2, resets2) = (stop.clone(), resets.clone());
        let accept = thread::spawn(move || {
            for socket in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(socket) = socket else { continue };
                let conn = Connection::server(config());
                let resets = resets2.clone();
                thread::spawn(move || {
                    let mut app = ServerApp::new(resets);
                    let _ = drive(socket, conn, &mut app, None);
                });
            }
        });
        Ok(Server {
            addr,
            stop,
            accept: Some(accept),
            resets,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The resets seen so far on every connection.
    pub fn resets(&self) -> Vec<SeenReset> {
        self.resets.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

// ------------------------------------------------------------------ client

/// A request for [`ClientApp`].
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// The fields, pseudo-headers first.
    pub fields: Vec<Field>,
    /// The body (none: END_STREAM on HEADERS unless trailers follow).
    pub body: Option<Bytes>,
    /// Trailers after the body.
    pub trailers: Option<Vec<Field>>,
    /// Reset the stream with this code as soon as the response headers arrive.
    pub reset_on_response: Option<ErrorCode>,
}

impl Request {
    /// A request with `method` and `path` for `authority` over `http`.
    pub fn new(method: &str, authority: &str, path: &str) -> Self {
        Request {
            fields: vec![
                Field::new(":method", method.to_owned()),
                Field::new(":scheme", "http"),
                Field::new(":path", path.to_owned()),
                Field::new(":authority", authority.to_owned()),
            ],
            ..Request::default()
        }
    }
}

/// What came back for one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// The final `:status` (0 if none arrived).
    pub status: u16,
    /// The final response's fields.
    pub headers: Vec<Field>,
    /// The body.
    pub body: Vec<u8>,
    /// Trailers, if any.
    pub trailers: Option<Vec<Field>>,
    /// The stream was reset (by the peer, us, or the library).
    pub reset: Option<(ErrorCode, Initiator)>,
    /// The exchange is over (ended or reset).
    pub done: bool,
}

/// How many refused requests a [`ClientApp`] retries in total.
const MAX_RETRIES: usize = 1_000;

/// A client that sends a list of requests, as many at once as the server allows, and
/// collects the responses; it closes the connection when all are done.
pub struct ClientApp {
    waiting: VecDeque<(usize, Request)>,
    streams: StreamIdMap<(usize, Request)>,
    /// Requests retried after REFUSED_STREAM (bounded).
    pub retries: usize,
    /// The responses, in the order of the requests.
    pub responses: Vec<Response>,
    outbox: Outbox,
    /// The connection ended (the error, if any, as text).
    pub terminated: Option<String>,
}

impl ClientApp {
    /// A client for `requests`.
    pub fn new(requests: Vec<Request>) -> Self {
        ClientApp {
            responses: vec![Response::default(); requests.len()],
            waiting: requests.into_iter().enumerate().collect(),
            streams: StreamIdMap::default(),
            retries: 0,
            outbox: Outbox::default(),
            terminated: None,
        }
    }

    fn start_requests(&mut self, conn: &mut Connection) {
        while let Some((i, req)) = self.waiting.pop_front() {
            let end = req.body.is_none() && req.trailers.is_none();
            match conn.send_request(req.fields.clone(), end) {
                Ok(id) => {
                    if let Some(body) = req.body.clone() {
                        self.outbox.push(id, body, 0);
                    }
                    if !end {
                        self.outbox.end(id, req.trailers.clone());
                    }
                    self.streams.insert(id, (i, req));
                }
                Err(h2kit::UsageError::ConcurrencyLimit) => {
                    self.waiting.push_front((i, req));
                    return;
                }
                Err(e) => {
                    if let Some(r) = self.responses.get_mut(i) {
                        r.done = true;
                        r.reset = Some((ErrorCode::REFUSED_STREAM, Initiator::Local));
                    }
                    self.terminated.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }

    fn response(&mut self, id: StreamId) -> Option<&mut Response> {
        let (i, _) = self.streams.get(&id)?;
        self.responses.get_mut(*i)
    }
}

impl App for ClientApp {
    fn on_event(&mut self, conn: &mut Connection, event: Event) {
        match event {
            Event::Response {
                stream,
                status,
                headers,
                end_stream,
            } => {
                if let Some(r) = self.response(stream) {
                    r.status = status;
                    r.headers = headers.into_owned();
                    r.done = end_stream;
                }
                if let Some(code) = self
                    .streams
                    .get(&stream)
                    .and_then(|s| s.1.reset_on_response)
                {
                    self.outbox.cancel(stream);
                    let _ = conn.reset(stream, code);
                    if let Some(r) = self.response(stream) {
                        r.reset = Some((code, Initiator::Local));
                        r.done = true;
                    }
                }
            }
            Event::Data {
                stream,
                data,
                flow_controlled_len,
                end_stream,
            } => {
                conn.release_capacity(stream, flow_controlled_len);
                if let Some(r) = self.response(stream) {
                    r.body.extend_from_slice(&data);
                    r.done |= end_stream;
                }
            }
            Event::Trailers { stream, headers } => {
                if let Some(r) = self.response(stream) {
                    r.trailers = Some(headers.into_owned());
                    r.done = true;
                }
            }
            Event::StreamReset { stream, error } => {
                let (code, initiator) = (error.code(), error.initiator());
                self.outbox.cancel(stream);
                let unanswered = self.response(stream).is_some_and(|r| r.status == 0);
                if code == ErrorCode::REFUSED_STREAM
                    && initiator == Initiator::Remote
                    && unanswered
                    && self.retries < MAX_RETRIES
                {
                    // Not processed by the server: safe to retry (RFC 9113 §8.7). This
                    // happens when we opened streams before the server's SETTINGS told us
                    // its concurrency limit.
                    if let Some(entry) = self.streams.remove(&stream) {
                        self.retries += 1;
                        self.waiting.push_back(entry);
                        return;
                    }
                }
                if let Some(r) = self.response(stream) {
                    if !r.done {
                        r.reset = Some((code, initiator));
                        r.done = true;
                    }
                }
            }
            Event::Terminated { error } => {
                if error.initiator() != Initiator::Local {
                    self.terminated = Some(error.to_string());
                }
                for r in &mut self.responses {
                    r.done = true;
                }
                self.waiting.clear();
            }
            _ => {}
        }
    }

    fn pump(&mut self, conn: &mut Connection) {
        self.start_requests(conn);
        self.outbox.pump(conn);
    }

    fn finished(&self) -> bool {
        self.waiting.is_empty() && self.responses.iter().all(|r| r.done)
    }
}

/// Connects to `addr`, sends `requests` with a client built from `config`, and returns the
/// responses in request order (and the connection error text, if it ended with one).
pub fn fetch(
    addr: SocketAddr,
    config: Config,
    requests: Vec<Request>,
    limit: Duration,
) -> io::Result<(Vec<Response>, Option<String>)> {
    let socket = TcpStream::connect(addr)?;
    let mut app = ClientApp::new(requests);
    drive(socket, Connection::client(config), &mut app, Some(limit))?;
    Ok((app.responses, app.terminated))
}
