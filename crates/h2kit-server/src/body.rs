//! Streaming message bodies with trailers, for requests and responses.

use std::fmt;
use std::fs::File;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use futures_core::Stream;
use http::HeaderMap;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

use crate::error::{BodyError, BoxError};
use crate::msg::{Cmd, Inbound, Incoming};

/// Bytes a reader-backed body reads per frame.
const READ_CHUNK: usize = 64 * 1024;
/// The most bytes a file-backed body reads per frame.
const FILE_CHUNK: usize = 32 * 1024;

/// One part of a body: data, or the trailers that end it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Body bytes.
    Data(Bytes),
    /// Trailers (always last).
    Trailers(HeaderMap),
}

enum Kind {
    Empty,
    Full {
        data: Option<Bytes>,
        /// Boxed: trailers are rare, and a header map inline would make every body (and
        /// every parked response) 40 bytes larger.
        trailers: Option<Box<HeaderMap>>,
    },
    Channel(mpsc::Receiver<Result<Frame, BodyError>>),
    Stream(Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>),
    Reader {
        reader: Pin<Box<dyn AsyncRead + Send>>,
        remaining: Option<u64>,
        buf: BytesMut,
        /// The most the next read may take (the stream's credit), when the server set it.
        limit: Option<usize>,
    },
    File {
        file: Arc<File>,
        offset: u64,
        remaining: u64,
        /// The most the next read may take (the stream's credit), when the server set it.
        limit: Option<usize>,
        /// Made at the first read: a body that waits for credit (a stream flood's parked
        /// responses) holds none.
        buffers: Option<Arc<Buffers>>,
    },
    Inbound(Inbound),
    /// Any [`http_body::Body`], with the frame [`Body::settle`] took from it and has not
    /// given out yet.
    Http {
        body: Pin<Box<dyn ErasedBody>>,
        /// Boxed, for the size of every body (see `Full`).
        first: Option<Box<Result<Frame, BodyError>>>,
    },
    Done,
}

/// An [`http_body::Body`] of any data and error type, seen as frames of [`Bytes`] (one box,
/// no projection of pins needed).
trait ErasedBody: Send {
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame, BodyError>>>;
    fn is_end_stream(&self) -> bool;
    fn size_hint(&self) -> http_body::SizeHint;
}

impl<B> ErasedBody for B
where
    B: http_body::Body + Send,
    B::Data: Buf,
    B::Error: Into<BoxError>,
{
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame, BodyError>>> {
        loop {
            let frame = match http_body::Body::poll_frame(self.as_mut(), cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Some(Err(BodyError::Source(e.into()))));
                }
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            let frame = match frame.into_data() {
                Ok(mut data) => Frame::Data(data.copy_to_bytes(data.remaining())),
                Err(frame) => match frame.into_trailers() {
                    Ok(trailers) => Frame::Trailers(trailers),
                    // A kind of frame HTTP/2 has no use for: skipped.
                    Err(_) => continue,
                },
            };
            return Poll::Ready(Some(Ok(frame)));
        }
    }

    fn is_end_stream(&self) -> bool {
        http_body::Body::is_end_stream(self)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::Body::size_hint(self)
    }
}

