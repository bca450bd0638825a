//! Input splitting (STYLE §13): every decoder and connection test also runs with its input
//! cut into small pieces.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

/// The piece sizes every split test runs with: one octet, an odd size that cuts frame
/// headers in awkward places, and the default SETTINGS_MAX_FRAME_SIZE.
pub const SPLIT_SIZES: [usize; 3] = [1, 7, 16_384];

/// `bytes` in consecutive pieces of `piece` octets (the last may be shorter; a `piece` of 0
/// counts as 1).
pub fn split_into(bytes: &[u8], piece: usize) -> impl Iterator<Item = &[u8]> {
    bytes.chunks(piece.max(1))
}

/// Runs `scenario` once per size in [`SPLIT_SIZES`], passing the size.
///
/// # Panics
///
/// Re-raises a panic of `scenario`, its message prefixed with the piece size that failed.
#[track_caller]
pub fn for_each_split(mut scenario: impl FnMut(usize)) {
    for piece in SPLIT_SIZES {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| scenario(piece))) {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied());
            match message {
                Some(m) => panic!("with input in {piece}-octet pieces: {m}"),
                None => resume_unwind(payload),
            }
        }
    }
}
