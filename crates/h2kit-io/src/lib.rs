//! h2kit-io: the transport pump under h2kit's tokio drivers.
//!
//! A [`Transport`] moves bytes between any tokio `AsyncRead + AsyncWrite` and a sans-IO
//! [`h2kit::Connection`], following the connection's driving contract: received bytes go to
//! [`Connection::recv`], end of input to [`Connection::recv_eof`], output from
//! [`Connection::poll_transmit`] is gathered into one large write, TLS-like transports are
//! flushed, and [`Connection::poll_timeout`] / [`Connection::handle_timeout`] run the
//! connection's timers. It does one step at a time ([`Transport::step`]), so the driver
//! around it can wait on its own commands in the same `select!` and handle events between
//! steps. `h2kit-client` and `h2kit-server` both run on it: one read path, one write path,
//! one set of buffer sizes.
//!
//! # Memory
//!
//! Memory is held only while there is work. Reads land in a buffer on the polling thread's
//! stack (the connection copies what it keeps into its own input buffer, so a per-connection
//! read buffer would only be a second copy), or, with [`PumpConfig::read_in_place`] while
//! data streams in, straight in the connection's input buffer, which DATA payloads are cut
//! from without a copy. The gathered output goes to a buffer taken from
//! a small per-thread pool when there is output and given back as soon as everything is
//! written, so an idle connection holds no I/O buffer.
//!
//! # Example
//!
//! A client and a server connection, each pumped by a `Transport`, over an in-memory pipe:
//!
//! ```
//! use std::time::Instant;
//!
//! use bytes::Bytes;
//! use h2kit::{Config, Connection, Event, Field};
//! use h2kit_io::{Step, Transport};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (a, b) = tokio::io::duplex(64 * 1024);
//!
//! // The server: answers every request with "hello" until the client goes away.
//! let server = tokio::spawn(async move {
//!     let mut conn = Connection::server(Config::default());
//!     let mut io = Transport::new(b, Default::default());
//!     loop {
//!         while let Some(event) = conn.poll_event() {
//!             if let Event::Request { stream, .. } = event {
//!                 conn.send_response(stream, vec![Field::new(":status", "200")], false)?;
//!                 conn.send_data(stream, Bytes::from_static(b"hello"), true)?;
//!             }
//!         }
//!         io.fill(&mut conn, Instant::now(), &mut ());
//!         if conn.is_closed() && io.is_flushed() {
//!             return Ok::<_, h2kit::UsageError>(());
//!         }
//!         if io.step(&mut conn, &mut (), None).await == Step::Closed && !io.has_output() {
//!             return Ok(());
//!         }
//!     }
//! });
//!
//! // The client: one GET, then read the response.
//! let mut conn = Connection::client(Config::default());
//! let mut io = Transport::new(a, Default::default());
//! let request = vec![
//!     Field::new(":method", "GET"),
//!     Field::new(":scheme", "http"),
//!     Field::new(":path", "/"),
//!     Field::new(":authority", "localhost"),
//! ];
//! let id = conn.send_request(request, true)?;
//! let mut body = Vec::new();
//! 'run: loop {
//!     io.fill(&mut conn, Instant::now(), &mut ());
//!     io.step(&mut conn, &mut (), None).await;
//!     while let Some(event) = conn.poll_event() {
//!         match event {
//!             Event::Data { stream, data, end_stream, .. } if stream == id => {
//!                 body.extend_from_slice(&data);
//!                 if end_stream {
//!                     break 'run;
//!                 }
//!             }
//!             _ => {}
//!         }
//!     }
//! }
//! assert_eq!(body, b"hello");
//! drop(io);
//! server.await??;
//! # Ok(())
//! # }
//! ```

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use h2kit::Connection;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// The most bytes one read takes from the transport (the size of the stack buffer it lands
/// in before [`Connection::recv`] copies it).
pub const READ_CHUNK: usize = 64 * 1024;

/// Commands a driver takes from its handles in one go before it generates output again:
/// bounds the latency one busy handle can add to the others.
pub const COMMAND_BATCH: usize = 256;

/// A write target for vectored transports ([`PumpConfig::vectored`],
/// [`PumpConfig::write_target`]): three DATA frames of the default size.
///
/// `h2kit serve` sending 1 MiB responses over loopback (h2load -c4 -m4) spent 175–185 µs of
/// CPU per response with 48 KiB writes and 190–205 with 32 KiB (nghttpd 225–230 in the same
/// runs). Targets of 64 and 128 KiB cost two to three times as much (measured before the
/// room was rounded to whole frames; probably because a write then no longer fits one
/// 64 KiB loopback segment, not confirmed).
pub const VECTORED_WRITE_TARGET: usize = 48 * 1024;

