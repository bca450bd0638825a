//! An axum `Router` (and a hand-written `tower::Service`) served by h2kit-server through
//! `h2kit_server::tower::ServiceHandler` (its `tower` feature), asked by the h2kit client over
//! h2c and TLS: status and headers, a request body read by the service (large enough to need
//! the stream's window given back), request trailers, a streamed response larger than the
//! initial window, response trailers, the request's `StreamInfo` extension, a 404 route, a
//! failing service (500) and a response body that fails midway (stream reset).
//!
//! `cargo test -p h2kit-interop --test server_tower`

use std::convert::Infallible;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body as AxumBody, Bytes};
use axum::extract::{DefaultBodyLimit, Extension, Path, Request as AxumRequest};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use h2kit_client::Client;
use h2kit_interop::server::RunningServer;
use h2kit_server::StreamInfo;
use h2kit_server::tower::ServiceHandler;
use http::Request;

/// Bytes of the streamed response: more than the client's initial stream window (1 MiB).
const STREAMED_CHUNKS: usize = 1536;
const CHUNK: usize = 1024;

fn router() -> Router {
    Router::new()
        .route("/hello/{name}", get(hello))
        .route("/echo", post(echo))
        .route("/trailers", post(echo_trailers))
        .route("/stream/{n}", get(stream))
        .route("/with-trailers", get(with_trailers))
        .route("/broken", get(broken))
        .route("/stream-id", get(stream_id))
        // axum's own limit on bodies it buffers is 2 MB; the echo test uploads more.
        .layer(DefaultBodyLimit::max(16 << 20))
}

async fn hello(Path(name): Path<String>) -> (HeaderMap, String) {
    let mut headers = HeaderMap::new();
    headers.insert("x-served-by", HeaderValue::from_static("axum on h2kit"));
    (headers, format!("hello {name}"))
}

async fn echo(body: Bytes) -> (HeaderMap, Bytes) {
    let mut headers = HeaderMap::new();
    headers.insert("x-echo-length", body.len().into());
    (headers, body)
}

