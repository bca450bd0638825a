//! `h2kit demo`: an embedded TLS server and our client on loopback, showing what HTTP/2 does.
//!
//! Everything runs in this process: the server binds `127.0.0.1:0` with a freshly generated
//! self-signed certificate, and the client trusts exactly that certificate (no built-in roots,
//! no network). Seven steps each print what they show, what happened and the numbers, and
//! check a result that can fail; a summary of the frames counted through the client's
//! frame-trace hook follows.

use std::collections::HashSet;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use h2kit_client::trace::{Direction, Frame, FrameTrace, HeaderField};
use h2kit_client::{Body, Client, Config, ExtensiblePriority, Urgency};
use h2kit_server::{AccessLog, Server, StreamInfo};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};

use super::trace;

/// Arguments of `h2kit demo`.
#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// Print every frame sent and received (stream, type, flags, decoded headers).
    #[arg(long)]
    pub(crate) trace: bool,
    /// Smaller transfers (the default in debug builds), for a run of about a second.
    #[arg(long)]
    pub(crate) quick: bool,
}

/// How much each step moves.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    requests: usize,
    hold: Duration,
    download: usize,
    upload: usize,
    bulk_streams: usize,
    bulk: usize,
    urgent: usize,
}

const MIB: usize = 1 << 20;

impl Sizes {
    const FULL: Sizes = Sizes {
        requests: 200,
        hold: Duration::from_millis(20),
        download: 64 * MIB,
        upload: 16 * MIB,
        bulk_streams: 4,
        bulk: 32 * MIB,
        urgent: MIB,
    };
    const QUICK: Sizes = Sizes {
        requests: 200,
        hold: Duration::from_millis(20),
        download: 8 * MIB,
        upload: 4 * MIB,
        bulk_streams: 3,
        bulk: 16 * MIB,
        urgent: 256 * 1024,
    };

    /// Every response size the server can serve from its pattern buffer.
    fn served(&self) -> [usize; 3] {
        [self.download, self.bulk, self.urgent]
    }
}

/// A step that did not do what it should: shown as `step N (title) failed: why`.
struct Failed(String);

impl<E: std::fmt::Display> From<E> for Failed {
    fn from(e: E) -> Self {
        Failed(e.to_string())
    }
}

fn fail<T>(message: impl Into<String>) -> Result<T, Failed> {
    Err(Failed(message.into()))
}

pub(crate) fn run(args: DemoArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // The embedded server sends bulk data beside an urgent response (the priority step).
        .event_interval(h2kit_server::RUNTIME_EVENT_INTERVAL)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("h2kit demo: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(demo(args))
}

// ---------------------------------------------------------------------------------------------
// Content: a deterministic byte pattern and a 64-bit checksum over it.
// ---------------------------------------------------------------------------------------------

/// splitmix64: word `i` of the pattern.
fn pattern_word(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `len` bytes of the pattern (pseudo-random, so a misplaced chunk changes the checksum).
fn pattern(len: usize) -> Bytes {
    let mut v = Vec::with_capacity(len + 8);
    let mut i = 0u64;
    while v.len() < len {
        v.extend_from_slice(&pattern_word(i).to_le_bytes());
        i += 1;
    }
    v.truncate(len);
    Bytes::from(v)
}

/// An order-sensitive 64-bit checksum (xor, multiply, rotate per 8-byte word), fed in chunks
/// of any size. Not cryptographic: it catches lost, duplicated or reordered bytes.
#[derive(Clone, Debug, Default)]
struct Checksum {
    state: u64,
    len: u64,
    tail: [u8; 8],
    tail_len: usize,
}

impl Checksum {
    fn word(&mut self, w: u64) {
        self.state = (self.state ^ w)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }

    fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if self.tail_len > 0 {
            let n = (8 - self.tail_len).min(data.len());
            self.tail[self.tail_len..self.tail_len + n].copy_from_slice(&data[..n]);
            self.tail_len += n;
            data = &data[n..];
            if self.tail_len < 8 {
                return;
            }
            self.word(u64::from_le_bytes(self.tail));
            self.tail_len = 0;
        }
        let mut words = data.chunks_exact(8);
        for c in &mut words {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.word(u64::from_le_bytes(w));
        }
        let rest = words.remainder();
        self.tail[..rest.len()].copy_from_slice(rest);
        self.tail_len = rest.len();
    }

    fn finish(&self) -> u64 {
        let mut end = self.clone();
        if end.tail_len > 0 {
            end.tail[end.tail_len..].fill(0);
            end.word(u64::from_le_bytes(end.tail));
        }
        end.word(end.len);
        pattern_word(end.state)
    }

    fn hex(&self) -> String {
        format!("{:016x}", self.finish())
    }
}

fn checksum(data: &[u8]) -> String {
    let mut c = Checksum::default();
    c.update(data);
    c.hex()
}

// ---------------------------------------------------------------------------------------------
// The embedded server.
// ---------------------------------------------------------------------------------------------

/// What the server's handler shares: the content and counters the steps report.
struct Served {
    sizes: Sizes,
    content: Bytes,
    checksums: Vec<(usize, String)>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    peers: Mutex<HashSet<SocketAddr>>,
    responses: AtomicU64,
}

impl Served {
    fn new(sizes: Sizes) -> Self {
        let largest = sizes.served().into_iter().max().unwrap_or(0);
        let content = pattern(largest);
        let checksums = sizes
            .served()
            .into_iter()
            .map(|n| (n, checksum(&content[..n])))
            .collect();
        Served {
            sizes,
            content,
            checksums,
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            peers: Mutex::new(HashSet::new()),
            responses: AtomicU64::new(0),
        }
    }

    fn checksum_of(&self, len: usize) -> Option<&str> {
        self.checksums
            .iter()
            .find(|(n, _)| *n == len)
            .map(|(_, c)| c.as_str())
    }

    fn log(&self, line: &AccessLog) {
        self.responses.fetch_add(1, Ordering::Relaxed);
        if let (Some(addr), Ok(mut peers)) = (line.remote_addr, self.peers.lock()) {
            peers.insert(addr);
        }
    }

    fn connections(&self) -> usize {
        self.peers.lock().map_or(0, |p| p.len())
    }
}

fn text(status: StatusCode, body: impl Into<String>) -> Response<h2kit_server::Body> {
    let mut r = Response::new(h2kit_server::Body::from(body.into()));
    *r.status_mut() = status;
    r
}

fn header(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("?"))
}

