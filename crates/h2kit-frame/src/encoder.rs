//! The encoder: free functions that append frames to a caller's [`BytesMut`].
//!
//! Each function checks its arguments first and writes nothing on error; on success it
//! reserves the whole output once and writes header and payload straight into `dst`.

use bytes::{BufMut, BytesMut};

use crate::error::EncodeError;
use crate::frame::{Frame, PrioritySpec};
use crate::header::{FRAME_HEADER_LEN, FrameHeader, MAX_FRAME_SIZE_LIMIT};
use crate::settings::{MAX_WINDOW_SIZE, Settings};
use crate::types::{ErrorCode, Flags, FrameType, StreamId};

fn payload_len(length: usize) -> Result<u32, EncodeError> {
    match u32::try_from(length) {
        Ok(l) if l <= MAX_FRAME_SIZE_LIMIT => Ok(l),
        _ => Err(EncodeError::PayloadTooLarge {
            length,
            max: MAX_FRAME_SIZE_LIMIT,
        }),
    }
}

fn need_stream(frame_type: FrameType, stream_id: StreamId) -> Result<(), EncodeError> {
    if stream_id.is_zero() {
        Err(EncodeError::StreamIdRequired { frame_type })
    } else {
        Ok(())
    }
}

fn put_header(
    dst: &mut BytesMut,
    frame_type: FrameType,
    flags: Flags,
    stream_id: StreamId,
    length: u32,
) {
    dst.put_slice(&FrameHeader::new(frame_type, flags, stream_id, length).to_bytes());
}

/// Writes one frame whose payload is `[Pad Length] prefix body [padding]`.
fn put_padded(
    dst: &mut BytesMut,
    frame_type: FrameType,
    flags: Flags,
    stream_id: StreamId,
    prefix: &[u8],
    body: &[u8],
    padding: Option<u8>,
) -> Result<(), EncodeError> {
    let pad = padding.map_or(0, |p| usize::from(p) + 1);
    let total = prefix.len().saturating_add(body.len()).saturating_add(pad);
    let length = payload_len(total)?;
    dst.reserve(FRAME_HEADER_LEN + total);
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
    dst.put_slice(prefix);
    dst.put_slice(body);
    if let Some(p) = padding {
        dst.put_bytes(0, usize::from(p));
    }
    Ok(())
}

/// Appends a DATA frame carrying a copy of `data` (RFC 9113 §6.1), with `padding` octets of
/// padding (plus the Pad Length octet) when `Some`. Its flow-controlled length is
/// `data.len()` + padding + 1 when padded.
///
/// The caller keeps the payload within the peer's SETTINGS_MAX_FRAME_SIZE and the flow-control
/// windows; this function only refuses what the 24-bit length cannot express.
pub fn encode_data(
    stream_id: StreamId,
    data: &[u8],
    end_stream: bool,
    padding: Option<u8>,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    need_stream(FrameType::DATA, stream_id)?;
    let flags = Flags::EMPTY.with_if(Flags::END_STREAM, end_stream);
    put_padded(dst, FrameType::DATA, flags, stream_id, &[], data, padding)
}

/// Appends only the 9-octet header of an unpadded DATA frame whose `data_len` payload octets
/// the caller sends next, e.g. as a separate `Bytes` in a vectored write, without copying.
pub fn encode_data_header(
    stream_id: StreamId,
    data_len: usize,
    end_stream: bool,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    need_stream(FrameType::DATA, stream_id)?;
    let length = payload_len(data_len)?;
    dst.reserve(FRAME_HEADER_LEN);
    put_header(
        dst,
        FrameType::DATA,
        Flags::EMPTY.with_if(Flags::END_STREAM, end_stream),
        stream_id,
        length,
    );
    Ok(())
}

/// The 9-octet header of an unpadded DATA frame, for callers that assemble their own I/O
/// vectors. Same checks as [`encode_data_header`].
pub fn data_header(
    stream_id: StreamId,
    data_len: usize,
    end_stream: bool,
) -> Result<[u8; FRAME_HEADER_LEN], EncodeError> {
    need_stream(FrameType::DATA, stream_id)?;
    let length = payload_len(data_len)?;
    let flags = Flags::EMPTY.with_if(Flags::END_STREAM, end_stream);
    Ok(FrameHeader::new(FrameType::DATA, flags, stream_id, length).to_bytes())
}

