//! A dense round-robin queue with O(1) everything and no pointer chasing on `next`.

/// Active entries `(stream id, slot)` in a dense array split by a cursor: `[0, cursor)` have
/// been served this round, `[cursor, len)` are still waiting. `next` serves
/// `items[cursor]` and advances; at the end a new round starts. Removal swaps within the
/// right region so that every entry is still served exactly once per round; new entries
/// join the waiting region (the end of the current round). The position of each slot is
/// kept in a caller-owned array indexed by slot.
#[derive(Debug, Default)]
pub(crate) struct RoundQueue {
    items: Vec<(u32, u32)>,
    cursor: usize,
}

impl RoundQueue {
    pub(crate) const EMPTY: Self = Self {
        items: Vec::new(),
        cursor: 0,
    };

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Starts a new round if the current one is over.
    #[inline]
    fn settle(&mut self) {
        if self.cursor >= self.items.len() {
            self.cursor = 0;
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, pos: &mut [u32], id: u32, slot: u32) {
        self.settle();
        if let Some(p) = pos.get_mut(slot as usize) {
            *p = self.items.len() as u32;
        }
        self.items.push((id, slot));
    }

    #[inline]
    fn swap(&mut self, pos: &mut [u32], a: usize, b: usize) {
        if a == b {
            return;
        }
        self.items.swap(a, b);
        for i in [a, b] {
            if let Some(&(_, s)) = self.items.get(i) {
                if let Some(p) = pos.get_mut(s as usize) {
                    *p = i as u32;
                }
            }
        }
    }

    /// Removes `slot`, which must be queued.
    #[inline]
    pub(crate) fn remove(&mut self, pos: &mut [u32], slot: u32) {
        self.settle();
        let Some(&i) = pos.get(slot as usize) else {
            return;
        };
        let i = i as usize;
        let Some(last) = self.items.len().checked_sub(1) else {
            return;
        };
        if i < self.cursor {
            // Served this round: move it to the end of the served region, trade places with
            // the last waiting entry, and shrink the served region by one.
            let boundary = self.cursor - 1;
            self.swap(pos, i, boundary);
            self.swap(pos, boundary, last);
            self.cursor = boundary;
        } else {
            self.swap(pos, i, last);
        }
        self.items.pop();
    }

    /// The stream to serve next.
    #[inline]
    pub(crate) fn next(&mut self) -> Option<u32> {
        self.settle();
        let &(id, _) = self.items.get(self.cursor)?;
        self.cursor += 1;
        Some(id)
    }
}
