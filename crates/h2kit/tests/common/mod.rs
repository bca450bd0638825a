//! Test drivers: two connections in memory on a virtual clock, and a scripted raw peer.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use h2kit::{Config, Connection, Event, Field, StreamId};
use h2kit_frame::{Frame, FrameDecoder};

/// A client and a server connected in memory, moving at most `chunk` bytes per `recv` call.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    pub now: Instant,
    pub chunk: usize,
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
    /// Bytes each side wrote, for inspection.
    pub to_server: Vec<u8>,
    pub to_client: Vec<u8>,
}

fn transfer(
    from: &mut Connection,
    to: &mut Connection,
    now: Instant,
    chunk: usize,
    log: &mut Vec<u8>,
) -> bool {
    let mut buf = BytesMut::new();
    let mut moved = false;
    loop {
        buf.clear();
        let n = from.poll_transmit(now, &mut buf, Some(chunk));
        if n == 0 {
            break;
        }
        assert!(n <= chunk, "poll_transmit wrote {n} > max {chunk}");
        assert_eq!(n, buf.len());
        moved = true;
        log.extend_from_slice(&buf);
        let _ = to.recv(now, &buf);
    }
    moved
}

impl Pair {
    pub fn new(client: Config, server: Config, chunk: usize) -> Self {
        Pair {
            client: Connection::client(client),
            server: Connection::server(server),
            now: Instant::now(),
            chunk,
            client_events: Vec::new(),
            server_events: Vec::new(),
            to_server: Vec::new(),
            to_client: Vec::new(),
        }
    }

    pub fn with_chunk(chunk: usize) -> Self {
        Self::new(Config::default(), Config::default(), chunk)
    }

    /// Moves bytes both ways and collects events until nothing moves; fails on livelock.
    pub fn drive_bounded(&mut self, steps: usize) -> usize {
        for step in 0..steps {
            let a = transfer(
                &mut self.client,
                &mut self.server,
                self.now,
                self.chunk,
                &mut self.to_server,
            );
            let b = transfer(
                &mut self.server,
                &mut self.client,
                self.now,
                self.chunk,
                &mut self.to_client,
            );
            while let Some(e) = self.client.poll_event() {
                self.client_events.push(e);
            }
            while let Some(e) = self.server.poll_event() {
                self.server_events.push(e);
            }
            if !a && !b {
                // A side that is closed has closed its transport: the other sees EOF.
                let (c, s) = (&mut self.client, &mut self.server);
                let eof = if c.is_closed() && s.error().is_none() {
                    s.recv_eof();
                    true
                } else if s.is_closed() && c.error().is_none() {
                    c.recv_eof();
                    true
                } else {
                    false
                };
                if !eof {
                    return step;
                }
            }
        }
        panic!("livelock: still moving after {steps} steps");
    }

    pub fn drive(&mut self) {
        self.drive_bounded(100_000);
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
    }

    pub fn take_server_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.server_events)
    }

    pub fn take_client_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.client_events)
    }
}

pub fn get(path: &'static str) -> Vec<Field> {
    vec![
        Field::new(":method", "GET"),
        Field::new(":scheme", "https"),
        Field::new(":path", path),
        Field::new(":authority", "example.com"),
    ]
}

pub fn post(path: &'static str) -> Vec<Field> {
    vec![
        Field::new(":method", "POST"),
        Field::new(":scheme", "https"),
        Field::new(":path", path),
        Field::new(":authority", "example.com"),
    ]
}

pub fn status(code: &'static str) -> Vec<Field> {
    vec![Field::new(":status", code)]
}

pub fn has_header(fields: &[Field], name: &str, value: &str) -> bool {
    fields
        .iter()
        .any(|f| f.name.as_ref() == name.as_bytes() && f.value.as_ref() == value.as_bytes())
}

