//! The RFC 9218 scheduler: urgency first, then sequential or round-robin by `incremental`.

use std::collections::{HashMap, VecDeque};

use crate::lazy::{Ticket, compact_due};
use crate::{DEFAULT_MAX_STREAMS, ExtensiblePriority, PriorityError, PrioritySignal, Scheduler};

#[derive(Debug)]
struct Node {
    id: u32,
    generation: u32,
    urgency: u8,
    incremental: bool,
    active: bool,
    /// Has a ticket of the current generation in its queue.
    queued: bool,
}

/// A min-heap entry for the sequential (non-incremental) queue, ordered by stream id.
#[derive(Debug, Clone, Copy)]
struct SeqEntry {
    id: u32,
    ticket: Ticket,
}

#[derive(Debug, Default)]
struct Level {
    /// Non-incremental streams, lowest id on top; the top is served until it blocks or goes.
    sequential: Vec<SeqEntry>,
    /// Incremental streams, served in turn.
    incremental: VecDeque<Ticket>,
    active_sequential: u32,
    active_incremental: u32,
    stale_sequential: usize,
    stale_incremental: usize,
    /// With both kinds active, whose turn it is.
    incremental_turn: bool,
}

/// The RFC 9218 §10 scheduler: the lowest urgency with an active stream is served first;
/// within it, non-incremental streams go one at a time in stream-id order and incremental
/// streams share round-robin. When both kinds are active at the same urgency they alternate
/// pick by pick (as Go's `net/http2` scheduler does), so neither starves the other. Blocked
/// streams are skipped.
///
/// Every operation is O(1) or O(log n) amortised with no allocation in steady state:
/// blocked, moved or removed streams leave their queue entry behind; it is dropped when it
/// comes up, or when stale entries outnumber live ones.
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
    free: Vec<u32>,
    ids: HashMap<u32, u32>,
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
            free: Vec::new(),
            ids: HashMap::new(),
            levels: Default::default(),
            mask: 0,
            max_streams,
        }
    }

    /// The priority of stream `id`, or `None` if it is not scheduled.
    pub fn priority(&self, id: u32) -> Option<ExtensiblePriority> {
        let node = &self.nodes[self.slot(id).ok()?];
        Some(ExtensiblePriority {
            urgency: crate::Urgency::new(node.urgency)?,
            incremental: node.incremental,
        })
    }

    /// Entries in all queues, stale ones included (for tests of memory bounds).
    #[doc(hidden)]
    pub fn queue_entries(&self) -> usize {
        self.levels
            .iter()
            .map(|l| l.sequential.len() + l.incremental.len())
            .sum()
    }

    fn slot(&self, id: u32) -> Result<usize, PriorityError> {
        if id == 0 {
            return Err(PriorityError::PseudoStream);
        }
        self.ids
            .get(&id)
            .map(|&s| s as usize)
            .ok_or(PriorityError::Missing(id))
    }

    /// Counts slot `s` as active in its level.
    fn activate(&mut self, s: usize) {
        let node = &mut self.nodes[s];
        let u = usize::from(node.urgency & 7);
        let level = &mut self.levels[u];
        if node.incremental {
            level.active_incremental += 1;
        } else {
            level.active_sequential += 1;
        }
        self.mask |= 1 << u;
        if !node.queued {
            node.queued = true;
            let ticket = Ticket {
                slot: s as u32,
                generation: node.generation,
            };
            if node.incremental {
                level.incremental.push_back(ticket);
            } else {
                seq_push(
                    &mut level.sequential,
                    SeqEntry {
                        id: node.id,
                        ticket,
                    },
                );
            }
        }
    }

    /// Stops counting slot `s` as active in its level (its ticket stays, lazily).
    fn deactivate(&mut self, s: usize) {
        let node = &self.nodes[s];
        let u = usize::from(node.urgency & 7);
        let level = &mut self.levels[u];
        if node.incremental {
            level.active_incremental = level.active_incremental.saturating_sub(1);
        } else {
            level.active_sequential = level.active_sequential.saturating_sub(1);
        }
        if level.active_incremental == 0 && level.active_sequential == 0 {
            self.mask &= !(1 << u);
        }
    }

    /// Slot `s` leaves its queue for good: its ticket (if any) turns stale.
    fn retire_ticket(&mut self, s: usize) {
        let node = &mut self.nodes[s];
        if node.queued {
            let level = &mut self.levels[usize::from(node.urgency & 7)];
            if node.incremental {
                level.stale_incremental += 1;
            } else {
                level.stale_sequential += 1;
            }
            node.queued = false;
            let u = usize::from(node.urgency & 7);
            self.compact(u);
        }
        let node = &mut self.nodes[s];
        node.generation = node.generation.wrapping_add(1);
    }

    fn compact(&mut self, u: usize) {
        let nodes = &self.nodes;
        let valid = |t: &Ticket| {
            nodes
                .get(t.slot as usize)
                .is_some_and(|n| n.generation == t.generation)
        };
        let level = &mut self.levels[u];
        if compact_due(level.stale_incremental, level.incremental.len()) {
            level.incremental.retain(valid);
            level.stale_incremental = 0;
        }
        if compact_due(level.stale_sequential, level.sequential.len()) {
            level.sequential.retain(|e| valid(&e.ticket));
            // Rebuild the heap bottom-up: O(n).
            for pos in (0..level.sequential.len() / 2).rev() {
                seq_sift_down(&mut level.sequential, pos);
            }
            level.stale_sequential = 0;
        }
    }

    fn next_incremental(&mut self, u: usize) -> Option<u32> {
        let level = &mut self.levels[u];
        while let Some(t) = level.incremental.pop_front() {
            let Some(node) = self.nodes.get_mut(t.slot as usize) else {
                continue;
            };
            if node.generation != t.generation {
                level.stale_incremental = level.stale_incremental.saturating_sub(1);
                continue;
            }
            if node.active {
                level.incremental.push_back(t);
                return Some(node.id);
            }
            node.queued = false;
        }
        None
    }

    fn next_sequential(&mut self, u: usize) -> Option<u32> {
        let level = &mut self.levels[u];
        while let Some(&top) = level.sequential.first() {
            if let Some(node) = self.nodes.get_mut(top.ticket.slot as usize) {
                if node.generation == top.ticket.generation {
                    if node.active {
                        return Some(node.id);
                    }
                    node.queued = false;
                } else {
                    level.stale_sequential = level.stale_sequential.saturating_sub(1);
                }
            }
            seq_pop(&mut level.sequential);
        }
        None
    }
}

