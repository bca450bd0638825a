//! Encoder and decoder working together: every frame type, CONTINUATION splitting, padding,
//! DATA headers for vectored writes, and partial input.

use bytes::{Bytes, BytesMut};
use h2kit_frame::fuzzing::{check_roundtrip, decode_in_pieces};
use h2kit_frame::*;

fn sid(n: u32) -> StreamId {
    StreamId::new(n)
}

fn one_of_each() -> Vec<Frame> {
    vec![
        Frame::Data(Data {
            stream_id: sid(1),
            data: Bytes::from_static(b"body"),
            end_stream: true,
            pad_len: None,
        }),
        Frame::Data(Data {
            stream_id: sid(3),
            data: Bytes::from_static(b"x"),
            end_stream: false,
            pad_len: Some(7),
        }),
        Frame::Headers(Headers {
            stream_id: sid(5),
            fragment: Bytes::from_static(&[0x82, 0x86, 0x84]),
            end_stream: true,
            end_headers: true,
            priority: Some(PrioritySpec {
                dependency: sid(3),
                exclusive: true,
                weight: 200,
            }),
            pad_len: Some(2),
        }),
        Frame::Priority(Priority {
            stream_id: sid(7),
            spec: PrioritySpec::DEFAULT,
        }),
        Frame::RstStream(RstStream {
            stream_id: sid(9),
            error_code: ErrorCode::CANCEL,
        }),
        Frame::Settings(
            Settings::new()
                .with(SettingId::HEADER_TABLE_SIZE, 0)
                .with(SettingId::ENABLE_PUSH, 0)
                .with(SettingId::INITIAL_WINDOW_SIZE, MAX_WINDOW_SIZE)
                .with(SettingId::MAX_FRAME_SIZE, MAX_FRAME_SIZE_LIMIT)
                .with(SettingId(0xabcd), 42),
        ),
        Frame::SettingsAck,
        Frame::PushPromise(PushPromise {
            stream_id: sid(1),
            promised_id: sid(2),
            fragment: Bytes::from_static(b"\x82"),
            end_headers: true,
            pad_len: Some(0),
        }),
        Frame::Ping(Ping {
            ack: true,
            payload: *b"12345678",
        }),
        Frame::GoAway(GoAway {
            last_stream_id: sid(11),
            error_code: ErrorCode(0xdead),
            debug_data: Bytes::from_static(b"bye"),
        }),
        Frame::WindowUpdate(WindowUpdate {
            stream_id: StreamId::ZERO,
            increment: MAX_WINDOW_SIZE,
        }),
        Frame::Continuation(Continuation {
            stream_id: sid(5),
            fragment: Bytes::from_static(b"abc"),
            end_headers: true,
        }),
        Frame::AltSvc(AltSvc {
            stream_id: StreamId::ZERO,
            origin: Bytes::from_static(b"https://a.example"),
            field_value: Bytes::from_static(b"h2=\":443\""),
        }),
        Frame::AltSvc(AltSvc {
            stream_id: sid(1),
            origin: Bytes::new(),
            field_value: Bytes::from_static(b"clear"),
        }),
        Frame::Origin(Origin {
            origins: vec![Bytes::from_static(b"https://a.example"), Bytes::new()],
        }),
        Frame::PriorityUpdate(PriorityUpdate {
            prioritized_stream_id: sid(1),
            field_value: Bytes::from_static(b"u=1, i"),
        }),
        Frame::Unknown(Unknown {
            frame_type: FrameType(0xfa),
            flags: Flags(0xff),
            stream_id: sid(77),
            payload: Bytes::from_static(b"?"),
        }),
    ]
}

#[test]
fn every_frame_type_round_trips() {
    for frame in one_of_each() {
        check_roundtrip(&frame);
    }
}

#[test]
fn a_stream_of_frames_decodes_the_same_in_any_pieces() {
    let frames: Vec<Frame> = one_of_each()
        .into_iter()
        .filter(|f| !matches!(f, Frame::Continuation(_)))
        .collect();
    let mut wire = BytesMut::new();
    for f in &frames {
        f.encode(&mut wire).unwrap();
    }
    let expect: Vec<_> = frames.into_iter().map(Ok).collect();
    for size in [1, 2, 7, 9, 10, 16384, usize::MAX] {
        assert_eq!(
            decode_in_pieces(&wire, DEFAULT_MAX_FRAME_SIZE, |_| size),
            expect,
            "pieces of {size}"
        );
    }
}

#[test]
fn known_wire_bytes() {
    let mut dst = BytesMut::new();
    encode_window_update(sid(1), 0x1234, &mut dst).unwrap();
    assert_eq!(&dst[..], &[0, 0, 4, 8, 0, 0, 0, 0, 1, 0, 0, 0x12, 0x34]);
    dst.clear();
    encode_data(sid(3), b"hi", true, Some(2), &mut dst).unwrap();
    assert_eq!(
        &dst[..],
        &[0, 0, 5, 0, 0x9, 0, 0, 0, 3, 2, b'h', b'i', 0, 0]
    );
    dst.clear();
    encode_settings_ack(&mut dst);
    assert_eq!(&dst[..], &[0, 0, 0, 4, 1, 0, 0, 0, 0]);
}