/// An HTTP message body: a stream of data [`Frame`]s, optionally ended by trailers.
///
/// Request bodies arrive as the peer sends them; the stream's flow-control window is given
/// back only as the handler takes data out, so a slow handler slows the peer instead of
/// making the server buffer. Response bodies are pulled by the server only as the peer's
/// window and the connection's queue have room.
pub struct Body {
    kind: Kind,
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Empty => "empty",
            Kind::Full { .. } => "full",
            Kind::Channel(_) => "channel",
            Kind::Stream(_) => "stream",
            Kind::Reader { .. } => "reader",
            Kind::File { .. } => "file",
            Kind::Inbound(_) => "incoming",
            Kind::Http { .. } => "http-body",
            Kind::Done => "done",
        };
        f.debug_struct("Body").field("kind", &kind).finish()
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl Body {
    /// A body with no bytes.
    pub fn empty() -> Self {
        Body { kind: Kind::Empty }
    }

    /// A body of these bytes.
    pub fn full(data: impl Into<Bytes>) -> Self {
        Body {
            kind: Kind::Full {
                data: Some(data.into()),
                trailers: None,
            },
        }
    }

    /// A body of these bytes followed by trailers.
    pub fn full_with_trailers(data: impl Into<Bytes>, trailers: HeaderMap) -> Self {
        Body {
            kind: Kind::Full {
                data: Some(data.into()),
                trailers: Some(Box::new(trailers)),
            },
        }
    }

    /// A body fed through a [`BodySender`]; the sender waits while the body is not read
    /// (at most a few frames are buffered between them).
    pub fn channel() -> (BodySender, Body) {
        let (tx, rx) = mpsc::channel(4);
        (
            BodySender {
                tx,
                finished: false,
            },
            Body {
                kind: Kind::Channel(rx),
            },
        )
    }

    /// A body read from a stream of byte chunks.
    pub fn from_stream<S>(stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, BoxError>> + Send + 'static,
    {
        Body {
            kind: Kind::Stream(Box::pin(stream)),
        }
    }

    /// A body read from any [`http_body::Body`] (an axum or hyper body, a `http-body-util`
    /// combinator): its data frames (any [`Buf`], turned into [`Bytes`], which copies nothing
    /// when the data is `Bytes` already) and its trailers. An error of `body` ends the body with
    /// [`BodyError::Source`] (a response stream is then reset); frames other than data and
    /// trailers are skipped.
    ///
    /// As a response body, it is polled for a frame before the stream has credit for it (as
    /// [`from_stream`](Self::from_stream) is) and each frame is then sent as the peer's
    /// flow-control window allows.
    pub fn from_http_body<B>(body: B) -> Self
    where
        B: http_body::Body + Send + 'static,
        B::Data: Buf,
        B::Error: Into<BoxError>,
    {
        Body {
            kind: Kind::Http {
                body: Box::pin(body),
                first: None,
            },
        }
    }

    /// Polls a body from [`from_http_body`](Self::from_http_body) once: when it is ready with
    /// its only data (or nothing, or only trailers) it becomes the in-memory body it is, which
    /// the server can answer with at once (see [`take_complete`](Self::take_complete));
    /// otherwise the frame it gave, if any, is kept for the next [`poll_frame`].
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn settle(&mut self, cx: &mut Context<'_>) {
        let Kind::Http { body, first } = &mut self.kind else {
            return;
        };
        if first.is_some() {
            return;
        }
        let kind = match body.as_mut().poll_frame(cx) {
            Poll::Pending => return,
            Poll::Ready(None) => Kind::Done,
            Poll::Ready(Some(Ok(Frame::Data(d)))) if body.is_end_stream() => Kind::Full {
                data: Some(d),
                trailers: None,
            },
            Poll::Ready(Some(Ok(Frame::Trailers(t)))) => Kind::Full {
                data: None,
                trailers: Some(Box::new(t)),
            },
            Poll::Ready(Some(other)) => {
                *first = Some(Box::new(other));
                return;
            }
        };
        self.kind = kind;
    }

    /// A body read from `reader`, at most `len` bytes when given (a file's size, a range).
    ///
    /// As a response body, it is read only once the stream may send (the server takes the
    /// stream's send credit first and reads at most that much), so nothing is read ahead for
    /// a stream whose flow-control window is closed.
    pub fn from_reader<R>(reader: R, len: Option<u64>) -> Self
    where
        R: AsyncRead + Send + 'static,
    {
        Body {
            kind: Kind::Reader {
                reader: Box::pin(reader),
                remaining: len,
                buf: BytesMut::new(),
                limit: None,
            },
        }
    }

    /// A body of `len` bytes of `file` from byte `offset` on, read with positional reads
    /// (`pread`: the file's cursor is neither used nor moved, so one open file can feed many
    /// bodies at once).
    ///
    /// As a response body, it is read only once the stream may send, at most as much as it
    /// may send and at most 32 KiB at a time, so nothing is read ahead for a stream whose
    /// flow-control window is closed; and at most two reads' data wait for the connection to
    /// write them (the body reads again as one is written, into a buffer from a shared
    /// pool), so the data is still in the processor's cache when it is sent. A body waiting
    /// for credit holds no buffer. The reads are done by the task that
    /// polls the body, with no hop to a blocking thread: this suits files in the page cache
    /// (reading 32 KiB of one takes microseconds) and stalls the runtime's thread while a cold
    /// file is read from a slow disk. A file that turns out shorter than `offset + len` ends the
    /// body with [`BodyError::Io`] (`UnexpectedEof`): a response is reset, never passed off
    /// as complete.
    ///
    /// Positional reads exist on Unix and Windows; elsewhere the first read fails with
    /// [`std::io::ErrorKind::Unsupported`].
    pub fn from_file(file: Arc<File>, offset: u64, len: u64) -> Self {
        Body {
            kind: Kind::File {
                file,
                offset,
                remaining: len,
                limit: None,
                buffers: None,
            },
        }
    }

    /// Whether the body is read on demand from a source (a reader or a file): the server
    /// then takes send credit before polling it and caps the next read to that credit with
    /// [`limit_next_read`](Self::limit_next_read).
    pub(crate) fn reads_on_demand(&self) -> bool {
        matches!(self.kind, Kind::Reader { .. } | Kind::File { .. })
    }

    /// The most the next read of an on-demand body wants (its chunk size, or what is left).
    pub(crate) fn next_read_size(&self) -> usize {
        match &self.kind {
            Kind::Reader { remaining, .. } => {
                remaining.map_or(READ_CHUNK, |r| r.min(READ_CHUNK as u64) as usize)
            }
            Kind::File { remaining, .. } => (*remaining).min(FILE_CHUNK as u64) as usize,
            _ => 0,
        }
    }

    /// Caps the next read of an on-demand body to `max` bytes (at least 1).
    pub(crate) fn limit_next_read(&mut self, max: usize) {
        match &mut self.kind {
            Kind::Reader { limit, .. } | Kind::File { limit, .. } => *limit = Some(max.max(1)),
            _ => {}
        }
    }

    pub(crate) fn inbound(inbound: Inbound) -> Self {
        Body {
            kind: Kind::Inbound(inbound),
        }
    }

    /// Whether the body is known to have nothing more to give.
    pub fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty | Kind::Done => true,
            Kind::Full { data, trailers } => {
                data.as_ref().is_none_or(|d| d.is_empty()) && trailers.is_none()
            }
            Kind::Reader { remaining, .. } => *remaining == Some(0),
            Kind::File { remaining, .. } => *remaining == 0,
            Kind::Inbound(i) => i.done,
            Kind::Http { body, first } => first.is_none() && body.is_end_stream(),
            Kind::Channel(_) | Kind::Stream(_) => false,
        }
    }

    /// The bounds on the data bytes still to come, exact when known (in-memory bodies,
    /// files, readers of a given length, an [`http_body::Body`] that says).
    fn size_hint(&self) -> http_body::SizeHint {
        match &self.kind {
            Kind::Empty | Kind::Done => http_body::SizeHint::with_exact(0),
            Kind::Full { data, .. } => {
                http_body::SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            Kind::Reader {
                remaining: Some(r), ..
            } => http_body::SizeHint::with_exact(*r),
            Kind::File { remaining, .. } => http_body::SizeHint::with_exact(*remaining),
            Kind::Http { body, first } => {
                let rest = body.size_hint();
                let Some(Ok(Frame::Data(d))) = first.as_deref() else {
                    return rest;
                };
                let n = d.len() as u64;
                let mut hint = http_body::SizeHint::new();
                hint.set_lower(rest.lower().saturating_add(n));
                if let Some(upper) = rest.upper() {
                    hint.set_upper(upper.saturating_add(n));
                }
                hint
            }
            _ => http_body::SizeHint::default(),
        }
    }

    /// Takes the whole body when it is already in memory and has no trailers (empty or full
    /// bodies), leaving the body finished; `None` (body unchanged) otherwise.
    pub(crate) fn take_complete(&mut self) -> Option<Bytes> {
        let data = match &mut self.kind {
            Kind::Empty | Kind::Done => return Some(Bytes::new()),
            Kind::Full {
                data,
                trailers: None,
            } => data.take().unwrap_or_default(),
            _ => return None,
        };
        self.kind = Kind::Done;
        Some(data)
    }

    /// The next frame: `None` at the end, an error if the body cannot be read to its end.
    pub fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame, BodyError>>> {
        let (result, finished) = match &mut self.kind {
            Kind::Empty | Kind::Done => (None, true),
            Kind::Full { data, trailers } => match data.take().filter(|d| !d.is_empty()) {
                Some(d) => {
                    let last = trailers.is_none();
                    (Some(Ok(Frame::Data(d))), last)
                }
                None => (trailers.take().map(|t| Ok(Frame::Trailers(*t))), true),
            },
            Kind::Channel(rx) => match rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => (Some(Err(BodyError::Aborted)), true),
                Poll::Ready(Some(Ok(Frame::Data(d)))) if d.is_empty() => {
                    // An explicit end marker (see `BodySender::finish`).
                    (None, true)
                }
                Poll::Ready(Some(Ok(f @ Frame::Data(_)))) => (Some(Ok(f)), false),
                Poll::Ready(Some(other)) => (Some(other), true),
            },
            Kind::Stream(s) => match s.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => (None, true),
                Poll::Ready(Some(Ok(d))) => (Some(Ok(Frame::Data(d))), false),
                Poll::Ready(Some(Err(e))) => (Some(Err(BodyError::Source(e))), true),
            },
            Kind::File {
                file,
                offset,
                remaining,
                limit,
                buffers,
            } => {
                let want =
                    (*remaining).min(limit.unwrap_or(FILE_CHUNK).min(FILE_CHUNK) as u64) as usize;
                if want == 0 {
                    (None, true)
                } else {
                    let Some(lent) = buffers.get_or_insert_with(Arc::default).lend(cx) else {
                        return Poll::Pending;
                    };
                    match read_exact_at(file, lent, want, *offset) {
                        Ok(chunk) => {
                            *limit = None;
                            *offset = offset.saturating_add(want as u64);
                            *remaining -= want as u64;
                            (Some(Ok(Frame::Data(chunk))), *remaining == 0)
                        }
                        Err(e) => (Some(Err(BodyError::Io(e))), true),
                    }
                }
            }
            Kind::Reader {
                reader,
                remaining,
                buf,
                limit,
            } => {
                let want = remaining.map_or(READ_CHUNK, |r| r.min(READ_CHUNK as u64) as usize);
                let want = want.min(limit.unwrap_or(usize::MAX));
                if want == 0 {
                    (None, true)
                } else {
                    if buf.capacity() < want {
                        buf.reserve(READ_CHUNK);
                    }
                    buf.resize(want, 0);
                    let mut rb = ReadBuf::new(&mut buf[..want]);
                    match reader.as_mut().poll_read(cx, &mut rb) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => (Some(Err(BodyError::Io(e))), true),
                        Poll::Ready(Ok(())) => {
                            let n = rb.filled().len();
                            if n == 0 {
                                match remaining {
                                    Some(_) => (
                                        Some(Err(BodyError::Io(std::io::Error::from(
                                            std::io::ErrorKind::UnexpectedEof,
                                        )))),
                                        true,
                                    ),
                                    None => (None, true),
                                }
                            } else {
                                *limit = None;
                                buf.truncate(n);
                                let chunk = buf.split().freeze();
                                if let Some(r) = remaining {
                                    *r -= n as u64;
                                }
                                (Some(Ok(Frame::Data(chunk))), *remaining == Some(0))
                            }
                        }
                    }
                }
            }
            Kind::Http { body, first } => match first.take().map(|f| *f) {
                Some(Ok(f @ Frame::Data(_))) => (Some(Ok(f)), false),
                Some(other) => (Some(other), true),
                None => match body.as_mut().poll_frame(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(None) => (None, true),
                    Poll::Ready(Some(Ok(f @ Frame::Data(_)))) => (Some(Ok(f)), false),
                    Poll::Ready(Some(other)) => (Some(other), true),
                },
            },
            Kind::Inbound(inbound) => {
                if inbound.done {
                    (None, true)
                } else {
                    match inbound.rx.poll_recv(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(None) => (Some(Err(BodyError::ConnectionClosed)), true),
                        Poll::Ready(Some(Incoming::Data(d, len))) => {
                            let _ = inbound.cmd.send(Cmd::Release {
                                id: inbound.id,
                                len,
                            });
                            (Some(Ok(Frame::Data(d))), false)
                        }
                        Poll::Ready(Some(Incoming::Trailers(t))) => {
                            inbound.done = true;
                            (Some(Ok(Frame::Trailers(t))), false)
                        }
                        Poll::Ready(Some(Incoming::End)) => {
                            inbound.done = true;
                            (None, false)
                        }
                        Poll::Ready(Some(Incoming::Error(e))) => {
                            inbound.done = true;
                            (Some(Err(e)), false)
                        }
                    }
                }
            }
        };
        if finished {
            self.kind = Kind::Done;
        }
        Poll::Ready(result)
    }

    /// The next frame (see [`poll_frame`](Self::poll_frame)).
    pub async fn frame(&mut self) -> Option<Result<Frame, BodyError>> {
        poll_fn(|cx| self.poll_frame(cx)).await
    }

    /// Reads the whole body (data and trailers), failing beyond `limit` data bytes.
    pub async fn collect(mut self, limit: usize) -> Result<Collected, BodyError> {
        let mut data = BytesMut::new();
        let mut trailers = None;
        while let Some(frame) = self.frame().await {
            match frame? {
                Frame::Data(d) => {
                    if data.len() + d.len() > limit {
                        return Err(BodyError::TooLarge { limit });
                    }
                    data.extend_from_slice(&d);
                }
                Frame::Trailers(t) => trailers = Some(t),
            }
        }
        Ok(Collected {
            data: data.freeze(),
            trailers,
        })
    }
}

