//! A scripted peer sends attacks and protocol violations; each test asserts the frame we
//! answer with, its code, and that memory stays bounded.

use std::time::Duration;

use bytes::Bytes;
use h2kit::{
    Config, ConnectionError, ErrorCode, Event, LimitExceeded, ProtocolViolation, StreamId,
};
use h2kit_test::frames::{self, GoAwayBuilder, HeadersBuilder};
use h2kit_test::{Frame, FrameType, Harness, ReceivedFrame, fields};

/// A server after the scripted client's preface, its own preface and ACK read.
fn server(cfg: Config) -> Harness {
    let mut t = Harness::server(cfg);
    t.send(frames::preface()).unwrap();
    t.frames(); // our SETTINGS and WINDOW_UPDATE, the ACK
    t
}

/// A GET request for `/` on `stream`, without END_STREAM.
fn get(stream: u32) -> HeadersBuilder {
    frames::headers(stream).request("GET", "/")
}

/// A GOAWAY with `code`, whatever its last stream id.
fn goaway(code: ErrorCode) -> GoAwayBuilder {
    frames::goaway(0, code).any_last_stream_id()
}

fn sid(n: u32) -> StreamId {
    StreamId::new(n)
}

#[test]
fn bad_preface_gets_goaway_protocol_error() {
    let mut t = Harness::server(Config::default());
    let err = t
        .send_bytes(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap_err();
    assert_eq!(
        err,
        ConnectionError::Violation(ProtocolViolation::BadPreface)
    );
    t.flush()
        .expect_eventually(goaway(ErrorCode::PROTOCOL_ERROR));
    assert!(t.conn.is_closed());
    // Split preface bytes are accepted one at a time.
    let mut t = Harness::server(Config::default());
    for b in h2kit::PREFACE.iter() {
        t.send_bytes(&[*b]).unwrap();
    }
    // ...but the first frame must be SETTINGS.
    let err = t.send(frames::ping([0; 8])).unwrap_err();
    assert_eq!(err.code(), ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn rapid_reset_is_answered_with_enhance_your_calm() {
    let mut cfg = Config::default();
    cfg.limits.resets = h2kit::limits::RateLimit::new(50, Duration::from_secs(10));
    let mut t = server(cfg);
    let mut result = Ok(());
    let mut opened = 0;
    for i in 0..200u32 {
        let id = 2 * i + 1;
        result = t
            .send(get(id))
            .and_then(|_| t.send(frames::rst_stream(id, ErrorCode::CANCEL)));
        opened += 1;
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(ConnectionError::Limit(LimitExceeded::Resets)));
    assert_eq!(opened, 51);
    t.flush()
        .expect_eventually(goaway(ErrorCode::ENHANCE_YOUR_CALM));
}

#[test]
fn resets_of_our_own_streams_do_not_count_as_rapid_reset() {
    // A server refusing many of a client's requests (REFUSED_STREAM before its SETTINGS
    // arrived, say) is not an attack on the client.
    let mut cfg = Config::default();
    cfg.limits.resets = h2kit::limits::RateLimit::new(10, Duration::from_secs(10));
    let mut t = Harness::client(cfg);
    t.frames();
    t.send(frames::preface()).unwrap();
    t.frames();
    for _ in 0..50 {
        let id = t.conn.send_request(fields::get("/"), true).unwrap();
        t.frames();
        t.send(frames::rst_stream(id.get(), ErrorCode::REFUSED_STREAM))
            .unwrap();
    }
    assert!(!t.conn.is_closed());
    t.flush().expect_none(frames::any(FrameType::GOAWAY));
    let refused = t
        .events
        .iter()
        .filter(
            |e| matches!(e, Event::StreamReset { error, .. } if error.code() == ErrorCode::REFUSED_STREAM),
        )
        .count();
    assert_eq!(refused, 50);
}

#[test]
fn streams_we_reset_because_of_the_peer_count_too() {
    // "MadeYouReset": each stream is reset by us (a WINDOW_UPDATE of 0 is a stream error).
    let mut cfg = Config::default();
    cfg.limits.resets = h2kit::limits::RateLimit::new(20, Duration::from_secs(10));
    let mut t = server(cfg);
    let mut result = Ok(());
    for i in 0..100u32 {
        let id = 2 * i + 1;
        result = t
            .send(get(id))
            .and_then(|_| t.send(frames::window_update(id, 0)));
        t.flush();
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(ConnectionError::Limit(LimitExceeded::Resets)));
    // Twenty resets, all ours, then the GOAWAY.
    for i in 0..20 {
        t.peer
            .expect_rst_stream(2 * i + 1, ErrorCode::PROTOCOL_ERROR);
    }
    t.peer.expect_goaway(ErrorCode::ENHANCE_YOUR_CALM);
    t.peer.expect_nothing();
}

#[test]
fn continuation_flood_is_rejected_without_buffering() {
    // Frame-count cap.
    let mut t = server(Config::default());
    t.peer
        .send(frames::headers(1).block(vec![0x82]).no_end_headers());
    for _ in 0..40 {
        t.peer
            .send(frames::continuation(1, vec![0x40; 10]).no_end_headers());
    }
    let err = t.deliver().unwrap_err();
    assert_eq!(
        err,
        ConnectionError::Limit(LimitExceeded::ContinuationFrames)
    );
    t.flush()
        .expect_eventually(goaway(ErrorCode::ENHANCE_YOUR_CALM));

    // Byte cap: detected at the frame that crosses it.
    let mut cfg = Config::default();
    cfg.limits.max_header_block_bytes = 20_000;
    cfg.limits.max_continuation_frames = 1_000;
    let mut t = server(cfg);
    t.send(frames::headers(1).block(vec![0x82]).no_end_headers())
        .unwrap();
    let big = vec![0x40u8; 16_000];
    t.send(frames::continuation(1, big.clone()).no_end_headers())
        .unwrap();
    assert_eq!(
        t.send(frames::continuation(1, big).no_end_headers()),
        Err(ConnectionError::Limit(LimitExceeded::HeaderBlockSize))
    );
}

#[test]
fn ping_flood_and_settings_flood() {
    let mut cfg = Config::default();
    cfg.limits.pings = h2kit::limits::RateLimit::new(10, Duration::from_secs(10));
    let mut t = server(cfg);
    let mut result = Ok(());
    for i in 0..50u8 {
        result = t.send(frames::ping([i; 8]));
        // Read our replies as we go, so the reply queue is not what trips.
        t.frames();
        if result.is_err() {
            break;
        }
    }
    assert_eq!(
        result,
        Err(ConnectionError::Limit(LimitExceeded::PingFlood))
    );

    let mut cfg = Config::default();
    cfg.limits.settings = h2kit::limits::RateLimit::new(5, Duration::from_secs(10));
    let mut t = server(cfg);
    let mut n = 1; // the handshake's SETTINGS counted
    let err = loop {
        match t.send(frames::settings()) {
            Ok(()) => n += 1,
            Err(e) => break e,
        }
        assert!(n < 100);
    };
    assert_eq!(err, ConnectionError::Limit(LimitExceeded::SettingsFlood));
    assert_eq!(n, 5);
}

#[test]
fn peer_that_does_not_read_replies_is_disconnected() {
    let mut cfg = Config::default();
    cfg.limits.max_control_queue = 16;
    cfg.limits.pings = h2kit::limits::RateLimit::new(1_000, Duration::from_secs(10));
    let mut t = server(cfg);
    let mut result = Ok(());
    let mut sent = 0;
    for i in 0..100u8 {
        result = t.send(frames::ping([i; 8]));
        if result.is_err() {
            break;
        }
        sent += 1;
    }
    assert_eq!(
        result,
        Err(ConnectionError::Limit(LimitExceeded::ControlQueue))
    );
    assert_eq!(sent, 16);
    // Replies were dropped, not kept: only the GOAWAY went out.
    let peer = t.flush();
    peer.expect_goaway(ErrorCode::ENHANCE_YOUR_CALM);
    peer.expect_nothing();
}

#[test]
fn empty_data_window_update_and_priority_floods() {
    let mut cfg = Config::default();
    cfg.limits.empty_data = h2kit::limits::RateLimit::new(10, Duration::from_secs(10));
    let mut t = server(cfg);
    t.send(get(1)).unwrap();
    let err = (0..50)
        .find_map(|_| t.send(frames::data(1, b"")).err())
        .unwrap();
    assert_eq!(err, ConnectionError::Limit(LimitExceeded::EmptyDataFlood));

    let mut cfg = Config::default();
    cfg.limits.window_updates = h2kit::limits::RateLimit::new(10, Duration::from_secs(10));
    let mut t = server(cfg);
    let err = (0..50)
        .find_map(|_| t.send(frames::window_update(0, 1)).err())
        .unwrap();
    assert_eq!(
        err,
        ConnectionError::Limit(LimitExceeded::WindowUpdateFlood)
    );

    let mut cfg = Config::default();
    cfg.limits.priority = h2kit::limits::RateLimit::new(10, Duration::from_secs(10));
    let mut t = server(cfg);
    // The RFC 7540 default priority: on stream 0, weight 16, not exclusive.
    let err = (0..50u32)
        .find_map(|i| t.send(frames::priority(2 * i + 1, 0, 16, false)).err())
        .unwrap();
    assert_eq!(err, ConnectionError::Limit(LimitExceeded::PriorityFlood));
}

#[test]
fn concurrency_overflow_is_refused_stream_not_connection_error() {
    let mut cfg = Config::default();
    cfg.settings.max_concurrent_streams = 2;
    let mut t = server(cfg);
    for id in [1, 3, 5] {
        t.send(get(id)).unwrap();
    }
    let peer = t.flush();
    peer.expect_rst_stream(5, ErrorCode::REFUSED_STREAM);
    peer.expect_nothing();
    let requests = t
        .events
        .iter()
        .filter(|e| matches!(e, Event::Request { .. }))
        .count();
    assert_eq!(requests, 2);
    // HPACK stayed in step: the next request on a freed slot decodes.
    t.send(frames::rst_stream(1, ErrorCode::CANCEL)).unwrap();
    t.send(get(7).end_stream()).unwrap();
    assert!(
        t.events
            .iter()
            .any(|e| matches!(e, Event::Request { stream, .. } if *stream == sid(7)))
    );
}

#[test]
fn pending_accept_is_bounded() {
    // Streams the peer opens and cancels at once never count against the concurrency limit,
    // but each leaves events for the application: those are what this limit bounds.
    let mut cfg = Config::default();
    cfg.limits.max_pending_accept = 3;
    cfg.settings.max_concurrent_streams = 2;
    let mut t = Harness::server(cfg);
    let now = t.now();
    let preface = t.peer.send(frames::preface()).take_output();
    t.conn.recv(now, &preface).unwrap();
    // Requests arrive and are cancelled, but the application takes no events.
    for id in [1u32, 3, 5, 7, 9] {
        let octets = t
            .peer
            .send(get(id).end_stream())
            .send(frames::rst_stream(id, ErrorCode::CANCEL))
            .take_output();
        t.conn.recv(now, &octets).unwrap();
    }
    let peer = t.flush();
    // Our preface, the ACK, the connection's WINDOW_UPDATE, then the refusals.
    peer.ignore(frames::any(FrameType::SETTINGS))
        .ignore(frames::any(FrameType::WINDOW_UPDATE));
    peer.expect_rst_stream(7, ErrorCode::REFUSED_STREAM);
    peer.expect_rst_stream(9, ErrorCode::REFUSED_STREAM);
    peer.expect_nothing();
}

#[test]
fn raising_max_concurrent_streams_alone_accepts_that_many_at_once() {
    // 200 requests in one read, before the application takes any event: with our
    // SETTINGS_MAX_CONCURRENT_STREAMS at 256, none may be refused by the pending-accept cap.
    let mut cfg = Config::default();
    cfg.settings.max_concurrent_streams = 256;
    let mut t = server(cfg);
    for i in 0..200u32 {
        t.peer.send(get(2 * i + 1).end_stream());
    }
    t.deliver().unwrap();
    t.flush().expect_none(frames::any(FrameType::RST_STREAM));
    let requests = t
        .events
        .iter()
        .filter(|e| matches!(e, Event::Request { .. }))
        .count();
    assert_eq!(requests, 200);
}

#[test]
fn header_list_too_large_resets_the_stream_and_keeps_hpack_in_step() {
    let mut cfg = Config::default();
    cfg.settings.max_header_list_size = 200;
    let mut t = server(cfg);
    let long = "x".repeat(300);
    t.send(get(1).field("x-big", &long).end_stream()).unwrap();
    t.send(get(3).end_stream()).unwrap();
    let peer = t.flush();
    peer.expect_rst_stream(1, ErrorCode::ENHANCE_YOUR_CALM);
    peer.expect_nothing();
    assert!(
        t.events
            .iter()
            .any(|e| matches!(e, Event::Request { stream, .. } if *stream == sid(3)))
    );
}

#[test]
fn malformed_request_is_a_stream_error_and_hpack_stays_in_step() {
    let mut t = server(Config::default());
    t.send(get(1).field("connection", "keep-alive").end_stream())
        .unwrap();
    // No :scheme.
    t.send(
        frames::headers(3)
            .field(":method", "GET")
            .field(":path", "/")
            .end_stream(),
    )
    .unwrap();
    t.send(get(5).end_stream()).unwrap();
    let peer = t.flush();
    peer.expect_rst_stream(1, ErrorCode::PROTOCOL_ERROR);
    peer.expect_rst_stream(3, ErrorCode::PROTOCOL_ERROR);
    peer.expect_nothing();
    assert!(t.conn.error().is_none());
    assert!(
        t.events
            .iter()
            .any(|e| matches!(e, Event::Request { stream, .. } if *stream == sid(5)))
    );
}

#[test]
fn content_length_must_agree_with_data() {
    let mut t = server(Config::default());
    let post = |id| {
        frames::headers(id)
            .request("POST", "/")
            .field("content-length", "3")
    };
    t.send(post(1)).unwrap();
    t.send(frames::data(1, b"abcd").end_stream()).unwrap();
    t.send(post(3)).unwrap();
    t.send(frames::data(3, b"ab").end_stream()).unwrap();
    t.send(post(5)).unwrap();
    t.send(frames::data(5, b"abc").padded(10).end_stream())
        .unwrap();
    let peer = t.flush();
    // DATA arrived: the receive-window estimator may PING.
    peer.ignore(frames::any(FrameType::PING));
    peer.expect_rst_stream(1, ErrorCode::PROTOCOL_ERROR);
    peer.expect_rst_stream(3, ErrorCode::PROTOCOL_ERROR);
    peer.expect_nothing();
    let data = t.events.iter().find_map(|e| match e {
        Event::Data {
            stream,
            data,
            flow_controlled_len,
            ..
        } if *stream == sid(5) => Some((data.clone(), *flow_controlled_len)),
        _ => None,
    });
    assert_eq!(data, Some((Bytes::from_static(b"abc"), 3 + 10 + 1)));
}

#[test]
fn frames_on_idle_streams_are_connection_errors() {
    let mut t = server(Config::default());
    let err = t.send(frames::data(1, b"x")).unwrap_err();
    assert_eq!(
        err,
        ConnectionError::Violation(ProtocolViolation::FrameOnIdleStream)
    );
    t.flush().expect_goaway(ErrorCode::PROTOCOL_ERROR);

    let mut t = server(Config::default());
    let err = t
        .send(frames::headers(2).request("GET", "/").end_stream())
        .unwrap_err();
    assert_eq!(
        err,
        ConnectionError::Violation(ProtocolViolation::InvalidStreamId)
    );
}

#[test]
fn data_after_end_stream_is_stream_closed() {
    let mut t = server(Config::default());
    t.send(get(1).end_stream()).unwrap();
    t.send(frames::data(1, b"x")).unwrap();
    let peer = t.flush();
    peer.ignore(frames::any(FrameType::PING));
    peer.expect_rst_stream(1, ErrorCode::STREAM_CLOSED);
    peer.expect_nothing();
    assert!(t.conn.error().is_none());
}

#[test]
fn window_overflow_has_the_right_scope() {
    let mut t = server(Config::default());
    t.send(get(1)).unwrap();
    t.send(frames::window_update(1, 0x7fff_ffff)).unwrap();
    let peer = t.flush();
    peer.expect_rst_stream(1, ErrorCode::FLOW_CONTROL_ERROR);
    peer.expect_nothing();
    assert!(t.conn.error().is_none());
    let err = t.send(frames::window_update(0, 0x7fff_ffff)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::FLOW_CONTROL_ERROR);
    t.flush().expect_goaway(ErrorCode::FLOW_CONTROL_ERROR);
}

#[test]
fn data_beyond_the_window_is_a_flow_control_error() {
    let cfg = Config {
        connection_window_size: 65_535,
        ..Config::default()
    };
    let mut t = server(cfg);
    t.send(get(1)).unwrap();
    let chunk = vec![0u8; 16_384];
    for _ in 0..3 {
        t.send(frames::data(1, &chunk)).unwrap();
    }
    // 49,152 used; 16,384 more exceeds 65,535 (connection and stream).
    let err = t.send(frames::data(1, &chunk)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::FLOW_CONTROL_ERROR);
}

#[test]
fn push_promise_when_disabled_is_a_connection_error() {
    let mut t = Harness::client(Config::default());
    let id = t.conn.send_request(fields::get("/"), true).unwrap();
    t.frames();
    t.send(frames::preface()).unwrap();
    let err = t
        .send(frames::push_promise(id.get(), 2).request("GET", "/"))
        .unwrap_err();
    assert_eq!(
        err,
        ConnectionError::Violation(ProtocolViolation::PushNotAllowed)
    );
    t.flush()
        .expect_eventually(goaway(ErrorCode::PROTOCOL_ERROR));
}

#[test]
fn closed_stream_memory_stays_bounded() {
    let mut cfg = Config::default();
    cfg.limits.max_closed_streams = 8;
    cfg.limits.resets = h2kit::limits::RateLimit::new(100_000, Duration::from_secs(1));
    let mut t = server(cfg);
    for i in 0..500u32 {
        let id = 2 * i + 1;
        t.send(get(id).end_stream()).unwrap();
        t.send(frames::rst_stream(id, ErrorCode::CANCEL)).unwrap();
        if i % 50 == 0 {
            t.events.clear();
            t.frames();
        }
    }
    assert!(t.conn.stream(sid(999)).is_none());
    assert_eq!(t.conn.open_inbound_streams(), 0);
    let dbg = format!("{:?}", t.conn);
    assert!(dbg.contains("streams: 0"), "{dbg}");
}

#[test]
fn settings_ack_timeout_closes_the_connection() {
    let mut t = Harness::client(Config::default());
    t.frames(); // our SETTINGS go out at `now`
    t.send(frames::preface()).unwrap();
    let deadline = t.conn.poll_timeout().expect("a SETTINGS ack deadline");
    assert_eq!(deadline, t.now() + Duration::from_secs(10));
    t.advance(deadline - t.now());
    assert_eq!(t.conn.error(), Some(&ConnectionError::SettingsTimeout));
    t.flush()
        .expect_eventually(goaway(ErrorCode::SETTINGS_TIMEOUT));
}

#[test]
fn idle_timeout_and_keep_alive() {
    let mut cfg = Config::default();
    cfg.limits.idle_timeout = Some(Duration::from_secs(30));
    // Not the first-request timeout, which would close this connection as early.
    cfg.limits.first_request_timeout = None;
    let mut t = server(cfg);
    t.send(frames::settings_ack()).unwrap();
    let deadline = t.conn.poll_timeout().unwrap();
    assert_eq!(deadline, t.now() + Duration::from_secs(30));
    t.advance(deadline - t.now());
    assert_eq!(t.conn.error(), Some(&ConnectionError::IdleTimeout));
    t.flush().expect_goaway(ErrorCode::NO_ERROR);

    let mut cfg = Config::default();
    cfg.limits.idle_timeout = None;
    cfg.limits.first_request_timeout = None;
    cfg.limits.keep_alive_interval = Some(Duration::from_secs(5));
    let mut t = server(cfg);
    t.send(frames::settings_ack()).unwrap();
    let deadline = t.conn.poll_timeout().unwrap();
    t.advance(deadline - t.now());
    let ping = t.flush().expect_eventually(frames::any(FrameType::PING));
    assert!(
        matches!(&ping.frame, Frame::Ping(p) if !p.ack),
        "keep-alive PING: {ping}"
    );
    // No answer within the keep-alive timeout: the connection is dead.
    let deadline = t.conn.poll_timeout().unwrap();
    assert_eq!(deadline, t.now() + Duration::from_secs(20));
    t.advance(deadline - t.now());
    assert_eq!(t.conn.error(), Some(&ConnectionError::IdleTimeout));
}

#[test]
fn late_frames_after_goaway_are_ignored_and_ping_still_answered() {
    let mut t = server(Config::default());
    t.send(get(1).end_stream()).unwrap();
    t.conn.graceful_shutdown().unwrap();
    let ping = match t
        .flush()
        .expect_eventually(frames::any(FrameType::PING))
        .frame
    {
        Frame::Ping(p) if !p.ack => p.payload,
        other => panic!("expected our PING, got {other:?}"),
    };
    // A stream opened before the peer saw our GOAWAY, then the PING ack.
    t.send(get(3).end_stream()).unwrap();
    t.send(frames::ping(ping).ack()).unwrap();
    // After the final GOAWAY (last id 3), a new stream is ignored, PING still answered.
    t.send(get(5).end_stream()).unwrap();
    t.send(frames::ping([9; 8])).unwrap();
    let written = t.frames();
    let last_ids: Vec<u32> = written
        .iter()
        .filter_map(|f| match &f.frame {
            Frame::GoAway(g) => Some(g.last_stream_id.get()),
            _ => None,
        })
        .collect();
    assert_eq!(last_ids, vec![3]);
    assert!(
        written
            .iter()
            .any(|f| f.matches(frames::ping([9; 8]).ack()))
    );
    let requests: Vec<StreamId> = t
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Request { stream, .. } => Some(*stream),
            _ => None,
        })
        .collect();
    assert_eq!(requests, vec![sid(1), sid(3)]);
    assert!(t.conn.error().is_none());
}

#[test]
fn priority_update_from_a_server_is_a_connection_error_naming_rfc_9218() {
    let mut t = Harness::client(Config::default());
    t.send(frames::preface()).unwrap();
    t.frames();
    let err = t.send(frames::priority_update(1, b"u=1")).unwrap_err();
    assert_eq!(
        err,
        ConnectionError::Violation(ProtocolViolation::PriorityUpdateFromServer)
    );
    assert!(err.to_string().contains("RFC 9218"), "{err}");
    t.flush().expect_goaway(ErrorCode::PROTOCOL_ERROR);
}

/// The DATA frames in `frames`: total payload octets, and whether one ended the stream.
fn data_sent(frames: &[ReceivedFrame]) -> (usize, bool) {
    frames
        .iter()
        .fold((0, false), |(n, end), f| match &f.frame {
            Frame::Data(d) => (n + d.data.len(), end || d.end_stream),
            _ => (n, end),
        })
}

/// Issue 12, bad input: a client that shrinks SETTINGS_INITIAL_WINDOW_SIZE mid-transfer
/// drives our stream send window negative (RFC 9113 §6.9.2); nothing is sent until its
/// WINDOW_UPDATEs bring the window above zero, then exactly what they allow.
#[test]
fn a_window_shrunk_mid_transfer_goes_negative_and_recovers_exactly() {
    let mut t = server(Config::default());
    t.send(get(1).end_stream()).unwrap();
    t.conn
        .send_response(sid(1), fields::status(200), false)
        .unwrap();
    t.conn
        .send_data(sid(1), Bytes::from(vec![1u8; 100_000]), true)
        .unwrap();
    assert_eq!(data_sent(&t.frames()), (65_535, false));
    let update = |t: &mut Harness, stream: u32, inc: u32| {
        t.send(frames::window_update(stream, inc)).unwrap();
    };
    // 65,535 in flight; the initial window drops to 16,384: the stream window is -49,151.
    t.send(frames::settings().initial_window_size(16_384))
        .unwrap();
    update(&mut t, 0, 1 << 20);
    assert_eq!(data_sent(&t.frames()), (0, false));
    assert_eq!(t.conn.send_capacity(sid(1)), 0);
    update(&mut t, 1, 49_151);
    assert_eq!(
        data_sent(&t.frames()),
        (0, false),
        "the window is back at 0"
    );
    update(&mut t, 1, 10_000);
    assert_eq!(data_sent(&t.frames()), (10_000, false));
    // Raising the setting again credits the difference: the rest goes out.
    t.send(frames::settings().initial_window_size(65_535))
        .unwrap();
    assert_eq!(data_sent(&t.frames()), (100_000 - 75_535, true));
    assert!(t.conn.error().is_none());
}

/// Issue 12, bad input: a peer that never sends WINDOW_UPDATE gets one window of data and
/// then nothing: no busy loop, no frame beyond the window, and the connection stays usable.
/// (With the send-stall timeout off: `send_stall_*` below test what it then does.)
#[test]
fn a_peer_that_never_opens_its_window_gets_one_window() {
    let mut cfg = Config::default();
    cfg.limits.send_stall_timeout = None;
    let mut t = server(cfg);
    t.send(frames::settings_ack()).unwrap();
    t.send(get(1).end_stream()).unwrap();
    t.conn
        .send_response(sid(1), fields::status(200), false)
        .unwrap();
    t.conn
        .send_data(sid(1), Bytes::from(vec![1u8; 200_000]), true)
        .unwrap();
    assert_eq!(data_sent(&t.frames()), (65_535, false));
    for _ in 0..100 {
        t.advance(Duration::from_secs(1));
        assert_eq!(data_sent(&t.frames()), (0, false));
    }
    t.send(frames::ping([3; 8])).unwrap();
    t.flush().expect_eventually(frames::ping([3; 8]).ack());
}

/// Issue 12, bad input: a server that floods PINGs, acknowledges PINGs it guesses, and sends
/// a steady stream of DATA cannot make the client's window estimator send more than one PING
/// per 100 ms (its floor above this short round trip); the client still answers every PING.
#[test]
fn a_ping_flood_cannot_speed_up_the_estimator() {
    let mut t = Harness::client(Config::default());
    let id = t.conn.send_request(fields::get("/"), true).unwrap();
    t.frames();
    // The server acknowledges our SETTINGS, so that the clock passing 10 s ends nothing.
    t.peer.send(frames::preface()).send(frames::settings_ack());
    t.deliver().unwrap();
    t.send(frames::headers(id.get()).response(200)).unwrap();
    let chunk = vec![0u8; 4_000];
    let (mut ours, mut acks) = (0, 0);
    let seconds = 10;
    for ms in 0..seconds * 1_000u64 {
        t.advance(Duration::from_millis(1));
        t.peer.send(frames::data(id.get(), &chunk));
        for i in 0..10u64 {
            t.peer.send(frames::ping((ms * 10 + i).to_be_bytes()));
            // Guessed payloads of the client's own PINGs (a counter, at most one per
            // 100 ms if the estimator keeps its bound), acknowledged at once.
            let guess = 0x6832_6b69_0000_0000 | (ms / 100 + i);
            t.peer.send(frames::ping(guess.to_be_bytes()).ack());
        }
        t.deliver().unwrap();
        for e in t.events.drain(..) {
            if let Event::Data {
                stream,
                flow_controlled_len,
                ..
            } = e
            {
                t.conn.release_capacity(stream, flow_controlled_len);
            }
        }
        for f in t.frames() {
            if let Frame::Ping(p) = f.frame {
                if p.ack {
                    acks += 1;
                } else {
                    ours += 1;
                }
            }
        }
    }
    assert_eq!(acks, seconds * 10_000);
    assert!(
        (1..=seconds * 10 + 1).contains(&ours),
        "{ours} estimator PINGs in {seconds} s"
    );
    assert!(t.conn.error().is_none());
}

/// Whether `frames` hold an RST_STREAM on `stream` with `code`.
fn has_reset(frames: &[ReceivedFrame], stream: u32, code: ErrorCode) -> bool {
    frames.iter().any(|f| {
        matches!(&f.frame, Frame::RstStream(r) if r.stream_id.get() == stream && r.error_code == code)
    })
}

/// A server with `limits.send_stall_timeout` of 10 s whose client has acknowledged its
/// SETTINGS and announced SETTINGS_INITIAL_WINDOW_SIZE `initial_window`.
fn stall_server(initial_window: u32) -> Harness {
    let mut cfg = Config::default();
    cfg.limits.send_stall_timeout = Some(Duration::from_secs(10));
    let mut t = server(cfg);
    t.send(frames::settings_ack()).unwrap();
    t.send(frames::settings().initial_window_size(initial_window))
        .unwrap();
    t.frames();
    t
}

/// Issue 15, zero-window stall: data that waits for a stream window the peer keeps at zero
/// is dropped after `send_stall_timeout` with RST_STREAM ENHANCE_YOUR_CALM and a
/// [`LimitExceeded::SendStall`] stream error; the connection and other streams carry on. A
/// WINDOW_UPDATE that lets data out starts the wait again.
#[test]
fn send_stall_resets_a_stream_whose_window_stays_closed() {
    let mut t = stall_server(0);
    t.send(get(1).end_stream()).unwrap();
    t.conn
        .send_response(sid(1), fields::status(200), false)
        .unwrap();
    t.conn
        .send_data(sid(1), Bytes::from(vec![1u8; 1_000]), true)
        .unwrap();
    assert_eq!(data_sent(&t.frames()), (0, false));
    let start = t.now();
    assert_eq!(t.conn.poll_timeout(), Some(start + Duration::from_secs(10)));
    t.take_events();

    // Stream 3 waits too, but gets 100 octets of window after 6 s.
    t.advance(Duration::from_secs(3));
    t.send(get(3).end_stream()).unwrap();
    t.conn
        .send_response(sid(3), fields::status(200), false)
        .unwrap();
    t.conn
        .send_data(sid(3), Bytes::from(vec![1u8; 1_000]), true)
        .unwrap();
    t.frames();
    t.advance(Duration::from_secs(3));
    t.send(frames::window_update(3, 100)).unwrap();
    assert_eq!(data_sent(&t.frames()), (100, false));

    t.advance(Duration::from_secs(3));
    assert!(t.frames().is_empty(), "nothing before the timeout");
    t.advance(Duration::from_secs(1));
    let out = t.frames();
    assert!(has_reset(&out, 1, ErrorCode::ENHANCE_YOUR_CALM), "{out:?}");
    assert!(!has_reset(&out, 3, ErrorCode::ENHANCE_YOUR_CALM), "{out:?}");
    let events = t.take_events();
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::StreamReset { stream, error }
                if *stream == sid(1)
                    && *error == h2kit::StreamError::Limit(LimitExceeded::SendStall)
        )),
        "{events:?}"
    );
    // Stream 3 waits 10 s from its last progress, at 6 s.
    assert_eq!(t.conn.poll_timeout(), Some(start + Duration::from_secs(16)));
    t.advance(Duration::from_secs(6));
    assert!(has_reset(&t.frames(), 3, ErrorCode::ENHANCE_YOUR_CALM));
    assert!(t.conn.error().is_none());
    assert_eq!(t.conn.debug_counts().streams, 0);
    t.send(frames::ping([5; 8])).unwrap();
    t.flush().expect_eventually(frames::ping([5; 8]).ack());
}

