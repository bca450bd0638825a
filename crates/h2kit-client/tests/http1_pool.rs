//! The HTTP/1.1 keep-alive pool against a minimal server of the test's own: a connection
//! is reused while fresh and closed by the client once idle past `http1_idle_timeout`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use h2kit_client::{Client, HttpVersions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Answers every request with `200 ok`, keeping connections open; counts the connections
/// and reports each one the client closes.
async fn server() -> (String, Arc<AtomicUsize>, mpsc::UnboundedReceiver<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let (closed_tx, closed_rx) = mpsc::unbounded_channel();
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            let closed = closed_tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while let Ok(read) = sock.read(&mut chunk).await {
                    if read == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..read]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if sock.write_all(answer).await.is_err() {
                            break;
                        }
                    }
                }
                let _ = closed.send(n);
            });
        }
    });
    (url, accepted, closed_rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http1_connection_is_reused_then_closed_after_the_idle_timeout() {
    let (url, accepted, mut closed) = server().await;
    let client = Client::builder()
        .http_versions(HttpVersions::Http1Only)
        .http1_idle_timeout(Some(Duration::from_millis(200)))
        .connect(&url)
        .await
        .unwrap();
    for _ in 0..2 {
        let body = client.get("/").await.unwrap().into_body().collect().await;
        assert_eq!(&body.unwrap()[..], b"ok");
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "the second request reused the first's"
    );
    // The guard only stops a hang from stalling CI.
    let first = tokio::time::timeout(Duration::from_secs(60), closed.recv())
        .await
        .expect("the client never closed its idle connection");
    assert_eq!(first, Some(1));
    let body = client.get("/").await.unwrap().into_body().collect().await;
    assert_eq!(&body.unwrap()[..], b"ok");
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "a new connection after the timeout"
    );
}
