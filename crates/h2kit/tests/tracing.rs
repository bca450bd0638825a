//! Frame-level `tracing` events (target `h2kit::frame`): one per frame received and sent,
//! with the header's type, stream id, length and flags, captured by a small subscriber layer.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::BytesMut;
use h2kit::{Config, Connection, FRAME_TARGET};
use h2kit_test::{ScriptedPeer, frames};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

/// One captured frame event: direction, type, stream, length, flags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct FrameEvent {
    direction: String,
    frame_type: String,
    stream: u64,
    length: u64,
    flags: u64,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<FrameEvent>>>);

impl Capture {
    fn take(&self) -> Vec<FrameEvent> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Visit for FrameEvent {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "direction" {
            self.direction = value.to_owned();
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "stream" => self.stream = value,
            "length" => self.length = value,
            "flags" => self.flags = value,
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "frame_type" {
            self.frame_type = format!("{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        assert_eq!(*meta.level(), tracing::Level::TRACE);
        if meta.target() != FRAME_TARGET {
            return;
        }
        let mut e = FrameEvent::default();
        event.record(&mut e);
        self.0.lock().unwrap().push(e);
    }
}

fn frame(direction: &str, frame_type: &str, stream: u64, length: u64, flags: u64) -> FrameEvent {
    FrameEvent {
        direction: direction.to_owned(),
        frame_type: frame_type.to_owned(),
        stream,
        length,
        flags,
    }
}

#[test]
fn receiving_headers_and_data_traces_each_frame_with_its_stream_and_type() {
    let capture = Capture::default();
    let subscriber = Registry::default().with(capture.clone());
    let now = Instant::now();
    let mut server = Connection::server(Config::default());
    let mut peer = ScriptedPeer::client();
    peer.send(frames::preface())
        .send(frames::headers(3).request("POST", "/upload"))
        .send(frames::data(3, b"hello").end_stream());
    let input = peer.take_output();

    tracing::subscriber::with_default(subscriber, || {
        // In two pieces: a frame is traced once, when the decoder takes it whole.
        let (a, b) = input.split_at(input.len() - 3);
        server.recv(now, a).unwrap();
        server.recv(now, b).unwrap();
    });
    let events = capture.take();
    let received: Vec<_> = events.iter().filter(|e| e.direction == "recv").collect();
    assert_eq!(received.len(), 3, "{events:#?}");
    assert_eq!(received[0].frame_type, "SETTINGS");
    assert_eq!(received[0].stream, 0);
    let headers = received[1];
    assert_eq!(
        (headers.frame_type.as_str(), headers.stream, headers.flags),
        ("HEADERS", 3, 0x4),
        "END_HEADERS only"
    );
    assert!(headers.length > 0);
    assert_eq!(*received[2], frame("recv", "DATA", 3, 5, 0x1));
}

#[test]
fn writing_traces_each_frame_sent_vectored_or_not() {
    let now = Instant::now();
    for vectored in [false, true] {
        let capture = Capture::default();
        let subscriber = Registry::default().with(capture.clone());
        let mut client = Connection::client(Config::default());
        let body = bytes::Bytes::from(vec![7u8; 1000]);
        tracing::subscriber::with_default(subscriber, || {
            let fields = h2kit_test::fields::get("/");
            let id = client.send_request(fields, false).unwrap();
            client.send_data(id, body.clone(), true).unwrap();
            let written = if vectored {
                let mut out = Vec::new();
                client.poll_transmit_vectored(now, &mut out, None)
            } else {
                let mut buf = BytesMut::new();
                client.poll_transmit(now, &mut buf, None)
            };
            assert!(written > 1000);
        });
        let sent: Vec<_> = capture.take();
        assert!(sent.iter().all(|e| e.direction == "send"), "{sent:#?}");
        let types: Vec<_> = sent.iter().map(|e| e.frame_type.as_str()).collect();
        // SETTINGS, the connection WINDOW_UPDATE of the default window, HEADERS, DATA.
        assert_eq!(
            types,
            ["SETTINGS", "WINDOW_UPDATE", "HEADERS", "DATA"],
            "{sent:#?}"
        );
        assert_eq!(sent[2].stream, 1);
        assert_eq!(sent[2].flags, 0x4, "END_HEADERS");
        assert_eq!(*sent.last().unwrap(), frame("send", "DATA", 1, 1000, 0x1));
    }
}

#[test]
fn nothing_is_traced_without_a_subscriber_at_trace_level() {
    let capture = Capture::default();
    let subscriber = Registry::default().with(
        capture
            .clone()
            .with_filter(tracing_subscriber::filter::LevelFilter::DEBUG),
    );
    let now = Instant::now();
    let mut server = Connection::server(Config::default());
    let mut peer = ScriptedPeer::client();
    peer.send(frames::preface())
        .send(frames::headers(1).request("GET", "/").end_stream());
    tracing::subscriber::with_default(subscriber, || {
        server.recv(now, &peer.take_output()).unwrap();
        let mut buf = BytesMut::new();
        let _ = server.poll_transmit(now, &mut buf, None);
    });
    assert_eq!(capture.take(), []);
}
