//! Request and response bodies: streams of [`Bytes`] chunks, then optional trailers.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use h2kit::StreamId;
use http::HeaderMap;
use tokio::io::{AsyncRead, ReadBuf};

use crate::decode::ContentDecoder;
use crate::error::Error;
use crate::msg::{BoxStream, Cmd, Item, ItemReceiver, Link, Upload};

/// The chunk size read from an [`AsyncRead`] request body.
const READ_CHUNK: usize = 64 * 1024;

/// The most [`Body::collect`] reserves up front from a response's declared length; past it
/// the buffer grows as data arrives. A server can make `collect` hold any amount by sending
/// it, but not make it allocate more than this for a length it only declares (16 MiB: the
/// largest stream window the client grows to by default).
const COLLECT_RESERVE: u64 = 16 << 20;

/// An HTTP body: a stream of [`Bytes`] chunks followed by optional trailers.
///
/// For requests, build one from bytes ([`From`]), a [`Stream`] of `Bytes`
/// ([`Body::from_stream`]) or an [`AsyncRead`] ([`Body::from_reader`]); the client reads it
/// only as fast as the HTTP/2 send windows allow. A response's body yields DATA as it
/// arrives; each chunk you take gives its flow-control capacity back to the server, so a
/// slow reader slows the server down instead of making the client buffer.
///
/// It is also an [`AsyncRead`] (bytes in order; trailers are kept for
/// [`trailers`](Body::trailers)) and an [`http_body::Body`] (data frames, then a trailers
/// frame), so it plugs into tokio's I/O utilities and the `http-body` ecosystem.
pub struct Body {
    kind: Kind,
    /// Boxed: few bodies have trailers, and a body (inside every response) moves often.
    trailers: Option<Box<HeaderMap>>,
    /// What [`AsyncRead`] took from a chunk but could not hand out yet.
    unread: Bytes,
}

enum Kind {
    Empty,
    Full(Bytes),
    Stream(BoxStream),
    Reader {
        reader: Pin<Box<dyn AsyncRead + Send>>,
        buf: BytesMut,
    },
    Recv(RecvBody),
}

pub(crate) struct RecvBody {
    rx: ItemReceiver,
    link: Arc<Link>,
    stream: StreamId,
    decoder: Option<Box<ContentDecoder>>,
    /// END_STREAM (or trailers) arrived; with a decoder, its output may still be pending.
    input_done: bool,
    /// Everything was handed out (or an error was).
    ended: bool,
    /// The connection reported an error on this stream (a reset, the connection gone):
    /// the stream is over on the wire, so dropping the body has nothing to cancel. A
    /// decoding error is ours, not the wire's, and leaves this false.
    peer_done: bool,
    /// Bytes handed out so far (after decoding).
    received: u64,
    /// The whole-request deadline and the stall timer, when configured (boxed: most bodies
    /// have neither).
    timers: Option<Box<Timers>>,
}

/// A response body's time limits ([`ClientBuilder::timeout`] and
/// [`ClientBuilder::read_timeout`]).
///
/// [`ClientBuilder::timeout`]: crate::ClientBuilder::timeout
/// [`ClientBuilder::read_timeout`]: crate::ClientBuilder::read_timeout
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BodyTimeouts {
    /// When the whole request must be done.
    pub(crate) deadline: Option<tokio::time::Instant>,
    /// The longest wait for the next piece of the body.
    pub(crate) read: Option<std::time::Duration>,
}

struct Timers {
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    read: Option<(std::time::Duration, Pin<Box<tokio::time::Sleep>>)>,
}

impl Timers {
    fn new(t: BodyTimeouts) -> Option<Box<Timers>> {
        if t.deadline.is_none() && t.read.is_none() {
            return None;
        }
        Some(Box::new(Timers {
            deadline: t.deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
            read: t.read.map(|d| (d, Box::pin(tokio::time::sleep(d)))),
        }))
    }

    /// Whether a limit has passed (registering for a wake-up when not).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let total = self
            .deadline
            .as_mut()
            .is_some_and(|s| s.as_mut().poll(cx).is_ready());
        let stalled = self
            .read
            .as_mut()
            .is_some_and(|(_, s)| s.as_mut().poll(cx).is_ready());
        total || stalled
    }

    /// Data arrived: the stall timer starts again.
    fn progress(&mut self) {
        if let Some((d, s)) = &mut self.read {
            s.as_mut().reset(tokio::time::Instant::now() + *d);
        }
    }
}