/// A DATA frame of the default maximum size (RFC 9113 §4.2), its header included.
const DEFAULT_FRAME: usize = 16 * 1024 + 9;

/// The most slices one vectored write hands the transport.
const MAX_IOVECS: usize = 64;

/// Output buffers kept per thread for connections that have something to write.
const SPARE_PER_THREAD: usize = 8;

/// Room above the write target: `poll_transmit` stops once the target is passed, which
/// can overshoot by up to one frame (a 16 KiB payload and its header).
const OVERSHOOT: usize = 16 * 1024 + 64;

thread_local! {
    static SPARE: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
    static SPARE_LISTS: RefCell<Vec<Vec<Bytes>>> = const { RefCell::new(Vec::new()) };
}

/// A slice list for a vectored transport's output, from the thread's pool when it has one.
fn take_spare_list() -> Vec<Bytes> {
    SPARE_LISTS
        .with(|s| s.borrow_mut().pop())
        .unwrap_or_else(|| Vec::with_capacity(MAX_IOVECS))
}

/// Gives an emptied slice list back to the thread's pool (a connection that goes idle after
/// every request would otherwise allocate one per request).
fn give_back_list(mut list: Vec<Bytes>) {
    if list.capacity() == 0 || list.capacity() > 4 * MAX_IOVECS {
        return;
    }
    list.clear();
    SPARE_LISTS.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < SPARE_PER_THREAD {
            s.push(list);
        }
    });
}

fn take_spare(capacity: usize) -> BytesMut {
    SPARE
        .with(|s| s.borrow_mut().pop())
        .filter(|b| b.capacity() >= capacity)
        .unwrap_or_else(|| BytesMut::with_capacity(capacity))
}

fn give_back(mut buf: BytesMut, capacity: usize) {
    if buf.capacity() == 0 {
        // Never taken (a vectored transport gathers no flat output).
        return;
    }
    buf.clear();
    // An emptied buffer whose start was advanced gets its whole allocation back.
    buf.reserve(capacity);
    if buf.capacity() < capacity || buf.capacity() > 2 * capacity + OVERSHOOT {
        return;
    }
    SPARE.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < SPARE_PER_THREAD {
            s.push(buf);
        }
    });
}

/// How a [`Transport`] gathers and writes output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PumpConfig {
    write_target: usize,
    flush_after_write: bool,
    vectored: bool,
    read_in_place: bool,
}

impl Default for PumpConfig {
    /// 32 KiB writes, flushed after each write.
    ///
    /// 32 KiB: a server sending 1 MiB responses over loopback spent ~360–400 µs of CPU per
    /// response with 64 KiB writes, ~290 with 16 KiB and ~250 with 32 KiB; small exchanges cost
    /// the same with all three. A write this size is still hundreds of frames of headers.
    fn default() -> Self {
        PumpConfig {
            write_target: 32 * 1024,
            flush_after_write: true,
            vectored: false,
            read_in_place: false,
        }
    }
}

impl PumpConfig {
    /// Output is gathered until it reaches `bytes` before a write (at least one frame).
    #[must_use]
    pub fn write_target(mut self, bytes: usize) -> Self {
        self.write_target = bytes.max(1024);
        self
    }

    /// Whether the transport is flushed once the gathered output is written. Needed for
    /// transports that buffer (TLS); a no-op poll for a plain socket.
    #[must_use]
    pub fn flush_after_write(mut self, flush: bool) -> Self {
        self.flush_after_write = flush;
        self
    }

    /// Whether output is gathered with [`Connection::poll_transmit_vectored`] and written
    /// with vectored writes (`writev`): DATA payloads of 512 octets or more go from the
    /// application's `Bytes` to the transport without a copy into an output buffer. Worth
    /// it on a transport whose vectored write takes the slices as they are (a TCP socket);
    /// off by default.
    #[must_use]
    pub fn vectored(mut self, vectored: bool) -> Self {
        self.vectored = vectored;
        self
    }

    /// Whether reads go straight into the connection's input buffer
    /// ([`Connection::recv_into`]) while data streams in, instead of through a buffer on the
    /// stack that [`Connection::recv`] copies: a read right after one that filled at least
    /// half of [`READ_CHUNK`] lands in place (no copy), any other on the stack. The input
    /// buffer keeps room for a whole read while a stream of data pauses (until the
    /// connection shrinks its idle buffers), so it suits a client receiving bulk data more
    /// than a server holding many quiet connections. Off by default.
    #[must_use]
    pub fn read_in_place(mut self, in_place: bool) -> Self {
        self.read_in_place = in_place;
        self
    }
}

