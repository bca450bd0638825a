//! `HttpVersions::Http2Upgrade`: `http://` starts in HTTP/1.1 and asks for h2c with
//! `Upgrade: h2c` (RFC 7540 §3.2). The h2kit server and Go's h2c handler upgrade, and the
//! client then speaks HTTP/2 (the Go test skips, or fails under `H2KIT_REQUIRE_PEERS=1`,
//! without Go); nginx declines, and the client stays on HTTP/1.1 (tests/client_http1.rs).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use h2kit_client::{Client, HttpVersions};
use h2kit_interop::{Peer, go_peer};
use h2kit_server::{Body, Server};
use http::{Request, Response, Version};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_to_h2c_with_the_h2kit_server() {
    let server = Server::builder().h2c().build().await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let handler = |req: Request<Body>| async move {
            Response::new(Body::from(format!("{} {}", req.method(), req.uri().path())))
        };
        let _ = server
            .serve_with_shutdown(handler, async move {
                let _ = stopped.await;
            })
            .await;
    });
    let client = Client::builder()
        .http_versions(HttpVersions::Http2Upgrade)
        .connect(&format!("http://{addr}/start"))
        .await
        .unwrap();
    for path in ["/a", "/b"] {
        let response = client.get(path).await.unwrap();
        assert_eq!(response.version(), Version::HTTP_2);
        let body = response.into_body().collect().await.unwrap();
        assert_eq!(body, format!("GET {path}").as_bytes());
    }
    assert!(client.ping().await.is_ok(), "PING works: it is HTTP/2");
    let _ = stop.send(());
    let _ = task.await;
}

/// Go's `golang.org/x/net/http2/h2c` handler upgrades too. (nghttpd does not: it answers
/// an upgrade request with HTTP/2 frames, which the client reports as a bad status line.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_to_h2c_with_go() {
    let Some(program) = (match go_peer("upgrade_to_h2c_with_go") {
        Peer::Found(p) => Some(p),
        Peer::Skip => None,
    }) else {
        return;
    };
    let mut child = Command::new(program)
        .args(["server", "-mode", "h2c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().strip_prefix("listening ").unwrap().to_owned();
    let client = Client::builder()
        .http_versions(HttpVersions::Http2Upgrade)
        .connect(&format!("http://{addr}/bytes/10"))
        .await
        .unwrap();
    let response = client.get("/bytes/1000").await.unwrap();
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(response.into_body().collect().await.unwrap().len(), 1000);
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
}
