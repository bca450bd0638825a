//! An async HTTP/2 client (tokio) on the sans-IO [`h2kit`] core.
//!
//! One [`Client`] is one connection: `https://` with rustls and ALPN `h2` (certificates
//! checked against the webpki roots, plus any CA file you add), or `http://` with h2c prior
//! knowledge. The handle is `Clone + Send + Sync`; requests from many tasks are multiplexed
//! on the connection, queued when the server's concurrency limit is reached. A TLS server
//! that offers only `http/1.1` is spoken to over HTTP/1.1 instead (and any server, with
//! [`HttpVersions::Http1Only`]), through a small pool of keep-alive connections, with the
//! same request, response and body types. [`blocking`] has the same client without async.
//!
//! ```text
//!  tasks ── Client::send ─┐                ┌─▶ ResponseFuture (headers) ─▶ Body (DATA, trailers)
//!  Body::chunk (release) ─┼─▶ command ──▶ connection task: h2kit::Connection ◀──▶ socket
//!  upload tasks (ack'd) ──┘   channel      (gathered writes, reused read buffer, timers)
//! ```
//!
//! # Main types
//!
//! * [`Client`] / [`ClientBuilder`]: connect, TLS options, window managers
//!   ([`h2kit::flow::WindowStrategy`]), push, timeouts, content decoding, frame tracing.
//! * [`Body`]: request bodies from bytes, a `Stream` of `Bytes` or an `AsyncRead`, sent only
//!   as fast as the send windows allow; response bodies whose chunks give their flow-control
//!   capacity back as you read them, so a slow reader slows the server, and trailers.
//! * [`ResponseFuture`] (with [`ResponseFuture::pushes`]), [`PushedResponse`].
//! * [`Error`]: connect / TLS / ALPN, resets with their code ([`Error::is_retryable`] for
//!   REFUSED_STREAM and unprocessed GOAWAY), protocol errors naming the RFC section, timeouts.
//! * [`trace::FrameTrace`]: every frame in and out, with decoded header fields.
//! * [`Tunnel`]: an extended CONNECT (RFC 8441, e.g. WebSockets over HTTP/2) from
//!   [`Client::connect_protocol`], a two-way byte stream (`AsyncRead + AsyncWrite`).
//!
//! # Choices
//!
//! * **Push is refused by default** (SETTINGS_ENABLE_PUSH 0), as python hyper does: enable it
//!   with [`ClientBuilder::enable_push`] and read promises from [`ResponseFuture::pushes`].
//! * **Priority**: put an [`ExtensiblePriority`] in the request's extensions; it is sent as
//!   the RFC 9218 `priority` header, which h2kit servers (and nghttpd) schedule by.
//! * **Decoding** of `gzip`, `deflate` and `br` is opt-in ([`ClientBuilder::decompress`]).
//!
//! # Example
//!
//! A request over an in-memory pipe to a small server built on the `h2` crate (with a real
//! server, `Client::connect("https://example.com").await?` replaces the first lines):
//!
//! ```
//! use h2kit_client::{Body, Client, ExtensiblePriority, Urgency};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (ours, theirs) = tokio::io::duplex(64 * 1024);
//! tokio::spawn(async move {
//!     let mut conn = h2::server::handshake(theirs).await?;
//!     while let Some(request) = conn.accept().await {
//!         let (request, mut respond) = request?;
//!         let reply = http::Response::new(());
//!         let mut send = respond.send_response(reply, false)?;
//!         send.send_data(format!("hello {}", request.uri().path()).into(), true)?;
//!     }
//!     Ok::<_, h2::Error>(())
//! });
//!
//! let client = Client::builder().handshake(ours, "http".parse()?, "example.com".parse()?)?;
//! let mut request = http::Request::get("/world").body(Body::empty())?;
//! request.extensions_mut().insert(ExtensiblePriority {
//!     urgency: Urgency::HIGHEST,
//!     incremental: false,
//! });
//! let response = client.send(request).await?;
//! assert_eq!(response.status(), 200);
//! let body = response.into_body().collect().await?;
//! assert_eq!(&body[..], b"hello /world");
//! assert!(client.ping().await?.as_secs() < 5);
//! # Ok(())
//! # }
//! ```

pub mod blocking;
mod body;
mod client;
mod decode;
mod driver;
mod error;
mod h1;
mod h1conn;
mod memo;
mod msg;
mod proxy;
mod tls;
pub mod trace;
mod tunnel;

pub use body::Body;
pub use client::{
    AltSvc, Client, ClientBuilder, Decompress, HttpVersions, PushStream, PushedResponse,
    ResponseFuture,
};
pub use decode::{ContentCoding, DecodeError};
pub use error::Error;
pub use h1::H1Error;
pub use h2kit::flow::{PolicyFactory, WindowPolicy, WindowStats, WindowStatus, WindowStrategy};
pub use h2kit::http::Protocol;
pub use h2kit::{
    Config, ErrorCode, ExtensiblePriority, Initiator, LimitExceeded, ProtocolViolation,
    StreamError, StreamId, Urgency,
};
pub use proxy::{Proxies, Proxy};
pub use tunnel::Tunnel;

/// Fuzz logic, shared by `fuzz/fuzz_targets/h1_response.rs` and the proptests in `tests/`.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::h1::fuzz_response as h1_response;
}
