//! The blocking client (`h2kit_client::blocking`) against the h2kit server on loopback:
//! many OS threads on one client and one connection, `std::io::Read`, chunks, trailers and
//! pushes. No external peer is needed.

use std::collections::HashSet;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use h2kit_client::blocking;
use h2kit_server::{Body, Server, StreamInfo};
use http::{HeaderMap, HeaderValue, Request, Response};

/// A server on its own runtime thread; it records the client address of every request.
struct Running {
    addr: SocketAddr,
    peers: Arc<Mutex<HashSet<SocketAddr>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn start() -> Running {
    let peers: Arc<Mutex<HashSet<SocketAddr>>> = Arc::default();
    let seen = peers.clone();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let server = Server::builder().build().await.unwrap();
            addr_tx.send(server.local_addr()).unwrap();
            let handler = move |req: Request<Body>| {
                let seen = seen.clone();
                async move {
                    let info = req.extensions().get::<StreamInfo>().cloned();
                    if let Some(peer) = info.as_ref().and_then(|i| i.remote_addr) {
                        seen.lock().unwrap().insert(peer);
                    }
                    let path = req.uri().path().to_owned();
                    match path.as_str() {
                        "/big" => Response::new(Body::full(pattern(300_000))),
                        "/trailers" => {
                            let mut t = HeaderMap::new();
                            t.insert("x-checksum", HeaderValue::from_static("c0ffee"));
                            Response::new(Body::full_with_trailers("with trailers", t))
                        }
                        "/push" => {
                            if let Some(info) = info {
                                for name in ["/a.css", "/b.js"] {
                                    let _ = info
                                        .pusher()
                                        .push(
                                            Request::get(name).body(()).unwrap(),
                                            Response::new(Body::from(format!("pushed {name}"))),
                                        )
                                        .await;
                                }
                            }
                            Response::new(Body::from("page"))
                        }
                        p => Response::new(Body::from(format!("hello {p}"))),
                    }
                }
            };
            server
                .serve_with_shutdown(handler, async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
    });
    Running {
        addr: addr_rx.recv().unwrap(),
        peers,
        stop: Some(stop),
        thread: Some(thread),
    }
}

#[test]
fn sixteen_threads_share_one_blocking_client_and_one_connection() {
    let server = start();
    let client = blocking::Client::connect(&format!("http://{}", server.addr)).unwrap();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let client = client.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    let path = format!("/t{t}/r{i}");
                    let response = client.get(&path).unwrap();
                    assert_eq!(response.status(), 200);
                    let body = response.into_body().collect().unwrap();
                    assert_eq!(body, format!("hello {path}").as_bytes());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        server.peers.lock().unwrap().len(),
        1,
        "every request on one connection"
    );
    assert!(client.ping().unwrap().as_secs() < 60);
    // The PING just answered is the connection's latest round trip.
    let stats = client.stats().unwrap();
    assert!(stats.rtt.is_some() && stats.min_rtt.is_some(), "{stats:?}");
    assert!(stats.peer_initial_window > 0, "{stats:?}");
    client.close();
}

#[test]
fn bodies_read_with_read_chunks_and_trailers() {
    let server = start();
    let client = blocking::Client::connect(&format!("http://{}", server.addr)).unwrap();
    let expected = pattern(300_000);

    // std::io::Read in small pieces (python hyper's read(amt)).
    let mut body = client.get("/big").unwrap().into_body();
    let mut got = Vec::new();
    let mut buf = [0u8; 1000];
    loop {
        let n = body.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got == expected, "read() lost or reordered bytes");

    // Chunk by chunk, as an iterator.
    let total: usize = client
        .get("/big")
        .unwrap()
        .into_body()
        .map(|chunk| chunk.unwrap().len())
        .sum();
    assert_eq!(total, expected.len());

    // Trailers after the data.
    let mut body = client.get("/trailers").unwrap().into_body();
    let mut text = String::new();
    body.read_to_string(&mut text).unwrap();
    assert_eq!(text, "with trailers");
    let trailers = body.trailers().unwrap().expect("trailers");
    assert_eq!(trailers["x-checksum"], "c0ffee");

    // request() now, response later.
    let pending = client.request(Request::get("/later").body(().into()).unwrap());
    let response = pending.response().unwrap();
    assert_eq!(response.into_body().collect().unwrap(), "hello /later");
}

#[test]
fn pushes_arrive_with_capture_all_and_can_be_cancelled() {
    let server = start();
    let builder = h2kit_client::Client::builder().enable_push(true);
    let client =
        blocking::Client::connect_with(builder, &format!("http://{}", server.addr)).unwrap();
    let mut pending = client.request(Request::get("/push").body(().into()).unwrap());
    let pushes = pending.pushes().expect("push is enabled");
    let response = pending.response().unwrap();
    assert_eq!(response.into_body().collect().unwrap(), "page");
    let mut pushes = pushes.all();
    assert_eq!(pushes.len(), 2);
    let b = pushes.pop().unwrap();
    let a = pushes.pop().unwrap();
    assert_eq!(a.request().uri().path(), "/a.css");
    assert_eq!(b.request().uri().path(), "/b.js");
    let body = a.response().unwrap().into_body().collect().unwrap();
    assert_eq!(body, "pushed /a.css");
    b.cancel();
    // The connection is still fine after a cancelled push.
    assert_eq!(
        client.get("/after").unwrap().into_body().collect().unwrap(),
        "hello /after"
    );
}
