//! [`Pair`]: a client and a server [`Connection`] in memory on a virtual clock.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use h2kit::{Config, Connection, Event};
use h2kit_frame::{FRAME_HEADER_LEN, Frame, FrameHeader};

/// One end of a [`Pair`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The connection made by [`Connection::client`].
    Client,
    /// The connection made by [`Connection::server`].
    Server,
}

/// Which way bytes travel between the two ends of a [`Pair`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Written by the client, read by the server.
    ToServer,
    /// Written by the server, read by the client.
    ToClient,
}

impl Direction {
    /// The side that writes in this direction.
    pub fn sender(self) -> Side {
        match self {
            Direction::ToServer => Side::Client,
            Direction::ToClient => Side::Server,
        }
    }
}

/// What an interceptor does with one frame (see [`Pair::intercept`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver the frame unchanged.
    Pass,
    /// Deliver nothing in its place.
    Drop,
    /// Deliver these octets instead (zero, one or several whole frames, or anything else).
    Replace(Bytes),
}

/// Why [`Pair::drive_bounded`] gave up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DriveError {
    /// Bytes or timers were still moving after the allowed number of steps.
    Livelock {
        /// The steps taken.
        steps: usize,
        /// Octets delivered in each direction during those steps (to server, to client).
        moved: (u64, u64),
    },
    /// Nothing moves any more, yet a side still holds stream output it cannot write
    /// (typically a flow-control window that will never open).
    Stalled {
        /// The steps taken before the pair went quiet.
        steps: usize,
        /// Streams of the client with data, trailers or END_STREAM still queued.
        client_streams_with_output: usize,
        /// The same for the server.
        server_streams_with_output: usize,
    },
}

impl fmt::Display for DriveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriveError::Livelock { steps, moved } => write!(
                f,
                "livelock: still moving after {steps} steps ({} octets to the server, {} to \
                 the client)",
                moved.0, moved.1
            ),
            DriveError::Stalled {
                steps,
                client_streams_with_output,
                server_streams_with_output,
            } => write!(
                f,
                "stalled after {steps} steps: nothing moves, but output is queued on \
                 {client_streams_with_output} client and {server_streams_with_output} server \
                 streams"
            ),
        }
    }
}

impl std::error::Error for DriveError {}

type Interceptor = Box<dyn FnMut(Direction, &Frame) -> Verdict>;

/// One direction of the wire: bytes in flight with their arrival time, and the reassembly
/// buffer the interceptor works on.
#[derive(Default)]
struct Link {
    /// Written but not yet delivered, oldest first.
    in_flight: VecDeque<(Instant, Bytes)>,
    /// Octets written that do not yet make a whole frame (only with an interceptor).
    partial: BytesMut,
    /// Client magic octets still to pass through before frames start (to-server only).
    preface_left: usize,
    /// Octets written and delivered in total.
    written: u64,
    delivered: u64,
    /// With a bandwidth: when the link has finished sending what it holds.
    free_at: Option<Instant>,
}

impl Link {
    /// When `len` octets written at `now` arrive: after the octets already queued have been
    /// sent at `bandwidth` octets per second (if limited), then `latency`.
    fn arrival(
        &mut self,
        now: Instant,
        latency: Duration,
        bandwidth: Option<u64>,
        len: usize,
    ) -> Instant {
        let Some(bps) = bandwidth else {
            return now + latency;
        };
        let start = self.free_at.map_or(now, |t| t.max(now));
        let nanos = (len as u128 * 1_000_000_000).div_ceil(u128::from(bps.max(1)));
        let done = start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        self.free_at = Some(done);
        done + latency
    }

    /// Puts `bytes` written at `now` on the wire. With a bandwidth they travel as packets of
    /// at most [`PACKET`] octets, each arriving once its last octet is through, as on a real
    /// link: a receiver sees a large write arrive over time, not at once.
    fn put(&mut self, now: Instant, latency: Duration, bandwidth: Option<u64>, mut bytes: Bytes) {
        self.written += bytes.len() as u64;
        while !bytes.is_empty() {
            let n = match bandwidth {
                Some(_) => bytes.len().min(PACKET),
                None => bytes.len(),
            };
            let packet = bytes.split_to(n);
            let arrival = self.arrival(now, latency, bandwidth, n);
            self.in_flight.push_back((arrival, packet));
        }
    }
}

/// The largest piece a link with a bandwidth delivers at once (see
/// [`Pair::set_bandwidth`]).
pub const PACKET: usize = 16 * 1024;