const STYLE_CSS: &str = "body { font-family: sans-serif; color: #223; }\n";

async fn handle(
    served: Arc<Served>,
    req: Request<h2kit_server::Body>,
) -> Response<h2kit_server::Body> {
    let path = req.uri().path().to_owned();
    match (req.method().clone(), path.as_str()) {
        // Step 1: every answer waits a little, as if it did work; many wait at once.
        (Method::GET, p) if p.starts_with("/hello/") => {
            let now = served.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            served.peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(served.sizes.hold).await;
            served.in_flight.fetch_sub(1, Ordering::SeqCst);
            text(StatusCode::OK, format!("hello {}", &p[7..]))
        }
        // Steps 2 and 6: a prefix of the pattern, with its checksum in a header.
        (Method::GET, p) if p.starts_with("/bytes/") => {
            let Some(len) = p[7..].parse::<usize>().ok() else {
                return text(StatusCode::BAD_REQUEST, "bad length");
            };
            let Some(sum) = served.checksum_of(len) else {
                return text(StatusCode::NOT_FOUND, "no such size");
            };
            let mut r = Response::new(h2kit_server::Body::full(served.content.slice(..len)));
            r.headers_mut()
                .insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
            r.headers_mut().insert("x-checksum", header(sum));
            r
        }
        // Step 3: read the upload as it streams in, answer with its length and checksum.
        (Method::POST, "/upload") => {
            let mut body = req.into_body();
            let mut sum = Checksum::default();
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(h2kit_server::Frame::Data(d)) => sum.update(&d),
                    Ok(h2kit_server::Frame::Trailers(_)) => {}
                    Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
                }
            }
            let mut r = text(StatusCode::OK, "");
            r.headers_mut()
                .insert("x-received", HeaderValue::from(sum.len));
            r.headers_mut().insert("x-checksum", header(&sum.hex()));
            r
        }
        // Step 4: echo the request trailers as response trailers, add the body's checksum.
        (Method::POST, "/trailers") => {
            let collected = match req.into_body().collect(MIB).await {
                Ok(c) => c,
                Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
            };
            let mut trailers = HeaderMap::new();
            let mut names = Vec::new();
            for (name, value) in collected.trailers.iter().flatten() {
                names.push(name.as_str().to_owned());
                if let Ok(echo) = http::HeaderName::try_from(format!("x-echo-{name}")) {
                    trailers.insert(echo, value.clone());
                }
            }
            trailers.insert("x-checksum", header(&checksum(&collected.data)));
            let body = format!(
                "received {} bytes and trailers: {}\n",
                collected.data.len(),
                names.join(", ")
            );
            Response::new(h2kit_server::Body::full_with_trailers(body, trailers))
        }
        // Step 5: the page pushes its stylesheet before answering.
        (Method::GET, "/page") => {
            if let Some(pusher) = req.extensions().get::<StreamInfo>().map(StreamInfo::pusher) {
                let promised = Request::get("/style.css").body(());
                let mut css = Response::new(h2kit_server::Body::from(STYLE_CSS));
                css.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("text/css"),
                );
                if let Ok(promised) = promised {
                    if let Err(e) = pusher.push(promised, css).await {
                        return text(StatusCode::INTERNAL_SERVER_ERROR, format!("push: {e}"));
                    }
                }
            }
            let mut r = text(
                StatusCode::OK,
                "<link rel=stylesheet href=/style.css><p>pushed</p>\n",
            );
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/html"),
            );
            r
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}

