//! Behaviour of real peers that an earlier limit mistook for an attack, each kept as a test
//! with the peer that showed it (issue 11). Every test here failed before its fix.

mod common;

use std::time::Duration;

use common::*;
use h2kit::{
    Config, Connection, ConnectionError, ErrorCode, Event, Field, LimitExceeded, StreamId,
};
use h2kit_frame::Frame;

fn server() -> Raw {
    let mut raw = Raw::new(Connection::server(Config::default()));
    raw.handshake_as_client();
    raw.frames();
    raw
}

/// Serves `n` GET requests (streams 1, 3, ...) with a small body each and reads everything
/// written, so every stream is closed on both sides.
fn serve_requests(raw: &mut Raw, n: u32) {
    for i in 0..n {
        raw.headers(2 * i + 1, &GET, true).unwrap();
    }
    for i in 0..n {
        let id = StreamId::new(2 * i + 1);
        raw.conn
            .send_response(id, vec![Field::new(":status", "200")], false)
            .unwrap();
        raw.conn
            .send_data(id, bytes::Bytes::from_static(b"body"), true)
            .unwrap();
    }
    let frames = raw.frames();
    let ends = frames
        .iter()
        .filter(|f| matches!(f, Frame::Data(d) if d.end_stream))
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
    let mut raw = server();
    serve_requests(&mut raw, 100);
    for round in 0..30 {
        for i in 0..100u32 {
            let id = StreamId::new(2 * i + 1);
            raw.send_with(|b, _| h2kit_frame::encode_window_update(id, 32_768, b).unwrap())
                .unwrap_or_else(|e| panic!("round {round}, stream {id:?}: {e}"));
        }
        raw.now += Duration::from_millis(10);
    }
    // RST_STREAM and PRIORITY may follow a close too (RFC 9113 §5.1).
    for i in 0..100u32 {
        let id = StreamId::new(2 * i + 1);
        raw.send_with(|b, _| {
            h2kit_frame::encode_rst_stream(id, ErrorCode::CANCEL, b).unwrap();
            h2kit_frame::encode_priority(id, h2kit_frame::PrioritySpec::DEFAULT, b).unwrap();
        })
        .unwrap();
    }
    let frames = raw.frames();
    assert_eq!(goaway_code(&frames), None, "{frames:?}");
    assert!(rst_codes(&frames).is_empty(), "{frames:?}");
    assert!(!raw.conn.is_closed());
}

