//! W7, the WAN benchmark: a download over a long fat link, in the h2kit-test `Pair` on its
//! virtual clock (1 Gbit/s each way, 50 ms each way, 100 ms RTT, 64 MiB), for each receive
//! window configuration of the client; with `sockets`, also over real loopback sockets
//! through a delaying, rate-limiting TCP relay (see `--help`).
//!
//! ```text
//! cargo run --release -p h2kit-bench --bin wan            # virtual link only
//! cargo build --release -p h2kit-cli                       # then, for real sockets:
//! cargo run --release -p h2kit-bench --bin wan -- sockets [--h2kit PATH]
//! ```
//!
//! `sockets`: a 16 MiB file from nghttpd behind the relay (100 Mbit/s, 50 ms each way),
//! fetched by `h2kit get --h2c` and by `curl --http2-prior-knowledge` (best of 2 each,
//! interleaved), then a 16 MiB upload (POST) by `h2kit get --data-file` and curl to an
//! h2kit-server (default configuration) whose handler reads the whole body, behind the same
//! relay, against the ideal time (size / rate + one RTT).
//!
//! Reported per configuration: the virtual time from sending the request to the last byte,
//! the goodput over that time, and the rate over the second half of the body (the steady
//! state once windows have grown), each against the link's rate, and the stream and
//! connection windows the client ended with. Configurations: the default (auto-tuned),
//! auto-tuned without raising SETTINGS_INITIAL_WINDOW_SIZE, a user-defined policy
//! (`WindowStrategy::Custom`), and fixed windows of the RFC's, Go's, Chrome's and curl's sizes
//! and of our caps.

use std::time::{Duration, Instant};

use bytes::Bytes;
use h2kit::flow::WindowStrategy;
use h2kit::{Config, Event, Field, StreamId};
use h2kit_test::Pair;

const LINK_BYTES_PER_SEC: u64 = 125_000_000; // 1 Gbit/s
const ONE_WAY: Duration = Duration::from_millis(50);
const BODY: usize = 64 << 20;
const CHUNK: usize = 256 << 10;

fn request() -> Vec<Field> {
    vec![
        Field::new(":method", "GET"),
        Field::new(":scheme", "https"),
        Field::new(":path", "/big"),
        Field::new(":authority", "wan.example"),
    ]
}

/// One download; returns the request-to-last-byte time, the time to the body's midpoint, the
/// time of its second half, and the client's windows at the end.
fn download(client: Config) -> (Duration, Duration, Duration, h2kit::flow::WindowStats) {
    let mut server = Config::default();
    // The application hands the whole body over at once; the windows decide the pace.
    server.limits.max_send_buffer_per_stream = BODY + CHUNK;
    let mut pair = Pair::new(client, server);
    pair.set_latency(ONE_WAY)
        .set_bandwidth(Some(LINK_BYTES_PER_SEC));
    pair.drive(); // connection preface and SETTINGS both ways
    let start = pair.now();
    let id = pair.client.send_request(request(), true).expect("request");
    // Run until the server sees the request.
    let mut got_request = false;
    while !got_request {
        assert!(pair.step() || pair.in_flight(h2kit_test::Direction::ToServer) > 0);
        got_request = pair
            .take_events(h2kit_test::Side::Server)
            .iter()
            .any(|e| matches!(e, Event::Request { .. }));
        if !got_request {
            pair.advance(Duration::from_millis(1));
        }
    }
    let sid = StreamId::new(id.get());
    pair.server
        .send_response(sid, vec![Field::new(":status", "200")], false)
        .expect("response");
    let body = Bytes::from(vec![0x5a; BODY]);
    let mut off = 0;
    while off < BODY {
        let end = (off + CHUNK).min(BODY);
        pair.server
            .send_data(sid, body.slice(off..end), end == BODY)
            .expect("data");
        off = end;
    }
    // Drive, watching the client's received bytes.
    let mut received = 0usize;
    let mut half_at = None;
    loop {
        let moved = pair.step();
        for e in pair.take_events(h2kit_test::Side::Client) {
            if let Event::Data {
                data, end_stream, ..
            } = e
            {
                received += data.len();
                if half_at.is_none() && received >= BODY / 2 {
                    half_at = Some(pair.now());
                }
                if end_stream {
                    assert_eq!(received, BODY);
                    let end = pair.now();
                    let half = half_at.unwrap_or(end);
                    let stats = pair.client.window_stats();
                    return (end - start, half - start, end - half, stats);
                }
            }
        }
        if !moved {
            // Quiet at this instant: let the clock run to the next arrival.
            pair.advance(Duration::from_micros(100));
        }
    }
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("sockets") {
        let h2kit = args
            .windows(2)
            .find(|w| w[0] == "--h2kit")
            .map(|w| std::path::PathBuf::from(&w[1]))
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/h2kit")
            });
        sockets(&h2kit);
        return;
    }
    virtual_link();
}

