//! A scripted peer sends attacks and protocol violations; each test asserts the frame we
//! answer with, its code, and that memory stays bounded.

mod common;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::*;
use h2kit::{
    Config, ConnectionError, ErrorCode, Event, LimitExceeded, ProtocolViolation, StreamId,
};
use h2kit_frame::{Frame, PrioritySpec};

fn server(cfg: Config) -> Raw {
    let mut raw = Raw::new(h2kit::Connection::server(cfg));
    raw.handshake_as_client();
    raw.frames(); // our SETTINGS and WINDOW_UPDATE, the ACK
    raw
}

fn sid(n: u32) -> StreamId {
    StreamId::new(n)
}

#[test]
fn bad_preface_gets_goaway_protocol_error() {
    let mut raw = Raw::new(h2kit::Connection::server(Config::default()));
    let err = raw.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap_err();
    assert_eq!(
        err,
        ConnectionError::Violation(ProtocolViolation::BadPreface)
    );
    assert_eq!(goaway_code(&raw.frames()), Some(ErrorCode::PROTOCOL_ERROR));
    assert!(raw.conn.is_closed());
    // Split preface bytes are accepted one at a time.
    let mut raw = Raw::new(h2kit::Connection::server(Config::default()));
    for b in h2kit::PREFACE.iter() {
        raw.send(&[*b]).unwrap();
    }
    // ...but the first frame must be SETTINGS.
    let err = raw
        .send_with(|b, _| h2kit_frame::encode_ping(false, [0; 8], b))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn rapid_reset_is_answered_with_enhance_your_calm() {
    let mut cfg = Config::default();
    cfg.limits.resets = h2kit::limits::RateLimit::new(50, Duration::from_secs(10));
    let mut raw = server(cfg);
    let mut result = Ok(());
    let mut opened = 0;
    for i in 0..200u32 {
        let id = 2 * i + 1;
        result = raw.headers(id, &GET, false).and_then(|_| {
            raw.send_with(|b, _| {
                h2kit_frame::encode_rst_stream(sid(id), ErrorCode::CANCEL, b).unwrap()
            })
        });
        opened += 1;
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(ConnectionError::Limit(LimitExceeded::Resets)));
    assert_eq!(opened, 51);
    assert_eq!(
        goaway_code(&raw.frames()),
        Some(ErrorCode::ENHANCE_YOUR_CALM)
    );
}

#[test]
fn resets_of_our_own_streams_do_not_count_as_rapid_reset() {
    // A server refusing many of a client's requests (REFUSED_STREAM before its SETTINGS
    // arrived, say) is not an attack on the client.
    let mut cfg = Config::default();
    cfg.limits.resets = h2kit::limits::RateLimit::new(10, Duration::from_secs(10));
    let mut raw = Raw::new(h2kit::Connection::client(cfg));
    raw.frames();
    raw.handshake_as_server();
    raw.frames();
    for _ in 0..50 {
        let id = raw.conn.send_request(get("/"), true).unwrap();
        raw.frames();
        raw.send_with(|b, _| {
            h2kit_frame::encode_rst_stream(id, ErrorCode::REFUSED_STREAM, b).unwrap()
        })
        .unwrap();
    }
    assert!(!raw.conn.is_closed());
    assert_eq!(goaway_code(&raw.frames()), None);
    let refused = raw
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
    let mut raw = server(cfg);
    let mut result = Ok(());
    let mut frames = Vec::new();
    for i in 0..100u32 {
        let id = 2 * i + 1;
        result = raw
            .headers(id, &GET, false)
            .and_then(|_| raw.send(&[0, 0, 4, 0x8, 0, 0, 0, 0, id as u8, 0, 0, 0, 0]));
        frames.extend(raw.frames());
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(ConnectionError::Limit(LimitExceeded::Resets)));
    let resets = rst_codes(&frames);
    assert_eq!(resets.len(), 20);
    assert!(resets.iter().all(|(_, c)| *c == ErrorCode::PROTOCOL_ERROR));
    assert_eq!(goaway_code(&frames), Some(ErrorCode::ENHANCE_YOUR_CALM));
}

#[test]
fn continuation_flood_is_rejected_without_buffering() {
    // Frame-count cap.
    let mut raw = server(Config::default());
    let err = raw
        .send_with(|b, _| {
            h2kit_frame::encode_headers(sid(1), &[0x82], false, None, None, 16_384, b).unwrap();
            // Overwrite: HEADERS without END_HEADERS.
            b[4] &= !0x4;
            for _ in 0..40 {
                h2kit_frame::encode_continuation(sid(1), &[0x40; 10], false, b).unwrap();
            }
        })
        .unwrap_err();
    assert_eq!(
        err,
        ConnectionError::Limit(LimitExceeded::ContinuationFrames)
    );
    assert_eq!(
        goaway_code(&raw.frames()),
        Some(ErrorCode::ENHANCE_YOUR_CALM)
    );

    // Byte cap: detected at the frame that crosses it.
    let mut cfg = Config::default();
    cfg.limits.max_header_block_bytes = 20_000;
    cfg.limits.max_continuation_frames = 1_000;
    let mut raw = server(cfg);
    let mut buf = BytesMut::new();
    h2kit_frame::encode_headers(sid(1), &[0x82], false, None, None, 16_384, &mut buf).unwrap();
    buf[4] &= !0x4;
    raw.send(&buf).unwrap();
    let big = vec![0x40u8; 16_000];
    let mut buf = BytesMut::new();
    h2kit_frame::encode_continuation(sid(1), &big, false, &mut buf).unwrap();
    raw.send(&buf).unwrap();
    let mut buf = BytesMut::new();
    h2kit_frame::encode_continuation(sid(1), &big, false, &mut buf).unwrap();
    assert_eq!(
        raw.send(&buf),
        Err(ConnectionError::Limit(LimitExceeded::HeaderBlockSize))
    );
}

#[test]
fn ping_flood_and_settings_flood() {
    let mut cfg = Config::default();
    cfg.limits.pings = h2kit::limits::RateLimit::new(10, Duration::from_secs(10));
    let mut raw = server(cfg);
    let mut result = Ok(());
    for i in 0..50u8 {
        result = raw.send_with(|b, _| h2kit_frame::encode_ping(false, [i; 8], b));
        // Read our replies as we go, so the reply queue is not what trips.
        raw.frames();
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
    let mut raw = server(cfg);
    let mut n = 1; // the handshake's SETTINGS counted
    let err = loop {
        match raw.send_with(|b, _| {
            h2kit_frame::encode_settings(&h2kit_frame::Settings::new(), b).unwrap()
        }) {
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
    let mut raw = server(cfg);
    let mut result = Ok(());
    let mut sent = 0;
    for i in 0..100u8 {
        result = raw.send_with(|b, _| h2kit_frame::encode_ping(false, [i; 8], b));
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
    let frames = raw.frames();
    assert_eq!(goaway_code(&frames), Some(ErrorCode::ENHANCE_YOUR_CALM));
    // Replies were dropped, not kept: only the GOAWAY went out.
    assert_eq!(frames.len(), 1);
}

#[test]
fn empty_data_window_update_and_priority_floods() {
    let mut cfg = Config::default();
    cfg.limits.empty_data = h2kit::limits::RateLimit::new(10, Duration::from_secs(10));
    let mut raw = server(cfg);
    raw.headers(1, &GET, false).unwrap();
    let err = (0..50)
        .find_map(|_| {
            raw.send_with(|b, _| h2kit_frame::encode_data(sid(1), b"", false, None, b).unwrap())
                .err()
        })
        .unwrap();
    assert_eq!(err, ConnectionError::Limit(LimitExceeded::EmptyDataFlood));

    let mut cfg = Config::default();
    cfg.limits.window_updates = h2kit::limits::RateLimit::new(10, Duration::from_secs(10));
    let mut raw = server(cfg);
    let err = (0..50)
        .find_map(|_| {
            raw.send_with(|b, _| h2kit_frame::encode_window_update(sid(0), 1, b).unwrap())
                .err()
        })
        .unwrap();
    assert_eq!(
        err,
        ConnectionError::Limit(LimitExceeded::WindowUpdateFlood)
    );

    let mut cfg = Config::default();
    cfg.limits.priority = h2kit::limits::RateLimit::new(10, Duration::from_secs(10));
    let mut raw = server(cfg);
    let err = (0..50u32)
        .find_map(|i| {
            raw.send_with(|b, _| {
                h2kit_frame::encode_priority(sid(2 * i + 1), PrioritySpec::DEFAULT, b).unwrap()
            })
            .err()
        })
        .unwrap();
    assert_eq!(err, ConnectionError::Limit(LimitExceeded::PriorityFlood));
}

#[test]
fn concurrency_overflow_is_refused_stream_not_connection_error() {
    let mut cfg = Config::default();
    cfg.settings.max_concurrent_streams = 2;
    let mut raw = server(cfg);
    for id in [1, 3, 5] {
        raw.headers(id, &GET, false).unwrap();
    }
    let frames = raw.frames();
    assert_eq!(
        rst_codes(&frames),
        vec![(sid(5), ErrorCode::REFUSED_STREAM)]
    );
    let requests = raw
        .events
        .iter()
        .filter(|e| matches!(e, Event::Request { .. }))
        .count();
    assert_eq!(requests, 2);
    // HPACK stayed in step: the next request on a freed slot decodes.
    raw.send_with(|b, _| h2kit_frame::encode_rst_stream(sid(1), ErrorCode::CANCEL, b).unwrap())
        .unwrap();
    raw.headers(7, &GET, true).unwrap();
    assert!(
        raw.events
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
    let mut raw = Raw::new(h2kit::Connection::server(cfg));
    let mut buf = BytesMut::new();
    buf.extend_from_slice(h2kit::PREFACE);
    h2kit_frame::encode_settings(&h2kit_frame::Settings::new(), &mut buf).unwrap();
    raw.conn.recv(raw.now, &buf).unwrap();
    // Requests arrive and are cancelled, but the application takes no events.
    for id in [1u32, 3, 5, 7, 9] {
        let block = raw.block(&GET);
        let mut b = BytesMut::new();
        h2kit_frame::encode_headers(sid(id), &block, true, None, None, 16_384, &mut b).unwrap();
        h2kit_frame::encode_rst_stream(sid(id), ErrorCode::CANCEL, &mut b).unwrap();
        raw.conn.recv(raw.now, &b).unwrap();
    }
    let frames = raw.frames();
    assert_eq!(
        rst_codes(&frames),
        vec![
            (sid(7), ErrorCode::REFUSED_STREAM),
            (sid(9), ErrorCode::REFUSED_STREAM)
        ]
    );
}

#[test]
fn raising_max_concurrent_streams_alone_accepts_that_many_at_once() {
    // 200 requests in one read, before the application takes any event: with our
    // SETTINGS_MAX_CONCURRENT_STREAMS at 256, none may be refused by the pending-accept cap.
    let mut cfg = Config::default();
    cfg.settings.max_concurrent_streams = 256;
    let mut raw = server(cfg);
    let mut b = BytesMut::new();
    for i in 0..200u32 {
        let block = raw.block(&GET);
        h2kit_frame::encode_headers(sid(2 * i + 1), &block, true, None, None, 16_384, &mut b)
            .unwrap();
    }
    raw.conn.recv(raw.now, &b).unwrap();
    assert_eq!(rst_codes(&raw.frames()), vec![]);
    let requests = std::iter::from_fn(|| raw.conn.poll_event())
        .filter(|e| matches!(e, Event::Request { .. }))
        .count();
    assert_eq!(requests, 200);
}

#[test]
fn header_list_too_large_resets_the_stream_and_keeps_hpack_in_step() {
    let mut cfg = Config::default();
    cfg.settings.max_header_list_size = 200;
    let mut raw = server(cfg);
    let long = "x".repeat(300);
    let mut fields = GET.to_vec();
    fields.push(("x-big", &long));
    raw.headers(1, &fields, true).unwrap();
    raw.headers(3, &GET, true).unwrap();
    let frames = raw.frames();
    assert_eq!(
        rst_codes(&frames),
        vec![(sid(1), ErrorCode::ENHANCE_YOUR_CALM)]
    );
    assert!(
        raw.events
            .iter()
            .any(|e| matches!(e, Event::Request { stream, .. } if *stream == sid(3)))
    );
}

#[test]
fn malformed_request_is_a_stream_error_and_hpack_stays_in_step() {
    let mut raw = server(Config::default());
    let mut bad = GET.to_vec();
    bad.push(("connection", "keep-alive"));
    raw.headers(1, &bad, true).unwrap();
    raw.headers(3, &[(":method", "GET"), (":path", "/")], true)
        .unwrap(); // no :scheme
    raw.headers(5, &GET, true).unwrap();
    let frames = raw.frames();
    assert_eq!(
        rst_codes(&frames),
        vec![
            (sid(1), ErrorCode::PROTOCOL_ERROR),
            (sid(3), ErrorCode::PROTOCOL_ERROR)
        ]
    );
    assert!(raw.conn.error().is_none());
    assert!(
        raw.events
            .iter()
            .any(|e| matches!(e, Event::Request { stream, .. } if *stream == sid(5)))
    );
}

#[test]
fn content_length_must_agree_with_data() {
    let mut raw = server(Config::default());
    let mut fields = GET.to_vec();
    fields[0] = (":method", "POST");
    fields.push(("content-length", "3"));
    raw.headers(1, &fields, false).unwrap();
    raw.send_with(|b, _| h2kit_frame::encode_data(sid(1), b"abcd", true, None, b).unwrap())
        .unwrap();
    raw.headers(3, &fields, false).unwrap();
    raw.send_with(|b, _| h2kit_frame::encode_data(sid(3), b"ab", true, None, b).unwrap())
        .unwrap();
    raw.headers(5, &fields, false).unwrap();
    raw.send_with(|b, _| h2kit_frame::encode_data(sid(5), b"abc", true, Some(10), b).unwrap())
        .unwrap();
    let frames = raw.frames();
    assert_eq!(
        rst_codes(&frames),
        vec![
            (sid(1), ErrorCode::PROTOCOL_ERROR),
            (sid(3), ErrorCode::PROTOCOL_ERROR)
        ]
    );
    let data = raw.events.iter().find_map(|e| match e {
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
    let mut raw = server(Config::default());
    let err = raw
        .send_with(|b, _| h2kit_frame::encode_data(sid(1), b"x", false, None, b).unwrap())
        .unwrap_err();
    assert_eq!(
        err,
        ConnectionError::Violation(ProtocolViolation::FrameOnIdleStream)
    );
    assert_eq!(goaway_code(&raw.frames()), Some(ErrorCode::PROTOCOL_ERROR));

    let mut raw = server(Config::default());
    let err = raw.headers(2, &GET, true).unwrap_err();
    assert_eq!(
        err,
        ConnectionError::Violation(ProtocolViolation::InvalidStreamId)
    );
}

#[test]
fn data_after_end_stream_is_stream_closed() {
    let mut raw = server(Config::default());
    raw.headers(1, &GET, true).unwrap();
    raw.send_with(|b, _| h2kit_frame::encode_data(sid(1), b"x", false, None, b).unwrap())
        .unwrap();
    assert_eq!(
        rst_codes(&raw.frames()),
        vec![(sid(1), ErrorCode::STREAM_CLOSED)]
    );
    assert!(raw.conn.error().is_none());
}

#[test]
fn window_overflow_has_the_right_scope() {
    let mut raw = server(Config::default());
    raw.headers(1, &GET, false).unwrap();
    raw.send_with(|b, _| h2kit_frame::encode_window_update(sid(1), 0x7fff_ffff, b).unwrap())
        .unwrap();
    assert_eq!(
        rst_codes(&raw.frames()),
        vec![(sid(1), ErrorCode::FLOW_CONTROL_ERROR)]
    );
    assert!(raw.conn.error().is_none());
    let err = raw
        .send_with(|b, _| h2kit_frame::encode_window_update(sid(0), 0x7fff_ffff, b).unwrap())
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::FLOW_CONTROL_ERROR);
    assert_eq!(
        goaway_code(&raw.frames()),
        Some(ErrorCode::FLOW_CONTROL_ERROR)
    );
}

#[test]
fn data_beyond_the_window_is_a_flow_control_error() {
    let cfg = Config {
        connection_window_size: 65_535,
        ..Config::default()
    };
    let mut raw = server(cfg);
    raw.headers(1, &GET, false).unwrap();
    let chunk = vec![0u8; 16_384];
    for _ in 0..3 {
        raw.send_with(|b, _| h2kit_frame::encode_data(sid(1), &chunk, false, None, b).unwrap())
            .unwrap();
    }
    // 49,152 used; 16,384 more exceeds 65,535 (connection and stream).
    let err = raw
        .send_with(|b, _| h2kit_frame::encode_data(sid(1), &chunk, false, None, b).unwrap())
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::FLOW_CONTROL_ERROR);
}

#[test]
fn push_promise_when_disabled_is_a_connection_error() {
    let mut raw = Raw::new(h2kit::Connection::client(Config::default()));
    let id = raw.conn.send_request(get("/"), true).unwrap();
    raw.frames();
    raw.handshake_as_server();
    let block = raw.block(&GET);
    let err = raw
        .send_with(|b, _| {
            h2kit_frame::encode_push_promise(id, sid(2), &block, None, 16_384, b).unwrap()
        })
        .unwrap_err();
    assert_eq!(
        err,
        ConnectionError::Violation(ProtocolViolation::PushNotAllowed)
    );
    assert_eq!(goaway_code(&raw.frames()), Some(ErrorCode::PROTOCOL_ERROR));
}

#[test]
fn closed_stream_memory_stays_bounded() {
    let mut cfg = Config::default();
    cfg.limits.max_closed_streams = 8;
    cfg.limits.resets = h2kit::limits::RateLimit::new(100_000, Duration::from_secs(1));
    let mut raw = server(cfg);
    for i in 0..500u32 {
        let id = 2 * i + 1;
        raw.headers(id, &GET, true).unwrap();
        raw.send_with(|b, _| {
            h2kit_frame::encode_rst_stream(sid(id), ErrorCode::CANCEL, b).unwrap()
        })
        .unwrap();
        if i % 50 == 0 {
            raw.events.clear();
            raw.frames();
        }
    }
    assert!(raw.conn.stream(sid(999)).is_none());
    assert_eq!(raw.conn.open_inbound_streams(), 0);
    let dbg = format!("{:?}", raw.conn);
    assert!(dbg.contains("streams: 0"), "{dbg}");
}

#[test]
fn settings_ack_timeout_closes_the_connection() {
    let mut raw = Raw::new(h2kit::Connection::client(Config::default()));
    raw.frames(); // our SETTINGS go out at `now`
    raw.handshake_as_server();
    let deadline = raw.conn.poll_timeout().expect("a SETTINGS ack deadline");
    assert_eq!(deadline, raw.now + Duration::from_secs(10));
    raw.conn.handle_timeout(deadline);
    assert_eq!(raw.conn.error(), Some(&ConnectionError::SettingsTimeout));
    assert_eq!(
        goaway_code(&raw.frames()),
        Some(ErrorCode::SETTINGS_TIMEOUT)
    );
}

#[test]
fn idle_timeout_and_keep_alive() {
    let mut cfg = Config::default();
    cfg.limits.idle_timeout = Some(Duration::from_secs(30));
    let mut raw = server(cfg);
    raw.send_with(|b, _| h2kit_frame::encode_settings_ack(b))
        .unwrap();
    let t = raw.conn.poll_timeout().unwrap();
    assert_eq!(t, raw.now + Duration::from_secs(30));
    raw.conn.handle_timeout(t);
    assert_eq!(raw.conn.error(), Some(&ConnectionError::IdleTimeout));
    assert_eq!(goaway_code(&raw.frames()), Some(ErrorCode::NO_ERROR));

    let mut cfg = Config::default();
    cfg.limits.idle_timeout = None;
    cfg.limits.keep_alive_interval = Some(Duration::from_secs(5));
    let mut raw = server(cfg);
    raw.send_with(|b, _| h2kit_frame::encode_settings_ack(b))
        .unwrap();
    let t = raw.conn.poll_timeout().unwrap();
    raw.now = t;
    raw.conn.handle_timeout(t);
    let ping = raw
        .frames()
        .into_iter()
        .find_map(|f| match f {
            Frame::Ping(p) if !p.ack => Some(p.payload),
            _ => None,
        })
        .expect("keep-alive PING");
    // No answer within the keep-alive timeout: the connection is dead.
    let t = raw.conn.poll_timeout().unwrap();
    assert_eq!(t, raw.now + Duration::from_secs(20));
    let _ = ping;
    raw.conn.handle_timeout(t);
    assert_eq!(raw.conn.error(), Some(&ConnectionError::IdleTimeout));
}

#[test]
fn late_frames_after_goaway_are_ignored_and_ping_still_answered() {
    let mut raw = server(Config::default());
    raw.headers(1, &GET, true).unwrap();
    raw.conn.graceful_shutdown().unwrap();
    let frames = raw.frames();
    let ping = frames
        .iter()
        .find_map(|f| match f {
            Frame::Ping(p) if !p.ack => Some(p.payload),
            _ => None,
        })
        .unwrap();
    // A stream opened before the peer saw our GOAWAY, then the PING ack.
    raw.headers(3, &GET, true).unwrap();
    raw.send_with(|b, _| h2kit_frame::encode_ping(true, ping, b))
        .unwrap();
    // After the final GOAWAY (last id 3), a new stream is ignored, PING still answered.
    raw.headers(5, &GET, true).unwrap();
    raw.send_with(|b, _| h2kit_frame::encode_ping(false, [9; 8], b))
        .unwrap();
    let frames = raw.frames();
    let last_ids: Vec<u32> = frames
        .iter()
        .filter_map(|f| match f {
            Frame::GoAway(g) => Some(g.last_stream_id.get()),
            _ => None,
        })
        .collect();
    assert_eq!(last_ids, vec![3]);
    assert!(
        frames
            .iter()
            .any(|f| matches!(f, Frame::Ping(p) if p.ack && p.payload == [9; 8]))
    );
    let requests: Vec<StreamId> = raw
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Request { stream, .. } => Some(*stream),
            _ => None,
        })
        .collect();
    assert_eq!(requests, vec![sid(1), sid(3)]);
    assert!(raw.conn.error().is_none());
}

#[test]
fn priority_update_from_a_server_is_a_connection_error_naming_rfc_9218() {
    let mut raw = Raw::new(h2kit::Connection::client(Config::default()));
    raw.handshake_as_server();
    raw.frames();
    let err = raw
        .send_with(|b, _| {
            h2kit_frame::encode_priority_update(sid(1), b"u=1", b).unwrap();
        })
        .unwrap_err();
    assert_eq!(
        err,
        ConnectionError::Violation(ProtocolViolation::PriorityUpdateFromServer)
    );
    assert!(err.to_string().contains("RFC 9218"), "{err}");
    assert_eq!(goaway_code(&raw.frames()), Some(ErrorCode::PROTOCOL_ERROR));
}

/// The data frames in `frames`: total payload octets, and whether one ended the stream.
fn data_sent(frames: &[Frame]) -> (usize, bool) {
    frames.iter().fold((0, false), |(n, end), f| match f {
        Frame::Data(d) => (n + d.data.len(), end || d.end_stream),
        _ => (n, end),
    })
}

/// Issue 12, bad input: a client that shrinks SETTINGS_INITIAL_WINDOW_SIZE mid-transfer
/// drives our stream send window negative (RFC 9113 §6.9.2); nothing is sent until its
/// WINDOW_UPDATEs bring the window above zero, then exactly what they allow.
#[test]
fn a_window_shrunk_mid_transfer_goes_negative_and_recovers_exactly() {
    let mut raw = server(Config::default());
    raw.headers(1, &GET, true).unwrap();
    raw.conn
        .send_response(sid(1), status("200"), false)
        .unwrap();
    raw.conn
        .send_data(sid(1), Bytes::from(vec![1u8; 100_000]), true)
        .unwrap();
    assert_eq!(data_sent(&raw.frames()), (65_535, false));
    let settings = |v: u32| {
        let mut s = h2kit_frame::Settings::new();
        s.push(h2kit_frame::SettingId::INITIAL_WINDOW_SIZE, v);
        s
    };
    let update = |raw: &mut Raw, stream: u32, inc: u32| {
        raw.send_with(|b, _| h2kit_frame::encode_window_update(sid(stream), inc, b).unwrap())
            .unwrap();
    };
    // 65,535 in flight; the initial window drops to 16,384: the stream window is -49,151.
    let s = settings(16_384);
    raw.send_with(|b, _| h2kit_frame::encode_settings(&s, b).unwrap())
        .unwrap();
    update(&mut raw, 0, 1 << 20);
    assert_eq!(data_sent(&raw.frames()), (0, false));
    assert_eq!(raw.conn.send_capacity(sid(1)), 0);
    update(&mut raw, 1, 49_151);
    assert_eq!(
        data_sent(&raw.frames()),
        (0, false),
        "the window is back at 0"
    );
    update(&mut raw, 1, 10_000);
    assert_eq!(data_sent(&raw.frames()), (10_000, false));
    // Raising the setting again credits the difference: the rest goes out.
    let s = settings(65_535);
    raw.send_with(|b, _| h2kit_frame::encode_settings(&s, b).unwrap())
        .unwrap();
    assert_eq!(data_sent(&raw.frames()), (100_000 - 75_535, true));
    assert!(raw.conn.error().is_none());
}

/// Issue 12, bad input: a peer that never sends WINDOW_UPDATE gets one window of data and
/// then nothing: no busy loop, no frame beyond the window, and the connection stays usable.
#[test]
fn a_peer_that_never_opens_its_window_gets_one_window() {
    let mut raw = server(Config::default());
    raw.send_with(|b, _| h2kit_frame::encode_settings_ack(b))
        .unwrap();
    raw.headers(1, &GET, true).unwrap();
    raw.conn
        .send_response(sid(1), status("200"), false)
        .unwrap();
    raw.conn
        .send_data(sid(1), Bytes::from(vec![1u8; 200_000]), true)
        .unwrap();
    assert_eq!(data_sent(&raw.frames()), (65_535, false));
    for _ in 0..100 {
        raw.now += Duration::from_secs(1);
        raw.conn.handle_timeout(raw.now);
        assert_eq!(data_sent(&raw.frames()), (0, false));
    }
    raw.send_with(|b, _| h2kit_frame::encode_ping(false, [3; 8], b))
        .unwrap();
    assert!(
        raw.frames()
            .iter()
            .any(|f| matches!(f, Frame::Ping(p) if p.ack && p.payload == [3; 8]))
    );
}

/// Issue 12, bad input: a server that floods PINGs, acknowledges PINGs it guesses, and sends
/// a steady stream of DATA cannot make the client's window estimator send more than one PING
/// per 100 ms (its floor above this short round trip); the client still answers every PING.
#[test]
fn a_ping_flood_cannot_speed_up_the_estimator() {
    let mut raw = Raw::new(h2kit::Connection::client(Config::default()));
    let id = raw.conn.send_request(get("/"), true).unwrap();
    raw.frames();
    raw.handshake_as_server();
    let block = raw.block(&[(":status", "200")]);
    raw.send_with(|b, _| {
        h2kit_frame::encode_headers(id, &block, false, None, None, 16_384, b).unwrap()
    })
    .unwrap();
    let chunk = vec![0u8; 4_000];
    let (mut ours, mut acks) = (0, 0);
    let seconds = 10;
    for ms in 0..seconds * 1_000u64 {
        raw.now += Duration::from_millis(1);
        raw.send_with(|b, _| {
            h2kit_frame::encode_data(id, &chunk, false, None, b).unwrap();
            for i in 0..10u64 {
                h2kit_frame::encode_ping(false, (ms * 10 + i).to_be_bytes(), b);
                // Guessed payloads of the client's own PINGs (a counter, at most one per
                // 100 ms if the estimator keeps its bound), acknowledged at once.
                let guess = 0x6832_6b69_0000_0000 | (ms / 100 + i);
                h2kit_frame::encode_ping(true, guess.to_be_bytes(), b);
            }
        })
        .unwrap();
        for e in raw.events.drain(..) {
            if let Event::Data {
                stream,
                flow_controlled_len,
                ..
            } = e
            {
                raw.conn.release_capacity(stream, flow_controlled_len);
            }
        }
        for f in raw.frames() {
            if let Frame::Ping(p) = f {
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
    assert!(raw.conn.error().is_none());
}