impl RecvBody {
    pub(crate) fn new(
        rx: ItemReceiver,
        link: Arc<Link>,
        stream: StreamId,
        decoder: Option<Box<ContentDecoder>>,
    ) -> Self {
        RecvBody {
            rx,
            link,
            stream,
            decoder,
            input_done: false,
            ended: false,
            peer_done: false,
            received: 0,
            timers: None,
        }
    }

    /// Sets the body's time limits (a timer needs the runtime's context).
    pub(crate) fn with_timeouts(mut self, t: BodyTimeouts) -> Self {
        self.timers = Timers::new(t);
        self
    }
}

impl Drop for RecvBody {
    fn drop(&mut self) {
        // Give back the capacity of chunks nobody will read, and cancel the stream if the
        // response did not end. An error from the connection ended the stream on the wire.
        self.rx
            .abandon(&self.link.tx, self.input_done || self.peer_done);
    }
}

impl From<Body> for Upload {
    fn from(mut body: Body) -> Self {
        let size = body.size_hint();
        let full = body.as_full().cloned();
        let trailers = body.trailers.take();
        let rest = if full.is_some() || matches!(body.kind, Kind::Empty) && body.unread.is_empty() {
            None
        } else {
            Some(Box::pin(body) as BoxStream)
        };
        Upload {
            full,
            rest,
            size,
            trailers,
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Empty => "Empty",
            Kind::Full(_) => "Full",
            Kind::Stream(_) => "Stream",
            Kind::Reader { .. } => "Reader",
            Kind::Recv(_) => "Response",
        };
        f.debug_struct("Body")
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        if b.is_empty() {
            Body::empty()
        } else {
            Body {
                kind: Kind::Full(b),
                trailers: None,
                unread: Bytes::new(),
            }
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Body::from(Bytes::from(v))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::from(Bytes::from(s))
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Body::from(Bytes::from_static(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Self {
        Body::from(Bytes::from_static(s))
    }
}

impl From<()> for Body {
    fn from(_: ()) -> Self {
        Body::empty()
    }
}

impl Body {
    /// A body with no data (a request sent with END_STREAM on its HEADERS).
    pub fn empty() -> Self {
        Body {
            kind: Kind::Empty,
            trailers: None,
            unread: Bytes::new(),
        }
    }

    /// A body streamed from `stream`; a stream error aborts the request (the stream is
    /// reset with CANCEL and the response fails with [`Error::Body`]).
    pub fn from_stream<S, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        struct MapErr<S>(Pin<Box<S>>);
        impl<S, E> Stream for MapErr<S>
        where
            S: Stream<Item = Result<Bytes, E>>,
            E: Into<Box<dyn std::error::Error + Send + Sync>>,
        {
            type Item = Result<Bytes, Error>;
            fn poll_next(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Option<Self::Item>> {
                self.0
                    .as_mut()
                    .poll_next(cx)
                    .map(|o| o.map(|r| r.map_err(|e| Error::Body(Arc::from(e.into())))))
            }
        }
        Body {
            kind: Kind::Stream(Box::pin(MapErr(Box::pin(stream)))),
            trailers: None,
            unread: Bytes::new(),
        }
    }

    /// A body read from `reader` in chunks of up to 64 KiB, each read only when the previous
    /// one was handed to the connection.
    pub fn from_reader<R: AsyncRead + Send + 'static>(reader: R) -> Self {
        Body {
            kind: Kind::Reader {
                reader: Box::pin(reader),
                buf: BytesMut::new(),
            },
            trailers: None,
            unread: Bytes::new(),
        }
    }

    /// Sends `trailers` after the data (request bodies).
    pub fn with_trailers(mut self, trailers: HeaderMap) -> Self {
        self.trailers = Some(Box::new(trailers));
        self
    }

    pub(crate) fn recv(recv: RecvBody) -> Self {
        Body {
            kind: Kind::Recv(recv),
            trailers: None,
            unread: Bytes::new(),
        }
    }

    /// Whether the body is known to carry no data and no trailers.
    pub fn is_empty(&self) -> bool {
        matches!(self.kind, Kind::Empty) && self.trailers.is_none() && self.unread.is_empty()
    }

    /// The whole body when it is a single buffer (request bodies built from bytes).
    pub(crate) fn as_full(&self) -> Option<&Bytes> {
        match &self.kind {
            Kind::Full(b) if self.trailers.is_none() => Some(b),
            _ => None,
        }
    }

    /// The number of bytes, when known without reading (empty or single-buffer bodies).
    pub fn size_hint(&self) -> Option<u64> {
        let unread = self.unread.len() as u64;
        match &self.kind {
            Kind::Empty => Some(unread),
            Kind::Full(b) => Some(b.len() as u64 + unread),
            _ => None,
        }
    }

    /// The stream of a response body.
    pub(crate) fn stream_id(&self) -> Option<StreamId> {
        match &self.kind {
            Kind::Recv(r) => Some(r.stream),
            _ => None,
        }
    }

    /// Bytes of a response body handed out so far (after decoding).
    pub fn received(&self) -> u64 {
        match &self.kind {
            Kind::Recv(r) => r.received,
            _ => 0,
        }
    }

    /// The next chunk, `None` at the end. A response body that ends early (reset, GOAWAY,
    /// connection loss) yields the error instead of a clean end.
    pub async fn chunk(&mut self) -> Option<Result<Bytes, Error>> {
        poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// Polls for the next chunk (see [`chunk`](Self::chunk)).
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        if !self.unread.is_empty() {
            return Poll::Ready(Some(Ok(std::mem::take(&mut self.unread))));
        }
        match &mut self.kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Full(_) => {
                let Kind::Full(b) = std::mem::replace(&mut self.kind, Kind::Empty) else {
                    return Poll::Ready(None);
                };
                Poll::Ready(Some(Ok(b)))
            }
            Kind::Stream(s) => loop {
                match s.as_mut().poll_next(cx) {
                    Poll::Ready(Some(Ok(b))) if b.is_empty() => continue,
                    Poll::Ready(None) => {
                        self.kind = Kind::Empty;
                        return Poll::Ready(None);
                    }
                    other => return other,
                }
            },
            Kind::Reader { reader, buf } => {
                if buf.len() < READ_CHUNK {
                    buf.resize(READ_CHUNK, 0);
                }
                let mut rb = ReadBuf::new(&mut buf[..]);
                match reader.as_mut().poll_read(cx, &mut rb) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Err(e)) => Poll::Ready(Some(Err(Error::Body(Arc::new(e))))),
                    Poll::Ready(Ok(())) => {
                        let n = rb.filled().len();
                        if n == 0 {
                            self.kind = Kind::Empty;
                            return Poll::Ready(None);
                        }
                        Poll::Ready(Some(Ok(buf.split_to(n).freeze())))
                    }
                }
            }
            Kind::Recv(r) => poll_recv(r, &mut self.trailers, cx),
        }
    }

