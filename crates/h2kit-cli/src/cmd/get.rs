//! `h2kit get URL`: fetch a URL over HTTP/2, with curl and nghttp habits.
//!
//! Exit codes (curl's numbers where curl has one):
//! 0 success; 1 other failure; 2 bad arguments; 7 cannot connect; 16 HTTP/2 error (reset,
//! GOAWAY, protocol error, connection lost); 22 HTTP status >= 400 with `--fail`; 23 cannot
//! write the output; 26 cannot read the upload file; 28 timeout; 35 TLS handshake or ALPN
//! failure; 60 server certificate not trusted. A closed stdout (broken pipe) is not an error.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use h2kit_client::trace::{Direction, Frame, FrameTrace, HeaderField};
use h2kit_client::{Body, Client, Error, ExtensiblePriority, Urgency};
use http::{HeaderName, HeaderValue, Method, Request};

use super::trace;

/// Exit code: other failure.
const EXIT_OTHER: u8 = 1;
/// Exit code: bad arguments (as clap).
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code: cannot connect.
const EXIT_CONNECT: u8 = 7;
/// Exit code: an HTTP/1.1 server's reply broke the protocol (curl's "weird server reply").
const EXIT_WEIRD_REPLY: u8 = 8;
/// Exit code: HTTP/2 error.
const EXIT_HTTP2: u8 = 16;
/// Exit code: the proxy refused the tunnel (as curl's "CONNECT tunnel failed").
const EXIT_PROXY: u8 = 56;
/// Exit code: HTTP status >= 400 with --fail.
const EXIT_HTTP_STATUS: u8 = 22;
/// Exit code: write error.
const EXIT_WRITE: u8 = 23;
/// Exit code: read error on the upload.
const EXIT_READ: u8 = 26;
/// Exit code: timeout.
const EXIT_TIMEOUT: u8 = 28;
/// Exit code: TLS or ALPN failure.
const EXIT_TLS: u8 = 35;
/// Exit code: certificate not trusted.
const EXIT_CERT: u8 = 60;

