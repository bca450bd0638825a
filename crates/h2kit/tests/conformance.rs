//! Conformance: regression tests for every case the independent `httpwg` suite (RFC 9113)
//! found, through the scripted peer, and a run of `httpwg` itself against the std-socket
//! server of `examples/driver` when the binary is on the PATH.

mod common;
#[path = "../examples/driver/mod.rs"]
mod driver;

use common::*;
use h2kit::{Config, ErrorCode, Event, Field, SettingId, StreamId};
use h2kit_frame::{Frame, Settings};

fn server() -> Raw {
    let mut raw = Raw::new(h2kit::Connection::server(Config::default()));
    raw.handshake_as_client();
    raw.frames();
    raw
}

const POST: [(&str, &str); 4] = [
    (":method", "POST"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "localhost"),
];

/// RFC 9113 §5.1.1: a new stream id must exceed every id the peer opened; a lower, never
/// used one is a connection error PROTOCOL_ERROR (httpwg "sends smaller stream identifier").
#[test]
fn smaller_unused_stream_id_is_a_connection_error() {
    let mut raw = server();
    raw.headers(5, &POST, true).unwrap();
    raw.conn
        .send_response(StreamId::new(5), vec![Field::new(":status", "204")], true)
        .unwrap();
    raw.frames();
    let err = raw.headers(3, &POST, true).unwrap_err();
    assert_eq!(err.code(), ErrorCode::PROTOCOL_ERROR);
    assert_eq!(goaway_code(&raw.frames()), Some(ErrorCode::PROTOCOL_ERROR));
}

/// RFC 9113 §5.1.2: streams beyond our SETTINGS_MAX_CONCURRENT_STREAMS are refused, also while
/// our responses wait for window (httpwg "exceeds concurrent stream limit").
#[test]
fn streams_beyond_the_concurrency_limit_are_refused() {
    let mut raw = server();
    let mut s = Settings::new();
    s.push(SettingId::INITIAL_WINDOW_SIZE, 0);
    raw.send_with(|b, _| h2kit_frame::encode_settings(&s, b).unwrap())
        .unwrap();
    raw.frames();
    for i in 0..=100u32 {
        let id = 1 + 2 * i;
        raw.headers(id, &POST, true).unwrap();
        while let Some(e) = raw.events.pop() {
            if let Event::Request { stream, .. } = e {
                raw.conn
                    .send_response(stream, vec![Field::new(":status", "200")], false)
                    .unwrap();
                raw.conn
                    .send_data(stream, bytes::Bytes::from_static(b"hello"), true)
                    .unwrap();
            }
        }
    }
    let frames = raw.frames();
    assert_eq!(
        rst_codes(&frames),
        vec![(StreamId::new(201), ErrorCode::REFUSED_STREAM)]
    );
    // Once the window lets the responses out, the peer may open streams again.
    let mut s = Settings::new();
    s.push(SettingId::INITIAL_WINDOW_SIZE, 100);
    raw.send_with(|b, _| h2kit_frame::encode_settings(&s, b).unwrap())
        .unwrap();
    let ends = raw
        .frames()
        .iter()
        .filter(|f| matches!(f, Frame::Data(d) if d.end_stream))
        .count();
    assert_eq!(ends, 100);
    raw.events.clear();
    raw.headers(203, &POST, true).unwrap();
    assert!(matches!(
        raw.events.as_slice(),
        [Event::Request { stream, .. }] if stream.get() == 203
    ));
}

/// RFC 9113 §7 and §6.8: a GOAWAY with an unknown code triggers nothing special; the
/// connection still answers PING until the peer closes it (httpwg "sends goaway frame with
/// unknown error code"), and ends by itself after `goaway_linger`.
#[test]
fn goaway_with_unknown_code_keeps_answering_ping() {
    let mut raw = server();
    raw.send_with(|b, _| {
        h2kit_frame::encode_goaway(StreamId::ZERO, ErrorCode(0xff), b"", b).unwrap()
    })
    .unwrap();
    assert!(
        raw.events
            .iter()
            .any(|e| matches!(e, Event::GoAway { code, .. } if *code == ErrorCode(0xff)))
    );
    raw.send_with(|b, _| h2kit_frame::encode_ping(false, *b"pingpong", b))
        .unwrap();
    let frames = raw.frames();
    assert!(
        frames
            .iter()
            .any(|f| matches!(f, Frame::Ping(p) if p.ack && &p.payload == b"pingpong")),
        "{frames:?}"
    );
    assert!(!raw.conn.is_closed());
    // The peer does not close: we do, after the linger.
    let deadline = raw.conn.poll_timeout().expect("a linger deadline");
    assert_eq!(
        deadline,
        raw.now + Config::default().limits.goaway_linger,
        "the linger is the nearest deadline"
    );
    raw.conn.handle_timeout(deadline);
    assert!(raw.conn.is_closed() || !raw.frames().is_empty());
    assert!(raw.conn.is_closed());
    assert_eq!(
        raw.conn.error().map(|e| (e.code(), e.initiator())),
        Some((ErrorCode(0xff), h2kit::Initiator::Remote))
    );
}

/// RFC 9113 §6.8: streams up to the GOAWAY's last stream id may still complete, whatever its
/// error code; the connection ends when the peer closes the transport.
#[test]
fn error_goaway_lets_processed_streams_finish() {
    let mut p = Pair::with_chunk(16_384);
    let id = p.client.send_request(get("/"), true).unwrap();
    p.drive();
    // A GOAWAY(INTERNAL_ERROR, last = 1) from a raw peer would close the transport; here the
    // server side keeps it open until the response is out.
    let mut buf = bytes::BytesMut::new();
    h2kit_frame::encode_goaway(id, ErrorCode::INTERNAL_ERROR, b"", &mut buf).unwrap();
    p.client.recv(p.now, &buf).unwrap();
    assert_eq!(
        p.client.send_request(get("/"), true),
        Err(h2kit::UsageError::ConnectionClosed)
    );
    p.server.send_response(id, status("200"), true).unwrap();
    p.drive();
    let events = p.take_client_events();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Response {
            status: 200,
            end_stream: true,
            ..
        }
    )));
    p.client.recv_eof();
    assert_eq!(
        p.client.error().map(|e| e.code()),
        Some(ErrorCode::INTERNAL_ERROR)
    );
}

// ------------------------------------------------------------------ httpwg

/// The independent RFC 9113 suite (`cargo install --locked httpwg-cli`) against the std-socket
/// server in h2c mode: every case must pass. Skipped when `httpwg` is not installed, unless
/// `H2KIT_REQUIRE_PEERS=1`.
#[test]
fn httpwg_suite_passes_against_the_std_server() {
    let test = "httpwg_suite_passes_against_the_std_server";
    let h2kit_interop::Peer::Found(bin) = h2kit_interop::require_peer("httpwg", test) else {
        return;
    };
    let server = driver::Server::start("127.0.0.1:0", Config::default).unwrap();
    let report = h2kit_interop::httpwg::run(&bin, &server.addr().to_string()).unwrap();
    report.check(&[]);
}
