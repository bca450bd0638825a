//! A blocking client: the same connection, driver and types as the async [`Client`], run on
//! an internal runtime thread, for programs that do not use async (like `reqwest::blocking`,
//! and like python `hyper`'s `HTTP20Connection`).
//!
//! There is no second protocol stack: a blocking [`Client`] owns a one-thread
//! tokio runtime that drives the async client's connection task, and each call waits for the
//! async operation on the calling thread. The client is `Clone + Send + Sync`: any number of
//! threads may send requests at once, multiplexed on its one connection. The connection
//! closes when the last clone is dropped.
//!
//! python hyper's shape, in Rust:
//!
//! | python `hyper` | here |
//! |---|---|
//! | `conn.request('GET', '/')` then `conn.get_response(stream_id)` | [`Client::request`] → [`PendingResponse`], then [`PendingResponse::response`] |
//! | `conn.get_pushes(stream_id, capture_all)` | [`PendingResponse::pushes`] (with push enabled on the builder) |
//! | `push.cancel()` | [`PushedResponse::cancel`] |
//! | `resp.read(amt)`, `resp.read()` | [`std::io::Read`] on [`Body`], [`Body::collect`] |
//! | `resp.read_chunked()` | [`Body::chunk`], or iterate the body |
//! | `resp.trailers` | [`Body::trailers`] |
//!
//! Each call blocks its thread until the answer arrives, so it must not be made from inside
//! an async task: like tokio's own blocking calls, it panics there. Use the async
//! [`Client`](crate::Client) in async code.
//!
//! ```
//! use std::io::Read;
//!
//! // An h2c server on a loopback port, answering every request with its path.
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! std::thread::spawn(move || {
//!     let rt = tokio::runtime::Runtime::new().unwrap();
//!     rt.block_on(async move {
//!         listener.set_nonblocking(true).unwrap();
//!         let listener = tokio::net::TcpListener::from_std(listener).unwrap();
//!         while let Ok((tcp, _)) = listener.accept().await {
//!             tokio::spawn(async move {
//!                 let mut conn = h2::server::handshake(tcp).await?;
//!                 while let Some(request) = conn.accept().await {
//!                     let (request, mut respond) = request?;
//!                     let mut send = respond.send_response(http::Response::new(()), false)?;
//!                     send.send_data(request.uri().path().to_owned().into(), true)?;
//!                 }
//!                 Ok::<_, h2::Error>(())
//!             });
//!         }
//!     });
//! });
//!
//! let client = h2kit_client::blocking::Client::connect(&format!("http://{addr}"))?;
//! let response = client.get("/hello")?;
//! assert_eq!(response.status(), 200);
//! let mut text = String::new();
//! response.into_body().read_to_string(&mut text)?;
//! assert_eq!(text, "/hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};

use crate::client::{ClientBuilder, ResponseFuture};
use crate::error::Error;

/// The runtime a blocking client's connection runs on; shut down when the last handle goes.
struct Runtime {
    handle: tokio::runtime::Handle,
    rt: Option<tokio::runtime::Runtime>,
}

impl Runtime {
    fn new() -> Result<Arc<Runtime>, Error> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("h2kit-blocking")
            .enable_all()
            .build()
            .map_err(|e| Error::Io(Arc::new(e)))?;
        Ok(Arc::new(Runtime {
            handle: rt.handle().clone(),
            rt: Some(rt),
        }))
    }

    /// Runs `fut` to completion, blocking this thread; the runtime's thread drives the I/O.
    fn wait<F: Future>(&self, fut: F) -> F::Output {
        self.handle.block_on(fut)
    }

    /// Enters the runtime's context, for work that must register with its timers.
    fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
        self.handle.enter()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            // Never wait here: the last handle may be dropped anywhere.
            rt.shutdown_background();
        }
    }
}

/// What every clone of a blocking client shares: the async client and its runtime. The async
/// client is dropped (closing the connection) before the runtime shuts down.
struct Shared {
    client: crate::Client,
    rt: Arc<Runtime>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.client.close();
    }
}

/// A blocking HTTP/2 client on one connection. See the [module documentation](self).
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Client")
            .field("client", &self.shared.client)
            .finish()
    }
}

impl Client {
    /// Connects to `url` with the default settings (see [`crate::Client::connect`]).
    pub fn connect(url: &str) -> Result<Client, Error> {
        Client::connect_with(ClientBuilder::new(), url)
    }

    /// Connects to `url` with the options of `builder` (TLS roots, push, windows, timeouts,
    /// decoding, ...).
    pub fn connect_with(builder: ClientBuilder, url: &str) -> Result<Client, Error> {
        let rt = Runtime::new()?;
        let client = rt.wait(builder.connect(url))?;
        Ok(Client {
            shared: Arc::new(Shared { client, rt }),
        })
    }

