//! h2kit-server on loopback against a client built on the `h2` crate.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use h2kit_server::{Body, BodyError, Frame, Server, StreamInfo};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use tokio::net::TcpStream;
use tokio::sync::{Notify, oneshot};

type Client = h2::client::SendRequest<Bytes>;

async fn connect(addr: SocketAddr) -> Client {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client.ready().await.unwrap()
}

/// Starts a server with `handler`; returns its address and a stop switch.
async fn start<H: h2kit_server::Handler>(
    handler: H,
) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let server = Server::builder().build().await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve_with_shutdown(handler, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (addr, stop, task)
}

fn get(path: &str) -> Request<()> {
    Request::get(format!("http://localhost{path}"))
        .body(())
        .unwrap()
}

async fn read_body(mut body: h2::RecvStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        out.extend_from_slice(&chunk);
    }
    out
}

fn pattern(len: usize) -> Bytes {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_over_h2c_returns_the_body_and_stream_info() {
    let (addr, stop, task) = start(|req: Request<Body>| async move {
        let info = req.extensions().get::<StreamInfo>().cloned().unwrap();
        Response::builder()
            .header("x-stream", info.stream_id.get().to_string())
            .body(Body::from(format!("hello {}", req.uri().path())))
            .unwrap()
    })
    .await;
    let mut client = connect(addr).await;
    let (resp, _) = client.send_request(get("/a/b"), true).unwrap();
    let resp = resp.await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-stream"], "1");
    assert_eq!(read_body(resp.into_body()).await, b"hello /a/b");
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_echo_of_ten_mib_keeps_every_byte() {
    let (addr, stop, task) = start(|req: Request<Body>| async move {
        let (mut tx, body) = Body::channel();
        let mut incoming = req.into_body();
        tokio::spawn(async move {
            while let Some(frame) = incoming.frame().await {
                match frame {
                    Ok(Frame::Data(d)) => {
                        if tx.send_data(d).await.is_err() {
                            return;
                        }
                    }
                    Ok(Frame::Trailers(_)) => {}
                    Err(_) => return tx.abort(),
                }
            }
            let _ = tx.finish().await;
        });
        Response::new(body)
    })
    .await;
    let mut client = connect(addr).await;
    let data = pattern(10 << 20);
    let (resp, mut send) = client
        .send_request(
            Request::post("http://localhost/echo").body(()).unwrap(),
            false,
        )
        .unwrap();
    let upload = data.clone();
    let sender = tokio::spawn(async move {
        for chunk in upload.chunks(16 * 1024) {
            send.reserve_capacity(chunk.len());
            loop {
                let cap = std::future::poll_fn(|cx| send.poll_capacity(cx))
                    .await
                    .unwrap()
                    .unwrap();
                if cap >= chunk.len() {
                    break;
                }
            }
            send.send_data(Bytes::copy_from_slice(chunk), false)
                .unwrap();
        }
        send.send_data(Bytes::new(), true).unwrap();
    });
    let resp = resp.await.unwrap();
    let got = read_body(resp.into_body()).await;
    sender.await.unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "echoed bytes differ");
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailers_travel_both_ways() {
    let (addr, stop, task) = start(|req: Request<Body>| async move {
        let collected = req.into_body().collect(1 << 20).await.unwrap();
        let checksum = collected
            .trailers
            .as_ref()
            .and_then(|t| t.get("x-checksum"))
            .cloned()
            .unwrap_or(HeaderValue::from_static("none"));
        let mut trailers = HeaderMap::new();
        trailers.insert("x-got", checksum);
        trailers.insert(
            "x-len",
            HeaderValue::from_str(&collected.data.len().to_string()).unwrap(),
        );
        Response::new(Body::full_with_trailers("ok", trailers))
    })
    .await;
    let mut client = connect(addr).await;
    let (resp, mut send) = client
        .send_request(Request::post("http://localhost/t").body(()).unwrap(), false)
        .unwrap();
    send.send_data(Bytes::from_static(b"abcdef"), false)
        .unwrap();
    let mut trailers = HeaderMap::new();
    trailers.insert("x-checksum", HeaderValue::from_static("c0ffee"));
    send.send_trailers(trailers).unwrap();
    let mut body = resp.await.unwrap().into_body();
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        data.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(data, b"ok");
    let trailers = body.trailers().await.unwrap().unwrap();
    assert_eq!(trailers["x-got"], "c0ffee");
    assert_eq!(trailers["x-len"], "6");
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_streams_on_one_connection() {
    let (addr, stop, task) = start(|req: Request<Body>| async move {
        // Answer out of order: later requests sleep less.
        let n: u64 = req.uri().path()[1..].parse().unwrap();
        tokio::time::sleep(Duration::from_millis(100 - n)).await;
        Response::new(Body::from(format!("stream {n}")))
    })
    .await;
    let client = connect(addr).await;
    let mut tasks = Vec::new();
    for n in 0..100u64 {
        let mut c = client.clone();
        tasks.push(tokio::spawn(async move {
            let c2 = c.clone();
            c = c2.ready().await.unwrap();
            let (resp, _) = c.send_request(get(&format!("/{n}")), true).unwrap();
            let body = read_body(resp.await.unwrap().into_body()).await;
            assert_eq!(body, format!("stream {n}").as_bytes());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reset_mid_upload_reaches_the_handler_and_mid_download_stops_the_body() {
    let (seen_tx, seen_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let (addr, stop, task) = start(move |req: Request<Body>| {
        let seen = seen_tx.clone();
        async move {
            if req.uri().path() == "/upload" {
                let mut body = req.into_body();
                loop {
                    match body.frame().await {
                        Some(Ok(_)) => {}
                        Some(Err(BodyError::Reset(e))) => {
                            let _ = seen.send(format!("upload reset {:?}", e.code()));
                            break;
                        }
                        other => {
                            let _ = seen.send(format!("upload other {other:?}"));
                            break;
                        }
                    }
                }
                Response::new(Body::empty())
            } else {
                let (mut tx, body) = Body::channel();
                tokio::spawn(async move {
                    let chunk = Bytes::from(vec![7u8; 16 * 1024]);
                    loop {
                        if tx.send_data(chunk.clone()).await.is_err() {
                            let _ = seen.send("download closed".to_owned());
                            return;
                        }
                    }
                });
                Response::new(body)
            }
        }
    })
    .await;
    let mut seen = seen_rx;
    let mut client = connect(addr).await;

    let (_resp, mut send) = client
        .send_request(
            Request::post("http://localhost/upload").body(()).unwrap(),
            false,
        )
        .unwrap();
    send.send_data(Bytes::from_static(b"partial"), false)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    send.send_reset(h2::Reason::CANCEL);
    let line = tokio::time::timeout(Duration::from_secs(5), seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(line.starts_with("upload reset"), "{line}");
    assert!(line.contains("CANCEL"), "{line}");

    let (resp, _) = client.send_request(get("/download"), true).unwrap();
    let mut body = resp.await.unwrap().into_body();
    let first = body.data().await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(body); // h2 resets the stream with CANCEL.
    let line = tokio::time::timeout(Duration::from_secs(5), seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(line, "download closed");

    // The connection still works.
    let (resp, _) = client.send_request(get("/upload"), true).unwrap();
    assert_eq!(resp.await.unwrap().status(), StatusCode::OK);
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_promise_reaches_the_client_with_its_response() {
    let (addr, stop, task) = start(|req: Request<Body>| async move {
        if req.uri().path() == "/" {
            let pusher = req
                .extensions()
                .get::<StreamInfo>()
                .unwrap()
                .pusher()
                .clone();
            let promised = pusher
                .push(
                    Request::get("/style.css").body(()).unwrap(),
                    Response::builder()
                        .header("content-type", "text/css")
                        .body(Body::from("body{}"))
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(promised.get() % 2, 0);
        }
        Response::new(Body::from("<html>"))
    })
    .await;
    let mut client = connect(addr).await;
    let (mut resp, _) = client.send_request(get("/"), true).unwrap();
    let mut pushes = resp.push_promises();
    let resp = resp.await.unwrap();
    assert_eq!(read_body(resp.into_body()).await, b"<html>");
    let promise = pushes.push_promise().await.unwrap().unwrap();
    let (request, pushed) = promise.into_parts();
    assert_eq!(request.uri().path(), "/style.css");
    let pushed = pushed.await.unwrap();
    assert_eq!(pushed.headers()["content-type"], "text/css");
    assert_eq!(read_body(pushed.into_body()).await, b"body{}");
    stop.send(()).unwrap();
    task.await.unwrap();
}

/// A handler answered at once (so the connection made no command channel for it) hands its
/// pusher to a task of its own that pushes after the response went out, once the
/// connection is idle and has dropped its channel: the pusher makes a new channel, the
/// connection takes it and answers (the request's stream is closed, so the push is
/// refused). Without that the push would wait forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_after_an_answer_given_at_once_gets_an_answer() {
    let (result_tx, result_rx) = std::sync::mpsc::channel();
    let (addr, stop, task) = start(move |req: Request<Body>| {
        let pusher = req
            .extensions()
            .get::<StreamInfo>()
            .unwrap()
            .pusher()
            .clone();
        let result_tx = result_tx.clone();
        tokio::spawn(async move {
            // Past the connection's release of an unused channel (1 s).
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let pushed = pusher
                .push(
                    Request::get("/late.css").body(()).unwrap(),
                    Response::new(Body::from("late")),
                )
                .await;
            let _ = result_tx.send(pushed);
        });
        async { Response::new(Body::from("at once")) }
    })
    .await;
    let mut client = connect(addr).await;
    let (resp, _) = client.send_request(get("/"), true).unwrap();
    let resp = resp.await.unwrap();
    assert_eq!(read_body(resp.into_body()).await, b"at once");
    // The guard only stops a hang from stalling CI.
    let pushed =
        tokio::task::spawn_blocking(move || result_rx.recv_timeout(Duration::from_secs(60)))
            .await
            .unwrap()
            .expect("the push never got an answer");
    assert!(pushed.is_err(), "a push on a closed stream: {pushed:?}");
    // The connection still serves requests.
    let (resp, _) = client.send_request(get("/again"), true).unwrap();
    assert_eq!(read_body(resp.await.unwrap().into_body()).await, b"at once");
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_and_refuses_new_streams() {
    let release = Arc::new(Notify::new());
    let arrived = Arc::new(Notify::new());
    let (r, a) = (release.clone(), arrived.clone());
    let (addr, stop, task) = start(move |_req: Request<Body>| {
        let (r, a) = (r.clone(), a.clone());
        async move {
            a.notify_one();
            r.notified().await;
            Response::new(Body::full(pattern(300_000)))
        }
    })
    .await;
    let mut client = connect(addr).await;
    let (slow, _) = client.send_request(get("/slow"), true).unwrap();
    let slow = tokio::spawn(slow);
    arrived.notified().await;
    stop.send(()).unwrap();
    // Give the GOAWAY time to arrive.
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A new request is refused in a retryable way (GOAWAY seen, or REFUSED_STREAM).
    let refused = match client.send_request(get("/new"), true) {
        Err(e) => e,
        Ok((resp, _)) => resp.await.expect_err("new stream after GOAWAY must fail"),
    };
    assert!(
        refused.is_go_away() || refused.reason() == Some(h2::Reason::REFUSED_STREAM),
        "{refused:?}"
    );
    assert!(!task.is_finished(), "server waits for the in-flight stream");
    release.notify_one();
    let resp = slow.await.unwrap().unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(read_body(resp.into_body()).await == pattern(300_000));
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("server stops once drained")
        .unwrap();
}

/// An endless body counting what the server pulled from it.
struct Counting {
    pulled: Arc<AtomicU64>,
    left: u64,
}

impl futures_core::Stream for Counting {
    type Item = Result<Bytes, h2kit_server::BoxError>;
    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(16 * 1024);
        self.left -= n;
        self.pulled.fetch_add(n, Ordering::SeqCst);
        Poll::Ready(Some(Ok(Bytes::from(vec![1u8; n as usize]))))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_reader_bounds_what_the_server_pulls_from_the_body() {
    const TOTAL: u64 = 8 << 20;
    let pulled = Arc::new(AtomicU64::new(0));
    let p = pulled.clone();
    let (addr, stop, task) = start(move |_req: Request<Body>| {
        let pulled = p.clone();
        async move {
            Response::new(Body::from_stream(Counting {
                pulled,
                left: TOTAL,
            }))
        }
    })
    .await;
    let mut client = connect(addr).await;
    let (resp, _) = client.send_request(get("/big"), true).unwrap();
    let resp = resp.await.unwrap();
    // The client reads nothing: the windows (64 KiB stream and connection) fill up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = pulled.load(Ordering::SeqCst);
    assert!(held > 0);
    assert!(
        held <= 65_535 + 65_535 + 16 * 1024,
        "server pulled {held} bytes for a reader that read nothing"
    );
    // Once the client reads, everything arrives.
    let body = read_body(resp.into_body()).await;
    assert_eq!(body.len() as u64, TOTAL);
    assert_eq!(pulled.load(Ordering::SeqCst), TOTAL);
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_tls_with_alpn_h2() {
    let server = Server::builder().tls_self_signed().build().await.unwrap();
    let addr = server.local_addr();
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let cert = server.certificate().unwrap().der().to_vec();
    assert!(
        server
            .certificate()
            .unwrap()
            .pem()
            .contains("BEGIN CERTIFICATE")
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve_with_shutdown(
        |req: Request<Body>| async move {
            let tls = req.extensions().get::<StreamInfo>().unwrap().tls;
            Response::new(Body::from(format!("tls={tls}")))
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.into()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (client, conn) = h2::client::handshake(tls).await.unwrap();
    tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    let (resp, _) = client
        .send_request(Request::get("https://localhost/").body(()).unwrap(), true)
        .unwrap();
    assert_eq!(
        read_body(resp.await.unwrap().into_body()).await,
        b"tls=true"
    );
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

/// Issue 11: a request body that ends short of its `content-length` is a stream error the
/// server raises itself (RST_STREAM PROTOCOL_ERROR); the handler's body must end at once with
/// an error naming the rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_body_shorter_than_its_content_length_fails_the_handlers_body() {
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let (addr, stop, task) = start(move |req: Request<Body>| {
        let seen = seen_tx.clone();
        async move {
            let outcome = match req.into_body().collect(1 << 20).await {
                Ok(c) => format!("complete {}", c.data.len()),
                Err(BodyError::Reset(e)) => format!("{e:?} {:?}", e.code()),
                Err(e) => format!("other {e}"),
            };
            let _ = seen.send(outcome);
            Response::new(Body::empty())
        }
    })
    .await;
    let mut client = connect(addr).await;
    let req = Request::post("http://localhost/upload")
        .header("content-length", "100")
        .body(())
        .unwrap();
    let (resp, mut send) = client.send_request(req, false).unwrap();
    send.send_data(Bytes::from_static(&[7; 50]), true).unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(60), seen_rx.recv())
        .await
        .expect("the handler's body waited instead of failing")
        .unwrap();
    assert_eq!(seen, "Violation(ContentLengthMismatch) PROTOCOL_ERROR");
    let err = resp.await.unwrap_err();
    assert_eq!(err.reason(), Some(h2::Reason::PROTOCOL_ERROR), "{err}");
    let _ = stop.send(());
    let _ = task.await;
}

/// What an h2c port answers to `first` before closing: every frame as (type, stream, payload)
/// when it answered with HTTP/2 frames, or the text when it answered HTTP/1.1.
async fn h2c_answer(first: &[u8]) -> Result<Vec<(u8, u32, Vec<u8>)>, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (addr, stop, task) =
        start(|_req: Request<Body>| async { Response::new(Body::empty()) }).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(first).await.unwrap();
    let mut got = Vec::new();
    // The server closes after its answer; the guard only stops a hang from stalling CI.
    tokio::time::timeout(Duration::from_secs(60), tcp.read_to_end(&mut got))
        .await
        .expect("the server neither answered nor closed")
        .unwrap();
    let _ = stop.send(());
    let _ = task.await;
    if got.starts_with(b"HTTP/1.1") {
        return Err(String::from_utf8_lossy(&got).into_owned());
    }
    let mut frames = Vec::new();
    let mut rest = &got[..];
    while rest.len() >= 9 {
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        let stream = u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]) & 0x7fff_ffff;
        frames.push((rest[3], stream, rest[9..9 + len].to_vec()));
        rest = &rest[9 + len..];
    }
    assert!(rest.is_empty(), "a partial frame: {got:?}");
    Ok(frames)
}

/// Issue 11 (h2spec's "invalid connection preface"): bytes that are neither the HTTP/2 preface
/// nor an HTTP/1.1 request are a connection error of type PROTOCOL_ERROR (RFC 9113 §3.4):
/// SETTINGS, then GOAWAY PROTOCOL_ERROR, then close. Before, they got an HTTP/1.1 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_preface_on_h2c_gets_goaway_protocol_error() {
    for first in [
        &b"INVALID CONNECTION PREFACE"[..],
        b"INVALID CONNECTION PREFACE\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",
    ] {
        let frames = h2c_answer(first)
            .await
            .unwrap_or_else(|http1| panic!("{first:?} got HTTP/1.1: {http1}"));
        let goaway = frames
            .iter()
            .find(|(t, _, _)| *t == 0x7)
            .unwrap_or_else(|| panic!("{first:?}: no GOAWAY in {frames:?}"));
        assert_eq!(goaway.1, 0);
        assert_eq!(&goaway.2[4..8], &1u32.to_be_bytes(), "PROTOCOL_ERROR");
        assert_eq!(frames[0].0, 0x4, "SETTINGS comes first");
    }
    // A real HTTP/1.1 request still gets an HTTP/1.1 answer (the Upgrade path).
    let http1 = h2c_answer(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap_err();
    assert!(http1.starts_with("HTTP/1.1 505"), "{http1}");
}

/// An `AsyncRead` of `left` bytes that counts what it was asked to read.
struct CountingReader {
    pulled: Arc<AtomicU64>,
    left: u64,
}

impl tokio::io::AsyncRead for CountingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.left);
        buf.put_slice(&vec![2u8; n as usize]);
        self.left -= n;
        self.pulled.fetch_add(n, Ordering::SeqCst);
        Poll::Ready(Ok(()))
    }
}

/// A body read on demand (`from_reader`, `from_file`) is read only with send credit in hand:
/// for a client that reads nothing, the server reads its 64 KiB window and the 16 KiB every
/// stream may have in flight, not a chunk more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_body_is_read_only_as_the_stream_may_send() {
    const TOTAL: u64 = 4 << 20;
    let pulled = Arc::new(AtomicU64::new(0));
    let p = pulled.clone();
    let (addr, stop, task) = start(move |_req: Request<Body>| {
        let pulled = p.clone();
        async move {
            Response::new(Body::from_reader(
                CountingReader {
                    pulled,
                    left: TOTAL,
                },
                Some(TOTAL),
            ))
        }
    })
    .await;
    let mut client = connect(addr).await;
    let (resp, _) = client.send_request(get("/big"), true).unwrap();
    let resp = resp.await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = pulled.load(Ordering::SeqCst);
    assert!(
        held <= 65_535 + 16 * 1024,
        "server read {held} bytes for a client that read nothing"
    );
    let body = read_body(resp.into_body()).await;
    assert_eq!(body.len() as u64, TOTAL);
    assert!(body.iter().all(|&b| b == 2));
    stop.send(()).unwrap();
    task.await.unwrap();
}

fn temp_file(name: &str, data: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("h2kit-server-{name}-{}", std::process::id()));
    std::fs::write(&path, data).unwrap();
    path
}

/// `Body::from_file`: positional reads of one shared descriptor by concurrent responses,
/// each its own range; a file shorter than promised resets the stream instead of ending it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_bodies_share_a_descriptor_and_a_short_file_resets_the_stream() {
    let data = pattern(3 << 20);
    let path = temp_file("from-file", &data);
    let file = Arc::new(std::fs::File::open(&path).unwrap());
    let f = file.clone();
    let (addr, stop, task) = start(move |req: Request<Body>| {
        let file = f.clone();
        async move {
            // /START/LEN
            let mut parts = req.uri().path().split('/').skip(1);
            let start: u64 = parts.next().unwrap().parse().unwrap();
            let len: u64 = parts.next().unwrap().parse().unwrap();
            Response::new(Body::from_file(file, start, len))
        }
    })
    .await;
    let client = connect(addr).await;
    let ranges = [
        (0usize, 3usize << 20),
        (1, 100_000),
        (2 << 20, 1 << 20),
        (77, 0),
    ];
    let fetches = ranges.map(|(start, len)| {
        let mut client = client.clone();
        tokio::spawn(async move {
            let (resp, _) = client
                .send_request(get(&format!("/{start}/{len}")), true)
                .unwrap();
            read_body(resp.await.unwrap().into_body()).await
        })
    });
    for ((start, len), fetch) in ranges.into_iter().zip(fetches) {
        let body = fetch.await.unwrap();
        assert!(body[..] == data[start..start + len], "{start}+{len}");
    }
    // Past the end: the response starts, then the stream is reset.
    let mut client = client;
    let (resp, _) = client
        .send_request(get(&format!("/{}/100", (3 << 20) - 10)), true)
        .unwrap();
    let mut body = resp.await.unwrap().into_body();
    let mut got = 0;
    let error = loop {
        match body.data().await {
            Some(Ok(chunk)) => got += chunk.len(),
            Some(Err(e)) => break e,
            None => panic!("a short file ended the body normally after {got} bytes"),
        }
    };
    assert!(got <= 10, "{got}");
    assert_eq!(error.reason(), Some(h2::Reason::INTERNAL_ERROR), "{error}");
    stop.send(()).unwrap();
    task.await.unwrap();
    let _ = std::fs::remove_file(&path);
}

/// A handler that answers without reading the request body: once the complete response is
/// written the server sends RST_STREAM NO_ERROR (RFC 9113 §8.1), so the client stops an
/// upload nobody reads instead of waiting for window that only a discarded body reopens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_upload_is_stopped_with_no_error_after_the_response() {
    let (addr, stop, task) =
        start(|_req: Request<Body>| async move { Response::new(Body::from("answered early")) })
            .await;
    let mut client = connect(addr).await;
    let req = Request::post("http://localhost/upload").body(()).unwrap();
    let (resp, mut send) = client.send_request(req, false).unwrap();
    send.reserve_capacity(1 << 20);
    send.send_data(Bytes::from(vec![0u8; 100_000]), false)
        .unwrap();
    let resp = resp.await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = read_body(resp.into_body()).await;
    assert_eq!(body, b"answered early");
    // The guard only stops a hang from stalling CI.
    let reason = tokio::time::timeout(
        Duration::from_secs(60),
        std::future::poll_fn(|cx| send.poll_reset(cx)),
    )
    .await
    .expect("the server never stopped the upload")
    .unwrap();
    assert_eq!(reason, h2::Reason::NO_ERROR);
    let _ = stop.send(());
    let _ = task.await;
}

/// A handler answers a POST whose body has not started: the stream is not reset with
/// NO_ERROR while the client has sent no body (nothing to stop), so what the client sends on
/// it next is still checked. Here a WINDOW_UPDATE that overflows the stream's send window,
/// sent after the whole response arrived, gets RST_STREAM FLOW_CONTROL_ERROR, and a small
/// body that contradicts its content-length gets PROTOCOL_ERROR. (httpwg's "window update
/// above max on stream" and "incorrect content length multiple data frames" cases raced the
/// NO_ERROR reset before.) A larger body sent later is still stopped with NO_ERROR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_response_does_not_reset_a_request_that_has_sent_no_body() {
    use h2kit::ErrorCode;
    use h2kit_test::{ScriptedPeer, fields, frames};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (addr, stop, task) =
        start(|_req: Request<Body>| async move { Response::new(Body::from("answered early")) })
            .await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut peer = ScriptedPeer::client();
    peer.auto_ack_settings(true);
    // Reads until `done` holds for the frames received so far (the guard only stops a hang
    // from stalling CI).
    async fn pump(
        tcp: &mut TcpStream,
        peer: &mut ScriptedPeer,
        seen: &mut Vec<h2kit_test::ReceivedFrame>,
        done: impl Fn(&[h2kit_test::ReceivedFrame]) -> bool,
    ) {
        let mut buf = vec![0u8; 16 * 1024];
        let waited = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let out = peer.take_output();
                if !out.is_empty() {
                    tcp.write_all(&out).await.unwrap();
                }
                seen.extend(peer.take_frames());
                if done(seen) {
                    return;
                }
                let n = tcp.read(&mut buf).await.unwrap();
                assert!(n > 0, "the server closed the connection");
                peer.feed(&buf[..n]);
            }
        })
        .await;
        assert!(
            waited.is_ok(),
            "the server stopped answering; received: {seen:#?}"
        );
    }
    let ended = |seen: &[h2kit_test::ReceivedFrame], id: u32| {
        seen.iter()
            .any(|f| f.stream_id().get() == id && f.end_stream())
    };
    let mut seen = Vec::new();
    peer.send(frames::preface())
        .send(frames::headers(1).fields(fields::post("/upload")));
    pump(&mut tcp, &mut peer, &mut seen, |p| ended(p, 1)).await;
    peer.send(frames::window_update(1, (1 << 31) - 1))
        .send(frames::window_update(1, (1 << 31) - 1));
    // Reads until stream `id` is reset; asserts that was the only reset, with `code`.
    async fn expect_reset(
        tcp: &mut TcpStream,
        peer: &mut ScriptedPeer,
        seen: &mut Vec<h2kit_test::ReceivedFrame>,
        id: u32,
        code: ErrorCode,
    ) {
        let is_rst = |f: &h2kit_test::ReceivedFrame| f.frame_type() == h2kit::FrameType::RST_STREAM;
        pump(tcp, peer, seen, |s| {
            s.iter().any(|f| is_rst(f) && f.stream_id().get() == id)
        })
        .await;
        let rst: Vec<_> = seen.drain(..).filter(is_rst).collect();
        assert_eq!(rst.len(), 1);
        assert!(rst[0].matches(frames::rst_stream(id, code)), "{}", rst[0]);
    }
    expect_reset(
        &mut tcp,
        &mut peer,
        &mut seen,
        1,
        ErrorCode::FLOW_CONTROL_ERROR,
    )
    .await;

    // A small body after the answer, shorter than its content-length: PROTOCOL_ERROR.
    let mut head = fields::post("/upload");
    head.push(h2kit_test::HeaderField::new("content-length", "10"));
    peer.send(frames::headers(3).fields(head));
    pump(&mut tcp, &mut peer, &mut seen, |p| ended(p, 3)).await;
    peer.send(frames::data(3, "te"))
        .send(frames::data(3, "st"))
        .send(frames::data(3, "ing").end_stream());
    expect_reset(&mut tcp, &mut peer, &mut seen, 3, ErrorCode::PROTOCOL_ERROR).await;

    // The same early answer with a larger body arriving afterwards: that upload is stopped.
    peer.send(frames::headers(5).fields(fields::post("/upload")));
    pump(&mut tcp, &mut peer, &mut seen, |p| ended(p, 5)).await;
    for _ in 0..3 {
        peer.send(frames::data(5, vec![0u8; 10_000]));
    }
    expect_reset(&mut tcp, &mut peer, &mut seen, 5, ErrorCode::NO_ERROR).await;
    drop(tcp);
    let _ = stop.send(());
    let _ = task.await;
}