    /// The trailers, once the data is read to the end (data not read yet is discarded and its
    /// capacity released). `None` when the message had none.
    pub async fn trailers(&mut self) -> Result<Option<HeaderMap>, Error> {
        while let Some(chunk) = self.chunk().await {
            chunk?;
        }
        Ok(self.trailers.take().map(|t| *t))
    }

    /// Reads the whole body into one buffer: a body of one chunk is that chunk (no copy);
    /// a longer one is copied into a buffer sized from the response's `content-length` (up
    /// to 16 MiB up front) when it had one and no content decoding, so it is not regrown.
    pub async fn collect(mut self) -> Result<Bytes, Error> {
        let mut first: Option<Bytes> = None;
        let mut rest = BytesMut::new();
        while let Some(chunk) = self.chunk().await {
            let chunk = chunk?;
            match &first {
                None => first = Some(chunk),
                Some(f) => {
                    if rest.is_empty() {
                        let declared = match &self.kind {
                            Kind::Recv(r) if r.decoder.is_none() => r.rx.length_hint(),
                            _ => None,
                        };
                        let size = declared.unwrap_or(0).min(COLLECT_RESERVE);
                        // Lossless: at most COLLECT_RESERVE.
                        rest.reserve((size as usize).max(f.len() + chunk.len()));
                        rest.extend_from_slice(f);
                    }
                    rest.extend_from_slice(&chunk);
                }
            }
        }
        Ok(if rest.is_empty() {
            first.unwrap_or_default()
        } else {
            rest.freeze()
        })
    }
}