fn virtual_link() {
    let link = LINK_BYTES_PER_SEC as f64 / 1e6;
    println!(
        "W7 virtual: {} MiB download, {:.0} MB/s link (1 Gbit/s), {} ms one way ({} ms RTT)",
        BODY >> 20,
        link,
        ONE_WAY.as_millis(),
        2 * ONE_WAY.as_millis()
    );
    // The request's round trip comes first: over the whole transfer no window reaches more.
    let ceiling = ONE_WAY * 2 + Duration::from_secs_f64(BODY as f64 / LINK_BYTES_PER_SEC as f64);
    println!(
        "  ceiling: {:.2} s, {:.1}% of the link over the whole transfer (one round trip for the \
         request, then the body at the link's rate)",
        ceiling.as_secs_f64(),
        100.0 * mbps(BODY, ceiling) / link
    );
    println!(
        "  {:<36} {:>10} {:>12} {:>8} {:>14} {:>8}  stream / conn window",
        "client receive windows", "time", "goodput", "of link", "2nd half rate", "of link"
    );
    // A fixed window: `Threshold` with the given stream and connection sizes.
    let fixed = |stream: u32, connection: u32| {
        let mut c = Config {
            stream_window: WindowStrategy::Threshold,
            connection_window: WindowStrategy::Threshold,
            connection_window_size: connection,
            ..Config::default()
        };
        c.settings.initial_window_size = stream;
        c
    };
    let no_settings = Config {
        grow_initial_window: false,
        ..Config::default()
    };
    // A user-defined policy (WindowStrategy::Custom) that doubles after each window received.
    let doubling = Config {
        stream_window: WindowStrategy::Custom(std::sync::Arc::new(|initial| {
            Box::new(Doubling::new(
                initial,
                h2kit::flow::DEFAULT_STREAM_WINDOW_CAP,
            ))
        })),
        ..Config::default()
    };
    let cases: Vec<(&str, Config)> = vec![
        ("default: auto-tuned (Bdp)", Config::default()),
        ("auto-tuned, no SETTINGS raise", no_settings),
        ("custom (hyper shape): 2x per window", doubling),
        ("fixed 64 KiB (the RFC's)", fixed(65_535, 65_535)),
        ("fixed 4 MiB / 1 GiB (Go's client)", fixed(4 << 20, 1 << 30)),
        ("fixed 6 MiB / 15 MiB (Chrome)", fixed(6 << 20, 15 << 20)),
        ("fixed 10 MiB / 10 MiB (curl)", fixed(10 << 20, 10 << 20)),
        (
            "fixed 16 MiB / 32 MiB (our caps)",
            fixed(16 << 20, 32 << 20),
        ),
    ];
    for (name, config) in cases {
        let wall = Instant::now();
        let (total, _half, second_half, stats) = download(config);
        let goodput = mbps(BODY, total);
        let steady = mbps(BODY / 2, second_half);
        println!(
            "  {:<36} {:>8.2} s {:>7.1} MB/s {:>7.1}% {:>9.1} MB/s {:>7.1}%  {:>5.1} / {:>5.1} MiB  ({:.1} s of CPU)",
            name,
            total.as_secs_f64(),
            goodput,
            100.0 * goodput / link,
            steady,
            100.0 * steady / link,
            f64::from(stats.largest_stream_recv_target) / f64::from(1u32 << 20),
            f64::from(stats.connection_recv_target) / f64::from(1u32 << 20),
            wall.elapsed().as_secs_f64()
        );
    }
}

/// A user-defined policy for the table: hyper's `increase_window_size(frame_size)` shape,
/// doubling the window whenever a whole window was received since the last doubling and the
/// application has released it (no RTT needed, so it never asks for PINGs).
#[derive(Debug)]
struct Doubling {
    target: u32,
    max: u32,
    received: u64,
    owed: u64,
}

impl Doubling {
    fn new(target: u32, max: u32) -> Self {
        Doubling {
            target,
            max,
            received: 0,
            owed: 0,
        }
    }
}

impl h2kit::flow::WindowPolicy for Doubling {
    fn on_received(&mut self, len: u32, _: &h2kit::flow::WindowStatus) -> u32 {
        self.received += u64::from(len);
        0
    }

    fn on_released(&mut self, len: u32, status: &h2kit::flow::WindowStatus) -> u32 {
        self.owed += u64::from(len);
        if self.received >= u64::from(self.target) && self.target < self.max {
            let grown = self.target.saturating_mul(2).min(self.max);
            self.owed += u64::from(grown - self.target);
            self.target = grown;
            self.received = 0;
        } else if self.owed < u64::from(self.target / 2) && status.window > 0 {
            return 0;
        }
        std::mem::take(&mut self.owed).min(u64::from(u32::MAX)) as u32
    }

    fn target(&self) -> u32 {
        self.target
    }
}

// ------------------------------------------------------------------------- real sockets

const SOCKET_RATE: u64 = 12_500_000; // 100 Mbit/s
const SOCKET_BODY: usize = 16 << 20;

