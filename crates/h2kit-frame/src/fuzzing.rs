//! Fuzz logic, shared by `fuzz/fuzz_targets/frame_*.rs` and the proptests in `tests/`.
//!
//! Every function takes arbitrary bytes and panics (through `assert!`) only when it finds a
//! bug. Not part of the public API.

use bytes::{Bytes, BytesMut};

use crate::{
    AltSvc, Continuation, DEFAULT_MAX_FRAME_SIZE, Data, ErrorCode, Flags, Frame, FrameDecoder,
    FrameError, FrameHeader, FrameType, GoAway, Headers, MAX_FRAME_SIZE_LIMIT, Origin, Ping,
    Priority, PrioritySpec, PriorityUpdate, PushPromise, RstStream, SettingId, Settings, StreamId,
    Unknown, WindowUpdate, encode_headers,
};

/// What one `decode` call produced (frames and errors, in order).
pub type Outcome = Result<Frame, FrameError>;

/// Feeds `input` to a fresh decoder in pieces whose sizes `piece` chooses (called with the
/// piece index; 0 is treated as 1), draining the decoder after each piece, and returns every
/// frame and error in order.
pub fn decode_in_pieces(
    input: &[u8],
    max_frame_size: u32,
    mut piece: impl FnMut(usize) -> usize,
) -> Vec<Outcome> {
    let mut decoder = FrameDecoder::with_max_frame_size(max_frame_size);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0;
    let mut index = 0;
    while fed < input.len() {
        let n = piece(index).max(1).min(input.len() - fed);
        index += 1;
        buf.extend_from_slice(&input[fed..fed + n]);
        fed += n;
        drain(&mut decoder, &mut buf, &mut out);
    }
    drain(&mut decoder, &mut buf, &mut out);
    out
}

fn drain(decoder: &mut FrameDecoder, buf: &mut BytesMut, out: &mut Vec<Outcome>) {
    loop {
        let before = buf.len();
        match decoder.decode(buf) {
            Ok(None) => return,
            Ok(Some(f)) => out.push(Ok(f)),
            Err(e) => out.push(Err(e)),
        }
        // Every frame or error consumes at least its 9-octet header.
        assert!(buf.len() + 9 <= before, "decoder made no progress");
    }
}

/// A small deterministic generator, so split patterns can be derived from the input.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Decodes arbitrary bytes (the first octet picks the max frame size and a seed) whole, in
/// 1-, 7- and 16384-octet pieces and in random pieces, and checks that every split yields the
/// same frames and errors, that nothing panics, and that every decoded frame re-encodes to a
/// frame that parses back equal.
pub fn frame_decode(data: &[u8]) {
    let Some((&cfg, input)) = data.split_first() else {
        return;
    };
    let max = if cfg & 1 == 0 {
        DEFAULT_MAX_FRAME_SIZE
    } else {
        MAX_FRAME_SIZE_LIMIT
    };
    let whole = decode_in_pieces(input, max, |_| usize::MAX);
    for size in [1, 7, 16384] {
        assert_eq!(
            decode_in_pieces(input, max, |_| size),
            whole,
            "split into {size}-octet pieces"
        );
    }
    let mut seed = u64::from(cfg) | 0x9e37_79b9_7f4a_7c00;
    let random = decode_in_pieces(input, max, |_| (xorshift(&mut seed) % 40) as usize + 1);
    assert_eq!(random, whole, "random split");
    for frame in whole.iter().flatten() {
        check_reencode(frame);
    }
    for err in whole.iter().filter_map(|r| r.as_ref().err()) {
        // The mapping to the wire is total and consistent.
        let _ = (
            err.scope(),
            err.code(),
            err.flow_controlled_len(),
            err.to_string(),
        );
    }
}

/// Encodes `frame` and parses it back with [`Frame::parse`] (stateless, so lone CONTINUATION
/// frames are fine); the result must equal `frame`.
pub fn check_reencode(frame: &Frame) {
    let mut buf = BytesMut::new();
    frame.encode(&mut buf).expect("a decoded frame re-encodes");
    assert_eq!(buf.len(), frame.encoded_len(), "encoded_len for {frame:?}");
    let header = FrameHeader::parse(&buf).expect("9 octets");
    assert_eq!(header.length as usize + 9, buf.len());
    let payload = buf.split_off(9).freeze();
    assert_eq!(Frame::parse(header, payload).as_ref(), Ok(frame));
}

