//! The listener: TLS or h2c (prior knowledge or HTTP/1.1 Upgrade), one task per connection,
//! graceful shutdown.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use h2kit::headers::is_connection_specific;
use h2kit::{Config, Connection, Field, PREFACE};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::conn::{self, ConnParams};
use crate::handler::Handler;
use crate::log::{AccessLog, AccessLogger};

/// The largest HTTP/1.1 request head accepted on an h2c connection (for `Upgrade: h2c`).
const MAX_HTTP1_HEAD: usize = 16 * 1024;
/// How long a client has by default to finish the TLS handshake, or to send the h2c preface
/// (see [`Builder::handshake_timeout`]).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Response body data a connection holds by default for all its streams together (see
/// [`Builder::connection_send_budget`]).
pub const DEFAULT_CONNECTION_SEND_BUDGET: usize = 64 * 1024;

/// Why a server could not start or run.
#[non_exhaustive]
#[derive(Debug)]
pub enum Error {
    /// Binding the listening socket failed.
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// A certificate or key file could not be read or holds no usable PEM item.
    Pem {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Generating the self-signed certificate failed.
    SelfSigned(rcgen::Error),
    /// rustls refused the certificate or key.
    Tls(rustls::Error),
    /// Accepting connections failed.
    Io(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            Error::Pem { path, reason } => write!(f, "{}: {reason}", path.display()),
            Error::SelfSigned(e) => write!(f, "cannot generate a self-signed certificate: {e}"),
            Error::Tls(e) => write!(f, "TLS configuration: {e}"),
            Error::Io(e) => write!(f, "accepting connections: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Bind { source, .. } => Some(source),
            Error::SelfSigned(e) => Some(e),
            Error::Tls(e) => Some(e),
            Error::Io(e) => Some(e),
            Error::Pem { .. } => None,
        }
    }
}

/// The server's certificate (for a client to trust a self-signed one).
#[derive(Debug, Clone)]
pub struct Certificate {
    der: CertificateDer<'static>,
    pem: String,
}

impl Certificate {
    /// The certificate in DER.
    pub fn der(&self) -> &[u8] {
        self.der.as_ref()
    }

    /// The certificate in PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }
}

#[derive(Debug, Clone)]
enum Transport {
    H2c,
    SelfSigned,
    Pem { cert: PathBuf, key: PathBuf },
}

/// Configures and starts a [`Server`].
pub struct Builder {
    addr: SocketAddr,
    transport: Transport,
    config: Config,
    shutdown_timeout: Duration,
    h2c_upgrade: bool,
    logger: Option<AccessLogger>,
    connect_protocol: Option<bool>,
    notsent_lowat: Option<u32>,
    handshake_timeout: Duration,
    send_budget: usize,
}

/// The default [`Builder::tcp_notsent_lowat`]: 128 KiB of not-yet-sent data in each
/// connection's kernel send queue. Enough that the socket never runs dry between two wakeups
/// of the connection task on a fast link (about 100 µs at 1 GiB/s), small enough that a
/// response sent with a higher priority waits behind at most that much of another's.
pub const DEFAULT_NOTSENT_LOWAT: u32 = 128 * 1024;

/// The `event_interval` suggested for a tokio runtime that serves large responses beside
/// urgent ones, and the one `h2kit serve` uses: the scheduler polls its I/O driver (learns
/// which sockets have input) after at most this many task polls, where tokio's default is
/// 61.
///
/// A connection sending a file hands data back and forth with the task reading it, and
/// while the two keep each other busy the runtime looks at its sockets only every so many
/// polls; until it does, a request that arrived meanwhile is not seen and the file keeps
/// going out ahead of it. Measured over loopback with a 32 MiB response (the driver's
/// tests): 1.5 MB went out after a PING reached the server's socket and before it was
/// answered with tokio's default, 33–164 KB with 4, 33–98 KB with 2. Each poll of the
/// driver is an `epoll_wait` that returns at once, made only while tasks keep the runtime
/// busy.
///
/// ```
/// let runtime = tokio::runtime::Builder::new_current_thread()
///     .enable_all()
///     .event_interval(h2kit_server::RUNTIME_EVENT_INTERVAL)
///     .build()?;
/// # drop(runtime);
/// # Ok::<(), std::io::Error>(())
/// ```
pub const RUNTIME_EVENT_INTERVAL: u32 = 4;

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("addr", &self.addr)
            .field("transport", &self.transport)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("send_budget", &self.send_budget)
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            transport: Transport::H2c,
            config: Config::default(),
            shutdown_timeout: Duration::from_secs(10),
            h2c_upgrade: true,
            logger: None,
            connect_protocol: None,
            notsent_lowat: Some(DEFAULT_NOTSENT_LOWAT),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            send_budget: DEFAULT_CONNECTION_SEND_BUDGET,
        }
    }
}

