//! A [`tower_service::Service`] as the server's [`Handler`] (the `tower` feature): an axum
//! `Router`, or any service of `http::Request<Body>` to `http::Response<B>` where `B` is an
//! [`http_body::Body`].
//!
//! ```
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use h2kit_server::tower::ServiceHandler;
//! use h2kit_server::{Body, Server};
//! use http::{Request, Response};
//!
//! // Any tower service will do: an axum `Router`, or one written out as here.
//! #[derive(Clone)]
//! struct Hello;
//! impl tower_service::Service<Request<Body>> for Hello {
//!     type Response = Response<String>;
//!     type Error = std::convert::Infallible;
//!     type Future = std::future::Ready<Result<Response<String>, Self::Error>>;
//!     fn poll_ready(
//!         &mut self,
//!         _: &mut std::task::Context<'_>,
//!     ) -> std::task::Poll<Result<(), Self::Error>> {
//!         std::task::Poll::Ready(Ok(()))
//!     }
//!     fn call(&mut self, req: Request<Body>) -> Self::Future {
//!         std::future::ready(Ok(Response::new(format!("hello {}", req.uri().path()))))
//!     }
//! }
//!
//! let server = Server::builder().h2c().build().await?;
//! server.serve(ServiceHandler::new(Hello)).await?;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::poll_fn;
use std::sync::Mutex;
use std::task::Poll;

use bytes::Buf;
use http::{Request, Response, StatusCode};
use tower_service::Service;

use crate::body::Body;
use crate::error::BoxError;
use crate::handler::{BoxFuture, Handler};

/// Serves requests with a [`tower_service::Service`] (an axum `Router`, a `tower` stack).
///
/// For each request the service is cloned (the `tower` way to share one: the clone is driven
/// to readiness with `poll_ready`, then called), so `S` need only be `Send`; the clone is
/// taken under a lock held for the `clone` call alone.
///
/// * The request body is an h2kit [`Body`], which implements [`http_body::Body`] (data as
///   [`Bytes`](bytes::Bytes), trailers); reading it gives the stream's flow-control window
///   back, so a service that reads slowly slows the client.
/// * The response body `B` is read frame by frame (data, then trailers) and each data frame
///   goes out as the client's flow-control window allows, as for [`Body::from_http_body`].
///   A body that is in memory and ready at once (axum's usual bodies) is answered like an
///   h2kit in-memory body.
/// * Errors: a service whose `poll_ready` or response future fails is answered with
///   `500 Internal Server Error` and an empty body (the error is logged with `tracing` at
///   debug level); a response body that fails after the headers went out resets the stream
///   with `INTERNAL_ERROR`, so a truncated body is never passed off as complete. A service
///   that panics resets the stream too, as a panicking [`Handler`] does.
pub struct ServiceHandler<S> {
    service: Mutex<S>,
}

impl<S> ServiceHandler<S> {
    /// Wraps `service`.
    pub fn new(service: S) -> Self {
        ServiceHandler {
            service: Mutex::new(service),
        }
    }

    /// The wrapped service.
    pub fn into_inner(self) -> S {
        self.service.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

impl<S: fmt::Debug> fmt::Debug for ServiceHandler<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let service = self.service.lock().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("ServiceHandler")
            .field("service", &*service)
            .finish()
    }
}

impl<S> From<S> for ServiceHandler<S> {
    fn from(service: S) -> Self {
        ServiceHandler::new(service)
    }
}

impl<S, B> Handler for ServiceHandler<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Buf,
    B::Error: Into<BoxError>,
{
    fn call(&self, request: Request<Body>) -> BoxFuture {
        let mut service = self
            .service
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Box::pin(async move {
            let ready: Result<(), BoxError> = poll_fn(|cx| service.poll_ready(cx))
                .await
                .map_err(Into::into);
            let response: Result<Response<B>, BoxError> = match ready {
                Ok(()) => service.call(request).await.map_err(Into::into),
                Err(e) => Err(e),
            };
            match response {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    let mut body = Body::from_http_body(body);
                    // A body in memory becomes an h2kit in-memory body, answered at once.
                    poll_fn(|cx| {
                        body.settle(cx);
                        Poll::Ready(())
                    })
                    .await;
                    Response::from_parts(parts, body)
                }
                Err(e) => {
                    tracing::debug!(error = %e, "service failed: 500");
                    internal_error()
                }
            }
        })
    }
}

fn internal_error() -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}
