//! The server's error types that cross module lines: a body's, a push's.

use std::fmt;

use h2kit::StreamError;

/// A boxed error from a body source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a body could not be read to its end.
#[non_exhaustive]
#[derive(Debug)]
pub enum BodyError {
    /// The stream was reset: by the peer ([`StreamError::Reset`] with
    /// [`Initiator::Remote`](h2kit::Initiator::Remote)), by the server itself, or by the
    /// library because the client broke a stream rule, which the error names
    /// ([`StreamError::Violation`], e.g. a body longer or shorter than its `content-length`).
    /// [`StreamError::code`] is the RST_STREAM code.
    Reset(StreamError),
    /// The connection ended before the body did.
    ConnectionClosed,
    /// The sending side of a [`Body::channel`](crate::Body::channel) was dropped or aborted before the end.
    Aborted,
    /// Reading the body's source failed.
    Io(std::io::Error),
    /// A body stream failed.
    Source(BoxError),
    /// [`Body::collect`](crate::Body::collect) met more than its limit.
    TooLarge {
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Reset(e @ (StreamError::Violation(_) | StreamError::Limit(_))) => {
                write!(f, "{e}; the stream was reset with {}", e.code())
            }
            BodyError::Reset(e) => write!(f, "{e}"),
            BodyError::ConnectionClosed => f.write_str("connection closed before the body ended"),
            BodyError::Aborted => f.write_str("body sender aborted"),
            BodyError::Io(e) => write!(f, "body source: {e}"),
            BodyError::Source(e) => write!(f, "body stream: {e}"),
            BodyError::TooLarge { limit } => write!(f, "body larger than {limit} bytes"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BodyError::Io(e) => Some(e),
            BodyError::Source(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

/// Why a push failed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushError {
    /// The client disabled push (SETTINGS_ENABLE_PUSH = 0) or is going away.
    Disabled,
    /// The promised request is not pushable (it must be a safe, cacheable request with no
    /// body, RFC 9113 §8.4) or the core refused it.
    Refused(h2kit::UsageError),
    /// The request URI lacks a path.
    InvalidRequest,
    /// The connection is closed.
    ConnectionClosed,
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Disabled => f.write_str("the client disabled server push"),
            PushError::Refused(e) => write!(f, "push refused: {e}"),
            PushError::InvalidRequest => f.write_str("promised request has no path"),
            PushError::ConnectionClosed => f.write_str("connection closed"),
        }
    }
}

impl std::error::Error for PushError {}