/// Watches the bytes a [`Transport`] moves (a frame tracer, a byte counter).
pub trait Observer {
    /// Bytes read from the transport, before the connection sees them.
    fn received(&mut self, bytes: &[u8]) {
        let _ = bytes;
    }

    /// Bytes the connection produced, as they are gathered for writing.
    fn sent(&mut self, bytes: &[u8]) {
        let _ = bytes;
    }
}

/// No observer.
impl Observer for () {}

/// An observer that may be absent (a tracer switched on per connection).
impl<O: Observer> Observer for Option<O> {
    fn received(&mut self, bytes: &[u8]) {
        if let Some(o) = self {
            o.received(bytes);
        }
    }

    fn sent(&mut self, bytes: &[u8]) {
        if let Some(o) = self {
            o.sent(bytes);
        }
    }
}

/// What one [`Transport::step`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Bytes were read and given to [`Connection::recv`] (which may have queued events, or
    /// failed the connection: it reports that as `Event::Terminated`).
    Read(usize),
    /// The input ended: the peer closed its side, or reading failed ([`Transport::error`]).
    /// [`Connection::recv_eof`] was called.
    Closed,
    /// Bytes of gathered output were written.
    Wrote(usize),
    /// A flush completed.
    Flushed,
    /// Writing failed ([`Transport::error`]); output is discarded from now on and
    /// [`Connection::recv_eof`] was called.
    WriteFailed,
    /// A deadline passed: the connection's timers that were due ran
    /// ([`Connection::handle_timeout`]), or the caller's extra deadline arrived.
    Timer,
}

/// Moves bytes between a transport and a [`Connection`], one step at a time.
///
/// The driver's loop: handle the connection's events and its own commands, call
/// [`fill`](Self::fill) to gather output, then wait on [`step`](Self::step) (in a `select!`
/// beside the driver's command channel) and repeat.
pub struct Transport<T> {
    io: T,
    out: BytesMut,
    /// Gathered output of a vectored transport, in order (see [`PumpConfig::vectored`]);
    /// the slices before `head` are written.
    chunks: Vec<Bytes>,
    /// The first slice of `chunks` not written yet.
    head: usize,
    /// The octets in `chunks[head..]`.
    chunked: usize,
    config: PumpConfig,
    read_closed: bool,
    write_dead: bool,
    need_flush: bool,
    /// The last write took less than all the gathered output, or none of it (see
    /// [`Transport::backlog`]).
    short_write: bool,
    error: Option<io::Error>,
    sleep: Option<Pin<Box<Sleep>>>,
    armed: Option<Instant>,
    /// The last read filled half a [`READ_CHUNK`] or more (see
    /// [`PumpConfig::read_in_place`]).
    streaming: bool,
}

