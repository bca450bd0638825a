//! [`Client`], its builder, and the futures and streams requests give back.

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use h2kit::flow::WindowStrategy;
use h2kit::http::{Origin, Protocol};
use h2kit::{Config, Connection, ExtensiblePriority, StreamId};
use http::uri::{Authority, Scheme};
use http::{HeaderValue, Request, Response, Uri};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use crate::body::{Body, BodyTimeouts, RecvBody};
use crate::decode::ACCEPT_ENCODING;
use crate::driver::Driver;
use crate::error::Error;
use crate::memo::RequestMemo;
use crate::msg::{
    Cmd, Head, ItemReceiver, Link, Outgoing, PendingRequest, Promise, RequestHead, Shared, Upload,
    lock_advertised, request_channel,
};
use crate::trace::{FrameTrace, Tracer};
use crate::tunnel::Tunnel;

/// A handle to one HTTP/2 connection. Cheap to clone; `Send + Sync`; every clone sends on
/// the same connection, so many tasks can have requests in flight at once.
///
/// The connection is driven by a task spawned on the current tokio runtime; it ends when
/// the server closes it, on [`close`](Self::close), or when every handle, response body and
/// pending request is gone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    /// The command channel and shared state, also held by response bodies.
    link: Arc<Link>,
    /// The scheme and authority completing relative URIs, with the `:authority` value built
    /// once and shared by every request.
    origin: Origin,
    /// The origin's authority.
    authority: Authority,
    decompress: bool,
    push: bool,
    request_timeout: Option<Duration>,
    /// The whole request, body included.
    timeout: Option<Duration>,
    /// The longest wait for the next piece of a response body.
    read_timeout: Option<Duration>,
    /// The last request head and the last path of `get`, for the next request that repeats
    /// them.
    memo: RequestMemo,
    /// Requests go out over HTTP/1.1 (as heads, not HTTP/2 fields).
    http1: bool,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("scheme", self.inner.origin.scheme())
            .field("authority", &self.inner.authority)
            .field("open", &self.is_open())
            .finish()
    }
}

impl Client {
    /// Connects to `url` (`https://…` with TLS and ALPN `h2`, or `http://…` with h2c prior
    /// knowledge) with the default settings.
    pub async fn connect(url: &str) -> Result<Client, Error> {
        ClientBuilder::new().connect(url).await
    }

    /// A builder for TLS, flow control, push, timeouts and tracing.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// Sends `request`. A URI without scheme and authority (e.g. `/index.html`) is completed
    /// with the connection's. The priority from an [`ExtensiblePriority`] request extension
    /// is sent as the `priority` header (RFC 9218 §5).
    ///
    /// The request is queued at once (the future need not be polled for it to go out) and
    /// waits for a free stream when the server's SETTINGS_MAX_CONCURRENT_STREAMS is reached.
    /// Dropping the future before the response cancels the stream.
    ///
    /// A CONNECT request with a [`Protocol`] extension is an extended CONNECT (RFC 8441); it
    /// waits for the server's SETTINGS and fails with [`Error::ExtendedConnectDisabled`]
    /// unless they enable it. [`open_tunnel`](Self::open_tunnel) is the simpler way to one.
    pub fn send(&self, request: Request<Body>) -> ResponseFuture {
        self.send_with(request, false)
    }

    /// [`send`](Self::send); with `tunnel`, the request body is written through a
    /// [`Tunnel`] instead of read from the request.
    fn send_with(&self, request: Request<Body>, tunnel: bool) -> ResponseFuture {
        self.send_as(request, tunnel, None)
    }

    /// [`send_with`](Self::send_with); `get_path` is the path of the [`get`](Self::get)
    /// that made `request`, for the memo.
    fn send_as(
        &self,
        request: Request<Body>,
        tunnel: bool,
        get_path: Option<&str>,
    ) -> ResponseFuture {
        let (mut parts, body) = request.into_parts();
        let decompress = parts
            .extensions
            .get::<Decompress>()
            .map_or(self.inner.decompress, |d| d.0);
        let extended =
            parts.method == http::Method::CONNECT && parts.extensions.get::<Protocol>().is_some();
        let head = self.prepare(&mut parts, &body, decompress).map(|()| {
            let head = Request::from_parts(parts, ());
            if self.inner.http1 {
                RequestHead::Http1(Box::new(head))
            } else {
                let memo = &self.inner.memo;
                RequestHead::Fields(memo.fields(&head, &self.inner.origin, get_path))
            }
        });
        let request = head.map(|head| Queued {
            head,
            body: body.into(),
            decompress,
            extended,
            tunnel,
        });
        self.queue(request)
    }

