//! The push decoder.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::FrameError;
use crate::frame::Frame;
use crate::header::{DEFAULT_MAX_FRAME_SIZE, FRAME_HEADER_LEN, FrameHeader, MAX_FRAME_SIZE_LIMIT};
use crate::types::{FrameType, StreamId};

/// A push decoder: give it whatever bytes have arrived, take out whole frames.
///
/// [`decode`](Self::decode) returns `Ok(None)` when the buffer does not yet hold a whole frame
/// ("need more bytes"; nothing is consumed, and room for the rest of the frame is reserved in
/// the buffer), `Ok(Some(frame))` after splitting exactly one frame off the front of the
/// buffer, or `Err` for a frame that broke a rule. Payload fields are [`Bytes`] slices split off
/// the buffer, never copies. The result does not depend on how the input was split.
///
/// The length in the 9-octet header is checked against [`max_frame_size`](Self::max_frame_size)
/// before any payload is buffered; an over-long frame is reported at once and its payload is
/// then skipped as it arrives, never stored. Every error consumes the offending frame, so after
/// an [`ErrorScope::Stream`](crate::ErrorScope::Stream) error the next call decodes the next
/// frame. After a connection error the caller should stop.
///
/// The decoder also enforces the one stateful frame-level rule, RFC 9113 §6.10: after a
/// HEADERS or PUSH_PROMISE without END_HEADERS, only CONTINUATION frames on the same stream may
/// follow until one carries END_HEADERS.
#[derive(Clone, Debug)]
pub struct FrameDecoder {
    max_frame_size: u32,
    /// Payload octets of a rejected frame still to be skipped.
    skip: usize,
    /// The stream whose field block awaits CONTINUATION frames.
    open_block: Option<StreamId>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder with the initial SETTINGS_MAX_FRAME_SIZE of 16,384.
    pub const fn new() -> Self {
        Self {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            skip: 0,
            open_block: None,
        }
    }

    /// A decoder accepting frames up to `max_frame_size` (clamped to 16,384 ..= 2^24-1).
    pub fn with_max_frame_size(max_frame_size: u32) -> Self {
        let mut d = Self::new();
        d.set_max_frame_size(max_frame_size);
        d
    }

    /// The largest payload accepted: our SETTINGS_MAX_FRAME_SIZE.
    pub const fn max_frame_size(&self) -> u32 {
        self.max_frame_size
    }

    /// Changes the largest payload accepted, e.g. once the peer has acknowledged our new
    /// SETTINGS_MAX_FRAME_SIZE. Clamped to the legal range 16,384 ..= 2^24-1 (RFC 9113 §6.5.2).
    /// Takes effect from the next frame header.
    pub fn set_max_frame_size(&mut self, max_frame_size: u32) {
        self.max_frame_size = max_frame_size.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_FRAME_SIZE_LIMIT);
    }

    /// The stream whose field block is open (a HEADERS or PUSH_PROMISE without END_HEADERS was
    /// decoded, and CONTINUATION frames are expected), if any.
    pub const fn open_field_block(&self) -> Option<StreamId> {
        self.open_block
    }

    /// Whether the decoder is skipping the payload of a rejected frame.
    pub const fn is_skipping(&self) -> bool {
        self.skip > 0
    }

    /// How many octets of a rejected frame's payload are still to be skipped (0 when
    /// [`is_skipping`](Self::is_skipping) is false): the next frame header starts that far
    /// into the buffer.
    pub const fn skip_len(&self) -> usize {
        self.skip
    }

    /// Decodes the next frame from the front of `buf`. See the type's documentation.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        let Some((header, payload)) = self.next_payload(buf, true)? else {
            return Ok(None);
        };
        let result = Frame::parse(header, payload);
        match &result {
            Ok(Frame::Headers(h)) if !h.end_headers => self.open_block = Some(h.stream_id),
            Ok(Frame::PushPromise(p)) if !p.end_headers => self.open_block = Some(p.stream_id),
            Ok(Frame::Continuation(c)) if c.end_headers => self.open_block = None,
            Err(FrameError::HeadersSelfDependency { headers }) if !headers.end_headers => {
                self.open_block = Some(headers.stream_id);
            }
            _ => {}
        }
        result.map(Some)
    }

    /// The lower layer of [`decode`](Self::decode): checks the length against
    /// SETTINGS_MAX_FRAME_SIZE and splits one frame off the front of `buf`, but does not parse
    /// the payload and does not check CONTINUATION sequencing. Use it to skip or account frames
    /// without parsing them, then [`Frame::parse`] the ones you want.
    pub fn decode_raw(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<(FrameHeader, Bytes)>, FrameError> {
        self.next_payload(buf, false)
    }

    fn next_payload(
        &mut self,
        buf: &mut BytesMut,
        check_sequence: bool,
    ) -> Result<Option<(FrameHeader, Bytes)>, FrameError> {
        if self.skip > 0 {
            self.drain_skip(buf);
            if self.skip > 0 {
                return Ok(None);
            }
        }
        let Some(header) = FrameHeader::parse(buf) else {
            return Ok(None);
        };
        if check_sequence {
            if let Some(err) = self.sequence_error(&header) {
                self.reject(buf, &header);
                return Err(err);
            }
        }
        if header.length > self.max_frame_size {
            self.reject(buf, &header);
            return Err(FrameError::FrameTooLarge {
                header,
                max_frame_size: self.max_frame_size,
            });
        }
        // Lossless: length <= max_frame_size < 2^24.
        let len = header.length as usize;
        let total = FRAME_HEADER_LEN + len;
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        buf.advance(FRAME_HEADER_LEN);
        Ok(Some((header, buf.split_to(len).freeze())))
    }

    fn sequence_error(&mut self, header: &FrameHeader) -> Option<FrameError> {
        let is_continuation = header.frame_type == FrameType::CONTINUATION;
        match self.open_block {
            Some(open) if !is_continuation || header.stream_id != open => {
                self.open_block = None;
                Some(FrameError::ExpectedContinuation {
                    stream_id: open,
                    got_type: header.frame_type,
                    got_stream_id: header.stream_id,
                })
            }
            None if is_continuation => Some(FrameError::UnexpectedContinuation {
                stream_id: header.stream_id,
            }),
            _ => None,
        }
    }

    /// Consumes the header of a rejected frame and as much of its payload as is buffered; the
    /// rest is skipped by later calls.
    fn reject(&mut self, buf: &mut BytesMut, header: &FrameHeader) {
        buf.advance(FRAME_HEADER_LEN);
        self.skip = header.length as usize;
        self.drain_skip(buf);
    }

    fn drain_skip(&mut self, buf: &mut BytesMut) {
        let n = self.skip.min(buf.len());
        buf.advance(n);
        self.skip -= n;
    }
}
