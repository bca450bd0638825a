//! Interop over real TCP on loopback with the `h2` crate (dev-dependency, tokio runtime in the
//! test): our blocking std-socket client (`examples/driver`) against an `h2` server, and the
//! `h2` client against our std-socket server. GET, a 10 MiB echoed POST checked byte for byte,
//! trailers both ways, resets in both directions, and 150 requests through a 100-stream limit.

#[path = "../examples/driver/mod.rs"]
mod driver;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use driver::{Request, Response};
use h2kit::{Config, ErrorCode, Field, Initiator};
use http::{HeaderMap, HeaderValue, StatusCode};

const LIMIT: Duration = Duration::from_secs(60);
const TEN_MIB: usize = 10 << 20;

// ------------------------------------------------------------------ an `h2` server

/// What the `h2` server saw: resets per path, and the most requests in flight at once.
#[derive(Default)]
struct Seen {
    resets: Mutex<Vec<(String, h2::Reason)>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

struct H2Server {
    addr: SocketAddr,
    seen: Arc<Seen>,
    _rt: tokio::runtime::Runtime,
}

/// An `h2` server with SETTINGS_MAX_CONCURRENT_STREAMS 100 and the same routes as the std
/// server: `/echo`, `/trailers`, `/reset`, `/hold`, `/slow` (answers after 100 ms),
/// `/bytes/N`, anything else `hello from h2`.
fn h2_server() -> H2Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let seen2 = seen.clone();
    rt.spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let seen = seen2.clone();
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::Builder::new()
                    .max_concurrent_streams(100)
                    .handshake::<_, Bytes>(socket)
                    .await
                else {
                    return;
                };
                while let Some(Ok((req, respond))) = conn.accept().await {
                    tokio::spawn(h2_handle(req, respond, seen.clone()));
                }
            });
        }
    });
    H2Server {
        addr,
        seen,
        _rt: rt,
    }
}

async fn h2_handle(
    req: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    seen: Arc<Seen>,
) -> Result<(), h2::Error> {
    let path = req.uri().path().to_owned();
    let ok = || http::Response::builder().status(200).body(()).unwrap();
    match path.as_str() {
        "/echo" => {
            let mut body = req.into_body();
            let mut send = respond.send_response(ok(), false)?;
            while let Some(chunk) = body.data().await {
                let chunk = chunk?;
                let n = chunk.len();
                send.send_data(chunk, false)?;
                body.flow_control().release_capacity(n)?;
            }
            match body.trailers().await? {
                Some(t) => send.send_trailers(t)?,
                None => send.send_data(Bytes::new(), true)?,
            }
        }
        "/trailers" => {
            let mut send = respond.send_response(ok(), false)?;
            send.send_data(Bytes::from_static(b"trailers-body"), false)?;
            let mut t = HeaderMap::new();
            t.insert("x-checksum", HeaderValue::from_static("42"));
            send.send_trailers(t)?;
        }
        "/reset" => respond.send_reset(h2::Reason::INTERNAL_ERROR),
        "/hold" => {
            let mut send = respond.send_response(ok(), false)?;
            let reason = std::future::poll_fn(|cx| send.poll_reset(cx)).await?;
            seen.resets.lock().unwrap().push((path, reason));
        }
        "/slow" => {
            let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            seen.in_flight.fetch_sub(1, Ordering::SeqCst);
            let mut send = respond.send_response(ok(), false)?;
            send.send_data(Bytes::from_static(b"slow"), true)?;
        }
        p if p.starts_with("/bytes/") => {
            let n: usize = p["/bytes/".len()..].parse().unwrap_or(0);
            let mut send = respond.send_response(ok(), n == 0)?;
            if n > 0 {
                send.send_data(driver::pattern(n), true)?;
            }
        }
        _ => {
            let mut send = respond.send_response(ok(), false)?;
            send.send_data(Bytes::from_static(b"hello from h2\n"), true)?;
        }
    }
    Ok(())
}

fn our_fetch(addr: SocketAddr, requests: Vec<Request>) -> Vec<Response> {
    let (responses, error) = driver::fetch(addr, Config::default(), requests, LIMIT).unwrap();
    assert_eq!(error, None, "the connection ended with an error");
    responses
}

fn req(method: &str, path: &str) -> Request {
    Request::new(method, "localhost", path)
}

fn value<'a>(fields: &'a [Field], name: &str) -> Option<&'a [u8]> {
    driver::field(fields, name)
}