    /// Hands a request to the connection task; the future of its response.
    fn queue(&self, request: Result<Queued, Error>) -> ResponseFuture {
        let tunnel = request.as_ref().is_ok_and(|r| r.tunnel);
        let (push_tx, push_rx) = if self.inner.push && !tunnel {
            let (t, r) = mpsc::unbounded_channel();
            (Some(t), Some(r))
        } else {
            (None, None)
        };
        let state = match request {
            Ok(r) => {
                let (tx, rx) = request_channel(Outgoing {
                    head: r.head,
                    body: r.body,
                    pushes: push_tx,
                    decompress: r.decompress,
                });
                // When the connection task is gone the request is dropped with its sender,
                // and the future sees the connection closed.
                let _ = self.inner.link.tx.send(Cmd::Request(PendingRequest {
                    tx,
                    extended: r.extended,
                    tunnel: r.tunnel,
                }));
                Waiting::Head(rx, self.inner.link.clone())
            }
            Err(e) => Waiting::Failed(e),
        };
        let deadline = self.inner.timeout.map(|d| tokio::time::Instant::now() + d);
        let head_limit = match (self.inner.request_timeout, self.inner.timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        ResponseFuture {
            state,
            pushes: push_rx,
            timeout: head_limit.map(|d| Box::pin(tokio::time::sleep(d))),
            // A tunnel lives as long as its user wants: no limits on its data.
            body_timeouts: if tunnel {
                BodyTimeouts::default()
            } else {
                BodyTimeouts {
                    deadline,
                    read: self.inner.read_timeout,
                }
            },
        }
    }

    /// Opens an extended CONNECT (RFC 8441) to `target` (a path such as `/chat`, or a URL on
    /// this connection's origin) for `protocol` (e.g. `websocket`), and returns the two-way
    /// byte stream once the server answered 2xx. See [`open_tunnel`](Self::open_tunnel).
    pub async fn connect_protocol(&self, target: &str, protocol: &str) -> Result<Tunnel, Error> {
        let uri: Uri = target
            .parse()
            .map_err(|e: http::uri::InvalidUri| Error::InvalidUrl(e.to_string()))?;
        let protocol = Protocol::try_from(protocol)
            .map_err(|e| Error::InvalidRequest(format!("{protocol:?}: {e}")))?;
        let mut request = Request::new(());
        *request.method_mut() = http::Method::CONNECT;
        *request.uri_mut() = uri;
        request.extensions_mut().insert(protocol);
        self.open_tunnel(request).await
    }

    /// Opens an extended CONNECT (RFC 8441) from `request`: its method must be CONNECT, its
    /// extensions must hold the [`Protocol`], and its URI (completed with the connection's
    /// scheme and authority) gives `:scheme`, `:path` and `:authority`; its headers go with
    /// it (e.g. `sec-websocket-protocol`). The request waits for the server's SETTINGS.
    ///
    /// Returns the [`Tunnel`] once the server answered 2xx: writes become DATA,
    /// [`shutdown`](tokio::io::AsyncWriteExt::shutdown) sends END_STREAM, reads are the
    /// response's DATA. Errors: [`Error::ExtendedConnectDisabled`] when the server did not
    /// announce SETTINGS_ENABLE_CONNECT_PROTOCOL (nothing was sent), [`Error::ConnectRefused`]
    /// with the status of any other answer, [`Error::Unsupported`] on an HTTP/1.1
    /// connection, [`Error::InvalidRequest`] without CONNECT or the protocol, and the errors
    /// of [`send`](Self::send). The client's request timeouts bound the wait for the answer
    /// only; the tunnel itself has none.
    pub async fn open_tunnel(&self, request: Request<()>) -> Result<Tunnel, Error> {
        if request.method() != http::Method::CONNECT {
            return Err(Error::InvalidRequest(
                "an extended CONNECT must use the CONNECT method".into(),
            ));
        }
        if request.extensions().get::<Protocol>().is_none() {
            return Err(Error::InvalidRequest(
                "an extended CONNECT needs a Protocol extension".into(),
            ));
        }
        let (mut parts, ()) = request.into_parts();
        parts.extensions.insert(Decompress(false));
        let response = self
            .send_with(Request::from_parts(parts, Body::empty()), true)
            .await?;
        let (head, body) = response.into_parts();
        let stream = body.stream_id().ok_or(Error::ConnectionClosed)?;
        let link = self.inner.link.clone();
        if !head.status.is_success() {
            // Our half was left open for the tunnel: close it; dropping the body cancels
            // the rest of the answer if it has not ended.
            let _ = link.tx.send(Cmd::Finish {
                id: stream,
                trailers: None,
            });
            return Err(Error::ConnectRefused {
                status: head.status,
            });
        }
        Ok(Tunnel::new(head, body, stream, link))
    }

    /// Completes a request head in place: scheme and authority, `priority`,
    /// `accept-encoding`, `content-length`.
    fn prepare(
        &self,
        parts: &mut http::request::Parts,
        body: &Body,
        decompress: bool,
    ) -> Result<(), Error> {
        parts.uri = self.complete(std::mem::take(&mut parts.uri))?;
        if let Some(p) = parts.extensions.get::<ExtensiblePriority>() {
            if !parts.headers.contains_key("priority") {
                let v = HeaderValue::from_str(&p.to_field_value())
                    .map_err(|e| Error::InvalidRequest(e.to_string()))?;
                parts.headers.insert("priority", v);
            }
        }
        if decompress && !parts.headers.contains_key(http::header::ACCEPT_ENCODING) {
            parts.headers.insert(
                http::header::ACCEPT_ENCODING,
                HeaderValue::from_static(ACCEPT_ENCODING),
            );
        }
        if let Some(n) = body.size_hint() {
            if n > 0 && !parts.headers.contains_key(http::header::CONTENT_LENGTH) {
                parts
                    .headers
                    .insert(http::header::CONTENT_LENGTH, HeaderValue::from(n));
            }
        }
        Ok(())
    }

    /// `uri` with the connection's scheme and authority where it has none, and the path `/`.
    fn complete(&self, uri: Uri) -> Result<Uri, Error> {
        if uri.scheme().is_some() && uri.authority().is_some() {
            return Ok(uri);
        }
        let mut p = uri.into_parts();
        p.scheme = Some(
            p.scheme
                .unwrap_or_else(|| self.inner.origin.scheme().clone()),
        );
        p.authority = Some(p.authority.unwrap_or_else(|| self.inner.authority.clone()));
        if p.path_and_query.is_none() {
            p.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
        }
        Uri::from_parts(p).map_err(|e| Error::InvalidUrl(e.to_string()))
    }

    /// A GET of `path` (or of a full URL on this connection's origin).
    pub async fn get(&self, path: &str) -> Result<Response<Body>, Error> {
        // The same GET again (polling, a load test): its fields as the memo kept them, with
        // no URI parsed and no request built.
        if let Some(fields) = self.inner.memo.get_fields(path) {
            let request = Queued {
                head: RequestHead::Fields(fields.into()),
                body: Body::empty().into(),
                decompress: self.inner.decompress,
                extended: false,
                tunnel: false,
            };
            return self.queue(Ok(request)).await;
        }
        let uri: Uri = path
            .parse()
            .map_err(|e: http::uri::InvalidUri| Error::InvalidUrl(e.to_string()))?;
        let mut request = Request::new(Body::empty());
        *request.uri_mut() = self.complete(uri)?;
        self.send_as(request, false, Some(path)).await
    }

    /// The alternative services the server advertised with ALTSVC frames (RFC 7838), oldest
    /// first (at most 16 kept).
    pub fn alt_svc(&self) -> Vec<AltSvc> {
        lock_advertised(&self.inner.link.shared).alt_svc.clone()
    }

    /// The origins the server said this connection may serve, from its latest ORIGIN frame
    /// (RFC 8336); empty when it sent none (at most 16 kept).
    pub fn origins(&self) -> Vec<String> {
        lock_advertised(&self.inner.link.shared).origins.clone()
    }

    /// Sends a PING and returns the round-trip time.
    pub async fn ping(&self) -> Result<Duration, Error> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .link
            .tx
            .send(Cmd::Ping { reply })
            .map_err(|_| Error::ConnectionClosed)?;
        rx.await.map_err(|_| Error::ConnectionClosed)?
    }

