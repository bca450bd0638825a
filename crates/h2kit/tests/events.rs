//! The events python h2 users rely on, each asserted with its fields: `WindowUpdated` for the
//! connection and a stream, `PingReceived` (answered automatically), `UnknownFrame` (passed
//! up, then ignored), and the priority a request came with (python h2's
//! `RequestReceived.priority_updated`).

mod common;

use bytes::Bytes;
use common::*;
use h2kit::{Config, Connection, Event, StreamId};
use h2kit_frame::{Flags, Frame, FrameType, PrioritySpec};

fn server() -> Raw {
    let mut raw = Raw::new(Connection::server(Config::default()));
    raw.handshake_as_client();
    raw.frames();
    raw.events.clear();
    raw
}

#[test]
fn window_updates_are_reported_per_stream_and_for_the_connection() {
    let mut raw = server();
    raw.headers(1, &GET, false).unwrap();
    raw.events.clear();
    raw.send_with(|b, _| {
        h2kit_frame::encode_window_update(StreamId::ZERO, 1_000, b).unwrap();
        h2kit_frame::encode_window_update(StreamId::new(1), 2_000, b).unwrap();
    })
    .unwrap();
    assert_eq!(
        raw.events,
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
    let mut raw = server();
    let payload = *b"h2kit!!!";
    raw.send_with(|b, _| h2kit_frame::encode_ping(false, payload, b))
        .unwrap();
    assert_eq!(raw.events, vec![Event::PingReceived { payload }]);
    let frames = raw.frames();
    assert!(
        matches!(frames.as_slice(), [Frame::Ping(p)] if p.ack && p.payload == payload),
        "{frames:?}"
    );
}

#[test]
fn unknown_frames_are_passed_up_and_otherwise_ignored() {
    let mut raw = server();
    raw.send_with(|b, _| {
        h2kit_frame::encode_raw(
            FrameType(0xfa),
            Flags(0x5),
            StreamId::new(3),
            b"extension",
            b,
        )
        .unwrap();
    })
    .unwrap();
    assert_eq!(
        raw.events,
        vec![Event::UnknownFrame {
            frame_type: FrameType(0xfa),
            flags: Flags(0x5),
            stream: StreamId::new(3),
            payload: Bytes::from_static(b"extension"),
        }]
    );
    // Nothing is sent back, and the connection carries on.
    assert!(raw.frames().is_empty());
    raw.headers(1, &GET, true).unwrap();
    assert!(
        raw.events
            .iter()
            .any(|e| matches!(e, Event::Request { stream, .. } if *stream == StreamId::new(1)))
    );
}

#[test]
fn a_request_carries_the_priority_it_came_with() {
    let mut cfg = Config::default();
    cfg.settings.no_rfc7540_priorities = false;
    let mut raw = Raw::new(Connection::server(cfg));
    raw.handshake_as_client();
    raw.frames();
    let mut fields = GET.to_vec();
    fields.push(("priority", "u=1, i"));
    let block = raw.block(&fields);
    let spec = PrioritySpec {
        dependency: StreamId::ZERO,
        weight: 200,
        exclusive: true,
    };
    raw.send_with(|b, _| {
        h2kit_frame::encode_headers(StreamId::new(1), &block, true, Some(spec), None, 16_384, b)
            .unwrap();
    })
    .unwrap();
    let priority = raw
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
