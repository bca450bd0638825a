//! Inputs found by `cargo fuzz` (see `fuzz/README.md`), each kept as a test with its root cause.

use bytes::Bytes;
use h2kit::{Config, ErrorCode, Event, Field, Initiator, StreamId};
use h2kit_test::{Frame, FrameType, Harness, Pair, ReceivedFrame, Side, fields, frames};

/// A client and a server in memory, at most 16,384 octets per read, received DATA released
/// only by the test.
fn pair(client: Config, server: Config) -> Pair {
    let mut p = Pair::new(client, server);
    p.set_byte_cap(Some(16_384))
        .set_auto_release(Side::Client, false)
        .set_auto_release(Side::Server, false);
    p
}

/// No frame but PRIORITY may follow a RST_STREAM on the same stream (RFC 9113 §5.1,
/// "closed"). Returns the first offending frame.
fn frame_after_reset(frames: &[ReceivedFrame]) -> Option<&ReceivedFrame> {
    let mut reset: Vec<StreamId> = Vec::new();
    for f in frames {
        let id = f.stream_id();
        if reset.contains(&id) && f.frame_type() != FrameType::PRIORITY {
            return Some(f);
        }
        if let Frame::RstStream(r) = &f.frame {
            reset.push(r.stream_id);
        }
    }
    None
}

/// `connection_ops` found a server that wrote a PUSH_PROMISE after its own RST_STREAM on the
/// associated stream: the application had queued the promise, then the peer broke a rule on
/// that stream and the library's reset jumped ahead of it. The client then saw a promise on a
/// closed stream, a connection error. The promise must go out before the reset (it was made
/// while the stream was open), or not at all.
#[test]
fn a_library_reset_never_overtakes_a_queued_push_promise() {
    let mut t = Harness::server(Config::default());
    t.send(frames::preface()).unwrap();
    let _ = t.frames();
    t.send(
        frames::headers(1)
            .request("POST", "/")
            .field("content-length", "3"),
    )
    .unwrap();
    let promised = t
        .conn
        .push_promise(StreamId::new(1), fields::get("/pushed.css"))
        .unwrap();
    // The body is longer than content-length: a stream error the library answers itself.
    t.send(frames::data(1, b"too long").end_stream()).unwrap();
    assert!(t.events.iter().any(|e| matches!(
        e,
        Event::StreamReset { stream, error } if *stream == StreamId::new(1)
            && error.initiator() == Initiator::Library
    )));
    let written = t.frames();
    assert!(
        written
            .iter()
            .any(|f| f.matches(frames::rst_stream(1, ErrorCode::PROTOCOL_ERROR))),
        "{written:?}"
    );
    assert_eq!(frame_after_reset(&written), None, "{written:?}");
    // Whatever happened to the promise, the promised stream is usable or cleanly gone: the
    // application's response on it either goes out or is refused with an error, never a panic.
    let _ = t
        .conn
        .send_response(promised, vec![Field::new(":status", "200")], true);
    let written = t.frames();
    assert_eq!(frame_after_reset(&written), None, "{written:?}");
    assert!(t.conn.error().is_none());
}

/// The same sequence through two h2kit connections, as the fuzzer ran it: the client's push
/// handling must never see a protocol violation from an h2kit server.
#[test]
fn an_h2kit_client_accepts_what_an_h2kit_server_writes_around_a_reset() {
    let mut client_cfg = Config::default();
    client_cfg.settings.enable_push = true;
    let mut p = pair(client_cfg, Config::default());
    let mut req = fields::post("/upload");
    req.push(Field::new("content-length", "3"));
    let id = p.client.send_request(req, false).unwrap();
    p.drive();
    let _promised = p
        .server
        .push_promise(id, fields::get("/pushed.css"))
        .unwrap();
    // A DATA frame that breaks content-length, delivered straight to the server before the
    // server writes anything.
    let data = frames::data(id.get(), b"too long").end_stream().to_bytes();
    p.server.recv(p.now(), &data).unwrap();
    p.drive();
    assert!(p.client.error().is_none(), "{:?}", p.client.error());
    assert!(p.server.error().is_none(), "{:?}", p.server.error());
}

/// `connection_ops` found a server answering an empty DATA frame with END_STREAM by
/// RST_STREAM FLOW_CONTROL_ERROR when it had lowered SETTINGS_INITIAL_WINDOW_SIZE to 0 and
/// the stream's window was negative: a frame with no flow-controlled bytes always fits
/// (RFC 9113 §6.9.1).
#[test]
fn an_empty_end_stream_fits_a_negative_window() {
    let mut p = pair(Config::default(), Config::default());
    let id = p
        .client
        .send_request(fields::post("/upload"), false)
        .unwrap();
    p.client
        .send_data(id, Bytes::from(vec![7u8; 10_000]), false)
        .unwrap();
    p.drive();
    let mut s = *p.server.local_settings();
    s.initial_window_size = 0;
    p.server.update_settings(s).unwrap();
    p.drive();
    p.client.send_data(id, Bytes::new(), true).unwrap();
    p.drive();
    let events = p.take_events(Side::Server);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::StreamReset { .. })),
        "{events:?}"
    );
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Data { stream, end_stream: true, .. } if *stream == id
    )));
}