    /// The connection's flow control at a glance (HTTP/2 only): both sides'
    /// SETTINGS_INITIAL_WINDOW_SIZE, the connection windows, the largest stream window the
    /// auto-tuning reached and the round-trip times measured by PINGs.
    pub async fn stats(&self) -> Result<h2kit::flow::WindowStats, Error> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .link
            .tx
            .send(Cmd::Stats { reply })
            .map_err(|_| Error::ConnectionClosed)?;
        rx.await.map_err(|_| Error::ConnectionClosed)?
    }

    /// Whether the connection still accepts requests (no GOAWAY received, not closed).
    pub fn is_open(&self) -> bool {
        self.inner.link.shared.open.load(Ordering::Acquire) && !self.inner.link.tx.is_closed()
    }

    /// Starts a graceful close: GOAWAY; requests in flight finish, new ones fail.
    pub fn close(&self) {
        let _ = self.inner.link.tx.send(Cmd::Shutdown);
    }

    /// The origin's scheme (`http` or `https`).
    pub fn scheme(&self) -> &Scheme {
        self.inner.origin.scheme()
    }

    /// The origin's authority (`host[:port]`).
    pub fn authority(&self) -> &Authority {
        &self.inner.authority
    }
}

/// A request ready for the connection task, but for its exchange.
struct Queued {
    head: RequestHead,
    body: Upload,
    decompress: bool,
    extended: bool,
    tunnel: bool,
}

/// The response to a request, resolved when its final HEADERS arrive.
///
/// Dropping it before that cancels the stream (RST_STREAM CANCEL).
pub struct ResponseFuture {
    state: Waiting,
    pushes: Option<mpsc::UnboundedReceiver<Promise>>,
    timeout: Option<Pin<Box<tokio::time::Sleep>>>,
    body_timeouts: BodyTimeouts,
}

/// Where a [`ResponseFuture`] stands.
enum Waiting {
    /// For the head, on the request's exchange; the connection's commands, for cancelling
    /// and then for the body.
    Head(ItemReceiver, Arc<Link>),
    /// The request could not be sent.
    Failed(Error),
    /// The result was handed out.
    Done,
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("done", &matches!(self.state, Waiting::Done))
            .finish_non_exhaustive()
    }
}

/// A response from its head, its body reading from the exchange `rx` the head came on.
fn response(
    head: Head,
    rx: ItemReceiver,
    link: Arc<Link>,
    timeouts: BodyTimeouts,
) -> Response<Body> {
    let body = RecvBody::new(rx, link, head.stream, head.decoder).with_timeouts(timeouts);
    Response::from_parts(head.parts, Body::recv(body))
}

impl ResponseFuture {
    /// The resources the server pushes with this request (RFC 9113 §8.4), when push was
    /// enabled with [`ClientBuilder::enable_push`]; `None` otherwise or when already taken.
    ///
    /// Take it before awaiting the response. The stream yields each promise as it arrives and
    /// ends when the request's stream closes. A promise dropped unread is cancelled.
    pub fn pushes(&mut self) -> Option<PushStream> {
        self.pushes.take().map(|rx| PushStream { rx })
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response<Body>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let head = match &mut this.state {
            Waiting::Head(rx, _) => rx.poll_head(cx),
            Waiting::Failed(_) => Poll::Ready(Err(Error::ConnectionClosed)),
            Waiting::Done => return Poll::Ready(Err(Error::ConnectionClosed)),
        };
        if let Poll::Ready(head) = head {
            let result = match (std::mem::replace(&mut this.state, Waiting::Done), head) {
                (Waiting::Failed(e), _) => Err(e),
                (Waiting::Head(rx, link), Ok(head)) => {
                    Ok(response(head, rx, link, this.body_timeouts))
                }
                (_, Err(e)) => Err(e),
                (Waiting::Done, Ok(_)) => Err(Error::ConnectionClosed),
            };
            return Poll::Ready(result);
        }
        if let Some(t) = &mut this.timeout {
            if t.as_mut().poll(cx).is_ready() {
                if let Waiting::Head(mut rx, link) =
                    std::mem::replace(&mut this.state, Waiting::Done)
                {
                    rx.abandon(&link.tx, false);
                }
                return Poll::Ready(Err(Error::Timeout));
            }
        }
        Poll::Pending
    }
}

