//! Comparison benchmarks of the h2kit server and client against the `h2` crate and nghttp2,
//! on this machine, over h2c on loopback.
//!
//! ```text
//! cargo run --release -p h2kit-bench --bin compare -- [server|client|bulk|serve|all] [--quick] [--runs N]
//!     [--h2kit PATH]
//! ```
//!
//! * `server`: `h2load -c10 -m100 -n400000` on a 12-byte body, then `h2load -c4 -m4 -n2000`
//!   on a 1 MiB body, against the h2kit server, a minimal server on the `h2` crate (both on a
//!   tokio current-thread runtime) and `nghttpd` (one thread) serving the same bodies as files.
//! * `client`: the h2kit client and a minimal `h2`-crate client (current-thread runtimes) each
//!   fetching 200,000 small responses over one connection with 100 concurrent streams from
//!   `nghttpd`, with `h2load -c1 -m100 -n200000` as the reference.
//! * `bulk`: 200 fetches of a 1 MiB file from `nghttpd` over one connection, 4 and then 200
//!   in flight: `h2kit get -n 200 --in-flight M` (the binary beside this one, as for
//!   `serve`), the library client (a current-thread runtime, M tasks) and
//!   `h2load -c1 -mM -n200`; GB/s and client CPU per request, best of three times `--runs`
//!   runs (each takes a fraction of a second). The targets: `h2kit get`'s GB/s at least
//!   h2load's.
//! * `idle`: memory per idle connection: each server's resident set growth (VmRSS) after 1,000
//!   h2c connections that each made one GET and went quiet (`h2kit serve`, the library server,
//!   nghttpd, h2o when installed); the target is 7 KiB for `h2kit serve`.
//! * `busy`: `h2kit serve --quiet` against nghttpd under load, a fresh server per run: peak
//!   memory growth per connection (VmHWM) at 10, 100, 1,000 and 5,000 connections with 10
//!   streams each, and CPU per request at 1, 10 and 100 streams over 10 connections (best of
//!   `--runs` runs, the servers taking turns); the targets are nghttpd's figures.
//! * `priority`: what an urgent response waits behind. The h2kit client downloads four
//!   32 MiB files at RFC 9218 urgency 7 (incremental); once a sixteenth has arrived it asks
//!   for a 1 MiB file at urgency 0, and counts the bulk DATA its connection receives between
//!   sending that request and the urgent response's first DATA: data the server had already
//!   committed to the socket (or its own buffers) when the request arrived. Against
//!   `h2kit serve`, nghttpd and h2o (when installed); the target is 256 KiB for `h2kit serve`.
//! * `tls`: the `serve` part's two h2load runs over TLS (`https://`), `h2kit serve` against
//!   nghttpd and h2o, all three with one self-signed ECDSA P-256 certificate made for the
//!   run; the target is `h2kit serve`'s CPU per request at most the lower of the others'.
//! * `serve`: the same two h2load runs against what users run, `h2kit serve --h2c DIR` (the
//!   real binary, with its access log written to /dev/null, then with `--quiet`), against
//!   `nghttpd -d DIR` and, when installed, h2o (one thread, no access log), all serving a
//!   12-byte and a 1 MiB file from the same directory. The `h2kit` binary is the one beside
//!   this one (`cargo build --release -p h2kit-cli` puts it in `target/release`) unless
//!   `--h2kit PATH` names another; `all` skips this part with a note when it is missing.
//!
//! Servers run on core 0 and load generators on core 1 (`taskset`) when the machine has two
//! cores or more. The h2kit and `h2` servers and clients are this same binary started again
//! with a hidden `__serve-*` / `__client-*` mode, so each runs in its own pinned process.
//! Each figure is the best of `--runs N` (default 3) runs, since the machine may be shared;
//! in the server tables (`server`, `serve`, `tls`, `busy`) and the `client` table the runs
//! take turns, so a slow spell of the machine does not fall on all the runs of one program.
//! `--quick` divides every request count by 10 and runs once, for a smoke run. A missing `h2load` or
//! `nghttpd` is an error with a message saying what to install; a missing h2o only drops its
//! rows.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2kit_interop::TempDir;
use http::{Request, Response};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The small response body (12 bytes), served at every path but `/big`.
const HELLO: &[u8] = b"hello world\n";
/// The size of the large response body, served at `/big`.
const BIG_LEN: usize = 1 << 20;
/// How long one measurement may take before it is abandoned.
const RUN_LIMIT: Duration = Duration::from_secs(300);

fn big_body() -> Bytes {
    Bytes::from(vec![b'x'; BIG_LEN])
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("__serve-h2kit") => child_runtime().and_then(|rt| rt.block_on(serve_h2kit())),
        Some("__serve-h2") => child_runtime().and_then(|rt| rt.block_on(serve_h2())),
        Some(mode @ ("__client-h2kit" | "__client-h2")) => client_child(mode, &args[1..]),
        Some("__priority") => priority_child(&args[1..]),
        _ => return driver(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare child {}: {e}", args[0]);
            ExitCode::FAILURE
        }
    }
}

/// One worker thread for every Rust server and client measured: a current-thread runtime.
fn child_runtime() -> Result<tokio::runtime::Runtime, BoxError> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

// ---------------------------------------------------------------- child processes

/// Prints the port (the parent waits for this line), then serves until killed.
fn announce(addr: SocketAddr) -> Result<(), BoxError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", addr.port())?;
    out.flush()?;
    Ok(())
}

async fn serve_h2kit() -> Result<(), BoxError> {
    use h2kit_server::{Body, Server};
    let server = Server::builder().h2c().build().await?;
    announce(server.local_addr())?;
    let big = big_body();
    server
        .serve(move |req: Request<Body>| {
            let body = if req.uri().path() == "/big" {
                big.clone()
            } else {
                Bytes::from_static(HELLO)
            };
            async move { Response::new(Body::full(body)) }
        })
        .await?;
    Ok(())
}

/// A minimal server on the `h2` crate, shaped like the h2kit one: one task per connection,
/// one per request, a `200` with the body and nothing else.
async fn serve_h2() -> Result<(), BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    announce(listener.local_addr()?)?;
    let big = big_body();
    loop {
        let (sock, _) = listener.accept().await?;
        sock.set_nodelay(true)?;
        let big = big.clone();
        tokio::spawn(async move {
            let Ok(mut conn) = h2::server::handshake(sock).await else {
                return;
            };
            while let Some(Ok((req, mut respond))) = conn.accept().await {
                let body = if req.uri().path() == "/big" {
                    big.clone()
                } else {
                    Bytes::from_static(HELLO)
                };
                tokio::spawn(async move {
                    if let Ok(mut send) = respond.send_response(Response::new(()), false) {
                        let _ = send.send_data(body, true);
                    }
                });
            }
        });
    }
}

/// `__client-* URL N M`: N GETs of URL over one connection from M tasks; prints
/// `<responses> <body bytes> <seconds>`.
fn client_child(mode: &str, args: &[String]) -> Result<(), BoxError> {
    let [url, n, m] = args else {
        return Err("usage: __client-h2kit|__client-h2 URL N M".into());
    };
    let (n, m): (u64, u64) = (n.parse()?, m.parse()?);
    let rt = child_runtime()?;
    let (count, bytes, secs) = if mode == "__client-h2kit" {
        rt.block_on(client_h2kit(url, n, m))?
    } else {
        rt.block_on(client_h2(url, n, m))?
    };
    if count != n {
        return Err(format!("{count} of {n} requests completed").into());
    }
    println!("{count} {bytes} {secs}");
    Ok(())
}

/// Splits `n` requests over `m` tasks.
fn shares(n: u64, m: u64) -> impl Iterator<Item = u64> {
    (0..m).map(move |i| n / m + u64::from(i < n % m))
}

async fn join_all(
    tasks: Vec<tokio::task::JoinHandle<Result<(u64, u64), BoxError>>>,
) -> Result<(u64, u64), BoxError> {
    let (mut count, mut bytes) = (0, 0);
    for t in tasks {
        let (c, b) = t.await??;
        count += c;
        bytes += b;
    }
    Ok((count, bytes))
}

