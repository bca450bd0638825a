//! Frame-level `tracing` events: one TRACE event per frame received and per frame sent, with
//! target [`FRAME_TARGET`](crate::FRAME_TARGET).
//!
//! The callers check [`enabled`] first (one relaxed atomic load and a compare when TRACE is
//! off), so a connection that is not traced reads no header and formats nothing. The events
//! carry the raw frame header: direction, type, stream id, payload length and flags.

use h2kit_frame::{FRAME_HEADER_LEN, FrameHeader};

use crate::FRAME_TARGET;

/// Whether frame events would be recorded by the current subscriber.
#[inline(always)]
pub(super) fn enabled() -> bool {
    tracing::enabled!(target: FRAME_TARGET, tracing::Level::TRACE)
}

/// One event for a frame whose header the decoder is about to take.
#[cold]
#[inline(never)]
pub(super) fn received(header: &FrameHeader) {
    event("recv", header);
}

/// One event per frame written at the start of `written` (a run of whole frames, as
/// encoded; a header without its payload, as a vectored write leaves it, counts as well).
#[cold]
#[inline(never)]
pub(super) fn sent(written: &[u8]) {
    let mut rest = written;
    while let Some(header) = FrameHeader::parse(rest) {
        event("send", &header);
        rest = rest
            .get(FRAME_HEADER_LEN + header.length as usize..)
            .unwrap_or_default();
    }
}

fn event(direction: &'static str, h: &FrameHeader) {
    tracing::trace!(
        target: FRAME_TARGET,
        direction,
        frame_type = %h.frame_type,
        stream = h.stream_id.get(),
        length = h.length,
        flags = h.flags.0,
        "frame",
    );
}
