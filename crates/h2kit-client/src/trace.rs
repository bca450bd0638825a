//! A frame-trace hook: every frame sent and received, with decoded header fields.
//!
//! The connection task copies the bytes it writes and reads into two side decoders (a frame
//! decoder and an HPACK decoder per direction), only when a hook is installed, so tracing
//! costs nothing otherwise and sees exactly what went over the wire.

use std::sync::Arc;

use bytes::BytesMut;
use h2kit_frame::FrameDecoder;

pub use h2kit_frame::Frame;
pub use h2kit_hpack::HeaderField;

/// Which way a traced frame went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// We wrote it.
    Sent,
    /// The peer sent it.
    Received,
}

/// Receives every frame of a connection, in wire order per direction.
///
/// `fields` is the decoded field section for the frame that completes a HEADERS or
/// PUSH_PROMISE block (the HEADERS itself, or its last CONTINUATION), `None` otherwise.
/// Called from the connection task: keep it quick.
pub trait FrameTrace: Send + Sync + 'static {
    /// One frame went `direction`.
    fn on_frame(&self, direction: Direction, frame: &Frame, fields: Option<&[HeaderField]>);

    /// The side decoder could not parse the byte stream any more (it stops tracing that
    /// direction). The default ignores it.
    fn on_error(&self, direction: Direction, error: &str) {
        let _ = (direction, error);
    }
}

pub(crate) struct Tracer {
    hook: Arc<dyn FrameTrace>,
    sent: Side,
    received: Side,
}

struct Side {
    direction: Direction,
    /// Octets of the client preface still to skip (sent side).
    skip: usize,
    buf: BytesMut,
    frames: FrameDecoder,
    hpack: h2kit_hpack::Decoder,
    block: BytesMut,
    broken: bool,
}

impl Side {
    fn new(direction: Direction, skip: usize) -> Self {
        let mut hpack = h2kit_hpack::Decoder::new();
        // The side decoder follows whatever table size updates the block carries.
        hpack.set_max_table_size(1 << 16);
        hpack.set_max_header_list_size(1 << 24);
        Side {
            direction,
            skip,
            buf: BytesMut::new(),
            frames: FrameDecoder::with_max_frame_size(16_777_215),
            hpack,
            block: BytesMut::new(),
            broken: false,
        }
    }

    fn feed(&mut self, mut data: &[u8], hook: &dyn FrameTrace) {
        if self.broken {
            return;
        }
        if self.skip > 0 {
            let n = self.skip.min(data.len());
            self.skip -= n;
            data = &data[n..];
        }
        self.buf.extend_from_slice(data);
        loop {
            let frame = match self.frames.decode(&mut self.buf) {
                Ok(Some(f)) => f,
                Ok(None) => return,
                Err(e) => {
                    hook.on_error(self.direction, &e.to_string());
                    if self.frames.is_skipping() || self.frames.open_field_block().is_some() {
                        self.broken = true;
                        self.buf = BytesMut::new();
                        return;
                    }
                    continue;
                }
            };
            let complete = match &frame {
                Frame::Headers(h) => {
                    self.block.clear();
                    self.block.extend_from_slice(&h.fragment);
                    h.end_headers
                }
                Frame::PushPromise(p) => {
                    self.block.clear();
                    self.block.extend_from_slice(&p.fragment);
                    p.end_headers
                }
                Frame::Continuation(c) => {
                    self.block.extend_from_slice(&c.fragment);
                    c.end_headers
                }
                _ => false,
            };
            if complete {
                let block = std::mem::take(&mut self.block).freeze();
                let mut fields = Vec::new();
                match self.hpack.decode(&block, &mut fields) {
                    Ok(()) => hook.on_frame(self.direction, &frame, Some(&fields)),
                    Err(e) => {
                        hook.on_frame(self.direction, &frame, None);
                        hook.on_error(self.direction, &format!("HPACK: {e}"));
                        self.broken = true;
                        return;
                    }
                }
            } else {
                hook.on_frame(self.direction, &frame, None);
            }
        }
    }
}

/// The transport pump reports the bytes it moves.
impl h2kit_io::Observer for Tracer {
    fn received(&mut self, bytes: &[u8]) {
        Tracer::received(self, bytes);
    }

    fn sent(&mut self, bytes: &[u8]) {
        Tracer::sent(self, bytes);
    }
}

impl Tracer {
    pub(crate) fn new(hook: Arc<dyn FrameTrace>) -> Self {
        Tracer {
            hook,
            sent: Side::new(Direction::Sent, h2kit::PREFACE.len()),
            received: Side::new(Direction::Received, 0),
        }
    }

    pub(crate) fn sent(&mut self, data: &[u8]) {
        self.sent.feed(data, self.hook.as_ref());
    }

    pub(crate) fn received(&mut self, data: &[u8]) {
        self.received.feed(data, self.hook.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl FrameTrace for Log {
        fn on_frame(&self, d: Direction, frame: &Frame, fields: Option<&[HeaderField]>) {
            let f = fields.map(|f| {
                f.iter()
                    .map(|h| {
                        format!(
                            "{}={}",
                            String::from_utf8_lossy(&h.name),
                            String::from_utf8_lossy(&h.value)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            });
            self.0.lock().unwrap().push(format!(
                "{d:?} {:?} {} {}",
                frame.frame_type(),
                frame.stream_id(),
                f.unwrap_or_default()
            ));
        }
    }

    #[test]
    fn traces_what_a_client_connection_writes_split_at_every_byte() {
        let now = std::time::Instant::now();
        let mut conn = h2kit::Connection::client(h2kit::Config::default());
        let req = http::Request::get("https://example.com/x")
            .body(())
            .unwrap();
        conn.send_http_request(&req, true).unwrap();
        let mut out = BytesMut::new();
        while conn.poll_transmit(now, &mut out, None) > 0 {}
        let log = Arc::new(Log::default());
        let mut tracer = Tracer::new(log.clone());
        for b in out.chunks(1) {
            tracer.sent(b);
        }
        let lines = log.0.lock().unwrap().clone();
        assert!(
            lines[0].starts_with("Sent FrameType(SETTINGS)") || lines[0].contains("SETTINGS"),
            "{lines:?}"
        );
        let headers = lines
            .iter()
            .find(|l| l.contains("HEADERS"))
            .expect("a HEADERS frame");
        assert!(headers.contains(":path=/x"), "{headers}");
        assert!(headers.contains(":authority=example.com"), "{headers}");
    }
}
