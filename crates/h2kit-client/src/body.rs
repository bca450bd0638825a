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
use tokio::sync::mpsc;

use crate::decode::ContentDecoder;
use crate::driver::Cmd;
use crate::error::Error;

/// The chunk size read from an [`AsyncRead`] request body.
const READ_CHUNK: usize = 64 * 1024;

type BoxStream = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;

/// An HTTP body: a stream of [`Bytes`] chunks followed by optional trailers.
///
/// For requests, build one from bytes ([`From`]), a [`Stream`] of `Bytes`
/// ([`Body::from_stream`]) or an [`AsyncRead`] ([`Body::from_reader`]); the client reads it
/// only as fast as the HTTP/2 send windows allow. A response's body yields DATA as it
/// arrives; each chunk you take gives its flow-control capacity back to the server, so a
/// slow reader slows the server down instead of making the client buffer.
pub struct Body {
    kind: Kind,
    trailers: Option<HeaderMap>,
}

enum Kind {
    Empty,
    Full(Bytes),
    Stream(BoxStream),
    Reader {
        reader: Pin<Box<dyn AsyncRead + Send>>,
        buf: BytesMut,
    },
    Recv(Box<RecvBody>),
}

/// What the connection task hands a response body.
pub(crate) enum Item {
    Data { data: Bytes, flow: u32 },
    Trailers(HeaderMap),
    End,
    Error(Error),
}

pub(crate) struct RecvBody {
    rx: mpsc::UnboundedReceiver<Item>,
    cmd: mpsc::UnboundedSender<Cmd>,
    stream: StreamId,
    decoder: Option<ContentDecoder>,
    /// END_STREAM (or trailers) arrived and everything was handed out.
    ended: bool,
    /// Bytes handed out so far (after decoding).
    received: u64,
}

impl RecvBody {
    pub(crate) fn new(
        rx: mpsc::UnboundedReceiver<Item>,
        cmd: mpsc::UnboundedSender<Cmd>,
        stream: StreamId,
        decoder: Option<ContentDecoder>,
    ) -> Self {
        RecvBody {
            rx,
            cmd,
            stream,
            decoder,
            ended: false,
            received: 0,
        }
    }
}

impl Drop for RecvBody {
    fn drop(&mut self) {
        // Give back the capacity of chunks nobody will read, and cancel the stream if the
        // response did not end.
        let mut unreleased = 0u32;
        let mut ended = self.ended;
        self.rx.close();
        while let Ok(item) = self.rx.try_recv() {
            match item {
                Item::Data { flow, .. } => unreleased = unreleased.saturating_add(flow),
                Item::End | Item::Trailers(_) | Item::Error(_) => ended = true,
            }
        }
        let _ = self.cmd.send(Cmd::BodyDropped {
            id: self.stream,
            unreleased,
            ended,
        });
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
        }
    }

    /// Sends `trailers` after the data (request bodies).
    pub fn with_trailers(mut self, trailers: HeaderMap) -> Self {
        self.trailers = Some(trailers);
        self
    }

    pub(crate) fn recv(recv: RecvBody) -> Self {
        Body {
            kind: Kind::Recv(Box::new(recv)),
            trailers: None,
        }
    }

    /// Whether the body is known to carry no data and no trailers.
    pub fn is_empty(&self) -> bool {
        matches!(self.kind, Kind::Empty) && self.trailers.is_none()
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
        match &self.kind {
            Kind::Empty => Some(0),
            Kind::Full(b) => Some(b.len() as u64),
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
        Ok(self.trailers.take())
    }

    /// Reads the whole body into one buffer.
    pub async fn collect(mut self) -> Result<Bytes, Error> {
        let mut first: Option<Bytes> = None;
        let mut rest = BytesMut::new();
        while let Some(chunk) = self.chunk().await {
            let chunk = chunk?;
            match &first {
                None => first = Some(chunk),
                Some(f) => {
                    if rest.is_empty() {
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

    /// Takes the request trailers to send after the data.
    pub(crate) fn take_trailers(&mut self) -> Option<HeaderMap> {
        self.trailers.take()
    }
}

fn poll_recv(
    r: &mut RecvBody,
    trailers: &mut Option<HeaderMap>,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Bytes, Error>>> {
    loop {
        if r.ended {
            return Poll::Ready(None);
        }
        let item = match r.rx.poll_recv(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => Item::Error(Error::ConnectionClosed),
            Poll::Ready(Some(item)) => item,
        };
        match item {
            Item::Data { data, flow } => {
                if flow > 0 {
                    let _ = r.cmd.send(Cmd::Release {
                        id: r.stream,
                        len: flow,
                    });
                }
                let out = match &mut r.decoder {
                    Some(d) => match d.push(&data) {
                        Ok(b) => b,
                        Err(e) => {
                            r.ended = true;
                            return Poll::Ready(Some(Err(Error::Decode(Arc::new(e)))));
                        }
                    },
                    None => data,
                };
                if out.is_empty() {
                    continue;
                }
                r.received += out.len() as u64;
                return Poll::Ready(Some(Ok(out)));
            }
            Item::Trailers(t) => {
                *trailers = Some(t);
                if let Some(ready) = finish(r) {
                    return ready;
                }
            }
            Item::End => {
                if let Some(ready) = finish(r) {
                    return ready;
                }
            }
            Item::Error(e) => {
                r.ended = true;
                return Poll::Ready(Some(Err(e)));
            }
        }
    }
}

/// The data ended: flush the decoder. Returns what to yield, or `None` for a clean end.
fn finish(r: &mut RecvBody) -> Option<Poll<Option<Result<Bytes, Error>>>> {
    r.ended = true;
    let d = r.decoder.as_mut()?;
    match d.finish() {
        Ok(b) if b.is_empty() => None,
        Ok(b) => {
            r.received += b.len() as u64;
            Some(Poll::Ready(Some(Ok(b))))
        }
        Err(e) => Some(Poll::Ready(Some(Err(Error::Decode(Arc::new(e)))))),
    }
}

impl Stream for Body {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx)
    }
}