impl Drop for ResponseFuture {
    fn drop(&mut self) {
        if let Waiting::Head(rx, link) = &mut self.state {
            rx.abandon(&link.tx, false);
        }
    }
}

/// Pushed responses promised for one request; see [`ResponseFuture::pushes`].
#[derive(Debug)]
pub struct PushStream {
    rx: mpsc::UnboundedReceiver<Promise>,
}

impl PushStream {
    /// The next promise, `None` once the request's stream has closed.
    pub async fn next(&mut self) -> Option<PushedResponse> {
        let promise = self.rx.recv().await?;
        Some(PushedResponse { promise })
    }
}

impl Stream for PushStream {
    type Item = PushedResponse;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx
            .poll_recv(cx)
            .map(|p| p.map(|promise| PushedResponse { promise }))
    }
}

/// One server push: the promised request and, when it arrives, its response.
pub struct PushedResponse {
    promise: Promise,
}

impl fmt::Debug for PushedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushedResponse")
            .field("request", &self.promise.request)
            .field("stream", &self.promise.stream)
            .finish_non_exhaustive()
    }
}

impl PushedResponse {
    /// The request the server promised to answer (method, URI with path, headers).
    pub fn request(&self) -> &Request<()> {
        &self.promise.request
    }

    /// The promised stream id.
    pub fn stream_id(&self) -> StreamId {
        self.promise.stream
    }

    /// Waits for the pushed response.
    pub async fn response(mut self) -> Result<Response<Body>, Error> {
        let Some(rx) = self.promise.rx.as_mut() else {
            return Err(Error::ConnectionClosed);
        };
        let head = std::future::poll_fn(|cx| rx.poll_head(cx)).await?;
        let rx = self.promise.rx.take().ok_or(Error::ConnectionClosed)?;
        Ok(response(
            head,
            rx,
            self.promise.link.clone(),
            BodyTimeouts::default(),
        ))
    }

    /// Refuses the push (RST_STREAM CANCEL), e.g. because the resource is cached. Dropping a
    /// push whose response was not taken does the same.
    pub fn cancel(self) {
        // Dropping the promise abandons the exchange, which cancels the promised stream.
        drop(self);
    }
}

/// An alternative service advertised by the server in an ALTSVC frame (RFC 7838 §4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AltSvc {
    /// The stream it came on: 0 for a connection-wide advertisement (then `origin` says for
    /// which origin), else the stream of the request it concerns.
    pub stream: StreamId,
    /// The origin it applies to (empty on a request stream).
    pub origin: String,
    /// The `Alt-Svc` field value, e.g. `h3=":443"; ma=3600`.
    pub value: String,
}

/// Per-request content decoding (python hyper's `decode_content`): put `Decompress(true)`
/// in a request's extensions to send `accept-encoding: gzip, deflate, br` and decode the
/// response, or `Decompress(false)` to get the bytes as sent, whatever
/// [`ClientBuilder::decompress`] says for the connection.
///
/// ```
/// let mut request = http::Request::get("/data.json").body(h2kit_client::Body::empty())?;
/// request.extensions_mut().insert(h2kit_client::Decompress(true));
/// # Ok::<(), http::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Decompress(pub bool);

/// Configures and opens a [`Client`] connection.
pub struct ClientBuilder {
    config: Config,
    roots: Vec<CertificateDer<'static>>,
    builtin_roots: bool,
    insecure: bool,
    config_error: Option<Error>,
    connect_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    decompress: bool,
    max_decoded: Option<u64>,
    trace: Option<Arc<dyn FrameTrace>>,
    versions: HttpVersions,
    proxies: crate::proxy::Proxies,
    http1_idle_timeout: Option<Duration>,
}

