//! What a scripted peer received.

use std::fmt;

use bytes::Bytes;
use h2kit_frame::{Frame, FrameHeader, FrameType, StreamId};
use h2kit_hpack::HeaderField;

use crate::frames::FrameSpec;

/// One frame a [`ScriptedPeer`](crate::ScriptedPeer) received, decoded; a HEADERS or
/// PUSH_PROMISE comes with its CONTINUATION frames assembled and its header list decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedFrame {
    /// Position among the frames this peer received, from 1 (a header block counts once).
    pub index: usize,
    /// The 9-octet header of the (first) wire frame.
    pub header: FrameHeader,
    /// The payload of the (first) wire frame as it arrived, padding included.
    pub payload: Bytes,
    /// The frame as h2kit-frame decodes it (for a header block: the HEADERS or PUSH_PROMISE,
    /// whose `fragment` is its own piece of the block only).
    pub frame: Frame,
    /// The whole field block of a HEADERS or PUSH_PROMISE, CONTINUATION fragments appended.
    pub block: Option<Bytes>,
    /// The decoded header list of a HEADERS or PUSH_PROMISE.
    pub fields: Option<Vec<HeaderField>>,
    /// How many CONTINUATION frames completed the block.
    pub continuations: usize,
}

impl ReceivedFrame {
    /// The frame type of the (first) wire frame.
    pub fn frame_type(&self) -> FrameType {
        self.header.frame_type
    }

    /// The stream id of the frame header.
    pub fn stream_id(&self) -> StreamId {
        self.header.stream_id
    }

    /// The decoded header list (empty for frames without one).
    pub fn header_list(&self) -> &[HeaderField] {
        self.fields.as_deref().unwrap_or_default()
    }

    /// The value of the first field with this name, if the frame has a header list.
    pub fn field(&self, name: &str) -> Option<&[u8]> {
        self.header_list()
            .iter()
            .find(|f| f.name == name.as_bytes())
            .map(|f| &f.value[..])
    }

    /// The DATA payload (empty for other frames).
    pub fn data(&self) -> &[u8] {
        match &self.frame {
            Frame::Data(d) => &d.data,
            _ => &[],
        }
    }

    /// Whether a DATA or HEADERS frame carries END_STREAM.
    pub fn end_stream(&self) -> bool {
        match &self.frame {
            Frame::Data(d) => d.end_stream,
            Frame::Headers(h) => h.end_stream,
            _ => false,
        }
    }

    /// Whether `spec` matches this frame, as [`expect`](crate::ScriptedPeer::expect) decides.
    pub fn matches(&self, spec: impl Into<FrameSpec>) -> bool {
        crate::expect::mismatches(&spec.into(), self).is_empty()
    }

    /// The ways this frame differs from `spec`, one readable line each; empty when it
    /// matches.
    pub fn mismatches(&self, spec: impl Into<FrameSpec>) -> Vec<String> {
        crate::expect::mismatches(&spec.into(), self)
    }
}

impl fmt::Display for ReceivedFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::describe::received(self, f)
    }
}
