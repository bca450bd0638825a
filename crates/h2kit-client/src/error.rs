//! The client's error type: what happened, who did it, and whether a retry may succeed.

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::decode::DecodeError;
use bytes::Bytes;
use h2kit::{ConnectionError, ErrorCode, Initiator, StreamError, StreamId, UsageError};

/// Everything that can go wrong with a connection or a request.
///
/// Errors are `Clone` (a connection failure is reported to every request in flight), so
/// underlying I/O errors are shared behind an [`Arc`].
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum Error {
    /// The URL or request target cannot be used (no host, unknown scheme, bad header).
    InvalidUrl(String),
    /// The request cannot be sent as given (e.g. a header HTTP/2 forbids).
    InvalidRequest(String),
    /// A configuration input could not be used (e.g. a CA file that is not PEM or DER).
    Config(String),
    /// The TCP connection could not be made (refused, unreachable, DNS failure).
    Connect {
        /// The address tried (`host:port`).
        addr: String,
        /// The operating system's error.
        source: Arc<io::Error>,
    },
    /// The TLS handshake failed (certificate not trusted, name mismatch, alert…).
    Tls(Arc<io::Error>),
    /// The TLS server did not choose `h2` by ALPN (it may only speak HTTP/1.1).
    Alpn {
        /// The protocol the server chose, if any.
        negotiated: Option<Vec<u8>>,
    },
    /// The stream was reset: by the peer (RST_STREAM, [`StreamError::Reset`] with
    /// [`Initiator::Remote`]), by us ([`Initiator::Local`]: cancelled), or by the library
    /// because the server broke a stream rule, which the error names
    /// ([`StreamError::Violation`], e.g. a body shorter than its `content-length`, or
    /// [`StreamError::Limit`]). `REFUSED_STREAM` from the peer means the request was not
    /// processed and is [retryable](Error::is_retryable).
    Reset(StreamError),
    /// An HTTP/1.1 server sent a response that breaks RFC 9112 or a limit (a bad status
    /// line, conflicting lengths, an oversized head, a bad chunk), or closed the connection
    /// before the response ended.
    Http1(crate::h1::H1Error),
    /// The operation needs HTTP/2, and this connection speaks HTTP/1.1 (e.g. PING).
    Unsupported(&'static str),
    /// The proxy refused the CONNECT tunnel with this status (407: credentials needed or
    /// wrong; 403: not allowed).
    Proxy {
        /// The proxy's answer.
        status: http::StatusCode,
    },
    /// An extended CONNECT (RFC 8441) to a server that did not announce
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 in its SETTINGS: it was not sent.
    ExtendedConnectDisabled,
    /// The server answered an extended CONNECT with a status other than 2xx: no tunnel.
    ConnectRefused {
        /// The server's answer.
        status: http::StatusCode,
    },
    /// The peer sent GOAWAY. `retryable` is true when the request was above
    /// `last_stream_id` (or never sent), so the peer did not process it.
    GoAway {
        /// The GOAWAY code.
        code: ErrorCode,
        /// The last stream the peer may have processed.
        last_stream_id: StreamId,
        /// The peer's debug data.
        debug_data: Bytes,
        /// Whether the request was not processed and may be sent again on a new connection.
        retryable: bool,
    },
    /// The connection ended because of a protocol error, a limit, or a timer of the core;
    /// the text names the RFC section for protocol violations.
    Connection(ConnectionError),
    /// The request, connect or ping took longer than its configured timeout.
    Timeout,
    /// Reading from or writing to the transport failed.
    Io(Arc<io::Error>),
    /// The connection closed before the response was complete.
    ConnectionClosed,
    /// The core refused a command (a bug in the caller's use, or a closed stream).
    Usage(UsageError),
    /// The response is not a valid HTTP message.
    InvalidResponse(String),
    /// The request body's source failed.
    Body(Arc<dyn std::error::Error + Send + Sync>),
    /// Decoding the response's content-encoding failed, or the decoded body passed
    /// [`ClientBuilder::max_decoded_body_size`](crate::ClientBuilder::max_decoded_body_size).
    Decode(DecodeError),
}

impl Error {
    /// Whether sending the same request again (on a new connection for GOAWAY) may succeed
    /// because the server did not process it: `REFUSED_STREAM` from the peer, or GOAWAY with
    /// the request above `last_stream_id`.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Reset(e) => {
                e.code() == ErrorCode::REFUSED_STREAM && e.initiator() == Initiator::Remote
            }
            Error::GoAway { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// Whether the error happened while establishing the connection (TCP, TLS, ALPN).
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            Error::Connect { .. } | Error::Tls(_) | Error::Alpn { .. } | Error::Proxy { .. }
        )
    }

    /// Whether the TLS handshake failed because the server certificate was not accepted.
    pub fn is_certificate_error(&self) -> bool {
        match self {
            Error::Tls(e) => e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .is_some_and(|r| {
                    matches!(
                        r,
                        rustls::Error::InvalidCertificate(_)
                            | rustls::Error::NoCertificatesPresented
                    )
                }),
            _ => false,
        }
    }

    /// The stream or connection error code, when the error carries one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Reset(e) => Some(e.code()),
            Error::GoAway { code, .. } => Some(*code),
            Error::Connection(e) => Some(e.code()),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidUrl(m) => write!(f, "invalid URL: {m}"),
            Error::InvalidRequest(m) => write!(f, "invalid request: {m}"),
            Error::Config(m) => write!(f, "configuration: {m}"),
            Error::Connect { addr, source } => write!(f, "cannot connect to {addr}: {source}"),
            Error::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            Error::Alpn { negotiated: None } => {
                f.write_str("the server did not negotiate HTTP/2 (no ALPN protocol chosen)")
            }
            Error::Alpn {
                negotiated: Some(p),
            } => write!(
                f,
                "the server chose {:?} instead of h2 by ALPN",
                String::from_utf8_lossy(p)
            ),
            Error::Reset(e) => {
                match e {
                    StreamError::Violation(v) => write!(
                        f,
                        "stream reset with {}: the server broke a rule: {v}",
                        e.code()
                    )?,
                    StreamError::Limit(l) => write!(
                        f,
                        "stream reset with {}: the server exceeded a limit: {l}",
                        e.code()
                    )?,
                    _ => {
                        let who = match e.initiator() {
                            Initiator::Remote => "the server",
                            Initiator::Local => "us",
                            Initiator::Library => "the client",
                        };
                        write!(f, "stream reset by {who} with {}", e.code())?;
                    }
                }
                if self.is_retryable() {
                    f.write_str(" (not processed; retryable)")?;
                }
                Ok(())
            }
            Error::GoAway {
                code,
                last_stream_id,
                retryable,
                ..
            } => write!(
                f,
                "the server sent GOAWAY {code} (last stream {last_stream_id}){}",
                if *retryable {
                    "; this request was not processed (retryable)"
                } else {
                    ""
                }
            ),
            Error::Connection(e) => write!(f, "{e}"),
            Error::Timeout => f.write_str("timed out"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::ConnectionClosed => {
                f.write_str("the connection closed before the response ended")
            }
            Error::Usage(e) => write!(f, "{e}"),
            Error::InvalidResponse(m) => write!(f, "invalid response: {m}"),
            Error::Body(e) => write!(f, "request body failed: {e}"),
            Error::Decode(e) => write!(f, "content decoding failed: {e}"),
            Error::Http1(e) => write!(f, "HTTP/1.1: {e}"),
            Error::Unsupported(what) => write!(f, "not possible over HTTP/1.1: {what}"),
            Error::Proxy { status } => write!(f, "the proxy refused the tunnel: {status}"),
            Error::ExtendedConnectDisabled => f.write_str(
                "the server did not enable extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL)",
            ),
            Error::ConnectRefused { status } => {
                write!(f, "the server refused the extended CONNECT: {status}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connect { source, .. } => Some(source.as_ref()),
            Error::Tls(e) | Error::Io(e) => Some(e.as_ref()),
            Error::Decode(e) => Some(e),
            Error::Http1(e) => Some(e),
            Error::Connection(e) => Some(e),
            Error::Usage(e) => Some(e),
            Error::Body(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        io::Error::other(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_streams_and_unprocessed_goaways_are_retryable() {
        let refused = Error::Reset(StreamError::Reset {
            code: ErrorCode::REFUSED_STREAM,
            initiator: Initiator::Remote,
        });
        assert!(refused.is_retryable());
        assert!(refused.to_string().contains("retryable"));
        let cancel = Error::Reset(StreamError::Reset {
            code: ErrorCode::CANCEL,
            initiator: Initiator::Remote,
        });
        assert!(!cancel.is_retryable());
        let away = Error::GoAway {
            code: ErrorCode::NO_ERROR,
            last_stream_id: StreamId::new(1),
            debug_data: Bytes::new(),
            retryable: true,
        };
        assert!(away.is_retryable());
        assert_eq!(away.code(), Some(ErrorCode::NO_ERROR));
    }
}