/// Which HTTP versions a [`Client`] may speak; see [`ClientBuilder::http_versions`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HttpVersions {
    /// The default. `https://`: ALPN offers `h2` and `http/1.1`, and the client speaks what
    /// the server picks (HTTP/1.1 when it picks none), as curl and browsers do. `http://`:
    /// HTTP/2 with prior knowledge (h2c), since this is an HTTP/2 client first; choose
    /// [`Http1Only`](Self::Http1Only) for a plain HTTP/1.1 server.
    #[default]
    Auto,
    /// HTTP/2 only: over TLS a server that does not pick `h2` is an [`Error::Alpn`].
    Http2Only,
    /// HTTP/1.1 only (ALPN `http/1.1` over TLS), with a pool of keep-alive connections.
    Http1Only,
    /// `http://`: start in HTTP/1.1 and ask for HTTP/2 with `Upgrade: h2c` (RFC 7540 §3.2,
    /// a `HEAD` of the URL's path when connecting), staying on HTTP/1.1 when the server
    /// declines (curl's `--http2` for `http://`). `https://`: as [`Auto`](Self::Auto).
    Http2Upgrade,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("config", &self.config)
            .field("extra_roots", &self.roots.len())
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientBuilder {
    /// Defaults: webpki roots, push refused (SETTINGS_ENABLE_PUSH 0), no content decoding,
    /// connect timeout 30 s, no request timeout, the core's default [`Config`].
    pub fn new() -> Self {
        ClientBuilder {
            config: Config::default(),
            roots: Vec::new(),
            builtin_roots: true,
            insecure: false,
            config_error: None,
            connect_timeout: Some(Duration::from_secs(30)),
            request_timeout: None,
            timeout: None,
            read_timeout: None,
            decompress: false,
            max_decoded: None,
            trace: None,
            versions: HttpVersions::Auto,
            proxies: crate::proxy::Proxies::default(),
            http1_idle_timeout: Some(crate::h1conn::DEFAULT_IDLE_TIMEOUT),
        }
    }

    /// Sends every request through `proxy`: `https://` targets through a CONNECT tunnel
    /// (TLS and ALPN end to end inside it, so HTTP/2 still works), `http://` targets as
    /// absolute-form HTTP/1.1 requests it forwards (or, with [`HttpVersions::Http2Only`],
    /// h2c inside a tunnel). No proxy is used unless one is set here or by
    /// [`proxies`](Self::proxies).
    pub fn proxy(mut self, proxy: crate::proxy::Proxy) -> Self {
        self.proxies.https = Some(proxy.clone());
        self.proxies.http = Some(proxy);
        self
    }

    /// The proxies per scheme and the hosts that go direct; [`Proxies::from_env`] reads
    /// them from the environment as curl does.
    ///
    /// [`Proxies::from_env`]: crate::Proxies::from_env
    pub fn proxies(mut self, proxies: crate::proxy::Proxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// Which HTTP versions to speak (default [`HttpVersions::Auto`]: HTTP/2 where the server
    /// offers it, HTTP/1.1 over TLS where it does not). Over HTTP/1.1 the same request,
    /// response and body types are used; [`Response::version`](http::Response::version)
    /// says which version answered.
    pub fn http_versions(mut self, versions: HttpVersions) -> Self {
        self.versions = versions;
        self
    }

    /// Replaces the core configuration (SETTINGS, limits, window strategies, scheduler).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The core configuration, to adjust one field.
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// Accept server push (SETTINGS_ENABLE_PUSH 1) and expose pushes through
    /// [`ResponseFuture::pushes`]. Off by default: most clients never read pushes, and a
    /// refused push costs the server nothing.
    pub fn enable_push(mut self, enable: bool) -> Self {
        self.config.settings.enable_push = enable;
        self
    }

    /// How each stream's receive window is reopened (the window manager): BDP-adaptive up to
    /// 16 MiB (default), threshold (a fixed window), manual, or a custom
    /// [`h2kit::flow::WindowPolicy`].
    pub fn stream_window(mut self, strategy: WindowStrategy) -> Self {
        self.config.stream_window = strategy;
        self
    }

    /// How the connection's receive window is reopened (default: BDP-adaptive up to 32 MiB).
    pub fn connection_window(mut self, strategy: WindowStrategy) -> Self {
        self.config.connection_window = strategy;
        self
    }

    /// SETTINGS_INITIAL_WINDOW_SIZE: each stream's receive window at its start (default
    /// 65,535; auto-tuned windows grow from there).
    pub fn initial_window_size(mut self, size: u32) -> Self {
        self.config.settings.initial_window_size = size.min(h2kit::flow::MAX_WINDOW);
        self
    }

    /// The connection receive window at start (default 1 MiB; auto-tuned, it grows).
    pub fn connection_window_size(mut self, size: u32) -> Self {
        self.config.connection_window_size = size.min(h2kit::flow::MAX_WINDOW);
        self
    }

    /// Trusts the certificates in `path` (PEM, one or more; or one DER certificate) in
    /// addition to the webpki roots.
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        match std::fs::read(path) {
            Ok(data) => self.add_root_certificate(&data),
            Err(e) => {
                self.config_error = Some(Error::Config(format!(
                    "cannot read CA file {}: {e}",
                    path.display()
                )));
                self
            }
        }
    }

    /// Trusts a certificate given as PEM or DER bytes.
    pub fn add_root_certificate(mut self, pem_or_der: &[u8]) -> Self {
        match crate::tls::parse_certificates(pem_or_der) {
            Ok(certs) => self.roots.extend(certs),
            Err(e) => self.config_error = Some(e),
        }
        self
    }

    /// Whether to trust the bundled webpki roots (default true).
    pub fn builtin_roots(mut self, enable: bool) -> Self {
        self.builtin_roots = enable;
        self
    }

    /// Accept any server certificate. Dangerous: only for tests and self-signed servers you
    /// control; the connection is then open to impersonation.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.insecure = accept;
        self
    }

    /// Limit on TCP connect plus TLS handshake (default 30 s; `None` for no limit).
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Limit on the wait for each response's headers (default none).
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Limit on each whole request, from sending it to the end of its response body
    /// (default none; reqwest's `timeout`). Past it the response, or the next read of its
    /// body, fails with [`Error::Timeout`] and the stream is cancelled.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Limit on the wait for each next piece of a response body (default none; reqwest's
    /// `read_timeout`): a server that stalls, or sends a byte now and then slower than
    /// this, fails the read with [`Error::Timeout`] and the stream is cancelled.
    pub fn read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Send `accept-encoding: gzip, deflate, br` and decode such responses (the
    /// `content-encoding` and `content-length` headers are then removed). Default off. A
    /// request can choose for itself with a [`Decompress`] extension (python hyper's
    /// per-request `decode_content`).
    pub fn decompress(mut self, enable: bool) -> Self {
        self.decompress = enable;
        self
    }

    /// Caps the decoded size of each response body when [`decompress`](Self::decompress) is
    /// on: past `limit` octets the body yields [`Error::Decode`] with
    /// [`DecodeError::TooLarge`](crate::DecodeError::TooLarge) (and the stream is cancelled
    /// when the body is dropped). Default `None`, no cap.
    ///
    /// Decoding never needs memory in proportion to the decoded size: a decoding body holds
    /// one received DATA payload, one decoded chunk of at most 64 KiB and the decoder state
    /// (at most a 16 MiB brotli window), and decodes only as fast as it is read, so a
    /// compression bomb costs the client CPU per octet read, not memory. Without a cap the
    /// decoded size is, like an uncompressed body's size, the reader's business; set one
    /// when the body is gathered whole ([`Body::collect`](crate::Body::collect)) from servers
    /// you do not trust, since a few kilobytes on the wire can decode to gigabytes.
    pub fn max_decoded_body_size(mut self, limit: Option<u64>) -> Self {
        self.max_decoded = limit;
        self
    }

    /// How long an HTTP/1.1 keep-alive connection may wait unused in the pool before the
    /// client closes it (default 60 s; `None`: until the server closes it). Servers close
    /// idle connections themselves after 5 s (Apache) to 75 s (nginx); closing ours first
    /// frees their sockets and ours. HTTP/2 connections have the core's
    /// [`Limits::idle_timeout`](h2kit::Limits::idle_timeout) instead.
    pub fn http1_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.http1_idle_timeout = timeout;
        self
    }

    /// Sees every frame sent and received (see [`FrameTrace`]).
    pub fn frame_trace(mut self, trace: Arc<dyn FrameTrace>) -> Self {
        self.trace = Some(trace);
        self
    }

    /// Connects to `url`: `https://host[:port]` (TLS, ALPN `h2`, certificate checked) or
    /// `http://host[:port]` (h2c with prior knowledge). The path of `url` is ignored.
    pub async fn connect(self, url: &str) -> Result<Client, Error> {
        if let Some(e) = self.config_error {
            return Err(e);
        }
        let uri: Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| Error::InvalidUrl(format!("{url}: {e}")))?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or_else(|| Error::InvalidUrl(format!("{url}: no scheme (http or https)")))?;
        let tls = if scheme == Scheme::HTTPS {
            true
        } else if scheme == Scheme::HTTP {
            false
        } else {
            return Err(Error::InvalidUrl(format!(
                "{url}: unsupported scheme {scheme}"
            )));
        };
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| Error::InvalidUrl(format!("{url}: no host")))?;
        let host = authority.host();
        if host.is_empty() {
            return Err(Error::InvalidUrl(format!("{url}: no host")));
        }
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let addr = format!("{host}:{port}");
        let timeout = self.connect_timeout;
        let versions = self.versions;
        let tls_config = if tls {
            let mut config =
                crate::tls::client_config(&self.roots, self.builtin_roots, self.insecure)?;
            config.alpn_protocols = match versions {
                HttpVersions::Auto | HttpVersions::Http2Upgrade => {
                    vec![b"h2".to_vec(), b"http/1.1".to_vec()]
                }
                HttpVersions::Http2Only => vec![b"h2".to_vec()],
                HttpVersions::Http1Only => vec![b"http/1.1".to_vec()],
            };
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let name = ServerName::try_from(bare.to_owned())
                .map_err(|e| Error::InvalidUrl(format!("{host}: {e}")))?;
            Some((Arc::new(config), name))
        } else {
            None
        };
        let proxy = self.proxies.for_target(tls, host).cloned();
        // Through a proxy, http:// is forwarded as HTTP/1.1 unless HTTP/2 is required (then
        // h2c goes through a tunnel, as https:// always does).
        let forward = proxy.is_some() && !tls && versions != HttpVersions::Http2Only;
        let versions = if forward {
            HttpVersions::Http1Only
        } else {
            versions
        };
        let dial = Dialer {
            addr: addr.clone(),
            tls: tls_config.clone(),
            timeout,
            tunnel: proxy.clone().filter(|_| !forward),
            forward: proxy.clone().filter(|_| forward),
        };
        let work = async {
            let tcp = dial.tcp().await?;
            let Some((config, name)) = &tls_config else {
                return match versions {
                    HttpVersions::Http1Only => Ok(Transport::Http1(Box::new(tcp))),
                    HttpVersions::Http2Upgrade => {
                        upgrade(tcp, &self.config, uri.path(), authority.as_str()).await
                    }
                    HttpVersions::Auto | HttpVersions::Http2Only => Ok(Transport::Plain(tcp)),
                };
            };
            let connector = tokio_rustls::TlsConnector::from(config.clone());
            let stream = connector
                .connect(name.clone(), tcp)
                .await
                .map_err(tls_error)?;
            let alpn = stream.get_ref().1.alpn_protocol();
            let auto = matches!(versions, HttpVersions::Auto | HttpVersions::Http2Upgrade);
            match (alpn, versions) {
                (Some(b"h2"), HttpVersions::Http2Only) => Ok(Transport::Tls(Box::new(stream))),
                (Some(b"h2"), _) if auto => Ok(Transport::Tls(Box::new(stream))),
                (Some(b"http/1.1") | None, HttpVersions::Http1Only) => {
                    Ok(Transport::Http1(Box::new(stream)))
                }
                (Some(b"http/1.1") | None, _) if auto => Ok(Transport::Http1(Box::new(stream))),
                (alpn, _) => Err(Error::Alpn {
                    negotiated: alpn.map(<[u8]>::to_vec),
                }),
            }
        };
        let transport = match timeout {
            Some(t) => tokio::time::timeout(t, work)
                .await
                .map_err(|_| Error::Timeout)??,
            None => work.await?,
        };
        let opts = self.into_options();
        Ok(match transport {
            Transport::Plain(t) => start(t, scheme, authority, opts),
            Transport::Upgraded(t) => {
                let conn = Connection::client_h2c(opts.config.clone(), true);
                start_conn(conn, t, scheme, authority, opts)
            }
            Transport::Tls(t) => start(*t, scheme, authority, opts),
            Transport::Http1(first) => {
                let forward = dial.forward.as_ref().map(|p| {
                    (
                        format!("{scheme}://{authority}"),
                        p.authorization().map(str::to_owned),
                    )
                });
                start_http1(first, dial, scheme, authority, opts, forward)
            }
        })
    }

    /// Runs HTTP/2 over an already connected transport (for custom transports, Unix sockets,
    /// or in-memory tests). `scheme` and `authority` complete relative request URIs.
    pub fn handshake<T>(self, io: T, scheme: Scheme, authority: Authority) -> Result<Client, Error>
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        if let Some(e) = self.config_error {
            return Err(e);
        }
        let opts = self.into_options();
        Ok(start(io, scheme, authority, opts))
    }
}