#[test]
fn reserved_bits_are_ignored_on_receipt() {
    // Stream id, promised id, last stream id, window increment and prioritized id all have
    // their high bit set; each is masked off.
    let mut wire = BytesMut::new();
    wire.extend_from_slice(&[0, 0, 4, 8, 0, 0x80, 0, 0, 1, 0x80, 0, 0, 5]);
    wire.extend_from_slice(&[0, 0, 5, 5, 4, 0x80, 0, 0, 1, 0x80, 0, 0, 2, 0x82]);
    wire.extend_from_slice(&[0, 0, 8, 7, 0, 0, 0, 0, 0, 0x80, 0, 0, 9, 0, 0, 0, 0]);
    wire.extend_from_slice(&[0, 0, 4, 0x10, 0, 0, 0, 0, 0, 0x80, 0, 0, 3]);
    let out = decode_in_pieces(&wire, DEFAULT_MAX_FRAME_SIZE, |_| usize::MAX);
    assert_eq!(
        out[0],
        Ok(Frame::WindowUpdate(WindowUpdate {
            stream_id: sid(1),
            increment: 5
        }))
    );
    let Ok(Frame::PushPromise(p)) = &out[1] else {
        panic!("{:?}", out[1])
    };
    assert_eq!((p.stream_id, p.promised_id), (sid(1), sid(2)));
    let Ok(Frame::GoAway(g)) = &out[2] else {
        panic!("{:?}", out[2])
    };
    assert_eq!(g.last_stream_id, sid(9));
    let Ok(Frame::PriorityUpdate(u)) = &out[3] else {
        panic!("{:?}", out[3])
    };
    assert_eq!(u.prioritized_stream_id, sid(3));
}

#[test]
fn undefined_flags_are_ignored() {
    let mut wire = BytesMut::new();
    encode_raw(FrameType::DATA, Flags(0xf6), sid(1), b"abc", &mut wire).unwrap();
    let out = decode_in_pieces(&wire, DEFAULT_MAX_FRAME_SIZE, |_| usize::MAX);
    assert_eq!(
        out,
        vec![Ok(Frame::Data(Data::new(
            sid(1),
            Bytes::from_static(b"abc")
        )))]
    );
}