impl Builder {
    /// The address to listen on (default `127.0.0.1:0`: loopback, any free port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Cleartext HTTP/2 (h2c) with prior knowledge, and `Upgrade: h2c` from HTTP/1.1 unless
    /// turned off with [`h2c_upgrade`](Self::h2c_upgrade). The default.
    pub fn h2c(mut self) -> Self {
        self.transport = Transport::H2c;
        self
    }

    /// Whether an h2c server accepts the HTTP/1.1 `Upgrade: h2c` path (default true).
    pub fn h2c_upgrade(mut self, enabled: bool) -> Self {
        self.h2c_upgrade = enabled;
        self
    }

    /// TLS with ALPN `h2` and a certificate chain and private key read from PEM files.
    pub fn tls_pem_files(mut self, cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        self.transport = Transport::Pem {
            cert: cert.as_ref().to_owned(),
            key: key.as_ref().to_owned(),
        };
        self
    }

    /// TLS with ALPN `h2` and a self-signed certificate for `localhost` and `127.0.0.1`
    /// generated at start ([`Server::certificate`] gives it to clients).
    pub fn tls_self_signed(mut self) -> Self {
        self.transport = Transport::SelfSigned;
        self
    }

    /// The core configuration of each connection: SETTINGS, limits, validation, windows.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// How long a client has to finish the TLS handshake (TLS), or to send the client
    /// preface or an `Upgrade: h2c` request (h2c), before the connection is closed without a
    /// word (default [`DEFAULT_HANDSHAKE_TIMEOUT`], 10 s). After that the core's
    /// `limits.first_request_timeout` (see [`config`](Self::config)) bounds the wait for
    /// the first request.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The most response body data one connection holds in memory for all its streams
    /// together: credit granted to response tasks and not used yet, data on its way to the
    /// core, data the core has not written to the socket and output a write left behind
    /// when the socket would not take all of it (default [`DEFAULT_CONNECTION_SEND_BUDGET`],
    /// 64 KiB; at least 16 KiB). While the peer's connection window is smaller, the budget is
    /// that window and 16 KiB more: data beyond it could not leave anyway. A response task asks for
    /// credit before it reads a file or sends data and waits for its share; one that cannot
    /// get any hands its body back to the connection and ends, so a stream waiting for the
    /// budget costs neither a buffer nor a task. A peer that opens many streams for large
    /// responses and never reads therefore costs at most this much data; the kernel's socket
    /// buffer, not this budget, keeps a fast link busy (1 GiB over loopback with curl went
    /// as fast with 64 KiB as with 1 MiB). Each stream also stays within its send window (at
    /// least 16 KiB, at most 1 MiB and the core's `limits.max_send_buffer_per_stream`). A
    /// socket that accepts none of the output for the core's `limits.send_stall_timeout` is
    /// closed.
    pub fn connection_send_budget(mut self, bytes: usize) -> Self {
        self.send_budget = bytes;
        self
    }

    /// How long a graceful shutdown waits for in-flight streams before closing connections
    /// anyway (default 10 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Whether to announce SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441) and accept extended
    /// CONNECT requests: `:method` CONNECT with a `:protocol` such as `websocket`. Default
    /// false (the core [`Config`]'s `settings.enable_connect_protocol`, which this overrides
    /// whatever [`config`](Self::config) is given): without it such a request is malformed
    /// and its stream reset with PROTOCOL_ERROR before any handler sees it.
    ///
    /// A handler sees the protocol as the request's [`Protocol`](h2kit::http::Protocol)
    /// extension (`request.extensions().get::<Protocol>()`). To accept, it answers 2xx with
    /// a streaming body (e.g. [`Body::channel`](crate::Body::channel)) and reads the request
    /// body as it comes: the response head goes out at once, both bodies then stream
    /// independently, and each side's END_STREAM closes only its own half. Any other status
    /// refuses the tunnel. A `content-length` on a 2xx answer to CONNECT is dropped
    /// (RFC 9110 §9.3.6).
    pub fn enable_connect_protocol(mut self, enabled: bool) -> Self {
        self.connect_protocol = Some(enabled);
        self
    }

