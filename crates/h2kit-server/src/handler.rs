//! The handler API: requests in, responses out; push and per-stream information.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use h2kit::http::{Origin, request_fields};
use h2kit::{Field, PrioritySignal, StreamId};
use http::uri::Scheme;
use http::{Request, Response, StatusCode};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::body::Body;
use crate::error::PushError;
use crate::msg::{Cmd, Credit};
use crate::response::{ResponseCtx, send_response};

/// A boxed response future.
pub type BoxFuture = Pin<Box<dyn Future<Output = Response<Body>> + Send + 'static>>;

/// Answers requests. Each request runs in its own task; the connection task talks to it
/// through channels. The returned future is first polled on the connection task: one that
/// is ready at once with an in-memory body (a request without a body) is answered there with
/// no task, so that first poll must not block.
///
/// Any `Fn(Request<Body>) -> impl Future<Output = Response<Body>>` that is `Send + Sync` is a
/// handler.
pub trait Handler: Send + Sync + 'static {
    /// Produces the response to `request`. Errors are responses too (e.g. a 500).
    fn call(&self, request: Request<Body>) -> BoxFuture;

    /// Answers a request without a body from its fields alone, at once, when the handler
    /// can (a static file in a cache, say): the response's fields, made beforehand and
    /// shared, and its whole body. No `http::Request` or
    /// `http::Response` is built, no [`StreamInfo`] is made and nothing is spawned, so a
    /// handler should answer here only what it would answer the same through
    /// [`call`](Self::call). `None` (the default) sends the request to `call`.
    ///
    /// The connection asks only for requests whose head `call` would accept (its fields
    /// convert to `http` types); a body over [`FieldsRequest::max_body`] must not be
    /// answered here.
    fn answer_fields(&self, request: &FieldsRequest<'_>) -> Option<FieldsAnswer> {
        let _ = request;
        None
    }
}

/// A request without a body, as its fields: what [`Handler::answer_fields`] is given.
#[non_exhaustive]
#[derive(Debug)]
pub struct FieldsRequest<'a> {
    /// The `:method`.
    pub method: &'a [u8],
    /// The path of the `:path` field, without its query.
    pub path: &'a str,
    /// The request's fields as received (pseudo-header fields first), validated.
    pub fields: &'a [Field],
    /// The largest body the connection sends with the response at once.
    pub max_body: usize,
    /// When the request's head was read, by the connection's clock: a handler that needs
    /// the time (a cache deciding whether to look again) can take it from here instead of
    /// reading the system clock once more.
    pub received: Instant,
}

/// A response from [`Handler::answer_fields`].
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct FieldsAnswer {
    /// The status, as in `fields`.
    pub status: StatusCode,
    /// The response's fields, `:status` first (see `h2kit::http::extend_response_fields`).
    pub fields: Arc<[Field]>,
    /// The whole body.
    pub body: Bytes,
}

impl FieldsAnswer {
    /// An answer: `fields` must begin with the `:status` of `status`.
    pub fn new(status: StatusCode, fields: Arc<[Field]>, body: Bytes) -> Self {
        FieldsAnswer {
            status,
            fields,
            body,
        }
    }
}

impl<'a> FieldsRequest<'a> {
    /// The value of the first regular field named `name` (lowercase).
    pub fn header(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.fields
            .iter()
            .find(|f| &f.name[..] == name)
            .map(|f| &f.value[..])
    }
}

impl<F, Fut> Handler for F
where
    F: Fn(Request<Body>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    fn call(&self, request: Request<Body>) -> BoxFuture {
        Box::pin(self(request))
    }
}

/// Facts about the stream a request came on, and server push from it: the one value the
/// server puts in every request's extensions
/// (`request.extensions().get::<StreamInfo>()`).
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct StreamInfo {
    /// The HTTP/2 stream id.
    pub stream_id: StreamId,
    /// The priority the request came with (HEADERS priority and the `priority` field).
    pub priority: PrioritySignal,
    /// The client's address.
    pub remote_addr: Option<SocketAddr>,
    /// Whether the connection is TLS.
    pub tls: bool,
    pub(crate) pusher: Pusher,
}

