//! Behaviour of real peers that an earlier limit mistook for an attack, each kept as a test
//! with the peer that showed it (issue 11). Every test here failed before its fix.

use std::time::Duration;

use h2kit::{Config, ConnectionError, ErrorCode, Event, Field, LimitExceeded, StreamId};
use h2kit_test::frames::{self, HeadersBuilder};
use h2kit_test::{FrameType, Harness, fields};

fn server() -> Harness {
    let mut t = Harness::server(Config::default());
    t.send(frames::preface()).unwrap();
    t.frames();
    t
}

/// A GET request for `/` on `stream`, ending the stream.
fn get(stream: u32) -> HeadersBuilder {
    frames::headers(stream).request("GET", "/").end_stream()
}

/// Serves `n` GET requests (streams 1, 3, ...) with a small body each and reads everything
/// written, so every stream is closed on both sides.
fn serve_requests(t: &mut Harness, n: u32) {
    for i in 0..n {
        t.send(get(2 * i + 1)).unwrap();
    }
    for i in 0..n {
        let id = StreamId::new(2 * i + 1);
        t.conn
            .send_response(id, vec![Field::new(":status", "200")], false)
            .unwrap();
        t.conn
            .send_data(id, bytes::Bytes::from_static(b"body"), true)
            .unwrap();
    }
    let ends = t
        .frames()
        .iter()
        .filter(|f| f.frame_type() == FrameType::DATA && f.end_stream())
        .count();
    assert_eq!(ends, n as usize);
}

/// Go's `net/http` client returns window for every 32 KiB its application reads, on the
/// stream and the connection, also after it has read the stream's END_STREAM: downloading
/// 100 files of 1 MiB at once it sent 784 WINDOW_UPDATEs on streams we had closed, and the
/// unknown-stream budget (1,000 per 10 s) ended the connection with 40 of them half read.
/// RFC 9113 §6.9: WINDOW_UPDATE on a closed stream must not be treated as an error.
#[test]
fn window_updates_after_our_end_stream_are_not_a_flood() {
    let mut t = server();
    serve_requests(&mut t, 100);
    for round in 0..30 {
        for i in 0..100u32 {
            let id = 2 * i + 1;
            t.send(frames::window_update(id, 32_768))
                .unwrap_or_else(|e| panic!("round {round}, stream {id}: {e}"));
        }
        t.advance(Duration::from_millis(10));
    }
    // RST_STREAM and PRIORITY may follow a close too (RFC 9113 §5.1); the RFC 7540 default
    // priority: on stream 0, weight 16, not exclusive.
    for i in 0..100u32 {
        let id = 2 * i + 1;
        t.peer
            .send(frames::rst_stream(id, ErrorCode::CANCEL))
            .send(frames::priority(id, 0, 16, false));
        t.deliver().unwrap();
    }
    let written = t.flush().expect_none(frames::any(FrameType::GOAWAY));
    assert!(
        !written
            .iter()
            .any(|f| f.frame_type() == FrameType::RST_STREAM),
        "{written:?}"
    );
    assert!(!t.conn.is_closed());
}

/// The same client at loopback speed credits 32 KiB per read on every stream: over 30,000
/// WINDOW_UPDATEs a second. A fixed count of updates (10,000 per 10 s) cut it off; updates of
/// a useful size pay for the data they let us send and are not counted.
#[test]
fn a_fast_reader_may_send_large_window_updates_without_limit() {
    // Small updates are still budgeted (10,000 per 10 s); the large ones sent alongside them
    // do not count toward it.
    let mut t = server();
    t.send(frames::headers(1).request("GET", "/")).unwrap();
    let mut pairs = 0u32;
    let err = loop {
        t.peer
            .send(frames::window_update(0, 32_768))
            .send(frames::window_update(1, 16));
        let r = t.deliver();
        match r {
            Ok(()) => pairs += 1,
            Err(e) => break e,
        }
        assert!(pairs < 30_000, "small updates are no longer budgeted");
    };
    assert_eq!(
        err,
        ConnectionError::Limit(LimitExceeded::WindowUpdateFlood)
    );
    assert_eq!(pairs, 10_000);

    let mut t = server();
    t.send(frames::headers(1).request("GET", "/")).unwrap();
    let mut sent = 0u32;
    for _ in 0..30_000 {
        t.peer
            .send(frames::window_update(0, 32_768))
            .send(frames::window_update(1, 32_768));
        t.deliver()
            .unwrap_or_else(|e| panic!("after {sent} pairs of updates: {e}"));
        sent += 1;
        if sent % 1_000 == 0 {
            t.advance(Duration::from_millis(30));
        }
    }
    assert!(!t.conn.is_closed());
}

