//! The RFC 9218 scheduler: urgency first, then sequential or round-robin by `incremental`.

use crate::idhash::{StreamMap, stream_map};
use crate::ring::RoundQueue;
use crate::{DEFAULT_MAX_STREAMS, ExtensiblePriority, PriorityError, PrioritySignal, Scheduler};

#[derive(Debug, Clone, Copy)]
struct Node {
    id: u32,
    priority: ExtensiblePriority,
    active: bool,
}

/// A min-heap entry for the sequential (non-incremental) queue, ordered by stream id.
#[derive(Debug, Clone, Copy)]
struct SeqEntry {
    id: u32,
    slot: u32,
}

#[derive(Debug)]
struct Level {
    /// Active non-incremental streams, lowest id on top; the top is served until it blocks
    /// or goes.
    sequential: Vec<SeqEntry>,
    /// Active incremental streams, served in turn.
    incremental: RoundQueue,
    /// With both kinds active, whose turn it is.
    incremental_turn: bool,
}

impl Level {
    const EMPTY: Self = Self {
        sequential: Vec::new(),
        incremental: RoundQueue::EMPTY,
        incremental_turn: false,
    };

    fn is_idle(&self) -> bool {
        self.sequential.is_empty() && self.incremental.is_empty()
    }
}

/// The RFC 9218 §10 scheduler: the lowest urgency with an active stream is served first;
/// within it, non-incremental streams go one at a time in stream-id order and incremental
/// streams share round-robin. When both kinds are active at the same urgency they alternate
/// pick by pick (as Go's `net/http2` scheduler does), so neither starves the other. Blocked
/// streams are skipped.
///
/// Only active streams are queued: incremental ones in a dense round-robin array per
/// urgency, non-incremental ones in a min-heap by id per urgency with each stream's position
/// kept, so `next` is O(1) and `block`, `unblock`, `insert`, `remove` and `update` are O(1)
/// or O(log n), with no allocation once the slab and heaps have grown.
///
/// ```
/// use h2kit_priority::{ExtensiblePriority, ExtensibleScheduler, PrioritySignal, Scheduler};
///
/// let mut s = ExtensibleScheduler::new();
/// s.insert(1, PrioritySignal::NONE)?; // u=3
/// s.insert(3, ExtensiblePriority::parse(b"u=1").into())?;
/// s.insert(5, ExtensiblePriority::parse(b"u=1").into())?;
/// // u=1 first, non-incremental: 3 until it blocks, then 5.
/// assert_eq!([s.next(), s.next()], [Some(3), Some(3)]);
/// s.block(3)?;
/// assert_eq!(s.next(), Some(5));
/// # Ok::<(), h2kit_priority::PriorityError>(())
/// ```
#[derive(Debug)]
pub struct ExtensibleScheduler {
    nodes: Vec<Node>,
    /// Position of each active slot in its level's heap or round queue.
    heap_pos: Vec<u32>,
    free: Vec<u32>,
    map: StreamMap<u32, u32>,
    levels: [Level; 8],
    /// Bit `u` set when urgency `u` has an active stream.
    mask: u8,
    max_streams: usize,
}

impl Default for ExtensibleScheduler {
    fn default() -> Self {
        Self::new()
    }
}

impl ExtensibleScheduler {
    /// An empty scheduler allowing [`DEFAULT_MAX_STREAMS`] streams.
    pub fn new() -> Self {
        Self::with_max_streams(DEFAULT_MAX_STREAMS)
    }

    /// An empty scheduler allowing `max_streams` streams.
    pub fn with_max_streams(max_streams: usize) -> Self {
        Self {
            nodes: Vec::new(),
            heap_pos: Vec::new(),
            free: Vec::new(),
            map: stream_map(),
            levels: [const { Level::EMPTY }; 8],
            mask: 0,
            max_streams,
        }
    }

    /// The priority of stream `id`, or `None` if it is not scheduled.
    pub fn priority(&self, id: u32) -> Option<ExtensiblePriority> {
        Some(self.nodes[self.slot(id).ok()?].priority)
    }

    #[inline]
    fn slot(&self, id: u32) -> Result<usize, PriorityError> {
        if id == 0 {
            return Err(PriorityError::PseudoStream);
        }
        self.map
            .get(&id)
            .map(|&s| s as usize)
            .ok_or(PriorityError::Missing(id))
    }

    /// Queues the (active) slot `s` in its level.
    #[inline]
    fn enqueue(&mut self, s: usize) {
        let node = self.nodes[s];
        let u = usize::from(node.priority.urgency.value() & 7);
        let level = &mut self.levels[u];
        if node.priority.incremental {
            level
                .incremental
                .push(&mut self.heap_pos, node.id, s as u32);
        } else {
            let entry = SeqEntry {
                id: node.id,
                slot: s as u32,
            };
            level.sequential.push(entry);
            let last = level.sequential.len() - 1;
            sift_up(&mut level.sequential, &mut self.heap_pos, last);
        }
        self.mask |= 1 << u;
    }

