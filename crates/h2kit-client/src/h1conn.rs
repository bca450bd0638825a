//! The HTTP/1.1 side of the client: a small pool of keep-alive connections driven by one task
//! that speaks the same command protocol as the HTTP/2 connection task ([`Cmd`]), so
//! [`Client`](crate::Client), [`Body`] and the response futures work unchanged over either.
//!
//! One request at a time per connection (no pipelining); up to
//! [`H1Options::max_connections`] connections open at once, others wait their turn. A
//! response body is read from the socket only as the application reads it: each exchange
//! holds a window of [`H1Options::window`] bytes that the body's chunks use and give back as
//! they are read (the HTTP/2 flow-control release, reused), so an unread body costs at most
//! that much memory. A body dropped before its end closes its connection (HTTP/1.1 cannot
//! cancel a response otherwise); a finished exchange on a keep-alive connection returns it
//! to the pool.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use h2kit::StreamId;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

use crate::decode::ContentDecoder;
use crate::error::Error;
use crate::h1::{self, Chunk, ChunkedDecoder, Framing, H1Error, H1Limits};
use crate::msg::{
    Cmd, Head, Item, ItemSender, Link, Outgoing, PendingRequest, RequestHead, Upload,
};

/// A byte stream an HTTP/1.1 connection runs on (TCP or TLS).
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A connection of the pool.
pub(crate) type BoxIo = Box<dyn Io>;

/// Opens another connection to the same origin (TCP, then TLS with ALPN `http/1.1`).
pub(crate) type Connect =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<BoxIo, Error>> + Send>> + Send + Sync>;

/// How the HTTP/1.1 pool behaves.
#[derive(Clone, Debug)]
pub(crate) struct H1Options {
    /// The most connections open at once (browsers use 6 per origin).
    pub(crate) max_connections: usize,
    /// Response bytes read ahead of the application, per exchange.
    pub(crate) window: u32,
    pub(crate) limits: H1Limits,
    pub(crate) max_decoded: Option<u64>,
    /// Through a proxy that forwards HTTP/1.1: request targets in absolute form with this
    /// prefix (`http://authority`), and this `Proxy-Authorization`.
    pub(crate) forward: Option<(String, Option<String>)>,
    /// How long a keep-alive connection may wait unused in the pool before it is closed
    /// (`None`: as long as the server keeps it).
    pub(crate) idle_timeout: Option<Duration>,
}

/// The default [`H1Options::idle_timeout`]: servers close idle keep-alive connections after
/// 5 s (Apache) to 75 s (nginx); keeping ours longer only meets closed sockets.
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

impl Default for H1Options {
    fn default() -> Self {
        H1Options {
            max_connections: 6,
            window: 256 * 1024,
            limits: H1Limits::default(),
            max_decoded: None,
            forward: None,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
        }
    }
}

/// The socket read size.
const READ_SIZE: usize = 16 * 1024;

/// An exchange tells the pool it is over, handing its connection back when it can be reused.
struct Done {
    id: u32,
    io: Option<BoxIo>,
}

/// The task behind an HTTP/1.1 [`Client`](crate::Client).
pub(crate) struct Pool {
    rx: mpsc::UnboundedReceiver<Cmd>,
    link: Weak<Link>,
    authority: String,
    connect: Connect,
    opts: H1Options,
    /// Keep-alive connections waiting for a request, each with when it became idle (oldest
    /// first).
    idle: VecDeque<(BoxIo, Instant)>,
    /// Connections that exist (idle, busy, or being opened).
    open: usize,
    waiting: VecDeque<PendingRequest>,
    /// Each busy exchange's window, by its (odd, HTTP/2-like) id.
    windows: HashMap<u32, Arc<Semaphore>>,
    next_id: u32,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    closing: bool,
}