/// The default number of steps [`Pair::drive`] allows before it reports a livelock.
pub const DRIVE_LIMIT: usize = 1_000_000;

/// A client and a server [`Connection`] connected in memory on a virtual clock.
///
/// Each [`step`](Self::step) moves bytes both ways following the connections' driving
/// contract: take output with [`Connection::poll_transmit`] (at most
/// [`byte_cap`](Self::set_byte_cap) octets per direction, so frames are cut anywhere), put
/// them on the wire to arrive after the one-way [`latency`](Self::set_latency), hand what has
/// arrived (again at most the cap) to [`Connection::recv`], fire timers whose
/// [`Connection::poll_timeout`] deadline has passed, and collect events per side. When
/// nothing moves but bytes are in flight, the clock jumps to the next arrival; with
/// [`follow_timers`](Self::follow_timers) it also jumps to the next timer deadline.
///
/// Received DATA is given back with [`Connection::release_capacity`] as it is collected,
/// unless [`set_auto_release`](Self::set_auto_release) turns that off for a side.
///
/// ```
/// use h2kit::{Config, Event, Field};
/// use h2kit_test::Pair;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut pair = Pair::new(Config::default(), Config::default());
/// let request = vec![
///     Field::new(":method", "GET"), Field::new(":scheme", "https"),
///     Field::new(":path", "/"), Field::new(":authority", "example.com"),
/// ];
/// let id = pair.client.send_request(request, true)?;
/// pair.drive_bounded(100)?;
/// let asked = |e: &Event| matches!(e, Event::Request { stream, .. } if *stream == id);
/// assert!(pair.server_events.iter().any(asked));
/// pair.server.send_response(id, vec![Field::new(":status", "204")], true)?;
/// pair.drive_bounded(100)?;
/// assert!(pair.client_events.iter().any(|e| matches!(e, Event::Response { status: 204, .. })));
/// # Ok(())
/// # }
/// ```
pub struct Pair {
    /// The client connection.
    pub client: Connection,
    /// The server connection.
    pub server: Connection,
    /// The client's events collected so far, in order (take them with
    /// [`take_events`](Self::take_events) or inspect them in place).
    pub client_events: Vec<Event>,
    /// The server's events collected so far.
    pub server_events: Vec<Event>,
    start: Instant,
    now: Instant,
    latency: Duration,
    bandwidth: Option<u64>,
    cap: Option<usize>,
    follow_timers: bool,
    eof_on_close: bool,
    auto_release: [bool; 2],
    to_server: Link,
    to_client: Link,
    interceptor: Option<Interceptor>,
    buf: BytesMut,
    /// `Some` when output is taken with `poll_transmit_vectored`.
    chunks: Option<Vec<Bytes>>,
}