fn poll_recv(
    r: &mut RecvBody,
    trailers: &mut Option<Box<HeaderMap>>,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Bytes, Error>>> {
    loop {
        if r.ended {
            return Poll::Ready(None);
        }
        // A decoding body first drains what the payload it holds decodes to, one bounded
        // chunk per call; only then is the next payload taken from the connection.
        if let Some(d) = &mut r.decoder {
            match d.pull(r.input_done) {
                Ok(Some(b)) => {
                    r.received += b.len() as u64;
                    return Poll::Ready(Some(Ok(b)));
                }
                Ok(None) => {}
                Err(e) => {
                    r.ended = true;
                    return Poll::Ready(Some(Err(Error::Decode(e))));
                }
            }
        }
        if r.input_done {
            r.ended = true;
            return Poll::Ready(None);
        }
        let item = match r.rx.poll_recv(cx) {
            Poll::Pending => {
                if r.timers.as_mut().is_some_and(|t| t.expired(cx)) {
                    // Dropping the body then cancels the stream.
                    r.ended = true;
                    return Poll::Ready(Some(Err(Error::Timeout)));
                }
                return Poll::Pending;
            }
            Poll::Ready(None) => Item::Error(Error::ConnectionClosed),
            Poll::Ready(Some(item)) => item,
        };
        if let Some(t) = &mut r.timers {
            t.progress();
        }
        match item {
            Item::Data { data, flow, end } => {
                if flow > 0 && end {
                    // The stream is closed for receiving: only the connection's window is
                    // left to reopen, which the task takes from the shared pool.
                    r.link.release_ended(flow);
                } else if flow > 0 {
                    let _ = r.link.tx.send(Cmd::Release {
                        id: r.stream,
                        len: flow,
                    });
                }
                if end {
                    r.input_done = true;
                }
                match &mut r.decoder {
                    Some(d) => d.push(data),
                    None if data.is_empty() => {}
                    None => {
                        r.received += data.len() as u64;
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
            }
            Item::Trailers(t) => {
                *trailers = Some(t);
                r.input_done = true;
            }
            Item::End => r.input_done = true,
            Item::Error(e) => {
                r.ended = true;
                r.peer_done = true;
                return Poll::Ready(Some(Err(e)));
            }
        }
    }
}

impl AsyncRead for Body {
    /// Reads the body's bytes in order; a body that ends early (reset, GOAWAY, connection
    /// loss, a decoding error) fails the read with an [`io::Error`](std::io::Error) of kind
    /// `Other` wrapping the [`Error`]. Trailers stay available from
    /// [`trailers`](Body::trailers).
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if out.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let mut chunk = match this.poll_chunk(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => return Poll::Ready(Ok(())),
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(std::io::Error::other(e))),
            Poll::Ready(Some(Ok(chunk))) => chunk,
        };
        let n = chunk.len().min(out.remaining());
        out.put_slice(&chunk.split_to(n));
        this.unread = chunk;
        Poll::Ready(Ok(()))
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        match this.poll_chunk(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(chunk)) => Poll::Ready(Some(chunk.map(http_body::Frame::data))),
            Poll::Ready(None) => Poll::Ready(
                this.trailers
                    .take()
                    .map(|t| Ok(http_body::Frame::trailers(*t))),
            ),
        }
    }

    fn is_end_stream(&self) -> bool {
        let drained = match &self.kind {
            Kind::Empty => true,
            Kind::Recv(r) => r.ended,
            _ => false,
        };
        drained && self.trailers.is_none() && self.unread.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match Body::size_hint(self) {
            Some(n) => http_body::SizeHint::with_exact(n),
            None => http_body::SizeHint::default(),
        }
    }
}

impl Stream for Body {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::{FRAME, bomb};
    use crate::decode::{ContentCoding, DecodeError, OUT_CHUNK};
    use crate::msg::item_channel;
    use std::task::Waker;
    use tokio::sync::mpsc;

