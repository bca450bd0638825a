//! The handler API: requests in, responses out; push and per-stream information.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use h2kit::http::{Origin, request_fields};
use h2kit::{PrioritySignal, StreamId};
use http::uri::Scheme;
use http::{Request, Response};
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

/// What every pusher of one connection shares.
pub(crate) struct PushConn {
    pub(crate) scheme: Scheme,
    pub(crate) cmd: mpsc::UnboundedSender<Cmd>,
    pub(crate) ctx: ResponseCtx,
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
            .cmd
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
        let cmd = self.conn.cmd.clone();
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