// ------------------------------------------------------------------ our client, `h2` server

#[test]
fn our_client_gets_from_h2_server() {
    let server = h2_server();
    let r = our_fetch(server.addr, vec![req("GET", "/")]);
    assert_eq!(r[0].status, 200);
    assert_eq!(r[0].body, b"hello from h2\n");
    assert_eq!(r[0].reset, None);
    assert!(r[0].done);
}

#[test]
fn our_client_posts_10_mib_to_h2_server_and_gets_it_back() {
    let server = h2_server();
    let body = driver::pattern(TEN_MIB);
    let mut post = req("POST", "/echo");
    post.body = Some(body.clone());
    let r = our_fetch(server.addr, vec![post]);
    assert_eq!(r[0].status, 200);
    assert_eq!(r[0].body.len(), TEN_MIB);
    assert!(r[0].body == body, "echoed body differs");
    assert_eq!(r[0].reset, None);
}

#[test]
fn trailers_both_ways_between_our_client_and_h2_server() {
    let server = h2_server();
    let mut post = req("POST", "/echo");
    post.body = Some(Bytes::from_static(b"with trailers"));
    post.trailers = Some(vec![Field::new("x-request-trailer", "yes")]);
    let r = our_fetch(server.addr, vec![post, req("GET", "/trailers")]);
    assert_eq!(r[0].body, b"with trailers");
    let t = r[0].trailers.as_deref().expect("echoed trailers");
    assert_eq!(value(t, "x-request-trailer"), Some(&b"yes"[..]));
    assert_eq!(r[1].body, b"trailers-body");
    let t = r[1].trailers.as_deref().expect("response trailers");
    assert_eq!(value(t, "x-checksum"), Some(&b"42"[..]));
}

#[test]
fn h2_server_reset_reaches_our_client() {
    let server = h2_server();
    let r = our_fetch(server.addr, vec![req("GET", "/reset"), req("GET", "/")]);
    assert_eq!(
        r[0].reset,
        Some((ErrorCode::INTERNAL_ERROR, Initiator::Remote))
    );
    assert_eq!(r[0].status, 0);
    // The connection survives a stream reset.
    assert_eq!(r[1].status, 200);
    assert_eq!(r[1].body, b"hello from h2\n");
}

#[test]
fn our_client_reset_reaches_h2_server() {
    let server = h2_server();
    let mut hold = req("GET", "/hold");
    hold.reset_on_response = Some(ErrorCode::CANCEL);
    let r = our_fetch(server.addr, vec![hold]);
    assert_eq!(r[0].status, 200);
    assert_eq!(r[0].reset, Some((ErrorCode::CANCEL, Initiator::Local)));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let resets = server.seen.resets.lock().unwrap().clone();
        if !resets.is_empty() {
            assert_eq!(resets, vec![("/hold".to_owned(), h2::Reason::CANCEL)]);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "h2 saw no reset");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn our_client_runs_150_requests_through_h2_servers_100_stream_limit() {
    let server = h2_server();
    let requests = (0..150).map(|_| req("GET", "/slow")).collect();
    let r = our_fetch(server.addr, requests);
    let bad: Vec<_> = r
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status != 200 || r.body != b"slow")
        .map(|(i, r)| (i, r.status, r.reset))
        .collect();
    assert_eq!(bad, vec![]);
    // All 100 allowed streams were in flight at once, and never more.
    assert_eq!(server.seen.max_in_flight.load(Ordering::SeqCst), 100);
}

// ------------------------------------------------------------------ `h2` client, our server

struct Fetched {
    status: StatusCode,
    body: Vec<u8>,
    trailers: Option<HeaderMap>,
}

async fn h2_client(addr: SocketAddr) -> h2::client::SendRequest<Bytes> {
    let socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::handshake(socket).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

async fn h2_fetch(
    client: &h2::client::SendRequest<Bytes>,
    method: &str,
    path: &str,
    body: Option<Bytes>,
    trailers: Option<HeaderMap>,
) -> Result<Fetched, h2::Error> {
    let mut client = client.clone().ready().await?;
    let request = http::Request::builder()
        .method(method)
        .uri(format!("http://localhost{path}"))
        .body(())
        .unwrap();
    let end = body.is_none() && trailers.is_none();
    let (response, mut send) = client.send_request(request, end)?;
    if let Some(body) = body {
        send.send_data(body, trailers.is_none())?;
    }
    if let Some(t) = trailers {
        send.send_trailers(t)?;
    }
    let response = response.await?;
    let status = response.status();
    let mut recv = response.into_body();
    let mut body = Vec::new();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk?;
        recv.flow_control().release_capacity(chunk.len())?;
        body.extend_from_slice(&chunk);
    }
    let trailers = recv.trailers().await?;
    Ok(Fetched {
        status,
        body,
        trailers,
    })
}