    /// A response body fed a gzip bomb of `total` zeros in 16 KiB DATA frames (all queued at
    /// once, as a server with a huge window could), decoding with `limit`.
    fn bomb_body(total: usize, limit: Option<u64>) -> (Body, mpsc::UnboundedReceiver<Cmd>) {
        let (tx, rx) = item_channel();
        assert!(tx.opened(StreamId::new(1)));
        let (ctx, crx) = mpsc::unbounded_channel();
        for frame in bomb(ContentCoding::Gzip, total).chunks(FRAME) {
            let data = Bytes::copy_from_slice(frame);
            let flow = data.len() as u32;
            let end = false;
            assert!(tx.send(Item::Data { data, flow, end }).is_ok());
        }
        assert!(tx.send(Item::End).is_ok());
        let decoder = ContentDecoder::for_encoding(b"gzip", limit).map(Box::new);
        let body = Body::recv(RecvBody::new(rx, link(ctx), StreamId::new(1), decoder));
        (body, crx)
    }

    /// A body that stops on a decoding error while the response is still arriving cancels
    /// its stream when dropped (the server would otherwise go on sending into a body nobody
    /// reads).
    #[tokio::test]
    async fn a_decoding_error_then_drop_cancels_the_stream() {
        let (tx, rx) = item_channel();
        assert!(tx.opened(StreamId::new(1)));
        let (ctx, mut crx) = mpsc::unbounded_channel();
        let data = Bytes::from_static(b"this is not gzip at all");
        let flow = data.len() as u32;
        assert!(
            tx.send(Item::Data {
                data,
                flow,
                end: false
            })
            .is_ok()
        );
        let decoder = ContentDecoder::for_encoding(b"gzip", None).map(Box::new);
        let mut body = Body::recv(RecvBody::new(rx, link(ctx), StreamId::new(1), decoder));
        assert!(matches!(body.chunk().await, Some(Err(Error::Decode(_)))));
        assert!(body.chunk().await.is_none());
        drop(body);
        let mut dropped = None;
        while let Ok(cmd) = crx.try_recv() {
            if let Cmd::BodyDropped { ended, .. } = cmd {
                dropped = Some(ended);
            }
        }
        assert_eq!(dropped, Some(false), "the stream must be cancelled");
        drop(tx);
    }

