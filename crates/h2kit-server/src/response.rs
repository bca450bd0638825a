//! Sending a handler's response: its head converted by [`h2kit::http`], then its body as
//! the connection's credit allows, then trailers or END_STREAM; and the access log line.
//! Request tasks (and pushes) run it; the connection task answers responses that are ready
//! at once itself ([`conn`](crate::conn)).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2kit::http::{extend_response_fields, trailer_fields};
use h2kit::{ErrorCode, Field, StreamId};
use http::{Method, Response, StatusCode};
use tokio::sync::{Notify, Semaphore, mpsc};

use crate::body::{Body, Frame};
use crate::log::{AccessLog, AccessLogger};
use crate::msg::{Cmd, Credit, Parked};

/// Per-connection facts the response tasks need.
#[derive(Clone)]
pub(crate) struct ResponseCtx {
    /// The user's access logger; without one, responses are logged with `tracing` at debug
    /// level when that is enabled.
    pub(crate) logger: Option<AccessLogger>,
    pub(crate) remote_addr: Option<SocketAddr>,
    /// What an on-demand body waits for before a read (see `acquire_for_read`): the
    /// connection grants at least this much at a time.
    pub(crate) min_read: usize,
    /// Notified when the connection cannot grant credit to every task that waits for it:
    /// a task waiting to read an on-demand body then hands the body back to the connection
    /// and ends (see `send_body`), so a stream that waits costs no task.
    pub(crate) park: Arc<Notify>,
}

impl ResponseCtx {
    /// Whether responses are logged at all: when not, nothing is gathered for the log (no
    /// path copy, no clock read).
    #[inline] // Called for every request by the connection task (another codegen unit).
    pub(crate) fn logs(&self) -> bool {
        self.logger.is_some() || tracing::enabled!(tracing::Level::DEBUG)
    }

    /// The time a request's log line measures from, when responses are logged.
    #[inline]
    pub(crate) fn log_start(&self) -> Option<Instant> {
        self.logs().then(Instant::now)
    }

    pub(crate) fn log(&self, line: &AccessLog) {
        match &self.logger {
            Some(logger) => logger(line),
            None => tracing::debug!(
                method = %line.method, path = %line.path, status = line.status.as_u16(),
                bytes = line.bytes, duration = ?line.duration, "response"
            ),
        }
    }
}

/// Whether a response to `method` with `status` has no body (HEAD, 204, 304): its body, if
/// any, is not sent.
#[inline]
pub(crate) fn without_body(method: &Method, status: StatusCode) -> bool {
    *method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

/// Whether a response to `method` with `status` opens a tunnel (a 2xx answer to CONNECT,
/// plain or extended): its head goes out at once and its body is the tunnel's data.
#[inline]
pub(crate) fn opens_tunnel(method: &Method, status: StatusCode) -> bool {
    *method == Method::CONNECT && status.is_success()
}

/// Sends `Cmd::Abandoned` when dropped armed: a task that ends early never leaves a stream
/// hanging.
pub(crate) struct StreamGuard {
    pub(crate) id: StreamId,
    pub(crate) cmd: mpsc::UnboundedSender<Cmd>,
    pub(crate) armed: bool,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.cmd.send(Cmd::Abandoned { id: self.id });
        }
    }
}

/// Asks the connection for credit (at least `min`, up to `want`) unless the stream already
/// holds `min`: the connection grants credit only to tasks that wait for it, so a handler
/// that holds a stream open without sending holds none.
fn ask(credit: &Semaphore, asker: &Asker<'_>, min: usize, want: usize) {
    if credit.available_permits() < min {
        let _ = asker.cmd.send(Cmd::Credit {
            id: asker.id,
            min,
            want,
        });
    }
}

/// The stream a response task asks credit for, and where it asks.
struct Asker<'a> {
    cmd: &'a mpsc::UnboundedSender<Cmd>,
    id: StreamId,
}

/// Takes up to `want` bytes of credit, waiting for at least one. `None` when the stream is
/// gone.
async fn acquire(credit: &Semaphore, asker: &Asker<'_>, want: usize) -> Option<usize> {
    ask(credit, asker, 1, want);
    let first = credit.acquire().await.ok()?;
    first.forget();
    let extra = credit.available_permits().min(want.saturating_sub(1));
    let extra = u32::try_from(extra).unwrap_or(u32::MAX);
    if extra > 0 {
        if let Ok(p) = credit.try_acquire_many(extra) {
            p.forget();
            return Some(1 + extra as usize);
        }
    }
    Some(1)
}