    /// How much not-yet-sent data each connection's kernel send queue may hold
    /// (`TCP_NOTSENT_LOWAT`, Linux and Android; ignored elsewhere). Default
    /// [`DEFAULT_NOTSENT_LOWAT`]; `None` leaves the system's setting (unlimited unless
    /// `net.ipv4.tcp_notsent_lowat` says otherwise).
    ///
    /// Priorities can only reorder data the connection still holds: what the kernel has
    /// queued goes out first whatever arrives after it. With a low mark the socket accepts
    /// more only as it drains, so responses stay in the connection's scheduler, where an
    /// urgent one overtakes bulk ones (RFC 9218), instead of queueing behind megabytes
    /// already handed to the kernel.
    pub fn tcp_notsent_lowat(mut self, bytes: Option<u32>) -> Self {
        self.notsent_lowat = bytes;
        self
    }

    /// Calls `logger` once per response (see [`AccessLog`]). Without one, each response is
    /// logged with `tracing` at debug level.
    pub fn on_access(mut self, logger: impl Fn(&AccessLog) + Send + Sync + 'static) -> Self {
        self.logger = Some(Arc::new(logger));
        self
    }

    /// Loads the certificate and binds the socket.
    pub async fn build(self) -> Result<Server, Error> {
        let (acceptor, certificate) = match &self.transport {
            Transport::H2c => (None, None),
            Transport::SelfSigned => {
                let ck = rcgen::generate_simple_self_signed(vec![
                    "localhost".to_owned(),
                    "127.0.0.1".to_owned(),
                    "::1".to_owned(),
                ])
                .map_err(Error::SelfSigned)?;
                let der = ck.cert.der().clone();
                let pem = ck.cert.pem();
                let key = PrivateKeyDer::try_from(ck.signing_key.serialize_der()).map_err(|e| {
                    Error::Pem {
                        path: PathBuf::from("<generated>"),
                        reason: e.to_owned(),
                    }
                })?;
                let acceptor = tls_acceptor(vec![der.clone()], key)?;
                (Some(acceptor), Some(Certificate { der, pem }))
            }
            Transport::Pem { cert, key } => {
                let pem_err = |path: &Path, e: &dyn fmt::Display| Error::Pem {
                    path: path.to_owned(),
                    reason: e.to_string(),
                };
                let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                    .map_err(|e| pem_err(cert, &e))?
                    .collect::<Result<_, _>>()
                    .map_err(|e| pem_err(cert, &e))?;
                let first = chain.first().cloned().ok_or_else(|| Error::Pem {
                    path: cert.clone(),
                    reason: "no CERTIFICATE in the file".to_owned(),
                })?;
                let pem = std::fs::read_to_string(cert).map_err(|e| pem_err(cert, &e))?;
                let private = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_err(key, &e))?;
                let acceptor = tls_acceptor(chain, private)?;
                (Some(acceptor), Some(Certificate { der: first, pem }))
            }
        };
        let listener = TcpListener::bind(self.addr)
            .await
            .map_err(|source| Error::Bind {
                addr: self.addr,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(Error::Io)?;
        let mut config = self.config;
        if let Some(enabled) = self.connect_protocol {
            config.settings.enable_connect_protocol = enabled;
        }
        // A server never advertises push (RFC 9113 §8.4): set here, each connection shares
        // this configuration instead of copying it to change that one value.
        config.settings.enable_push = false;
        Ok(Server {
            listener,
            local_addr,
            acceptor,
            certificate,
            config: Arc::new(config),
            shutdown_timeout: self.shutdown_timeout,
            h2c_upgrade: self.h2c_upgrade,
            logger: self.logger,
            notsent_lowat: self.notsent_lowat,
            handshake_timeout: self.handshake_timeout,
            send_budget: self.send_budget,
        })
    }
}

fn tls_acceptor(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<TlsAcceptor, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(Error::Tls)?;
    tls.alpn_protocols = vec![b"h2".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(tls)))
}

