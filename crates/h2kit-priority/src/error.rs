//! The one error type shared by every scheduler.

use core::fmt;

/// What went wrong in a scheduler call.
///
/// Every variant is a caller (or peer) mistake that leaves the scheduler unchanged; none of
/// them means the scheduler is corrupt. The connection core maps them to the wire: a
/// [`SelfDependency`](Self::SelfDependency) that came from a peer is a stream error of type
/// `PROTOCOL_ERROR` (RFC 9113 §5.3.1, RFC 7540 §5.3.1); the others are local usage errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PriorityError {
    /// The stream is already in the scheduler (python `DuplicateStreamError`).
    Duplicate(u32),
    /// The stream is not in the scheduler (python `MissingStreamError`).
    Missing(u32),
    /// Inserting would exceed the configured limit of real streams (python
    /// `TooManyStreamsError`); the pseudo-stream 0 never counts.
    TooMany {
        /// The configured maximum number of streams.
        limit: usize,
    },
    /// A weight outside `1..=256` (RFC 7540 §5.3.2).
    BadWeight(u16),
    /// Stream 0 was given where a real stream is needed (it can only be a parent).
    PseudoStream,
    /// A stream was made to depend on itself (RFC 7540 §5.3.1: a stream error of type
    /// `PROTOCOL_ERROR`).
    SelfDependency(u32),
    /// Every stream is blocked, so there is nothing to send (python `DeadlockError`).
    Deadlock,
}

impl fmt::Display for PriorityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Duplicate(id) => write!(f, "stream {id} is already scheduled"),
            Self::Missing(id) => write!(f, "stream {id} is not scheduled"),
            Self::TooMany { limit } => write!(f, "more than {limit} streams in the scheduler"),
            Self::BadWeight(w) => write!(f, "weight {w} is outside 1..=256"),
            Self::PseudoStream => f.write_str("stream 0 cannot be scheduled"),
            Self::SelfDependency(id) => write!(f, "stream {id} cannot depend on itself"),
            Self::Deadlock => f.write_str("every stream is blocked"),
        }
    }
}

impl std::error::Error for PriorityError {}