/// Encodes `frame`, then decodes it whole and in 1-octet pieces with a [`FrameDecoder`]
/// (CONTINUATION sequencing aside, which is checked by [`headers_split`]); both must give back
/// `frame`.
pub fn check_roundtrip(frame: &Frame) {
    check_reencode(frame);
    let mut wire = BytesMut::new();
    frame.encode(&mut wire).expect("valid frame encodes");
    if matches!(frame, Frame::Continuation(_)) {
        return; // a lone CONTINUATION is a sequencing error for the stateful decoder
    }
    // An open field block leaves the decoder waiting for CONTINUATION, which is fine here.
    let expect = vec![Ok(frame.clone())];
    assert_eq!(
        decode_in_pieces(&wire, MAX_FRAME_SIZE_LIMIT, |_| usize::MAX),
        expect
    );
    assert_eq!(decode_in_pieces(&wire, MAX_FRAME_SIZE_LIMIT, |_| 1), expect);
}

/// Reads arbitrary input as a little program describing values.
struct Src<'a> {
    data: &'a [u8],
}

impl Src<'_> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }
    fn stream(&mut self) -> StreamId {
        StreamId::new(self.u32()).max(StreamId::new(1))
    }
    fn pad(&mut self) -> Option<u8> {
        let b = self.u8();
        (b & 1 == 1).then_some(b >> 1)
    }
    fn bytes(&mut self) -> Bytes {
        let n = usize::from(self.u8()).min(self.data.len());
        let (b, rest) = self.data.split_at(n);
        self.data = rest;
        Bytes::copy_from_slice(b)
    }
    fn spec(&mut self, not: StreamId) -> PrioritySpec {
        let mut dependency = StreamId::new(self.u32());
        if dependency == not {
            dependency = StreamId::new(not.get() ^ 1);
        }
        PrioritySpec {
            dependency,
            exclusive: self.bool(),
            weight: self.u8(),
        }
    }
}

/// Builds a valid frame of any type from arbitrary bytes.
pub fn arbitrary_frame(data: &[u8]) -> Frame {
    let mut s = Src { data };
    match s.u8() % 16 {
        0 => Frame::Data(Data {
            stream_id: s.stream(),
            end_stream: s.bool(),
            pad_len: s.pad(),
            data: s.bytes(),
        }),
        1 => {
            let stream_id = s.stream();
            let priority = s.bool().then(|| s.spec(stream_id));
            Frame::Headers(Headers {
                stream_id,
                end_stream: s.bool(),
                end_headers: s.bool(),
                priority,
                pad_len: s.pad(),
                fragment: s.bytes(),
            })
        }
        2 => {
            let stream_id = s.stream();
            Frame::Priority(Priority {
                stream_id,
                spec: s.spec(stream_id),
            })
        }
        3 => Frame::RstStream(RstStream {
            stream_id: s.stream(),
            error_code: ErrorCode(s.u32()),
        }),
        4 => {
            let n = s.u8() % 8;
            let settings = (0..n)
                .map(|_| {
                    let id = SettingId(u16::from(s.u8() % 12));
                    let v = s.u32();
                    let v = match id {
                        SettingId::ENABLE_PUSH
                        | SettingId::ENABLE_CONNECT_PROTOCOL
                        | SettingId::NO_RFC7540_PRIORITIES => v & 1,
                        SettingId::INITIAL_WINDOW_SIZE => v & 0x7fff_ffff,
                        SettingId::MAX_FRAME_SIZE => {
                            DEFAULT_MAX_FRAME_SIZE
                                + v % (MAX_FRAME_SIZE_LIMIT - DEFAULT_MAX_FRAME_SIZE + 1)
                        }
                        _ => v,
                    };
                    (id, v)
                })
                .collect::<Settings>();
            Frame::Settings(settings)
        }
        5 => Frame::SettingsAck,
        6 => Frame::PushPromise(PushPromise {
            stream_id: s.stream(),
            promised_id: StreamId::new(s.u32()),
            end_headers: s.bool(),
            pad_len: s.pad(),
            fragment: s.bytes(),
        }),
        7 => {
            let mut payload = [0u8; 8];
            payload.iter_mut().for_each(|b| *b = s.u8());
            Frame::Ping(Ping {
                ack: s.bool(),
                payload,
            })
        }
        8 => Frame::GoAway(GoAway {
            last_stream_id: StreamId::new(s.u32()),
            error_code: ErrorCode(s.u32()),
            debug_data: s.bytes(),
        }),
        9 => Frame::WindowUpdate(WindowUpdate {
            stream_id: StreamId::new(s.u32()),
            increment: (s.u32() & 0x7fff_ffff).max(1),
        }),
        10 => Frame::Continuation(Continuation {
            stream_id: s.stream(),
            end_headers: s.bool(),
            fragment: s.bytes(),
        }),
        11 => {
            let on_stream = s.bool();
            let stream_id = if on_stream {
                s.stream()
            } else {
                StreamId::ZERO
            };
            let mut origin = s.bytes();
            if on_stream {
                origin = Bytes::new();
            } else if origin.is_empty() {
                origin = Bytes::from_static(b"https://example.com");
            }
            Frame::AltSvc(AltSvc {
                stream_id,
                origin,
                field_value: s.bytes(),
            })
        }
        12 => {
            let n = s.u8() % 4;
            Frame::Origin(Origin {
                origins: (0..n).map(|_| s.bytes()).collect(),
            })
        }
        13 => Frame::PriorityUpdate(PriorityUpdate {
            prioritized_stream_id: s.stream(),
            field_value: s.bytes(),
        }),
        _ => {
            // Types this crate does not know: 0x0b, 0x0d..=0x0f, 0x11..=0xff.
            let t = match s.u8() {
                t @ (0x0b | 0x0d..=0x0f | 0x11..=0xff) => t,
                t => 0x11 + t,
            };
            Frame::Unknown(Unknown {
                frame_type: FrameType(t),
                flags: Flags(s.u8()),
                stream_id: StreamId::new(s.u32()),
                payload: s.bytes(),
            })
        }
    }
}