/// An HTTP/2 server bound to a socket, ready to [`serve`](Self::serve).
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    acceptor: Option<TlsAcceptor>,
    certificate: Option<Certificate>,
    /// Shared by the connections' tasks, which clone it into each core: a task does not
    /// keep a `Config` of its own for its whole life.
    config: Arc<Config>,
    shutdown_timeout: Duration,
    h2c_upgrade: bool,
    logger: Option<AccessLogger>,
    notsent_lowat: Option<u32>,
    handshake_timeout: Duration,
    send_budget: usize,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("tls", &self.acceptor.is_some())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A builder with the defaults: h2c on `127.0.0.1:0`.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether connections use TLS.
    pub fn is_tls(&self) -> bool {
        self.acceptor.is_some()
    }

    /// The certificate served over TLS (the generated one for a self-signed server).
    pub fn certificate(&self) -> Option<&Certificate> {
        self.certificate.as_ref()
    }

    /// The base URL, e.g. `http://127.0.0.1:8080/`.
    pub fn url(&self) -> String {
        let scheme = if self.is_tls() { "https" } else { "http" };
        format!("{scheme}://{}/", self.local_addr)
    }

    /// Serves `handler` until an accept error.
    pub async fn serve<H: Handler>(self, handler: H) -> Result<(), Error> {
        self.serve_with_shutdown(handler, std::future::pending())
            .await
    }

    /// Serves `handler` until `signal` completes, then shuts down gracefully: stops
    /// accepting, sends GOAWAY on every connection, lets in-flight streams finish and
    /// returns when all connections closed or the shutdown timeout passed (the remaining
    /// connections are then dropped).
    pub async fn serve_with_shutdown<H, F>(self, handler: H, signal: F) -> Result<(), Error>
    where
        H: Handler,
        F: Future<Output = ()>,
    {
        let handler: Arc<dyn Handler> = Arc::new(handler);
        let logger = self.logger.clone();
        let (shutdown_tx, shutdown_rx) = crate::shutdown::channel();
        let mut conns = JoinSet::new();
        tokio::pin!(signal);
        let result = loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((sock, peer)) => {
                        let _ = sock.set_nodelay(true);
                        if let Some(bytes) = self.notsent_lowat {
                            set_notsent_lowat(&sock, bytes);
                        }
                        let params = ConnParams {
                            handler: handler.clone(),
                            logger: logger.clone(),
                            remote_addr: Some(peer),
                            tls: self.acceptor.is_some(),
                            shutdown: shutdown_rx.clone(),
                            max_send_buffer: self.config.limits.max_send_buffer_per_stream,
                            send_budget: self.send_budget,
                            write_stall_timeout: self.config.limits.send_stall_timeout,
                            handshake_timeout: self.handshake_timeout,
                        };
                        let tls = self.acceptor.is_some();
                        // One span per connection: RUST_LOG=h2kit_server=debug shows which
                        // peer each event is about.
                        let span = tracing::debug_span!("connection", %peer, tls);
                        conns.spawn(tracing::Instrument::instrument(
                            serve_connection(
                                sock,
                                self.acceptor.clone(),
                                self.config.clone(),
                                self.h2c_upgrade,
                                params,
                            ),
                            span,
                        ));
                    }
                    Err(e) if is_transient(&e) => {
                        tracing::warn!(error = %e, "accept failed; retrying");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => break Err(Error::Io(e)),
                },
                () = &mut signal => break Ok(()),
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        };
        drop(self.listener);
        shutdown_tx.fire();
        let drained = tokio::time::timeout(self.shutdown_timeout, async {
            while conns.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::debug!(left = conns.len(), "shutdown timeout: closing connections");
            conns.abort_all();
            while conns.join_next().await.is_some() {}
        }
        result
    }
}

/// `TCP_NOTSENT_LOWAT` on an accepted socket (see [`Builder::tcp_notsent_lowat`]); a
/// failure only loses the optimisation.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn set_notsent_lowat(sock: &TcpStream, bytes: u32) {
    if let Err(e) = socket2::SockRef::from(sock).set_tcp_notsent_lowat(bytes) {
        tracing::debug!(error = %e, "TCP_NOTSENT_LOWAT not set");
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn set_notsent_lowat(_sock: &TcpStream, _bytes: u32) {}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionAborted | K::ConnectionReset | K::Interrupted | K::WouldBlock
    ) || e
        .raw_os_error()
        .is_some_and(|code| code == 23 || code == 24) // ENFILE, EMFILE
}