    #[tokio::test]
    async fn the_item_queue_delivers_in_order_ends_and_refuses_after_close() {
        let (tx, mut rx) = item_channel();
        let waiter = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(item) = poll_fn(|cx| rx.poll_recv(cx)).await {
                got.push(match item {
                    Item::Data { data, flow, .. } => (data, flow),
                    _ => (Bytes::from_static(b"other"), 0),
                });
            }
            got
        });
        tokio::task::yield_now().await;
        let data = Bytes::from_static(b"ab");
        assert!(
            tx.send(Item::Data {
                data,
                flow: 2,
                end: false
            })
            .is_ok()
        );
        assert!(tx.send(Item::End).is_ok());
        drop(tx);
        let got = waiter.await.unwrap();
        assert_eq!(
            got,
            vec![
                (Bytes::from_static(b"ab"), 2),
                (Bytes::from_static(b"other"), 0)
            ]
        );

        // Order holds across the inline slot and the queue behind it.
        let (tx, mut rx) = item_channel();
        let data = |b: &'static [u8]| Item::Data {
            data: Bytes::from_static(b),
            flow: 0,
            end: false,
        };
        assert!(tx.send(data(b"1")).is_ok());
        assert!(tx.send(data(b"2")).is_ok());
        let mut order = Vec::new();
        let mut cx = Context::from_waker(Waker::noop());
        let mut next = || match rx.poll_recv(&mut cx) {
            Poll::Ready(Some(Item::Data { data, .. })) => data,
            Poll::Ready(Some(_)) => Bytes::from_static(b"other"),
            _ => Bytes::from_static(b"none"),
        };
        order.push(next());
        assert!(tx.send(data(b"3")).is_ok());
        order.push(next());
        order.push(next());
        assert_eq!(order, [&b"1"[..], b"2", b"3"]);

        // A body whose last DATA carried END_STREAM ends after it.
        let (tx, rx) = item_channel();
        let (ctx, _crx) = mpsc::unbounded_channel();
        let data = Bytes::from_static(b"all");
        assert!(
            tx.send(Item::Data {
                data,
                flow: 3,
                end: true
            })
            .is_ok()
        );
        let body = Body::recv(RecvBody::new(rx, link(ctx), StreamId::new(1), None));
        assert_eq!(body.collect().await.unwrap(), Bytes::from_static(b"all"));
        drop(tx);

        let (tx, mut rx) = item_channel();
        assert!(tx.send(Item::End).is_ok());
        let (stream, left) = rx.close();
        assert_eq!(stream, None);
        assert_eq!(left.len(), 1);
        assert!(tx.send(Item::End).is_err());
    }

    /// A request is sent only while its receiving side is there, and the stream it went
    /// out on is recorded under the same lock; the last item and the sender's going are
    /// one step.
    #[test]
    fn opening_and_ending_an_exchange() {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let (tx, mut rx) = item_channel();
        let sent = tx.open(|_| Ok::<_, ()>((StreamId::new(1), ())));
        assert_eq!(sent, Some(Ok((StreamId::new(1), ()))));
        assert!(tx.send_head(Err(Error::ConnectionClosed)));
        assert!(rx.poll_head(&mut cx).is_ready());
        assert!(tx.send_last(Item::End).is_ok());
        assert!(matches!(
            rx.poll_recv(&mut cx),
            Poll::Ready(Some(Item::End))
        ));
        assert!(
            matches!(rx.poll_recv(&mut cx), Poll::Ready(None)),
            "sender gone"
        );
        assert_eq!(rx.close().0, Some(StreamId::new(1)));
        // Abandoned first: nothing is sent, and the last item comes back.
        let (tx, mut rx) = item_channel();
        rx.close();
        let mut called = false;
        let sent = tx.open(|_| {
            called = true;
            Ok::<_, ()>((StreamId::new(3), ()))
        });
        assert_eq!(sent, None);
        assert!(!called);
        assert!(tx.send_last(Item::End).is_err());
        // A request's exchange hands what it sends to the step that opens its stream, once.
        let outgoing = crate::msg::Outgoing {
            head: crate::msg::RequestHead::Fields(Vec::new().into()),
            body: Body::empty().into(),
            pushes: None,
            decompress: true,
        };
        let (tx, _rx) = crate::msg::request_channel(outgoing);
        let sent = tx.open(|out| Ok::<_, ()>((StreamId::new(5), out.map(|o| o.decompress))));
        assert_eq!(sent, Some(Ok((StreamId::new(5), Some(true)))));
        assert!(tx.take_request().is_none(), "taken once");
    }

    /// The head and the item that arrived with it are taken in one step; the items behind
    /// it keep their order, and an abandoned body still accounts for the item taken.
    #[test]
    fn the_first_item_comes_with_the_head() {
        let mut cx = Context::from_waker(Waker::noop());
        let data = |b: &'static [u8], flow: u32| Item::Data {
            data: Bytes::from_static(b),
            flow,
            end: false,
        };
        let (tx, mut rx) = item_channel();
        assert!(tx.send_head(Err(Error::ConnectionClosed)));
        assert!(tx.send(data(b"1", 1)).is_ok());
        assert!(tx.send(data(b"2", 2)).is_ok());
        assert!(rx.poll_head(&mut cx).is_ready());
        assert!(tx.send(data(b"3", 3)).is_ok());
        let mut order = Vec::new();
        while let Poll::Ready(Some(Item::Data { data, .. })) = rx.poll_recv(&mut cx) {
            order.push(data);
        }
        assert_eq!(order, [&b"1"[..], b"2", b"3"]);
        // Abandoned with the first item taken but unread: its capacity is given back.
        let (ctx, mut crx) = mpsc::unbounded_channel();
        let (tx, mut rx) = item_channel();
        assert!(tx.opened(StreamId::new(1)));
        assert!(tx.send_head(Err(Error::ConnectionClosed)));
        assert!(tx.send(data(b"12", 12)).is_ok());
        assert!(rx.poll_head(&mut cx).is_ready());
        assert!(tx.send(data(b"1", 1)).is_ok());
        rx.abandon(&ctx, false);
        assert!(matches!(
            crx.try_recv(),
            Ok(Cmd::BodyDropped {
                unreleased: 13,
                ended: false,
                ..
            })
        ));
    }

    /// What giving up a request tells the connection task, at each point of its life.
    #[test]
    fn abandoning_an_exchange_cancels_only_what_is_open() {
        let dropped = |crx: &mut mpsc::UnboundedReceiver<Cmd>| {
            let mut out = Vec::new();
            while let Ok(cmd) = crx.try_recv() {
                if let Cmd::BodyDropped {
                    id,
                    unreleased,
                    ended,
                } = cmd
                {
                    out.push((id.get(), unreleased, ended));
                }
            }
            out
        };
        let (ctx, mut crx) = mpsc::unbounded_channel();
        // Before its stream opened: nothing to say, and the task sees it abandoned.
        let (tx, mut rx) = item_channel();
        rx.abandon(&ctx, false);
        assert!(tx.is_abandoned());
        assert!(!tx.opened(StreamId::new(1)));
        assert!(dropped(&mut crx).is_empty());
        // Open, no response yet: cancel.
        let (tx, mut rx) = item_channel();
        assert!(tx.opened(StreamId::new(3)));
        rx.abandon(&ctx, false);
        assert!(!tx.send_head(Err(Error::ConnectionClosed)));
        assert_eq!(dropped(&mut crx), [(3, 0, false)]);
        // Unread data that carried the end: give its capacity back, nothing to cancel.
        let (tx, mut rx) = item_channel();
        assert!(tx.opened(StreamId::new(5)));
        let data = Bytes::from_static(b"abc");
        assert!(
            tx.send(Item::Data {
                data,
                flow: 3,
                end: true
            })
            .is_ok()
        );
        rx.abandon(&ctx, false);
        assert_eq!(dropped(&mut crx), [(5, 3, true)]);
        // The end read with everything released: the task has let go already.
        let (tx, mut rx) = item_channel();
        assert!(tx.opened(StreamId::new(7)));
        rx.abandon(&ctx, true);
        assert!(dropped(&mut crx).is_empty());
    }

    fn link(tx: mpsc::UnboundedSender<Cmd>) -> Arc<Link> {
        Arc::new(Link {
            tx,
            shared: Arc::default(),
        })
    }

    fn held(body: &Body) -> usize {
        match &body.kind {
            Kind::Recv(r) => r.decoder.as_ref().map_or(0, |d| d.buffered()),
            _ => 0,
        }
    }

    fn released(cmds: &mut mpsc::UnboundedReceiver<Cmd>) -> usize {
        let mut frames = 0;
        while let Ok(cmd) = cmds.try_recv() {
            if matches!(cmd, Cmd::Release { .. }) {
                frames += 1;
            }
        }
        frames
    }

    #[tokio::test]
    async fn a_decoding_body_takes_frames_only_as_it_is_read() {
        const TOTAL: usize = 256 << 20;
        let (mut body, mut cmds) = bomb_body(TOTAL, None);
        // The first chunk needs one frame; the rest stay queued (and unreleased).
        let first = body.chunk().await.unwrap().unwrap();
        assert_eq!(first.len(), OUT_CHUNK);
        assert_eq!(released(&mut cmds), 1);
        let (mut total, mut peak) = (first.len(), 0);
        let mut frames = 1;
        while let Some(chunk) = body.chunk().await {
            let chunk = chunk.unwrap();
            assert!(!chunk.is_empty() && chunk.len() <= OUT_CHUNK);
            // Held while reading: one chunk out, at most one compressed frame in.
            peak = peak.max(chunk.len() + held(&body));
            total += chunk.len();
            frames += released(&mut cmds);
            // Decoding a frame's worth never runs ahead of the reader by more than a frame.
            assert!(
                frames <= total / (OUT_CHUNK * 8) + 2,
                "{frames} frames for {total}"
            );
        }
        assert_eq!(total, TOTAL);
        assert_eq!(body.received(), TOTAL as u64);
        assert!(peak <= OUT_CHUNK + FRAME, "peak {peak}");
    }

    #[tokio::test]
    async fn a_decoding_body_stops_at_its_cap() {
        const LIMIT: u64 = 3 << 20;
        let (mut body, _cmds) = bomb_body(1 << 30, Some(LIMIT));
        let mut total = 0u64;
        let error = loop {
            match body.chunk().await {
                Some(Ok(chunk)) => total += chunk.len() as u64,
                Some(Err(e)) => break e,
                None => panic!("the body ended under its cap"),
            }
        };
        assert!(
            matches!(error, Error::Decode(DecodeError::TooLarge { limit: LIMIT })),
            "{error:?}"
        );
        assert_eq!(total, LIMIT);
        assert!(body.chunk().await.is_none());
    }

    /// A response body fed `items` and then closed by the connection task.
    fn fed(items: Vec<Item>) -> Body {
        let (tx, rx) = item_channel();
        assert!(tx.opened(StreamId::new(1)));
        for item in items {
            assert!(tx.send(item).is_ok());
        }
        let (ctx, _crx) = mpsc::unbounded_channel();
        Body::recv(RecvBody::new(rx, link(ctx), StreamId::new(1), None))
    }

    fn data(bytes: &'static [u8], end: bool) -> Item {
        Item::Data {
            data: Bytes::from_static(bytes),
            flow: 0,
            end,
        }
    }

    #[tokio::test]
    async fn async_read_hands_out_every_byte_in_order_through_a_small_buffer() {
        use tokio::io::AsyncReadExt;
        let mut body = fed(vec![data(b"hello ", false), data(b"world", true)]);
        let mut out = Vec::new();
        let mut buf = [0u8; 4];
        loop {
            let n = body.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            assert!(n <= 4);
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, b"hello world");
        // A request body built from bytes reads the same way.
        let mut s = String::new();
        Body::from("from bytes")
            .read_to_string(&mut s)
            .await
            .unwrap();
        assert_eq!(s, "from bytes");
    }

    #[tokio::test]
    async fn async_read_fails_when_the_body_ends_early() {
        use tokio::io::AsyncReadExt;
        let mut body = fed(vec![
            data(b"part", false),
            Item::Error(Error::ConnectionClosed),
        ]);
        let mut out = Vec::new();
        let err = body.read_to_end(&mut out).await.unwrap_err();
        assert_eq!(out, b"part");
        assert!(err.get_ref().is_some_and(|e| e.is::<Error>()), "{err:?}");
    }

    #[tokio::test]
    async fn http_body_frames_are_data_then_trailers() {
        use http_body::Body as _;
        let mut trailers = HeaderMap::new();
        trailers.insert("x-checksum", http::HeaderValue::from_static("abc"));
        let mut body = fed(vec![
            data(b"ab", false),
            data(b"c", false),
            Item::Trailers(Box::new(trailers.clone())),
        ]);
        let mut frames = Vec::new();
        while let Some(f) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            frames.push(f.unwrap());
        }
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].data_ref().map(|d| &d[..]), Some(&b"ab"[..]));
        assert_eq!(frames[1].data_ref().map(|d| &d[..]), Some(&b"c"[..]));
        assert_eq!(frames[2].trailers_ref(), Some(&trailers));
        assert!(body.is_end_stream());

        let full = Body::from("xyz");
        assert_eq!(http_body::Body::size_hint(&full).exact(), Some(3));
        assert!(!full.is_end_stream());
        assert!(Body::empty().is_end_stream());
    }

    /// `collect` joins a body of several chunks whatever the declared length says: right,
    /// too small (the buffer grows) or absent.
    #[tokio::test]
    async fn collect_joins_chunks_whatever_the_declared_length() {
        let chunks: Vec<Bytes> = (0..5u8)
            .map(|i| Bytes::from(vec![i; 16_384 + usize::from(i)]))
            .collect();
        let whole: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        for hint in [Some(whole.len() as u64), Some(10), None, Some(u64::MAX)] {
            let (tx, rx) = item_channel();
            assert!(tx.opened(StreamId::new(1)));
            if let Some(len) = hint {
                tx.hint_length(len);
            }
            for data in &chunks {
                let (data, flow, end) = (data.clone(), data.len() as u32, false);
                assert!(tx.send(Item::Data { data, flow, end }).is_ok());
            }
            assert!(tx.send(Item::End).is_ok());
            let (ctx, _crx) = mpsc::unbounded_channel();
            let body = Body::recv(RecvBody::new(rx, link(ctx), StreamId::new(1), None));
            assert_eq!(body.collect().await.unwrap(), whole, "hint {hint:?}");
        }
    }
}