impl Pool {
    pub(crate) fn new(
        rx: mpsc::UnboundedReceiver<Cmd>,
        link: Weak<Link>,
        authority: String,
        first: Option<BoxIo>,
        connect: Connect,
        opts: H1Options,
    ) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        if let Some(link) = link.upgrade() {
            link.shared.open.store(true, Ordering::Release);
        }
        let open = usize::from(first.is_some());
        Pool {
            rx,
            link,
            authority,
            connect,
            opts,
            idle: first.into_iter().map(|io| (io, Instant::now())).collect(),
            open,
            waiting: VecDeque::new(),
            windows: HashMap::new(),
            next_id: 1,
            done_tx,
            done_rx,
            closing: false,
        }
    }

    /// Runs until every handle is gone, or after [`Cmd::Shutdown`] when the last exchange
    /// ends.
    pub(crate) async fn run(mut self) {
        loop {
            if self.closing && self.windows.is_empty() && self.waiting.is_empty() {
                break;
            }
            let expiry = self
                .opts
                .idle_timeout
                .zip(self.idle.front())
                .map(|(timeout, (_, since))| *since + timeout);
            tokio::select! {
                // Returned connections first: a request that arrives with one is sent on it.
                biased;
                Some(done) = self.done_rx.recv() => self.on_done(done),
                cmd = self.rx.recv() => match cmd {
                    Some(cmd) => self.on_cmd(cmd),
                    None => break,
                },
                () = sleep_until(expiry) => self.close_expired(),
            }
        }
        if let Some(link) = self.link.upgrade() {
            link.shared.open.store(false, Ordering::Release);
        }
    }

    fn on_cmd(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Request(p) => {
                if self.closing {
                    p.tx.send_head(Err(Error::ConnectionClosed));
                } else if p.extended {
                    p.tx.send_head(Err(Error::Unsupported("extended CONNECT needs HTTP/2")));
                } else {
                    self.waiting.push_back(p);
                    self.dispatch();
                }
            }
            Cmd::Release { id, len } => {
                if let Some(w) = self.windows.get(&id.get()) {
                    w.add_permits(len as usize);
                }
            }
            Cmd::BodyDropped { id, ended, .. } => {
                if !ended {
                    // Stop reading: the exchange drops its connection.
                    if let Some(w) = self.windows.get(&id.get()) {
                        w.close();
                    }
                }
            }
            Cmd::Ping { reply } => {
                let _ = reply.send(Err(Error::Unsupported("PING needs HTTP/2")));
            }
            Cmd::Stats { reply } => {
                let _ = reply.send(Err(Error::Unsupported("window statistics need HTTP/2")));
            }
            Cmd::Shutdown => {
                self.closing = true;
                self.open -= self.idle.len();
                self.idle.clear();
                for p in self.waiting.drain(..) {
                    p.tx.send_head(Err(Error::ConnectionClosed));
                }
                if let Some(link) = self.link.upgrade() {
                    link.shared.open.store(false, Ordering::Release);
                }
            }
            // Uploads are written by the exchange itself, and HTTP/1.1 has no connection
            // window to give back.
            Cmd::Data { .. } | Cmd::Finish { .. } | Cmd::UploadFailed { .. } | Cmd::Released => {}
        }
    }

    fn on_done(&mut self, done: Done) {
        self.windows.remove(&done.id);
        match done.io {
            Some(io) if !self.closing => self.idle.push_back((io, Instant::now())),
            _ => self.open -= 1,
        }
        self.dispatch();
    }

    /// Closes the connections idle for longer than [`H1Options::idle_timeout`].
    fn close_expired(&mut self) {
        let Some(timeout) = self.opts.idle_timeout else {
            return;
        };
        let now = Instant::now();
        while self
            .idle
            .front()
            .is_some_and(|(_, since)| now >= *since + timeout)
        {
            self.idle.pop_front();
            self.open -= 1;
        }
    }

    /// Starts waiting requests on idle connections, or on new ones while under the limit.
    fn dispatch(&mut self) {
        while let Some(p) = self.waiting.pop_front() {
            if p.tx.is_abandoned() {
                continue;
            }
            // The most recently used connection: the likeliest to be still open.
            let io = match self.idle.pop_back() {
                Some((io, _)) => Some(io),
                None if self.open < self.opts.max_connections => {
                    self.open += 1;
                    None
                }
                None => {
                    self.waiting.push_front(p);
                    return;
                }
            };
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(2).max(1);
            let window = Arc::new(Semaphore::new(self.opts.window as usize));
            self.windows.insert(id, window.clone());
            let exchange = Exchange {
                id,
                window,
                authority: self.authority.clone(),
                opts: self.opts.clone(),
            };
            let connect = self.connect.clone();
            let done = self.done_tx.clone();
            tokio::spawn(async move {
                let io = match io {
                    Some(io) => Ok(io),
                    None => connect().await,
                };
                let (io, last) = match io {
                    Ok(io) => exchange.run(io, p).await,
                    Err(e) => {
                        p.tx.send_head(Err(e));
                        (None, None)
                    }
                };
                // The connection goes back to the pool before the body's last item reaches
                // the application, so a request it makes next finds the connection idle.
                let _ = done.send(Done { id, io });
                if let Some((tx, item)) = last {
                    let _ = tx.send(item);
                }
            });
        }
    }
}