/// Serves one accepted connection. Returns a boxed future of the branch's own size: a TLS
/// connection's handshake state is not reserved in every h2c connection's task.
fn serve_connection(
    sock: TcpStream,
    acceptor: Option<TlsAcceptor>,
    config: Arc<Config>,
    h2c_upgrade: bool,
    params: ConnParams,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    match acceptor {
        Some(acceptor) => Box::pin(serve_tls(sock, acceptor, config, params)),
        None => Box::pin(serve_h2c(sock, config, h2c_upgrade, params)),
    }
}

async fn serve_tls(
    sock: TcpStream,
    acceptor: TlsAcceptor,
    config: Arc<Config>,
    params: ConnParams,
) {
    let handshake = params.handshake_timeout;
    // Boxed: the handshake's state is freed once it is done, not kept in the task.
    let accept = Box::pin(acceptor.accept(sock));
    let tls = match tokio::time::timeout(handshake, accept).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    if tls.get_ref().1.alpn_protocol().is_some_and(|p| p != b"h2") {
        return;
    }
    // Boxed: the connection's future is allocated at its own size, not at the size of the
    // handshake's.
    Box::pin(conn::run(
        tls,
        Connection::server(config),
        Bytes::new(),
        params,
    ))
    .await;
}

async fn serve_h2c(
    mut sock: TcpStream,
    config: Arc<Config>,
    h2c_upgrade: bool,
    params: ConnParams,
) {
    // Boxed: the preface reading's state (an HTTP/1.1 header array, the core it returns) is
    // freed once the connection starts, instead of staying reserved in this future.
    let start = Box::pin(h2c_start(&mut sock, config, h2c_upgrade));
    let handshake = params.handshake_timeout;
    let Ok(Some((core, initial))) = tokio::time::timeout(handshake, start).await else {
        return;
    };
    // Built before the await: the core is then stored once, inside the boxed future.
    let run = Box::pin(conn::run(sock, core, initial, params));
    run.await;
}

/// Reads the start of an h2c connection: the client preface (prior knowledge) or an
/// HTTP/1.1 request with `Upgrade: h2c`, which is answered with 101 and becomes stream 1.
/// HTTP/1.1 is answered only to bytes that parse as an HTTP/1.1 request; anything else goes
/// to the core as a bad preface (GOAWAY PROTOCOL_ERROR).
async fn h2c_start(
    sock: &mut TcpStream,
    config: Arc<Config>,
    upgrade: bool,
) -> Option<(Connection, Bytes)> {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        let n = buf.len().min(PREFACE.len());
        if buf[..n] != PREFACE[..n] {
            break;
        }
        if n == PREFACE.len() {
            return Some((Connection::server(config), buf.freeze()));
        }
        if sock.read_buf(&mut buf).await.ok()? == 0 {
            return None;
        }
    }
    // HTTP/1.1.
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let outcome = upgrade_request(&req, &config, upgrade);
                let rest = buf.split_off(len).freeze();
                return match outcome {
                    Ok(core) => {
                        sock.write_all(
                            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
                        )
                        .await
                        .ok()?;
                        Some((core, rest))
                    }
                    Err(status) => {
                        let body = "This server speaks HTTP/2 only: h2c with prior knowledge or \
                                    an Upgrade: h2c request without a body.\n";
                        let response = format!(
                            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = sock.write_all(response.as_bytes()).await;
                        let _ = sock.shutdown().await;
                        None
                    }
                };
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HTTP1_HEAD => {
                if sock.read_buf(&mut buf).await.ok()? == 0 {
                    return None;
                }
            }
            Ok(httparse::Status::Partial) => {
                // An HTTP/1.1 head so far, but too long to be an upgrade we would take.
                let _ = sock
                    .write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                    .await;
                return None;
            }
            Err(_) => {
                // Neither the HTTP/2 preface nor an HTTP/1.1 request: an invalid connection
                // preface, a connection error of type PROTOCOL_ERROR (RFC 9113 §3.4). The
                // core answers the bytes with SETTINGS and GOAWAY, then closes.
                return Some((Connection::server(config), buf.freeze()));
            }
        }
    }
}