/// A raw peer for tests against one connection: write frames with h2kit-frame's encoders,
/// read back what the connection sends as decoded frames.
pub struct Raw {
    pub conn: Connection,
    pub now: Instant,
    decoder: FrameDecoder,
    inbox: BytesMut,
    pub events: Vec<Event>,
    pub enc: h2kit_hpack::Encoder,
}

impl Raw {
    pub fn new(conn: Connection) -> Self {
        Raw {
            conn,
            now: Instant::now(),
            decoder: FrameDecoder::with_max_frame_size((1 << 24) - 1),
            inbox: BytesMut::new(),
            events: Vec::new(),
            enc: h2kit_hpack::Encoder::new(),
        }
    }

    /// Sends raw bytes to the connection; returns its result.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), h2kit::ConnectionError> {
        let r = self.conn.recv(self.now, bytes);
        while let Some(e) = self.conn.poll_event() {
            self.events.push(e);
        }
        r
    }

    /// Sends the frames `f` writes.
    pub fn send_with(
        &mut self,
        f: impl FnOnce(&mut BytesMut, &mut h2kit_hpack::Encoder),
    ) -> Result<(), h2kit::ConnectionError> {
        let mut buf = BytesMut::new();
        f(&mut buf, &mut self.enc);
        self.send(&buf)
    }

    /// The client preface plus an empty SETTINGS (for a server under test).
    pub fn handshake_as_client(&mut self) {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(h2kit::PREFACE);
        h2kit_frame::encode_settings(&h2kit_frame::Settings::new(), &mut buf).unwrap();
        self.send(&buf).unwrap();
    }

    /// An empty SETTINGS (for a client under test).
    pub fn handshake_as_server(&mut self) {
        let mut buf = BytesMut::new();
        h2kit_frame::encode_settings(&h2kit_frame::Settings::new(), &mut buf).unwrap();
        self.send(&buf).unwrap();
    }

    /// Everything the connection wants to send now, decoded.
    pub fn frames(&mut self) -> Vec<Frame> {
        let mut buf = BytesMut::new();
        while self.conn.poll_transmit(self.now, &mut buf, None) > 0 {}
        let mut data = &buf[..];
        if self.inbox.is_empty() && data.starts_with(h2kit::PREFACE) {
            data = &data[24..];
        }
        self.inbox.extend_from_slice(data);
        let mut out = Vec::new();
        while let Some(f) = self
            .decoder
            .decode(&mut self.inbox)
            .expect("the connection wrote a bad frame")
        {
            out.push(f);
        }
        out
    }

    /// HPACK-encodes a header list with this peer's encoder.
    pub fn block(&mut self, fields: &[(&str, &str)]) -> Bytes {
        let mut b = BytesMut::new();
        self.enc.encode(
            fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            &mut b,
        );
        b.freeze()
    }

    /// Sends a HEADERS frame with `fields`.
    pub fn headers(
        &mut self,
        stream: u32,
        fields: &[(&str, &str)],
        end_stream: bool,
    ) -> Result<(), h2kit::ConnectionError> {
        let block = self.block(fields);
        let mut buf = BytesMut::new();
        h2kit_frame::encode_headers(
            StreamId::new(stream),
            &block,
            end_stream,
            None,
            None,
            16_384,
            &mut buf,
        )
        .unwrap();
        self.send(&buf)
    }
}

pub const GET: [(&str, &str); 4] = [
    (":method", "GET"),
    (":scheme", "https"),
    (":path", "/"),
    (":authority", "example.com"),
];

pub fn goaway_code(frames: &[Frame]) -> Option<h2kit::ErrorCode> {
    frames.iter().find_map(|f| match f {
        Frame::GoAway(g) => Some(g.error_code),
        _ => None,
    })
}

pub fn rst_codes(frames: &[Frame]) -> Vec<(StreamId, h2kit::ErrorCode)> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::RstStream(r) => Some((r.stream_id, r.error_code)),
            _ => None,
        })
        .collect()
}
