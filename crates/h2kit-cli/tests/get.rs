//! `h2kit get` run as a process: against nghttpd (h2c), bad arguments, unreachable hosts.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use h2kit_interop::free_port;

fn h2kit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_h2kit"))
}

fn run(args: &[&str]) -> Output {
    h2kit().args(args).output().expect("h2kit runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// nghttpd's path, or `None` after printing a skip line (a panic under
/// H2KIT_REQUIRE_PEERS=1, as in h2kit-interop).
fn nghttpd(test: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|d| d.join("nghttpd"))
        .find(|p| p.is_file());
    if found.is_none() {
        if std::env::var("H2KIT_REQUIRE_PEERS").is_ok_and(|v| v == "1") {
            panic!("{test}: peer `nghttpd` is not installed but H2KIT_REQUIRE_PEERS=1");
        }
        eprintln!("SKIPPED {test}: peer `nghttpd` is not installed");
    }
    found
}

struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_h2c(program: &Path, tag: &str, fill: impl FnOnce(&Path)) -> Server {
    let dir = std::env::temp_dir().join(format!("h2kit-cli-get-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    fill(&dir);
    let port = free_port().unwrap();
    let child = Command::new(program)
        .args(["--no-tls", "-a", "127.0.0.1", "-d"])
        .arg(&dir)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nghttpd starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nghttpd did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server { child, port, dir }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 256) as u8).collect()
}

#[test]
fn get_against_nghttpd_h2c_returns_the_file_byte_for_byte() {
    let Some(program) = nghttpd("get_against_nghttpd_h2c_returns_the_file_byte_for_byte") else {
        return;
    };
    let data = pattern(3 << 20);
    let server = start_h2c(&program, "bytes", |d| {
        std::fs::write(d.join("file.bin"), &data).unwrap();
        std::fs::write(d.join("small.txt"), "small\n").unwrap();
    });
    let url = format!("http://127.0.0.1:{}/file.bin", server.port);

    // To stdout.
    let out = run(&["get", "--h2c", &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        out.stdout == data,
        "stdout differs ({} bytes)",
        out.stdout.len()
    );

    // To a file with -o.
    let target = server.dir.join("copy.bin");
    let out = run(&["get", &url, "-o", target.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read(&target).unwrap() == data);

    // -v traces frames with stream ids, flags and decoded headers on stderr only.
    let small = format!("http://127.0.0.1:{}/small.txt", server.port);
    let out = run(&["get", "-v", "-H", "x-test: 1", &small]);
    assert!(out.status.success());
    assert_eq!(out.stdout, b"small\n");
    let err = stderr(&out);
    assert!(
        err.contains("send HEADERS stream=1 flags=END_STREAM|END_HEADERS"),
        "{err}"
    );
    assert!(err.contains("x-test: 1"), "{err}");
    assert!(err.contains("recv DATA stream=1"), "{err}");
    assert!(err.contains(":status: 200"), "{err}");

    // -n: concurrent repeats with statistics.
    let out = run(&["get", "-n", "50", &small]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("50 completed, 0 failed"), "{err}");
    assert!(
        err.contains("req/s") && err.contains("latency min"),
        "{err}"
    );
    // --in-flight: at most M at a time, the rest as those finish.
    let out = run(&["get", "-n", "20", "--in-flight", "3", &small]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("at most 3 in flight"), "{err}");
    assert!(err.contains("20 completed, 0 failed"), "{err}");
    // It means nothing without -n.
    let out = run(&["get", "--in-flight", "3", &small]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // --fail on a 404 exits 22.
    let missing = format!("http://127.0.0.1:{}/missing", server.port);
    let out = run(&["get", "--fail", &missing]);
    assert_eq!(out.status.code(), Some(22), "{}", stderr(&out));
    assert!(stderr(&out).contains("404"));
    assert!(out.stdout.is_empty());
    let out = run(&["get", &missing]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let Some(program) = nghttpd("a_closed_stdout_is_not_an_error") else {
        return;
    };
    let server = start_h2c(&program, "pipe", |d| {
        std::fs::write(d.join("big.bin"), pattern(8 << 20)).unwrap();
    });
    let url = format!("http://127.0.0.1:{}/big.bin", server.port);
    let mut child = h2kit()
        .args(["get", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    let mut stdout = child.stdout.take().unwrap();
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn bad_arguments_exit_2_with_a_message() {
    let out = run(&["get"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("<URL>"), "{}", stderr(&out));

    let out = run(&["get", "-H", "no-colon-here", "http://127.0.0.1:1/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("expected NAME:VALUE"),
        "{}",
        stderr(&out)
    );

    let out = run(&["get", "ftp://example.com/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("http:// or https://"),
        "{}",
        stderr(&out)
    );

    let out = run(&["get", "--h2c", "https://example.com/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--h2c"), "{}", stderr(&out));

    let out = run(&["get", "-n", "0", "http://127.0.0.1:1/"]);
    assert_eq!(out.status.code(), Some(2));

    let out = run(&[
        "get",
        "--cacert",
        "/nonexistent/ca.pem",
        "https://127.0.0.1:1/",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read CA file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unreachable_host_gives_the_connection_exit_code() {
    let port = free_port().unwrap(); // nobody listens any more
    let out = run(&["get", &format!("http://127.0.0.1:{port}/")]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("cannot connect to 127.0.0.1:"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn unreadable_upload_file_exits_26() {
    let out = run(&[
        "get",
        "--data-file",
        "/nonexistent/upload.bin",
        "http://127.0.0.1:1/",
    ]);
    // The file is checked before connecting.
    assert_eq!(out.status.code(), Some(26), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot read /nonexistent/upload.bin"));
}