/// Read buffers (each `FILE_CHUNK` long, so their bytes are initialized) whose data was
/// written, for the next read of any file body: in steady state a read neither allocates nor
/// zeroes memory, and a body holds buffers only while their data waits for the socket (a
/// body waiting for credit or for its window holds none, so a flood of such streams costs
/// no buffers).
static SPARE_BUFFERS: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
/// The most buffers kept there (2 MiB).
const MAX_SPARE_BUFFERS: usize = 64;
/// The most read buffers of one file body whose data the connection has not written yet: the
/// body reads again only once one comes back, so what it reads is sent while it is still in
/// the processor's cache (as a server reading small chunks straight into its output does)
/// instead of up to a whole window of it waiting in memory.
const MAX_LENT: usize = 2;

/// The read buffers of one file body.
#[derive(Default)]
struct Buffers {
    state: std::sync::Mutex<Lending>,
}

#[derive(Default)]
struct Lending {
    lent: usize,
    /// The body waiting for a buffer to come back.
    waiting: Option<std::task::Waker>,
}

impl Buffers {
    fn state(&self) -> std::sync::MutexGuard<'_, Lending> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A buffer to read into, or `None` (the task is woken when one comes back) while
    /// `MAX_LENT` are out.
    fn lend(self: &Arc<Self>, cx: &Context<'_>) -> Option<Lent> {
        let mut state = self.state();
        if state.lent >= MAX_LENT {
            state.waiting = Some(cx.waker().clone());
            return None;
        }
        state.lent += 1;
        drop(state);
        let buf = SPARE_BUFFERS
            .lock()
            .ok()
            .and_then(|mut s| s.pop())
            .unwrap_or_else(|| vec![0; FILE_CHUNK]);
        Some(Lent {
            buf,
            len: 0,
            home: self.clone(),
        })
    }
}