async fn client_h2kit(url: &str, n: u64, m: u64) -> Result<(u64, u64, f64), BoxError> {
    let client = h2kit_client::Client::connect(url).await?;
    let path = url.parse::<http::Uri>()?.path().to_owned();
    // One request first so the handshake is not timed.
    client.get(&path).await?.into_body().collect().await?;
    let start = Instant::now();
    let tasks = shares(n, m)
        .map(|share| {
            let client = client.clone();
            let path = path.clone();
            tokio::spawn(async move {
                let mut bytes = 0;
                for _ in 0..share {
                    let resp = client.get(&path).await?;
                    if resp.status() != 200 {
                        return Err(format!("status {}", resp.status()).into());
                    }
                    // Counted chunk by chunk (as h2load and `h2kit get -n` do), not collected
                    // into one buffer: a one-chunk body costs the same either way.
                    let mut body = resp.into_body();
                    while let Some(chunk) = body.chunk().await {
                        bytes += chunk?.len() as u64;
                    }
                }
                Ok((share, bytes))
            })
        })
        .collect();
    let (count, bytes) = join_all(tasks).await?;
    Ok((count, bytes, start.elapsed().as_secs_f64()))
}

/// A minimal client on the `h2` crate: one connection, `m` tasks sharing its `SendRequest`.
async fn client_h2(url: &str, n: u64, m: u64) -> Result<(u64, u64, f64), BoxError> {
    let uri: http::Uri = url.parse()?;
    let authority = uri.authority().ok_or("URL without host")?.as_str();
    let sock = tokio::net::TcpStream::connect(authority).await?;
    sock.set_nodelay(true)?;
    let (send, conn) = h2::client::handshake(sock).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    async fn fetch(
        send: h2::client::SendRequest<Bytes>,
        uri: &http::Uri,
    ) -> Result<(h2::client::SendRequest<Bytes>, u64), BoxError> {
        let mut send = send.ready().await?;
        let (resp, _) = send.send_request(Request::get(uri.clone()).body(())?, true)?;
        let resp = resp.await?;
        if resp.status() != 200 {
            return Err(format!("status {}", resp.status()).into());
        }
        let mut body = resp.into_body();
        let mut bytes = 0;
        while let Some(chunk) = body.data().await {
            let chunk = chunk?;
            bytes += chunk.len() as u64;
            body.flow_control().release_capacity(chunk.len())?;
        }
        Ok((send, bytes))
    }
    let (send, _) = fetch(send, &uri).await?;
    let start = Instant::now();
    let tasks = shares(n, m)
        .map(|share| {
            let mut send = send.clone();
            let uri = uri.clone();
            tokio::spawn(async move {
                let mut bytes = 0;
                for _ in 0..share {
                    let (s, b) = fetch(send, &uri).await?;
                    send = s;
                    bytes += b;
                }
                Ok((share, bytes))
            })
        })
        .collect();
    let (count, bytes) = join_all(tasks).await?;
    Ok((count, bytes, start.elapsed().as_secs_f64()))
}

// ---------------------------------------------------------------- the driver

#[derive(Clone, Copy, PartialEq)]
enum Part {
    Server,
    Client,
    Bulk,
    Serve,
    Idle,
    Priority,
    Tls,
    Busy,
    All,
}

/// External programs and how processes are placed.
struct Env {
    h2load: PathBuf,
    nghttpd: PathBuf,
    /// `taskset` when there are two cores or more to pin to.
    taskset: Option<PathBuf>,
    quick: bool,
    /// Each measurement is repeated this many times and the best kept.
    runs: u32,
    files: TempDir,
    /// The `h2kit` command line binary, for the `serve` part (`None`: not found).
    h2kit: Option<PathBuf>,
    /// h2o, for the `serve` part, when installed.
    h2o: Option<PathBuf>,
}

impl Env {
    /// A command for a server process (core 0 when pinning).
    fn on_server_core(&self, program: &Path) -> Command {
        self.pinned(program, "0")
    }

    /// A command for a load generator or client (core 1 when pinning).
    fn on_load_core(&self, program: &Path) -> Command {
        self.pinned(program, "1")
    }

    fn pinned(&self, program: &Path, core: &str) -> Command {
        match &self.taskset {
            Some(taskset) => {
                let mut c = Command::new(taskset);
                c.arg("-c").arg(core).arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    fn scaled(&self, n: u64) -> u64 {
        if self.quick { n / 10 } else { n }
    }
}

const USAGE: &str = "usage: compare [server|client|bulk|serve|tls|idle|busy|priority|all] [--quick] [--runs N] [--h2kit PATH]\n\
    \x20 --quick       request counts / 10 and one run (a smoke test)\n\
    \x20 --runs N      repeat each measurement N times and keep the best (default 3)\n\
    \x20 --h2kit PATH  the `h2kit` binary measured by `bulk`, `serve` and others (default: the one beside this \
    binary, target/release/h2kit after `cargo build --release -p h2kit-cli`)";

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}

fn driver(args: &[String]) -> ExitCode {
    let mut part = Part::All;
    let mut quick = false;
    let mut runs = None;
    let mut h2kit = None;
    let mut args = args.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "server" => part = Part::Server,
            "client" => part = Part::Client,
            "bulk" => part = Part::Bulk,
            "serve" => part = Part::Serve,
            "idle" => part = Part::Idle,
            "priority" => part = Part::Priority,
            "tls" => part = Part::Tls,
            "busy" => part = Part::Busy,
            "all" => part = Part::All,
            "--quick" => quick = true,
            "--runs" => match args.next().and_then(|n| n.parse::<u32>().ok()) {
                Some(n) if n >= 1 => runs = Some(n),
                _ => {
                    eprintln!("compare: --runs needs a number >= 1");
                    return usage();
                }
            },
            "--h2kit" => match args.next() {
                Some(path) => h2kit = Some(PathBuf::from(path)),
                None => {
                    eprintln!("compare: --h2kit needs a path");
                    return usage();
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("compare: unknown argument `{other}`");
                return usage();
            }
        }
    }
    let runs = runs.unwrap_or(if quick { 1 } else { 3 });
    match run(part, quick, runs, h2kit) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::FAILURE
        }
    }
}

fn need(program: &str, package: &str) -> Result<PathBuf, String> {
    h2kit_interop::which(program).ok_or_else(|| {
        format!("`{program}` is not installed (Debian/Ubuntu: apt-get install {package})")
    })
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// (idle, total) jiffies over all CPUs from the first line of /proc/stat.
fn cpu_times() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0);
    Some((idle, v.iter().take(8).sum()))
}

/// The share of CPU time left idle over one second, in percent (Linux only).
fn idle_percent() -> Option<u64> {
    let (i1, t1) = cpu_times()?;
    std::thread::sleep(Duration::from_secs(1));
    let (i2, t2) = cpu_times()?;
    (t2 > t1).then(|| 100 * (i2 - i1) / (t2 - t1))
}

/// The fields after the command name of a `/proc/<pid>/stat` line (the name, in parentheses,
/// may hold spaces): index 0 is field 3 (`state`) of proc(5).
fn stat_fields(pid: &str) -> Option<Vec<u64>> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn parse_stat(stat: &str) -> Option<Vec<u64>> {
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(
        rest.split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect(),
    )
}

/// /proc CPU times count in USER_HZ ticks, which Linux fixes at 100 per second.
fn ticks(n: u64) -> Duration {
    Duration::from_millis(n * 10)
}

/// User + system CPU time a live process has used so far (Linux only): its threads' run
/// time from schedstat, else proc(5) fields 14 and 15.
fn process_cpu(pid: u32) -> Option<Duration> {
    // Nanoseconds on a CPU, summed over the threads, when the kernel keeps schedstat
    // (proc(5) /proc/<pid>/task/<tid>/schedstat, field 1); ticks are 10 ms coarse.
    let run_ns = std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .map(|task| {
            let path = task.ok()?.path().join("schedstat");
            std::fs::read_to_string(path)
                .ok()?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum::<Option<u64>>();
    if let Some(ns) = run_ns {
        return Some(Duration::from_nanos(ns));
    }
    let f = stat_fields(&pid.to_string())?;
    Some(ticks(f.get(11)? + f.get(12)?))
}

/// User + system CPU time of this process's children that have been waited for, all their
/// threads: getrusage(2) `RUSAGE_CHILDREN` (to the microsecond), else proc(5) fields 16 and
/// 17 of this process (10 ms ticks, coarse for a run of a few tens of milliseconds).
fn reaped_children_cpu() -> Option<Duration> {
    use nix::sys::resource::{UsageWho, getrusage};
    if let Ok(usage) = getrusage(UsageWho::RUSAGE_CHILDREN) {
        let micros = |t: nix::sys::time::TimeVal| {
            u64::try_from(t.tv_sec()).unwrap_or(0) * 1_000_000
                + u64::try_from(t.tv_usec()).unwrap_or(0)
        };
        return Some(Duration::from_micros(
            micros(usage.user_time()) + micros(usage.system_time()),
        ));
    }
    let f = stat_fields("self")?;
    Some(ticks(f.get(13)? + f.get(14)?))
}

/// The `h2kit` binary: `given`, else the one beside this binary (both are built into
/// `target/release`); `None` when that does not exist.
fn h2kit_binary(given: Option<PathBuf>) -> Option<PathBuf> {
    given
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.join("h2kit"))
        })
        .filter(|p| p.is_file())
}

