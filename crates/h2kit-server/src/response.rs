//! Sending a handler's response: its head converted by [`h2kit::http`], then its body as
//! the connection's credit allows, then trailers or END_STREAM; and the access log line.
//! Request tasks (and pushes) run it; the connection task answers responses that are ready
//! at once itself ([`conn`](crate::conn)).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2kit::http::{extend_response_fields, trailer_fields};
use h2kit::{ErrorCode, Field, StreamId};
use http::{Method, Response, StatusCode};
use tokio::sync::{Semaphore, mpsc};

use crate::body::{Body, Frame};
use crate::log::{AccessLog, AccessLogger};
use crate::msg::{Cmd, Credit};

/// Per-connection facts the response tasks need.
#[derive(Clone)]
pub(crate) struct ResponseCtx {
    /// The user's access logger; without one, responses are logged with `tracing` at debug
    /// level when that is enabled.
    pub(crate) logger: Option<AccessLogger>,
    pub(crate) remote_addr: Option<SocketAddr>,
    /// The least credit a stream is always topped up to: what an on-demand body waits for
    /// before a read (see `acquire_for_read`).
    pub(crate) min_read: usize,
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

/// Takes up to `want` bytes of credit, waiting for at least one. `None` when the stream is
/// gone.
async fn acquire(credit: &Semaphore, want: usize) -> Option<usize> {
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

/// Takes at least `min` (when `want` is that large) and up to `want` bytes of credit, waiting
/// for them: a body read on demand is not read a few bytes at a time. The wait ends when `min`
/// is at most `ResponseCtx::min_read`, the least a stream's credit is topped up to. `None`
/// when the stream is gone.
async fn acquire_for_read(credit: &Semaphore, min: usize, want: usize) -> Option<usize> {
    let min = min.min(want).max(1);
    let first = credit
        .acquire_many(u32::try_from(min).unwrap_or(u32::MAX))
        .await
        .ok()?;
    first.forget();
    let extra = credit.available_permits().min(want.saturating_sub(min));
    let extra = u32::try_from(extra).unwrap_or(u32::MAX);
    if extra > 0 {
        if let Ok(p) = credit.try_acquire_many(extra) {
            p.forget();
            return Some(min + extra as usize);
        }
    }
    Some(min)
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
    let mut guard = StreamGuard {
        id,
        cmd: cmd.clone(),
        armed: true,
    };
    let (mut parts, mut body) = response.into_parts();
    let status = parts.status;
    let tunnel = opens_tunnel(&method, status);
    if tunnel {
        parts.headers.remove(http::header::CONTENT_LENGTH);
    }
    let mut fields = Vec::new();
    extend_response_fields(&mut fields, status, &parts.headers);
    let no_body = without_body(&method, status);
    let mut bytes = 0u64;
    let mut complete = false;
    let mut head = Some(fields);
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
                let Some(n) = acquire_for_read(&credit, ctx.min_read, want).await else {
                    break 'body;
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
                            0 => match acquire(&credit, d.len()).await {
                                Some(n) => n,
                                None => break 'body,
                            },
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