/// Bandwidth estimators (gRPC's BDP pings; our own client once its windows tune themselves)
/// send a PING per round trip while data flows. A fixed count (50 per 10 s) ended such
/// connections; a PING flood is judged by the ACKs the peer leaves unread.
#[test]
fn pings_whose_acks_are_read_are_not_a_flood() {
    let mut t = server();
    for i in 0..5_000u32 {
        let payload = u64::from(i).to_be_bytes();
        t.send(frames::ping(payload))
            .unwrap_or_else(|e| panic!("PING {i}: {e}"));
        let peer = t.flush();
        peer.expect_ping_ack(payload);
        peer.expect_nothing();
        t.advance(Duration::from_micros(100));
    }
    let pings = t
        .events
        .iter()
        .filter(|e| matches!(e, Event::PingReceived { .. }))
        .count();
    assert_eq!(pings, 5_000);
}

/// `h2kit get` against a server that announced `content-length: 60000` and ended the stream
/// after 30,000 bytes: the END_STREAM closed the stream before the length was checked, so the
/// reset that followed found it closed and reported nothing, and the body waited for the
/// connection to drop (curl reported the stream error at once). The same in the server role
/// when the response ended first. The frame that breaks the rule ends the stream with our
/// RST_STREAM and a `StreamReset` event naming the rule; no end-of-stream event comes first.
#[test]
fn a_stream_closed_by_a_frame_that_breaks_a_rule_is_reported_reset() {
    use h2kit::{Initiator, ProtocolViolation, StreamError};
    let expected = StreamError::Violation(ProtocolViolation::ContentLengthMismatch);

    // Server role: the response went out whole, then the request body ends short.
    let mut t = server();
    t.send(
        frames::headers(1)
            .request("POST", "/")
            .field("content-length", "10"),
    )
    .unwrap();
    let id = StreamId::new(1);
    t.conn
        .send_response(id, vec![Field::new(":status", "200")], true)
        .unwrap();
    t.frames();
    t.events.clear();
    t.send(frames::data(1, b"short").end_stream()).unwrap();
    assert_eq!(
        t.events,
        vec![Event::StreamReset {
            stream: id,
            error: expected.clone()
        }]
    );
    assert_eq!(expected.initiator(), Initiator::Library);
    let peer = t.flush();
    // DATA arrived: the receive-window estimator may PING.
    peer.ignore(frames::any(FrameType::PING));
    peer.expect_rst_stream(1, ErrorCode::PROTOCOL_ERROR);
    peer.expect_nothing();

    // Client role: our request ended with its HEADERS, the response body ends short.
    let mut t = Harness::client(Config::default());
    t.send(frames::preface()).unwrap();
    let id = t.conn.send_request(fields::get("/"), true).unwrap();
    t.frames();
    t.peer
        .send(
            frames::headers(id.get())
                .response(200)
                .field("content-length", "60000"),
        )
        .send(frames::data(id.get(), [b'x'; 3_000]).end_stream());
    t.deliver().unwrap();
    let last = t.events.last().cloned();
    assert_eq!(
        last,
        Some(Event::StreamReset {
            stream: id,
            error: expected
        })
    );
    assert!(
        !t.events.iter().any(|e| matches!(
            e,
            Event::Data {
                end_stream: true,
                ..
            }
        )),
        "{:?}",
        t.events
    );
    let peer = t.flush();
    peer.ignore(frames::any(FrameType::PING));
    peer.expect_rst_stream(id.get(), ErrorCode::PROTOCOL_ERROR);
    peer.expect_nothing();
    assert!(!t.conn.is_closed());
}

/// A browser leaving a page cancels every request of it that is still open, up to
/// SETTINGS_MAX_CONCURRENT_STREAMS (100) at once. A user clicking through three such pages
/// within a few seconds made 300 resets, over the old Rapid Reset budget (200 per 10 s).
#[test]
fn a_browser_cancelling_three_pages_of_requests_is_not_rapid_reset() {
    let mut t = server();
    let mut next = 1u32;
    for page in 0..3 {
        let ids: Vec<u32> = (0..100).map(|i| next + 2 * i).collect();
        next += 200;
        for &id in &ids {
            t.send(get(id)).unwrap();
        }
        t.advance(Duration::from_millis(300));
        for &id in &ids {
            t.send(frames::rst_stream(id, ErrorCode::CANCEL))
                .unwrap_or_else(|e| panic!("page {page}, stream {id}: {e}"));
        }
        t.advance(Duration::from_millis(500));
    }
    t.flush().expect_none(frames::any(FrameType::GOAWAY));
}
