//! Helpers shared by the queue-based schedulers, which delete lazily.

/// A queue entry: a slot and the generation of the stream it was queued for. The slot's
/// generation changes whenever its stream leaves the queue for good (removed, or moved to
/// another queue), which turns older tickets stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

/// Whether a queue of `len` entries, `stale` of them stale, should be compacted: when stale
/// entries outnumber live ones (and are not a handful). Keeps memory within twice the number
/// of streams and the cost amortised O(1).
pub(crate) fn compact_due(stale: usize, len: usize) -> bool {
    stale > 16 && stale * 2 > len
}
