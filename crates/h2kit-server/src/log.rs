//! A buffered access log: lines are formatted into memory by the tasks that finish responses
//! and written out in large pieces by a thread of its own.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use h2kit::StreamId;
use http::{Method, StatusCode};

/// One line of access log: called once per response when it is complete or failed.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct AccessLog {
    /// The request method.
    pub method: Method,
    /// The request path (with query).
    pub path: String,
    /// The response status.
    pub status: StatusCode,
    /// Body bytes handed to the connection.
    pub bytes: u64,
    /// From the request's arrival to the response's last byte queued (or its failure).
    pub duration: Duration,
    /// The stream id.
    pub stream_id: StreamId,
    /// The client's address.
    pub remote_addr: Option<SocketAddr>,
    /// Whether the whole response was produced (false: reset or body error).
    pub complete: bool,
    /// Whether this was a pushed response.
    pub pushed: bool,
}

/// A callback receiving [`AccessLog`] lines.
pub type AccessLogger = Arc<dyn Fn(&AccessLog) + Send + Sync>;

/// Pending bytes that wake the writer at once.
const FLUSH_AT: usize = 64 * 1024;
/// The most bytes pending: past this (the output is blocked), lines are dropped and counted.
const MAX_PENDING: usize = 4 << 20;
/// How long a line may wait for others before it is written.
const INTERVAL: Duration = Duration::from_millis(200);

/// An access log written by a background thread, for [`Builder::on_access`]: logging a
/// response appends one formatted line to a memory buffer (no system call, no allocation once
/// the buffer has grown), and the thread writes the buffer out when 64 KiB are pending or
/// 200 ms after the oldest pending line, whichever comes first.
///
/// If the output blocks (a full pipe nobody reads), at most 4 MiB wait; lines past that are
/// dropped, and a line saying how many is written once the output moves again: the server
/// never waits for its log. Write errors are ignored. Dropping the writer writes what is
/// pending and stops the thread, waiting at most 2 s for an output that does not move; lines
/// logged after that are lost.
///
/// Each line is [`format_line`](Self::format_line)'s.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use h2kit_server::{AccessLogWriter, Server};
///
/// let log = AccessLogWriter::new(std::io::stdout())?;
/// let server = Server::builder().h2c().on_access(log.logger()).build().await?;
/// server.serve(h2kit_server::StaticFiles::new(".")?).await?;
/// drop(log); // writes the last lines
/// # Ok(())
/// # }
/// ```
///
/// [`Builder::on_access`]: crate::Builder::on_access
pub struct AccessLogWriter {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for AccessLogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLogWriter").finish_non_exhaustive()
    }
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the writer thread.
    wake: Condvar,
    /// Tells [`AccessLogWriter::flush`] that a write finished.
    written: Condvar,
}

#[derive(Default)]
struct State {
    pending: Vec<u8>,
    /// Lines dropped since the last write.
    dropped: u64,
    /// The writer holds a batch it has not finished writing.
    writing: bool,
    /// Write what is pending now (a flush was asked for).
    urgent: bool,
    stop: bool,
    /// The writer thread has returned.
    exited: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one line made by `format`, unless too much is pending already.
    fn append(&self, format: impl FnOnce(&mut Vec<u8>)) {
        let mut state = self.state();
        if state.pending.len() >= MAX_PENDING {
            state.dropped += 1;
            return;
        }
        let before = state.pending.len();
        format(&mut state.pending);
        let after = state.pending.len();
        // The writer sleeps while nothing is pending and then until FLUSH_AT: wake it at
        // those two edges only.
        if before == 0 || (before < FLUSH_AT && after >= FLUSH_AT) {
            self.wake.notify_one();
        }
    }
}

