//! `Harness`: a connection under test and a scripted peer, bytes moved for the test.

use std::time::Duration;

use h2kit::{Config, ConnectionError, ErrorCode, Event, ProtocolViolation, StreamId};
use h2kit_test::{FrameType, Harness, fields, frames};

#[test]
fn a_server_under_test_answers_the_scripted_client() {
    let mut t = Harness::server(Config::default());
    t.send(frames::preface()).unwrap();
    t.flush().expect(frames::settings());
    t.peer.ignore(frames::any(FrameType::WINDOW_UPDATE));
    t.peer.expect_settings_ack();
    assert!(matches!(
        t.take_events()[..],
        [Event::RemoteSettings { .. }]
    ));
    // Two frames, one `recv`.
    t.peer
        .send(frames::headers(1).request("POST", "/").field("x-a", "1"))
        .send(frames::data(1, b"body").end_stream());
    t.deliver().unwrap();
    let events = t.take_events();
    assert!(matches!(
        &events[..],
        [Event::Request { stream, headers, .. }, Event::Data { end_stream: true, .. }]
            if *stream == StreamId::new(1) && fields::has(headers, "x-a", "1")
    ));
    // DATA arrived: the receive-window estimator may have sent a PING.
    t.peer.ignore(frames::any(FrameType::PING));
    t.conn
        .send_response(StreamId::new(1), fields::status(204), true)
        .unwrap();
    t.flush()
        .expect(frames::headers(1).response(204).end_stream());
    assert!(t.frames().is_empty());
}

#[test]
fn send_returns_the_connection_error_and_advance_fires_timers() {
    let mut t = Harness::server(Config::default());
    t.send(frames::preface()).unwrap();
    t.frames();
    assert_eq!(
        t.send(frames::data(1, b"x")),
        Err(ConnectionError::Violation(
            ProtocolViolation::FrameOnIdleStream
        ))
    );
    t.flush().expect_goaway(ErrorCode::PROTOCOL_ERROR);

    // No SETTINGS ACK from the peer: the deadline fires as the clock passes it.
    let mut t = Harness::client(Config::default());
    t.send(frames::preface()).unwrap();
    t.flush().expect(frames::preface());
    t.advance(Duration::from_secs(9));
    assert!(t.conn.error().is_none());
    t.advance(Duration::from_secs(1));
    assert_eq!(t.conn.error(), Some(&ConnectionError::SettingsTimeout));
    assert!(matches!(t.events.last(), Some(Event::Terminated { .. })));
    assert_eq!(t.elapsed(), Duration::from_secs(10));
}