/// What a task waiting to read an on-demand body got.
enum ForRead {
    /// This much credit.
    Credit(usize),
    /// The stream is gone.
    Gone,
    /// The connection has no credit for it now: park the body (see `ResponseCtx::park`).
    Park,
}

/// Takes at least `min` (when `want` is that large) and up to `want` bytes of credit, waiting
/// for them: a body read on demand is not read a few bytes at a time. The connection grants
/// at least `ResponseCtx::min_read` at a time, so the wait ends when `min` is at most that;
/// or it tells waiting tasks to park (`park` is notified).
async fn acquire_for_read(
    credit: &Semaphore,
    asker: &Asker<'_>,
    park: &Notify,
    min: usize,
    want: usize,
) -> ForRead {
    let min = min.min(want).max(1);
    ask(credit, asker, min, want);
    let first = loop {
        let notified = park.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        tokio::select! {
            biased;
            permit = credit.acquire_many(u32::try_from(min).unwrap_or(u32::MAX)) => {
                match permit {
                    Ok(p) => break p,
                    Err(_) => return ForRead::Gone,
                }
            }
            () = &mut notified => {
                if credit.available_permits() < min {
                    return ForRead::Park;
                }
            }
        }
    };
    first.forget();
    let extra = credit.available_permits().min(want.saturating_sub(min));
    let extra = u32::try_from(extra).unwrap_or(u32::MAX);
    if extra > 0 {
        if let Ok(p) = credit.try_acquire_many(extra) {
            p.forget();
            return ForRead::Credit(min + extra as usize);
        }
    }
    ForRead::Credit(min)
}

/// Sends the response head, without data, unless it went out already.
fn send_head(
    cmd: &mpsc::UnboundedSender<Cmd>,
    id: StreamId,
    head: &mut Option<Vec<Field>>,
    end: bool,
) {
    if let Some(fields) = head.take() {
        let _ = cmd.send(Cmd::Response {
            id,
            fields,
            data: None,
            end,
        });
    }
}

/// Runs a handler's response out: headers, then the body as credit allows, then trailers or
/// END_STREAM; then the access log line, measured from `start`
/// ([`ResponseCtx::log_start`]).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn send_response(
    ctx: ResponseCtx,
    cmd: mpsc::UnboundedSender<Cmd>,
    id: StreamId,
    credit: Credit,
    method: Method,
    path: String,
    response: Response<Body>,
    pushed: bool,
    start: Option<Instant>,
) {
    let (mut parts, body) = response.into_parts();
    let status = parts.status;
    if opens_tunnel(&method, status) {
        parts.headers.remove(http::header::CONTENT_LENGTH);
    }
    let mut fields = Vec::new();
    extend_response_fields(&mut fields, status, &parts.headers);
    // The header map is in `fields` now: its memory goes before any wait for credit.
    drop(parts);
    let line = LogLine {
        method,
        path,
        status,
        pushed,
        start,
        bytes: 0,
    };
    send_body(ctx, cmd, id, credit, line, Some(fields), body).await;
}

/// What the access log line of a response says besides its outcome.
pub(crate) struct LogLine {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) status: StatusCode,
    pub(crate) pushed: bool,
    pub(crate) start: Option<Instant>,
    /// Body bytes sent so far (by the task before a parked body's).
    pub(crate) bytes: u64,
}