/// Waits until `at`, or forever without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// One request and its response on one connection.
struct Exchange {
    id: u32,
    window: Arc<Semaphore>,
    authority: String,
    opts: H1Options,
}

/// A finished body's last item, delivered after the connection went back to the pool.
type Last = (ItemSender, Item);

/// Why an exchange stopped early.
enum Stop {
    /// The body's reader went away: close the connection, report nothing.
    Abandoned,
    Failed(Error),
}

impl From<std::io::Error> for Stop {
    fn from(e: std::io::Error) -> Self {
        Stop::Failed(Error::Io(Arc::new(e)))
    }
}

impl From<H1Error> for Stop {
    fn from(e: H1Error) -> Self {
        Stop::Failed(Error::Http1(e))
    }
}

impl Exchange {
    /// Runs the exchange; gives the connection back when it may carry another request, and
    /// the body's last item, for the caller to deliver once the connection is back.
    async fn run(self, mut io: BoxIo, p: PendingRequest) -> (Option<BoxIo>, Option<Last>) {
        let tx = p.tx;
        let Some(Outgoing {
            head,
            mut body,
            decompress,
            ..
        }) = tx.take_request()
        else {
            // Taken before: nothing left to send.
            return (Some(io), None);
        };
        let RequestHead::Http1(request) = head else {
            // The client makes HTTP/1.1 heads for an HTTP/1.1 connection only.
            tx.send_head(Err(Error::Unsupported(
                "an HTTP/2 request on an HTTP/1.1 connection",
            )));
            return (Some(io), None);
        };
        if !tx.opened(StreamId::new(self.id)) {
            return (Some(io), None);
        }
        let mut buf = BytesMut::with_capacity(READ_SIZE);
        let head = match self
            .request_and_head(&mut io, &request, &mut body, &mut buf)
            .await
        {
            Ok(head) => head,
            Err(Stop::Failed(e)) => {
                tx.send_head(Err(e));
                return (None, None);
            }
            Err(Stop::Abandoned) => return (None, None),
        };
        let h1::ResponseHead {
            status,
            version,
            headers,
            framing,
            keep_alive,
        } = head;
        let mut response = http::Response::new(());
        *response.status_mut() = status;
        *response.version_mut() = version;
        *response.headers_mut() = headers;
        let (mut parts, ()) = response.into_parts();
        let decoder = if decompress {
            ContentDecoder::take_from(&mut parts, self.opts.max_decoded)
        } else {
            None
        };
        if let (Framing::Length(len), None) = (framing, &decoder) {
            tx.hint_length(len);
        }
        let head = Head {
            parts,
            stream: StreamId::new(self.id),
            decoder,
        };
        if !tx.send_head(Ok(head)) {
            return (None, None);
        }
        match self.body(&mut io, &mut buf, framing, &tx).await {
            Ok(last) => (
                (keep_alive && buf.is_empty()).then_some(io),
                Some((tx, last)),
            ),
            Err(Stop::Failed(e)) => {
                let _ = tx.send(Item::Error(e));
                (None, None)
            }
            Err(Stop::Abandoned) => (None, None),
        }
    }

