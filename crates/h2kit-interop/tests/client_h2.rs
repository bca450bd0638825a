//! h2kit-client against an in-process server built on the `h2` crate, over loopback TCP.

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Reason, RecvStream};
use h2kit_client::{Body, Client, Error, ErrorCode, Initiator};
use http::{HeaderMap, Request, Response};
use tokio::net::TcpListener;

fn digest(data: &[u8]) -> String {
    let mut h = DefaultHasher::new();
    h.write(data);
    format!("{:016x}-{}", h.finish(), data.len())
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Bytes the `/slow-source` handler has been allowed to send so far.
static SENT_BY_SERVER: AtomicUsize = AtomicUsize::new(0);

/// What the h2 server saw of the client's resets of pushed streams (`/push-two`).
static PUSH_RESETS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

async fn handle(request: Request<RecvStream>, mut respond: SendResponse<Bytes>) {
    let path = request.uri().path().to_owned();
    let (parts, mut body) = request.into_parts();
    match path.as_str() {
        "/hello" => {
            let mut s = respond.send_response(Response::new(()), false).unwrap();
            s.send_data(Bytes::from_static(b"hello"), true).unwrap();
        }
        "/echo-digest" => {
            // Read everything, releasing capacity as we go, answer with a digest.
            let mut all = Vec::new();
            while let Some(chunk) = body.data().await {
                let chunk = chunk.unwrap();
                let _ = body.flow_control().release_capacity(chunk.len());
                all.extend_from_slice(&chunk);
            }
            let trailer = body
                .trailers()
                .await
                .ok()
                .flatten()
                .and_then(|t| t.get("x-checksum").cloned());
            let mut resp = Response::builder().header("x-digest", digest(&all));
            if let Some(t) = trailer {
                resp = resp.header("x-got-trailer", t);
            }
            let _ = respond.send_response(resp.body(()).unwrap(), true);
        }
        "/lazy-reader" => {
            // Does not read for a while: the client must not read its body source ahead.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut n = 0;
            while let Some(chunk) = body.data().await {
                let chunk = chunk.unwrap();
                let _ = body.flow_control().release_capacity(chunk.len());
                n += chunk.len();
            }
            let resp = Response::builder().header("x-len", n).body(()).unwrap();
            let _ = respond.send_response(resp, true);
        }
        "/slow-source" => {
            // Sends 8 MiB only as the client's windows allow, counting what it could send.
            let total = 8 << 20;
            let counted = parts.uri.query() == Some("count");
            let mut s = respond.send_response(Response::new(()), false).unwrap();
            let data = Bytes::from(pattern(total));
            let mut off = 0;
            while off < total {
                s.reserve_capacity((total - off).min(64 * 1024));
                let cap = match std::future::poll_fn(|cx| s.poll_capacity(cx)).await {
                    Some(Ok(c)) => c,
                    _ => return,
                };
                let end = (off + cap).min(total);
                if counted {
                    SENT_BY_SERVER.fetch_add(end - off, Ordering::SeqCst);
                }
                if s.send_data(data.slice(off..end), end == total).is_err() {
                    return;
                }
                off = end;
            }
        }
        "/reset-mid-body" => {
            let mut s = respond.send_response(Response::new(()), false).unwrap();
            s.send_data(Bytes::from(vec![7u8; 100_000]), false).unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            s.send_reset(Reason::INTERNAL_ERROR);
        }
        "/refuse" => respond.send_reset(Reason::REFUSED_STREAM),
        "/never" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(respond);
        }
        "/gzip" => {
            use std::io::Write;
            let accepted = parts
                .headers
                .get("accept-encoding")
                .is_some_and(|v| v.to_str().unwrap_or("").contains("gzip"));
            let plain = pattern(200_000);
            let (body, resp) = if accepted {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(&plain).unwrap();
                let gz = e.finish().unwrap();
                let resp = Response::builder()
                    .header("content-encoding", "gzip")
                    .header("content-length", gz.len())
                    .body(())
                    .unwrap();
                (gz, resp)
            } else {
                (plain, Response::new(()))
            };
            let mut s = respond.send_response(resp, false).unwrap();
            s.send_data(Bytes::from(body), true).unwrap();
        }
        "/trailers" => {
            let mut s = respond.send_response(Response::new(()), false).unwrap();
            s.send_data(Bytes::from_static(b"body"), false).unwrap();
            let mut t = HeaderMap::new();
            t.insert("grpc-status", "0".parse().unwrap());
            s.send_trailers(t).unwrap();
        }
        "/priority" => {
            let p = parts
                .headers
                .get("priority")
                .map(|v| v.to_str().unwrap_or("").to_owned())
                .unwrap_or_default();
            let resp = Response::builder()
                .header("x-priority", p)
                .body(())
                .unwrap();
            let _ = respond.send_response(resp, true);
        }
        "/push" => {
            // For this connection's own authority, as RFC 9113 §8.4 requires.
            let own = parts.uri.authority().map_or("", |a| a.as_str()).to_owned();
            let promised = Request::get(format!("http://{own}/pushed.css"))
                .body(())
                .unwrap();
            // Fails when the client refused push (SETTINGS_ENABLE_PUSH 0).
            if let Ok(mut pushed) = respond.push_request(promised) {
                let mut ps = pushed.send_response(Response::new(()), false).unwrap();
                ps.send_data(Bytes::from_static(b"body { }"), true).unwrap();
            }
            let mut s = respond.send_response(Response::new(()), false).unwrap();
            s.send_data(Bytes::from_static(b"<html>"), true).unwrap();
        }
        "/push-two" => {
            // One push for another origin (the client must refuse it: PROTOCOL_ERROR) and
            // one for ours, which the test cancels (CANCEL); the resets are recorded.
            let own = parts.uri.authority().map_or("", |a| a.as_str()).to_owned();
            for target in [
                "http://other.example/evil.js".to_owned(),
                format!("http://{own}/ok.js"),
            ] {
                let promised = Request::get(target.as_str()).body(()).unwrap();
                if let Ok(mut pushed) = respond.push_request(promised) {
                    let mut ps = pushed.send_response(Response::new(()), false).unwrap();
                    let _ = ps.send_data(Bytes::from(vec![b'j'; 100_000]), false);
                    tokio::spawn(async move {
                        let reason = tokio::time::timeout(
                            Duration::from_secs(60),
                            std::future::poll_fn(|cx| ps.poll_reset(cx)),
                        )
                        .await;
                        let reason = match reason {
                            Ok(Ok(r)) => format!("{target} {r:?}"),
                            other => format!("{target} no reset: {other:?}"),
                        };
                        PUSH_RESETS.lock().unwrap().push(reason);
                    });
                }
            }
            let mut s = respond.send_response(Response::new(()), false).unwrap();
            s.send_data(Bytes::from_static(b"<html>"), true).unwrap();
        }
        "/stall" => {
            // One byte, then a stream that stays open with nothing more.
            let mut s = respond.send_response(Response::new(()), false).unwrap();
            s.send_data(Bytes::from_static(b"x"), false).unwrap();
            tokio::time::sleep(Duration::from_secs(600)).await;
            drop(s);
        }
        "/trickle" => {
            // Ten bytes, one every 20 ms.
            let mut s = respond.send_response(Response::new(()), false).unwrap();
            for i in 0..10u8 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                s.send_data(Bytes::from(vec![b'0' + i]), i == 9).unwrap();
            }
        }
        "/short-body" => {
            // Announces 60,000 bytes, ends the stream after 30,000, and keeps the connection.
            let resp = Response::builder()
                .header("content-length", "60000")
                .body(())
                .unwrap();
            let mut s = respond.send_response(resp, false).unwrap();
            s.send_data(Bytes::from(vec![b'x'; 30_000]), true).unwrap();
        }
        p if p.starts_with("/n/") => {
            let body = format!("stream {}", &p[3..]);
            let mut s = respond.send_response(Response::new(()), false).unwrap();
            s.send_data(Bytes::from(body), true).unwrap();
        }
        _ => {
            let resp = Response::builder().status(404).body(()).unwrap();
            let _ = respond.send_response(resp, true);
        }
    }
}

