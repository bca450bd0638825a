//! Writes [`FrameSpec`]s as wire octets, without validating them.
//!
//! The h2kit-frame encoder refuses frames RFC 9113 forbids; a test peer must be able to send
//! them, so frames are written here directly: a 9-octet header with the full 32-bit stream
//! field and a payload assembled from its parts.

use bytes::{BufMut, Bytes, BytesMut};
use h2kit_frame::{Flags, FrameType, MAX_FRAME_SIZE_LIMIT};
use h2kit_hpack::{Encoder, HeaderField};

use crate::Role;
use crate::frames::{BlockSpec, CLIENT_MAGIC, FrameSpec, SettingsBuilder};

/// Appends one frame: header, then `[Pad Length] parts... [padding]`.
#[track_caller]
fn put_frame(
    dst: &mut BytesMut,
    frame_type: FrameType,
    flags: Flags,
    stream_id: u32,
    padding: Option<u8>,
    parts: &[&[u8]],
) {
    let pad = padding.map_or(0, |p| usize::from(p) + 1);
    let len = parts.iter().map(|p| p.len()).sum::<usize>() + pad;
    let length = match u32::try_from(len) {
        Ok(l) if l <= MAX_FRAME_SIZE_LIMIT => l,
        _ => panic!("a {frame_type} payload of {len} octets does not fit the 24-bit length"),
    };
    put_header(
        dst,
        frame_type,
        flags.with_if(Flags::PADDED, padding.is_some()),
        stream_id,
        length,
    );
    if let Some(p) = padding {
        dst.put_u8(p);
    }
    for part in parts {
        dst.put_slice(part);
    }
    if let Some(p) = padding {
        dst.put_bytes(0, usize::from(p));
    }
}

fn put_header(dst: &mut BytesMut, frame_type: FrameType, flags: Flags, stream_id: u32, len: u32) {
    let l = len.to_be_bytes();
    dst.put_slice(&[l[1], l[2], l[3], frame_type.0, flags.0]);
    dst.put_u32(stream_id);
}

/// Writes `spec` the way a peer of `role` sends it, HPACK-encoding header lists with
/// `encoder` and splitting field blocks at `max_frame_size` (the receiver's
/// SETTINGS_MAX_FRAME_SIZE).
#[track_caller]
pub(crate) fn write_spec(
    spec: &FrameSpec,
    role: Role,
    encoder: &mut Encoder,
    max_frame_size: u32,
    dst: &mut BytesMut,
) {
    match spec {
        FrameSpec::Preface(p) => {
            if role == Role::Client {
                dst.put_slice(CLIENT_MAGIC);
            }
            write_settings(&p.settings, dst);
        }
        FrameSpec::Settings(s) => write_settings(s, dst),
        FrameSpec::Data(d) => {
            let flags = Flags::EMPTY.with_if(Flags::END_STREAM, d.end_stream);
            put_frame(
                dst,
                FrameType::DATA,
                flags,
                d.stream_id,
                d.padding,
                &[&d.payload],
            );
        }
        FrameSpec::Headers(h) => {
            let flags = Flags::EMPTY
                .with_if(Flags::END_STREAM, h.end_stream)
                .with_if(Flags::PRIORITY, h.priority.is_some());
            let prio = h.priority.map(|p| p.to_bytes());
            let prefix: &[u8] = prio.as_ref().map_or(&[], |p| p);
            let block = encode_block(&h.block, encoder);
            write_block(
                dst,
                FrameType::HEADERS,
                flags,
                h.stream_id,
                prefix,
                &block,
                &h.block,
                max_frame_size,
            );
        }
        FrameSpec::PushPromise(p) => {
            let block = encode_block(&p.block, encoder);
            write_block(
                dst,
                FrameType::PUSH_PROMISE,
                Flags::EMPTY,
                p.stream_id,
                &p.promised_id.to_be_bytes(),
                &block,
                &p.block,
                max_frame_size,
            );
        }
        FrameSpec::Continuation(c) => {
            let mut block = BytesMut::from(&c.fragment[..]);
            if !c.fields.is_empty() {
                encoder.encode(&c.fields, &mut block);
            }
            let flags = Flags::EMPTY.with_if(Flags::END_HEADERS, c.end_headers);
            put_frame(
                dst,
                FrameType::CONTINUATION,
                flags,
                c.stream_id,
                None,
                &[&block],
            );
        }
        FrameSpec::Priority(p) => put_frame(
            dst,
            FrameType::PRIORITY,
            Flags::EMPTY,
            p.stream_id,
            None,
            &[&p.spec.to_bytes()],
        ),
        FrameSpec::RstStream(r) => put_frame(
            dst,
            FrameType::RST_STREAM,
            Flags::EMPTY,
            r.stream_id,
            None,
            &[&r.error_code.0.to_be_bytes()],
        ),
        FrameSpec::Ping(p) => put_frame(
            dst,
            FrameType::PING,
            Flags::EMPTY.with_if(Flags::ACK, p.ack),
            0,
            None,
            &[&p.payload],
        ),
        FrameSpec::GoAway(g) => put_frame(
            dst,
            FrameType::GOAWAY,
            Flags::EMPTY,
            0,
            None,
            &[
                &g.last_stream_id.unwrap_or(0).to_be_bytes(),
                &g.error_code.0.to_be_bytes(),
                g.debug.as_deref().unwrap_or_default(),
            ],
        ),
        FrameSpec::WindowUpdate(w) => put_frame(
            dst,
            FrameType::WINDOW_UPDATE,
            Flags::EMPTY,
            w.stream_id,
            None,
            &[&w.increment.to_be_bytes()],
        ),
        FrameSpec::AltSvc(a) => {
            let origin_len = u16::try_from(a.origin.len())
                .unwrap_or_else(|_| panic!("an ALTSVC origin over 65535 octets"));
            put_frame(
                dst,
                FrameType::ALTSVC,
                Flags::EMPTY,
                a.stream_id,
                None,
                &[&origin_len.to_be_bytes(), &a.origin, &a.field_value],
            );
        }
        FrameSpec::Origin(o) => {
            let mut payload = BytesMut::new();
            for origin in &o.origins {
                let len = u16::try_from(origin.len())
                    .unwrap_or_else(|_| panic!("an ORIGIN entry over 65535 octets"));
                payload.put_u16(len);
                payload.put_slice(origin);
            }
            put_frame(dst, FrameType::ORIGIN, Flags::EMPTY, 0, None, &[&payload]);
        }
        FrameSpec::PriorityUpdate(p) => put_frame(
            dst,
            FrameType::PRIORITY_UPDATE,
            Flags::EMPTY,
            0,
            None,
            &[&p.prioritized_stream_id.to_be_bytes(), &p.field_value],
        ),
        FrameSpec::Raw(r) => match r.length {
            Some(len) => {
                put_header(dst, r.frame_type, r.flags, r.stream_id, len);
                dst.put_slice(&r.payload);
            }
            None => put_frame(dst, r.frame_type, r.flags, r.stream_id, None, &[&r.payload]),
        },
        FrameSpec::Any(t) => {
            panic!("frames::any({t}) is a pattern for expect and ignore; it cannot be sent")
        }
    }
}