impl ClientBuilder {
    /// What the connection task is started with, once the transport is open.
    fn into_options(self) -> Options {
        Options {
            config: self.config,
            decompress: self.decompress,
            max_decoded: self.max_decoded,
            request_timeout: self.request_timeout,
            timeout: self.timeout,
            read_timeout: self.read_timeout,
            trace: self.trace,
            http1_idle_timeout: self.http1_idle_timeout,
        }
    }
}

/// A handshake error; the server refusing every protocol we offered is an ALPN failure.
fn tls_error(e: std::io::Error) -> Error {
    let no_alpn = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|r| {
            matches!(
                r,
                rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol)
            )
        });
    if no_alpn {
        Error::Alpn { negotiated: None }
    } else {
        Error::Tls(Arc::new(e))
    }
}

enum Transport {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// A connection (TCP or TLS) that speaks HTTP/1.1.
    Http1(crate::h1conn::BoxIo),
    /// A cleartext connection the server upgraded to HTTP/2 (its first bytes read already
    /// are put back in front).
    Upgraded(Prefixed<TcpStream>),
}

/// A byte stream with some bytes already read from it put back in front.
struct Prefixed<T> {
    prefix: Bytes,
    io: T,
}

impl<T: AsyncRead + Unpin> AsyncRead for Prefixed<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            let head = self.prefix.split_to(n);
            buf.put_slice(&head);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Prefixed<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Asks for HTTP/2 with `Upgrade: h2c` (RFC 7540 §3.2) on a fresh cleartext connection, with