/// Checks an HTTP/1.1 request for `Upgrade: h2c` and builds the upgraded connection, or
/// says which status to refuse it with.
fn upgrade_request(
    req: &httparse::Request<'_, '_>,
    config: &Arc<Config>,
    enabled: bool,
) -> Result<Connection, &'static str> {
    const REFUSE: &str = "505 HTTP Version Not Supported";
    if !enabled {
        return Err(REFUSE);
    }
    let (Some(method), Some(path)) = (req.method, req.path) else {
        return Err("400 Bad Request");
    };
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    let has_token = |name: &str, token: &str| {
        req.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .flat_map(|h| h.value.split(|&b| b == b','))
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    };
    let settings = header("http2-settings").ok_or(REFUSE)?;
    if !has_token("upgrade", "h2c") || !has_token("connection", "http2-settings") {
        return Err(REFUSE);
    }
    let has_body = header("transfer-encoding").is_some()
        || header("content-length").is_some_and(|v| v.trim_ascii() != b"0");
    if has_body {
        return Err(REFUSE);
    }
    let mut fields = vec![
        Field::new(":method", Bytes::copy_from_slice(method.as_bytes())),
        Field::new(":scheme", Bytes::from_static(b"http")),
        Field::new(":path", Bytes::copy_from_slice(path.as_bytes())),
    ];
    if let Some(host) = header("host") {
        fields.push(Field::new(":authority", Bytes::copy_from_slice(host)));
    }
    for h in req.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        // HTTP/2 forbids the connection-specific fields; the others served the upgrade or
        // became pseudo-headers.
        if is_connection_specific(name.as_bytes())
            || matches!(
                name.as_str(),
                "host" | "http2-settings" | "te" | "content-length"
            )
        {
            continue;
        }
        fields.push(Field::new(name, Bytes::copy_from_slice(h.value)));
    }
    Connection::server_h2c(config.clone(), settings, fields).map_err(|_| "400 Bad Request")
}

#[cfg(test)]
mod future_sizes {
    use std::sync::Arc;

    use bytes::Bytes;
    use h2kit::{Config, Connection};
    use tokio::net::{TcpListener, TcpStream};

    use crate::Body;
    use crate::conn::{self, ConnParams};