/// Arguments of `h2kit get`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit codes: 0 ok, 1 other, 2 usage, 7 connect, 8 bad HTTP/1.1 reply, 16 HTTP/2 error, \
22 HTTP >= 400 with --fail, 23 write, 26 read upload, 28 timeout, 35 TLS/ALPN, \
56 proxy refused the tunnel, 60 certificate. http:// URLs use h2c with prior knowledge unless --http1.1; https:// URLs \
speak h2 or, when the server offers only that, HTTP/1.1."
)]
pub(crate) struct GetArgs {
    /// The URL (https:// with TLS and ALPN h2 or http/1.1, http:// with h2c prior knowledge).
    pub(crate) url: String,
    /// Add a request header, `name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME:VALUE")]
    pub(crate) headers: Vec<String>,
    /// Send DATA as the request body (method POST unless -X).
    #[arg(short = 'd', long = "data", conflicts_with = "data_file")]
    pub(crate) data: Option<String>,
    /// Stream the request body from a file (method POST unless -X).
    #[arg(long = "data-file", value_name = "FILE")]
    pub(crate) data_file: Option<PathBuf>,
    /// The request method.
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub(crate) method: Option<String>,
    /// Write the body to FILE instead of stdout (shows a progress bar on a terminal).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Trace every frame in and out (stream ids, flags, decoded headers) on stderr; at the
    /// end, show the windows both sides settled on and the RTT measured.
    #[arg(short = 'v', long)]
    pub(crate) verbose: bool,
    /// Use h2c with prior knowledge (the default for http:// URLs; requires one).
    #[arg(long, alias = "http2-prior-knowledge", conflicts_with = "http1")]
    pub(crate) h2c: bool,
    /// Speak HTTP/1.1 (over TLS: ALPN http/1.1 only). Without it, https:// URLs use what
    /// the server picks by ALPN (h2, else HTTP/1.1).
    #[arg(long = "http1.1", id = "http1")]
    pub(crate) http1: bool,
    /// HTTP/2 by `Upgrade: h2c` for http:// URLs (HTTP/1.1 if the server declines), as
    /// curl's --http2; https:// URLs negotiate by ALPN as always.
    #[arg(long, conflicts_with_all = ["http1", "h2c"])]
    pub(crate) http2: bool,
    /// Accept any server certificate (testing only).
    #[arg(short = 'k', long)]
    pub(crate) insecure: bool,
    /// Trust the CA certificate(s) in FILE (PEM or DER).
    #[arg(long, value_name = "FILE")]
    pub(crate) cacert: Option<PathBuf>,
    /// Send the request N times on one connection and print statistics (req/s and MB/s,
    /// also as h2load prints them); all N are in flight at once unless --in-flight.
    #[arg(short = 'n', long = "repeat", value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) repeat: u32,
    /// With -n: at most M requests in flight at once, a new one starting as one finishes
    /// (h2load's -m; default: all N).
    #[arg(long = "in-flight", value_name = "M", requires = "repeat",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) in_flight: Option<u32>,
    /// Exit 22 when the status is 400 or above.
    #[arg(short = 'f', long)]
    pub(crate) fail: bool,
    /// Ask for and decode gzip, deflate and br responses.
    #[arg(long)]
    pub(crate) compressed: bool,
    /// RFC 9218 urgency (0 = most urgent .. 7), sent as the priority header.
    #[arg(long, value_name = "0-7", value_parser = clap::value_parser!(u8).range(0..=7))]
    pub(crate) urgency: Option<u8>,
    /// Mark the request incremental (RFC 9218).
    #[arg(long)]
    pub(crate) incremental: bool,
    /// Give up after this many seconds (connect and each response's headers).
    #[arg(long, value_name = "SECONDS")]
    pub(crate) timeout: Option<f64>,
    /// Give up on each request after this many seconds in all, body included (curl's -m).
    #[arg(short = 'm', long = "max-time", value_name = "SECONDS")]
    pub(crate) max_time: Option<f64>,
    /// Give up when a response body sends nothing for this many seconds.
    #[arg(long = "read-timeout", value_name = "SECONDS")]
    pub(crate) read_timeout: Option<f64>,
    /// Accept server push and report the promises on stderr (with -v).
    #[arg(long)]
    pub(crate) push: bool,
    /// Use this HTTP proxy (`[http://][user:password@]host[:port]`); without it the
    /// environment's https_proxy, http_proxy, all_proxy and no_proxy are read, as curl does.
    #[arg(short = 'x', long, value_name = "URL")]
    pub(crate) proxy: Option<String>,
    /// Hosts reached without the proxy (comma-separated; `*` for all).
    #[arg(long, value_name = "HOSTS")]
    pub(crate) noproxy: Option<String>,
    /// Proxy credentials, `user:password`.
    #[arg(short = 'U', long = "proxy-user", value_name = "USER:PASSWORD")]
    pub(crate) proxy_user: Option<String>,
    /// HEAD: print the response's status line and headers instead of a body.
    #[arg(short = 'I', long = "head")]
    pub(crate) head: bool,
    /// Follow redirects (301, 302, 303, 307, 308), up to --max-redirs.
    #[arg(short = 'L', long = "location")]
    pub(crate) location: bool,
    /// The most redirects -L follows.
    #[arg(long = "max-redirs", value_name = "N", default_value_t = 20)]
    pub(crate) max_redirs: u32,
    /// After the transfer, print FORMAT with %{http_code}, %{http_version} (2, 1.1),
    /// %{size_download}, %{time_total}, %{url_effective} and %{num_redirects} replaced, and
    /// \n as a newline (as curl's -w).
    #[arg(short = 'w', long = "write-out", value_name = "FORMAT")]
    pub(crate) write_out: Option<String>,
}

struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

fn classify(e: &Error) -> u8 {
    match e {
        Error::InvalidUrl(_) | Error::InvalidRequest(_) => EXIT_USAGE,
        Error::Config(_) => EXIT_USAGE,
        Error::Connect { .. } => EXIT_CONNECT,
        Error::Tls(_) if e.is_certificate_error() => EXIT_CERT,
        Error::Tls(_) | Error::Alpn { .. } => EXIT_TLS,
        Error::Timeout => EXIT_TIMEOUT,
        Error::Body(_) => EXIT_READ,
        Error::Http1(_) => EXIT_WEIRD_REPLY,
        Error::Proxy { .. } => EXIT_PROXY,
        Error::Reset(_)
        | Error::GoAway { .. }
        | Error::Connection(_)
        | Error::Io(_)
        | Error::ConnectionClosed
        | Error::InvalidResponse(_) => EXIT_HTTP2,
        _ => EXIT_OTHER,
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::new(classify(&e), e.to_string())
    }
}

