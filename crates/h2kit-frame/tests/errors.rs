//! One test per `FrameError` variant: the bad frame on the wire, the variant, its scope and
//! code, and that the decoder consumed the frame (the PING after it decodes next).

use bytes::{Bytes, BytesMut};
use h2kit_frame::fuzzing::{Outcome, decode_in_pieces};
use h2kit_frame::*;

const PING: Frame = Frame::Ping(Ping {
    ack: false,
    payload: *b"pingpong",
});

fn sid(n: u32) -> StreamId {
    StreamId::new(n)
}

fn raw(ft: FrameType, flags: u8, stream: u32, payload: &[u8]) -> BytesMut {
    let mut wire = BytesMut::new();
    encode_raw(ft, Flags(flags), sid(stream), payload, &mut wire).unwrap();
    wire
}

/// Decodes `wire` followed by a PING, whole and byte by byte, and returns the outcomes after
/// checking that the PING came out last (the bad frame was consumed).
fn decode_then_ping(mut wire: BytesMut) -> Vec<Outcome> {
    PING.encode(&mut wire).unwrap();
    let whole = decode_in_pieces(&wire, DEFAULT_MAX_FRAME_SIZE, |_| usize::MAX);
    assert_eq!(
        decode_in_pieces(&wire, DEFAULT_MAX_FRAME_SIZE, |_| 1),
        whole
    );
    assert_eq!(
        whole.last(),
        Some(&Ok(PING)),
        "decoding continues after the error: {whole:?}"
    );
    whole
}

/// The single error a bad frame produces, checked for scope and code.
fn expect_error(wire: BytesMut, scope: ErrorScope, code: ErrorCode) -> FrameError {
    let out = decode_then_ping(wire);
    assert_eq!(out.len(), 2, "{out:?}");
    let err = out[0].clone().unwrap_err();
    assert_eq!(err.scope(), scope, "{err:?}");
    assert_eq!(err.code(), code, "{err:?}");
    assert!(
        err.to_string().contains("RFC"),
        "message names its section: {err}"
    );
    err
}

fn conn(wire: BytesMut, code: ErrorCode) -> FrameError {
    expect_error(wire, ErrorScope::Connection, code)
}

fn stream(wire: BytesMut, id: u32, code: ErrorCode) -> FrameError {
    expect_error(wire, ErrorScope::Stream(sid(id)), code)
}

fn ok(wire: BytesMut) -> Frame {
    let out = decode_then_ping(wire);
    assert_eq!(out.len(), 2, "{out:?}");
    out[0].clone().unwrap()
}

const FSE: ErrorCode = ErrorCode::FRAME_SIZE_ERROR;
const PE: ErrorCode = ErrorCode::PROTOCOL_ERROR;