/// Reads the request body frame by frame (as `http_body::Body`) and answers with the data
/// length and the trailer `x-checksum` it found.
async fn echo_trailers(request: AxumRequest) -> String {
    let mut body = request.into_body();
    let mut len = 0;
    let mut trailers = None;
    while let Some(frame) = poll_fn(|cx| http_body::Body::poll_frame(Pin::new(&mut body), cx)).await
    {
        let frame = frame.expect("the request body arrives whole");
        match frame.into_data() {
            Ok(d) => len += d.len(),
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    let checksum = trailers
        .as_ref()
        .and_then(|t| t.get("x-checksum"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_owned();
    format!("{len} {checksum}")
}

/// `n` chunks of `CHUNK` bytes, each byte the chunk's number modulo 251.
async fn stream(Path(n): Path<usize>) -> AxumBody {
    let chunks = futures_util::stream::iter(
        (0..n).map(|i| Ok::<_, Infallible>(Bytes::from(vec![(i % 251) as u8; CHUNK]))),
    );
    AxumBody::from_stream(chunks)
}

async fn with_trailers() -> AxumBody {
    AxumBody::new(Frames(vec![
        http_body::Frame::data(Bytes::from_static(b"data, ")),
        http_body::Frame::data(Bytes::from_static(b"then trailers")),
        http_body::Frame::trailers({
            let mut t = HeaderMap::new();
            t.insert("x-trailer", HeaderValue::from_static("at the end"));
            t
        }),
    ]))
}

async fn broken() -> AxumBody {
    let chunks = futures_util::stream::iter([
        Ok(Bytes::from_static(b"a first chunk, ")),
        Err(std::io::Error::other("the source broke")),
    ]);
    AxumBody::from_stream(chunks)
}

async fn stream_id(Extension(info): Extension<StreamInfo>) -> String {
    format!("{} tls={}", info.stream_id.get(), info.tls)
}

/// A body of the given frames, in order.
struct Frames(Vec<http_body::Frame<Bytes>>);

impl http_body::Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        if self.0.is_empty() {
            return Poll::Ready(None);
        }
        Poll::Ready(Some(Ok(self.0.remove(0))))
    }
}

async fn connect(server: &RunningServer, tls: bool) -> Client {
    let scheme = if tls { "https" } else { "http" };
    Client::builder()
        .danger_accept_invalid_certs(true)
        .connect(&format!("{scheme}://{}", server.addr))
        .await
        .expect("the client connects")
}

async fn run_router(tls: bool) {
    let server = RunningServer::start(tls, ServiceHandler::new(router())).await;
    let client = connect(&server, tls).await;

    // Status, headers, body.
    let response = client.get("/hello/h2kit").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-served-by"], "axum on h2kit");
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(response.into_body().collect().await.unwrap(), "hello h2kit");

    // A request body the service reads whole: 3 MiB, more than the stream's initial window,
    // so it arrives only as reading it gives the window back.
    let upload: Vec<u8> = (0..3 << 20).map(|i| (i % 253) as u8).collect();
    let request = Request::post("/echo")
        .body(h2kit_client::Body::from(upload.clone()))
        .unwrap();
    let response = client.send(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-echo-length"], "3145728");
    let echoed = response.into_body().collect().await.unwrap();
    assert!(echoed[..] == upload[..], "the echo differs");

    // Request trailers reach the service through `http_body::Body`.
    let mut trailers = http::HeaderMap::new();
    trailers.insert("x-checksum", HeaderValue::from_static("abc123"));
    let request = Request::post("/trailers")
        .body(h2kit_client::Body::from(vec![7u8; 100_000]).with_trailers(trailers))
        .unwrap();
    let response = client.send(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.into_body().collect().await.unwrap(),
        "100000 abc123"
    );

    // A streamed response, larger than the client's initial stream window.
    let response = client
        .get(&format!("/stream/{STREAMED_CHUNKS}"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap();
    assert_eq!(body.len(), STREAMED_CHUNKS * CHUNK);
    for (i, chunk) in body.chunks(CHUNK).enumerate() {
        assert!(chunk.iter().all(|&b| b == (i % 251) as u8), "chunk {i}");
    }

    // Response trailers.
    let response = client.get("/with-trailers").await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut data = Vec::new();
    while let Some(chunk) = body.chunk().await {
        data.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(data, b"data, then trailers");
    let trailers = body.trailers().await.unwrap().expect("trailers");
    assert_eq!(trailers["x-trailer"], "at the end");

    // The server's request extension is there for axum's extractors.
    let response = client.get("/stream-id").await.unwrap();
    let text = response.into_body().collect().await.unwrap();
    let text = std::str::from_utf8(&text).unwrap();
    assert!(text.ends_with(&format!("tls={tls}")), "{text}");
    let id: u32 = text.split(' ').next().unwrap().parse().unwrap();
    assert!(id % 2 == 1, "{text}");

    // No route: axum's 404.
    let response = client.get("/no/such/route").await.unwrap();
    assert_eq!(response.status(), 404);
    // A route without this method: 405.
    let response = client.get("/echo").await.unwrap();
    assert_eq!(response.status(), 405);

    // A response body that fails after its first chunk: the stream is reset, the client
    // sees an error, never a clean end.
    let response = client.get("/broken").await.unwrap();
    assert_eq!(response.status(), 200);
    let result = response.into_body().collect().await;
    assert!(result.is_err(), "a failed body ended cleanly: {result:?}");

    // The connection is still good after all that.
    let response = client.get("/hello/again").await.unwrap();
    assert_eq!(response.into_body().collect().await.unwrap(), "hello again");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_axum_router_serves_over_h2c() {
    run_router(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_axum_router_serves_over_tls() {
    run_router(true).await;
}

/// A service that is not ready (its readiness fails) or whose call fails, by path.
#[derive(Clone)]
struct Failing {
    ready_fails: bool,
}

impl tower_service::Service<Request<h2kit_server::Body>> for Failing {
    type Response = http::Response<String>;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<http::Response<String>, std::io::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), std::io::Error>> {
        if self.ready_fails {
            Poll::Ready(Err(std::io::Error::other("not ready, ever")))
        } else {
            Poll::Ready(Ok(()))
        }
    }

    fn call(&mut self, request: Request<h2kit_server::Body>) -> Self::Future {
        std::future::ready(match request.uri().path() {
            "/ok" => Ok(http::Response::new("fine".to_owned())),
            _ => Err(std::io::Error::other("the service failed")),
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_errors_are_answered_with_500() {
    let server =
        RunningServer::start(false, ServiceHandler::new(Failing { ready_fails: false })).await;
    let client = connect(&server, false).await;
    let response = client.get("/ok").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.into_body().collect().await.unwrap(), "fine");
    let response = client.get("/fails").await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.into_body().collect().await.unwrap().is_empty());
    server.stop().await;

    let server =
        RunningServer::start(false, ServiceHandler::new(Failing { ready_fails: true })).await;
    let client = connect(&server, false).await;
    let response = client.get("/ok").await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    server.stop().await;
}