/// a `HEAD` of `path`: 101 gives an HTTP/2 connection whose stream 1 answers the HEAD (the
/// client driver has no request waiting on it and lets it pass); any other answer leaves the
/// connection on HTTP/1.1 (reused when the server keeps it alive, else a new one).
async fn upgrade(
    mut tcp: TcpStream,
    config: &Config,
    path: &str,
    authority: &str,
) -> Result<Transport, Error> {
    let settings = Connection::client(config.clone()).h2c_settings();
    let path = if path.is_empty() { "/" } else { path };
    let request = format!(
        "HEAD {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: Upgrade, HTTP2-Settings\r\n\
         upgrade: h2c\r\nhttp2-settings: {settings}\r\n\r\n"
    );
    let io_error = |e: std::io::Error| Error::Io(Arc::new(e));
    tcp.write_all(request.as_bytes()).await.map_err(io_error)?;
    let mut buf = BytesMut::with_capacity(4096);
    let limits = crate::h1::H1Limits::default();
    loop {
        match crate::h1::parse_response_head(&mut buf, true, &limits).map_err(Error::Http1)? {
            Some(head) if head.status == http::StatusCode::SWITCHING_PROTOCOLS => {
                return Ok(Transport::Upgraded(Prefixed {
                    prefix: buf.freeze(),
                    io: tcp,
                }));
            }
            Some(head) if head.status.is_informational() => continue,
            Some(head) => {
                if head.keep_alive && buf.is_empty() {
                    return Ok(Transport::Http1(Box::new(tcp)));
                }
                return Err(Error::Unsupported(
                    "the server declined the h2c upgrade and closed the connection",
                ));
            }
            None => {
                if tcp.read_buf(&mut buf).await.map_err(io_error)? == 0 {
                    return Err(Error::Http1(crate::H1Error::UnexpectedEof));
                }
            }
        }
    }
}

/// Opens connections to one origin: the first, and more for the HTTP/1.1 pool.
#[derive(Clone)]
struct Dialer {
    /// The origin's `host:port`.
    addr: String,
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    timeout: Option<Duration>,
    /// A proxy to reach the origin through with CONNECT.
    tunnel: Option<crate::proxy::Proxy>,
    /// A proxy that forwards absolute-form HTTP/1.1 requests (connections go to it).
    forward: Option<crate::proxy::Proxy>,
}

