//! h2kit-frame: decode and encode of a mixed stream of frames, in bytes per second.
//!
//! Two mixes: `bulk` is download-like traffic (HEADERS, 16 KiB DATA, WINDOW_UPDATE), where
//! the payload bytes dominate; `control` is many small frames (HEADERS with CONTINUATION,
//! short DATA, PING, SETTINGS, RST_STREAM, PRIORITY_UPDATE, unknown types), where per-frame
//! cost dominates. Run: `cargo bench -p h2kit-bench --bench frame`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use h2kit_frame::{
    Data, ErrorCode, Flags, Frame, FrameDecoder, FrameType, Headers, Ping, PrioritySpec,
    PriorityUpdate, RstStream, SettingId, Settings, StreamId, Unknown, WindowUpdate,
    encode_headers,
};
use std::hint::black_box;

fn block(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

/// The frames of `streams` downloads: a HEADERS response, then 4 × 16 KiB DATA and
/// WINDOW_UPDATEs, as a server would send them.
fn bulk_mix(streams: u32) -> Vec<Frame> {
    let payload = block(16_384, 7);
    let mut frames = Vec::new();
    for i in 0..streams {
        let id = StreamId::new(2 * i + 1);
        frames.push(Frame::Headers(Headers::new(id, block(120, i as u8))));
        for k in 0..4 {
            frames.push(Frame::Data(Data {
                stream_id: id,
                data: payload.clone(),
                end_stream: k == 3,
                pad_len: None,
            }));
        }
        frames.push(Frame::WindowUpdate(WindowUpdate {
            stream_id: StreamId::ZERO,
            increment: 65_536,
        }));
    }
    frames
}

/// Many small frames of every common kind.
fn control_mix(streams: u32) -> Vec<Frame> {
    let mut frames = vec![Frame::Settings(
        Settings::new()
            .with(SettingId::MAX_CONCURRENT_STREAMS, 100)
            .with(SettingId::INITIAL_WINDOW_SIZE, 1 << 20)
            .with(SettingId::ENABLE_PUSH, 0),
    )];
    for i in 0..streams {
        let id = StreamId::new(2 * i + 1);
        frames.push(Frame::Headers(Headers {
            stream_id: id,
            fragment: block(300, i as u8),
            end_stream: false,
            end_headers: true,
            priority: Some(PrioritySpec::DEFAULT),
            pad_len: Some(8),
        }));
        frames.push(Frame::PriorityUpdate(PriorityUpdate {
            prioritized_stream_id: id,
            field_value: Bytes::from_static(b"u=2, i"),
        }));
        frames.push(Frame::Data(Data {
            stream_id: id,
            data: block(200, 3),
            end_stream: true,
            pad_len: None,
        }));
        frames.push(Frame::WindowUpdate(WindowUpdate {
            stream_id: id,
            increment: 200,
        }));
        frames.push(Frame::Ping(Ping {
            ack: i % 2 == 0,
            payload: [i as u8; 8],
        }));
        frames.push(Frame::RstStream(RstStream {
            stream_id: id,
            error_code: ErrorCode::CANCEL,
        }));
        frames.push(Frame::Unknown(Unknown {
            frame_type: FrameType(0xf0),
            flags: Flags::EMPTY,
            stream_id: id,
            payload: block(16, 1),
        }));
    }
    frames.push(Frame::SettingsAck);
    frames
}

fn encode_all(frames: &[Frame], dst: &mut BytesMut) {
    for f in frames {
        f.encode(dst).expect("valid frame");
    }
}

fn bench_mix(c: &mut Criterion, name: &str, frames: &[Frame]) {
    let mut wire = BytesMut::new();
    encode_all(frames, &mut wire);
    // Sanity: the wire decodes back to the same frames.
    let mut check = wire.clone();
    let mut decoder = FrameDecoder::new();
    for f in frames {
        assert_eq!(decoder.decode(&mut check).expect("valid"), Some(f.clone()));
    }

    let mut group = c.benchmark_group(format!("frame/{name}"));
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("decode", |b| {
        b.iter_batched_ref(
            || wire.clone(),
            |buf| {
                let mut decoder = FrameDecoder::new();
                let mut n = 0usize;
                while let Some(frame) = decoder.decode(buf).expect("valid") {
                    n += 1;
                    black_box(&frame);
                }
                n
            },
            BatchSize::LargeInput,
        )
    });
    let mut dst = BytesMut::with_capacity(wire.len());
    group.bench_function("encode", |b| {
        b.iter(|| {
            dst.clear();
            encode_all(black_box(frames), &mut dst);
            dst.len()
        })
    });
    group.finish();
}

fn frame_benches(c: &mut Criterion) {
    bench_mix(c, "bulk", &bulk_mix(16));
    bench_mix(c, "control", &control_mix(200));

    // A header block split into CONTINUATION frames at the minimum max frame size.
    let big_block = block(100_000, 9);
    let mut dst = BytesMut::with_capacity(big_block.len() + 1024);
    let mut group = c.benchmark_group("frame/headers_split");
    group.throughput(Throughput::Bytes(big_block.len() as u64));
    group.bench_function("encode_headers", |b| {
        b.iter(|| {
            dst.clear();
            encode_headers(
                StreamId::new(1),
                black_box(&big_block),
                true,
                None,
                Some(16),
                16_384,
                &mut dst,
            )
            .expect("fits");
            dst.len()
        })
    });
    group.finish();
}

criterion_group!(benches, frame_benches);
criterion_main!(benches);