#[test]
fn headers_split_into_continuations_with_priority_and_padding_in_the_first() {
    let block: Vec<u8> = (0..100u8).collect();
    let prio = PrioritySpec {
        dependency: sid(3),
        exclusive: false,
        weight: 9,
    };
    let mut wire = BytesMut::new();
    // First frame: 1 (pad length) + 5 (priority) + 4 (padding) = 10 overhead, 30 - 10 = 20 of block.
    encode_headers(sid(1), &block, true, Some(prio), Some(4), 30, &mut wire).unwrap();
    let mut frames = decode_in_pieces(&wire, DEFAULT_MAX_FRAME_SIZE, |_| 3).into_iter();
    let Some(Ok(Frame::Headers(h))) = frames.next() else {
        panic!()
    };
    assert_eq!(h.fragment.len(), 20);
    assert!(h.end_stream && !h.end_headers);
    assert_eq!((h.priority, h.pad_len), (Some(prio), Some(4)));
    let rest: Vec<_> = frames
        .map(|f| match f {
            Ok(Frame::Continuation(c)) => c,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        rest.iter().map(|c| c.fragment.len()).collect::<Vec<_>>(),
        [30, 30, 20]
    );
    assert_eq!(
        rest.iter().map(|c| c.end_headers).collect::<Vec<_>>(),
        [false, false, true]
    );
    let joined: Vec<u8> = std::iter::once(&h.fragment)
        .chain(rest.iter().map(|c| &c.fragment))
        .flat_map(|b| b.iter().copied())
        .collect();
    assert_eq!(joined, block);
}

#[test]
fn headers_that_fit_are_one_frame_with_end_headers() {
    let mut wire = BytesMut::new();
    encode_headers(
        sid(1),
        b"abc",
        false,
        None,
        None,
        DEFAULT_MAX_FRAME_SIZE,
        &mut wire,
    )
    .unwrap();
    assert_eq!(&wire[..], &[0, 0, 3, 1, 0x4, 0, 0, 0, 1, b'a', b'b', b'c']);
    // An empty block is legal too (one HEADERS with END_HEADERS).
    wire.clear();
    encode_headers(
        sid(1),
        b"",
        true,
        None,
        None,
        DEFAULT_MAX_FRAME_SIZE,
        &mut wire,
    )
    .unwrap();
    assert_eq!(&wire[..], &[0, 0, 0, 1, 0x5, 0, 0, 0, 1]);
}

#[test]
fn push_promise_splits_too() {
    let mut wire = BytesMut::new();
    encode_push_promise(sid(1), sid(4), &[7; 50], Some(1), 20, &mut wire).unwrap();
    let out = decode_in_pieces(&wire, DEFAULT_MAX_FRAME_SIZE, |_| usize::MAX);
    let Ok(Frame::PushPromise(p)) = &out[0] else {
        panic!()
    };
    assert_eq!(
        (p.promised_id, p.fragment.len(), p.pad_len, p.end_headers),
        (sid(4), 14, Some(1), false)
    );
    assert_eq!(out.len(), 3); // 14 + 20 + 16
}

#[test]
fn encoder_refuses_what_the_wire_cannot_carry() {
    let mut dst = BytesMut::new();
    assert_eq!(
        encode_headers(
            sid(1),
            b"abc",
            false,
            Some(PrioritySpec::DEFAULT),
            Some(10),
            16,
            &mut dst
        ),
        Err(EncodeError::MaxFrameSizeTooSmall {
            max_frame_size: 16,
            overhead: 16
        })
    );
    assert_eq!(
        encode_data(StreamId::ZERO, b"", false, None, &mut dst),
        Err(EncodeError::StreamIdRequired {
            frame_type: FrameType::DATA
        })
    );
    assert_eq!(
        encode_window_update(sid(1), 0, &mut dst),
        Err(EncodeError::InvalidWindowIncrement { increment: 0 })
    );
    assert_eq!(
        encode_window_update(sid(1), 1 << 31, &mut dst),
        Err(EncodeError::InvalidWindowIncrement { increment: 1 << 31 })
    );
    assert_eq!(
        encode_data_header(sid(1), 1 << 24, false, &mut dst),
        Err(EncodeError::PayloadTooLarge {
            length: 1 << 24,
            max: MAX_FRAME_SIZE_LIMIT
        })
    );
    assert!(dst.is_empty(), "nothing written on error");
}

#[test]
fn data_header_for_vectored_writes_matches_the_copying_encoder() {
    let payload = Bytes::from_static(b"0123456789");
    let mut copied = BytesMut::new();
    encode_data(sid(5), &payload, true, None, &mut copied).unwrap();
    let mut header_only = BytesMut::new();
    encode_data_header(sid(5), payload.len(), true, &mut header_only).unwrap();
    assert_eq!(
        &header_only[..],
        &data_header(sid(5), payload.len(), true).unwrap()[..]
    );
    header_only.extend_from_slice(&payload);
    assert_eq!(copied, header_only);
}

#[test]
fn decoder_hands_out_slices_of_the_input_without_copying() {
    let mut wire = BytesMut::new();
    encode_data(sid(1), &[9; 1000], false, None, &mut wire).unwrap();
    let start = wire.as_ptr() as usize;
    let mut d = FrameDecoder::new();
    let Ok(Some(Frame::Data(data))) = d.decode(&mut wire) else {
        panic!()
    };
    assert_eq!(data.data.as_ptr() as usize, start + 9);
}

#[test]
fn need_more_bytes_consumes_nothing_and_reserves_the_rest() {
    let mut full = BytesMut::new();
    encode_data(sid(1), &[1; 5000], false, None, &mut full).unwrap();
    let mut d = FrameDecoder::new();
    let mut buf = BytesMut::from(&full[..100]);
    assert_eq!(d.decode(&mut buf), Ok(None));
    assert_eq!(buf.len(), 100);
    assert!(buf.capacity() >= 5009);
    buf.extend_from_slice(&full[100..]);
    assert!(matches!(d.decode(&mut buf), Ok(Some(Frame::Data(_)))));
    assert!(buf.is_empty());
}

#[test]
fn settings_getters_take_the_last_value() {
    let mut s = Settings::new();
    s.push(SettingId::MAX_CONCURRENT_STREAMS, 10);
    s.push(SettingId::MAX_CONCURRENT_STREAMS, 20);
    assert_eq!(s.max_concurrent_streams(), Some(20));
    assert_eq!(s.len(), 2);
    s.set(SettingId::MAX_CONCURRENT_STREAMS, 5);
    assert_eq!(s.as_slice(), &[(SettingId::MAX_CONCURRENT_STREAMS, 5)]);
    assert_eq!(s.enable_push(), None);
    assert_eq!(s.header_table_size(), None);
}

#[test]
fn max_frame_size_is_clamped_and_settable() {
    let mut d = FrameDecoder::with_max_frame_size(1);
    assert_eq!(d.max_frame_size(), DEFAULT_MAX_FRAME_SIZE);
    d.set_max_frame_size(u32::MAX);
    assert_eq!(d.max_frame_size(), MAX_FRAME_SIZE_LIMIT);
    let mut wire = BytesMut::new();
    encode_data(sid(1), &vec![0; 20000], false, None, &mut wire).unwrap();
    assert!(matches!(d.decode(&mut wire), Ok(Some(Frame::Data(_)))));
}