impl AccessLogWriter {
    /// Starts the writer thread, writing to `out`.
    pub fn new(out: impl Write + Send + 'static) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            written: Condvar::new(),
        });
        let thread = std::thread::Builder::new()
            .name("h2kit-access-log".into())
            .spawn({
                let shared = shared.clone();
                move || write_loop(&shared, out)
            })?;
        Ok(AccessLogWriter {
            shared,
            thread: Some(thread),
        })
    }

    /// The logger to give [`Builder::on_access`](crate::Builder::on_access): it appends
    /// [`format_line`](Self::format_line)'s line.
    pub fn logger(&self) -> impl Fn(&AccessLog) + Send + Sync + 'static {
        let shared = self.shared.clone();
        move |line: &AccessLog| shared.append(|buf| Self::format_line(line, buf))
    }

    /// Appends raw bytes (a line of another format, say) to the log, with the same limits.
    pub fn write(&self, bytes: &[u8]) {
        self.shared.append(|buf| buf.extend_from_slice(bytes));
    }

    /// Asks the writer to write what is pending without waiting for it.
    #[cfg(test)]
    fn flush_soon_for_test(&self) {
        self.shared.state().urgent = true;
        self.shared.wake.notify_one();
    }

    /// Writes everything logged so far, returning once it is written.
    pub fn flush(&self) {
        let mut state = self.shared.state();
        if !state.pending.is_empty() {
            state.urgent = true;
            self.shared.wake.notify_one();
        }
        while (!state.pending.is_empty() || state.writing) && !state.stop {
            state = self
                .shared
                .written
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The line logged for a response (the format of `h2kit serve`):
    /// `ADDR METHOD PATH STATUS N bytes T ms`, then ` [push]` for a pushed response and
    /// ` (incomplete)` for one that was reset or whose body failed, and a newline; `ADDR` is
    /// the client's IP address or `-`.
    pub fn format_line(line: &AccessLog, out: &mut Vec<u8>) {
        // By hand rather than with `write!`: this runs once per response.
        match line.remote_addr {
            Some(SocketAddr::V4(a)) => {
                for (i, octet) in a.ip().octets().into_iter().enumerate() {
                    if i > 0 {
                        out.push(b'.');
                    }
                    push_decimal(out, u64::from(octet));
                }
            }
            Some(a) => {
                let _ = write!(out, "{}", a.ip());
            }
            None => out.push(b'-'),
        }
        out.push(b' ');
        out.extend_from_slice(line.method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(line.path.as_bytes());
        out.push(b' ');
        push_decimal(out, u64::from(line.status.as_u16()));
        out.push(b' ');
        push_decimal(out, line.bytes);
        out.extend_from_slice(b" bytes ");
        // Milliseconds with one decimal, rounded.
        let tenths = (line.duration.as_micros() + 50) / 100;
        push_decimal(out, u64::try_from(tenths / 10).unwrap_or(u64::MAX));
        out.push(b'.');
        out.push(b'0' + (tenths % 10) as u8);
        out.extend_from_slice(b" ms");
        if line.pushed {
            out.extend_from_slice(b" [push]");
        }
        if !line.complete {
            out.extend_from_slice(b" (incomplete)");
        }
        out.push(b'\n');
    }
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// How long dropping an [`AccessLogWriter`] waits for the last lines to be written.
const LAST_WRITE: Duration = Duration::from_secs(2);

impl Drop for AccessLogWriter {
    fn drop(&mut self) {
        let mut state = self.shared.state();
        state.stop = true;
        self.shared.wake.notify_one();
        // Not a join: a blocked output must not keep a server from exiting.
        let deadline = Instant::now() + LAST_WRITE;
        while !state.exited {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            state = self
                .shared
                .written
                .wait_timeout(state, deadline - now)
                .map_or_else(|e| e.into_inner().0, |(s, _)| s);
        }
        drop(state);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn write_loop(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        let mut state = shared.state();
        while state.pending.is_empty() && state.dropped == 0 && !state.stop {
            state = shared.wake.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        // Lines are pending: give others up to INTERVAL to join them.
        let deadline = Instant::now() + INTERVAL;
        while state.pending.len() < FLUSH_AT && !state.urgent && !state.stop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = shared
                .wake
                .wait_timeout(state, deadline - now)
                .map_or_else(|e| e.into_inner().0, |(s, _)| s);
        }
        state.urgent = false;
        std::mem::swap(&mut state.pending, &mut batch);
        let dropped = std::mem::take(&mut state.dropped);
        let stop = state.stop;
        state.writing = true;
        drop(state);
        let _ = out.write_all(&batch);
        if dropped > 0 {
            let _ = writeln!(
                out,
                "[access log: {dropped} line(s) dropped while the output was blocked]"
            );
        }
        let _ = out.flush();
        batch.clear();
        if batch.capacity() > 4 * FLUSH_AT {
            batch.shrink_to(FLUSH_AT);
        }
        let mut state = shared.state();
        state.writing = false;
        if stop && state.pending.is_empty() {
            state.exited = true;
            shared.written.notify_all();
            return;
        }
        shared.written.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use http::{Method, StatusCode};

    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn line(path: &str, complete: bool) -> AccessLog {
        AccessLog {
            method: Method::GET,
            path: path.to_owned(),
            status: StatusCode::OK,
            bytes: 12,
            duration: Duration::from_micros(1500),
            stream_id: h2kit::StreamId::new(1),
            remote_addr: Some("127.0.0.1:5000".parse().unwrap()),
            complete,
            pushed: false,
        }
    }

    #[test]
    fn lines_are_written_in_order_on_flush_and_on_drop() {
        let sink = Sink::default();
        let log = AccessLogWriter::new(sink.clone()).unwrap();
        let logger = log.logger();
        logger(&line("/a", true));
        logger(&line("/b", false));
        log.flush();
        assert_eq!(
            String::from_utf8(sink.0.lock().unwrap().clone()).unwrap(),
            "127.0.0.1 GET /a 200 12 bytes 1.5 ms\n\
             127.0.0.1 GET /b 200 12 bytes 1.5 ms (incomplete)\n"
        );
        for i in 0..10_000 {
            logger(&line(&format!("/{i}"), true));
        }
        drop(log);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 10_002);
        assert!(text.ends_with("GET /9999 200 12 bytes 1.5 ms\n"));
    }

    #[test]
    fn lines_are_written_without_a_flush_within_the_interval() {
        let sink = Sink::default();
        let log = AccessLogWriter::new(sink.clone()).unwrap();
        log.write(b"one\n");
        let deadline = Instant::now() + Duration::from_secs(5);
        while sink.0.lock().unwrap().is_empty() {
            assert!(Instant::now() < deadline, "not written within 5 s");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(&sink.0.lock().unwrap()[..], b"one\n");
    }

    /// An output that blocks until released.
    struct Blocked(Arc<(Mutex<bool>, Condvar)>, Sink);

    impl Write for Blocked {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let (open, cv) = &*self.0;
            let mut open = open.lock().unwrap();
            while !*open {
                open = cv.wait(open).unwrap();
            }
            self.1.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_blocked_output_drops_lines_instead_of_blocking_the_server() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let sink = Sink::default();
        let log = AccessLogWriter::new(Blocked(gate.clone(), sink.clone())).unwrap();
        let logger = log.logger();
        let long = "x".repeat(1000);
        let start = Instant::now();
        for _ in 0..20_000 {
            logger(&line(&long, true));
        }
        assert!(start.elapsed() < Duration::from_secs(10));
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        drop(log);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let written = text.lines().filter(|l| l.contains(" GET ")).count();
        assert!(written < 20_000, "{written}");
        let dropped: usize = text
            .lines()
            .filter_map(|l| l.strip_prefix("[access log: "))
            .map(|l| l.split(' ').next().unwrap().parse::<usize>().unwrap())
            .sum();
        assert!(dropped > 0, "no note of dropped lines");
        assert_eq!(written + dropped, 20_000);
    }

    #[test]
    fn dropping_the_writer_does_not_wait_forever_for_a_blocked_output() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let log = AccessLogWriter::new(Blocked(gate.clone(), Sink::default())).unwrap();
        log.write(b"stuck\n");
        log.flush_soon_for_test();
        let start = Instant::now();
        drop(log);
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(1500) && waited < Duration::from_secs(10));
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
    }

    #[test]
    fn lines_are_formatted_by_hand_like_the_format_macro_would() {
        let mut l = line("/x?y=1", true);
        let mut out = Vec::new();
        for (micros, ms) in [(0, "0.0"), (49, "0.0"), (50, "0.1"), (123_456, "123.5")] {
            l.duration = Duration::from_micros(micros);
            out.clear();
            AccessLogWriter::format_line(&l, &mut out);
            assert_eq!(
                String::from_utf8(out.clone()).unwrap(),
                format!("127.0.0.1 GET /x?y=1 200 12 bytes {ms} ms\n")
            );
        }
        l.remote_addr = Some("[::1]:80".parse().unwrap());
        l.pushed = true;
        l.complete = false;
        l.bytes = u64::MAX;
        l.status = StatusCode::NOT_FOUND;
        out.clear();
        AccessLogWriter::format_line(&l, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "::1 GET /x?y=1 404 18446744073709551615 bytes 123.5 ms [push] (incomplete)\n"
        );
        l.remote_addr = None;
        let mut out = Vec::new();
        AccessLogWriter::format_line(&l, &mut out);
        assert!(out.starts_with(b"- GET"));
    }
}