#[track_caller]
fn write_settings(s: &SettingsBuilder, dst: &mut BytesMut) {
    let mut payload = BytesMut::with_capacity(s.params.len() * 6);
    for (id, value) in &s.params {
        payload.put_u16(id.0);
        payload.put_u32(*value);
    }
    let flags = Flags::EMPTY.with_if(Flags::ACK, s.ack);
    put_frame(dst, FrameType::SETTINGS, flags, 0, None, &[&payload]);
}

/// The field block: the raw octets, then the fields HPACK-encoded (an empty list is still
/// passed to the encoder when there are no raw octets, so pending table size updates go out).
fn encode_block(block: &BlockSpec, encoder: &mut Encoder) -> Bytes {
    let mut out = BytesMut::new();
    if let Some(raw) = &block.raw {
        out.put_slice(raw);
    }
    if !block.fields.is_empty() || block.raw.is_none() {
        encoder.encode::<&[HeaderField]>(&block.fields, &mut out);
    }
    out.freeze()
}

/// Writes a HEADERS or PUSH_PROMISE frame and the CONTINUATION frames its block needs.
#[allow(clippy::too_many_arguments)]
#[track_caller]
fn write_block(
    dst: &mut BytesMut,
    frame_type: FrameType,
    flags: Flags,
    stream_id: u32,
    prefix: &[u8],
    block: &[u8],
    spec: &BlockSpec,
    max_frame_size: u32,
) {
    let max = max_frame_size.clamp(
        h2kit_frame::DEFAULT_MAX_FRAME_SIZE,
        h2kit_frame::MAX_FRAME_SIZE_LIMIT,
    ) as usize;
    let overhead = prefix.len() + spec.padding.map_or(0, |p| usize::from(p) + 1);
    let (first_max, rest_max) = match spec.split {
        Some(n) => (n, n),
        // `max` >= 16,384 > the largest overhead (4 or 5 + 256).
        None => (max - overhead, max),
    };
    let first_len = block.len().min(first_max);
    let (first, mut rest) = block.split_at(first_len);
    let last_flag =
        |more: bool| Flags::EMPTY.with_if(Flags::END_HEADERS, !more && spec.end_headers);
    put_frame(
        dst,
        frame_type,
        flags.union(last_flag(!rest.is_empty())),
        stream_id,
        spec.padding,
        &[prefix, first],
    );
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rest.len().min(rest_max));
        rest = tail;
        put_frame(
            dst,
            FrameType::CONTINUATION,
            last_flag(!rest.is_empty()),
            stream_id,
            None,
            &[chunk],
        );
    }
}
