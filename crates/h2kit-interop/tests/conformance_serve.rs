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

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use h2kit_interop::{Peer, require_peer};
use h2kit_server::{Body, Handler, Server, StaticFiles};
use http::{Request, Response};

/// How long the whole suite may take (it needs well under a second when nothing stalls).
const SUITE_LIMIT: Duration = Duration::from_secs(120);

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("h2kit-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// "Passed N/M tests" from httpwg's summary line.
fn passed(output: &str) -> Option<(u32, u32)> {
    let line = output.lines().find(|l| l.contains("Passed "))?;
    let counts = line.split("Passed ").nth(1)?.split_whitespace().next()?;
    let (n, m) = counts.split_once('/')?;
    Some((n.parse().ok()?, m.parse().ok()?))
}

/// What one `httpwg` run reported.
struct Report {
    /// Exit status; `None` when it was killed after [`SUITE_LIMIT`].
    status: Option<ExitStatus>,
    /// stdout and stderr, colour codes removed.
    output: String,
}

impl Report {
    /// Full names ("RFC 9113 :: section :: case") of the lines starting with `mark`.
    fn cases(&self, mark: &str) -> Vec<&str> {
        self.output
            .lines()
            .filter_map(|l| l.split_once(mark).map(|(_, name)| name.trim()))
            .collect()
    }

    /// Cases that started (`-v` prints each) but did not report success: the failed and the
    /// panicked ones (a panicking case prints no "Test failed" line).
    fn failed(&self) -> Vec<&str> {
        let passed = self.cases("Test passed: ");
        let mut failed: Vec<&str> = self
            .cases("Running test: ")
            .into_iter()
            .filter(|c| !passed.contains(c))
            .collect();
        failed.sort_unstable();
        failed
    }

    fn tail(&self) -> String {
        let lines: Vec<&str> = self
            .output
            .lines()
            .filter(|l| !l.contains("Test passed: ") && !l.contains("Running test: "))
            .collect();
        lines[lines.len().saturating_sub(80)..].join("\n")
    }
}

/// Runs `httpwg -v -a addr` (frame and connect timeouts of 2 s instead of 250 ms, so a
/// loaded machine does not fail cases), killing it after [`SUITE_LIMIT`].
fn run_suite(httpwg: PathBuf, addr: String) -> Report {
    let mut child = Command::new(httpwg)
        .args([
            "-v",
            "--frame-timeout",
            "2000",
            "--connect-timeout",
            "2000",
            "-a",
        ])
        .arg(addr)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut r| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    })
    .collect();
    let deadline = Instant::now() + SUITE_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut output = String::new();
    for r in readers {
        output.push_str(&String::from_utf8_lossy(&r.join().unwrap_or_default()));
    }
    Report {
        status,
        output: strip_ansi(&output),
    }
}

/// Starts an h2c h2kit-server with `handler` on a free loopback port, runs the suite against
/// it, then shuts the server down.
async fn suite_against<H: Handler>(httpwg: PathBuf, handler: H) -> Report {
    let server = Server::builder().h2c().build().await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.serve_with_shutdown(handler, async move {
        let _ = stopped.await;
    }));
    let report = tokio::task::spawn_blocking(move || run_suite(httpwg, addr.to_string()))
        .await
        .unwrap();
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(15), running).await;
    report
}

/// Checks a run: finished in time, ran at least 107 cases, and the cases that did not pass
/// are exactly `expected_failures`.
fn check(report: &Report, expected_failures: &[&str]) {
    let summary = passed(&report.output);
    let failed = report.failed();
    println!(
        "httpwg: {summary:?}, exit {:?}, not passed: {failed:#?}",
        report.status
    );
    assert!(
        report.status.is_some(),
        "httpwg did not finish within {SUITE_LIMIT:?}\n{}",
        report.tail()
    );
    let (n, m) =
        summary.unwrap_or_else(|| panic!("httpwg printed no summary line\n{}", report.output));
    assert!(m >= 107, "httpwg ran only {m} cases");
    assert_eq!(
        failed,
        expected_failures,
        "httpwg passed {n}/{m}; cases not passed differ from the expected list\n{}",
        report.tail()
    );
    assert_eq!(n as usize + failed.len(), m as usize, "{}", report.tail());
    if expected_failures.is_empty() {
        assert!(
            report.status.is_some_and(|s| s.success()),
            "{}",
            report.tail()
        );
    }
}

fn httpwg(test: &str) -> Option<PathBuf> {
    match require_peer("httpwg", test) {
        Peer::Found(path) => Some(path),
        Peer::Skip => None,
    }
}

/// The server driver and core: a handler that reads the whole request body and answers
/// `200` with a 12-byte body, whatever the method. Every case must pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httpwg_suite_passes_against_the_tokio_server() {
    let Some(httpwg) = httpwg("httpwg_suite_passes_against_the_tokio_server") else {
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
    check(&report, &[]);
}

/// Cases `h2kit serve` does not pass, each with its reason. Keep this list empty when the
/// server allows it; the test fails when a listed case starts passing, so the list cannot
/// go stale. (It is empty: the `te trailers` case, a `POST /`, passes since the static file
/// handler answers POST like GET, as nghttpd does.)
const SERVE_GAPS: &[&str] = &[];

/// What `h2kit serve --h2c DIR` runs: the [`StaticFiles`] handler over a temp directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httpwg_suite_against_serve_h2c() {
    let Some(httpwg) = httpwg("httpwg_suite_against_serve_h2c") else {
        return;
    };
    let dir = TempDir::new("conformance-serve");
    std::fs::write(dir.0.join("index.html"), "<h1>h2kit</h1>\n").unwrap();
    let files = StaticFiles::new(&dir.0).unwrap();
    let report = suite_against(httpwg, files).await;
    check(&report, SERVE_GAPS);
}

#[test]
fn httpwg_summary_is_parsed() {
    let line = "\u{1b}[1m🚄 Passed \u{1b}[1;32m104/107\u{1b}[0m tests in 0.35 seconds";
    assert_eq!(passed(&strip_ansi(line)), Some((104, 107)));
    assert_eq!(passed("nothing"), None);
}