// ---------------------------------------------------------------------------------------------
// The client's frame counters (and `--trace`).
// ---------------------------------------------------------------------------------------------

struct Counter {
    frames: [[AtomicU64; 256]; 2],
    data: [AtomicU64; 2],
    /// The priority step's wire-level watch (see [`Counter::arm`]).
    watch: Watch,
    trace: bool,
    start: Instant,
}

/// Received DATA bytes at two moments, seen in the connection task's frame order: when the
/// next request's HEADERS went out, and when that stream's first DATA arrived. Their
/// difference is the data the server had committed ahead of the request's first byte.
#[derive(Default)]
struct Watch {
    armed: std::sync::atomic::AtomicBool,
    /// The watched stream (0: none yet).
    stream: std::sync::atomic::AtomicU32,
    sent_at: AtomicU64,
    /// u64::MAX until the first DATA arrives.
    first_at: AtomicU64,
}

impl Counter {
    fn new(trace: bool, start: Instant) -> Self {
        Counter {
            frames: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            data: std::array::from_fn(|_| AtomicU64::new(0)),
            watch: Watch {
                first_at: AtomicU64::new(u64::MAX),
                ..Watch::default()
            },
            trace,
            start,
        }
    }

    fn data(&self, direction: Direction) -> u64 {
        self.data[direction as usize].load(Ordering::Relaxed)
    }

    /// Watches the next request sent (see [`Watch`]).
    fn arm(&self) {
        self.watch.first_at.store(u64::MAX, Ordering::Relaxed);
        self.watch.stream.store(0, Ordering::Relaxed);
        self.watch.armed.store(true, Ordering::Release);
    }

    /// DATA bytes received on the wire after the watched request went out and before its
    /// first DATA, once that has arrived.
    fn ahead(&self) -> Option<u64> {
        let first = self.watch.first_at.load(Ordering::Acquire);
        (first != u64::MAX).then(|| first - self.watch.sent_at.load(Ordering::Relaxed))
    }
}

impl FrameTrace for Counter {
    fn on_frame(&self, direction: Direction, frame: &Frame, fields: Option<&[HeaderField]>) {
        let d = direction as usize;
        let ty = frame.frame_type();
        self.frames[d][usize::from(ty.0)].fetch_add(1, Ordering::Relaxed);
        let id = frame.stream_id().get();
        match (direction, frame) {
            (Direction::Sent, Frame::Headers(_))
                if self.watch.armed.load(Ordering::Acquire)
                    && self.watch.armed.swap(false, Ordering::AcqRel) =>
            {
                let now = self.data(Direction::Received);
                self.watch.sent_at.store(now, Ordering::Relaxed);
                self.watch.stream.store(id, Ordering::Relaxed);
            }
            (Direction::Received, Frame::Data(_))
                if id == self.watch.stream.load(Ordering::Relaxed)
                    && self.watch.first_at.load(Ordering::Relaxed) == u64::MAX =>
            {
                let now = self.data(Direction::Received);
                self.watch.first_at.store(now, Ordering::Release);
            }
            _ => {}
        }
        if let Frame::Data(data) = frame {
            self.data[d].fetch_add(data.data.len() as u64, Ordering::Relaxed);
        }
        if !self.trace {
            return;
        }
        let mut line = String::with_capacity(96);
        let arrow = match direction {
            Direction::Sent => "send →",
            Direction::Received => "recv ←",
        };
        let _ = write!(
            line,
            "  [{:8.3} ms] {arrow} {:<13} stream={:<4} ",
            self.start.elapsed().as_secs_f64() * 1e3,
            ty.to_string(),
            frame.stream_id().get(),
        );
        trace::describe(frame, &mut line);
        trace::fields(
            fields.unwrap_or_default(),
            "                        ",
            &mut line,
        );
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }

    fn on_error(&self, direction: Direction, error: &str) {
        if self.trace {
            println!("  [trace] cannot decode {direction:?} frames any more: {error}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Output helpers.
// ---------------------------------------------------------------------------------------------

fn mib(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1000.0 * 1024.0 {
        format!("{:.1} MiB", b / MIB as f64)
    } else if bytes >= 1024 {
        format!("{:.0} KiB", b / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

fn rate(bytes: u64, d: Duration) -> String {
    let per_sec = bytes as f64 / d.as_secs_f64().max(1e-9);
    if per_sec >= (1u64 << 30) as f64 {
        format!("{:.2} GiB/s", per_sec / (1u64 << 30) as f64)
    } else {
        format!("{:.0} MiB/s", per_sec / MIB as f64)
    }
}

fn ms(d: Duration) -> String {
    let m = d.as_secs_f64() * 1e3;
    if m >= 1000.0 {
        format!("{:.1} s", m / 1e3)
    } else if m >= 100.0 {
        format!("{m:.0} ms")
    } else {
        format!("{m:.1} ms")
    }
}

fn say(line: impl AsRef<str>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", line.as_ref());
    let _ = out.flush();
}

// ---------------------------------------------------------------------------------------------
// The steps.
// ---------------------------------------------------------------------------------------------

struct Ctx {
    client: Client,
    served: Arc<Served>,
    sizes: Sizes,
    counter: Arc<Counter>,
    requests: AtomicU64,
    pushes: AtomicU64,
    progress_bar: bool,
}

impl Ctx {
    fn send(&self, request: Request<Body>) -> h2kit_client::ResponseFuture {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.client.send(request)
    }
}

fn get(path: &str) -> Result<Request<Body>, Failed> {
    Ok(Request::get(path).body(Body::empty())?)
}

fn expect_ok<B>(what: &str, r: &Response<B>) -> Result<(), Failed> {
    if r.status() != StatusCode::OK {
        return fail(format!("{what}: status {}", r.status()));
    }
    Ok(())
}

fn header_str<'a, B>(r: &'a Response<B>, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn multiplexing(ctx: &Ctx) -> Result<(), Failed> {
    let n = ctx.sizes.requests;
    let hold = ctx.sizes.hold;
    say(format!(
        "    {n} GETs sent at once; the server holds each one for {} before answering.",
        ms(hold)
    ));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let response = ctx.send(get(&format!("/hello/{i}"))?);
        tasks.spawn(async move {
            let response = response.await?;
            expect_ok("response", &response)?;
            let body = response.into_body().collect().await?;
            if body != format!("hello {i}").as_bytes() {
                return fail(format!(
                    "request {i} got {:?}",
                    String::from_utf8_lossy(&body)
                ));
            }
            Ok::<(), Failed>(())
        });
    }
    let mut done = 0;
    while let Some(r) = tasks.join_next().await {
        r??;
        done += 1;
    }
    let elapsed = start.elapsed();
    let connections = ctx.served.connections();
    let peak = ctx.served.peak.load(Ordering::SeqCst);
    if connections != 1 {
        return fail(format!("the server saw {connections} connections, not 1"));
    }
    say(format!(
        "    ✓ {done} responses in {} ({:.0} req/s) on 1 TCP connection, {peak} streams open at once",
        ms(elapsed),
        done as f64 / elapsed.as_secs_f64()
    ));
    say(format!(
        "      one at a time (one HTTP/1.1 connection, no pipelining) they would need {} or more",
        ms(hold * n as u32)
    ));
    Ok(())
}

async fn download(ctx: &Ctx) -> Result<(), Failed> {
    let len = ctx.sizes.download;
    say(format!(
        "    GET of {} generated by the server; DATA frames flow as the client's windows allow.",
        mib(len as u64)
    ));
    let start = Instant::now();
    let response = ctx.send(get(&format!("/bytes/{len}"))?).await?;
    expect_ok("download", &response)?;
    let expected = header_str(&response, "x-checksum").to_owned();
    let total = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .unwrap_or(len as u64);
    let bar = ctx.progress_bar.then(|| {
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "    {bar:40.cyan/blue} {bytes}/{total_bytes} {bytes_per_sec}",
        ) {
            bar.set_style(style.progress_chars("█▉▊▋▌▍▎▏ "));
        }
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar
    });
    let mut body = response.into_body();
    let mut sum = Checksum::default();
    let mut next_line = total / 4;
    while let Some(chunk) = body.chunk().await {
        let chunk = chunk?;
        sum.update(&chunk);
        match &bar {
            Some(bar) => bar.set_position(sum.len),
            None if sum.len >= next_line && sum.len < total => {
                say(format!(
                    "      {} of {} after {}",
                    mib(sum.len),
                    mib(total),
                    ms(start.elapsed())
                ));
                next_line += total / 4;
            }
            None => {}
        }
    }
    if let Some(bar) = bar {
        bar.finish();
    }
    let elapsed = start.elapsed();
    if sum.len != len as u64 {
        return fail(format!("received {} of {len} bytes", sum.len));
    }
    if sum.hex() != expected {
        return fail(format!(
            "checksum {} differs from the server's {expected}",
            sum.hex()
        ));
    }
    say(format!(
        "    ✓ {} in {} ({}), checksum {expected} matches the server's",
        mib(sum.len),
        ms(elapsed),
        rate(sum.len, elapsed)
    ));
    Ok(())
}

async fn upload(ctx: &Ctx) -> Result<(), Failed> {
    let len = ctx.sizes.upload;
    const CHUNK: usize = 64 * 1024;
    say(format!(
        "    POST of {} from a Stream of {} KiB chunks, sent as the server's windows open.",
        mib(len as u64),
        CHUNK / 1024
    ));
    let content = ctx.served.content.slice(..len);
    let sent = checksum(&content);
    let chunks = (0..len.div_ceil(CHUNK))
        .map(move |i| Ok::<_, Infallible>(content.slice(i * CHUNK..((i + 1) * CHUNK).min(len))));
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let request = Request::post("/upload").body(body)?;
    let start = Instant::now();
    let response = ctx.send(request).await?;
    expect_ok("upload", &response)?;
    let received = header_str(&response, "x-received").to_owned();
    let theirs = header_str(&response, "x-checksum").to_owned();
    let elapsed = start.elapsed();
    if received != len.to_string() {
        return fail(format!("the server received {received:?} bytes, not {len}"));
    }
    if theirs != sent {
        return fail(format!("the server computed {theirs:?}, we sent {sent}"));
    }
    say(format!(
        "    ✓ {} in {} ({}); the server's checksum {theirs} matches ours",
        mib(len as u64),
        ms(elapsed),
        rate(len as u64, elapsed)
    ));
    Ok(())
}

async fn trailers(ctx: &Ctx) -> Result<(), Failed> {
    say("    A POST whose body ends with trailers (HEADERS after DATA), echoed back in the");
    say("    response's trailers next to a checksum the server computed over the body.");
    let data = Bytes::from_static(b"trailers arrive after the body, so they can describe it\n");
    let mut sent = HeaderMap::new();
    sent.insert("x-demo-checksum", header(&checksum(&data)));
    sent.insert("x-demo-note", HeaderValue::from_static("sent-last"));
    let body = Body::from(data.clone()).with_trailers(sent.clone());
    let request = Request::post("/trailers").body(body)?;
    let response = ctx.send(request).await?;
    expect_ok("trailers", &response)?;
    let mut body = response.into_body();
    let mut text = Vec::new();
    while let Some(chunk) = body.chunk().await {
        text.extend_from_slice(&chunk?);
    }
    let Some(got) = body.trailers().await? else {
        return fail("the response had no trailers");
    };
    for (name, value) in &sent {
        let echo = format!("x-echo-{name}");
        if got.get(&echo) != Some(value) {
            return fail(format!(
                "trailer {echo} is {:?}, sent {value:?}",
                got.get(&echo)
            ));
        }
    }
    let theirs = got
        .get("x-checksum")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if theirs != checksum(&data) {
        return fail(format!(
            "x-checksum trailer {theirs:?} does not match the body"
        ));
    }
    say(format!(
        "    ✓ server: {}",
        String::from_utf8_lossy(&text).trim_end()
    ));
    let mut names: Vec<String> = got
        .iter()
        .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap_or("?")))
        .collect();
    names.sort();
    say(format!("    ✓ response trailers: {}", names.join(", ")));
    Ok(())
}

async fn push(ctx: &Ctx) -> Result<(), Failed> {
    say("    GET /page; the handler promises /style.css (PUSH_PROMISE) and sends it unasked.");
    let start = Instant::now();
    let mut future = ctx.send(get("/page")?);
    let Some(mut pushes) = future.pushes() else {
        return fail("push is not enabled on the client");
    };
    let response = future.await?;
    expect_ok("page", &response)?;
    let page = response.into_body().collect().await?;
    let pushed = tokio::time::timeout(Duration::from_secs(5), pushes.next())
        .await
        .map_err(|_| Failed("no push within 5 s".into()))?;
    let Some(pushed) = pushed else {
        return fail("the server pushed nothing");
    };
    let path = pushed.request().uri().path().to_owned();
    let stream = pushed.stream_id().get();
    let response = pushed.response().await?;
    expect_ok("pushed response", &response)?;
    let content_type = header_str(&response, "content-type").to_owned();
    let css = response.into_body().collect().await?;
    ctx.pushes.fetch_add(1, Ordering::Relaxed);
    if path != "/style.css" || css != STYLE_CSS.as_bytes() {
        return fail(format!(
            "unexpected push {path}: {:?}",
            String::from_utf8_lossy(&css)
        ));
    }
    say(format!(
        "    ✓ page ({} B) and pushed {path} ({} B, {content_type}, promised stream {stream}) in {}",
        page.len(),
        css.len(),
        ms(start.elapsed())
    ));
    Ok(())
}

async fn priority(ctx: &Ctx) -> Result<(), Failed> {
    let Sizes {
        bulk_streams,
        bulk,
        urgent,
        ..
    } = ctx.sizes;
    say(format!(
        "    {bulk_streams} bulk downloads of {} at urgency 7 (incremental), then one of {} at",
        mib(bulk as u64),
        mib(urgent as u64)
    ));
    say("    urgency 0: the server's RFC 9218 scheduler sends the urgent DATA first.");
    let progress: Arc<Vec<AtomicU64>> =
        Arc::new((0..bulk_streams).map(|_| AtomicU64::new(0)).collect());
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..bulk_streams {
        let mut request = get(&format!("/bytes/{bulk}"))?;
        request.extensions_mut().insert(ExtensiblePriority {
            urgency: Urgency::LOWEST,
            incremental: true,
        });
        let response = ctx.send(request);
        let progress = progress.clone();
        tasks.spawn(async move {
            let response = response.await?;
            expect_ok("bulk", &response)?;
            let expected = header_str(&response, "x-checksum").to_owned();
            let mut body = response.into_body();
            let mut sum = Checksum::default();
            while let Some(chunk) = body.chunk().await {
                let chunk = chunk?;
                sum.update(&chunk);
                progress[k].store(sum.len, Ordering::Relaxed);
            }
            if sum.hex() != expected || sum.len != bulk as u64 {
                return fail(format!("bulk download {k} is corrupt"));
            }
            Ok::<Instant, Failed>(Instant::now())
        });
    }
    let received = || {
        progress
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    // Start the urgent request once the bulk transfers are well under way.
    let threshold = (bulk_streams * bulk / 16) as u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while received() < threshold {
        if Instant::now() > deadline {
            return fail("the bulk downloads did not get going");
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let bulk_before = received();
    ctx.counter.arm();
    let sent_at = Instant::now();
    let mut request = get(&format!("/bytes/{urgent}"))?;
    request.extensions_mut().insert(ExtensiblePriority {
        urgency: Urgency::HIGHEST,
        incremental: false,
    });
    let response = ctx.send(request).await?;
    expect_ok("urgent", &response)?;
    let expected = header_str(&response, "x-checksum").to_owned();
    let mut body = response.into_body();
    let mut sum = Checksum::default();
    let mut first = None;
    while let Some(chunk) = body.chunk().await {
        let chunk = chunk?;
        if first.is_none() {
            first = Some((Instant::now(), received()));
        }
        sum.update(&chunk);
    }
    let urgent_done = Instant::now();
    let bulk_after = received();
    if sum.hex() != expected || sum.len != urgent as u64 {
        return fail("the urgent response is corrupt");
    }
    let (first_at, bulk_at_first) = first.unwrap_or((urgent_done, bulk_after));
    let mut finished = Vec::new();
    while let Some(r) = tasks.join_next().await {
        finished.push(r??);
    }
    finished.sort();
    let first_bulk = finished.first().copied().unwrap_or(urgent_done);
    let at = |t: Instant| ms(t.duration_since(start));
    say(format!(
        "    urgent request sent at {} with {} of {} bulk data received",
        at(sent_at),
        mib(bulk_before),
        mib((bulk_streams * bulk) as u64)
    ));
    let wire = ctx.counter.ahead().unwrap_or(0);
    say(format!(
        "      urgent (u=0): first DATA at {}, behind {} of bulk data the connection received \
         after sending\n        the request ({} reached the bulk readers meanwhile)",
        at(first_at),
        mib(wire),
        mib(bulk_at_first - bulk_before)
    ));
    say(format!(
        "      urgent (u=0): all {} at {}; bulk got {} between its first and last byte",
        mib(urgent as u64),
        at(urgent_done),
        mib(bulk_after - bulk_at_first)
    ));
    let times: Vec<String> = finished.iter().map(|t| at(*t)).collect();
    say(format!("      bulk (u=7) complete at {}", times.join(", ")));
    if urgent_done >= first_bulk {
        return fail(format!(
            "the urgent response finished at {}, after a bulk one ({})",
            at(urgent_done),
            at(first_bulk)
        ));
    }
    say(format!(
        "    ✓ the urgent response overtook {bulk_streams} bulk transfers already in progress"
    ));
    Ok(())
}

async fn ping(ctx: &Ctx) -> Result<(), Failed> {
    say("    PING frames carry 8 bytes the peer echoes at once: a round trip inside HTTP/2.");
    let mut rtts = Vec::new();
    for _ in 0..5 {
        rtts.push(ctx.client.ping().await?);
    }
    rtts.sort();
    let best = rtts.first().copied().unwrap_or_default();
    let median = rtts.get(rtts.len() / 2).copied().unwrap_or_default();
    say(format!(
        "    ✓ 5 PINGs answered: RTT min {:.0} µs, median {:.0} µs",
        best.as_secs_f64() * 1e6,
        median.as_secs_f64() * 1e6
    ));
    Ok(())
}

fn summary(ctx: &Ctx, elapsed: Duration) {
    let counter = &ctx.counter;
    say("");
    say("Summary");
    say(format!(
        "  requests     {} sent, {} pushed response received, {} TCP connection",
        ctx.requests.load(Ordering::Relaxed),
        ctx.pushes.load(Ordering::Relaxed),
        ctx.served.connections()
    ));
    let out = counter.data(Direction::Sent);
    let inn = counter.data(Direction::Received);
    say(format!("  data bytes   out {}, in {}", mib(out), mib(inn)));
    say(format!(
        "  time         {} ({} moved)",
        ms(elapsed),
        rate(out + inn, elapsed)
    ));
    say("  frames       type             sent   received");
    for ty in 0..=255u8 {
        let sent = counter.frames[0][usize::from(ty)].load(Ordering::Relaxed);
        let recv = counter.frames[1][usize::from(ty)].load(Ordering::Relaxed);
        if sent + recv == 0 {
            continue;
        }
        let name = h2kit_frame::FrameType(ty).to_string();
        say(format!("               {name:<15} {sent:>6} {recv:>10}"));
    }
}

type StepFn =
    for<'a> fn(&'a Ctx) -> std::pin::Pin<Box<dyn Future<Output = Result<(), Failed>> + Send + 'a>>;

async fn demo(args: DemoArgs) -> ExitCode {
    let start = Instant::now();
    let auto_quick = cfg!(debug_assertions) && !args.quick;
    let sizes = if args.quick || auto_quick {
        Sizes::QUICK
    } else {
        Sizes::FULL
    };
    match setup_and_run(args, sizes, auto_quick, start).await {
        Ok(()) => ExitCode::SUCCESS,
        Err((step, Failed(why))) => {
            eprintln!("h2kit demo: {step} failed: {why}");
            ExitCode::FAILURE
        }
    }
}

async fn setup_and_run(
    args: DemoArgs,
    sizes: Sizes,
    auto_quick: bool,
    start: Instant,
) -> Result<(), (String, Failed)> {
    let setup = |e: Failed| ("setup".to_owned(), e);
    say("h2kit demo: an HTTP/2 server and client talking over TLS on this machine");
    if auto_quick {
        say("(debug build: smaller transfers; `cargo run --release -- demo` for the full run)");
    }
    say("");

    // The server: TLS with a fresh self-signed certificate, windows big enough for bulk data.
    let served = Arc::new(Served::new(sizes));
    let mut server_config = Config::default();
    server_config.settings.max_concurrent_streams = 256;
    // A burst of HEADERS read in one go is parsed before the driver takes the requests:
    // allow as many pending as concurrent, or the excess is refused (REFUSED_STREAM).
    server_config.limits.max_pending_accept = 256;
    server_config.settings.initial_window_size = 4 << 20;
    server_config.connection_window_size = 32 << 20;
    let log = served.clone();
    let server = Server::builder()
        .tls_self_signed()
        .config(server_config)
        .shutdown_timeout(Duration::from_secs(2))
        .on_access(move |line| log.log(line))
        .build()
        .await
        .map_err(|e| setup(e.into()))?;
    let url = server.url();
    let Some(der) = server.certificate().map(|c| c.der().to_vec()) else {
        return Err(setup(Failed("the server has no certificate".into())));
    };
    let handler_state = served.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.serve_with_shutdown(
        move |req| handle(handler_state.clone(), req),
        async move {
            let _ = stopped.await;
        },
    ));
    say(format!(
        "  server   {url} (self-signed certificate for localhost/127.0.0.1, made just now)"
    ));

    // The client: trusts exactly that certificate, accepts push, counts every frame.
    let connect_start = Instant::now();
    let counter = Arc::new(Counter::new(args.trace, connect_start));
    let client = Client::builder()
        .builtin_roots(false)
        .add_root_certificate(&der)
        .enable_push(true)
        .initial_window_size(4 << 20)
        .connection_window_size(64 << 20)
        .frame_trace(counter.clone())
        .connect(&url)
        .await
        .map_err(|e| setup(e.into()))?;
    say(format!(
        "  client   trusts only that certificate; TCP + TLS + ALPN h2 ready in {}",
        ms(connect_start.elapsed())
    ));

    let ctx = Ctx {
        client,
        served: served.clone(),
        sizes,
        counter,
        requests: AtomicU64::new(0),
        pushes: AtomicU64::new(0),
        progress_bar: !args.trace && std::io::stderr().is_terminal(),
    };
    let steps: [(&str, StepFn); 7] = [
        ("Multiplexing: many requests, one connection", |c| {
            Box::pin(multiplexing(c))
        }),
        ("Large download with flow control", |c| {
            Box::pin(download(c))
        }),
        ("Streamed upload", |c| Box::pin(upload(c))),
        ("Trailers, both ways", |c| Box::pin(trailers(c))),
        ("Server push", |c| Box::pin(push(c))),
        ("Priority (RFC 9218): urgent beats bulk", |c| {
            Box::pin(priority(c))
        }),
        ("PING round trip", |c| Box::pin(ping(c))),
    ];
    let total = steps.len();
    for (i, (title, step)) in steps.into_iter().enumerate() {
        say("");
        say(format!("{}/{total} {title}", i + 1));
        let outcome = tokio::time::timeout(Duration::from_secs(120), step(&ctx))
            .await
            .unwrap_or_else(|_| fail("no result within 120 s"));
        if let Err(e) = outcome {
            say(format!("    ✗ {}", e.0));
            let _ = stop.send(());
            return Err((format!("step {} ({title})", i + 1), e));
        }
    }

    ctx.client.close();
    let _ = stop.send(());
    match tokio::time::timeout(Duration::from_secs(5), running).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => return Err(setup(Failed(format!("server: {e}")))),
        Ok(Err(e)) => return Err(setup(Failed(format!("server task: {e}")))),
        Err(_) => return Err(setup(Failed("the server did not shut down".into()))),
    }
    summary(&ctx, start.elapsed());
    say("");
    say(format!(
        "All {total} steps passed; the server answered {} requests and pushes.",
        served.responses.load(Ordering::Relaxed)
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_ignores_chunking_but_not_content() {
        let data = pattern(10_000 + 3);
        let whole = checksum(&data);
        for split in [1, 3, 7, 8, 9, 4096] {
            let mut c = Checksum::default();
            for piece in data.chunks(split) {
                c.update(piece);
            }
            assert_eq!(c.hex(), whole, "split {split}");
        }
        // A swapped pair of words, a flipped bit, a missing or extra byte all change it.
        let mut swapped = data.to_vec();
        swapped[..16].rotate_left(8);
        assert_ne!(checksum(&swapped), whole);
        let mut flipped = data.to_vec();
        flipped[5000] ^= 1;
        assert_ne!(checksum(&flipped), whole);
        assert_ne!(checksum(&data[..data.len() - 1]), whole);
        let mut longer = data.to_vec();
        longer.push(0);
        assert_ne!(checksum(&longer), whole);
    }

    #[test]
    fn pattern_prefixes_agree() {
        let long = pattern(1000);
        assert_eq!(&pattern(13)[..], &long[..13]);
        assert_ne!(&long[..8], &long[8..16]);
    }
}