#[test]
fn frame_too_large_is_caught_from_the_header_alone() {
    let mut d = FrameDecoder::new();
    // Only the 9-octet header of a 16385-octet DATA frame has arrived.
    let mut buf = BytesMut::from(&[0, 0x40, 0x01, 0, 0, 0, 0, 0, 1][..]);
    let err = d.decode(&mut buf).unwrap_err();
    let FrameError::FrameTooLarge {
        header,
        max_frame_size,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((header.length, *max_frame_size), (16385, 16384));
    assert_eq!(err.scope(), ErrorScope::Stream(sid(1)));
    assert_eq!(err.code(), FSE);
    assert_eq!(err.flow_controlled_len(), 16385);
    assert!(buf.is_empty() && d.is_skipping());
    // The payload is skipped as it arrives, never buffered, then decoding continues.
    for _ in 0..16 {
        buf.extend_from_slice(&[0; 1024]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        assert!(buf.is_empty());
    }
    buf.extend_from_slice(&[0]);
    PING.encode(&mut buf).unwrap();
    assert_eq!(d.decode(&mut buf), Ok(Some(PING)));
}

#[test]
fn frame_too_large_scope_follows_rfc9113_section_4_2() {
    let big = vec![0u8; 16385];
    for (ft, stream, scope) in [
        (FrameType::DATA, 1, ErrorScope::Stream(sid(1))),
        (FrameType::PRIORITY, 3, ErrorScope::Stream(sid(3))),
        (FrameType::HEADERS, 1, ErrorScope::Connection),
        (FrameType::PUSH_PROMISE, 1, ErrorScope::Connection),
        (FrameType::SETTINGS, 0, ErrorScope::Connection),
        (FrameType::RST_STREAM, 1, ErrorScope::Connection),
        (FrameType::WINDOW_UPDATE, 1, ErrorScope::Connection),
        (FrameType::DATA, 0, ErrorScope::Connection),
        (FrameType(0xee), 1, ErrorScope::Connection),
    ] {
        let err = expect_error(raw(ft, 0, stream, &big), scope, FSE);
        assert!(matches!(err, FrameError::FrameTooLarge { .. }));
        let flow = if ft == FrameType::DATA { 16385 } else { 0 };
        assert_eq!(err.flow_controlled_len(), flow);
    }
    // CONTINUATION (checked through decode_raw: decode reports the sequencing error first).
    let mut wire = raw(FrameType::CONTINUATION, 0, 1, &big);
    let err = FrameDecoder::new().decode_raw(&mut wire).unwrap_err();
    assert_eq!((err.scope(), err.code()), (ErrorScope::Connection, FSE));
    // A raised limit accepts it.
    let wire = raw(FrameType::DATA, 0, 1, &big);
    let out = decode_in_pieces(&wire, 16385, |_| usize::MAX);
    assert!(matches!(&out[..], [Ok(Frame::Data(_))]));
}

#[test]
fn stream_id_required() {
    for ft in [
        FrameType::DATA,
        FrameType::HEADERS,
        FrameType::PRIORITY,
        FrameType::RST_STREAM,
        FrameType::PUSH_PROMISE,
    ] {
        let payload: &[u8] = match ft {
            FrameType::PRIORITY => &[0, 0, 0, 1, 0],
            FrameType::RST_STREAM | FrameType::PUSH_PROMISE => &[0, 0, 0, 2],
            _ => b"",
        };
        let err = conn(raw(ft, 0x4, 0, payload), PE);
        assert_eq!(err, FrameError::StreamIdRequired { frame_type: ft });
    }
    // CONTINUATION on stream 0: the stateless parser says so (the decoder reports the
    // sequencing error first).
    let header = FrameHeader::new(
        FrameType::CONTINUATION,
        Flags::END_HEADERS,
        StreamId::ZERO,
        0,
    );
    let err = Frame::parse(header, Bytes::new()).unwrap_err();
    assert_eq!(
        err,
        FrameError::StreamIdRequired {
            frame_type: FrameType::CONTINUATION
        }
    );
    assert_eq!((err.scope(), err.code()), (ErrorScope::Connection, PE));
}

#[test]
fn stream_id_forbidden() {
    for (ft, payload) in [
        (FrameType::SETTINGS, &[][..]),
        (FrameType::PING, &[0; 8][..]),
        (FrameType::GOAWAY, &[0; 8][..]),
        (FrameType::PRIORITY_UPDATE, &[0, 0, 0, 1][..]),
    ] {
        let err = conn(raw(ft, 0, 5, payload), PE);
        assert_eq!(
            err,
            FrameError::StreamIdForbidden {
                frame_type: ft,
                stream_id: sid(5)
            }
        );
    }
}

#[test]
fn data_pad_length_missing_is_a_stream_error() {
    let err = stream(raw(FrameType::DATA, 0x8, 1, b""), 1, FSE);
    assert_eq!(err, FrameError::DataPadLengthMissing { stream_id: sid(1) });
    assert_eq!(err.flow_controlled_len(), 0);
}

#[test]
fn headers_too_short_for_its_flags() {
    // PRIORITY flag, 4 octets.
    let err = conn(raw(FrameType::HEADERS, 0x24, 1, &[0, 0, 0, 3]), FSE);
    assert_eq!(
        err,
        FrameError::HeadersTooShort {
            stream_id: sid(1),
            length: 4
        }
    );
    // PADDED flag, empty.
    let err = conn(raw(FrameType::HEADERS, 0x0c, 1, b""), FSE);
    assert_eq!(
        err,
        FrameError::HeadersTooShort {
            stream_id: sid(1),
            length: 0
        }
    );
    // PADDED + PRIORITY, 5 octets (needs 6).
    let err = conn(raw(FrameType::HEADERS, 0x2c, 1, &[0, 0, 0, 0, 3]), FSE);
    assert_eq!(
        err,
        FrameError::HeadersTooShort {
            stream_id: sid(1),
            length: 5
        }
    );
}

#[test]
fn push_promise_too_short() {
    let err = conn(raw(FrameType::PUSH_PROMISE, 0x4, 1, &[0, 0, 2]), FSE);
    assert_eq!(
        err,
        FrameError::PushPromiseTooShort {
            stream_id: sid(1),
            length: 3
        }
    );
    let err = conn(raw(FrameType::PUSH_PROMISE, 0xc, 1, &[0, 0, 0, 2]), FSE);
    assert_eq!(
        err,
        FrameError::PushPromiseTooShort {
            stream_id: sid(1),
            length: 4
        }
    );
}

#[test]
fn padding_too_long() {
    // DATA: payload of 3, Pad Length 3 (> 2 left after the Pad Length octet).
    let err = conn(raw(FrameType::DATA, 0x8, 1, &[3, 0, 0]), PE);
    assert_eq!(
        err,
        FrameError::PaddingTooLong {
            frame_type: FrameType::DATA,
            stream_id: sid(1),
            pad_len: 3,
            length: 3
        }
    );
    assert_eq!(err.flow_controlled_len(), 3);
    // The boundary: Pad Length 2 leaves empty data, which is fine.
    let Frame::Data(d) = ok(raw(FrameType::DATA, 0x8, 1, &[2, 0, 0])) else {
        panic!()
    };
    assert_eq!(
        (d.data.len(), d.pad_len, d.flow_controlled_len()),
        (0, Some(2), 3)
    );
    // HEADERS: the padding may not eat into the priority fields.
    let err = conn(raw(FrameType::HEADERS, 0x2c, 1, &[1, 0, 0, 0, 3, 9]), PE);
    assert!(matches!(
        err,
        FrameError::PaddingTooLong {
            frame_type: FrameType::HEADERS,
            pad_len: 1,
            ..
        }
    ));
    // PUSH_PROMISE: nor into the promised stream id.
    let err = conn(raw(FrameType::PUSH_PROMISE, 0xc, 1, &[1, 0, 0, 0, 2]), PE);
    assert!(matches!(
        err,
        FrameError::PaddingTooLong {
            frame_type: FrameType::PUSH_PROMISE,
            ..
        }
    ));
}

#[test]
fn priority_length_is_a_stream_error() {
    for len in [4, 6] {
        let err = stream(raw(FrameType::PRIORITY, 0, 3, &vec![0; len]), 3, FSE);
        assert_eq!(
            err,
            FrameError::PriorityLength {
                stream_id: sid(3),
                length: len as u32
            }
        );
    }
}

#[test]
fn priority_self_dependency_is_a_stream_error() {
    let err = stream(raw(FrameType::PRIORITY, 0, 3, &[0x80, 0, 0, 3, 16]), 3, PE);
    assert_eq!(
        err,
        FrameError::PrioritySelfDependency { stream_id: sid(3) }
    );
}

#[test]
fn headers_self_dependency_keeps_the_block_and_its_continuations() {
    let mut wire = raw(FrameType::HEADERS, 0x20, 5, &[0, 0, 0, 5, 16, 0x82, 0x84]);
    encode_continuation(sid(5), &[0x86], true, &mut wire).unwrap();
    let out = decode_then_ping(wire);
    let err = out[0].clone().unwrap_err();
    assert_eq!((err.scope(), err.code()), (ErrorScope::Stream(sid(5)), PE));
    let FrameError::HeadersSelfDependency { headers } = err else {
        panic!()
    };
    assert_eq!(&headers.fragment[..], &[0x82, 0x84]);
    assert!(!headers.end_headers);
    // The CONTINUATION is accepted: the field block is still open for HPACK's sake.
    assert!(matches!(&out[1], Ok(Frame::Continuation(c)) if c.end_headers));
}

#[test]
fn rst_stream_length() {
    for len in [3, 5] {
        let err = conn(raw(FrameType::RST_STREAM, 0, 1, &vec![0; len]), FSE);
        assert_eq!(
            err,
            FrameError::RstStreamLength {
                stream_id: sid(1),
                length: len as u32
            }
        );
    }
}

#[test]
fn settings_length_not_a_multiple_of_six() {
    let err = conn(raw(FrameType::SETTINGS, 0, 0, &[0, 1, 0, 0, 0]), FSE);
    assert_eq!(err, FrameError::SettingsLength { length: 5 });
}

#[test]
fn settings_ack_with_payload() {
    let err = conn(raw(FrameType::SETTINGS, 0x1, 0, &[0, 1, 0, 0, 0, 0]), FSE);
    assert_eq!(err, FrameError::SettingsAckWithPayload { length: 6 });
}

fn setting(id: SettingId, value: u32) -> BytesMut {
    let mut p = Vec::new();
    p.extend_from_slice(&id.0.to_be_bytes());
    p.extend_from_slice(&value.to_be_bytes());
    raw(FrameType::SETTINGS, 0, 0, &p)
}

#[test]
fn invalid_enable_push() {
    assert_eq!(
        conn(setting(SettingId::ENABLE_PUSH, 2), PE),
        FrameError::InvalidEnablePush { value: 2 }
    );
    assert!(
        matches!(ok(setting(SettingId::ENABLE_PUSH, 1)), Frame::Settings(s) if s.enable_push() == Some(true))
    );
}

#[test]
fn invalid_initial_window_size_is_a_flow_control_error() {
    let err = conn(
        setting(SettingId::INITIAL_WINDOW_SIZE, 1 << 31),
        ErrorCode::FLOW_CONTROL_ERROR,
    );
    assert_eq!(err, FrameError::InvalidInitialWindowSize { value: 1 << 31 });
    assert!(matches!(
        ok(setting(SettingId::INITIAL_WINDOW_SIZE, MAX_WINDOW_SIZE)),
        Frame::Settings(_)
    ));
}

#[test]
fn invalid_max_frame_size() {
    for v in [0, 16383, 1 << 24, u32::MAX] {
        assert_eq!(
            conn(setting(SettingId::MAX_FRAME_SIZE, v), PE),
            FrameError::InvalidMaxFrameSize { value: v }
        );
    }
    for v in [16384, (1 << 24) - 1] {
        assert!(
            matches!(ok(setting(SettingId::MAX_FRAME_SIZE, v)), Frame::Settings(s) if s.max_frame_size() == Some(v))
        );
    }
}

#[test]
fn invalid_enable_connect_protocol() {
    let err = conn(setting(SettingId::ENABLE_CONNECT_PROTOCOL, 7), PE);
    assert_eq!(err, FrameError::InvalidEnableConnectProtocol { value: 7 });
}

#[test]
fn invalid_no_rfc7540_priorities() {
    let err = conn(setting(SettingId::NO_RFC7540_PRIORITIES, 2), PE);
    assert_eq!(err, FrameError::InvalidNoRfc7540Priorities { value: 2 });
}

#[test]
fn unknown_settings_and_unbounded_values_pass() {
    let Frame::Settings(s) = ok(setting(SettingId(0x4242), u32::MAX)) else {
        panic!()
    };
    assert_eq!(s.get(SettingId(0x4242)), Some(u32::MAX));
    assert!(matches!(
        ok(setting(SettingId::HEADER_TABLE_SIZE, u32::MAX)),
        Frame::Settings(_)
    ));
}

#[test]
fn ping_length() {
    for len in [0, 7, 9] {
        assert_eq!(
            conn(raw(FrameType::PING, 0, 0, &vec![0; len]), FSE),
            FrameError::PingLength { length: len as u32 }
        );
    }
}

#[test]
fn goaway_too_short() {
    assert_eq!(
        conn(raw(FrameType::GOAWAY, 0, 0, &[0; 7]), FSE),
        FrameError::GoAwayTooShort { length: 7 }
    );
}

#[test]
fn window_update_length_is_a_connection_error_on_any_stream() {
    let err = conn(raw(FrameType::WINDOW_UPDATE, 0, 0, &[0, 0, 1]), FSE);
    assert_eq!(
        err,
        FrameError::WindowUpdateLength {
            stream_id: StreamId::ZERO,
            length: 3
        }
    );
    let err = conn(raw(FrameType::WINDOW_UPDATE, 0, 7, &[0, 0, 0, 0, 1]), FSE);
    assert_eq!(
        err,
        FrameError::WindowUpdateLength {
            stream_id: sid(7),
            length: 5
        }
    );
}

#[test]
fn zero_connection_window_increment() {
    let err = conn(raw(FrameType::WINDOW_UPDATE, 0, 0, &[0, 0, 0, 0]), PE);
    assert_eq!(err, FrameError::ZeroConnectionWindowIncrement);
    // Only the reserved bit set is still an increment of 0.
    let err = conn(raw(FrameType::WINDOW_UPDATE, 0, 0, &[0x80, 0, 0, 0]), PE);
    assert_eq!(err, FrameError::ZeroConnectionWindowIncrement);
}

#[test]
fn zero_stream_window_increment() {
    let err = stream(raw(FrameType::WINDOW_UPDATE, 0, 9, &[0x80, 0, 0, 0]), 9, PE);
    assert_eq!(
        err,
        FrameError::ZeroStreamWindowIncrement { stream_id: sid(9) }
    );
}

#[test]
fn expected_continuation() {
    // HEADERS without END_HEADERS, then a PING.
    let mut wire = raw(FrameType::HEADERS, 0, 1, &[0x82]);
    PING.encode(&mut wire).unwrap();
    let out = decode_in_pieces(&wire, DEFAULT_MAX_FRAME_SIZE, |_| 1);
    assert!(matches!(&out[0], Ok(Frame::Headers(h)) if !h.end_headers));
    let err = out[1].clone().unwrap_err();
    assert_eq!(
        err,
        FrameError::ExpectedContinuation {
            stream_id: sid(1),
            got_type: FrameType::PING,
            got_stream_id: StreamId::ZERO
        }
    );
    assert_eq!((err.scope(), err.code()), (ErrorScope::Connection, PE));
    // A CONTINUATION on another stream is just as wrong (after PUSH_PROMISE this time).
    let mut wire = raw(FrameType::PUSH_PROMISE, 0, 1, &[0, 0, 0, 2]);
    encode_continuation(sid(3), b"", true, &mut wire).unwrap();
    let out = decode_in_pieces(&wire, DEFAULT_MAX_FRAME_SIZE, |_| usize::MAX);
    assert!(matches!(
        out[1],
        Err(FrameError::ExpectedContinuation {
            got_type: FrameType::CONTINUATION,
            ..
        })
    ));
}

#[test]
fn unexpected_continuation() {
    let mut wire = BytesMut::new();
    encode_continuation(sid(1), b"x", true, &mut wire).unwrap();
    let err = conn(wire, PE);
    assert_eq!(
        err,
        FrameError::UnexpectedContinuation { stream_id: sid(1) }
    );
    // Also after a block was closed by END_HEADERS.
    let mut wire = BytesMut::new();
    encode_headers(sid(1), &[1; 40], false, None, None, 16, &mut wire).unwrap();
    encode_continuation(sid(1), b"x", true, &mut wire).unwrap();
    let out = decode_in_pieces(&wire, DEFAULT_MAX_FRAME_SIZE, |_| usize::MAX);
    assert_eq!(out.len(), 4);
    assert_eq!(
        out[3],
        Err(FrameError::UnexpectedContinuation { stream_id: sid(1) })
    );
}

#[test]
fn priority_update_too_short() {
    let err = conn(raw(FrameType::PRIORITY_UPDATE, 0, 0, &[0, 0, 1]), FSE);
    assert_eq!(err, FrameError::PriorityUpdateTooShort { length: 3 });
}

#[test]
fn priority_update_for_stream_zero() {
    let err = conn(
        raw(FrameType::PRIORITY_UPDATE, 0, 0, &[0x80, 0, 0, 0, b'u']),
        PE,
    );
    assert_eq!(err, FrameError::PriorityUpdateForStreamZero);
}

#[test]
fn altsvc_malformed() {
    let err = conn(raw(FrameType::ALTSVC, 0, 0, &[0]), FSE);
    assert_eq!(
        err,
        FrameError::AltSvcMalformed {
            stream_id: StreamId::ZERO,
            length: 1
        }
    );
    // Origin-Len runs past the payload; on a stream that is a stream error.
    let err = stream(raw(FrameType::ALTSVC, 0, 3, &[0, 5, b'a']), 3, FSE);
    assert_eq!(
        err,
        FrameError::AltSvcMalformed {
            stream_id: sid(3),
            length: 3
        }
    );
}

#[test]
fn altsvc_shapes_rfc7838_ignores_come_out_as_unknown() {
    // Stream 0 with an empty origin, and a stream with an origin.
    for (stream, payload) in [(0, &[0, 0, b'x'][..]), (1, &[0, 1, b'o', b'x'][..])] {
        let f = ok(raw(FrameType::ALTSVC, 0, stream, payload));
        assert!(
            matches!(&f, Frame::Unknown(u) if u.frame_type == FrameType::ALTSVC && &u.payload[..] == payload)
        );
    }
}

#[test]
fn origin_malformed() {
    // An entry announcing 4 octets with 2 present; a lone length octet.
    for payload in [&[0, 4, b'a', b'b'][..], &[0, 1, b'a', 0][..]] {
        let err = conn(raw(FrameType::ORIGIN, 0, 0, payload), FSE);
        assert_eq!(
            err,
            FrameError::OriginMalformed {
                length: payload.len() as u32
            }
        );
    }
    // On a stream it is ignored (RFC 8336 §2.1), malformed or not.
    assert!(matches!(
        ok(raw(FrameType::ORIGIN, 0, 1, &[9])),
        Frame::Unknown(_)
    ));
}

#[test]
fn unknown_frame_types_are_kept_whole() {
    let f = ok(raw(FrameType(0xbb), 0xff, 7, b"opaque"));
    assert_eq!(
        f,
        Frame::Unknown(Unknown {
            frame_type: FrameType(0xbb),
            flags: Flags(0xff),
            stream_id: sid(7),
            payload: Bytes::from_static(b"opaque")
        })
    );
}

#[test]
fn settings_validate_matches_the_decoder() {
    let s = Settings::new().with(SettingId::ENABLE_PUSH, 3);
    assert_eq!(
        s.validate(),
        Err(FrameError::InvalidEnablePush { value: 3 })
    );
    assert_eq!(check_setting(SettingId::MAX_FRAME_SIZE, 16384), Ok(()));
}
