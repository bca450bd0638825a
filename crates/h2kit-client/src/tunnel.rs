//! [`Tunnel`]: the two-way byte stream of an extended CONNECT (RFC 8441).

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use h2kit::StreamId;
use http::{HeaderMap, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

use crate::body::Body;
use crate::error::Error;
use crate::msg::{Cmd, Link, UPLOAD_PIECE};

/// The stream of an extended CONNECT (RFC 8441) the server accepted with a 2xx answer, from
/// [`Client::connect_protocol`](crate::Client::connect_protocol) or
/// [`Client::open_tunnel`](crate::Client::open_tunnel): a two-way byte stream.
///
/// * [`AsyncWrite`]: each write becomes DATA on the stream (at most 64 KiB is taken per
///   write; a write waits while the stream's queue is full, so the HTTP/2 send windows pace
///   the writer). [`poll_shutdown`](AsyncWrite::poll_shutdown) sends END_STREAM: our half
///   is closed, the server's stays open.
/// * [`AsyncRead`]: the DATA of the response, in order, then end-of-file when the server
///   closes its half (END_STREAM). Each read gives its flow-control capacity back, so a
///   slow reader slows the server. A reset stream fails reads and writes with an
///   [`io::Error`] wrapping the [`Error`].
///
/// The two halves are independent: reading to the end does not close the writing half and
/// shutting the writing half down does not stop reads. Dropping the tunnel before both
/// halves are closed resets the stream with CANCEL. [`tokio::io::split`] gives two halves
/// for two tasks.
pub struct Tunnel {
    status: StatusCode,
    headers: HeaderMap,
    stream: StreamId,
    body: Body,
    link: Arc<Link>,
    write: Write,
}

/// The writing half's state.
enum Write {
    /// A write may be handed to the connection.
    Ready,
    /// The connection has a piece and will say when the stream's queue has room again.
    Waiting(oneshot::Receiver<Result<(), Error>>),
    /// END_STREAM was sent.
    Closed,
    /// The stream or connection failed.
    Failed(Error),
}

impl fmt::Debug for Tunnel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tunnel")
            .field("status", &self.status)
            .field("stream", &self.stream)
            .field("write_closed", &matches!(self.write, Write::Closed))
            .finish_non_exhaustive()
    }
}

impl Tunnel {
    pub(crate) fn new(
        head: http::response::Parts,
        body: Body,
        stream: StreamId,
        link: Arc<Link>,
    ) -> Self {
        Tunnel {
            status: head.status,
            headers: head.headers,
            stream,
            body,
            link,
            write: Write::Ready,
        }
    }

    /// The server's 2xx status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The header fields of the server's answer (e.g. `sec-websocket-protocol`).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The HTTP/2 stream carrying the tunnel.
    pub fn stream_id(&self) -> StreamId {
        self.stream
    }

    /// Waits for the piece handed to the connection last to be taken in.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match &mut self.write {
                Write::Ready => return Poll::Ready(Ok(())),
                Write::Waiting(ack) => {
                    let result = ready!(Pin::new(ack).poll(cx));
                    self.write = match result {
                        Ok(Ok(())) => Write::Ready,
                        Ok(Err(e)) => Write::Failed(e),
                        Err(_) => Write::Failed(Error::ConnectionClosed),
                    };
                }
                Write::Closed => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        "the tunnel's writing half is shut down",
                    )));
                }
                Write::Failed(e) => return Poll::Ready(Err(io::Error::other(e.clone()))),
            }
        }
    }
}

impl AsyncRead for Tunnel {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.body).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tunnel {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_ready(cx))?;
        let n = buf.len().min(UPLOAD_PIECE);
        let (ack, done) = oneshot::channel();
        let cmd = Cmd::Data {
            id: self.stream,
            data: Bytes::copy_from_slice(&buf[..n]),
            ack,
        };
        if self.link.tx.send(cmd).is_err() {
            self.write = Write::Failed(Error::ConnectionClosed);
            return Poll::Ready(Err(io::Error::other(Error::ConnectionClosed)));
        }
        self.write = Write::Waiting(done);
        Poll::Ready(Ok(n))
    }

    /// Waits until the connection has taken in what was written (it is then queued for the
    /// socket within the stream's windows).
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if matches!(self.write, Write::Closed) {
            return Poll::Ready(Ok(()));
        }
        self.poll_ready(cx)
    }

    /// Sends END_STREAM after what was written: the server reads the end of our half.
    /// Reading goes on until the server closes its own.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if matches!(self.write, Write::Closed) {
            return Poll::Ready(Ok(()));
        }
        ready!(self.poll_ready(cx))?;
        let cmd = Cmd::Finish {
            id: self.stream,
            trailers: None,
        };
        if self.link.tx.send(cmd).is_err() {
            self.write = Write::Failed(Error::ConnectionClosed);
            return Poll::Ready(Err(io::Error::other(Error::ConnectionClosed)));
        }
        self.write = Write::Closed;
        Poll::Ready(Ok(()))
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        if !matches!(self.write, Write::Closed) {
            // Our half was never closed: reset the stream (a no-op when it already ended).
            let _ = self.link.tx.send(Cmd::UploadFailed {
                id: self.stream,
                error: Error::Reset(h2kit::StreamError::Reset {
                    code: h2kit::ErrorCode::CANCEL,
                    initiator: h2kit::Initiator::Local,
                }),
            });
        }
        // Dropping the body cancels the stream if the server's half is still open.
    }
}