fn our_server() -> driver::Server {
    driver::Server::start("127.0.0.1:0", Config::default).unwrap()
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, f).await.expect("timed out")
}

#[tokio::test]
async fn h2_client_gets_from_our_server() {
    let server = our_server();
    let client = h2_client(server.addr()).await;
    let r = within(h2_fetch(&client, "GET", "/", None, None))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, b"hello from h2kit\n");
    assert_eq!(r.trailers, None);
    let head = within(h2_fetch(&client, "HEAD", "/", None, None))
        .await
        .unwrap();
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
}

#[tokio::test]
async fn h2_client_posts_10_mib_to_our_server_and_gets_it_back() {
    let server = our_server();
    let client = h2_client(server.addr()).await;
    let body = driver::pattern(TEN_MIB);
    let r = within(h2_fetch(&client, "POST", "/echo", Some(body.clone()), None))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.len(), TEN_MIB);
    assert!(r.body == body, "echoed body differs");
}

#[tokio::test]
async fn trailers_both_ways_between_h2_client_and_our_server() {
    let server = our_server();
    let client = h2_client(server.addr()).await;
    let mut t = HeaderMap::new();
    t.insert("x-request-trailer", HeaderValue::from_static("yes"));
    let echo = within(h2_fetch(
        &client,
        "POST",
        "/echo",
        Some(Bytes::from_static(b"with trailers")),
        Some(t),
    ))
    .await
    .unwrap();
    assert_eq!(echo.body, b"with trailers");
    let t = echo.trailers.expect("echoed trailers");
    assert_eq!(t.get("x-request-trailer").unwrap(), "yes");
    let r = within(h2_fetch(&client, "GET", "/trailers", None, None))
        .await
        .unwrap();
    assert_eq!(r.body, b"trailers-body");
    let t = r.trailers.expect("response trailers");
    assert_eq!(t.get("x-checksum").unwrap(), "42");
    assert_eq!(t.get("grpc-status").unwrap(), "0");
}

#[tokio::test]
async fn our_server_reset_reaches_h2_client() {
    let server = our_server();
    let client = h2_client(server.addr()).await;
    let err = within(h2_fetch(&client, "GET", "/reset", None, None))
        .await
        .err()
        .expect("the stream was reset");
    assert_eq!(err.reason(), Some(h2::Reason::INTERNAL_ERROR));
    assert!(err.is_remote());
    // The connection survives.
    let r = within(h2_fetch(&client, "GET", "/", None, None))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn h2_client_reset_reaches_our_server() {
    let server = our_server();
    let client = h2_client(server.addr()).await;
    let mut client = client.ready().await.unwrap();
    let request = http::Request::get("http://localhost/hold")
        .body(())
        .unwrap();
    let (response, mut send) = client.send_request(request, false).unwrap();
    let response = within(response).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    send.send_reset(h2::Reason::CANCEL);
    let seen = within(async {
        loop {
            let resets = server.resets();
            if !resets.is_empty() {
                return resets;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(
        seen,
        vec![driver::SeenReset {
            path: "/hold".to_owned(),
            code: ErrorCode::CANCEL,
            initiator: Initiator::Remote,
        }]
    );
}

#[tokio::test]
async fn h2_client_runs_150_concurrent_requests_on_our_server() {
    let server = our_server();
    let client = h2_client(server.addr()).await;
    // The `h2` client opens streams before our SETTINGS arrive (the limit is unlimited until
    // then), and we refuse those beyond 100 with REFUSED_STREAM, which it does not retry.
    // One request first, so that it knows our limit and queues the rest itself.
    let first = within(h2_fetch(&client, "GET", "/", None, None)).await;
    assert_eq!(first.unwrap().status, StatusCode::OK);
    let tasks: Vec<_> = (0..150usize)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let n = 1_000 + i * 100;
                let r = h2_fetch(&client, "GET", &format!("/bytes/{n}"), None, None).await;
                (n, r)
            })
        })
        .collect();
    for task in tasks {
        let (n, r) = within(task).await.unwrap();
        let r = r.unwrap();
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body == driver::pattern(n), "body of /bytes/{n} differs");
    }
}