impl StreamInfo {
    /// Server push on this request's stream.
    pub fn pusher(&self) -> &Pusher {
        &self.pusher
    }
}

/// Server push from a handler: [`StreamInfo::pusher`] of the request's
/// [`StreamInfo`] extension.
#[derive(Clone)]
pub struct Pusher {
    pub(crate) assoc: StreamId,
    pub(crate) authority: Option<http::uri::Authority>,
    pub(crate) conn: Arc<PushConn>,
}

/// What every pusher of one connection shares (the connection holds it for its life).
pub(crate) struct PushConn {
    pub(crate) scheme: Scheme,
    pub(crate) ctx: ResponseCtx,
    /// The connection's command channel as pushers reach it (see [`PushConn::sender`]).
    pub(crate) link: Mutex<LinkSlot>,
}

/// The sending side of a connection's command channel, while it has one.
#[derive(Default)]
pub(crate) struct LinkSlot {
    /// The channel's sender, `None` while the connection has no channel.
    pub(crate) tx: Option<mpsc::UnboundedSender<Cmd>>,
    /// A receiver made by a pusher, for the connection to take.
    pub(crate) made_rx: Option<mpsc::UnboundedReceiver<Cmd>>,
    /// The connection's task while it has no channel: woken when a pusher makes one. (A
    /// `Notify` waited on afresh each turn of the connection's loop cost a waiter list
    /// insert and removal every time.)
    pub(crate) waker: Option<std::task::Waker>,
}

impl PushConn {
    pub(crate) fn new(scheme: Scheme, ctx: ResponseCtx) -> Self {
        PushConn {
            scheme,
            ctx,
            link: Mutex::new(LinkSlot::default()),
        }
    }

    /// Whether a pusher made a channel the connection has not taken yet.
    pub(crate) fn has_made_link(&self) -> bool {
        self.link
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .made_rx
            .is_some()
    }

    /// The connection's command sender. A connection makes its channel on its first request
    /// that needs one and drops it when idle; a pusher that finds none (a handler answered
    /// at once and pushes later from a task of its own) makes it, and wakes the connection
    /// to take the receiver.
    pub(crate) fn sender(&self) -> mpsc::UnboundedSender<Cmd> {
        let mut slot = self.link.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = &slot.tx {
            return tx.clone();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        slot.tx = Some(tx.clone());
        slot.made_rx = Some(rx);
        let waker = slot.waker.take();
        drop(slot);
        if let Some(w) = waker {
            w.wake();
        }
        tx
    }
}

impl fmt::Debug for Pusher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pusher")
            .field("assoc", &self.assoc)
            .finish_non_exhaustive()
    }
}

impl Pusher {
    /// Promises `request` (PUSH_PROMISE on the request's stream) and sends `response` on the
    /// promised stream from a new task. Call it before the handler returns its own
    /// response. The scheme and authority default to the original request's.
    pub async fn push(
        &self,
        request: Request<()>,
        response: Response<Body>,
    ) -> Result<StreamId, PushError> {
        let uri = request.uri();
        let path = uri
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| !p.is_empty())
            .ok_or(PushError::InvalidRequest)?;
        // The connection's scheme and the original request's authority complete the URI.
        let origin = Origin::new(self.conn.scheme.clone(), self.authority.clone());
        let fields = request_fields(&request, &origin);
        let (tx, rx) = oneshot::channel();
        self.conn
            .sender()
            .send(Cmd::Push {
                assoc: self.assoc,
                fields,
                reply: tx,
            })
            .map_err(|_| PushError::ConnectionClosed)?;
        let (promised, credit): (StreamId, Credit) =
            rx.await.map_err(|_| PushError::ConnectionClosed)??;
        let method = request.method().clone();
        let path = path.to_owned();
        let ctx = self.conn.ctx.clone();
        let cmd = self.conn.sender();
        let start = ctx.log_start();
        // The pushed stream's own span, a child of the request's that pushed it.
        let span = tracing::debug_span!(
            "stream",
            id = promised.get(),
            method = %method,
            path = path.as_str(),
            push = true,
        );
        tokio::spawn(
            send_response(
                ctx, cmd, promised, credit, method, path, response, true, start,
            )
            .instrument(span),
        );
        Ok(promised)
    }
}
