//! `h2kit serve` run as a process, fetched with curl over h2c prior knowledge.
//!
//! Like the interop tests, a missing `curl` skips with a printed reason unless
//! `H2KIT_REQUIRE_PEERS=1`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn curl() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|d| d.join("curl"))
        .find(|c| c.is_file());
    if found.is_none() {
        assert!(
            std::env::var("H2KIT_REQUIRE_PEERS").as_deref() != Ok("1"),
            "curl is not installed but H2KIT_REQUIRE_PEERS=1"
        );
        eprintln!("SKIPPED: peer `curl` is not installed");
    }
    found
}

struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path, extra: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_h2kit"))
        .arg("serve")
        .arg(dir)
        .args(["--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    Served { child, url }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("h2kit-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("root/sub")).unwrap();
    dir
}

/// Runs curl and returns (status, body).
fn fetch(curl: &Path, args: &[&str], url: &str) -> (u16, Vec<u8>) {
    let out = Command::new(curl)
        .args(["-s", "--http2-prior-knowledge", "--path-as-is", "-o", "-"])
        .args(["-w", "\n%{http_code} %{http_version}"])
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    let mut body = out.stdout;
    let tail_at = body.iter().rposition(|&b| b == b'\n').unwrap();
    let tail = String::from_utf8(body.split_off(tail_at)).unwrap();
    let mut parts = tail.split_whitespace();
    let status: u16 = parts.next().unwrap().parse().unwrap();
    if status != 0 {
        assert_eq!(parts.next(), Some("2"), "not HTTP/2: {tail}");
    }
    (status, body)
}

#[test]
fn serves_a_file_byte_for_byte_with_etag_and_range() {
    let Some(curl) = curl() else { return };
    let dir = temp_dir("file");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 255) as u8).collect();
    std::fs::write(dir.join("root/sub/data.bin"), &data).unwrap();
    std::fs::write(dir.join("root/index.html"), b"<h1>hi</h1>").unwrap();
    let served = serve(&dir.join("root"), &["--h2c"]);
    let base = served.url.trim_end_matches('/');

    let (status, body) = fetch(&curl, &[], &format!("{base}/sub/data.bin"));
    assert_eq!(status, 200);
    assert!(body == data, "body differs ({} bytes)", body.len());

    let (status, body) = fetch(&curl, &[], &format!("{base}/"));
    assert_eq!((status, body.as_slice()), (200, &b"<h1>hi</h1>"[..]));

    let (status, body) = fetch(
        &curl,
        &["-H", "Range: bytes=100-199"],
        &format!("{base}/sub/data.bin"),
    );
    assert_eq!(status, 206);
    assert_eq!(body, &data[100..200]);

    // ETag: fetch the headers, then a conditional request gives 304.
    let (_, head) = fetch(&curl, &["-D", "-", "-I"], &format!("{base}/sub/data.bin"));
    let head = String::from_utf8(head).unwrap();
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .unwrap_or_else(|| panic!("no etag in {head}"))
        .trim()
        .to_owned();
    assert!(head.contains("content-length: 300000"), "{head}");
    let (status, body) = fetch(
        &curl,
        &["-H", &format!("If-None-Match: {etag}")],
        &format!("{base}/sub/data.bin"),
    );
    assert_eq!((status, body.len()), (304, 0));
    let (status, _) = fetch(&curl, &[], &format!("{base}/missing.txt"));
    assert_eq!(status, 404);
    let _ = std::fs::remove_dir_all(&dir);
}

/// What `StaticFiles` adds over the wire: a file larger than the memory limit streamed whole
/// and by range, Last-Modified / If-Modified-Since, HEAD, and a precompressed sibling.
#[test]
fn large_files_stream_and_validators_and_codings_work_over_the_wire() {
    let Some(curl) = curl() else { return };
    let dir = temp_dir("large");
    let data: Vec<u8> = (0..3_000_017u32)
        .map(|i| (i * 13 + i / 509) as u8)
        .collect();
    std::fs::write(dir.join("root/large.bin"), &data).unwrap();
    std::fs::write(dir.join("root/app.js"), b"plain").unwrap();
    std::fs::write(dir.join("root/app.js.gz"), b"not really gzip").unwrap();
    let served = serve(&dir.join("root"), &["--h2c"]);
    let base = served.url.trim_end_matches('/');
    for _ in 0..2 {
        let (status, body) = fetch(&curl, &[], &format!("{base}/large.bin"));
        assert_eq!(status, 200);
        assert!(body == data, "body differs ({} bytes)", body.len());
    }
    let (status, body) = fetch(
        &curl,
        &["-H", "Range: bytes=1000000-2999999"],
        &format!("{base}/large.bin"),
    );
    assert_eq!(status, 206);
    assert!(body[..] == data[1_000_000..3_000_000]);

    let (status, head) = fetch(&curl, &["-I"], &format!("{base}/large.bin"));
    assert_eq!(status, 200);
    let head = String::from_utf8(head).unwrap();
    assert!(head.contains("content-length: 3000017"), "{head}");
    let last_modified = head
        .lines()
        .find_map(|l| l.strip_prefix("last-modified: "))
        .unwrap_or_else(|| panic!("no last-modified in {head}"))
        .trim()
        .to_owned();
    let (status, body) = fetch(
        &curl,
        &["-H", &format!("If-Modified-Since: {last_modified}")],
        &format!("{base}/large.bin"),
    );
    assert_eq!((status, body.len()), (304, 0));

    let (status, body) = fetch(
        &curl,
        &["-D", "-", "-H", "Accept-Encoding: gzip"],
        &format!("{base}/app.js"),
    );
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("content-encoding: gzip"), "{text}");
    assert!(text.contains("vary: accept-encoding"), "{text}");
    assert!(text.ends_with("not really gzip"), "{text}");
    let (_, body) = fetch(&curl, &[], &format!("{base}/app.js"));
    assert_eq!(body, b"plain");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The access log is buffered: it reaches stderr within its interval, and all of it on a
