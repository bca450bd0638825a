//! HTTP/2 frames (RFC 9113 §4, §6): a zero-copy push decoder and an allocation-free encoder.
//!
//! (Under construction: the wire newtypes are in place; frames follow.)

mod types;

pub use types::{ErrorCode, FrameType, SettingId, StreamId};