    fn params() -> ConnParams {
        let shutdown = crate::shutdown::Signal::never();
        ConnParams {
            handler: Arc::new(|_r: http::Request<Body>| async {
                http::Response::new(Body::empty())
            }),
            logger: None,
            remote_addr: None,
            tls: false,
            shutdown,
            max_send_buffer: 1 << 20,
            send_budget: super::DEFAULT_CONNECTION_SEND_BUDGET,
            write_stall_timeout: None,
            handshake_timeout: super::DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// An idle h2c connection is mostly its task's future: the handshake's state and a TLS
    /// connection's are not reserved in it, and the core is stored once (it was 15.8 KiB for
    /// the two when every branch and the core's copies were inline, 5.4 KiB before the
    /// config was shared and the head cache boxed).
    #[tokio::test]
    async fn an_h2c_connection_task_stays_small() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        let (a, _) = listener.accept().await.unwrap();
        let _client2 = TcpStream::connect(addr).await.unwrap();
        let (b, _) = listener.accept().await.unwrap();
        let outer = super::serve_h2c(a, Arc::new(Config::default()), false, params());
        let inner = conn::run(
            b,
            Connection::server(Config::default()),
            Bytes::new(),
            params(),
        );
        let (outer, inner) = (size_of_val(&outer), size_of_val(&inner));
        eprintln!("h2c connection task: {outer} bytes, then the connection's {inner} bytes");
        // 472 and 2,984 bytes in a release build: neither the task nor the core keeps a
        // `Config` (they share the server's), nor the driver the head cache and command
        // channel it releases when idle.
        assert!(outer <= 1024, "serve_h2c future: {outer} bytes");
        assert!(
            inner <= 3 * size_of::<Connection>(),
            "conn::run future: {inner} bytes"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use h2kit::{Event, StreamId};
    use http::{Request, Response};

    use super::*;
    use crate::Body;

    /// A bare h2c client on the core, over a socket.
    struct RawClient {
        sock: TcpStream,
        conn: Connection,
        /// Per stream: the body so far, and whether it ended.
        got: Vec<(StreamId, Vec<u8>, bool)>,
        goaway: bool,
    }

    impl RawClient {
        async fn connect(addr: std::net::SocketAddr) -> RawClient {
            RawClient {
                sock: TcpStream::connect(addr).await.unwrap(),
                conn: Connection::client(Config::default()),
                got: Vec::new(),
                goaway: false,
            }
        }

        async fn get(&mut self, path: &str) -> StreamId {
            let fields = vec![
                Field::new(":method", "GET"),
                Field::new(":scheme", "http"),
                Field::new(":authority", "localhost"),
                Field::new(":path", path.to_owned()),
            ];
            let id = self.conn.send_request(fields, true).unwrap();
            self.got.push((id, Vec::new(), false));
            self.flush().await;
            id
        }

        async fn flush(&mut self) {
            let mut wire = BytesMut::new();
            while self.conn.poll_transmit(Instant::now(), &mut wire, None) > 0 {}
            if !wire.is_empty() {
                self.sock.write_all(&wire).await.unwrap();
            }
        }

        /// Reads until `done` holds (or the connection ends, which fails the test).
        async fn until(&mut self, done: impl Fn(&RawClient) -> bool) {
            let mut buf = vec![0u8; 16 * 1024];
            while !done(self) {
                let n = tokio::time::timeout(Duration::from_secs(10), self.sock.read(&mut buf))
                    .await
                    .expect("the server went quiet")
                    .unwrap();
                assert!(n > 0, "the server closed the connection first");
                let _ = self.conn.recv(Instant::now(), &buf[..n]);
                while let Some(event) = self.conn.poll_event() {
                    match event {
                        Event::Data {
                            stream,
                            data,
                            end_stream,
                            ..
                        } => {
                            if let Some(e) = self.got.iter_mut().find(|e| e.0 == stream) {
                                e.1.extend_from_slice(&data);
                                e.2 |= end_stream;
                            }
                        }
                        Event::Response {
                            stream,
                            end_stream: true,
                            ..
                        } => {
                            if let Some(e) = self.got.iter_mut().find(|e| e.0 == stream) {
                                e.2 = true;
                            }
                        }
                        Event::GoAway { .. } => self.goaway = true,
                        _ => {}
                    }
                }
                // Acknowledge what needs it (SETTINGS, the shutdown's PING).
                self.flush().await;
            }
        }

        fn body(&self, id: StreamId) -> Option<&[u8]> {
            self.got.iter().find(|e| e.0 == id && e.2).map(|e| &e.1[..])
        }
    }

    /// A graceful shutdown reaches every open connection, idle or not: each is told GOAWAY,
    /// a response still being made is delivered, and `serve_with_shutdown` returns once the
    /// connections have closed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_graceful_shutdown_tells_every_connection_and_finishes_its_streams() {
        let server = Server::builder().build().await.unwrap();
        let addr = server.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let entered = Arc::new(tokio::sync::Notify::new());
        let (g, e) = (gate.clone(), entered.clone());
        let running = tokio::spawn(server.serve_with_shutdown(
            move |req: Request<Body>| {
                let (g, e) = (g.clone(), e.clone());
                async move {
                    if req.uri().path() == "/slow" {
                        e.notify_one();
                        let _permit = g.acquire().await;
                    }
                    Response::new(Body::full(req.uri().path().to_owned()))
                }
            },
            async move {
                let _ = stopped.await;
            },
        ));
        let mut clients = Vec::new();
        for _ in 0..3 {
            let mut c = RawClient::connect(addr).await;
            let id = c.get("/fast").await;
            c.until(|c| c.body(id).is_some()).await;
            assert_eq!(c.body(id), Some(&b"/fast"[..]));
            clients.push(c);
        }
        let slow = clients[0].get("/slow").await;
        entered.notified().await;
        stop.send(()).unwrap();
        for c in &mut clients {
            c.until(|c| c.goaway).await;
        }
        gate.add_permits(1);
        clients[0].until(|c| c.body(slow).is_some()).await;
        assert_eq!(clients[0].body(slow), Some(&b"/slow"[..]));
        drop(clients);
        let served = tokio::time::timeout(Duration::from_secs(10), running)
            .await
            .expect("serve_with_shutdown did not return");
        assert!(matches!(served, Ok(Ok(()))), "{served:?}");
    }

    /// The accept path's `TCP_NOTSENT_LOWAT` reaches the socket (read back from the kernel).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[tokio::test]
    async fn notsent_lowat_is_set_on_accepted_sockets() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (_client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let (sock, _) = accepted.unwrap();
        let before = socket2::SockRef::from(&sock).tcp_notsent_lowat().unwrap();
        set_notsent_lowat(&sock, 96 * 1024);
        let after = socket2::SockRef::from(&sock).tcp_notsent_lowat().unwrap();
        assert_eq!(after, 96 * 1024, "was {before}");
        assert_eq!(
            Builder::default().notsent_lowat,
            Some(DEFAULT_NOTSENT_LOWAT)
        );
    }
}