/// Appends a HEADERS frame carrying the HPACK-encoded field block `block`, followed by as many
/// CONTINUATION frames as `max_frame_size` (the peer's SETTINGS_MAX_FRAME_SIZE) requires
/// (RFC 9113 §6.2, §6.10, §4.3).
///
/// The priority fields and the padding (`Some(n)`: the PADDED flag, the Pad Length octet and
/// n zero octets) go in the HEADERS frame only and count against its size. END_STREAM is on
/// the HEADERS frame; END_HEADERS on the last frame written.
pub fn encode_headers(
    stream_id: StreamId,
    block: &[u8],
    end_stream: bool,
    priority: Option<PrioritySpec>,
    padding: Option<u8>,
    max_frame_size: u32,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    need_stream(FrameType::HEADERS, stream_id)?;
    let flags = Flags::EMPTY
        .with_if(Flags::END_STREAM, end_stream)
        .with_if(Flags::PRIORITY, priority.is_some());
    let prio = priority.map(|p| p.to_bytes());
    let prefix: &[u8] = match &prio {
        Some(b) => b,
        None => &[],
    };
    encode_field_block(
        FrameType::HEADERS,
        flags,
        stream_id,
        prefix,
        block,
        padding,
        max_frame_size,
        dst,
    )
}

/// Appends a PUSH_PROMISE frame for `promised_id` carrying `block`, split into CONTINUATION
/// frames at `max_frame_size` like [`encode_headers`] (RFC 9113 §6.6).
pub fn encode_push_promise(
    stream_id: StreamId,
    promised_id: StreamId,
    block: &[u8],
    padding: Option<u8>,
    max_frame_size: u32,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    need_stream(FrameType::PUSH_PROMISE, stream_id)?;
    let prefix = promised_id.get().to_be_bytes();
    encode_field_block(
        FrameType::PUSH_PROMISE,
        Flags::EMPTY,
        stream_id,
        &prefix,
        block,
        padding,
        max_frame_size,
        dst,
    )
}

#[allow(clippy::too_many_arguments)]
fn encode_field_block(
    frame_type: FrameType,
    flags: Flags,
    stream_id: StreamId,
    prefix: &[u8],
    block: &[u8],
    padding: Option<u8>,
    max_frame_size: u32,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    // Lossless: at most 2^24-1.
    let max = max_frame_size.min(MAX_FRAME_SIZE_LIMIT) as usize;
    let pad_total = padding.map_or(0, |p| usize::from(p) + 1);
    let overhead = prefix.len() + pad_total;
    if overhead > max || (overhead == max && !block.is_empty()) {
        return Err(EncodeError::MaxFrameSizeTooSmall {
            max_frame_size,
            overhead: u32::try_from(overhead).unwrap_or(u32::MAX),
        });
    }
    let first_len = block.len().min(max - overhead);
    let (first, mut rest) = block.split_at(first_len);
    // `max` >= 1 here whenever `rest` is non-empty, so the loop below makes progress.
    let continuations = rest.len().div_ceil(max.max(1));
    dst.reserve(FRAME_HEADER_LEN * (1 + continuations) + overhead + block.len());
    let flags = flags.with_if(Flags::END_HEADERS, rest.is_empty());
    put_padded(dst, frame_type, flags, stream_id, prefix, first, padding)?;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rest.len().min(max));
        rest = tail;
        // Lossless: chunk.len() <= max < 2^24.
        let f = Flags::EMPTY.with_if(Flags::END_HEADERS, rest.is_empty());
        put_header(
            dst,
            FrameType::CONTINUATION,
            f,
            stream_id,
            chunk.len() as u32,
        );
        dst.put_slice(chunk);
    }
    Ok(())
}

/// Appends one CONTINUATION frame (RFC 9113 §6.10). [`encode_headers`] writes these for you.
pub fn encode_continuation(
    stream_id: StreamId,
    fragment: &[u8],
    end_headers: bool,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    need_stream(FrameType::CONTINUATION, stream_id)?;
    let flags = Flags::EMPTY.with_if(Flags::END_HEADERS, end_headers);
    put_padded(
        dst,
        FrameType::CONTINUATION,
        flags,
        stream_id,
        &[],
        fragment,
        None,
    )
}

/// Appends a PRIORITY frame (RFC 9113 §6.3).
pub fn encode_priority(
    stream_id: StreamId,
    spec: PrioritySpec,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    need_stream(FrameType::PRIORITY, stream_id)?;
    put_padded(
        dst,
        FrameType::PRIORITY,
        Flags::EMPTY,
        stream_id,
        &spec.to_bytes(),
        &[],
        None,
    )
}

/// Appends an RST_STREAM frame (RFC 9113 §6.4).
pub fn encode_rst_stream(
    stream_id: StreamId,
    error_code: ErrorCode,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    need_stream(FrameType::RST_STREAM, stream_id)?;
    put_padded(
        dst,
        FrameType::RST_STREAM,
        Flags::EMPTY,
        stream_id,
        &error_code.0.to_be_bytes(),
        &[],
        None,
    )
}

