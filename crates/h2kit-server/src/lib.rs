//! h2kit-server: a tokio HTTP/2 server on the h2kit sans-IO core.
//!
//! ```text
//!  TcpListener ─accept─▶ connection task (one per connection)
//!                         │  socket bytes ─▶ Connection::recv ─▶ events
//!                         │  Request event ─▶ spawn request task ─▶ Handler::call
//!                         │  request DATA ─▶ channel ─▶ Body (window given back as it is read)
//!                         │  ◀── commands (response, data within credit, trailers, push)
//!                         └─ poll_transmit into one 32 KiB buffer ─▶ one write
//! ```
//!
//! # Main types
//!
//! * [`Server`] and its [`Builder`]: bind address, TLS (PEM files or a self-signed
//!   certificate, ALPN `h2`) or h2c (prior knowledge and `Upgrade: h2c`), the core
//!   [`Config`](h2kit::Config), graceful shutdown on a signal.
//! * [`Handler`]: any `Fn(Request<Body>) -> impl Future<Output = Response<Body>>`.
//! * [`Body`]: streaming bodies with trailers both ways; backpressure is the HTTP/2
//!   flow-control window. [`BodySender`] feeds a response body from another task.
//! * The request extension [`StreamInfo`]: stream id, priority, peer address, and its
//!   [`Pusher`] for server push.
//! * [`StaticFiles`]: the file handler behind `h2kit serve`, with a bounded cache of open
//!   files, metadata and small files' bytes.
//! * [`AccessLogWriter`]: a buffered access log written by a thread of its own, for
//!   [`Builder::on_access`].
//! * Extended CONNECT (RFC 8441, e.g. WebSockets over HTTP/2), off by default:
//!   [`Builder::enable_connect_protocol`]; the request's [`Protocol`] extension names the
//!   protocol, and a 2xx answer with a streaming body makes the stream a two-way tunnel.
//!
//! # Features
//!
//! * `tower` (off by default): the module `tower` with `ServiceHandler`, which serves a
//!   `tower::Service<http::Request<Body>>` whose response body is any `http_body::Body`, so
//!   an axum `Router` serves over h2kit:
//!   `server.serve(h2kit_server::tower::ServiceHandler::new(router))` (see
//!   `examples/axum.rs`). Request and response [`Body`] implement [`http_body::Body`] with or
//!   without the feature, and [`Body::from_http_body`] takes any `http_body::Body`.
//!
//! # Example
//!
//! An h2c server on a free loopback port answering one request from a raw HTTP/2 client
//! built on the core, then shutting down:
//!
//! ```
//! use h2kit_server::{Body, Server};
//! use http::{Request, Response};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::builder().h2c().build().await?;
//! let addr = server.local_addr();
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let running = tokio::spawn(server.serve_with_shutdown(
//!     |req: Request<Body>| async move {
//!         Response::new(Body::from(format!("hello {}", req.uri().path())))
//!     },
//!     async move { let _ = stopped.await; },
//! ));
//!
//! // A minimal client: the h2kit core over a TcpStream.
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! let mut sock = tokio::net::TcpStream::connect(addr).await?;
//! let mut client = h2kit::Connection::client(h2kit::Config::default());
//! let req = Request::get(format!("http://{addr}/world")).body(())?;
//! client.send_http_request(&req, true)?;
//! let mut body = Vec::new();
//! let mut buf = bytes::BytesMut::new();
//! let mut rbuf = vec![0; 16384];
//! 'io: loop {
//!     let now = std::time::Instant::now();
//!     while client.poll_transmit(now, &mut buf, None) > 0 {}
//!     sock.write_all(&buf).await?;
//!     buf.clear();
//!     let n = sock.read(&mut rbuf).await?;
//!     client.recv(std::time::Instant::now(), &rbuf[..n])?;
//!     while let Some(event) = client.poll_event() {
//!         if let h2kit::Event::Data { data, end_stream, .. } = event {
//!             body.extend_from_slice(&data);
//!             if end_stream { break 'io; }
//!         }
//!     }
//! }
//! assert_eq!(body, b"hello /world");
//! drop(sock);
//! let _ = stop.send(());
//! running.await??;
//! # Ok(())
//! # }
//! ```

mod body;
mod conn;
mod date;
mod error;
mod files;
mod handler;
mod log;
mod msg;
mod response;
mod server;
mod shutdown;
#[cfg(feature = "tower")]
pub mod tower;

pub use body::{Body, BodyClosed, BodySender, Collected, Frame};
pub use error::{BodyError, BoxError, PushError};
pub use files::StaticFiles;
pub use h2kit::http::Protocol;
pub use h2kit::{ErrorCode, Initiator, LimitExceeded, ProtocolViolation, StreamError};
pub use handler::{BoxFuture, FieldsAnswer, FieldsRequest, Handler, Pusher, StreamInfo};
pub use log::{AccessLog, AccessLogWriter, AccessLogger};
pub use server::{
    Builder, Certificate, DEFAULT_CONNECTION_SEND_BUDGET, DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_NOTSENT_LOWAT, Error, RUNTIME_EVENT_INTERVAL, Server,
};