async fn h2_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut conn = match h2::server::handshake(tcp).await {
                    Ok(c) => c,
                    Err(_) => return,
                };
                while let Some(Ok((req, respond))) = conn.accept().await {
                    tokio::spawn(handle(req, respond));
                }
            });
        }
    });
    addr
}

async fn client(addr: SocketAddr) -> Client {
    Client::connect(&format!("http://{addr}")).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_get_returns_the_body() {
    let c = client(h2_server().await).await;
    let resp = c.get("/hello").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(&resp.into_body().collect().await.unwrap()[..], b"hello");
    let resp = c.get("/nothing-here").await.unwrap();
    assert_eq!(resp.status(), 404);
    let rtt = c.ping().await.unwrap();
    assert!(rtt < Duration::from_secs(2), "{rtt:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_10_mib_streamed_upload_arrives_intact() {
    let c = client(h2_server().await).await;
    let data = pattern(10 << 20);
    let expected = digest(&data);
    let chunks: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(100_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let mut trailers = HeaderMap::new();
    trailers.insert("x-checksum", "abc".parse().unwrap());
    let body = Body::from_stream(futures_util::stream::iter(chunks)).with_trailers(trailers);
    let req = Request::post("/echo-digest").body(body).unwrap();
    let resp = c.send(req).await.unwrap();
    assert_eq!(resp.headers()["x-digest"], expected.as_str());
    assert_eq!(resp.headers()["x-got-trailer"], "abc");

    // The same from an AsyncRead, and a whole-buffer body.
    let reader = std::io::Cursor::new(data.clone());
    let req = Request::post("/echo-digest")
        .body(Body::from_reader(reader))
        .unwrap();
    let resp = c.send(req).await.unwrap();
    assert_eq!(resp.headers()["x-digest"], expected.as_str());
    let req = Request::post("/echo-digest")
        .body(Body::from(data))
        .unwrap();
    let resp = c.send(req).await.unwrap();
    assert_eq!(resp.headers()["x-digest"], expected.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_read_their_source_only_as_the_window_allows() {
    let c = client(h2_server().await).await;
    let pulled = Arc::new(AtomicUsize::new(0));
    let p = pulled.clone();
    let total = 10usize << 20;
    let source = futures_util::stream::iter((0..total / 16_384).map(move |_| {
        p.fetch_add(16_384, Ordering::SeqCst);
        Ok::<_, std::io::Error>(Bytes::from(vec![1u8; 16_384]))
    }));
    let req = Request::post("/lazy-reader")
        .body(Body::from_stream(source))
        .unwrap();
    let fut = tokio::spawn(c.send(req));
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The server has not read yet: its windows (64 KiB) plus our bounded queue (128 KiB
    // low-water mark + one 64 KiB piece + one source chunk) are all that may be pulled.
    let early = pulled.load(Ordering::SeqCst);
    assert!(early < 512 * 1024, "read {early} bytes ahead of the window");
    let resp = fut.await.unwrap().unwrap();
    assert_eq!(resp.headers()["x-len"], total.to_string().as_str());
    assert_eq!(pulled.load(Ordering::SeqCst), total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_throttles_the_server() {
    let c = client(h2_server().await).await;
    SENT_BY_SERVER.store(0, Ordering::SeqCst);
    let resp = c.get("/slow-source?count").await.unwrap();
    let mut body = resp.into_body();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before_reading = SENT_BY_SERVER.load(Ordering::SeqCst);
    // The stream window is our SETTINGS_INITIAL_WINDOW_SIZE (1 MiB) and nothing was
    // released: an auto-tuned window does not grow for a reader that does not read.
    let window = h2kit_client::Config::default().settings.initial_window_size as usize;
    assert!(
        before_reading <= window,
        "server could send {before_reading} bytes to a reader that read nothing"
    );
    let mut all = Vec::new();
    while let Some(chunk) = body.chunk().await {
        all.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(all, pattern(8 << 20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mid_body_is_a_typed_error() {
    let c = client(h2_server().await).await;
    let resp = c.get("/reset-mid-body").await.unwrap();
    let mut body = resp.into_body();
    let mut got = 0;
    let err = loop {
        match body.chunk().await {
            Some(Ok(b)) => got += b.len(),
            Some(Err(e)) => break e,
            None => panic!("a reset body must not end cleanly"),
        }
    };
    assert!(got <= 100_000);
    match err {
        Error::Reset(e) => {
            assert_eq!(e.code(), ErrorCode::INTERNAL_ERROR);
            assert_eq!(e.initiator(), Initiator::Remote);
        }
        other => panic!("expected a reset, got {other:?}"),
    }
    // A refused stream is retryable; the connection is still usable.
    let err = c.get("/refuse").await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(err.code(), Some(ErrorCode::REFUSED_STREAM));
    assert_eq!(c.get("/hello").await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailers_priority_and_push() {
    let c = client(h2_server().await).await;
    let mut body = c.get("/trailers").await.unwrap().into_body();
    assert_eq!(&body.chunk().await.unwrap().unwrap()[..], b"body");
    let t = body.trailers().await.unwrap().expect("trailers");
    assert_eq!(t["grpc-status"], "0");

    let mut req = Request::get("/priority").body(Body::empty()).unwrap();
    req.extensions_mut()
        .insert(h2kit_client::ExtensiblePriority {
            urgency: h2kit_client::Urgency::new(1).unwrap(),
            incremental: true,
        });
    let resp = c.send(req).await.unwrap();
    assert_eq!(resp.headers()["x-priority"], "u=1, i");

    // Push refused by default: the page still arrives.
    let mut fut = c.send(Request::get("/push").body(Body::empty()).unwrap());
    assert!(fut.pushes().is_none());
    assert_eq!(
        &fut.await.unwrap().into_body().collect().await.unwrap()[..],
        b"<html>"
    );

    // With push enabled, the promise and its response are exposed.
    let addr: SocketAddr = c.authority().as_str().parse().unwrap();
    let c = Client::builder()
        .enable_push(true)
        .connect(&format!("http://{addr}"))
        .await
        .unwrap();
    let mut fut = c.send(Request::get("/push").body(Body::empty()).unwrap());
    let mut pushes = fut.pushes().expect("push enabled");
    let page = fut.await.unwrap().into_body().collect().await.unwrap();
    assert_eq!(&page[..], b"<html>");
    let push = pushes.next().await.expect("one push");
    assert_eq!(push.request().uri().path(), "/pushed.css");
    let pushed = push.response().await.unwrap();
    assert_eq!(
        &pushed.into_body().collect().await.unwrap()[..],
        b"body { }"
    );
    assert!(pushes.next().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_streams_from_many_tasks() {
    let c = client(h2_server().await).await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let resp = c.get(&format!("/n/{i}")).await?;
            let body = resp.into_body().collect().await?;
            Ok::<_, Error>((i, body))
        }));
    }
    for t in tasks {
        let (i, body) = t.await.unwrap().unwrap();
        assert_eq!(body, format!("stream {i}").as_bytes());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goaway_lets_inflight_finish_and_refuses_new_requests_as_retryable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut conn = h2::server::handshake(tcp).await.unwrap();
        // First request: answer slowly, after starting a graceful shutdown.
        let (_req, mut respond) = conn.accept().await.unwrap().unwrap();
        conn.graceful_shutdown();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut s = respond.send_response(Response::new(()), false).unwrap();
            s.send_data(Bytes::from_static(b"finished"), true).unwrap();
        });
        while let Some(r) = conn.accept().await {
            if let Ok((_req, mut respond)) = r {
                let _ = respond.send_response(Response::new(()), true);
            }
        }
    });
    let c = client(addr).await;
    let first = tokio::spawn({
        let c = c.clone();
        async move { c.get("/first").await?.into_body().collect().await }
    });
    // Wait until the GOAWAY arrived.
    for _ in 0..100 {
        if !c.is_open() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!c.is_open(), "GOAWAY not seen");
    let err = c.get("/second").await.unwrap_err();
    assert!(matches!(err, Error::GoAway { .. }), "{err:?}");
    assert!(err.is_retryable(), "{err:?}");
    let body = first.await.unwrap().unwrap();
    assert_eq!(&body[..], b"finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_closing_mid_body_is_an_error_not_a_short_success() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut conn = h2::server::handshake(tcp).await.unwrap();
        let (_req, mut respond) = conn.accept().await.unwrap().unwrap();
        let mut s = respond.send_response(Response::new(()), false).unwrap();
        s.send_data(Bytes::from(vec![0u8; 1000]), false).unwrap();
        // Drive the connection briefly so the data goes out, then drop everything.
        let _ = tokio::time::timeout(Duration::from_millis(100), conn.accept()).await;
        drop(s);
        drop(conn);
    });
    let c = client(addr).await;
    let resp = c.get("/x").await.unwrap();
    let result = resp.into_body().collect().await;
    assert!(result.is_err(), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_host_and_bad_urls_are_typed() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = Client::connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(err.is_connect());
    assert!(matches!(
        Client::connect("ftp://x").await.unwrap_err(),
        Error::InvalidUrl(_)
    ));
    assert!(matches!(
        Client::connect("/just/a/path").await.unwrap_err(),
        Error::InvalidUrl(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_responses_are_decoded_when_asked() {
    let addr = h2_server().await;
    let plain_client = client(addr).await;
    let resp = plain_client.get("/gzip").await.unwrap();
    assert!(resp.headers().get("content-encoding").is_none());
    assert_eq!(resp.into_body().collect().await.unwrap(), pattern(200_000));

    let c = Client::builder()
        .decompress(true)
        .connect(&format!("http://{addr}"))
        .await
        .unwrap();
    let resp = c.get("/gzip").await.unwrap();
    // Decoded: the encoding headers no longer describe the body, so they are removed.
    assert!(resp.headers().get("content-encoding").is_none());
    assert!(resp.headers().get("content-length").is_none());
    assert_eq!(resp.into_body().collect().await.unwrap(), pattern(200_000));

    // Per request (python hyper's decode_content): on for one request of the plain client,
    // off for one request of the decoding client.
    let mut req = Request::get("/gzip").body(Body::empty()).unwrap();
    req.extensions_mut().insert(h2kit_client::Decompress(true));
    let resp = plain_client.send(req).await.unwrap();
    assert!(resp.headers().get("content-encoding").is_none());
    assert_eq!(resp.into_body().collect().await.unwrap(), pattern(200_000));
    let mut req = Request::get("/gzip")
        .header("accept-encoding", "gzip")
        .body(Body::empty())
        .unwrap();
    req.extensions_mut().insert(h2kit_client::Decompress(false));
    let resp = c.send(req).await.unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let raw = resp.into_body().collect().await.unwrap();
    assert!(raw.starts_with(&[0x1f, 0x8b]), "the gzip bytes as sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_timeout_cancels_and_reports_timeout() {
    let addr = h2_server().await;
    let c = Client::builder()
        .request_timeout(Some(Duration::from_millis(200)))
        .connect(&format!("http://{addr}"))
        .await
        .unwrap();
    let t0 = std::time::Instant::now();
    let err = c.get("/never").await.unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err:?}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    // The connection is still fine.
    assert_eq!(c.get("/hello").await.unwrap().status(), 200);
}

/// A window manager that counts what it is told and answers like python h2's automatic mode
/// would for every release (immediate increments).
#[derive(Debug)]
struct Counting {
    target: u32,
    released: Arc<AtomicUsize>,
}

impl h2kit_client::WindowPolicy for Counting {
    fn on_received(&mut self, _len: u32, _status: &h2kit_client::WindowStatus) -> u32 {
        0
    }
    fn on_released(&mut self, len: u32, _status: &h2kit_client::WindowStatus) -> u32 {
        self.released.fetch_add(len as usize, Ordering::SeqCst);
        len
    }
    fn target(&self) -> u32 {
        self.target
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_window_managers_are_used_per_stream() {
    let addr = h2_server().await;
    let released = Arc::new(AtomicUsize::new(0));
    let r = released.clone();
    let factory: h2kit_client::PolicyFactory = Arc::new(move |target| {
        Box::new(Counting {
            target,
            released: r.clone(),
        }) as Box<dyn h2kit_client::WindowPolicy>
    });
    let c = Client::builder()
        .stream_window(h2kit_client::WindowStrategy::Custom(factory))
        .connect(&format!("http://{addr}"))
        .await
        .unwrap();
    let body = c.get("/slow-source").await.unwrap().into_body();
    let all = body.collect().await.unwrap();
    assert_eq!(all.len(), 8 << 20);
    // Every byte read was released through the custom stream policy (except what arrived
    // in the last window: releases after END_STREAM only reopen the connection window).
    let n = released.load(Ordering::SeqCst);
    let window = h2kit_client::Config::default().settings.initial_window_size as usize;
    assert!(n >= (8 << 20) - window && n <= 8 << 20, "{n}");
}

/// Issue 11: a response body that ends short of its `content-length` is a stream error the
/// client raises itself (RST_STREAM PROTOCOL_ERROR): the body must end at once with an error
/// naming the rule, not wait until the server drops the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_shorter_than_its_content_length_fails_at_once_naming_the_rule() {
    let c = client(h2_server().await).await;
    let resp = c.get("/short-body").await.unwrap();
    assert_eq!(resp.status(), 200);
    // The server keeps the connection open; the guard only stops a hang from stalling CI.
    let result = tokio::time::timeout(Duration::from_secs(60), resp.into_body().collect())
        .await
        .expect("the body waited for the connection instead of failing");
    match result {
        Err(Error::Reset(e)) => {
            assert_eq!(
                e,
                h2kit_client::StreamError::Violation(
                    h2kit_client::ProtocolViolation::ContentLengthMismatch
                )
            );
            assert_eq!(e.code(), ErrorCode::PROTOCOL_ERROR);
            assert_eq!(e.initiator(), Initiator::Library);
        }
        other => panic!("expected a content-length stream error, got {other:?}"),
    }
    // Only the stream failed: the connection serves the next request.
    let body = c.get("/hello").await.unwrap().into_body().collect().await;
    assert_eq!(&body.unwrap()[..], b"hello");
}

/// Issue 13 (bad input): `--timeout` used to cover connecting and response headers only, so a
/// server sending a body byte now and then held the client as long as it liked. A stalled
/// body fails its read with `Error::Timeout` under `read_timeout`, and under `timeout` (the
/// whole request); the connection stays usable, and a steady trickle within the read
/// timeout is not cut off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_bodies_time_out_and_steady_ones_do_not() {
    let addr = h2_server().await;
    for builder in [
        Client::builder().read_timeout(Some(Duration::from_millis(100))),
        Client::builder().timeout(Some(Duration::from_millis(300))),
    ] {
        let c = builder.connect(&format!("http://{addr}")).await.unwrap();
        let mut body = c.get("/stall").await.unwrap().into_body();
        assert_eq!(&body.chunk().await.unwrap().unwrap()[..], b"x");
        // The guard only stops a hang from stalling CI.
        let next = tokio::time::timeout(Duration::from_secs(60), body.chunk())
            .await
            .expect("the stalled body never timed out");
        assert!(matches!(next, Some(Err(Error::Timeout))), "{next:?}");
        drop(body);
        let ok = c.get("/hello").await.unwrap().into_body().collect().await;
        assert_eq!(&ok.unwrap()[..], b"hello");
    }
    let c = Client::builder()
        .read_timeout(Some(Duration::from_secs(30)))
        .connect(&format!("http://{addr}"))
        .await
        .unwrap();
    let body = c.get("/trickle").await.unwrap().into_body().collect().await;
    assert_eq!(&body.unwrap()[..], b"0123456789");
}

/// Issue 13: a push for an origin the server is not authoritative for is refused with
/// RST_STREAM PROTOCOL_ERROR and never reaches the application (RFC 9113 §8.4); `cancel()`
/// on a push sends RST_STREAM CANCEL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_for_other_origins_are_refused_and_cancel_resets() {
    let addr = h2_server().await;
    let c = Client::builder()
        .enable_push(true)
        .connect(&format!("http://{addr}"))
        .await
        .unwrap();
    let mut fut = c.send(Request::get("/push-two").body(Body::empty()).unwrap());
    let mut pushes = fut.pushes().expect("push enabled");
    let page = fut.await.unwrap().into_body().collect().await.unwrap();
    assert_eq!(&page[..], b"<html>");
    let push = pushes.next().await.expect("the push for our own origin");
    assert_eq!(push.request().uri().path(), "/ok.js");
    push.cancel();
    assert!(
        pushes.next().await.is_none(),
        "the foreign push must not arrive"
    );
    // The guard only stops a hang from stalling CI.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let seen = PUSH_RESETS.lock().unwrap().clone();
        let evil = seen
            .iter()
            .any(|r| r.contains("evil.js") && r.contains("PROTOCOL_ERROR"));
        let ok = seen
            .iter()
            .any(|r| r.contains("ok.js") && r.contains("CANCEL"));
        if evil && ok {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "resets seen: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        c.get("/hello").await.is_ok(),
        "the connection is still fine"
    );
}
