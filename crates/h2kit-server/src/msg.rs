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
/// topped up as the connection writes.
pub(crate) type Credit = Arc<Semaphore>;

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
