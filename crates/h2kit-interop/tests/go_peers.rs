//! h2kit against Go's `net/http` (built from `go/h2peer` by [`h2kit_interop::go_peer`]), both
//! roles, TLS and h2c: 100 concurrent 1 MiB downloads and 100 concurrent 1 MiB uploads on one
//! connection. Go's client returns window for every 32 KiB read on each stream, also after
//! END_STREAM, which an earlier flood limit took for an attack (issue 11). Each test skips (or
//! fails under `H2KIT_REQUIRE_PEERS=1`) without Go and Debian's `golang-golang-x-net-dev`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use h2kit_interop::server::RunningServer;
use h2kit_interop::{Peer, go_peer};
use h2kit_server::Body;
use http::{Request, Response};

const N: usize = 100;
const SIZE: usize = 1 << 20;

/// The byte at offset `i` of every body (the Go program uses the same function).
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn crc(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

fn program(test: &str) -> Option<PathBuf> {
    match go_peer(test) {
        Peer::Found(p) => Some(p),
        Peer::Skip => None,
    }
}

// ------------------------------------------------------------------ Go client, h2kit server

async fn handler(req: Request<Body>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    if let Some(n) = path.strip_prefix("/bytes/") {
        let n: usize = n.parse().unwrap_or(0);
        return Response::builder()
            .header("content-length", n)
            .body(Body::full(pattern(n)))
            .unwrap();
    }
    if path == "/sink" {
        return match req.into_body().collect(4 << 20).await {
            Ok(c) => Response::new(Body::from(format!("{} {:08x}", c.data.len(), crc(&c.data)))),
            Err(e) => Response::builder()
                .status(400)
                .body(Body::from(e.to_string()))
                .unwrap(),
        };
    }
    Response::builder().status(404).body(Body::empty()).unwrap()
}

async fn start(tls: bool) -> RunningServer {
    RunningServer::start(tls, handler).await
}

async fn go_client(program: PathBuf, mode: &str, base: String, upload: bool) -> (bool, String) {
    let mut args = vec![
        "client".to_owned(),
        "-mode".into(),
        mode.into(),
        "-base".into(),
        base,
        "-n".into(),
        N.to_string(),
        "-size".into(),
        SIZE.to_string(),
    ];
    if upload {
        args.push("-upload".into());
    }
    let out = tokio::task::spawn_blocking(move || Command::new(program).args(args).output())
        .await
        .unwrap()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn go_client_against_h2kit(test: &str, tls: bool, upload: bool) {
    let Some(program) = program(test) else {
        return;
    };
    let server = start(tls).await;
    let (mode, scheme) = if tls {
        ("tls", "https")
    } else {
        ("h2c", "http")
    };
    let base = format!("{scheme}://127.0.0.1:{}", server.addr.port());
    let (ok, text) = go_client(program, mode, base, upload).await;
    assert!(ok, "{test}: Go's client failed:\n{text}");
    assert!(text.contains(&format!("ok {N}/{N}")), "{text}");
    assert!(text.contains(&format!("HTTP/2.0:{N}")), "{text}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_client_tls_100_concurrent_downloads() {
    go_client_against_h2kit("go_client_tls_100_concurrent_downloads", true, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_client_h2c_100_concurrent_downloads() {
    go_client_against_h2kit("go_client_h2c_100_concurrent_downloads", false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_client_tls_100_concurrent_uploads() {
    go_client_against_h2kit("go_client_tls_100_concurrent_uploads", true, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_client_h2c_100_concurrent_uploads() {
    go_client_against_h2kit("go_client_h2c_100_concurrent_uploads", false, true).await;
}

// ------------------------------------------------------------------ h2kit client, Go server

/// A running `h2peer server`, ended when its stdin closes (on drop).
struct GoServer {
    child: Child,
    addr: String,
}

impl GoServer {
    fn start(program: &PathBuf, mode: &str) -> GoServer {
        let mut child = Command::new(program)
            .args(["server", "-mode", mode])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("h2peer server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("h2peer server said {line:?}"))
            .to_owned();
        GoServer { child, addr }
    }
}

impl Drop for GoServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn h2kit_client_against_go(test: &str, tls: bool) {
    let Some(program) = program(test) else {
        return;
    };
    let server = GoServer::start(&program, if tls { "tls" } else { "h2c" });
    let client = if tls {
        h2kit_client::Client::builder()
            .danger_accept_invalid_certs(true)
            .connect(&format!("https://{}", server.addr))
            .await
            .unwrap()
    } else {
        h2kit_client::Client::connect(&format!("http://{}", server.addr))
            .await
            .unwrap()
    };
    let expected = Bytes::from(pattern(SIZE));

    let mut tasks = Vec::new();
    for i in 0..N {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let resp = c.get(&format!("/bytes/{SIZE}")).await?;
            assert_eq!(resp.status(), 200, "download {i}");
            resp.into_body().collect().await
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let body = t
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("download {i}: {e}"));
        assert!(
            body == expected,
            "download {i}: {} bytes differ",
            body.len()
        );
    }

    let want = format!("{SIZE} {:08x}", crc(&expected));
    let mut tasks = Vec::new();
    for i in 0..N {
        let c = client.clone();
        let data = expected.clone();
        tasks.push(tokio::spawn(async move {
            let req = Request::post("/sink")
                .body(h2kit_client::Body::from(data))
                .unwrap();
            let resp = c.send(req).await?;
            assert_eq!(resp.status(), 200, "upload {i}");
            resp.into_body().collect().await
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let body = t
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("upload {i}: {e}"));
        assert_eq!(String::from_utf8_lossy(&body), want, "upload {i}");
    }
    assert!(client.is_open());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2kit_client_tls_against_go_server() {
    h2kit_client_against_go("h2kit_client_tls_against_go_server", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2kit_client_h2c_against_go_server() {
    h2kit_client_against_go("h2kit_client_h2c_against_go_server", false).await;
}