impl Scheduler for ExtensibleScheduler {
    fn insert(&mut self, id: u32, priority: PrioritySignal) -> Result<(), PriorityError> {
        if id == 0 {
            return Err(PriorityError::PseudoStream);
        }
        if self.ids.contains_key(&id) {
            return Err(PriorityError::Duplicate(id));
        }
        if self.ids.len() >= self.max_streams {
            return Err(PriorityError::TooMany {
                limit: self.max_streams,
            });
        }
        let p = priority.extensible.unwrap_or_default();
        let fresh = Node {
            id,
            generation: 0,
            urgency: p.urgency.value(),
            incremental: p.incremental,
            active: true,
            queued: false,
        };
        let s = match self.free.pop() {
            Some(s) => {
                let node = &mut self.nodes[s as usize];
                *node = Node {
                    generation: node.generation,
                    ..fresh
                };
                s as usize
            }
            None => {
                self.nodes.push(fresh);
                self.nodes.len() - 1
            }
        };
        self.ids.insert(id, s as u32);
        self.activate(s);
        Ok(())
    }

    fn update(&mut self, id: u32, priority: PrioritySignal) -> Result<(), PriorityError> {
        let s = self.slot(id)?;
        let Some(p) = priority.extensible else {
            return Ok(());
        };
        let node = &self.nodes[s];
        if node.urgency == p.urgency.value() && node.incremental == p.incremental {
            return Ok(());
        }
        let active = node.active;
        if active {
            self.deactivate(s);
        }
        self.retire_ticket(s);
        let node = &mut self.nodes[s];
        node.urgency = p.urgency.value();
        node.incremental = p.incremental;
        if active {
            self.activate(s);
        }
        Ok(())
    }

    fn remove(&mut self, id: u32) -> Result<(), PriorityError> {
        let s = self.slot(id)?;
        if self.nodes[s].active {
            self.deactivate(s);
        }
        self.retire_ticket(s);
        self.nodes[s].active = false;
        self.ids.remove(&id);
        self.free.push(s as u32);
        Ok(())
    }

    fn block(&mut self, id: u32) -> Result<(), PriorityError> {
        let s = self.slot(id)?;
        if self.nodes[s].active {
            self.deactivate(s);
            self.nodes[s].active = false;
        }
        Ok(())
    }

    fn unblock(&mut self, id: u32) -> Result<(), PriorityError> {
        let s = self.slot(id)?;
        if !self.nodes[s].active {
            self.nodes[s].active = true;
            self.activate(s);
        }
        Ok(())
    }

    fn next(&mut self) -> Option<u32> {
        let u = self.mask.trailing_zeros() as usize;
        let level = self.levels.get_mut(u)?;
        let incremental = match (level.active_sequential > 0, level.active_incremental > 0) {
            (true, true) => level.incremental_turn,
            (false, true) => true,
            _ => false,
        };
        if incremental {
            let id = self.next_incremental(u);
            self.levels[u].incremental_turn = false;
            id
        } else {
            let id = self.next_sequential(u);
            self.levels[u].incremental_turn = true;
            id
        }
    }

    fn contains(&self, id: u32) -> bool {
        self.ids.contains_key(&id)
    }

    fn len(&self) -> usize {
        self.ids.len()
    }
}

fn seq_push(heap: &mut Vec<SeqEntry>, e: SeqEntry) {
    heap.push(e);
    let mut pos = heap.len() - 1;
    while pos > 0 {
        let parent = (pos - 1) / 2;
        if heap[parent].id <= e.id {
            break;
        }
        heap[pos] = heap[parent];
        pos = parent;
    }
    heap[pos] = e;
}

fn seq_pop(heap: &mut Vec<SeqEntry>) {
    if heap.is_empty() {
        return;
    }
    let last = heap.len() - 1;
    heap.swap(0, last);
    heap.pop();
    seq_sift_down(heap, 0);
}

fn seq_sift_down(heap: &mut [SeqEntry], mut pos: usize) {
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
        pos = child;
    }
    heap[pos] = e;
}