    /// Takes the (active) slot `s` out of its level's queue.
    #[inline]
    fn dequeue(&mut self, s: usize) {
        let node = self.nodes[s];
        let u = usize::from(node.priority.urgency.value() & 7);
        let level = &mut self.levels[u];
        if node.priority.incremental {
            level.incremental.remove(&mut self.heap_pos, s as u32);
        } else {
            let pos = self.heap_pos[s] as usize;
            let heap = &mut level.sequential;
            if pos < heap.len() {
                let last = heap.len() - 1;
                heap.swap(pos, last);
                heap.pop();
                if pos < heap.len() {
                    self.heap_pos[heap[pos].slot as usize] = pos as u32;
                    sift_down(heap, &mut self.heap_pos, pos);
                    sift_up(heap, &mut self.heap_pos, pos);
                }
            }
        }
        if level.is_idle() {
            self.mask &= !(1 << u);
        }
    }
}

impl Scheduler for ExtensibleScheduler {
    fn insert(&mut self, id: u32, priority: PrioritySignal) -> Result<(), PriorityError> {
        if id == 0 {
            return Err(PriorityError::PseudoStream);
        }
        if self.map.len() >= self.max_streams {
            if self.map.contains_key(&id) {
                return Err(PriorityError::Duplicate(id));
            }
            return Err(PriorityError::TooMany {
                limit: self.max_streams,
            });
        }
        // One lookup for the duplicate check and the insert.
        let std::collections::hash_map::Entry::Vacant(entry) = self.map.entry(id) else {
            return Err(PriorityError::Duplicate(id));
        };
        let node = Node {
            id,
            priority: priority.extensible.unwrap_or_default(),
            active: true,
        };
        let s = match self.free.pop() {
            Some(s) => {
                self.nodes[s as usize] = node;
                s as usize
            }
            None => {
                self.nodes.push(node);
                self.heap_pos.push(0);
                self.nodes.len() - 1
            }
        };
        entry.insert(s as u32);
        self.enqueue(s);
        Ok(())
    }

    fn update(&mut self, id: u32, priority: PrioritySignal) -> Result<(), PriorityError> {
        let s = self.slot(id)?;
        let Some(p) = priority.extensible else {
            return Ok(());
        };
        if self.nodes[s].priority == p {
            return Ok(());
        }
        let active = self.nodes[s].active;
        if active {
            self.dequeue(s);
        }
        self.nodes[s].priority = p;
        if active {
            self.enqueue(s);
        }
        Ok(())
    }

    fn remove(&mut self, id: u32) -> Result<(), PriorityError> {
        if id == 0 {
            return Err(PriorityError::PseudoStream);
        }
        let s = self.map.remove(&id).ok_or(PriorityError::Missing(id))? as usize;
        if self.nodes[s].active {
            self.dequeue(s);
        }
        self.nodes[s].active = false;
        self.free.push(s as u32);
        Ok(())
    }

    #[inline]
    fn block(&mut self, id: u32) -> Result<(), PriorityError> {
        let s = self.slot(id)?;
        if self.nodes[s].active {
            self.dequeue(s);
            self.nodes[s].active = false;
        }
        Ok(())
    }

    #[inline]
    fn unblock(&mut self, id: u32) -> Result<(), PriorityError> {
        let s = self.slot(id)?;
        if !self.nodes[s].active {
            self.nodes[s].active = true;
            self.enqueue(s);
        }
        Ok(())
    }

    #[inline]
    fn next(&mut self) -> Option<u32> {
        let u = self.mask.trailing_zeros() as usize;
        let level = self.levels.get_mut(u)?;
        let sequential = level.sequential.first();
        let incremental = !level.incremental.is_empty();
        if let Some(top) = sequential {
            if !incremental || !level.incremental_turn {
                level.incremental_turn = incremental;
                return Some(top.id);
            }
        }
        level.incremental_turn = false;
        level.incremental.next()
    }

    fn contains(&self, id: u32) -> bool {
        self.map.contains_key(&id)
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

fn sift_up(heap: &mut [SeqEntry], pos_of: &mut [u32], mut pos: usize) {
    let Some(&e) = heap.get(pos) else { return };
    while pos > 0 {
        let parent = (pos - 1) / 2;
        if heap[parent].id <= e.id {
            break;
        }
        heap[pos] = heap[parent];
        pos_of[heap[pos].slot as usize] = pos as u32;
        pos = parent;
    }
    heap[pos] = e;
    pos_of[e.slot as usize] = pos as u32;
}

fn sift_down(heap: &mut [SeqEntry], pos_of: &mut [u32], mut pos: usize) {
    let len = heap.len();
    let Some(&e) = heap.get(pos) else { return };
    loop {
        let left = 2 * pos + 1;
        if left >= len {
            break;
        }
        let right = left + 1;
        let child = if right < len && heap[right].id < heap[left].id {
            right
        } else {
            left
        };
        if heap[child].id >= e.id {
            break;
        }
        heap[pos] = heap[child];
        pos_of[heap[pos].slot as usize] = pos as u32;
        pos = child;
    }
    heap[pos] = e;
    pos_of[e.slot as usize] = pos as u32;
}
