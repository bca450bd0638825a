//! `h2kit serve [DIR]`: a static file server over HTTP/2 (TLS or h2c), one log line per
//! request on stderr (buffered: written by a thread of its own in large pieces).

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use h2kit_server::{AccessLogWriter, Server, StaticFiles};

/// Arguments of `h2kit serve`.
#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// The directory to serve (default: the current directory).
    #[arg(default_value = ".")]
    pub(crate) dir: PathBuf,
    /// The port (0: any free port; the URL printed says which).
    #[arg(long, short = 'p', default_value_t = 8443)]
    pub(crate) port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) bind: IpAddr,
    /// Cleartext HTTP/2 (prior knowledge or Upgrade: h2c) instead of TLS.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub(crate) h2c: bool,
    /// The certificate chain (PEM); without it a self-signed certificate is generated.
    #[arg(long, requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Do not log requests.
    #[arg(long, short = 'q')]
    pub(crate) quiet: bool,
    /// Threads serving connections (default: the CPUs this process may run on). With 1,
    /// everything runs on one thread.
    #[arg(long)]
    pub(crate) threads: Option<NonZeroUsize>,
    /// Do not serve NAME.br / NAME.gz in place of NAME to clients that accept them.
    #[arg(long)]
    pub(crate) no_precompressed: bool,
    /// Unsent bytes each connection's kernel send queue may hold (TCP_NOTSENT_LOWAT; 0
    /// leaves the system's setting). Low keeps priorities effective: an urgent response
    /// waits behind at most this much data already handed to the kernel.
    #[arg(long, value_name = "BYTES", default_value_t = h2kit_server::DEFAULT_NOTSENT_LOWAT)]
    pub(crate) notsent_lowat: u32,
    /// Seconds a client has to finish the TLS handshake or send the h2c preface before the
    /// connection is closed.
    #[arg(long, value_name = "SECONDS", value_parser = seconds, default_value = "10")]
    pub(crate) handshake_timeout: Duration,
    /// Seconds a client has after connecting to send its first request before GOAWAY
    /// NO_ERROR closes the connection (0: no limit).
    #[arg(long, value_name = "SECONDS", value_parser = seconds, default_value = "30")]
    pub(crate) first_request_timeout: Duration,
    /// Seconds response data may wait for a client to open its flow-control window: then
    /// RST_STREAM ENHANCE_YOUR_CALM for a stream's window, GOAWAY ENHANCE_YOUR_CALM for the
    /// connection's; and seconds a socket may accept none of the output before it is closed
    /// (0: no limit).
    #[arg(long, value_name = "SECONDS", value_parser = seconds, default_value = "30")]
    pub(crate) send_stall_timeout: Duration,
    /// KiB of response data one connection may hold that the socket has not taken yet, for
    /// all its streams together (at least 16).
    #[arg(long, value_name = "KIB", default_value_t = h2kit_server::DEFAULT_CONNECTION_SEND_BUDGET / 1024)]
    pub(crate) send_budget: usize,
}

/// A number of seconds (fractions allowed, 0 included).
fn seconds(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && (0.0..1e9).contains(&t) => Ok(Duration::from_secs_f64(t)),
        _ => Err(format!("{s:?} is not a number of seconds")),
    }
}

/// `Some(d)`, or `None` (no limit) for zero.
fn limit(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

/// Runs the server until Ctrl-C (or SIGTERM), then shuts down gracefully.
pub(crate) fn run(args: ServeArgs) -> ExitCode {
    let threads = args
        .threads
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, NonZeroUsize::get);
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    // Large responses beside urgent ones: see the constant.
    builder.event_interval(h2kit_server::RUNTIME_EVENT_INTERVAL);
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("h2kit serve: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("h2kit serve: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let files = StaticFiles::new(&args.dir)
        .map_err(|e| format!("cannot serve {}: {e}", args.dir.display()))?
        .precompressed(!args.no_precompressed);
    if !files.root().is_dir() {
        return Err(format!("{} is not a directory", args.dir.display()));
    }
    let mut config = h2kit::Config::default();
    config.limits.first_request_timeout = limit(args.first_request_timeout);
    config.limits.send_stall_timeout = limit(args.send_stall_timeout);
    if args.handshake_timeout.is_zero() {
        return Err("--handshake-timeout must be positive".to_owned());
    }
    let mut builder = Server::builder()
        .bind(SocketAddr::new(args.bind, args.port))
        .tcp_notsent_lowat(Some(args.notsent_lowat).filter(|&b| b > 0))
        .config(config)
        .handshake_timeout(args.handshake_timeout)
        .connection_send_budget(args.send_budget.saturating_mul(1024));
    builder = match (&args.tls_cert, &args.tls_key, args.h2c) {
        (_, _, true) => builder.h2c(),
        (Some(cert), Some(key), false) => builder.tls_pem_files(cert, key),
        _ => builder.tls_self_signed(),
    };
    let log = if args.quiet {
        None
    } else {
        let log = AccessLogWriter::new(std::io::stderr())
            .map_err(|e| format!("cannot start the access log: {e}"))?;
        builder = builder.on_access(log.logger());
        Some(log)
    };
    let server = builder.build().await.map_err(|e| e.to_string())?;
    let note = match (server.is_tls(), args.tls_cert.is_some()) {
        (false, _) => " (h2c: prior knowledge or Upgrade)",
        (true, false) => " (self-signed certificate: use curl -k / --insecure)",
        (true, true) => "",
    };
    println!(
        "serving {} on {}{note}",
        files.root().display(),
        server.url()
    );
    let _ = std::io::stdout().flush();
    let served = server
        .serve_with_shutdown(files, shutdown_signal())
        .await
        .map_err(|e| e.to_string());
    // Writes the last lines.
    drop(log);
    served
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    eprintln!("shutting down (in-flight requests finish)");
}