/// Appends a SETTINGS frame with `settings` in their order (RFC 9113 §6.5). Values are
/// written as given; run [`Settings::validate`] first to avoid sending a value the peer must
/// reject.
pub fn encode_settings(settings: &Settings, dst: &mut BytesMut) -> Result<(), EncodeError> {
    let length = payload_len(settings.encoded_len())?;
    dst.reserve(FRAME_HEADER_LEN + settings.encoded_len());
    put_header(
        dst,
        FrameType::SETTINGS,
        Flags::EMPTY,
        StreamId::ZERO,
        length,
    );
    for (id, value) in settings {
        dst.put_u16(id.0);
        dst.put_u32(value);
    }
    Ok(())
}

/// Appends a SETTINGS frame with the ACK flag and no payload (RFC 9113 §6.5).
pub fn encode_settings_ack(dst: &mut BytesMut) {
    dst.reserve(FRAME_HEADER_LEN);
    put_header(dst, FrameType::SETTINGS, Flags::ACK, StreamId::ZERO, 0);
}

/// Appends a PING frame (RFC 9113 §6.7); `ack` answers a received PING with its payload.
pub fn encode_ping(ack: bool, payload: [u8; 8], dst: &mut BytesMut) {
    dst.reserve(FRAME_HEADER_LEN + 8);
    put_header(
        dst,
        FrameType::PING,
        Flags::EMPTY.with_if(Flags::ACK, ack),
        StreamId::ZERO,
        8,
    );
    dst.put_slice(&payload);
}

/// Appends a GOAWAY frame (RFC 9113 §6.8).
pub fn encode_goaway(
    last_stream_id: StreamId,
    error_code: ErrorCode,
    debug_data: &[u8],
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    let mut fixed = [0u8; 8];
    fixed[..4].copy_from_slice(&last_stream_id.get().to_be_bytes());
    fixed[4..].copy_from_slice(&error_code.0.to_be_bytes());
    put_padded(
        dst,
        FrameType::GOAWAY,
        Flags::EMPTY,
        StreamId::ZERO,
        &fixed,
        debug_data,
        None,
    )
}

/// Appends a WINDOW_UPDATE frame (RFC 9113 §6.9); stream 0 updates the connection window.
/// `increment` must be in 1 ..= 2^31-1.
pub fn encode_window_update(
    stream_id: StreamId,
    increment: u32,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    if increment == 0 || increment > MAX_WINDOW_SIZE {
        return Err(EncodeError::InvalidWindowIncrement { increment });
    }
    put_padded(
        dst,
        FrameType::WINDOW_UPDATE,
        Flags::EMPTY,
        stream_id,
        &increment.to_be_bytes(),
        &[],
        None,
    )
}

/// Appends an ALTSVC frame (RFC 7838 §4): on stream 0 with an origin, or on a stream with an
/// empty origin.
pub fn encode_altsvc(
    stream_id: StreamId,
    origin: &[u8],
    field_value: &[u8],
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    let origin_len = u16::try_from(origin.len()).map_err(|_| EncodeError::OriginTooLong {
        length: origin.len(),
    })?;
    let total = 2 + origin.len() + field_value.len();
    let length = payload_len(total)?;
    dst.reserve(FRAME_HEADER_LEN + total);
    put_header(dst, FrameType::ALTSVC, Flags::EMPTY, stream_id, length);
    dst.put_u16(origin_len);
    dst.put_slice(origin);
    dst.put_slice(field_value);
    Ok(())
}

/// Appends an ORIGIN frame listing `origins` (RFC 8336 §2), on stream 0.
pub fn encode_origin<B: AsRef<[u8]>>(origins: &[B], dst: &mut BytesMut) -> Result<(), EncodeError> {
    let mut total = 0usize;
    for o in origins {
        let n = o.as_ref().len();
        if n > usize::from(u16::MAX) {
            return Err(EncodeError::OriginTooLong { length: n });
        }
        total = total.saturating_add(2 + n);
    }
    let length = payload_len(total)?;
    dst.reserve(FRAME_HEADER_LEN + total);
    put_header(dst, FrameType::ORIGIN, Flags::EMPTY, StreamId::ZERO, length);
    for o in origins {
        let o = o.as_ref();
        // Checked above.
        dst.put_u16(o.len() as u16);
        dst.put_slice(o);
    }
    Ok(())
}

/// Appends a PRIORITY_UPDATE frame (RFC 9218 §7.1) on stream 0.
pub fn encode_priority_update(
    prioritized_stream_id: StreamId,
    field_value: &[u8],
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    let prefix = prioritized_stream_id.get().to_be_bytes();
    put_padded(
        dst,
        FrameType::PRIORITY_UPDATE,
        Flags::EMPTY,
        StreamId::ZERO,
        &prefix,
        field_value,
        None,
    )
}