/// Issue 15: data that waits for the connection window (every stream window open) for
/// `send_stall_timeout` ends the connection with GOAWAY ENHANCE_YOUR_CALM; a connection
/// WINDOW_UPDATE starts the wait again.
#[test]
fn send_stall_closes_a_connection_whose_window_stays_closed() {
    let mut t = stall_server(1 << 20);
    t.send(get(1).end_stream()).unwrap();
    t.conn
        .send_response(sid(1), fields::status(200), false)
        .unwrap();
    t.conn
        .send_data(sid(1), Bytes::from(vec![1u8; 200_000]), true)
        .unwrap();
    assert_eq!(data_sent(&t.frames()), (65_535, false));
    t.advance(Duration::from_secs(8));
    t.send(frames::window_update(0, 1_000)).unwrap();
    assert_eq!(data_sent(&t.frames()), (1_000, false));
    t.advance(Duration::from_secs(8));
    assert!(
        t.conn.error().is_none(),
        "the update started the wait again"
    );
    t.advance(Duration::from_secs(2));
    assert_eq!(
        t.conn.error(),
        Some(&ConnectionError::Limit(LimitExceeded::SendStall))
    );
    t.flush().expect_goaway(ErrorCode::ENHANCE_YOUR_CALM);
}

/// With nothing queued, closed windows are no stall, and `None` turns the timeout off.
#[test]
fn send_stall_needs_queued_data_and_can_be_turned_off() {
    let mut t = stall_server(0);
    t.send(get(1)).unwrap();
    t.conn
        .send_response(sid(1), fields::status(200), false)
        .unwrap();
    t.frames();
    t.advance(Duration::from_secs(60));
    assert!(t.frames().is_empty());
    assert!(t.conn.error().is_none(), "{:?}", t.conn.error());

    let mut cfg = Config::default();
    cfg.limits.send_stall_timeout = None;
    let mut t = server(cfg);
    t.send(frames::settings_ack()).unwrap();
    t.send(frames::settings().initial_window_size(0)).unwrap();
    t.send(get(1).end_stream()).unwrap();
    t.conn
        .send_response(sid(1), fields::status(200), false)
        .unwrap();
    t.conn
        .send_data(sid(1), Bytes::from(vec![1u8; 1_000]), true)
        .unwrap();
    t.frames();
    // (Within the 5-minute idle timeout.)
    t.advance(Duration::from_secs(200));
    assert!(
        t.frames()
            .iter()
            .all(|f| !matches!(f.frame, Frame::RstStream(_)))
    );
    assert!(t.conn.error().is_none());
}