    /// The async client underneath (for example to hand to async code running elsewhere);
    /// its connection is driven by this client's runtime.
    pub fn as_async(&self) -> &crate::Client {
        &self.shared.client
    }

    fn rt(&self) -> &Arc<Runtime> {
        &self.shared.rt
    }

    /// Sends `request` and waits for the response head; the body is read as it is used.
    pub fn send(&self, request: Request<crate::Body>) -> Result<Response<Body>, Error> {
        self.request(request).response()
    }

    /// A GET of `path` (or of a full URL on this connection's origin).
    pub fn get(&self, path: &str) -> Result<Response<Body>, Error> {
        let response = self.rt().wait(self.shared.client.get(path))?;
        Ok(self.wrap(response))
    }

    /// Sends `request` now and returns at once (python hyper's `request()`); the response is
    /// waited for with [`PendingResponse::response`] (its `get_response()`). Dropping the
    /// handle before that cancels the stream.
    pub fn request(&self, request: Request<crate::Body>) -> PendingResponse {
        // Queuing the request needs the runtime's context (it may start a timer).
        let _enter = self.rt().enter();
        PendingResponse {
            future: Some(self.shared.client.send(request)),
            rt: self.rt().clone(),
        }
    }

    /// Sends a PING and waits for its acknowledgement; returns the round-trip time.
    pub fn ping(&self) -> Result<Duration, Error> {
        self.rt().wait(self.shared.client.ping())
    }

    /// The connection's flow control at a glance (HTTP/2 only; see
    /// [`crate::Client::stats`]).
    pub fn stats(&self) -> Result<crate::WindowStats, Error> {
        self.rt().wait(self.shared.client.stats())
    }

    /// Opens an extended CONNECT (RFC 8441) for `protocol` and waits for the server's 2xx
    /// (see [`crate::Client::connect_protocol`]).
    pub fn connect_protocol(&self, target: &str, protocol: &str) -> Result<Tunnel, Error> {
        let inner = self
            .rt()
            .wait(self.shared.client.connect_protocol(target, protocol))?;
        Ok(Tunnel {
            inner,
            rt: self.rt().clone(),
        })
    }

    /// Opens an extended CONNECT from `request` and waits for the server's 2xx (see
    /// [`crate::Client::open_tunnel`]).
    pub fn open_tunnel(&self, request: Request<()>) -> Result<Tunnel, Error> {
        let inner = self.rt().wait(self.shared.client.open_tunnel(request))?;
        Ok(Tunnel {
            inner,
            rt: self.rt().clone(),
        })
    }

    /// Whether the connection is still usable for new requests.
    pub fn is_open(&self) -> bool {
        self.shared.client.is_open()
    }

    /// Starts closing the connection (GOAWAY); requests in flight may finish.
    pub fn close(&self) {
        self.shared.client.close();
    }

    fn wrap(&self, response: Response<crate::Body>) -> Response<Body> {
        wrap(response, self.rt())
    }
}

fn wrap(response: Response<crate::Body>, rt: &Arc<Runtime>) -> Response<Body> {
    response.map(|inner| Body {
        inner,
        rt: rt.clone(),
    })
}

/// A request sent with [`Client::request`] whose response has not been taken yet.
pub struct PendingResponse {
    future: Option<ResponseFuture>,
    rt: Arc<Runtime>,
}

impl fmt::Debug for PendingResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingResponse").finish_non_exhaustive()
    }
}

impl PendingResponse {
    /// The resources the server pushes with this request, when push was enabled with
    /// [`ClientBuilder::enable_push`] (`None` otherwise or when already taken). Take it before
    /// [`response`](Self::response).
    pub fn pushes(&mut self) -> Option<Pushes> {
        let pushes = self.future.as_mut()?.pushes()?;
        Some(Pushes {
            inner: pushes,
            rt: self.rt.clone(),
        })
    }

    /// Waits for the response head (python hyper's `get_response`).
    pub fn response(mut self) -> Result<Response<Body>, Error> {
        let future = self.future.take().ok_or(Error::ConnectionClosed)?;
        let response = self.rt.wait(future)?;
        Ok(wrap(response, &self.rt))
    }
}

impl Drop for PendingResponse {
    fn drop(&mut self) {
        // Dropping the future cancels its stream, which may need the runtime's context.
        if let Some(future) = self.future.take() {
            let _enter = self.rt.enter();
            drop(future);
        }
    }
}

/// The pushes promised for one request; see [`PendingResponse::pushes`].
pub struct Pushes {
    inner: crate::PushStream,
    rt: Arc<Runtime>,
}

impl fmt::Debug for Pushes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pushes").finish_non_exhaustive()
    }
}

