//! Intrusive circular lists of slots, for round-robin service with O(1) everything.

pub(crate) const NIL: u32 = u32::MAX;

/// The links of one slot in a ring.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Link {
    pub(crate) prev: u32,
    pub(crate) next: u32,
}

impl Link {
    pub(crate) const UNLINKED: Self = Self {
        prev: NIL,
        next: NIL,
    };
}

/// A ring of slots whose links live in a caller-owned `[Link]` indexed by slot. `head` is
/// the slot served next; the slot before it is the tail.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ring {
    pub(crate) head: u32,
}

impl Ring {
    pub(crate) const EMPTY: Self = Self { head: NIL };

    /// Links `s` at the tail (served after every slot already in the ring).
    #[inline]
    pub(crate) fn push_back(&mut self, links: &mut [Link], s: u32) {
        if self.head == NIL {
            links[s as usize] = Link { prev: s, next: s };
            self.head = s;
            return;
        }
        let head = self.head;
        let tail = links[head as usize].prev;
        links[s as usize] = Link {
            prev: tail,
            next: head,
        };
        links[tail as usize].next = s;
        links[head as usize].prev = s;
    }

    /// Unlinks `s`, which must be in this ring.
    #[inline]
    pub(crate) fn unlink(&mut self, links: &mut [Link], s: u32) {
        let Link { prev, next } = links[s as usize];
        if next == s {
            self.head = NIL;
        } else {
            links[prev as usize].next = next;
            links[next as usize].prev = prev;
            if self.head == s {
                self.head = next;
            }
        }
        links[s as usize] = Link::UNLINKED;
    }

    /// Returns the head and rotates it to the tail.
    #[inline]
    pub(crate) fn rotate(&mut self, links: &[Link]) -> Option<u32> {
        let s = self.head;
        let link = links.get(s as usize)?;
        self.head = link.next;
        Some(s)
    }
}