/// Runs `h2kit get`.
pub(crate) fn run(args: GetArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("h2kit get: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_OTHER);
        }
    };
    match runtime.block_on(get(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("h2kit get: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// The proxies for this run: `-x` (with `-U`), else the environment; `--noproxy` on top.
fn proxies(args: &GetArgs) -> Result<h2kit_client::Proxies, Failure> {
    let mut proxies = match &args.proxy {
        Some(url) => {
            let mut proxy = h2kit_client::Proxy::new(url)
                .map_err(|e| Failure::new(EXIT_USAGE, e.to_string()))?;
            if let Some(cred) = &args.proxy_user {
                let (user, password) = cred.split_once(':').unwrap_or((cred, ""));
                proxy = proxy.basic_auth(user, password);
            }
            h2kit_client::Proxies {
                https: Some(proxy.clone()),
                http: Some(proxy),
                no_proxy: Vec::new(),
            }
        }
        None => h2kit_client::Proxies::from_env(),
    };
    if let Some(list) = &args.noproxy {
        proxies.no_proxy = list
            .split(',')
            .map(|h| h.trim().trim_start_matches('.').to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
    }
    Ok(proxies)
}

struct Prepared {
    method: Method,
    headers: Vec<(HeaderName, HeaderValue)>,
    priority: Option<ExtensiblePriority>,
}

fn prepare(args: &GetArgs) -> Result<Prepared, Failure> {
    let mut headers = Vec::new();
    for h in &args.headers {
        let Some((name, value)) = h.split_once(':') else {
            return Err(Failure::new(
                EXIT_USAGE,
                format!("bad header {h:?}: expected NAME:VALUE"),
            ));
        };
        let name = HeaderName::from_bytes(name.trim().to_ascii_lowercase().as_bytes())
            .map_err(|_| Failure::new(EXIT_USAGE, format!("bad header name in {h:?}")))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| Failure::new(EXIT_USAGE, format!("bad header value in {h:?}")))?;
        headers.push((name, value));
    }
    let has_body = args.data.is_some() || args.data_file.is_some();
    let method = match &args.method {
        Some(m) => Method::from_bytes(m.as_bytes())
            .map_err(|_| Failure::new(EXIT_USAGE, format!("bad method {m:?}")))?,
        None if args.head => Method::HEAD,
        None if has_body => Method::POST,
        None => Method::GET,
    };
    let priority = if args.urgency.is_some() || args.incremental {
        Some(ExtensiblePriority {
            urgency: args
                .urgency
                .and_then(Urgency::new)
                .unwrap_or(Urgency::DEFAULT),
            incremental: args.incremental,
        })
    } else {
        None
    };
    let lower = args.url.to_ascii_lowercase();
    if !lower.starts_with("http://") && !lower.starts_with("https://") {
        return Err(Failure::new(
            EXIT_USAGE,
            format!("{}: the URL must start with http:// or https://", args.url),
        ));
    }
    if args.h2c && !lower.starts_with("http://") {
        return Err(Failure::new(EXIT_USAGE, "--h2c needs an http:// URL"));
    }
    Ok(Prepared {
        method,
        headers,
        priority,
    })
}

async fn body_for(args: &GetArgs) -> Result<Body, Failure> {
    if let Some(d) = &args.data {
        return Ok(Body::from(d.clone()));
    }
    if let Some(path) = &args.data_file {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Failure::new(EXIT_READ, format!("cannot read {}: {e}", path.display())))?;
        return Ok(Body::from_reader(file));
    }
    Ok(Body::empty())
}

async fn build_request(args: &GetArgs, p: &Prepared, url: &str) -> Result<Request<Body>, Failure> {
    let mut builder = Request::builder().method(p.method.clone()).uri(url);
    for (n, v) in &p.headers {
        builder = builder.header(n, v);
    }
    let mut request = builder
        .body(body_for(args).await?)
        .map_err(|e| Failure::new(EXIT_USAGE, format!("bad request: {e}")))?;
    if let Some(prio) = p.priority {
        request.extensions_mut().insert(prio);
    }
    Ok(request)
}

async fn get(args: GetArgs) -> Result<(), Failure> {
    let prepared = prepare(&args)?;
    if let Some(path) = &args.data_file {
        // Fail before connecting when the upload cannot be read.
        std::fs::File::open(path)
            .map_err(|e| Failure::new(EXIT_READ, format!("cannot read {}: {e}", path.display())))?;
    }
    let start = Instant::now();
    let mut url = args.url.clone();
    let mut method = prepared.method.clone();
    let mut redirects = 0u32;
    let (client, response) = loop {
        let client = builder_for(&args, start)?.connect(&url).await?;
        if args.repeat > 1 {
            return repeat(&args, &prepared, &client).await;
        }
        let mut request = build_request(&args, &prepared, &url).await?;
        if method != prepared.method {
            // A 303 turned the request into a GET: its body is not sent again.
            *request.body_mut() = Body::empty();
            request.headers_mut().remove(http::header::CONTENT_LENGTH);
        }
        *request.method_mut() = method.clone();
        let mut fut = client.send(request);
        let pushes = fut.pushes();
        let response = fut.await?;
        if let Some(mut pushes) = pushes {
            let verbose = args.verbose;
            tokio::spawn(async move {
                while let Some(p) = pushes.next().await {
                    if verbose {
                        eprintln!("[push] promised {}", p.request().uri());
                    }
                    if let Ok(r) = p.response().await {
                        let _ = r.into_body().collect().await;
                    }
                }
            });
        }
        let status = response.status().as_u16();
        let target = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match target {
            Some(location) if args.location && matches!(status, 301 | 302 | 303 | 307 | 308) => {
                if redirects >= args.max_redirs {
                    return Err(Failure::new(
                        47,
                        format!("more than {} redirects", args.max_redirs),
                    ));
                }
                redirects += 1;
                url = resolve(&url, &location)?;
                if status == 303 && method != Method::HEAD {
                    method = Method::GET;
                }
                if args.verbose {
                    eprintln!("[redirect] {status} to {url}");
                }
                continue;
            }
            _ => break (client, response),
        }
    };
    let status = response.status();
    let version = match response.version() {
        http::Version::HTTP_11 => "1.1",
        http::Version::HTTP_10 => "1.0",
        _ => "2",
    };
    if args.head {
        let mut text = format!("HTTP/{version} {}\r\n", status.as_u16());
        for (n, v) in response.headers() {
            text.push_str(&format!(
                "{n}: {}\r\n",
                String::from_utf8_lossy(v.as_bytes())
            ));
        }
        text.push_str("\r\n");
        let _ = io::stdout().lock().write_all(text.as_bytes());
    }
    if args.fail && status.as_u16() >= 400 {
        // curl --fail: no body, exit 22.
        return Err(Failure::new(
            EXIT_HTTP_STATUS,
            format!("the server answered {status}"),
        ));
    }
    let length: Option<u64> = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let mut body = response.into_body();

    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(io::BufWriter::new(std::fs::File::create(path).map_err(
            |e| Failure::new(EXIT_WRITE, format!("cannot create {}: {e}", path.display())),
        )?)),
        None => Box::new(io::stdout().lock()),
    };
    let bar = args.output.as_ref().map(|_| progress_bar(length));
    let mut stdout_closed = false;
    let mut downloaded = 0u64;
    while let Some(chunk) = body.chunk().await {
        let chunk = chunk?;
        downloaded += chunk.len() as u64;
        if let Some(b) = &bar {
            b.inc(chunk.len() as u64);
        }
        if stdout_closed {
            continue;
        }
        if let Err(e) = out.write_all(&chunk) {
            if e.kind() == io::ErrorKind::BrokenPipe && args.output.is_none() {
                // `h2kit get URL | head`: the reader is done, so are we.
                stdout_closed = true;
                break;
            }
            return Err(Failure::new(
                EXIT_WRITE,
                format!("cannot write the body: {e}"),
            ));
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if !stdout_closed {
        if let Err(e) = out.flush() {
            if !(e.kind() == io::ErrorKind::BrokenPipe && args.output.is_none()) {
                return Err(Failure::new(
                    EXIT_WRITE,
                    format!("cannot write the body: {e}"),
                ));
            }
        }
    }
    if args.verbose {
        if let Ok(Some(t)) = body.trailers().await {
            for (n, v) in &t {
                eprintln!("[trailer] {n}: {}", String::from_utf8_lossy(v.as_bytes()));
            }
        }
        print_windows(&client).await;
    }
    if let Some(format) = &args.write_out {
        let text = format
            .replace("%{http_code}", &status.as_u16().to_string())
            .replace("%{http_version}", version)
            .replace("%{size_download}", &downloaded.to_string())
            .replace(
                "%{time_total}",
                &format!("{:.6}", start.elapsed().as_secs_f64()),
            )
            .replace("%{url_effective}", &url)
            .replace("%{num_redirects}", &redirects.to_string())
            .replace("\\n", "\n");
        let _ = io::stdout().lock().write_all(text.as_bytes());
    }
    Ok(())
}

/// `location` (absolute, or relative to `base`) as an absolute URL.
fn resolve(base: &str, location: &str) -> Result<String, Failure> {
    let bad = || {
        Failure::new(
            EXIT_OTHER,
            format!("cannot follow the redirect to {location:?}"),
        )
    };
    if location.starts_with("http://") || location.starts_with("https://") {
        return Ok(location.to_owned());
    }
    let uri: http::Uri = base.parse().map_err(|_| bad())?;
    let scheme = uri.scheme_str().ok_or_else(bad)?;
    let authority = uri.authority().ok_or_else(bad)?;
    if let Some(rest) = location.strip_prefix("//") {
        return Ok(format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        return Ok(format!("{scheme}://{authority}{location}"));
    }
    let dir = uri.path().rsplit_once('/').map_or("", |(d, _)| d);
    Ok(format!("{scheme}://{authority}{dir}/{location}"))
}

/// The client options of this run.
fn builder_for(args: &GetArgs, start: Instant) -> Result<h2kit_client::ClientBuilder, Failure> {
    let seconds = |value: Option<f64>, flag: &str| match value {
        Some(t) if t.is_finite() && t > 0.0 && t < 1e9 => Ok(Some(Duration::from_secs_f64(t))),
        Some(_) => Err(Failure::new(EXIT_USAGE, format!("{flag} must be positive"))),
        None => Ok(None),
    };
    let timeout = seconds(args.timeout, "--timeout")?;
    let max_time = seconds(args.max_time, "--max-time")?;
    let read_timeout = seconds(args.read_timeout, "--read-timeout")?;
    let mut builder = Client::builder()
        .danger_accept_invalid_certs(args.insecure)
        .decompress(args.compressed)
        .enable_push(args.push)
        .request_timeout(timeout)
        .timeout(max_time)
        .read_timeout(read_timeout);
    if let Some(t) = match (timeout, max_time) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    } {
        builder = builder.connect_timeout(Some(t));
    }
    if let Some(ca) = &args.cacert {
        builder = builder.ca_file(ca);
    }
    if args.verbose {
        builder = builder.frame_trace(Arc::new(StderrTrace { start }));
    }
    if args.http1 {
        builder = builder.http_versions(h2kit_client::HttpVersions::Http1Only);
    } else if args.http2 {
        builder = builder.http_versions(h2kit_client::HttpVersions::Http2Upgrade);
    } else if args.h2c {
        // Prior knowledge, also through a proxy (in a CONNECT tunnel).
        builder = builder.http_versions(h2kit_client::HttpVersions::Http2Only);
    }
    Ok(builder.proxies(proxies(args)?))
}

/// `-v`: the flow-control windows both sides settled on and the RTT measured (HTTP/2 only).
async fn print_windows(client: &Client) {
    let Ok(s) = client.stats().await else {
        return;
    };
    let ms = |d: Option<Duration>| match d {
        Some(d) => format!("{:.3} ms", d.as_secs_f64() * 1e3),
        None => "not measured".to_owned(),
    };
    eprintln!(
        "[windows] ours: SETTINGS_INITIAL_WINDOW_SIZE {}, largest stream window {}, \
         connection window {}\n\
         [windows] peer's: SETTINGS_INITIAL_WINDOW_SIZE {}, connection send window left {}\n\
         [rtt] latest {}, min {}",
        s.local_initial_window,
        s.largest_stream_recv_target,
        s.connection_recv_target,
        s.peer_initial_window,
        s.connection_send_window,
        ms(s.rtt),
        ms(s.min_rtt),
    );
}

fn progress_bar(length: Option<u64>) -> indicatif::ProgressBar {
    let bar = match length {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new_spinner(),
    };
    let template = if length.is_some() {
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
    } else {
        "{spinner} {bytes} {bytes_per_sec}"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar
}

/// `-n N`: N requests on the connection, all at once or at most `--in-flight M` at a time;
/// bodies are counted, not written.
async fn repeat(args: &GetArgs, prepared: &Prepared, client: &Client) -> Result<(), Failure> {
    if args.data_file.is_some() {
        return Err(Failure::new(
            EXIT_USAGE,
            "-n cannot be combined with --data-file (the file is read once)",
        ));
    }
    let n = args.repeat as usize;
    let in_flight = args.in_flight.map_or(n, |m| m as usize).min(n);
    // A request takes a permit before it is sent and gives it back when its body is read.
    let permits = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| Failure::new(EXIT_OTHER, e.to_string()))?;
        let request = build_request(args, prepared, &args.url).await?;
        let fut = client.send(request);
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let t0 = Instant::now();
            let response = fut.await?;
            let status = response.status().as_u16();
            let mut body = response.into_body();
            let mut bytes = 0u64;
            while let Some(chunk) = body.chunk().await {
                bytes += chunk?.len() as u64;
            }
            Ok::<_, Error>((status, bytes, t0.elapsed()))
        }));
    }
    let mut latencies = Vec::with_capacity(n);
    let mut total_bytes = 0u64;
    let mut first_error: Option<Failure> = None;
    let mut errors = 0usize;
    let mut http_errors = 0usize;
    for t in tasks {
        match t.await {
            Ok(Ok((status, bytes, latency))) => {
                total_bytes += bytes;
                latencies.push(latency);
                if status >= 400 {
                    http_errors += 1;
                }
            }
            Ok(Err(e)) => {
                errors += 1;
                first_error.get_or_insert_with(|| Failure::from(e));
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| Failure::new(EXIT_OTHER, e.to_string()));
            }
        }
    }
    let elapsed = started.elapsed();
    let ok = latencies.len();
    let secs = elapsed.as_secs_f64().max(1e-9);
    let (min, max, avg) = if ok > 0 {
        let min = latencies.iter().min().copied().unwrap_or_default();
        let max = latencies.iter().max().copied().unwrap_or_default();
        let sum: Duration = latencies.iter().sum();
        (min, max, sum / ok as u32)
    } else {
        Default::default()
    };
    if args.verbose {
        print_windows(client).await;
    }
    let mut err = io::stderr().lock();
    let _ = writeln!(
        err,
        "{n} requests, at most {in_flight} in flight, in {:.3} s: {ok} completed, {errors} failed, \
         {http_errors} with status >= 400\n\
         {:.0} req/s, {} bytes ({:.2} MB/s)\n\
         latency min {:.3} ms, avg {:.3} ms, max {:.3} ms\n\
         {}",
        secs,
        ok as f64 / secs,
        total_bytes,
        total_bytes as f64 / secs / 1e6,
        min.as_secs_f64() * 1e3,
        avg.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3,
        h2load_line(elapsed, ok, total_bytes),
    );
    if let Some(f) = first_error {
        return Err(f);
    }
    if args.fail && http_errors > 0 {
        return Err(Failure::new(
            EXIT_HTTP_STATUS,
            format!("{http_errors} responses had a status >= 400"),
        ));
    }
    Ok(())
}