impl Pushes {
    /// Every push promised until the request's stream closed (python hyper's
    /// `get_pushes(capture_all=True)`). Blocks until the stream closes; read the request's
    /// response body first, or this waits for it to be read.
    pub fn all(self) -> Vec<PushedResponse> {
        self.collect()
    }
}

impl Iterator for Pushes {
    type Item = PushedResponse;

    /// The next promise, waiting for it; `None` once the request's stream has closed.
    fn next(&mut self) -> Option<PushedResponse> {
        let inner = self.rt.wait(self.inner.next())?;
        Some(PushedResponse {
            inner,
            rt: self.rt.clone(),
        })
    }
}

/// One server push: the promised request and, when it arrives, its response.
pub struct PushedResponse {
    inner: crate::PushedResponse,
    rt: Arc<Runtime>,
}

impl fmt::Debug for PushedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl PushedResponse {
    /// The request the server promised to answer.
    pub fn request(&self) -> &Request<()> {
        self.inner.request()
    }

    /// The promised stream id.
    pub fn stream_id(&self) -> crate::StreamId {
        self.inner.stream_id()
    }

    /// Waits for the pushed response.
    pub fn response(self) -> Result<Response<Body>, Error> {
        let response = self.rt.wait(self.inner.response())?;
        Ok(wrap(response, &self.rt))
    }

    /// Refuses the push (RST_STREAM CANCEL), e.g. because the resource is cached.
    pub fn cancel(self) {
        let _enter = self.rt.enter();
        self.inner.cancel();
    }
}

/// A response body read by blocking calls: [`std::io::Read`], chunk by chunk
/// ([`chunk`](Self::chunk) or as an [`Iterator`]), or whole ([`collect`](Self::collect)), then
/// its [`trailers`](Self::trailers). Reading gives flow-control capacity back to the server,
/// as with the async body.
pub struct Body {
    inner: crate::Body,
    rt: Arc<Runtime>,
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Body {
    /// The next chunk as it arrived, `None` at the end; a body that ends early yields the
    /// error instead of a clean end.
    pub fn chunk(&mut self) -> Option<Result<Bytes, Error>> {
        self.rt.wait(self.inner.chunk())
    }

    /// The trailers, once the data is read to the end (data not read yet is discarded).
    pub fn trailers(&mut self) -> Result<Option<HeaderMap>, Error> {
        self.rt.wait(self.inner.trailers())
    }

    /// Reads the whole body into one buffer.
    pub fn collect(mut self) -> Result<Bytes, Error> {
        let inner = std::mem::take(&mut self.inner);
        self.rt.wait(inner.collect())
    }

    /// The async body underneath.
    pub fn into_async(mut self) -> crate::Body {
        std::mem::take(&mut self.inner)
    }
}

impl Iterator for Body {
    type Item = Result<Bytes, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.chunk()
    }
}

impl io::Read for Body {
    /// Reads up to `buf.len()` bytes (python hyper's `read(amt)`); 0 at the end. A body that
    /// ends early fails with an [`io::Error`] wrapping the [`Error`].
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use tokio::io::AsyncReadExt;
        let Body { inner, rt } = self;
        rt.wait(inner.read(buf))
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        // Dropping an unread body cancels its stream through the runtime's channels.
        let _enter = self.rt.enter();
        let _ = std::mem::take(&mut self.inner);
    }
}

/// The two-way byte stream of an extended CONNECT, blocking: [`io::Read`] gives the
/// server's data (0 once it closed its half), [`io::Write`] sends DATA, and
/// [`shutdown`](Self::shutdown) closes our half with END_STREAM. Dropping it before both
/// halves are closed resets the stream. See [`crate::Tunnel`].
pub struct Tunnel {
    inner: crate::Tunnel,
    rt: Arc<Runtime>,
}

impl fmt::Debug for Tunnel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Tunnel {
    /// The server's 2xx status.
    pub fn status(&self) -> http::StatusCode {
        self.inner.status()
    }

    /// The header fields of the server's answer.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// The HTTP/2 stream carrying the tunnel.
    pub fn stream_id(&self) -> crate::StreamId {
        self.inner.stream_id()
    }

    /// Closes our half (END_STREAM) after what was written; reads go on until the server
    /// closes its own.
    pub fn shutdown(&mut self) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let Tunnel { inner, rt } = self;
        rt.wait(inner.shutdown())
    }
}

impl io::Read for Tunnel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use tokio::io::AsyncReadExt;
        let Tunnel { inner, rt } = self;
        rt.wait(inner.read(buf))
    }
}

impl io::Write for Tunnel {
    /// Hands up to 64 KiB of `buf` to the connection, waiting while the stream's queue is
    /// full.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        use tokio::io::AsyncWriteExt;
        let Tunnel { inner, rt } = self;
        rt.wait(inner.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let Tunnel { inner, rt } = self;
        rt.wait(inner.flush())
    }
}