fn wait_for(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `cmd` and returns its wall time; panics with its output when it fails.
fn timed(cmd: &mut std::process::Command) -> Duration {
    let start = Instant::now();
    let out = cmd.output().expect("the program runs");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sockets(h2kit: &std::path::Path) {
    use std::process::{Command, Stdio};
    assert!(
        h2kit.is_file(),
        "{} is missing: cargo build --release -p h2kit-cli",
        h2kit.display()
    );
    let dir = std::env::temp_dir().join(format!("h2kit-wan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let big = dir.join("big.bin");
    std::fs::write(&big, vec![0x5au8; SOCKET_BODY]).expect("write the file");
    let rtt = 2 * ONE_WAY;
    let ideal = Duration::from_secs_f64(SOCKET_BODY as f64 / SOCKET_RATE as f64) + rtt;
    println!(
        "W7 sockets: {} MiB through a relay of {} Mbit/s and {} ms each way; ideal {:.2} s \
         (size / rate + one RTT)",
        SOCKET_BODY >> 20,
        SOCKET_RATE * 8 / 1_000_000,
        ONE_WAY.as_millis(),
        ideal.as_secs_f64()
    );

    // Download from nghttpd.
    let port = h2kit_interop::free_port().expect("a free port");
    let _nghttpd = Killed(
        Command::new("nghttpd")
            .args(["-a", "127.0.0.1", "-d"])
            .arg(&dir)
            .args(["--no-tls", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nghttpd (Debian nghttp2-server) starts"),
    );
    wait_for(port);
    let relay = h2kit_bench::relay::Relay::start(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        ONE_WAY,
        SOCKET_RATE,
    );
    let url = format!("http://{}/big.bin", relay.addr);
    let mut ours = Vec::new();
    let mut curl = Vec::new();
    for _ in 0..2 {
        ours.push(timed(Command::new(h2kit).args([
            "get",
            "--h2c",
            "-m",
            "300",
            "-o",
            "/dev/null",
            &url,
        ])));
        curl.push(timed(Command::new("curl").args([
            "-s",
            "-m",
            "300",
            "--http2-prior-knowledge",
            "-o",
            "/dev/null",
            &url,
        ])));
    }
    let (o, c) = (best(&ours), best(&curl));
    println!(
        "  download from nghttpd   h2kit get {:>6.2} s   curl {:>6.2} s   h2kit / curl {:.2}   (target <= 1.10)",
        o.as_secs_f64(),
        c.as_secs_f64(),
        o.as_secs_f64() / c.as_secs_f64()
    );
    drop(relay);

    // Upload to an h2kit server whose handler reads the whole body.
    let (port, _server) = sink_server();
    let relay = h2kit_bench::relay::Relay::start(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        ONE_WAY,
        SOCKET_RATE,
    );
    let url = format!("http://{}/sink", relay.addr);
    let file = big.to_string_lossy().into_owned();
    let mut ours = Vec::new();
    let mut curl = Vec::new();
    for _ in 0..2 {
        ours.push(timed(Command::new(h2kit).args([
            "get",
            "--h2c",
            "-m",
            "300",
            "-o",
            "/dev/null",
            "--data-file",
            &file,
            &url,
        ])));
        curl.push(timed(Command::new("curl").args([
            "-s",
            "-m",
            "300",
            "--http2-prior-knowledge",
            "-o",
            "/dev/null",
            "--data-binary",
            &format!("@{file}"),
            &url,
        ])));
    }
    let (o, c) = (best(&ours), best(&curl));
    println!(
        "  upload to h2kit serve   h2kit get {:>6.2} s   curl {:>6.2} s   h2kit / ideal {:.2}   (target <= 1.10)",
        o.as_secs_f64(),
        c.as_secs_f64(),
        o.as_secs_f64() / ideal.as_secs_f64()
    );
    drop(relay);
    let _ = std::fs::remove_dir_all(&dir);
}

fn best(runs: &[Duration]) -> Duration {
    runs.iter().copied().min().unwrap_or_default()
}

/// An h2c h2kit-server on its own runtime thread whose handler reads each request body to
/// its end and answers with its length; returns the port and a guard that stops it.
fn sink_server() -> (u16, SinkGuard) {
    use h2kit_server::{Body, Server};
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let server = Server::builder().h2c().build().await.expect("server");
            let _ = port_tx.send(server.local_addr().port());
            let handler = |req: http::Request<Body>| async move {
                let len = match req.into_body().collect(64 << 20).await {
                    Ok(c) => c.data.len(),
                    Err(_) => 0,
                };
                http::Response::new(Body::from(len.to_string()))
            };
            let _ = server
                .serve_with_shutdown(handler, async move {
                    let _ = stopped.await;
                })
                .await;
        });
    });
    (
        port_rx.recv().expect("the server's port"),
        SinkGuard {
            stop: Some(stop),
            thread: Some(thread),
        },
    )
}

struct SinkGuard {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SinkGuard {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
