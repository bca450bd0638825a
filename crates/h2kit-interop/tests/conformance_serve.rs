//! Conformance of the tokio server against the independent RFC 9113 suite `httpwg`
//! (`cargo install --locked httpwg-cli`, 107 cases), each run bounded in time:
//!
//! * the h2kit-server h2c driver with a handler answering 200 to anything: every case passes;
//! * what `h2kit serve --h2c DIR` runs (an h2c listener on a loopback port with the
//!   [`StaticFiles`] handler over a temporary directory): every case passes except those in
//!   [`SERVE_GAPS`] (none today), each listed with its reason.
//!
//! Skipped with a message when `httpwg` is missing (looked up on `PATH` and in
//! `~/.cargo/bin`), failing instead under `H2KIT_REQUIRE_PEERS=1`.

use std::path::PathBuf;
use std::time::Duration;

use h2kit_interop::httpwg::{self, Report};
use h2kit_interop::{Peer, TempDir, require_peer};
use h2kit_server::{Body, Handler, Server, StaticFiles};
use http::{Request, Response};

/// Starts an h2c h2kit-server with `handler` on a free loopback port, runs the suite against
/// it, then shuts the server down.
async fn suite_against<H: Handler>(path: PathBuf, handler: H) -> Report {
    let server = Server::builder().h2c().build().await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.serve_with_shutdown(handler, async move {
        let _ = stopped.await;
    }));
    let report = tokio::task::spawn_blocking(move || httpwg::run(&path, &addr.to_string()))
        .await
        .unwrap()
        .unwrap();
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(15), running).await;
    report
}

fn httpwg_binary(test: &str) -> Option<PathBuf> {
    match require_peer("httpwg", test) {
        Peer::Found(path) => Some(path),
        Peer::Skip => None,
    }
}

/// The server driver and core: a handler that reads the whole request body and answers
/// `200` with a 12-byte body, whatever the method. Every case must pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httpwg_suite_passes_against_the_tokio_server() {
    let Some(httpwg) = httpwg_binary("httpwg_suite_passes_against_the_tokio_server") else {
        return;
    };
    let report = suite_against(httpwg, |req: Request<Body>| async move {
        match req.into_body().collect(1 << 20).await {
            Ok(_) => Response::new(Body::from("hello world\n")),
            Err(_) => {
                let mut r = Response::new(Body::empty());
                *r.status_mut() = http::StatusCode::BAD_REQUEST;
                r
            }
        }
    })
    .await;
    report.check(&[]);
}

/// Cases `h2kit serve` does not pass, each with its reason. Keep this list empty when the
/// server allows it; the test fails when a listed case starts passing, so the list cannot
/// go stale. (It is empty: the `te trailers` case, a `POST /`, passes since the static file
/// handler answers POST like GET, as nghttpd does.)
const SERVE_GAPS: &[&str] = &[];

/// What `h2kit serve --h2c DIR` runs: the [`StaticFiles`] handler over a temp directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httpwg_suite_against_serve_h2c() {
    let Some(httpwg) = httpwg_binary("httpwg_suite_against_serve_h2c") else {
        return;
    };
    let dir = TempDir::new("conformance-serve").unwrap();
    std::fs::write(dir.join("index.html"), "<h1>h2kit</h1>\n").unwrap();
    let files = StaticFiles::new(dir.path()).unwrap();
    let report = suite_against(httpwg, files).await;
    report.check(SERVE_GAPS);
}
