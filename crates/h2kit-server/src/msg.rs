//! The messages between request tasks and the connection task, in one place: what a
//! request task asks of the connection ([`Cmd`]), what the connection passes to a request
//! body ([`Incoming`], [`Inbound`]) and the response credit they share ([`Credit`]). It
//! depends on no other module of the crate but the error types.

use std::sync::Arc;

use bytes::Bytes;
use h2kit::{ErrorCode, Field, StreamId};
use http::HeaderMap;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::error::{BodyError, PushError};

/// Response-body credit: permits are bytes the response task may hand to the connection,
/// granted when the task asks for them ([`Cmd::Credit`]) and the connection's budget allows.
pub(crate) type Credit = Arc<Semaphore>;

/// A response body waiting for credit without a task, its head sent, and what its log line
/// needs.
pub(crate) struct Parked {
    pub(crate) line: crate::response::LogLine,
    pub(crate) body: crate::body::Body,
    /// The credit its next read waits for: at least this…
    pub(crate) min: usize,
    /// …and up to this.
    pub(crate) want: usize,
}

impl std::fmt::Debug for Parked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parked")
            .field("min", &self.min)
            .field("want", &self.want)
            .finish_non_exhaustive()
    }
}

/// What request tasks ask of the connection task.
#[derive(Debug)]
pub(crate) enum Cmd {
    Response {
        id: StreamId,
        fields: Vec<Field>,
        data: Option<Bytes>,
        end: bool,
    },
    Data {
        id: StreamId,
        data: Bytes,
        end: bool,
    },
    Trailers {
        id: StreamId,
        fields: Vec<Field>,
    },
    Reset {
        id: StreamId,
        code: ErrorCode,
    },
    Release {
        id: StreamId,
        len: u32,
    },
    Push {
        assoc: StreamId,
        fields: Vec<Field>,
        reply: oneshot::Sender<Result<(StreamId, Credit), PushError>>,
    },
    /// The task ended without completing the response (panic, abort, dropped body).
    Abandoned {
        id: StreamId,
    },
    /// The handler of a request without a body answered: the connection sends the response
    /// (at once if its body is in memory, else once the stream has credit).
    Ready {
        id: StreamId,
        ready: Box<crate::conn::Ready>,
    },
    /// The task ends without credit: the connection keeps the body until it has credit for
    /// it (see `ResponseCtx::park`).
    Park {
        id: StreamId,
        parked: Box<Parked>,
    },
    /// The task waits for at least `min` and would take up to `want` bytes of credit.
    Credit {
        id: StreamId,
        min: usize,
        want: usize,
    },
}

/// What the connection task passes to a request body.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// Payload and the flow-controlled length to give back once consumed.
    Data(Bytes, u32),
    Trailers(HeaderMap),
    End,
    Error(BodyError),
}

/// A request body fed by the connection; consuming data gives its window back.
pub(crate) struct Inbound {
    pub(crate) rx: mpsc::UnboundedReceiver<Incoming>,
    pub(crate) id: StreamId,
    pub(crate) cmd: mpsc::UnboundedSender<Cmd>,
    pub(crate) done: bool,
}

impl Drop for Inbound {
    fn drop(&mut self) {
        // Data the handler never read still holds connection window: give it back.
        let mut unread = 0u32;
        while let Ok(item) = self.rx.try_recv() {
            if let Incoming::Data(_, len) = item {
                unread = unread.saturating_add(len);
            }
        }
        if unread > 0 {
            let _ = self.cmd.send(Cmd::Release {
                id: self.id,
                len: unread,
            });
        }
    }
}