/// graceful shutdown; `--quiet` has none.
#[cfg(unix)]
#[test]
fn the_access_log_is_written_and_quiet_has_none() {
    let Some(curl) = curl() else { return };
    let dir = temp_dir("log");
    std::fs::write(dir.join("root/a.txt"), b"a").unwrap();
    for quiet in [false, true] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_h2kit"))
            .arg("serve")
            .arg(dir.join("root"))
            .args(["--port", "0", "--h2c"])
            .args(if quiet { &["--quiet"][..] } else { &[][..] })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        for path in ["/a.txt", "/missing", "/a.txt"] {
            fetch(&curl, &[], &format!("{base}{path}"));
        }
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(" GET ")).collect();
        if quiet {
            assert!(lines.is_empty(), "{log}");
        } else {
            assert_eq!(lines.len(), 3, "{log}");
            assert!(
                lines[0].starts_with("127.0.0.1 GET /a.txt 200 1 bytes "),
                "{log}"
            );
            assert!(lines[1].contains("GET /missing 404 "), "{log}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn traversal_attempts_are_not_found() {
    let Some(curl) = curl() else { return };
    let dir = temp_dir("traversal");
    std::fs::write(dir.join("secret.txt"), b"secret").unwrap();
    std::fs::write(dir.join("root/ok.txt"), b"ok").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.join("secret.txt"), dir.join("root/link.txt")).unwrap();
    let served = serve(&dir.join("root"), &["--h2c"]);
    let base = served.url.trim_end_matches('/');
    let (status, body) = fetch(&curl, &[], &format!("{base}/ok.txt"));
    assert_eq!((status, body.as_slice()), (200, &b"ok"[..]));
    for path in [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/link.txt",
    ] {
        let (status, body) = fetch(&curl, &[], &format!("{base}{path}"));
        assert!(
            status == 404 || status == 400,
            "{path}: status {status}, body {:?}",
            String::from_utf8_lossy(&body)
        );
        assert!(!body.windows(6).any(|w| w == b"secret"), "{path} leaked");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_directory_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_h2kit"))
        .args(["serve", "/no/such/dir/h2kit", "--port", "0", "--h2c"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/no/such/dir/h2kit"), "{err}");
}

/// Issue 11: Go's `net/http` client downloading 100 files of 1 MiB at once on one connection
/// got 48-63 of them from `h2kit serve`: its WINDOW_UPDATEs after our END_STREAM tripped a
/// flood limit. Both TLS (Go's standard library) and h2c (golang.org/x/net/http2).
#[test]
fn go_client_downloads_100_files_at_once_over_tls_and_h2c() {
    let program = match h2kit_interop::go_peer("go_client_downloads_100_files_at_once") {
        h2kit_interop::Peer::Found(p) => p,
        h2kit_interop::Peer::Skip => return,
    };
    let dir = temp_dir("go");
    std::fs::create_dir_all(dir.join("root/bytes")).unwrap();
    // The pattern go/h2peer checks: byte i is i*7 + i/251 (mod 256).
    let data: Vec<u8> = (0..1usize << 20).map(|i| (i * 7 + i / 251) as u8).collect();
    std::fs::write(dir.join("root/bytes/1048576"), &data).unwrap();
    for (mode, extra) in [("tls", &[][..]), ("h2c", &["--h2c"][..])] {
        let served = serve(&dir.join("root"), extra);
        let base = served.url.trim_end_matches('/').to_owned();
        let out = Command::new(&program)
            .args(["client", "-mode", mode, "-base", &base, "-n", "100"])
            .args(["-size", "1048576"])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{mode}: {text}");
        assert!(text.contains("ok 100/100"), "{mode}: {text}");
        assert!(text.contains("HTTP/2.0:100"), "{mode}: {text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `h2kit get -x` through a proxy with credentials (`-U`), h2c in a CONNECT tunnel to
/// `h2kit serve`; without the credentials the proxy's 407 is exit code 56, as curl.
#[test]
fn get_through_a_proxy_with_credentials() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // "me:pw"
    let proxy = rt.block_on(h2kit_interop::proxy::TestProxy::start(Some(
        "Basic bWU6cHc=".into(),
    )));
    let dir = temp_dir("proxy");
    std::fs::write(dir.join("root/hello.txt"), b"hello through the tunnel").unwrap();
    let served = serve(&dir.join("root"), &["--h2c"]);
    let url = format!("{}hello.txt", served.url);
    let out = Command::new(env!("CARGO_BIN_EXE_h2kit"))
        .args(["get", "--h2c", "-x", &proxy.url(), "-U", "me:pw", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"hello through the tunnel");
    let seen = proxy.seen.lock().unwrap().clone();
    assert_eq!(seen[0].method, "CONNECT");
    let out = Command::new(env!("CARGO_BIN_EXE_h2kit"))
        .args(["get", "--h2c", "-x", &proxy.url(), &url])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(56),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("407"));
    let _ = std::fs::remove_dir_all(&dir);
}