impl<T> std::fmt::Debug for Transport<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("pending_output", &(self.out.len() + self.chunked))
            .field("read_closed", &self.read_closed)
            .field("write_dead", &self.write_dead)
            .field("need_flush", &self.need_flush)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<T> Transport<T> {
    /// A pump for `io`.
    pub fn new(io: T, config: PumpConfig) -> Self {
        Transport {
            io,
            out: BytesMut::new(),
            chunks: Vec::new(),
            head: 0,
            chunked: 0,
            config,
            read_closed: false,
            write_dead: false,
            need_flush: false,
            short_write: false,
            error: None,
            sleep: None,
            armed: None,
            streaming: false,
        }
    }

    fn capacity(&self) -> usize {
        self.config.write_target + OVERSHOOT
    }

    /// Gathers the connection's output, up to the write target, unless as much is already
    /// waiting. Returns the bytes added. Output is dropped once writing failed.
    pub fn fill<O: Observer + ?Sized>(
        &mut self,
        conn: &mut Connection,
        now: Instant,
        observer: &mut O,
    ) -> usize {
        let target = self.config.write_target;
        if self.config.vectored {
            return self.fill_vectored(conn, now, observer);
        }
        if self.write_dead || self.out.len() >= target {
            return 0;
        }
        if self.out.capacity() == 0 {
            self.out = take_spare(self.capacity());
        }
        let start = self.out.len();
        while self.out.len() < target {
            let room = target - self.out.len();
            if conn.poll_transmit(now, &mut self.out, Some(room)) == 0 {
                break;
            }
        }
        let added = self.out.len() - start;
        if added > 0 {
            observer.sent(&self.out[start..]);
        } else if self.out.is_empty() {
            self.release();
        }
        added
    }

    /// [`fill`](Self::fill) of a vectored transport: the output as `Bytes` slices.
    fn fill_vectored<O: Observer + ?Sized>(
        &mut self,
        conn: &mut Connection,
        now: Instant,
        observer: &mut O,
    ) -> usize {
        let target = self.config.write_target;
        let mut added = 0;
        while !self.write_dead && self.chunked < target {
            if self.chunks.capacity() == 0 {
                self.chunks = take_spare_list();
            }
            // Whole frames of the default size: a room cut short of one would split a DATA
            // frame and leave a tiny one for the next write.
            let room = (target - self.chunked).next_multiple_of(DEFAULT_FRAME);
            let first = self.chunks.len();
            let n = conn.poll_transmit_vectored(now, &mut self.chunks, Some(room));
            if n == 0 {
                break;
            }
            for chunk in &self.chunks[first..] {
                observer.sent(chunk);
            }
            self.chunked += n;
            added += n;
        }
        added
    }

    /// Output is gathered and not yet written.
    pub fn has_output(&self) -> bool {
        !self.out.is_empty() || self.chunked > 0
    }

    /// Gathered output the transport would not take at once: the bytes still waiting since
    /// a write took less than all of them or none (a socket whose send queue is full); 0
    /// while writes take everything gathered. A driver that bounds what it holds for a peer
    /// that reads slowly or not at all counts these with it: they are held as long as the
    /// peer does not read, where output that is written whole is gone at the next write.
    pub fn backlog(&self) -> usize {
        if self.short_write {
            self.out.len() + self.chunked
        } else {
            0
        }
    }

    /// Everything gathered was written (and flushed, where flushing is configured), or
    /// writing failed.
    pub fn is_flushed(&self) -> bool {
        self.write_dead || (!self.has_output() && !self.need_flush)
    }

    /// The input ended ([`Step::Closed`] was returned).
    pub fn read_closed(&self) -> bool {
        self.read_closed
    }

    /// Writing failed ([`Step::WriteFailed`] was returned).
    pub fn write_failed(&self) -> bool {
        self.write_dead
    }

    /// The first I/O error, if reading or writing failed.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// Takes the first I/O error out.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    /// The transport.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// The transport, mutably (writing to it directly would interleave with gathered
    /// output).
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.io
    }

    /// Gives the output buffer back to the thread's pool (and drops gathered slices).
    fn release(&mut self) {
        let cap = self.capacity();
        give_back(std::mem::take(&mut self.out), cap);
        give_back_list(std::mem::take(&mut self.chunks));
        self.head = 0;
        self.chunked = 0;
    }

    fn fail_write(&mut self, conn: &mut Connection, e: io::Error) -> Step {
        if self.error.is_none() {
            self.error = Some(e);
        }
        self.write_dead = true;
        self.need_flush = false;
        self.release();
        conn.recv_eof();
        Step::WriteFailed
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Transport<T> {
    /// Waits for the next step: a write of gathered output (first), a flush, a read (given to
    /// the connection), or a deadline (the connection's timers, or `extra`, the caller's
    /// own). Never returns while nothing can happen; a driver waits on it beside its
    /// commands.
    ///
    /// While writes never wait, input is looked at only when the output runs dry; a driver
    /// that wants to see a request that arrives meanwhile calls
    /// [`read_now`](Self::read_now) between writes (a tokio socket's readiness is only as
    /// fresh as the runtime's last look at its I/O driver, see `h2kit-server`'s
    /// `RUNTIME_EVENT_INTERVAL`).
    pub fn step<'a, O: Observer + ?Sized>(
        &'a mut self,
        conn: &'a mut Connection,
        observer: &'a mut O,
        extra: Option<Instant>,
    ) -> impl Future<Output = Step> + 'a {
        poll_fn(move |cx| self.poll_step(cx, conn, observer, extra))
    }

    /// [`step`](Self::step) as a poll function.
    pub fn poll_step<O: Observer + ?Sized>(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut Connection,
        observer: &mut O,
        extra: Option<Instant>,
    ) -> Poll<Step> {
        if let Poll::Ready(step) = self.poll_output(cx, conn) {
            return Poll::Ready(step);
        }
        if let Poll::Ready(step) = self.poll_input(cx, conn, observer) {
            return Poll::Ready(step);
        }
        let deadline = match (conn.poll_timeout(), extra) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match deadline {
            Some(d) => {
                let at = tokio::time::Instant::from_std(d);
                let sleep = self
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
                if self.armed != Some(d) {
                    sleep.as_mut().reset(at);
                    self.armed = Some(d);
                }
                if sleep.as_mut().poll(cx).is_ready() {
                    self.armed = None;
                    let now = Instant::now();
                    if conn.poll_timeout().is_some_and(|t| t <= now) {
                        conn.handle_timeout(now);
                    }
                    return Poll::Ready(Step::Timer);
                }
            }
            None => self.armed = None,
        }
        let holds = self.out.capacity() > 0 || self.chunks.capacity() > 0;
        if !self.has_output() && !self.need_flush && holds {
            // Nothing to write and waiting: an idle connection keeps no output buffer.
            self.release();
        }
        Poll::Pending
    }

    /// Reads once if input is there (given to the connection): `Pending` when nothing has
    /// arrived (the task is woken when something does) or the input has ended.
    fn poll_input<O: Observer + ?Sized>(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut Connection,
        observer: &mut O,
    ) -> Poll<Step> {
        if self.read_closed {
            return Poll::Pending;
        }
        let polled = if self.config.read_in_place && self.streaming {
            self.poll_read_in_place(cx, conn, observer)
        } else {
            let mut buf = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut rb = ReadBuf::uninit(&mut buf);
            let polled = Pin::new(&mut self.io).poll_read(cx, &mut rb);
            if let Poll::Ready(Ok(())) = polled {
                let data = rb.filled();
                if !data.is_empty() {
                    observer.received(data);
                    // A connection error is reported as Event::Terminated.
                    let _ = conn.recv(Instant::now(), data);
                }
                Poll::Ready(Ok(data.len()))
            } else {
                polled.map_ok(|()| 0)
            }
        };
        self.streaming = matches!(polled, Poll::Ready(Ok(n)) if n >= READ_CHUNK / 2);
        match polled {
            Poll::Ready(Ok(0)) => {
                self.read_closed = true;
                conn.recv_eof();
                Poll::Ready(Step::Closed)
            }
            Poll::Ready(Ok(n)) => Poll::Ready(Step::Read(n)),
            Poll::Ready(Err(e)) => {
                self.read_closed = true;
                if self.error.is_none() {
                    self.error = Some(e);
                }
                conn.recv_eof();
                Poll::Ready(Step::Closed)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// One read straight into the connection's input buffer, which then processes it (see
    /// [`PumpConfig::read_in_place`]); the number of bytes read, 0 at the end of input.
    fn poll_read_in_place<O: Observer + ?Sized>(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut Connection,
        observer: &mut O,
    ) -> Poll<io::Result<usize>> {
        let io = &mut self.io;
        // A connection error is reported as Event::Terminated.
        let (polled, _) = conn.recv_into(Instant::now(), |buf| {
            let start = buf.len();
            // Room for a whole read; in place when the payloads handed out from the buffer
            // have been dropped.
            buf.reserve(READ_CHUNK);
            let read = std::pin::pin!(io.read_buf(buf));
            let polled = read.poll(cx);
            if let Poll::Ready(Ok(n)) = polled {
                if let Some(data) = buf.get(start..start + n) {
                    observer.received(data);
                }
            }
            polled
        });
        polled
    }

    /// Writes (or flushes) what is gathered, if the transport takes it now.
    fn poll_output(&mut self, cx: &mut Context<'_>, conn: &mut Connection) -> Poll<Step> {
        if self.write_dead {
            return Poll::Pending;
        }
        if self.chunked > 0 {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let mut count = 0;
            for (slot, chunk) in slices.iter_mut().zip(&self.chunks[self.head..]) {
                *slot = IoSlice::new(chunk);
                count += 1;
            }
            let written = Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..count]);
            return match written {
                Poll::Ready(Ok(0)) => {
                    let e = io::Error::new(io::ErrorKind::WriteZero, "the transport took no bytes");
                    Poll::Ready(self.fail_write(conn, e))
                }
                Poll::Ready(Ok(n)) => {
                    self.consume(n);
                    self.short_write = self.chunked > 0;
                    if self.chunked == 0 && self.config.flush_after_write {
                        self.need_flush = true;
                        if let Poll::Ready(Err(e)) = self.poll_flush_now(cx) {
                            return Poll::Ready(self.fail_write(conn, e));
                        }
                    }
                    Poll::Ready(Step::Wrote(n))
                }
                Poll::Ready(Err(e)) => Poll::Ready(self.fail_write(conn, e)),
                Poll::Pending => {
                    self.short_write = true;
                    Poll::Pending
                }
            };
        }
        if !self.out.is_empty() {
            match Pin::new(&mut self.io).poll_write(cx, &self.out) {
                Poll::Ready(Ok(0)) => {
                    let e = io::Error::new(io::ErrorKind::WriteZero, "the transport took no bytes");
                    return Poll::Ready(self.fail_write(conn, e));
                }
                Poll::Ready(Ok(n)) => {
                    self.out.advance(n);
                    self.short_write = !self.out.is_empty();
                    if self.out.is_empty() && self.config.flush_after_write {
                        self.need_flush = true;
                        if let Poll::Ready(Err(e)) = self.poll_flush_now(cx) {
                            return Poll::Ready(self.fail_write(conn, e));
                        }
                    }
                    return Poll::Ready(Step::Wrote(n));
                }
                Poll::Ready(Err(e)) => return Poll::Ready(self.fail_write(conn, e)),
                Poll::Pending => {
                    self.short_write = true;
                    return Poll::Pending;
                }
            }
        }
        if self.need_flush {
            return match self.poll_flush_now(cx) {
                Poll::Ready(Ok(())) => Poll::Ready(Step::Flushed),
                Poll::Ready(Err(e)) => Poll::Ready(self.fail_write(conn, e)),
                Poll::Pending => Poll::Pending,
            };
        }
        Poll::Pending
    }

    /// Drops the first `n` written octets of the gathered slices.
    fn consume(&mut self, mut n: usize) {
        self.chunked -= n;
        while n > 0 {
            let Some(front) = self.chunks.get_mut(self.head) else {
                break;
            };
            if front.len() > n {
                front.advance(n);
                break;
            }
            n -= front.len();
            // Written: dropped now (its buffer may be reused), not when the list is cleared.
            *front = Bytes::new();
            self.head += 1;
        }
        if self.chunked == 0 {
            self.chunks.clear();
            self.head = 0;
        }
    }

    fn poll_flush_now(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        if r.is_ready() {
            self.need_flush = false;
        }
        r
    }

    /// Reads what has arrived, without waiting and without writing: `Some(Step::Read)` or
    /// `Some(Step::Closed)` when it read, `None` when nothing is there. For a driver that
    /// wants to see new input before it gathers more output (see [`Transport::step`]).
    pub async fn read_now<O: Observer + ?Sized>(
        &mut self,
        conn: &mut Connection,
        observer: &mut O,
    ) -> Option<Step> {
        poll_fn(|cx| match self.poll_input(cx, conn, observer) {
            Poll::Ready(step) => Poll::Ready(Some(step)),
            Poll::Pending => Poll::Ready(None),
        })
        .await
    }

    /// Writes the gathered output once (waiting until the transport takes some), without
    /// reading: for a driver that wants its output out before it does anything else.
    /// `None` when there is nothing to write.
    pub async fn write_now(&mut self, conn: &mut Connection) -> Option<Step> {
        if !self.has_output() || self.write_dead {
            return None;
        }
        Some(poll_fn(|cx| self.poll_output(cx, conn)).await)
    }

    /// Shuts the transport's write side down (TLS close_notify, TCP FIN), waiting at most
    /// `within`. Does nothing once writing failed.
    pub async fn shutdown(&mut self, within: Duration) {
        if self.write_dead {
            return;
        }
        let io = &mut self.io;
        let _ =
            tokio::time::timeout(within, poll_fn(|cx| Pin::new(&mut *io).poll_shutdown(cx))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use h2kit::{Config, Event, Field};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn get() -> Vec<Field> {
        vec![
            Field::new(":method", "GET"),
            Field::new(":scheme", "http"),
            Field::new(":path", "/"),
            Field::new(":authority", "localhost"),
        ]
    }

    /// A transport that takes at most `chunk` bytes per write and counts flushes.
    struct Trickle<T> {
        inner: T,
        chunk: usize,
        flushes: usize,
    }

    impl<T: AsyncRead + Unpin> AsyncRead for Trickle<T> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl<T: AsyncWrite + Unpin> AsyncWrite for Trickle<T> {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.chunk);
            Pin::new(&mut self.inner).poll_write(cx, &buf[..n])
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.flushes += 1;
            Pin::new(&mut self.inner).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    #[tokio::test]
    async fn partial_writes_deliver_every_byte_in_order_and_flush() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let mut conn = Connection::client(Config::default());
        let mut io = Transport::new(
            Trickle {
                inner: a,
                chunk: 7,
                flushes: 0,
            },
            PumpConfig::default(),
        );
        conn.send_request(get(), true).unwrap();
        let mut expected = Vec::new();
        struct Tap<'a>(&'a mut Vec<u8>);
        impl Observer for Tap<'_> {
            fn sent(&mut self, bytes: &[u8]) {
                self.0.extend_from_slice(bytes);
            }
        }
        assert!(io.fill(&mut conn, Instant::now(), &mut Tap(&mut expected)) > 0);
        while io.has_output() {
            assert!(matches!(
                io.step(&mut conn, &mut (), None).await,
                Step::Wrote(n) if n <= 7
            ));
        }
        assert!(io.is_flushed(), "the last write is followed by a flush");
        assert!(io.get_ref().flushes >= 1);
        let mut got = vec![0; expected.len()];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(got, expected);
        assert!(got.starts_with(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    }

    /// A 1 MiB response read with [`PumpConfig::read_in_place`]: after the first large read
    /// the reads land in the connection's buffer; every byte still reaches the observer and
    /// the body arrives whole and in order.
    #[tokio::test]
    async fn reads_in_place_deliver_a_large_response_whole() {
        let (a, mut b) = tokio::io::duplex(256 * 1024);
        let mut client = Connection::client(Config::default());
        let mut server = Connection::server(Config::default());
        let id = client.send_request(get(), true).unwrap();
        let mut wire = BytesMut::new();
        while client.poll_transmit(Instant::now(), &mut wire, None) > 0 {}
        server.recv(Instant::now(), &wire).unwrap();
        let mut stream = None;
        while let Some(e) = server.poll_event() {
            if let Event::Request { stream: s, .. } = e {
                stream = Some(s);
            }
        }
        let stream = stream.unwrap();
        let body: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
        server
            .send_response(stream, vec![Field::new(":status", "200")], false)
            .unwrap();
        server
            .send_data(stream, bytes::Bytes::from(body.clone()), true)
            .unwrap();
        let mut reply = BytesMut::new();
        while server.poll_transmit(Instant::now(), &mut reply, None) > 0 {}
        let sent = reply.len();
        tokio::spawn(async move { b.write_all(&reply).await });

        struct Count(usize);
        impl Observer for Count {
            fn received(&mut self, bytes: &[u8]) {
                self.0 += bytes.len();
            }
        }
        let mut seen = Count(0);
        let mut io = Transport::new(a, PumpConfig::default().read_in_place(true));
        let (mut got, mut ended) = (Vec::new(), false);
        while !ended {
            let step = tokio::time::timeout(
                Duration::from_secs(5),
                io.step(&mut client, &mut seen, None),
            )
            .await
            .expect("the response arrives");
            assert!(!matches!(step, Step::Closed), "{:?}", io.error());
            while let Some(e) = client.poll_event() {
                match e {
                    Event::Data {
                        stream,
                        data,
                        end_stream,
                        ..
                    } if stream == id => {
                        got.extend_from_slice(&data);
                        ended |= end_stream;
                    }
                    Event::Terminated { error } => panic!("{error}"),
                    _ => {}
                }
            }
        }
        assert_eq!(got.len(), body.len());
        assert!(got == body, "the body arrives in order");
        assert_eq!(seen.0, sent, "the observer sees every byte read");
    }

    #[tokio::test]
    async fn vectored_partial_writes_deliver_every_byte_in_order() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let mut conn = Connection::client(Config::default());
        let mut io = Transport::new(
            Trickle {
                inner: a,
                chunk: 1000,
                flushes: 0,
            },
            PumpConfig::default().vectored(true),
        );
        let id = conn.send_request(get(), false).unwrap();
        // A body of large payloads (handed out as slices, not copied) and a small one.
        let body: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        conn.send_data(id, Bytes::copy_from_slice(&body[..40_000]), false)
            .unwrap();
        conn.send_data(id, Bytes::copy_from_slice(&body[40_000..]), true)
            .unwrap();
        let mut expected = Vec::new();
        struct Tap<'a>(&'a mut Vec<u8>);
        impl Observer for Tap<'_> {
            fn sent(&mut self, bytes: &[u8]) {
                self.0.extend_from_slice(bytes);
            }
        }
        loop {
            io.fill(&mut conn, Instant::now(), &mut Tap(&mut expected));
            if !io.has_output() {
                break;
            }
            while io.has_output() {
                assert!(matches!(
                    io.step(&mut conn, &mut (), None).await,
                    Step::Wrote(n) if n <= 1000
                ));
            }
        }
        assert!(io.is_flushed());
        assert!(expected.len() > body.len());
        let mut got = vec![0; expected.len()];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(got, expected);
        // The body is on the wire, in order, after the frame headers.
        let mut server = Connection::server(Config::default());
        server.recv(Instant::now(), &got).unwrap();
        let mut received = Vec::new();
        while let Some(e) = server.poll_event() {
            if let Event::Data { data, .. } = e {
                received.extend_from_slice(&data);
            }
        }
        assert_eq!(received, body);
    }

    /// Output a write left behind is the backlog until a write takes all of it.
    #[tokio::test]
    async fn the_backlog_is_what_short_writes_left() {
        let (a, _b) = tokio::io::duplex(1 << 20);
        let mut conn = Connection::client(Config::default());
        let mut io = Transport::new(
            Trickle {
                inner: a,
                chunk: 7,
                flushes: 0,
            },
            PumpConfig::default(),
        );
        conn.send_request(get(), true).unwrap();
        let gathered = io.fill(&mut conn, Instant::now(), &mut ());
        assert!(gathered > 7);
        assert_eq!(io.backlog(), 0, "nothing refused before the first write");
        assert!(matches!(
            io.step(&mut conn, &mut (), None).await,
            Step::Wrote(7)
        ));
        assert_eq!(io.backlog(), gathered - 7);
        while io.has_output() {
            io.step(&mut conn, &mut (), None).await;
        }
        assert_eq!(io.backlog(), 0);
    }

    #[tokio::test]
    async fn idle_transport_gives_its_output_buffer_back() {
        let (a, _b) = tokio::io::duplex(1 << 20);
        let mut conn = Connection::client(Config::default());
        let mut io = Transport::new(a, PumpConfig::default());
        io.fill(&mut conn, Instant::now(), &mut ());
        assert!(io.out.capacity() > 0);
        while io.has_output() || !io.is_flushed() {
            io.step(&mut conn, &mut (), None).await;
        }
        // The next step finds nothing to do and parks: the buffer goes back to the pool.
        let parked =
            tokio::time::timeout(Duration::from_millis(20), io.step(&mut conn, &mut (), None))
                .await;
        assert!(parked.is_err() || matches!(parked, Ok(Step::Timer)));
        assert_eq!(io.out.capacity(), 0);
        // And the pool hands it out again.
        conn.ping([1; 8]).unwrap();
        assert!(io.fill(&mut conn, Instant::now(), &mut ()) > 0);
        assert!(io.out.capacity() >= io.capacity());
    }

    #[tokio::test]
    async fn peer_close_and_write_failure_are_reported_once() {
        let (a, b) = tokio::io::duplex(1024);
        let mut conn = Connection::client(Config::default());
        let mut io = Transport::new(a, PumpConfig::default());
        drop(b);
        io.fill(&mut conn, Instant::now(), &mut ());
        let mut saw = Vec::new();
        for _ in 0..4 {
            match tokio::time::timeout(Duration::from_millis(50), io.step(&mut conn, &mut (), None))
                .await
            {
                Ok(step) => saw.push(step),
                Err(_) => break,
            }
        }
        assert!(saw.contains(&Step::WriteFailed), "{saw:?}");
        assert!(saw.contains(&Step::Closed), "{saw:?}");
        assert!(io.write_failed() && io.read_closed() && io.error().is_some());
        assert!(io.is_flushed());
        assert_eq!(io.fill(&mut conn, Instant::now(), &mut ()), 0);
    }

    #[tokio::test]
    async fn reads_reach_the_connection_and_extra_deadlines_fire() {
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let mut server = Connection::server(Config::default());
        let mut io = Transport::new(a, PumpConfig::default());
        // A client's preface, SETTINGS and one request, written by another connection.
        let mut client = Connection::client(Config::default());
        client.send_request(get(), true).unwrap();
        let mut wire = BytesMut::new();
        while client.poll_transmit(Instant::now(), &mut wire, None) > 0 {}
        b.write_all(&wire).await.unwrap();
        let mut requests = 0;
        while requests == 0 {
            assert!(matches!(
                io.step(&mut server, &mut (), None).await,
                Step::Read(_) | Step::Timer
            ));
            while let Some(e) = server.poll_event() {
                if let Event::Request { stream, .. } = e {
                    requests += 1;
                    server
                        .send_response(stream, vec![Field::new(":status", "204")], true)
                        .unwrap();
                }
            }
        }
        assert!(io.fill(&mut server, Instant::now(), &mut ()) > 0);
        let soon = Instant::now() + Duration::from_millis(5);
        let mut timer = false;
        for _ in 0..8 {
            if io.step(&mut server, &mut (), Some(soon)).await == Step::Timer {
                timer = true;
                break;
            }
        }
        assert!(timer, "the extra deadline wakes the step");
    }
}