/// Appends a frame of any type with the given flags and raw payload, unchecked beyond its
/// length: for extensions and for tests that need to send bad frames.
pub fn encode_raw(
    frame_type: FrameType,
    flags: Flags,
    stream_id: StreamId,
    payload: &[u8],
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    put_padded(dst, frame_type, flags, stream_id, &[], payload, None)
}

impl Frame {
    /// Appends exactly this one frame to `dst` (no CONTINUATION splitting: a [`Headers`]
    /// frame is written with its fragment and flags as they are; use [`encode_headers`] to
    /// split a whole field block). Flags a typed frame does not define are not written.
    ///
    /// [`Headers`]: crate::Headers
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Frame::Data(f) => encode_data(f.stream_id, &f.data, f.end_stream, f.pad_len, dst),
            Frame::Headers(f) => {
                need_stream(FrameType::HEADERS, f.stream_id)?;
                let flags = Flags::EMPTY
                    .with_if(Flags::END_STREAM, f.end_stream)
                    .with_if(Flags::END_HEADERS, f.end_headers)
                    .with_if(Flags::PRIORITY, f.priority.is_some());
                let prio = f.priority.map(|p| p.to_bytes());
                let prefix: &[u8] = match &prio {
                    Some(b) => b,
                    None => &[],
                };
                put_padded(
                    dst,
                    FrameType::HEADERS,
                    flags,
                    f.stream_id,
                    prefix,
                    &f.fragment,
                    f.pad_len,
                )
            }
            Frame::Priority(f) => encode_priority(f.stream_id, f.spec, dst),
            Frame::RstStream(f) => encode_rst_stream(f.stream_id, f.error_code, dst),
            Frame::Settings(s) => encode_settings(s, dst),
            Frame::SettingsAck => {
                encode_settings_ack(dst);
                Ok(())
            }
            Frame::PushPromise(f) => {
                need_stream(FrameType::PUSH_PROMISE, f.stream_id)?;
                let flags = Flags::EMPTY.with_if(Flags::END_HEADERS, f.end_headers);
                let prefix = f.promised_id.get().to_be_bytes();
                put_padded(
                    dst,
                    FrameType::PUSH_PROMISE,
                    flags,
                    f.stream_id,
                    &prefix,
                    &f.fragment,
                    f.pad_len,
                )
            }
            Frame::Ping(f) => {
                encode_ping(f.ack, f.payload, dst);
                Ok(())
            }
            Frame::GoAway(f) => encode_goaway(f.last_stream_id, f.error_code, &f.debug_data, dst),
            Frame::WindowUpdate(f) => encode_window_update(f.stream_id, f.increment, dst),
            Frame::Continuation(f) => {
                encode_continuation(f.stream_id, &f.fragment, f.end_headers, dst)
            }
            Frame::AltSvc(f) => encode_altsvc(f.stream_id, &f.origin, &f.field_value, dst),
            Frame::Origin(f) => encode_origin(&f.origins, dst),
            Frame::PriorityUpdate(f) => {
                encode_priority_update(f.prioritized_stream_id, &f.field_value, dst)
            }
            Frame::Unknown(f) => encode_raw(f.frame_type, f.flags, f.stream_id, &f.payload, dst),
        }
    }

    /// The number of octets [`encode`](Self::encode) writes, header included.
    pub fn encoded_len(&self) -> usize {
        let pad = |p: Option<u8>| p.map_or(0, |p| usize::from(p) + 1);
        FRAME_HEADER_LEN
            + match self {
                Frame::Data(f) => f.data.len() + pad(f.pad_len),
                Frame::Headers(f) => {
                    f.fragment.len() + pad(f.pad_len) + if f.priority.is_some() { 5 } else { 0 }
                }
                Frame::Priority(_) => 5,
                Frame::RstStream(_) | Frame::WindowUpdate(_) => 4,
                Frame::Settings(s) => s.encoded_len(),
                Frame::SettingsAck => 0,
                Frame::PushPromise(f) => 4 + f.fragment.len() + pad(f.pad_len),
                Frame::Ping(_) => 8,
                Frame::GoAway(f) => 8 + f.debug_data.len(),
                Frame::Continuation(f) => f.fragment.len(),
                Frame::AltSvc(f) => 2 + f.origin.len() + f.field_value.len(),
                Frame::Origin(f) => f.origins.iter().map(|o| 2 + o.len()).sum(),
                Frame::PriorityUpdate(f) => 4 + f.field_value.len(),
                Frame::Unknown(f) => f.payload.len(),
            }
    }
}