fn run(part: Part, quick: bool, runs: u32, h2kit: Option<PathBuf>) -> Result<(), String> {
    let h2kit = match (part, h2kit) {
        (
            Part::Bulk | Part::Serve | Part::Tls | Part::Idle | Part::Busy | Part::Priority,
            Some(given),
        ) if !given.is_file() => {
            return Err(format!("--h2kit {}: no such file", given.display()));
        }
        (_, given) => h2kit_binary(given),
    };
    if matches!(
        part,
        Part::Bulk | Part::Serve | Part::Tls | Part::Idle | Part::Busy | Part::Priority
    ) && h2kit.is_none()
    {
        return Err(
            "no `h2kit` binary beside this one: run `cargo build --release -p \
                    h2kit-cli` first, or pass --h2kit PATH"
                .to_owned(),
        );
    }
    let env = Env {
        h2load: need("h2load", "nghttp2-client")?,
        nghttpd: need("nghttpd", "nghttp2-server")?,
        taskset: h2kit_interop::which("taskset")
            .filter(|_| std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2),
        quick,
        runs,
        files: dir_with_bodies().map_err(|e| format!("cannot write the bodies: {e}"))?,
        h2kit,
        h2o: h2kit_interop::which("h2o"),
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "h2kit compare: h2c on loopback, {cores} cores, load average {}",
        loadavg()
    );
    match &env.taskset {
        Some(_) => println!(
            "setup: servers pinned to core 0, load generators/clients to core 1 (taskset); \
             Rust servers and clients on a tokio current-thread runtime, nghttpd and h2load \
             with 1 thread"
        ),
        None => println!(
            "setup: NOT pinned (taskset missing or 1 core): figures are less comparable; \
             Rust servers and clients on a tokio current-thread runtime, nghttpd and h2load \
             with 1 thread"
        ),
    }
    match idle_percent() {
        Some(idle) if idle < 90 => println!(
            "WARNING: only {idle}% of the CPU was idle just before the run: other processes \
             compete with the measured ones, figures are low and ratios noisy"
        ),
        Some(idle) => println!("CPU idle just before the run: {idle}%"),
        None => {}
    }
    println!("each figure is the best of {runs} run(s)");
    if quick {
        println!("--quick: request counts / 10 (smoke run, not for the record)");
    }
    let mut ok = true;
    if matches!(part, Part::Server | Part::All) {
        ok &= server_part(&env)?;
    }
    if matches!(part, Part::Client | Part::All) {
        ok &= client_part(&env)?;
    }
    // The parts that run the `h2kit` binary, in the order `all` runs them.
    type PartFn = fn(&Env) -> Result<bool, String>;
    let with_binary: [(Part, &str, PartFn); 6] = [
        (Part::Bulk, "bulk", bulk_part),
        (Part::Serve, "serve", serve_part),
        (Part::Tls, "tls", tls_part),
        (Part::Idle, "idle", idle_part),
        (Part::Busy, "busy", busy_part),
        (Part::Priority, "priority", priority_part),
    ];
    for (which, name, run) in with_binary {
        if part != which && part != Part::All {
            continue;
        }
        if env.h2kit.is_some() {
            ok &= run(&env)?;
        } else {
            println!(
                "\n{name}: skipped, no `h2kit` binary beside this one (cargo build --release -p \
                 h2kit-cli, or --h2kit PATH)"
            );
        }
    }
    println!(
        "load average at the end: {}; targets {}",
        loadavg(),
        if ok { "all met" } else { "NOT all met" }
    );
    Ok(())
}

/// One row of a table.
struct Row {
    name: &'static str,
    reqs_per_sec: f64,
    body_len: usize,
}

impl Row {
    fn gb_per_sec(&self) -> f64 {
        self.reqs_per_sec * self.body_len as f64 / 1e9
    }
}

fn print_table(title: &str, rows: &[Row]) {
    println!("\n{title}");
    println!(
        "  {:<22} {:>12} {:>10} {:>9}",
        "", "req/s", "GB/s", "h2kit is"
    );
    let ours = rows.first().map_or(0.0, |r| r.reqs_per_sec);
    for r in rows {
        println!(
            "  {:<22} {:>12.0} {:>10.3} {:>8.2}x",
            r.name,
            r.reqs_per_sec,
            r.gb_per_sec(),
            ours / r.reqs_per_sec
        );
    }
}

fn target(label: &str, value: f64, goal: f64, unit: &str) -> bool {
    let met = value >= goal;
    println!(
        "  target {label}: {value:.2}{unit} (goal >= {goal}{unit}) {}",
        if met { "met" } else { "MISSED" }
    );
    met
}

/// Prints a lower-is-better target line; `true` when met.
fn target_at_most(label: &str, value: f64, goal: f64, unit: &str) -> bool {
    let met = value <= goal;
    println!(
        "  target {label}: {value:.2}{unit} (goal <= {goal}{unit}) {}",
        if met { "met" } else { "MISSED" }
    );
    met
}

/// Which server a measurement runs against.
#[derive(Clone, Copy, PartialEq)]
enum Subject {
    H2kit,
    H2,
    Nghttpd,
    /// `h2kit serve --h2c` on the files directory, its access log on (to /dev/null) or off.
    Serve {
        quiet: bool,
    },
    /// h2o serving the files directory with one thread and no access log.
    H2o,
    /// `h2kit serve --quiet` over TLS with the part's certificate.
    ServeTls,
    /// `nghttpd -d` over TLS with the same certificate.
    NghttpdTls,
    /// h2o over TLS with the same certificate.
    H2oTls,
}

impl Subject {
    fn name(self) -> &'static str {
        match self {
            Subject::H2kit => "h2kit-server",
            Subject::H2 => "h2 crate (minimal)",
            Subject::Nghttpd => "nghttpd",
            Subject::Serve { quiet: false } => "h2kit serve",
            Subject::Serve { quiet: true } => "h2kit serve --quiet",
            Subject::H2o => "h2o",
            Subject::ServeTls => "h2kit serve --quiet",
            Subject::NghttpdTls => "nghttpd",
            Subject::H2oTls => "h2o",
        }
    }

    /// The URL scheme h2load uses for it.
    fn scheme(self) -> &'static str {
        match self {
            Subject::ServeTls | Subject::NghttpdTls | Subject::H2oTls => "https",
            _ => "http",
        }
    }
}