/// Builds a frame from arbitrary bytes and checks the encode → decode round trip; then
/// checks CONTINUATION splitting with [`headers_split`] on the same bytes.
pub fn frame_roundtrip(data: &[u8]) {
    check_roundtrip(&arbitrary_frame(data));
    headers_split(data);
}

/// Encodes a field block from arbitrary bytes with [`encode_headers`] at a small max frame
/// size, decodes it in pieces, and checks the pieces reassemble with the right flags.
pub fn headers_split(data: &[u8]) {
    let mut s = Src { data };
    let stream_id = s.stream();
    let end_stream = s.bool();
    let priority = s.bool().then(|| s.spec(stream_id));
    let padding = s.pad();
    let overhead = padding.map_or(0, |p| u32::from(p) + 1) + if priority.is_some() { 5 } else { 0 };
    let max = overhead + 1 + u32::from(s.u8() % 32);
    let block = s.bytes();
    let mut wire = BytesMut::new();
    encode_headers(
        stream_id, &block, end_stream, priority, padding, max, &mut wire,
    )
    .expect("max leaves room");

    // Decode with a plain decoder: frames are below the protocol minimum of 16384 anyway.
    let outcomes = decode_in_pieces(&wire, DEFAULT_MAX_FRAME_SIZE, |i| i % 5 + 1);
    let mut reassembled = Vec::new();
    let count = outcomes.len();
    for (i, outcome) in outcomes.into_iter().enumerate() {
        let last = i + 1 == count;
        match outcome {
            Ok(Frame::Headers(h)) if i == 0 => {
                assert_eq!(
                    (h.stream_id, h.end_stream, h.priority, h.pad_len),
                    (stream_id, end_stream, priority, padding)
                );
                assert_eq!(h.end_headers, last);
                reassembled.extend_from_slice(&h.fragment);
            }
            Ok(Frame::Continuation(c)) if i > 0 => {
                assert_eq!(c.stream_id, stream_id);
                assert_eq!(c.end_headers, last);
                assert!(!c.fragment.is_empty());
                reassembled.extend_from_slice(&c.fragment);
            }
            other => panic!("unexpected frame {i}: {other:?}"),
        }
    }
    assert_eq!(reassembled, block);
    // Every frame is within the max frame size.
    let mut rest = &wire[..];
    while let Some(h) = FrameHeader::parse(rest) {
        assert!(h.length <= max);
        rest = &rest[9 + h.length as usize..];
    }
}