/// Issue 15: a server connection on which the peer opens no stream within
/// `first_request_timeout` of its start closes with GOAWAY NO_ERROR, whatever else (PINGs)
/// the peer sends; a request in time, or the client role, turns the timer off.
#[test]
fn first_request_timeout_closes_a_connection_without_requests() {
    let mut cfg = Config::default();
    cfg.limits.first_request_timeout = Some(Duration::from_secs(5));
    let mut t = server(cfg.clone());
    let start = t.now();
    t.send(frames::settings_ack()).unwrap();
    for i in 0..4 {
        t.advance(Duration::from_secs(1));
        t.send(frames::ping([i; 8])).unwrap();
    }
    t.frames();
    assert_eq!(t.conn.poll_timeout(), Some(start + Duration::from_secs(5)));
    t.advance(Duration::from_secs(1));
    assert_eq!(t.conn.error(), Some(&ConnectionError::FirstRequestTimeout));
    t.flush().expect_goaway(ErrorCode::NO_ERROR);

    // Before the preface is even complete.
    let mut t = Harness::server(cfg.clone());
    t.send_bytes(&h2kit::PREFACE[..10]).unwrap();
    t.advance(Duration::from_secs(5));
    assert_eq!(t.conn.error(), Some(&ConnectionError::FirstRequestTimeout));

    let mut t = server(cfg.clone());
    t.send(frames::settings_ack()).unwrap();
    t.send(get(1)).unwrap();
    t.advance(Duration::from_secs(60));
    assert!(t.conn.error().is_none());

    let mut t = Harness::client(cfg);
    t.advance(Duration::from_secs(60));
    assert!(
        !matches!(t.conn.error(), Some(ConnectionError::FirstRequestTimeout)),
        "{:?}",
        t.conn.error()
    );
}
