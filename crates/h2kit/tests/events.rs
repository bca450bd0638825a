//! The events python h2 users rely on, each asserted with its fields: `WindowUpdated` for the
//! connection and a stream, `PingReceived` (answered automatically), `UnknownFrame` (passed
//! up, then ignored), and the priority a request came with (python h2's
//! `RequestReceived.priority_updated`).

use bytes::Bytes;
use h2kit::{Config, Event, StreamId};
use h2kit_test::{Flags, FrameType, Harness, frames};

fn server_with(config: Config) -> Harness {
    let mut t = Harness::server(config);
    t.send(frames::preface()).unwrap();
    t.frames();
    t.events.clear();
    t
}

fn server() -> Harness {
    server_with(Config::default())
}

#[test]
fn window_updates_are_reported_per_stream_and_for_the_connection() {
    let mut t = server();
    t.send(frames::headers(1).request("GET", "/")).unwrap();
    t.events.clear();
    t.peer
        .send(frames::window_update(0, 1_000))
        .send(frames::window_update(1, 2_000));
    t.deliver().unwrap();
    assert_eq!(
        t.events,
        vec![
            Event::WindowUpdated {
                stream: StreamId::ZERO,
                increment: 1_000
            },
            Event::WindowUpdated {
                stream: StreamId::new(1),
                increment: 2_000
            },
        ]
    );
}

#[test]
fn pings_are_reported_and_answered_with_the_same_payload() {
    let mut t = server();
    let payload = *b"h2kit!!!";
    t.send(frames::ping(payload)).unwrap();
    assert_eq!(t.events, vec![Event::PingReceived { payload }]);
    let peer = t.flush();
    peer.expect_ping_ack(payload);
    peer.expect_nothing();
}

#[test]
fn unknown_frames_are_passed_up_and_otherwise_ignored() {
    let mut t = server();
    t.send(frames::raw(FrameType(0xfa), Flags(0x5), 3, b"extension"))
        .unwrap();
    assert_eq!(
        t.events,
        vec![Event::UnknownFrame {
            frame_type: FrameType(0xfa),
            flags: Flags(0x5),
            stream: StreamId::new(3),
            payload: Bytes::from_static(b"extension"),
        }]
    );
    // Nothing is sent back, and the connection carries on.
    t.flush().expect_nothing();
    t.send(frames::headers(1).request("GET", "/").end_stream())
        .unwrap();
    assert!(
        t.events
            .iter()
            .any(|e| matches!(e, Event::Request { stream, .. } if *stream == StreamId::new(1)))
    );
}

#[test]
fn a_request_carries_the_priority_it_came_with() {
    let mut cfg = Config::default();
    cfg.settings.no_rfc7540_priorities = false;
    let mut t = server_with(cfg);
    // Weight 201 is 200 on the wire.
    t.send(
        frames::headers(1)
            .request("GET", "/")
            .field("priority", "u=1, i")
            .priority(0, 201, true)
            .end_stream(),
    )
    .unwrap();
    let priority = t
        .events
        .iter()
        .find_map(|e| match e {
            Event::Request { priority, .. } => Some(*priority),
            _ => None,
        })
        .expect("a request");
    let ext = priority.extensible.expect("the priority header");
    assert_eq!(ext.urgency.value(), 1);
    assert!(ext.incremental);
    let tree = priority.tree.expect("the HEADERS priority");
    assert_eq!(tree.weight, 201);
    assert!(tree.exclusive);
}