impl fmt::Debug for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pair")
            .field("elapsed", &self.elapsed())
            .field("latency", &self.latency)
            .field("cap", &self.cap)
            .field("client", &self.client)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Pair {
    /// A client with `client` and a server with `server`, no latency, no byte cap, timers
    /// firing only as the clock passes them.
    pub fn new(client: Config, server: Config) -> Self {
        let start = Instant::now();
        Pair {
            client: Connection::client(client),
            server: Connection::server(server),
            client_events: Vec::new(),
            server_events: Vec::new(),
            start,
            now: start,
            latency: Duration::ZERO,
            bandwidth: None,
            cap: None,
            follow_timers: false,
            eof_on_close: false,
            auto_release: [true, true],
            to_server: Link {
                preface_left: h2kit::PREFACE.len(),
                ..Link::default()
            },
            to_client: Link::default(),
            interceptor: None,
            buf: BytesMut::new(),
            chunks: None,
        }
    }

    /// Sets the one-way latency: bytes written at `t` arrive at `t + latency`.
    pub fn set_latency(&mut self, latency: Duration) -> &mut Self {
        self.latency = latency;
        self
    }

    /// Limits each direction to `bytes_per_second` (`None`: unlimited, the default): octets
    /// written queue behind those still being sent, as on a real link, then travel for the
    /// latency, in packets of at most [`PACKET`] octets, each delivered once it is through.
    /// With [`set_latency`](Self::set_latency) this models a long fat network (say 1 Gbit/s
    /// and 50 ms each way) for flow-control and window-tuning measurements.
    pub fn set_bandwidth(&mut self, bytes_per_second: Option<u64>) -> &mut Self {
        self.bandwidth = bytes_per_second;
        self
    }

    /// Moves at most `cap` octets per direction per step (`None`: everything there is).
    /// Small caps cut frames anywhere, so every `recv` sees partial frames.
    ///
    /// # Panics
    ///
    /// When `cap` is `Some(0)`.
    pub fn set_byte_cap(&mut self, cap: Option<usize>) -> &mut Self {
        assert!(cap != Some(0), "a byte cap of 0 would never move anything");
        self.cap = cap;
        self
    }

    /// When on, a quiet pair jumps the clock to the next [`Connection::poll_timeout`] deadline
    /// and fires it (keep-alive PINGs, SETTINGS and idle timeouts), as a real driver waiting
    /// on a timer would. Off by default, so that a finished exchange does not run into the
    /// idle timeout.
    pub fn follow_timers(&mut self, on: bool) -> &mut Self {
        self.follow_timers = on;
        self
    }

    /// When on, a side that has closed ([`Connection::is_closed`]: ended, its GOAWAY written)
    /// closes its transport, as a real driver does: once its last octets have arrived, the
    /// other side gets [`Connection::recv_eof`]. Off by default, so that a test sees what a
    /// connection does before the transport goes away.
    pub fn eof_on_close(&mut self, on: bool) -> &mut Self {
        self.eof_on_close = on;
        self
    }

    /// Takes output with [`Connection::poll_transmit_vectored`] instead of
    /// [`Connection::poll_transmit`] (off by default); each `Bytes` it hands out travels as
    /// its own piece (joined again for an interceptor).
    pub fn set_vectored(&mut self, on: bool) -> &mut Self {
        self.chunks = on.then(Vec::new);
        self
    }

    /// Whether received DATA is given back with [`Connection::release_capacity`] as soon as
    /// it is collected (on by default for both sides).
    pub fn set_auto_release(&mut self, side: Side, on: bool) -> &mut Self {
        self.auto_release[side as usize] = on;
        self
    }

    /// Installs `f` to see every frame in both directions (after the client magic) before it
    /// goes on the wire, and to pass, drop or replace it. The byte stream is split into
    /// frames by their headers and each is parsed with [`Frame::parse`]; a
    /// frame that does not parse passes unchanged. Replaces any earlier interceptor.
    pub fn intercept(
        &mut self,
        f: impl FnMut(Direction, &Frame) -> Verdict + 'static,
    ) -> &mut Self {
        self.interceptor = Some(Box::new(f));
        self
    }

    /// Removes the interceptor; frames already split keep their verdicts.
    pub fn clear_intercept(&mut self) -> &mut Self {
        self.interceptor = None;
        self
    }

    /// The virtual time now.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time elapsed since the pair was made.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// The connection of `side`.
    pub fn conn(&mut self, side: Side) -> &mut Connection {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    /// Takes the events collected for `side`.
    pub fn take_events(&mut self, side: Side) -> Vec<Event> {
        match side {
            Side::Client => std::mem::take(&mut self.client_events),
            Side::Server => std::mem::take(&mut self.server_events),
        }
    }

    /// Octets written into the wire so far in `dir` (after interception).
    pub fn bytes_written(&self, dir: Direction) -> u64 {
        self.link(dir).written
    }

    /// Octets delivered to the receiver so far in `dir`.
    pub fn bytes_delivered(&self, dir: Direction) -> u64 {
        self.link(dir).delivered
    }

    /// Octets on the wire in `dir` that have not arrived yet.
    pub fn in_flight(&self, dir: Direction) -> usize {
        self.link(dir).in_flight.iter().map(|(_, b)| b.len()).sum()
    }

    fn link(&self, dir: Direction) -> &Link {
        match dir {
            Direction::ToServer => &self.to_server,
            Direction::ToClient => &self.to_client,
        }
    }

    /// Moves the clock forward by `d` and fires the timers that are due.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.fire_timers();
    }

    /// Jumps the clock to the earliest timer deadline of either side (if later than now) and
    /// fires it. Returns the deadline, or `None` when neither side has one.
    pub fn advance_to_next_timer(&mut self) -> Option<Instant> {
        let next = min_opt(self.client.poll_timeout(), self.server.poll_timeout())?;
        self.now = self.now.max(next);
        self.fire_timers();
        Some(next)
    }

    fn fire_timers(&mut self) -> bool {
        let mut fired = false;
        for conn in [&mut self.client, &mut self.server] {
            if conn.poll_timeout().is_some_and(|t| t <= self.now) {
                conn.handle_timeout(self.now);
                fired = true;
            }
        }
        if fired {
            self.collect_events();
        }
        fired
    }

    /// One round: each side writes (up to the cap), arrived bytes are delivered (up to the
    /// cap), due timers fire, a closed side's transport closes (with
    /// [`eof_on_close`](Self::eof_on_close)) and events are collected. Returns whether
    /// anything happened. It never moves the clock.
    pub fn step(&mut self) -> bool {
        let mut moved = self.fire_timers();
        moved |= self.transmit(Direction::ToServer);
        moved |= self.transmit(Direction::ToClient);
        moved |= self.deliver(Direction::ToServer);
        moved |= self.deliver(Direction::ToClient);
        if self.eof_on_close {
            moved |= self.close_transports();
        }
        self.collect_events();
        moved
    }

    /// Gives EOF to a live side whose peer has closed and whose octets have all arrived.
    fn close_transports(&mut self) -> bool {
        let mut closed = false;
        for dir in [Direction::ToServer, Direction::ToClient] {
            let (from, to, link) = match dir {
                Direction::ToServer => (&self.client, &mut self.server, &self.to_server),
                Direction::ToClient => (&self.server, &mut self.client, &self.to_client),
            };
            if from.is_closed() && link.in_flight.is_empty() && to.error().is_none() {
                to.recv_eof();
                closed = true;
            }
        }
        closed
    }

    /// Moves what the sender in `dir` writes now to the receiver (in pieces of at most the
    /// byte cap), the other direction untouched, and collects events; returns whether
    /// anything moved. It never moves the clock, so with a latency only what has arrived is
    /// delivered. For ordering a test needs, such as a RST_STREAM that must reach the server
    /// before the server writes what it has queued.
    pub fn transfer(&mut self, dir: Direction) -> bool {
        let mut moved = false;
        while self.transmit(dir) | self.deliver(dir) {
            moved = true;
        }
        self.collect_events();
        moved
    }

    /// Steps until nothing moves, jumping the clock to arrivals (and deadlines with
    /// [`follow_timers`](Self::follow_timers)) as needed. Returns the steps taken; a stall
    /// (see [`DriveError::Stalled`]) is not an error here.
    ///
    /// # Panics
    ///
    /// On a livelock (more than [`DRIVE_LIMIT`] steps), with its description.
    pub fn drive(&mut self) -> usize {
        match self.drive_bounded(DRIVE_LIMIT) {
            Ok(steps) | Err(DriveError::Stalled { steps, .. }) => steps,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`drive`](Self::drive), but gives up after `max_steps` steps with
    /// [`DriveError::Livelock`], and reports [`DriveError::Stalled`] when the pair goes quiet
    /// while a side still has stream output it cannot write.
    pub fn drive_bounded(&mut self, max_steps: usize) -> Result<usize, DriveError> {
        let mut steps = 0;
        let start = (self.to_server.delivered, self.to_client.delivered);
        loop {
            if steps == max_steps {
                return Err(DriveError::Livelock {
                    steps,
                    moved: (
                        self.to_server.delivered - start.0,
                        self.to_client.delivered - start.1,
                    ),
                });
            }
            steps += 1;
            if self.step() {
                continue;
            }
            // Quiet at this instant: jump to the next arrival or deadline.
            let mut next = min_opt(
                self.to_server.in_flight.front().map(|(t, _)| *t),
                self.to_client.in_flight.front().map(|(t, _)| *t),
            );
            if self.follow_timers {
                next = min_opt(next, self.client.poll_timeout());
                next = min_opt(next, self.server.poll_timeout());
            }
            match next {
                Some(t) => self.now = self.now.max(t),
                None => break,
            }
        }
        let client = self.client.debug_counts().streams_with_output;
        let server = self.server.debug_counts().streams_with_output;
        let closed = self.client.is_closed() || self.server.is_closed();
        if (client > 0 || server > 0) && !closed {
            return Err(DriveError::Stalled {
                steps,
                client_streams_with_output: client,
                server_streams_with_output: server,
            });
        }
        Ok(steps)
    }

    fn collect_events(&mut self) {
        collect(
            &mut self.client,
            &mut self.client_events,
            self.auto_release[Side::Client as usize],
        );
        collect(
            &mut self.server,
            &mut self.server_events,
            self.auto_release[Side::Server as usize],
        );
    }

    /// Takes the sender's output (up to the cap) and puts it on the wire.
    fn transmit(&mut self, dir: Direction) -> bool {
        let (from, link) = match dir {
            Direction::ToServer => (&mut self.client, &mut self.to_server),
            Direction::ToClient => (&mut self.server, &mut self.to_client),
        };
        self.buf.clear();
        let (now, latency, bandwidth) = (self.now, self.latency, self.bandwidth);
        if let Some(chunks) = &mut self.chunks {
            chunks.clear();
            match self.cap {
                // `chunks` holds what was written.
                Some(cap) => {
                    let n = from.poll_transmit_vectored(self.now, chunks, Some(cap));
                    assert!(
                        n <= cap,
                        "poll_transmit_vectored wrote {n} > max {cap} octets"
                    );
                }
                None => while from.poll_transmit_vectored(self.now, chunks, None) > 0 {},
            }
            if chunks.is_empty() {
                return false;
            }
            if self.interceptor.is_none() {
                for c in chunks.drain(..) {
                    link.preface_left = link.preface_left.saturating_sub(c.len());
                    link.put(now, latency, bandwidth, c);
                }
                return true;
            }
            chunks.iter().for_each(|c| self.buf.extend_from_slice(c));
        } else {
            match self.cap {
                // `buf` holds what was written.
                Some(cap) => {
                    let n = from.poll_transmit(self.now, &mut self.buf, Some(cap));
                    assert!(n <= cap, "poll_transmit wrote {n} > max {cap} octets");
                    assert_eq!(n, self.buf.len(), "poll_transmit returned a wrong count");
                }
                None => while from.poll_transmit(self.now, &mut self.buf, None) > 0 {},
            }
        }
        if self.buf.is_empty() {
            return false;
        }
        let out = match &mut self.interceptor {
            None => {
                // The client magic passes here too, so that an interceptor installed later
                // starts at a frame boundary.
                link.preface_left = link.preface_left.saturating_sub(self.buf.len());
                self.buf.split().freeze()
            }
            Some(f) => filter(dir, link, &mut self.buf, f),
        };
        if !out.is_empty() {
            link.put(now, latency, bandwidth, out);
        }
        true
    }

    /// Hands what has arrived (up to the cap) to the receiver.
    fn deliver(&mut self, dir: Direction) -> bool {
        let (to, link) = match dir {
            Direction::ToServer => (&mut self.server, &mut self.to_server),
            Direction::ToClient => (&mut self.client, &mut self.to_client),
        };
        let mut budget = self.cap.unwrap_or(usize::MAX);
        let mut moved = false;
        while budget > 0 {
            let Some((at, bytes)) = link.in_flight.front_mut() else {
                break;
            };
            if *at > self.now {
                break;
            }
            let piece = if bytes.len() <= budget {
                let piece = std::mem::take(bytes);
                link.in_flight.pop_front();
                piece
            } else {
                bytes.split_to(budget)
            };
            budget -= piece.len();
            link.delivered += piece.len() as u64;
            moved = true;
            // A connection error is reported as an event; later input is refused the same way.
            let _ = to.recv(self.now, &piece);
        }
        moved
    }
}

fn min_opt(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn collect(conn: &mut Connection, into: &mut Vec<Event>, release: bool) {
    while let Some(event) = conn.poll_event() {
        if release {
            if let Event::Data {
                stream,
                flow_controlled_len,
                ..
            } = &event
            {
                conn.release_capacity(*stream, *flow_controlled_len);
            }
        }
        into.push(event);
    }
}

/// Splits `written` (appended to what is left of earlier writes) into whole frames, asks the
/// interceptor about each and returns what goes on the wire.
fn filter(dir: Direction, link: &mut Link, written: &mut BytesMut, f: &mut Interceptor) -> Bytes {
    let mut out = BytesMut::new();
    let mut data = &written[..];
    if link.preface_left > 0 {
        let n = link.preface_left.min(data.len());
        out.extend_from_slice(&data[..n]);
        link.preface_left -= n;
        data = &data[n..];
    }
    link.partial.extend_from_slice(data);
    written.clear();
    while let Some(header) = FrameHeader::parse(&link.partial) {
        let total = FRAME_HEADER_LEN + header.length as usize;
        if link.partial.len() < total {
            break;
        }
        let raw = link.partial.split_to(total).freeze();
        let verdict = match Frame::parse(header, raw.slice(FRAME_HEADER_LEN..)) {
            Ok(frame) => f(dir, &frame),
            Err(_) => Verdict::Pass,
        };
        match verdict {
            Verdict::Pass => out.extend_from_slice(&raw),
            Verdict::Drop => {}
            Verdict::Replace(bytes) => out.extend_from_slice(&bytes),
        }
    }
    out.freeze()
}