/// The same client at loopback speed credits 32 KiB per read on every stream: over 30,000
/// WINDOW_UPDATEs a second. A fixed count of updates (10,000 per 10 s) cut it off; updates of
/// a useful size pay for the data they let us send and are not counted.
#[test]
fn a_fast_reader_may_send_large_window_updates_without_limit() {
    // Small updates are still budgeted (10,000 per 10 s); the large ones sent alongside them
    // do not count toward it.
    let mut raw = server();
    raw.headers(1, &GET, false).unwrap();
    let mut pairs = 0u32;
    let err = loop {
        let r = raw.send_with(|b, _| {
            h2kit_frame::encode_window_update(StreamId::ZERO, 32_768, b).unwrap();
            h2kit_frame::encode_window_update(StreamId::new(1), 16, b).unwrap();
        });
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

    let mut raw = server();
    raw.headers(1, &GET, false).unwrap();
    let mut sent = 0u32;
    for _ in 0..30_000 {
        raw.send_with(|b, _| {
            h2kit_frame::encode_window_update(StreamId::ZERO, 32_768, b).unwrap();
            h2kit_frame::encode_window_update(StreamId::new(1), 32_768, b).unwrap();
        })
        .unwrap_or_else(|e| panic!("after {sent} pairs of updates: {e}"));
        sent += 1;
        if sent % 1_000 == 0 {
            raw.now += Duration::from_millis(30);
        }
    }
    assert!(!raw.conn.is_closed());
}

/// Bandwidth estimators (gRPC's BDP pings; our own client once its windows tune themselves)
/// send a PING per round trip while data flows. A fixed count (50 per 10 s) ended such
/// connections; a PING flood is judged by the ACKs the peer leaves unread.
#[test]
fn pings_whose_acks_are_read_are_not_a_flood() {
    let mut raw = server();
    for i in 0..5_000u32 {
        raw.send_with(|b, _| h2kit_frame::encode_ping(false, u64::from(i).to_be_bytes(), b))
            .unwrap_or_else(|e| panic!("PING {i}: {e}"));
        let frames = raw.frames();
        assert!(
            matches!(frames.as_slice(), [Frame::Ping(p)] if p.ack),
            "{frames:?}"
        );
        raw.now += Duration::from_micros(100);
    }
    let pings = raw
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
    let mut raw = server();
    let mut post = GET.to_vec();
    post[0] = (":method", "POST");
    post.push(("content-length", "10"));
    raw.headers(1, &post, false).unwrap();
    let id = StreamId::new(1);
    raw.conn
        .send_response(id, vec![Field::new(":status", "200")], true)
        .unwrap();
    raw.frames();
    raw.events.clear();
    raw.send_with(|b, _| h2kit_frame::encode_data(id, b"short", true, None, b).unwrap())
        .unwrap();
    assert_eq!(
        raw.events,
        vec![Event::StreamReset {
            stream: id,
            error: expected.clone()
        }]
    );
    assert_eq!(expected.initiator(), Initiator::Library);
    assert_eq!(
        rst_codes(&raw.frames()),
        vec![(id, ErrorCode::PROTOCOL_ERROR)]
    );

    // Client role: our request ended with its HEADERS, the response body ends short.
    let mut raw = Raw::new(Connection::client(Config::default()));
    raw.handshake_as_server();
    let id = raw
        .conn
        .send_request(
            vec![
                Field::new(":method", "GET"),
                Field::new(":scheme", "https"),
                Field::new(":path", "/"),
                Field::new(":authority", "example.com"),
            ],
            true,
        )
        .unwrap();
    raw.frames();
    let block = raw.block(&[(":status", "200"), ("content-length", "60000")]);
    raw.send_with(|b, _| {
        h2kit_frame::encode_headers(id, &block, false, None, None, 16_384, b).unwrap();
        h2kit_frame::encode_data(id, &[b'x'; 3_000], true, None, b).unwrap();
    })
    .unwrap();
    let last = raw.events.last().cloned();
    assert_eq!(
        last,
        Some(Event::StreamReset {
            stream: id,
            error: expected
        })
    );
    assert!(
        !raw.events.iter().any(|e| matches!(
            e,
            Event::Data {
                end_stream: true,
                ..
            }
        )),
        "{:?}",
        raw.events
    );
    assert_eq!(
        rst_codes(&raw.frames()),
        vec![(id, ErrorCode::PROTOCOL_ERROR)]
    );
    assert!(!raw.conn.is_closed());
}

/// A browser leaving a page cancels every request of it that is still open, up to
/// SETTINGS_MAX_CONCURRENT_STREAMS (100) at once. A user clicking through three such pages
/// within a few seconds made 300 resets, over the old Rapid Reset budget (200 per 10 s).
#[test]
fn a_browser_cancelling_three_pages_of_requests_is_not_rapid_reset() {
    let mut raw = server();
    let mut next = 1u32;
    for page in 0..3 {
        let ids: Vec<u32> = (0..100).map(|i| next + 2 * i).collect();
        next += 200;
        for &id in &ids {
            raw.headers(id, &GET, true).unwrap();
        }
        raw.now += Duration::from_millis(300);
        for &id in &ids {
            raw.send_with(|b, _| {
                h2kit_frame::encode_rst_stream(StreamId::new(id), ErrorCode::CANCEL, b).unwrap()
            })
            .unwrap_or_else(|e| panic!("page {page}, stream {id}: {e}"));
        }
        raw.now += Duration::from_millis(500);
    }
    assert_eq!(goaway_code(&raw.frames()), None);
}
