//! [`Harness`]: one [`Connection`] under test wired to a [`ScriptedPeer`] on a virtual clock.

use std::fmt;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use h2kit::{Config, Connection, ConnectionError, Event, Role};

use crate::frames::FrameSpec;
use crate::peer::ScriptedPeer;
use crate::received::ReceivedFrame;

/// A [`Connection`] under test and the [`ScriptedPeer`] that talks to it, with the byte
/// moving between them done for the test.
///
/// [`send`](Self::send) has the peer encode a frame and hands the octets to
/// [`Connection::recv`] at once, returning its result (a connection error is the `Err`);
/// [`flush`](Self::flush) takes everything the connection wants to write and feeds it to
/// the peer, whose [`expect`](ScriptedPeer::expect) family then checks it. The connection's
/// events are collected into [`events`](Self::events) after every input, output and timer.
/// Received DATA is not released: the test calls [`Connection::release_capacity`] itself.
///
/// Nothing is sent on the test's behalf: the peer's preface, SETTINGS ACK and PING ACK go out
/// only when the test sends them (or turns on [`ScriptedPeer::auto_ack_settings`] /
/// [`ScriptedPeer::auto_pong`] and [`deliver`](Self::deliver)s their output).
///
/// ```
/// use h2kit::{Config, ErrorCode, Event};
/// use h2kit_test::{Harness, frames};
///
/// let mut t = Harness::server(Config::default());
/// t.send(frames::preface()).unwrap();
/// t.flush().expect(frames::settings()); // the server's preface
/// t.send(frames::headers(1).request("GET", "/").end_stream()).unwrap();
/// assert!(matches!(t.events.last(), Some(Event::Request { .. })));
/// // DATA on a stream the peer has closed: a stream error, answered with RST_STREAM.
/// t.send(frames::data(1, b"late")).unwrap();
/// t.flush().expect_eventually(frames::rst_stream(1, ErrorCode::STREAM_CLOSED));
/// ```
pub struct Harness {
    /// The connection under test.
    pub conn: Connection,
    /// The peer the test scripts: a client for a server under test and the reverse.
    pub peer: ScriptedPeer,
    /// The connection's events collected so far, in order.
    pub events: Vec<Event>,
    start: Instant,
    now: Instant,
    buf: BytesMut,
}

impl fmt::Debug for Harness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Harness")
            .field("elapsed", &self.elapsed())
            .field("conn", &self.conn)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl Harness {
    /// `conn` facing a scripted peer of the other role.
    pub fn new(conn: Connection) -> Self {
        let peer = match conn.role() {
            Role::Client => ScriptedPeer::server(),
            Role::Server => ScriptedPeer::client(),
        };
        let now = Instant::now();
        Harness {
            conn,
            peer,
            events: Vec::new(),
            start: now,
            now,
            buf: BytesMut::new(),
        }
    }

    /// A server connection with `config`, facing a scripted client.
    pub fn server(config: Config) -> Self {
        Self::new(Connection::server(config))
    }

    /// A client connection with `config`, facing a scripted server.
    pub fn client(config: Config) -> Self {
        Self::new(Connection::client(config))
    }

    /// The virtual time now.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time elapsed since the harness was made.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Moves the clock forward by `d` and fires the connection's timer if it is due.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        if self.conn.poll_timeout().is_some_and(|t| t <= self.now) {
            self.conn.handle_timeout(self.now);
        }
        self.collect();
    }

    /// The peer sends `spec`; the octets go to the connection in one [`Connection::recv`]
    /// (with anything else the peer had queued), whose result this returns.
    ///
    /// # Panics
    ///
    /// When the peer cannot encode `spec` (see [`ScriptedPeer::send`]).
    #[track_caller]
    pub fn send(&mut self, spec: impl Into<FrameSpec>) -> Result<(), ConnectionError> {
        self.peer.send(spec);
        self.deliver()
    }

    /// The peer sends these octets as they are (a bad preface, half a frame, …); like
    /// [`send`](Self::send) otherwise.
    pub fn send_bytes(&mut self, octets: &[u8]) -> Result<(), ConnectionError> {
        self.peer.send_bytes(octets);
        self.deliver()
    }

    /// Hands everything the peer has queued (several frames sent with
    /// [`ScriptedPeer::send`], say) to the connection in one [`Connection::recv`] and
    /// collects the events; returns the result of `recv`.
    pub fn deliver(&mut self) -> Result<(), ConnectionError> {
        let octets = self.peer.take_output();
        let result = self.conn.recv(self.now, &octets);
        self.collect();
        result
    }

    /// Feeds everything the connection wants to write now to the peer, and returns the peer
    /// for its assertions.
    ///
    /// # Panics
    ///
    /// When the peer finds the output malformed (see [`ScriptedPeer::feed`]).
    #[track_caller]
    pub fn flush(&mut self) -> &mut ScriptedPeer {
        self.buf.clear();
        while self.conn.poll_transmit(self.now, &mut self.buf, None) > 0 {}
        self.collect();
        let octets = self.buf.split();
        self.peer.feed(&octets);
        &mut self.peer
    }

    /// [`flush`](Self::flush)es and takes every frame the peer has received and not yet
    /// taken (see [`ScriptedPeer::take_frames`]).
    #[track_caller]
    pub fn frames(&mut self) -> Vec<ReceivedFrame> {
        self.flush().take_frames()
    }

    /// Takes the events collected so far.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    fn collect(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            self.events.push(event);
        }
    }
}