/// The summary line as h2load prints it, for a side-by-side comparison: its units are
/// binary (1 MB = 2^20 bytes), its rate counts completed requests. h2load's byte count is
/// every octet received (frame headers and field blocks too); ours is the bodies', which for
/// bodies of a few KiB and more is within a few percent of it.
fn h2load_line(elapsed: Duration, completed: usize, body_bytes: u64) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let rate = body_bytes as f64 / secs;
    let (value, unit) = [(1u64 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")]
        .into_iter()
        .find(|(scale, _)| rate >= *scale as f64)
        .map_or((rate, ""), |(scale, unit)| (rate / scale as f64, unit));
    format!(
        "finished in {:.2}s, {:.2} req/s, {:.2}{unit}B/s (as h2load prints it)",
        secs,
        completed as f64 / secs,
        value,
    )
}

/// `-v`: one line per frame (time, direction, type, stream, flags, details), then the
/// decoded header fields indented, like nghttp -v.
struct StderrTrace {
    start: Instant,
}

impl FrameTrace for StderrTrace {
    fn on_frame(&self, direction: Direction, frame: &Frame, fields: Option<&[HeaderField]>) {
        let t = self.start.elapsed().as_secs_f64();
        let dir = match direction {
            Direction::Sent => "send",
            Direction::Received => "recv",
        };
        let mut line = format!(
            "[{t:8.3}] {dir} {} stream={} ",
            frame.frame_type(),
            frame.stream_id()
        );
        trace::describe(frame, &mut line);
        trace::fields(fields.unwrap_or_default(), "           ", &mut line);
        let _ = writeln!(io::stderr().lock(), "{line}");
    }

    fn on_error(&self, direction: Direction, error: &str) {
        eprintln!("[trace] {direction:?}: cannot decode: {error}");
    }
}
