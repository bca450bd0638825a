//! `h2kit serve [DIR]`: a static file server over HTTP/2 (TLS or h2c), one log line per
//! request on stderr (buffered: written by a thread of its own in large pieces).

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

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
    let mut builder = Server::builder()
        .bind(SocketAddr::new(args.bind, args.port))
        .tcp_notsent_lowat(Some(args.notsent_lowat).filter(|&b| b > 0));
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