/// Runs a response out after its head was converted: `head` (unless the connection sent it
/// already), then `body` as credit allows, then trailers or END_STREAM; then the access log
/// line.
pub(crate) async fn send_body(
    ctx: ResponseCtx,
    cmd: mpsc::UnboundedSender<Cmd>,
    id: StreamId,
    credit: Credit,
    line: LogLine,
    mut head: Option<Vec<Field>>,
    mut body: Body,
) {
    let mut guard = StreamGuard {
        id,
        cmd: cmd.clone(),
        armed: true,
    };
    let LogLine {
        method,
        path,
        status,
        pushed,
        start,
        mut bytes,
    } = line;
    let tunnel = opens_tunnel(&method, status);
    let no_body = without_body(&method, status);
    let mut complete = false;
    if no_body || body.is_end_stream() {
        send_head(&cmd, id, &mut head, true);
        complete = true;
    } else {
        if tunnel {
            // The client waits for this head before it sends anything, and the handler may
            // wait for the client before it sends anything: the head cannot wait for data.
            send_head(&cmd, id, &mut head, false);
        }
        'body: loop {
            // Credit taken before polling an on-demand body (a reader, a file), for the data
            // it then reads: such a body is polled only with credit in hand, and reads at most
            // that much.
            let mut held = 0;
            if body.reads_on_demand() {
                let want = body.next_read_size();
                if credit.available_permits() < ctx.min_read.min(want).max(1) {
                    // The wait for credit may be long (the connection's budget is spent on
                    // other streams, or the peer's window is closed): the head goes out first
                    // instead of waiting in memory with the body.
                    send_head(&cmd, id, &mut head, false);
                }
                let asker = Asker { cmd: &cmd, id };
                let min = ctx.min_read.min(want).max(1);
                let n = match acquire_for_read(&credit, &asker, &ctx.park, min, want).await {
                    ForRead::Credit(n) => n,
                    ForRead::Gone => break 'body,
                    ForRead::Park => {
                        // The head is out (above): the connection keeps the body and starts
                        // a task for it again once it has credit.
                        guard.armed = false;
                        let parked = Box::new(Parked {
                            line: LogLine {
                                method,
                                path,
                                status,
                                pushed,
                                start,
                                bytes,
                            },
                            body,
                            min,
                            want,
                        });
                        let _ = cmd.send(Cmd::Park { id, parked });
                        return;
                    }
                };
                held = n;
                body.limit_next_read(n);
            }
            match body.frame().await {
                None => {
                    let _ = cmd.send(match head.take() {
                        Some(fields) => Cmd::Response {
                            id,
                            fields,
                            data: None,
                            end: true,
                        },
                        None => Cmd::Data {
                            id,
                            data: Bytes::new(),
                            end: true,
                        },
                    });
                    complete = true;
                    break;
                }
                Some(Err(e)) => {
                    tracing::debug!(stream = id.get(), error = %e, "response body failed");
                    // Nothing is out yet: headers then a reset say "failed" clearly.
                    send_head(&cmd, id, &mut head, false);
                    let _ = cmd.send(Cmd::Reset {
                        id,
                        code: ErrorCode::INTERNAL_ERROR,
                    });
                    break;
                }
                Some(Ok(Frame::Trailers(t))) => {
                    send_head(&cmd, id, &mut head, false);
                    let fields = trailer_fields(&t);
                    let _ = cmd.send(Cmd::Trailers { id, fields });
                    complete = true;
                    break;
                }
                Some(Ok(Frame::Data(mut d))) => {
                    if held > d.len() {
                        credit.add_permits(held - d.len());
                        held = d.len();
                    }
                    while !d.is_empty() {
                        let n = match std::mem::take(&mut held) {
                            0 => {
                                if credit.available_permits() == 0 {
                                    send_head(&cmd, id, &mut head, false);
                                }
                                match acquire(&credit, &Asker { cmd: &cmd, id }, d.len()).await {
                                    Some(n) => n,
                                    None => break 'body,
                                }
                            }
                            n => n,
                        };
                        let piece = d.split_to(n.min(d.len()));
                        bytes += piece.len() as u64;
                        let end = d.is_empty() && body.is_end_stream();
                        let sent = match head.take() {
                            Some(fields) => cmd.send(Cmd::Response {
                                id,
                                fields,
                                data: Some(piece),
                                end,
                            }),
                            None => cmd.send(Cmd::Data {
                                id,
                                data: piece,
                                end,
                            }),
                        };
                        if sent.is_err() {
                            break 'body;
                        }
                        if end {
                            complete = true;
                            break 'body;
                        }
                    }
                }
            }
        }
    }
    guard.armed = !complete;
    drop(guard);
    if ctx.logs() {
        ctx.log(&AccessLog {
            method,
            path,
            status,
            bytes,
            duration: start.map_or(Duration::ZERO, |s| s.elapsed()),
            stream_id: id,
            remote_addr: ctx.remote_addr,
            complete,
            pushed,
        });
    }
}