/// A read buffer lent to a [`Bytes`]: back to its body's [`Buffers`] when the last reference
/// to its data is dropped (the connection has written it).
struct Lent {
    buf: Vec<u8>,
    len: usize,
    home: Arc<Buffers>,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        if buf.len() == FILE_CHUNK {
            if let Ok(mut spare) = SPARE_BUFFERS.lock() {
                if spare.len() < MAX_SPARE_BUFFERS {
                    spare.push(buf);
                }
            }
        }
        let mut state = self.home.state();
        state.lent -= 1;
        let waiting = state.waiting.take();
        drop(state);
        if let Some(waker) = waiting {
            waker.wake();
        }
    }
}

/// Reads exactly `len` bytes (at most `FILE_CHUNK`) of `file` at `offset` into `lent`
/// (positional reads, the cursor untouched).
fn read_exact_at(file: &File, mut lent: Lent, len: usize, offset: u64) -> std::io::Result<Bytes> {
    if lent.buf.len() < len {
        lent.buf.resize(len, 0);
    }
    let mut filled = 0;
    while filled < len {
        let at = offset.saturating_add(filled as u64);
        match read_at(file, &mut lent.buf[filled..len], at) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if len < FILE_CHUNK {
        // A short read (the file's tail, or a stream given little credit): the data is
        // copied out and the buffer goes back at once, so what waits for the socket is
        // `len` bytes, not a whole chunk's buffer (a flood of streams granted 16 KiB each
        // would otherwise pin 32 KiB apiece).
        return Ok(Bytes::copy_from_slice(&lent.buf[..len]));
    }
    lent.len = len;
    Ok(Bytes::from_owner(lent))
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

#[cfg(not(any(unix, windows)))]
fn read_at(_: &File, _: &mut [u8], _: u64) -> std::io::Result<usize> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// Data frames of [`Bytes`], then the trailers if any; the error says why the body could not
/// be read to its end. A request body plugs into the `http-body` ecosystem with it (an axum
/// `Router` takes it as is, see the `tower` feature).
impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BodyError>>> {
        Body::poll_frame(self.get_mut(), cx).map(|frame| {
            frame.map(|frame| {
                frame.map(|frame| match frame {
                    Frame::Data(d) => http_body::Frame::data(d),
                    Frame::Trailers(t) => http_body::Frame::trailers(t),
                })
            })
        })
    }

    fn is_end_stream(&self) -> bool {
        Body::is_end_stream(self)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        Body::size_hint(self)
    }
}

/// A whole body read by [`Body::collect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected {
    /// The data.
    pub data: Bytes,
    /// The trailers, if any.
    pub trailers: Option<HeaderMap>,
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Body::full(b)
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Self {
        Body::full(b)
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::full(s)
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Body::full(Bytes::from_static(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Self {
        Body::full(Bytes::from_static(s))
    }
}

/// The sending half of [`Body::channel`].
///
/// Dropping it without [`finish`](Self::finish) or [`send_trailers`](Self::send_trailers)
/// makes the body fail with [`BodyError::Aborted`] (a response is then reset, never reported
/// complete with truncated data).
#[derive(Debug)]
pub struct BodySender {
    tx: mpsc::Sender<Result<Frame, BodyError>>,
    finished: bool,
}

/// The body was dropped: nobody reads what is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyClosed;

impl fmt::Display for BodyClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("body receiver dropped")
    }
}

impl std::error::Error for BodyClosed {}

impl BodySender {
    /// Sends data, waiting while the reader is behind. Empty data is skipped.
    pub async fn send_data(&mut self, data: Bytes) -> Result<(), BodyClosed> {
        if data.is_empty() {
            return Ok(());
        }
        self.tx
            .send(Ok(Frame::Data(data)))
            .await
            .map_err(|_| BodyClosed)
    }

    /// Sends trailers, which end the body.
    pub async fn send_trailers(mut self, trailers: HeaderMap) -> Result<(), BodyClosed> {
        self.finished = true;
        self.tx
            .send(Ok(Frame::Trailers(trailers)))
            .await
            .map_err(|_| BodyClosed)
    }

    /// Ends the body without trailers.
    pub async fn finish(mut self) -> Result<(), BodyClosed> {
        self.finished = true;
        self.tx
            .send(Ok(Frame::Data(Bytes::new())))
            .await
            .map_err(|_| BodyClosed)
    }

    /// Ends the body with an error: the response stream is reset.
    pub fn abort(mut self) {
        self.finished = true;
        let _ = self.tx.try_send(Err(BodyError::Aborted));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file body waits while two reads' data are held, and goes on when one is dropped.
    #[test]
    fn a_file_body_reads_again_only_as_its_data_is_released() {
        let path = std::env::temp_dir().join(format!("h2kit-body-file-{}", std::process::id()));
        let data: Vec<u8> = (0..(5 * FILE_CHUNK + 7)).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = Arc::new(File::open(&path).unwrap());
        let mut body = Body::from_file(file, 3, data.len() as u64 - 3);
        let waker = std::sync::Arc::new(Woken::default());
        let waker_ref = std::task::Waker::from(waker.clone());
        let mut cx = Context::from_waker(&waker_ref);
        let mut next = |body: &mut Body| match body.poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(Frame::Data(d)))) => Some(d),
            Poll::Pending => None,
            other => panic!("{other:?}"),
        };
        let first = next(&mut body).unwrap();
        let second = next(&mut body).unwrap();
        assert!(next(&mut body).is_none(), "a third read while two are held");
        assert!(!waker.0.load(std::sync::atomic::Ordering::SeqCst));
        let mut got = first.to_vec();
        drop(first);
        assert!(
            waker.0.load(std::sync::atomic::Ordering::SeqCst),
            "not woken"
        );
        got.extend_from_slice(&second);
        drop(second);
        while !body.is_end_stream() {
            let d = next(&mut body).expect("a buffer was free");
            got.extend_from_slice(&d);
        }
        assert!(got[..] == data[3..]);
        // Offsets past any file end the body with an error, whatever their size.
        let file = Arc::new(File::open(&path).unwrap());
        for offset in [data.len() as u64, u64::MAX - 10, u64::MAX] {
            let mut body = Body::from_file(file.clone(), offset, 100);
            match body.poll_frame(&mut cx) {
                Poll::Ready(Some(Err(BodyError::Io(_)))) => {}
                other => panic!("{offset}: {other:?}"),
            }
            assert!(body.is_end_stream());
        }
        let _ = std::fs::remove_file(&path);
    }

    /// An `http_body::Body` in memory becomes an in-memory body once settled; one of several
    /// frames keeps them all, in order; and `Body` itself is an `http_body::Body` of data
    /// then trailers.
    #[test]
    fn http_bodies_both_ways() {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut body = Body::from_http_body(Body::full("all of it"));
        assert!(!body.is_end_stream());
        body.settle(&mut cx);
        assert_eq!(body.take_complete().as_deref(), Some(&b"all of it"[..]));

        let mut trailers = HeaderMap::new();
        trailers.insert("x-t", http::HeaderValue::from_static("1"));
        let mut body = Body::from_http_body(Body::full_with_trailers("data", trailers.clone()));
        body.settle(&mut cx);
        assert!(
            body.take_complete().is_none(),
            "trailers are not in-memory data"
        );
        assert_eq!(
            http_body::Body::size_hint(&body).exact(),
            Some(4),
            "the settled frame counts"
        );
        let mut pinned = std::pin::pin!(body);
        let mut frames = Vec::new();
        while let Poll::Ready(Some(frame)) = http_body::Body::poll_frame(pinned.as_mut(), &mut cx) {
            frames.push(frame.unwrap());
        }
        assert!(http_body::Body::is_end_stream(&*pinned));
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].data_ref().map(|d| &d[..]), Some(&b"data"[..]));
        assert_eq!(frames[1].trailers_ref(), Some(&trailers));
    }

    #[derive(Default)]
    struct Woken(std::sync::atomic::AtomicBool);

    impl std::task::Wake for Woken {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
}