/// The rows of a server table and the CPU lines under them.
type Measured = (Vec<Row>, Vec<(&'static str, ServerCpu)>);

/// Which of `len` programs runs `k`th in round `round` when they take turns: the order is
/// reversed every other round, so a drift of the machine's speed favours none of them.
fn in_turn(round: u32, k: usize, len: usize) -> usize {
    if round % 2 == 0 { k } else { len - 1 - k }
}

/// One h2load run per subject, best of [`Env::runs`]: the table rows and the CPU lines
/// under them. Every subject's server is started first and the runs take turns (one run
/// of each, the order reversed every other round), so a slow spell of the machine, which
/// lasts seconds here (the kernel's copies into socket buffers at half speed), does not
/// fall on all the runs of one server.
fn measure_servers(
    env: &Env,
    subjects: &[Subject],
    path: &str,
    (c, m, n): (u32, u32, u64),
    body_len: usize,
) -> Result<Measured, String> {
    let servers = subjects
        .iter()
        .map(|&s| start_server(env, s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut best = vec![(0.0f64, ClientCpu::default()); subjects.len()];
    for round in 0..env.runs.max(1) {
        for k in 0..subjects.len() {
            let i = in_turn(round, k, subjects.len());
            let (s, server) = (subjects[i], &servers[i]);
            let url = format!("{}://{}{path}", s.scheme(), server.addr);
            let (rate, usage) = best_of_with_cpu(1, server.child.id(), n, || {
                h2load(env, &url, c, m, n).map_err(|e| format!("{}: {e}", s.name()))
            })?;
            if rate > best[i].0 {
                best[i] = (rate, usage);
            }
        }
    }
    let rows = subjects
        .iter()
        .zip(&best)
        .map(|(s, &(rate, _))| Row {
            name: s.name(),
            reqs_per_sec: rate,
            body_len,
        })
        .collect();
    let cpu = subjects
        .iter()
        .zip(&best)
        .map(|(s, &(rate, usage))| (s.name(), ServerCpu::from_run(usage, rate)))
        .collect();
    Ok((rows, cpu))
}

fn server_part(env: &Env) -> Result<bool, String> {
    let subjects = [Subject::H2kit, Subject::H2, Subject::Nghttpd];
    let n = env.scaled(400_000);
    let (small, small_cpu) = measure_servers(env, &subjects, "/hello", (10, 100, n), HELLO.len())?;
    print_table(
        &format!("server, small responses: h2load -c10 -m100 -n{n}, 12-byte body"),
        &small,
    );
    print_server_cpu(&small_cpu);
    let mut met = target(
        "h2kit / h2 crate",
        small[0].reqs_per_sec / small[1].reqs_per_sec,
        2.0,
        "x",
    );
    met &= target(
        "h2kit / nghttpd",
        100.0 * small[0].reqs_per_sec / small[2].reqs_per_sec,
        60.0,
        "%",
    );

    let n = env.scaled(2_000);
    let (large, large_cpu) = measure_servers(env, &subjects, "/big", (4, 4, n), BIG_LEN)?;
    print_table(
        &format!("server, 1 MiB responses: h2load -c4 -m4 -n{n}"),
        &large,
    );
    print_server_cpu(&large_cpu);
    met &= target(
        "h2kit 1 MiB throughput",
        large[0].gb_per_sec(),
        2.5,
        " GB/s",
    );
    Ok(met)
}

/// `h2kit serve` against the file servers it is compared with: the same two h2load runs as
/// the `server` part, on files. Target (issue 15's "done when"): `h2kit serve --quiet`'s
/// CPU per request at most the lower of nghttpd's and h2o's, for both files.
fn serve_part(env: &Env) -> Result<bool, String> {
    let mut subjects = vec![
        Subject::Serve { quiet: false },
        Subject::Serve { quiet: true },
        Subject::Nghttpd,
    ];
    if env.h2o.is_some() {
        subjects.push(Subject::H2o);
    } else {
        println!("\nserve: h2o is not installed (apt-get install h2o): its rows are left out");
    }
    // Row 1 is `h2kit serve --quiet` (the others run no access log either).
    files_against_others(env, &subjects, "serve", "h2kit serve --quiet", 1)
}

/// The 12-byte and the 1 MiB file from each of `subjects`, tables under `part`, and the
/// target that row `ours` (named `name`) spends at most the lowest CPU per request of the
/// rows after it.
fn files_against_others(
    env: &Env,
    subjects: &[Subject],
    part: &str,
    name: &str,
    ours: usize,
) -> Result<bool, String> {
    let mut met = true;
    for (title, path, load, body_len) in [
        (
            "a 12-byte file: h2load -c10 -m100",
            "/hello",
            (10, 100, env.scaled(400_000)),
            HELLO.len(),
        ),
        (
            "a 1 MiB file: h2load -c4 -m4",
            "/big",
            (4, 4, env.scaled(2_000)),
            BIG_LEN,
        ),
    ] {
        let (rows, cpu) = measure_servers(env, subjects, path, load, body_len)?;
        print_table(&format!("{part}, {title} -n{}", load.2), &rows);
        print_server_cpu(&cpu);
        let us = |i: usize| cpu.get(i).and_then(|(_, c)| c.server_us_per_req);
        if let (Some(mine), Some(best_other)) = (
            us(ours),
            (ours + 1..cpu.len()).filter_map(us).reduce(f64::min),
        ) {
            met &= target_at_most(
                &format!("{name}, {title}, CPU per request"),
                mine,
                (best_other * 100.0).round() / 100.0,
                " us",
            );
        }
    }
    Ok(met)
}

/// `h2kit serve` over TLS against nghttpd and h2o over TLS, all with the same certificate:
/// the `serve` part's two h2load runs on `https://` URLs. Target: `h2kit serve`'s CPU per
/// request at most the lower of the others', for both files (the issue's "done when").
fn tls_part(env: &Env) -> Result<bool, String> {
    let mut subjects = vec![Subject::ServeTls, Subject::NghttpdTls];
    if env.h2o.is_some() {
        subjects.push(Subject::H2oTls);
    }
    files_against_others(env, &subjects, "tls", "h2kit serve over TLS", 0)
}

/// Idle connections: each server's resident memory growth (VmRSS, /proc) after N h2c
/// connections that each made one request and then went quiet, per connection. Target for
/// `h2kit serve`: at most 7 KiB.
fn idle_part(env: &Env) -> Result<bool, String> {
    let n: usize = if env.quick { 200 } else { 1_000 };
    let mut subjects = vec![
        Subject::Serve { quiet: true },
        Subject::H2kit,
        Subject::Nghttpd,
    ];
    if env.h2o.is_some() {
        subjects.push(Subject::H2o);
    }
    println!(
        "\nidle: RSS growth per connection after {n} h2c connections, each one GET then quiet"
    );
    println!(
        "{:<24} {:>12} {:>12} {:>14}",
        "", "RSS before", "RSS after", "per connection"
    );
    let mut serve_kib = None;
    for subject in subjects {
        let server = start_server(env, subject)?;
        let pid = server.child.id();
        // Warm up: one connection's worth of one-time allocations is not per connection.
        drop(idle_connections(server.addr, 4)?);
        std::thread::sleep(Duration::from_millis(1500));
        let before = rss_kib(pid).ok_or("cannot read the server's VmRSS")?;
        let conns = idle_connections(server.addr, n)?;
        // Past the core's idle shrink (1 s) and a keep-alive round.
        std::thread::sleep(Duration::from_millis(2500));
        let after = rss_kib(pid).ok_or("cannot read the server's VmRSS")?;
        drop(conns);
        let per = after.saturating_sub(before) as f64 / n as f64;
        if subject == (Subject::Serve { quiet: true }) {
            serve_kib = Some(per);
        }
        println!(
            "{:<24} {:>9} KiB {:>9} KiB {:>10.1} KiB",
            subject.name(),
            before,
            after,
            per
        );
    }
    Ok(serve_kib
        .is_none_or(|kib| target_at_most("h2kit serve, per idle connection", kib, 7.0, " KiB")))
}

/// The resident set of process `pid` in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

/// A `/proc/<pid>/status` line in KiB (`VmRSS:`, `VmHWM:` for the peak).
fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One busy run: a fresh server, warmed up by 2,000 requests on one connection, then
/// `h2load -cC -mM` on the 12-byte file. Peak resident memory growth per connection (VmHWM
/// after the run, reset after the warm-up, against VmRSS before it) and the server's CPU
/// per request; `None` when h2load could not complete (too few file descriptors, say).
fn busy_run(
    env: &Env,
    subject: Subject,
    c: u32,
    m: u32,
) -> Result<Option<(f64, f64, f64)>, String> {
    let server = start_server(env, subject)?;
    let pid = server.child.id();
    let url = format!("http://{}/hello", server.addr);
    // A warm-up on one connection first, for both servers: the first requests fault in the
    // pages of the server's code and libraries it runs (about 1 MB for `h2kit serve`), which
    // is a cost per process, not per connection. The peak is then reset (clear_refs 5), so
    // the figure is what the `c` connections added.
    h2load(env, &url, 1, 10, 2_000)?;
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    let before = rss_kib(pid).ok_or("cannot read the server's VmRSS")?;
    let n = env.scaled((u64::from(c) * 20).max(200_000));
    let cpu0 = process_cpu(pid);
    let rate = match h2load(env, &url, c, m, n) {
        Ok(rate) => rate,
        Err(e) => {
            println!(
                "  {} -c{c} -m{m}: not measured: {}",
                subject.name(),
                e.lines().next().unwrap_or("")
            );
            return Ok(None);
        }
    };
    let cpu = process_cpu(pid)
        .zip(cpu0)
        .map_or(f64::NAN, |(b, a)| (b - a).as_secs_f64() * 1e6 / n as f64);
    let peak = status_kib(pid, "VmHWM:").ok_or("cannot read the server's VmHWM")?;
    Ok(Some((
        peak.saturating_sub(before) as f64 / f64::from(c),
        cpu,
        rate,
    )))
}

/// Busy connections, `h2kit serve --quiet` against nghttpd (a fresh server per run): peak
/// memory per connection at 10 to 5,000 connections with 10 streams each, and CPU per
/// request at 1, 10 and 100 streams per connection over 10 connections. Targets: at most
/// nghttpd's figure in every row. The rows over 10 connections are the best of
/// [`Env::runs`] runs per server, the two servers taking turns (this machine's speed drifts
/// by 20% from one run to the next, which one run each cannot tell from a difference of a
/// few percent); the others are one run each (memory does not drift).
fn busy_part(env: &Env) -> Result<bool, String> {
    let subjects = [Subject::Serve { quiet: true }, Subject::Nghttpd];
    println!(
        "\nbusy: h2load on the 12-byte file, a fresh server per run warmed up by 2,000 requests on \
         one connection (peak = VmHWM after the run minus VmRSS before it); over 10 connections \
         the best of {} runs per server, taking turns",
        env.runs
    );
    println!(
        "{:<24} {:>14} {:>18} {:>14} {:>10}",
        "", "h2load", "peak per conn", "server CPU", "req/s"
    );
    let mut met = true;
    let loads: Vec<(u32, u32, bool)> = [10, 100, 1000, 5000]
        .into_iter()
        .map(|c| (c, 10, true))
        .chain([1, 100].into_iter().map(|m| (10, m, false)))
        .collect();
    for (c, m, memory_row) in loads {
        let rounds = if c == 10 { env.runs } else { 1 };
        // Per subject: every run's (peak, CPU, rate).
        let mut runs: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); subjects.len()];
        for round in 0..rounds {
            for k in 0..subjects.len() {
                let i = in_turn(round, k, subjects.len());
                if let Some(figures) = busy_run(env, subjects[i], c, m)? {
                    runs[i].push(figures);
                }
            }
        }
        let mut figures = Vec::new();
        for (subject, runs) in subjects.iter().zip(&runs) {
            let best = |pick: fn(&(f64, f64, f64)) -> f64| {
                runs.iter().map(pick).fold(f64::INFINITY, f64::min)
            };
            if runs.is_empty() {
                continue;
            }
            let (peak, cpu) = (best(|r| r.0), best(|r| r.1));
            let rate = runs.iter().map(|r| r.2).fold(0.0, f64::max);
            let all: Vec<String> = runs.iter().map(|r| format!("{:.2}", r.1)).collect();
            println!(
                "{:<24} {:>14} {:>14.1} KiB {:>8.2} us/req {:>10.0}{}",
                subject.name(),
                format!("-c{c} -m{m}"),
                peak,
                cpu,
                rate,
                if runs.len() > 1 {
                    format!("   (runs: {} us)", all.join(", "))
                } else {
                    String::new()
                }
            );
            figures.push((peak, cpu));
        }
        if let [(our_peak, our_cpu), (their_peak, their_cpu)] = figures[..] {
            if memory_row {
                met &= target_at_most(
                    &format!("h2kit serve peak memory per connection at -c{c} -m{m}"),
                    our_peak,
                    (their_peak * 10.0).round() / 10.0,
                    " KiB",
                );
            }
            if c == 10 {
                met &= target_at_most(
                    &format!("h2kit serve CPU per request at -c{c} -m{m}"),
                    our_cpu,
                    (their_cpu * 100.0).round() / 100.0,
                    " us",
                );
            }
        }
    }
    Ok(met)
}

/// `n` h2c connections to `addr`, each having made one GET and read its response.
fn idle_connections(addr: SocketAddr, n: usize) -> Result<Vec<TcpStream>, String> {
    use h2kit::{Config, Connection, Event, Field};
    let mut out = Vec::with_capacity(n);
    let mut wire = bytes::BytesMut::new();
    let mut buf = vec![0u8; 16 * 1024];
    for _ in 0..n {
        let mut sock = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let mut conn = Connection::client(Config::default());
        let get = vec![
            Field::new(":method", "GET"),
            Field::new(":scheme", "http"),
            Field::new(":path", "/hello"),
            Field::new(":authority", "127.0.0.1"),
        ];
        let id = conn.send_request(get, true).map_err(|e| e.to_string())?;
        let mut done = false;
        while !done {
            wire.clear();
            while conn.poll_transmit(Instant::now(), &mut wire, None) > 0 {}
            if !wire.is_empty() {
                sock.write_all(&wire).map_err(|e| format!("write: {e}"))?;
            }
            let got = sock.read(&mut buf).map_err(|e| format!("read: {e}"))?;
            if got == 0 {
                return Err(format!("{addr} closed an idle-test connection"));
            }
            let _ = conn.recv(Instant::now(), &buf[..got]);
            while let Some(event) = conn.poll_event() {
                match event {
                    Event::Response {
                        stream,
                        end_stream: true,
                        ..
                    }
                    | Event::Data {
                        stream,
                        end_stream: true,
                        ..
                    } if stream == id => {
                        done = true;
                    }
                    Event::Terminated { error } => return Err(format!("{addr}: {error}")),
                    _ => {}
                }
            }
        }
        // Acknowledge what the response brought (SETTINGS ACK, WINDOW_UPDATE) and go quiet.
        wire.clear();
        while conn.poll_transmit(Instant::now(), &mut wire, None) > 0 {}
        if !wire.is_empty() {
            sock.write_all(&wire).map_err(|e| format!("write: {e}"))?;
        }
        out.push(sock);
    }
    Ok(out)
}

/// CPU use during one server measurement (Linux only; `None` where /proc is unreadable),
/// from [`best_of_with_cpu`]: there the "client" is h2load.
#[derive(Clone, Copy)]
struct ServerCpu {
    /// The server process's user + system time per request, in microseconds.
    server_us_per_req: Option<f64>,
    /// The server's CPU time over the measured interval, in percent of one core.
    server_busy: Option<f64>,
    /// h2load's user + system time per request (start-up included), in microseconds.
    load_us_per_req: Option<f64>,
    /// h2load's CPU time over the measured interval, in percent of one core: near 100
    /// means h2load, not the server, bounds the rate.
    load_busy: Option<f64>,
}

impl ServerCpu {
    fn from_run(c: ClientCpu, rate: f64) -> ServerCpu {
        ServerCpu {
            // busy% of one core over n / rate seconds, per request: busy / 100 / rate.
            server_us_per_req: c
                .server_busy
                .filter(|_| rate > 0.0)
                .map(|b| 1e6 * b / 100.0 / rate),
            server_busy: c.server_busy,
            load_us_per_req: c.client_us_per_req,
            load_busy: c.client_busy,
        }
    }
}

/// The CPU lines under a server table, then what they say: which side was the bottleneck,
/// the most each side could do on a core of its own (1 / its CPU per request, a figure
/// that other load on the machine disturbs far less than req/s), and the servers' CPU per
/// request against the first row's (h2kit's).
fn print_server_cpu(rows: &[(&str, ServerCpu)]) {
    let show = |v: Option<f64>, unit: &str| v.map_or("?".to_owned(), |v| format!("{v:.2}{unit}"));
    let busy = |v: Option<f64>| v.map_or("?".to_owned(), |v| format!("{v:.0}%"));
    println!(
        "  {:<22} {:>12} {:>7} {:>12} {:>7} {:>9}   (each row's best run; 100% = one core; \
         last column: that server's CPU per request / h2kit's)",
        "", "server CPU", "server", "h2load CPU", "h2load", "h2kit is"
    );
    let ours = rows.first().and_then(|(_, c)| c.server_us_per_req);
    for (name, c) in rows {
        // How many times h2kit's CPU per request this server spends (> 1: h2kit is cheaper).
        let ratio = c.server_us_per_req.zip(ours).map(|(t, o)| t / o);
        println!(
            "  {:<22} {:>12} {:>7} {:>12} {:>7} {:>9}",
            name,
            show(c.server_us_per_req, " us/req"),
            busy(c.server_busy),
            show(c.load_us_per_req, " us/req"),
            busy(c.load_busy),
            show(ratio, "x")
        );
    }
    let per_core = |us: Option<f64>| {
        us.filter(|&u| u > 0.0)
            .map_or("?".to_owned(), |u| format!("{:.0}k", 1e3 / u))
    };
    for (name, c) in rows {
        println!(
            "  {name}: on a core of its own, at most {} req/s for the server, {} for h2load",
            per_core(c.server_us_per_req),
            per_core(c.load_us_per_req)
        );
        if let (Some(load), Some(server)) = (c.load_busy, c.server_busy) {
            if load >= 90.0 && server < 90.0 {
                println!(
                    "  {name}: h2load used {load:.0}% of its core and the server {server:.0}%: \
                     the load generator bounds this rate; compare CPU per request instead"
                );
            }
        }
    }
}

fn client_part(env: &Env) -> Result<bool, String> {
    let n = env.scaled(200_000);
    let server = start_server(env, Subject::Nghttpd)?;
    let server_pid = server.child.id();
    let url = format!("http://{}/hello", server.addr);
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    // The two clients run as children of this binary; h2load is the reference.
    let clients = [
        ("h2kit-client", Some("__client-h2kit")),
        ("h2 crate (minimal)", Some("__client-h2")),
        ("h2load (reference)", None),
    ];
    let run_one = |name: &str, mode: Option<&str>| -> Result<f64, String> {
        let Some(mode) = mode else {
            return h2load(env, &url, 1, 100, n);
        };
        let mut cmd = env.on_load_core(&exe);
        cmd.args([mode, &url, &n.to_string(), "100"]);
        let out = run_bounded(cmd, name)?;
        let fields: Vec<f64> = out
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        match fields[..] {
            [count, _bytes, secs] if secs > 0.0 => Ok(count / secs),
            _ => Err(format!("{name}: unexpected output {out:?}")),
        }
    };
    // Best of `--runs` per client, the clients taking turns (the order reversed every other
    // round), so a slow spell of the machine does not fall on all the runs of one.
    let mut best = vec![(0.0f64, ClientCpu::default()); clients.len()];
    for round in 0..env.runs.max(1) {
        for k in 0..clients.len() {
            let i = in_turn(round, k, clients.len());
            let (name, mode) = clients[i];
            let (rate, usage) = best_of_with_cpu(1, server_pid, n, || run_one(name, mode))?;
            if rate > best[i].0 {
                best[i] = (rate, usage);
            }
        }
    }
    let rows: Vec<Row> = clients
        .iter()
        .zip(&best)
        .map(|(&(name, _), &(rate, _))| Row {
            name,
            reqs_per_sec: rate,
            body_len: HELLO.len(),
        })
        .collect();
    let cpu: Vec<(&str, ClientCpu)> = clients
        .iter()
        .zip(&best)
        .map(|(&(name, _), &(_, usage))| (name, usage))
        .collect();
    print_table(
        &format!(
            "client: {n} GETs of a 12-byte file from nghttpd, 1 connection, 100 concurrent streams"
        ),
        &rows,
    );
    print_client_cpu(&cpu);
    let rate = target(
        "h2kit client req/s / h2load's",
        100.0 * rows[0].reqs_per_sec / rows[2].reqs_per_sec,
        100.0,
        "%",
    );
    // Issue 12's target: the client's CPU per request at most h2load's.
    let cpu = match (cpu[0].1.client_us_per_req, cpu[2].1.client_us_per_req) {
        (Some(ours), Some(theirs)) if theirs > 0.0 => target_at_most(
            "h2kit client CPU per request / h2load's",
            100.0 * ours / theirs,
            100.0,
            "%",
        ),
        _ => {
            println!("  target h2kit client CPU per request / h2load's: not measured");
            false
        }
    };
    Ok(rate && cpu)
}

/// The `bulk` part's request count (before `--quick`) and its two in-flight limits.
const BULK: (u64, [u64; 2]) = (200, [4, 200]);
/// The `bulk` part repeats each measurement this many times `--runs`.
const BULK_RUNS_FACTOR: u32 = 3;

/// Bulk downloads over one connection: the 1 MiB file from nghttpd, `n` times with 4 and
/// then with `n` in flight, fetched by `h2kit get`, the library client and h2load. Targets:
/// `h2kit get`'s GB/s at least h2load's at each limit.
fn bulk_part(env: &Env) -> Result<bool, String> {
    let (n, limits) = BULK;
    let n = env.scaled(n);
    let server = start_server(env, Subject::Nghttpd)?;
    let server_pid = server.child.id();
    let url = format!("http://{}/big", server.addr);
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let h2kit = env.h2kit.as_deref().ok_or("no h2kit binary")?;
    // A run takes a fraction of a second and its rate swings with other load: three times
    // the runs of the other parts.
    let runs = env.runs * BULK_RUNS_FACTOR;
    println!("\nbulk: each figure is the best of {runs} run(s)");
    let mut met = true;
    for m in limits.map(|m| m.min(n)) {
        let get = best_of_with_cpu(runs, server_pid, n, || {
            let mut cmd = env.on_load_core(h2kit);
            cmd.args([
                "get",
                "--h2c",
                "-n",
                &n.to_string(),
                "--in-flight",
                &m.to_string(),
                &url,
            ]);
            let out = run_bounded_output(cmd, "h2kit get")?;
            parse_h2kit_get(&out.stderr, n).ok_or_else(|| {
                format!(
                    "h2kit get did not complete all {n} requests:\n{}",
                    out.stderr
                )
            })
        })?;
        let library = best_of_with_cpu(runs, server_pid, n, || {
            let mut cmd = env.on_load_core(&exe);
            cmd.args(["__client-h2kit", &url, &n.to_string(), &m.to_string()]);
            let out = run_bounded_output(cmd, "h2kit-client")?;
            let fields: Vec<f64> = out
                .stdout
                .split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect();
            match fields[..] {
                [count, bytes, secs] if secs > 0.0 && bytes == (count * BIG_LEN as f64) => {
                    Ok(count / secs)
                }
                _ => Err(format!("h2kit-client: unexpected output {:?}", out.stdout)),
            }
        })?;
        let m32 = u32::try_from(m).map_err(|_| "too many in flight")?;
        let reference = best_of_with_cpu(runs, server_pid, n, || h2load(env, &url, 1, m32, n))?;
        let measured = [
            ("h2kit get", get),
            ("h2kit-client (library)", library),
            ("h2load (reference)", reference),
        ];
        let rows: Vec<Row> = measured
            .iter()
            .map(|&(name, (rate, _))| Row {
                name,
                reqs_per_sec: rate,
                body_len: BIG_LEN,
            })
            .collect();
        print_table(
            &format!(
                "bulk: {n} GETs of a 1 MiB file from nghttpd, 1 connection, {m} in flight \
                 (h2kit get -n{n} --in-flight {m}; h2load -c1 -m{m} -n{n})"
            ),
            &rows,
        );
        let cpu: Vec<(&str, ClientCpu)> =
            measured.iter().map(|&(name, (_, c))| (name, c)).collect();
        print_client_cpu(&cpu);
        met &= target(
            &format!("h2kit get GB/s / h2load's, {m} in flight"),
            100.0 * rows[0].gb_per_sec() / rows[2].gb_per_sec(),
            100.0,
            "%",
        );
    }
    Ok(met)
}

/// The request rate `h2kit get -n N` reports (its h2load-style "finished in" line), when
/// its summary says all `n` completed without an error or an HTTP error status.
fn parse_h2kit_get(err: &str, n: u64) -> Option<f64> {
    let all_ok = format!("{n} completed, 0 failed, 0 with status >= 400");
    if !err.lines().any(|l| l.contains(&all_ok)) {
        return None;
    }
    let line = err.lines().find(|l| l.starts_with("finished in"))?;
    line.split(',')
        .find_map(|part| part.trim().strip_suffix(" req/s"))
        .and_then(|v| v.trim().parse().ok())
}

/// CPU use during one client measurement (Linux only; `None` where /proc is unreadable).
#[derive(Clone, Copy, Default)]
struct ClientCpu {
    /// The client process's user + system time per request, in microseconds.
    client_us_per_req: Option<f64>,
    /// The client process's CPU time over the measured interval, in percent of one core.
    client_busy: Option<f64>,
    /// nghttpd's CPU time over the measured interval, in percent of one core: near 100 means
    /// the server, not the client, bounds the rate.
    server_busy: Option<f64>,
}

/// The best (highest) of `runs` request rates of `measure`, a client process run to its
/// end against the server process `server_pid`, with the CPU both used during that run.
///
/// The client's CPU time is read from this process's reaped-children total (every client
/// is a child run to its end while no other child is reaped), so it includes the client's
/// start-up and handshake; busy shares divide by the measured interval (`n / rate`), during
/// which the server is the only other work.
fn best_of_with_cpu(
    runs: u32,
    server_pid: u32,
    n: u64,
    mut measure: impl FnMut() -> Result<f64, String>,
) -> Result<(f64, ClientCpu), String> {
    let mut best = (0.0f64, ClientCpu::default());
    for _ in 0..runs.max(1) {
        let (server0, children0) = (process_cpu(server_pid), reaped_children_cpu());
        let rate = measure()?;
        let (server1, children1) = (process_cpu(server_pid), reaped_children_cpu());
        if rate <= best.0 {
            continue;
        }
        let secs = n as f64 / rate;
        let spent = |a: Option<Duration>, b: Option<Duration>| {
            a.zip(b).map(|(a, b)| b.saturating_sub(a).as_secs_f64())
        };
        let client = spent(children0, children1);
        let server = spent(server0, server1);
        best = (
            rate,
            ClientCpu {
                client_us_per_req: client.map(|c| 1e6 * c / n as f64),
                client_busy: client.map(|c| 100.0 * c / secs),
                server_busy: server.map(|s| 100.0 * s / secs),
            },
        );
    }
    Ok(best)
}

fn print_client_cpu(rows: &[(&str, ClientCpu)]) {
    let show = |v: Option<f64>, unit: &str| v.map_or("?".to_owned(), |v| format!("{v:.2}{unit}"));
    println!(
        "  {:<22} {:>12} {:>10} {:>9}   (CPU of each row's best run; 100% = one core)",
        "", "client CPU", "client", "nghttpd"
    );
    for (name, c) in rows {
        println!(
            "  {:<22} {:>12} {:>10} {:>9}",
            name,
            show(c.client_us_per_req, " us/req"),
            show(c.client_busy.map(f64::round), "%"),
            show(c.server_busy.map(f64::round), "%")
        );
    }
}

// ---------------------------------------------------------------- processes

/// A server process; killed (it serves until then) and reaped on drop.
struct Running {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(env: &Env, subject: Subject) -> Result<Running, String> {
    let name = subject.name();
    let external = |mut cmd: Command, port: u16| -> Result<Running, String> {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let running = Running {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        wait_listening(running.addr, name)?;
        Ok(running)
    };
    let mode = match subject {
        Subject::H2kit => "__serve-h2kit",
        Subject::H2 => "__serve-h2",
        Subject::Nghttpd => {
            let port = free_port()?;
            let mut cmd = env.on_server_core(&env.nghttpd);
            cmd.arg("--no-tls")
                .arg("-d")
                .arg(env.files.path())
                .arg(port.to_string());
            return external(cmd, port);
        }
        Subject::Serve { quiet } => {
            let port = free_port()?;
            let bin = env.h2kit.as_deref().ok_or("no h2kit binary")?;
            let mut cmd = env.on_server_core(bin);
            // One thread: the server is pinned to one core, like nghttpd and h2o.
            cmd.arg("serve").arg(env.files.path()).args([
                "--h2c",
                "--threads",
                "1",
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ]);
            if quiet {
                cmd.arg("--quiet");
            }
            return external(cmd, port);
        }
        Subject::H2o | Subject::H2oTls => {
            let port = free_port()?;
            let bin = env.h2o.as_deref().ok_or("h2o is not installed")?;
            let config = env.files.join(format!("h2o-{port}.conf"));
            let tls = (subject == Subject::H2oTls)
                .then(|| tls_files(env))
                .transpose()?;
            std::fs::write(&config, h2o_config(env.files.path(), port, tls))
                .map_err(|e| format!("cannot write the h2o configuration: {e}"))?;
            let mut cmd = env.on_server_core(bin);
            cmd.arg("-c").arg(&config);
            return external(cmd, port);
        }
        Subject::NghttpdTls => {
            let port = free_port()?;
            let (cert, key) = tls_files(env)?;
            let mut cmd = env.on_server_core(&env.nghttpd);
            cmd.arg("-d")
                .arg(env.files.path())
                .arg(port.to_string())
                .arg(key)
                .arg(cert);
            return external(cmd, port);
        }
        Subject::ServeTls => {
            let port = free_port()?;
            let (cert, key) = tls_files(env)?;
            let bin = env.h2kit.as_deref().ok_or("no h2kit binary")?;
            let mut cmd = env.on_server_core(bin);
            cmd.arg("serve").arg(env.files.path()).args([
                "--quiet",
                "--threads",
                "1",
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ]);
            cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
            return external(cmd, port);
        }
    };
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let mut cmd = env.on_server_core(&exe);
    cmd.arg(mode).stdin(Stdio::null()).stdout(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let Ok(port) = line.trim().parse::<u16>() else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("{name} did not start (printed {line:?})"));
    };
    Ok(Running {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    })
}

fn free_port() -> Result<u16, String> {
    h2kit_interop::free_port().map_err(|e| format!("no free port: {e}"))
}

fn wait_listening(addr: SocketAddr, name: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            return Err(format!("{name} is not listening on {addr} after 10 s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Runs `cmd` to the end within [`RUN_LIMIT`]; its stdout, or an error with its output.
fn run_bounded(cmd: Command, name: &str) -> Result<String, String> {
    run_bounded_output(cmd, name).map(|f| f.stdout)
}

/// A process run to its end by [`run_bounded_output`].
struct Finished {
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to the end within [`RUN_LIMIT`]; its output, or an error with its output.
fn run_bounded_output(mut cmd: Command, name: &str) -> Result<Finished, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    let mut readers = [
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
    .map(|r| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    });
    let (stdout, stderr) = (readers.next(), readers.next());
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let text = |h: Option<std::thread::JoinHandle<String>>| {
        h.and_then(|h| h.join().ok()).unwrap_or_default()
    };
    let (stdout, stderr) = (text(stdout), text(stderr));
    match status {
        Some(s) if s.success() => Ok(Finished { stdout, stderr }),
        Some(s) => Err(format!("{name} failed ({s}):\n{stdout}{stderr}")),
        None => Err(format!("{name} did not finish within {RUN_LIMIT:?}")),
    }
}

/// Runs h2load against `addr` and returns its request rate, after checking that every
/// request succeeded with a 2xx.
fn h2load(env: &Env, url: &str, c: u32, m: u32, n: u64) -> Result<f64, String> {
    let mut cmd = env.on_load_core(&env.h2load);
    cmd.args([
        format!("-c{c}"),
        format!("-m{m}"),
        format!("-n{n}"),
        url.to_owned(),
    ]);
    let out = run_bounded(cmd, "h2load")?;
    parse_h2load(&out, n).ok_or_else(|| format!("h2load did not complete all {n} requests:\n{out}"))
}

/// The req/s of "finished in 2.31s, 173160.17 req/s, 6.85MB/s", when the "requests:" and
/// "status codes:" lines show `n` succeeded and `n` 2xx.
fn parse_h2load(out: &str, n: u64) -> Option<f64> {
    let field = |prefix: &str, suffix: &str| -> Option<u64> {
        let line = out.lines().find(|l| l.starts_with(prefix))?;
        line.split(',')
            .find_map(|part| part.trim().strip_suffix(suffix))
            .and_then(|v| v.trim().rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    let succeeded = field("requests:", " succeeded")?;
    let ok = field("status codes:", " 2xx")?;
    if succeeded != n || ok != n {
        return None;
    }
    let line = out.lines().find(|l| l.starts_with("finished in"))?;
    line.split(',')
        .find_map(|part| part.trim().strip_suffix(" req/s"))
        .and_then(|v| v.trim().parse().ok())
}

// ---------------------------------------------------------------- priority

/// The `priority` part's bulk downloads: how many, and each one's size.
const PRIORITY_BULK: (usize, usize) = (4, 32 << 20);
/// The `priority` part's urgent response size.
const PRIORITY_URGENT: usize = 1 << 20;

/// What an urgent response waits behind, per server (see the module documentation).
fn priority_part(env: &Env) -> Result<bool, String> {
    let (streams, bulk) = PRIORITY_BULK;
    let write = |name: &str, len: usize| {
        std::fs::write(env.files.join(name), vec![b'b'; len])
            .map_err(|e| format!("cannot write {name}: {e}"))
    };
    write("bulk", bulk)?;
    write("urgent", PRIORITY_URGENT)?;
    println!(
        "\npriority: {streams} downloads of {} MiB at urgency 7, then {} MiB at urgency 0 \
         (h2kit client, default windows)",
        bulk >> 20,
        PRIORITY_URGENT >> 20
    );
    println!(
        "{:<24} {:>22} {:>14} {:>12}",
        "", "bulk ahead of urgent", "urgent done", "bulk rate"
    );
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let mut serve_ahead = None;
    for subject in [
        Subject::Serve { quiet: true },
        Subject::Nghttpd,
        Subject::H2o,
    ] {
        if subject == Subject::H2o && env.h2o.is_none() {
            continue;
        }
        let name = subject.name();
        let server = start_server(env, subject)?;
        let url = format!("http://{}", server.addr);
        // The best run: the least data ahead (the machine may be shared).
        let mut best: Option<(f64, f64, f64)> = None;
        for _ in 0..env.runs.max(1) {
            let mut cmd = env.on_load_core(&exe);
            cmd.args(["__priority", &url]);
            let out = run_bounded(cmd, name)?;
            let v: Vec<f64> = out
                .split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect();
            let [ahead, urgent_ms, rate] = v[..] else {
                return Err(format!("{name}: unexpected output {out:?}"));
            };
            if best.is_none_or(|b| ahead < b.0) {
                best = Some((ahead, urgent_ms, rate));
            }
        }
        let Some((ahead, urgent_ms, rate)) = best else {
            continue;
        };
        if subject == (Subject::Serve { quiet: true }) {
            serve_ahead = Some(ahead / 1024.0);
        }
        println!(
            "{:<24} {:>18.0} KiB {:>11.1} ms {:>7.2} GB/s",
            name,
            ahead / 1024.0,
            urgent_ms,
            rate / 1e9
        );
    }
    Ok(match serve_ahead {
        Some(kib) => target_at_most(
            "h2kit serve, bulk data ahead of the urgent first byte",
            kib,
            256.0,
            " KiB",
        ),
        None => true,
    })
}

/// Received DATA bytes at two moments, in the connection task's frame order: when the next
/// request's HEADERS went out after [`AheadWatch::arm`], and when that stream's first DATA
/// arrived.
#[derive(Default)]
struct AheadWatch {
    received: std::sync::atomic::AtomicU64,
    armed: std::sync::atomic::AtomicBool,
    stream: std::sync::atomic::AtomicU32,
    sent_at: std::sync::atomic::AtomicU64,
    ahead: std::sync::Mutex<Option<u64>>,
}

impl AheadWatch {
    fn arm(&self) {
        self.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl h2kit_client::trace::FrameTrace for AheadWatch {
    fn on_frame(
        &self,
        direction: h2kit_client::trace::Direction,
        frame: &h2kit_client::trace::Frame,
        _fields: Option<&[h2kit_client::trace::HeaderField]>,
    ) {
        use h2kit_client::trace::{Direction, Frame};
        use std::sync::atomic::Ordering::SeqCst;
        let id = frame.stream_id().get();
        match (direction, frame) {
            (Direction::Sent, Frame::Headers(_)) if self.armed.swap(false, SeqCst) => {
                self.sent_at.store(self.received.load(SeqCst), SeqCst);
                self.stream.store(id, SeqCst);
            }
            (Direction::Received, Frame::Data(data)) => {
                if id != 0 && id == self.stream.load(SeqCst) {
                    let mut ahead = self.ahead.lock().unwrap_or_else(|e| e.into_inner());
                    if ahead.is_none() {
                        *ahead = Some(self.received.load(SeqCst) - self.sent_at.load(SeqCst));
                    }
                }
                self.received.fetch_add(data.data.len() as u64, SeqCst);
            }
            _ => {}
        }
    }
}

/// The `priority` part's client: prints the bulk bytes ahead of the urgent first DATA, the
/// urgent response's time from request to last byte (ms) and the bulk rate (bytes/s).
fn priority_child(args: &[String]) -> Result<(), BoxError> {
    let [url] = args else {
        return Err("usage: __priority URL".into());
    };
    let rt = child_runtime()?;
    let (ahead, urgent, rate) = rt.block_on(priority_client(url))?;
    println!("{ahead} {:.3} {rate:.0}", urgent.as_secs_f64() * 1e3);
    Ok(())
}

async fn priority_client(url: &str) -> Result<(u64, Duration, f64), BoxError> {
    use h2kit_client::{ExtensiblePriority, Urgency};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let (streams, bulk) = PRIORITY_BULK;
    let watch = Arc::new(AheadWatch::default());
    let client = h2kit_client::Client::builder()
        .frame_trace(watch.clone())
        .connect(url)
        .await?;
    let progress = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..streams {
        let mut request = Request::get(format!("{url}/bulk")).body(h2kit_client::Body::empty())?;
        request.extensions_mut().insert(ExtensiblePriority {
            urgency: Urgency::LOWEST,
            incremental: true,
        });
        let response = client.send(request);
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let mut body = response.await?.into_body();
            let mut len = 0u64;
            while let Some(chunk) = body.chunk().await {
                let n = chunk?.len() as u64;
                len += n;
                progress.fetch_add(n, Ordering::Relaxed);
            }
            Ok::<u64, BoxError>(len)
        }));
    }
    let threshold = (streams * bulk / 16) as u64;
    while progress.load(Ordering::Relaxed) < threshold {
        if start.elapsed() > RUN_LIMIT {
            return Err("the bulk downloads did not get going".into());
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    watch.arm();
    let sent = Instant::now();
    let mut request = Request::get(format!("{url}/urgent")).body(h2kit_client::Body::empty())?;
    request.extensions_mut().insert(ExtensiblePriority {
        urgency: Urgency::HIGHEST,
        incremental: false,
    });
    let urgent = client.send(request).await?.into_body().collect().await?;
    let urgent_time = sent.elapsed();
    if urgent.len() != PRIORITY_URGENT {
        return Err(format!("the urgent response has {} bytes", urgent.len()).into());
    }
    for t in tasks {
        let len = t.await??;
        if len != bulk as u64 {
            return Err(format!("a bulk response has {len} bytes").into());
        }
    }
    let rate = (streams * bulk) as f64 / start.elapsed().as_secs_f64();
    let ahead = watch
        .ahead
        .lock()
        .map_err(|_| "poisoned")?
        .ok_or("the urgent response's first DATA was not seen")?;
    Ok((ahead, urgent_time, rate))
}

// ---------------------------------------------------------------- files

/// Whether this process runs as root (proc(5) `Uid:` line of /proc/self/status).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().next())
            == Some("0")
    })
}

/// h2o serving `dir` over cleartext HTTP (HTTP/2 by prior knowledge) on `port`: one thread,
/// no access log. Started as root, h2o switches to `nobody` unless told to stay root, and
/// `nobody` may not read the files.
fn h2o_config(dir: &Path, port: u16, tls: Option<(PathBuf, PathBuf)>) -> String {
    let user = if is_root() { "user: root\n" } else { "" };
    let ssl = tls.map_or_else(String::new, |(cert, key)| {
        format!(
            "  ssl:\n    certificate-file: {}\n    key-file: {}\n",
            cert.display(),
            key.display()
        )
    });
    format!(
        "{user}num-threads: 1\n\
         listen:\n  host: 127.0.0.1\n  port: {port}\n{ssl}\
         hosts:\n  default:\n    paths:\n      /:\n        file.dir: {}\n",
        dir.display()
    )
}

/// The `tls` part's certificate and key (PEM), made on first use in the files directory:
/// a self-signed ECDSA P-256 certificate for localhost and 127.0.0.1, what `h2kit serve`
/// generates too. Returns (certificate, key).
fn tls_files(env: &Env) -> Result<(PathBuf, PathBuf), String> {
    let (cert, key) = (
        env.files.join("tls-cert.pem"),
        env.files.join("tls-key.pem"),
    );
    if !cert.is_file() || !key.is_file() {
        let made = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .map_err(|e| format!("cannot make a certificate: {e}"))?;
        std::fs::write(&cert, made.cert.pem())
            .and_then(|()| std::fs::write(&key, made.signing_key.serialize_pem()))
            .map_err(|e| format!("cannot write the certificate: {e}"))?;
    }
    Ok((cert, key))
}

/// A temp directory with `hello` (12 bytes) and `big` (1 MiB) for nghttpd; removed on drop.
fn dir_with_bodies() -> std::io::Result<TempDir> {
    let dir = TempDir::new("compare")?;
    std::fs::write(dir.join("hello"), HELLO)?;
    std::fs::write(dir.join("big"), big_body())?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h2load_output_is_parsed() {
        let out = "finished in 2.31s, 173160.17 req/s, 6.85MB/s\n\
                   requests: 400000 total, 400000 started, 400000 done, 400000 succeeded, 0 failed, 0 errored, 0 timeout\n\
                   status codes: 400000 2xx, 0 3xx, 0 4xx, 0 5xx\n";
        assert_eq!(parse_h2load(out, 400_000), Some(173_160.17));
        assert_eq!(parse_h2load(out, 400_001), None);
        let failed = out.replace("400000 2xx", "399999 2xx");
        assert_eq!(parse_h2load(&failed, 400_000), None);
    }

    #[test]
    fn proc_stat_times_are_found_after_a_name_with_spaces() {
        let line = "42 (a b) c) S 1 2 3 4 5 6 7 8 9 10 110 120 130 140 20 0\n";
        let f = parse_stat(line).unwrap();
        assert_eq!((f[11], f[12], f[13], f[14]), (110, 120, 130, 140));
        assert!(process_cpu(std::process::id()).is_some());
        assert!(reaped_children_cpu().is_some());
    }

    #[test]
    fn h2kit_get_output_is_parsed() {
        let err = "200 requests, at most 4 in flight, in 0.290 s: 200 completed, 0 failed, \
                   0 with status >= 400\n\
                   680 req/s, 209715200 bytes (712.52 MB/s)\n\
                   latency min 1.000 ms, avg 2.000 ms, max 3.000 ms\n\
                   finished in 0.29s, 679.51 req/s, 679.51MB/s (as h2load prints it)\n";
        assert_eq!(parse_h2kit_get(err, 200), Some(679.51));
        assert_eq!(parse_h2kit_get(err, 201), None);
        let failed = err.replace("0 failed", "1 failed");
        assert_eq!(parse_h2kit_get(&failed, 200), None);
    }

    #[test]
    fn shares_add_up() {
        assert_eq!(shares(10, 3).collect::<Vec<_>>(), vec![4, 3, 3]);
        assert_eq!(shares(200_000, 100).sum::<u64>(), 200_000);
    }
}