impl Dialer {
    /// A TCP connection to the origin: directly, through a proxy's tunnel, or to the
    /// forwarding proxy itself.
    async fn tcp(&self) -> Result<TcpStream, Error> {
        let to = match (&self.tunnel, &self.forward) {
            (Some(p), _) | (None, Some(p)) => p.addr(),
            (None, None) => self.addr.clone(),
        };
        let mut tcp = TcpStream::connect(&to).await.map_err(|e| Error::Connect {
            addr: to.clone(),
            source: Arc::new(e),
        })?;
        let _ = tcp.set_nodelay(true);
        if let Some(p) = &self.tunnel {
            p.tunnel(&mut tcp, &self.addr).await?;
        }
        Ok(tcp)
    }

    /// Another HTTP/1.1 connection (ALPN `http/1.1` only over TLS).
    async fn http1(self) -> Result<crate::h1conn::BoxIo, Error> {
        let timeout = self.timeout;
        let work = async {
            let tcp = self.tcp().await?;
            let Some((config, name)) = self.tls else {
                return Ok(Box::new(tcp) as crate::h1conn::BoxIo);
            };
            let mut config = (*config).clone();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
            let stream = connector.connect(name, tcp).await.map_err(tls_error)?;
            Ok(Box::new(stream) as crate::h1conn::BoxIo)
        };
        match timeout {
            Some(t) => tokio::time::timeout(t, work)
                .await
                .map_err(|_| Error::Timeout)?,
            None => work.await,
        }
    }
}

/// A client on the HTTP/1.1 pool, its first connection already open.
fn start_http1(
    first: crate::h1conn::BoxIo,
    dial: Dialer,
    scheme: Scheme,
    authority: Authority,
    opts: Options,
    forward: Option<(String, Option<String>)>,
) -> Client {
    let (tx, rx) = mpsc::unbounded_channel();
    let link = Arc::new(Link {
        tx,
        shared: Arc::new(Shared::default()),
    });
    let connect: crate::h1conn::Connect = Arc::new(move || Box::pin(dial.clone().http1()));
    let pool = crate::h1conn::Pool::new(
        rx,
        Arc::downgrade(&link),
        authority.as_str().to_owned(),
        Some(first),
        connect,
        crate::h1conn::H1Options {
            max_decoded: opts.max_decoded,
            forward,
            idle_timeout: opts.http1_idle_timeout,
            ..Default::default()
        },
    );
    let span = tracing::debug_span!("h2kit_client", authority = %authority, version = "http/1.1");
    tokio::spawn(tracing::Instrument::instrument(pool.run(), span));
    Client {
        inner: Arc::new(Inner {
            link,
            origin: Origin::new(scheme, Some(authority.clone())),
            authority,
            decompress: opts.decompress,
            push: false,
            request_timeout: opts.request_timeout,
            timeout: opts.timeout,
            read_timeout: opts.read_timeout,
            memo: RequestMemo::default(),
            http1: true,
        }),
    }
}

struct Options {
    config: Config,
    decompress: bool,
    max_decoded: Option<u64>,
    request_timeout: Option<Duration>,
    timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    trace: Option<Arc<dyn FrameTrace>>,
    http1_idle_timeout: Option<Duration>,
}

fn start<T>(io: T, scheme: Scheme, authority: Authority, opts: Options) -> Client
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let conn = Connection::client(opts.config.clone());
    start_conn(conn, io, scheme, authority, opts)
}

/// Runs `conn` (a fresh client connection, or one upgraded from HTTP/1.1) over `io`.
fn start_conn<T>(
    conn: Connection,
    io: T,
    scheme: Scheme,
    authority: Authority,
    opts: Options,
) -> Client
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let push = opts.config.settings.enable_push;
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared::default());
    let link = Arc::new(Link {
        tx,
        shared: shared.clone(),
    });
    let tracer = opts.trace.map(Tracer::new);
    let driver = Driver::new(
        conn,
        Arc::downgrade(&link),
        shared,
        tracer,
        opts.decompress,
        opts.max_decoded,
        authority.clone(),
    );
    let span = tracing::debug_span!("h2kit_client", authority = %authority, version = "h2");
    tokio::spawn(tracing::Instrument::instrument(driver.run(io, rx), span));
    Client {
        inner: Arc::new(Inner {
            link,
            origin: Origin::new(scheme, Some(authority.clone())),
            authority,
            decompress: opts.decompress,
            push,
            request_timeout: opts.request_timeout,
            timeout: opts.timeout,
            read_timeout: opts.read_timeout,
            memo: RequestMemo::default(),
            http1: false,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use h2kit::http::request_fields;

    /// The `accept-encoding` the client adds is one of the values the conversion sends as
    /// static bytes, and the connection's `:authority` value is shared: neither is copied
    /// for each request.
    #[test]
    fn our_accept_encoding_and_authority_are_not_copied() {
        let origin = Origin::new(Scheme::HTTPS, Some("example.com".parse().unwrap()));
        let head = Request::get("https://example.com/")
            .header(http::header::ACCEPT_ENCODING, ACCEPT_ENCODING)
            .body(())
            .unwrap();
        let (a, b) = (
            request_fields(&head, &origin),
            request_fields(&head, &origin),
        );
        assert_eq!(a[3].name, ":authority");
        assert_eq!(a[4].value, ACCEPT_ENCODING);
        for i in [3, 4] {
            assert_eq!(a[i].value.as_ptr(), b[i].value.as_ptr());
        }
    }
}
