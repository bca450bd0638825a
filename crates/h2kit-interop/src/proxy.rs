//! A small HTTP proxy for tests (loopback only): CONNECT tunnels and forwarding of
//! absolute-form HTTP/1.1 requests, optional basic credentials, and a log of what it saw.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy saw of one client connection's first request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// `CONNECT`, `GET`, ...
    pub method: String,
    /// The request target (`host:port` for CONNECT, an absolute URL otherwise).
    pub target: String,
    /// The `Proxy-Authorization` value, if any.
    pub authorization: Option<String>,
}

/// A running test proxy; it stops when dropped.
pub struct TestProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Every connection's first request, in order.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestProxy {
    /// Starts a proxy on a loopback port (on the current tokio runtime). With `credentials`
    /// (`Basic …`), requests without that `Proxy-Authorization` get 407. Tunnels to port 9
    /// (discard) are refused with 403, for tests of refusals.
    pub async fn start(credentials: Option<String>) -> TestProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let log = log.clone();
                let credentials = credentials.clone();
                tokio::spawn(async move {
                    let _ = serve(client, credentials, log).await;
                });
            }
        });
        TestProxy { addr, seen, task }
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn serve(
    mut client: TcpStream,
    credentials: Option<String>,
    log: Arc<Mutex<Vec<Seen>>>,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    let seen = loop {
        let mut chunk = [0u8; 4096];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(len)) = req.parse(&buf) {
            let authorization = req
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("proxy-authorization"))
                .map(|h| String::from_utf8_lossy(h.value).into_owned());
            let seen = Seen {
                method: req.method.unwrap_or_default().to_owned(),
                target: req.path.unwrap_or_default().to_owned(),
                authorization,
            };
            let _ = len;
            break seen;
        }
        if buf.len() > 64 * 1024 {
            return Ok(());
        }
    };
    if let Ok(mut l) = log.lock() {
        l.push(seen.clone());
    }
    if credentials.is_some() && seen.authorization != credentials {
        client
            .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic realm=\"test\"\r\ncontent-length: 0\r\n\r\n")
            .await?;
        return Ok(());
    }
    if seen.method == "CONNECT" {
        if seen.target.ends_with(":9") {
            client
                .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
                .await?;
            return Ok(());
        }
        let mut upstream = TcpStream::connect(&seen.target).await?;
        client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await?;
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        return Ok(());
    }
    // Absolute form: connect to the URL's host and pass everything on (the origin accepts
    // absolute-form targets, RFC 9112 §3.2.2); later requests on the connection follow.
    let authority = seen
        .target
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_owned();
    let mut upstream = TcpStream::connect(&authority).await?;
    upstream.write_all(&buf[..]).await?;
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    Ok(())
}