    /// Writes the request, then reads up to the final response head (1xx heads skipped).
    async fn request_and_head(
        &self,
        io: &mut BoxIo,
        request: &http::Request<()>,
        body: &mut Upload,
        buf: &mut BytesMut,
    ) -> Result<h1::ResponseHead, Stop> {
        let path = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
        let mut headers = std::borrow::Cow::Borrowed(request.headers());
        let target = match &self.opts.forward {
            Some((prefix, auth)) => {
                if let Some(value) = auth.as_deref().and_then(|a| a.parse().ok()) {
                    headers
                        .to_mut()
                        .insert(http::header::PROXY_AUTHORIZATION, value);
                }
                format!("{prefix}{path}")
            }
            None => path.to_owned(),
        };
        let head_request = request.method() == http::Method::HEAD;
        let mut out = BytesMut::with_capacity(256);
        let full = body.full.clone();
        let len = body.size;
        h1::encode_request_head(
            request.method(),
            &target,
            &self.authority,
            &headers,
            len,
            &mut out,
        );
        match full {
            Some(data) => {
                out.extend_from_slice(&data);
                io.write_all(&out).await?;
            }
            None if len == Some(0) => io.write_all(&out).await?,
            None => {
                // Streamed: chunked, read from the body as the socket takes it.
                io.write_all(&out).await?;
                while let Some(chunk) = body.chunk().await {
                    let chunk = chunk.map_err(Stop::Failed)?;
                    out.clear();
                    h1::encode_chunk(&chunk, &mut out);
                    io.write_all(&out).await?;
                }
                out.clear();
                h1::encode_last_chunk(body.trailers.take().as_deref(), &mut out);
                io.write_all(&out).await?;
            }
        }
        io.flush().await?;
        loop {
            match h1::parse_response_head(buf, head_request, &self.opts.limits)? {
                Some(head)
                    if head.status.is_informational()
                        && head.status != http::StatusCode::SWITCHING_PROTOCOLS =>
                {
                    continue;
                }
                Some(head) => return Ok(head),
                None => {
                    if read_more(io, buf).await? == 0 {
                        return Err(Stop::Failed(Error::Http1(H1Error::UnexpectedEof)));
                    }
                }
            }
        }
    }

    /// Reads the body as its framing says, handing each piece to the response body once the
    /// window lets it; returns the last item (its end) undelivered.
    async fn body(
        &self,
        io: &mut BoxIo,
        buf: &mut BytesMut,
        framing: Framing,
        tx: &ItemSender,
    ) -> Result<Item, Stop> {
        match framing {
            Framing::Empty => Ok(Item::End),
            Framing::Length(mut left) => {
                while left > 0 {
                    if buf.is_empty() && read_more(io, buf).await? == 0 {
                        return Err(H1Error::UnexpectedEof.into());
                    }
                    let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    left -= n as u64;
                    let data = buf.split_to(n).freeze();
                    if let Some(last) = self.deliver(data, left == 0, tx).await? {
                        return Ok(last);
                    }
                }
                Ok(Item::End)
            }
            Framing::Chunked => {
                let mut decoder = ChunkedDecoder::new(self.opts.limits);
                loop {
                    match decoder.decode(buf)? {
                        Some(Chunk::Data(data)) => {
                            self.deliver(data, false, tx).await?;
                        }
                        Some(Chunk::Trailers(t)) => return Ok(Item::Trailers(Box::new(t))),
                        Some(Chunk::End) => return Ok(Item::End),
                        None => {
                            if read_more(io, buf).await? == 0 {
                                return Err(H1Error::UnexpectedEof.into());
                            }
                        }
                    }
                }
            }
            Framing::UntilClose => loop {
                if buf.is_empty() && read_more(io, buf).await? == 0 {
                    return Ok(Item::End);
                }
                let data = buf.split().freeze();
                self.deliver(data, false, tx).await?;
            },
        }
    }

    /// Hands `data` to the response body once the window has room for it; with `end`, the
    /// last piece (which ends the body) is returned instead of sent.
    async fn deliver(&self, data: Bytes, end: bool, tx: &ItemSender) -> Result<Option<Item>, Stop> {
        let window = self.opts.window as usize;
        let mut data = data;
        loop {
            let n = data.len().min(window);
            let piece = data.split_to(n);
            let last = data.is_empty();
            let flow = u32::try_from(n).unwrap_or(u32::MAX);
            if !end || !last {
                // Held until the body gives it back (the last piece never is: its stream
                // is over, and the connection-level pool it goes to is HTTP/2's).
                self.window
                    .acquire_many(flow)
                    .await
                    .map_err(|_| Stop::Abandoned)?
                    .forget();
            }
            if end && last {
                return Ok(Some(Item::Data {
                    data: piece,
                    flow: 0,
                    end: true,
                }));
            }
            if tx
                .send(Item::Data {
                    data: piece,
                    flow,
                    end: false,
                })
                .is_err()
            {
                return Err(Stop::Abandoned);
            }
            if last {
                return Ok(None);
            }
        }
    }
}

/// Reads what the socket has into `buf`; 0 at its end.
async fn read_more(io: &mut BoxIo, buf: &mut BytesMut) -> std::io::Result<usize> {
    buf.reserve(READ_SIZE);
    io.read_buf(buf).await
}
