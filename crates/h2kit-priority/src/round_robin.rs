//! A plain round-robin scheduler: the baseline, and the simplest [`Scheduler`].

use std::collections::{HashMap, VecDeque};

use crate::lazy::{Ticket, compact_due};
use crate::{DEFAULT_MAX_STREAMS, PriorityError, PrioritySignal, Scheduler};

#[derive(Debug)]
struct Node {
    id: u32,
    generation: u32,
    active: bool,
    /// Has a ticket of the current generation in the queue.
    queued: bool,
}

/// Serves active streams in turn, one pick each, ignoring every priority signal.
///
/// `next`, `block`, `unblock`, `insert` and `remove` are O(1) (amortised): blocked or removed
/// streams leave their queue entry behind, and it is dropped when it comes up or when stale
/// entries outnumber live ones.
///
/// ```
/// use h2kit_priority::{PrioritySignal, RoundRobin, Scheduler};
///
/// let mut rr = RoundRobin::new();
/// for id in [1, 3, 5] {
///     rr.insert(id, PrioritySignal::NONE)?;
/// }
/// rr.block(3)?;
/// assert_eq!([rr.next(), rr.next(), rr.next()], [Some(1), Some(5), Some(1)]);
/// # Ok::<(), h2kit_priority::PriorityError>(())
/// ```
#[derive(Debug)]
pub struct RoundRobin {
    nodes: Vec<Node>,
    free: Vec<u32>,
    ids: HashMap<u32, u32>,
    queue: VecDeque<Ticket>,
    stale: usize,
    active: usize,
    max_streams: usize,
}

impl Default for RoundRobin {
    fn default() -> Self {
        Self::new()
    }
}

impl RoundRobin {
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
            queue: VecDeque::new(),
            stale: 0,
            active: 0,
            max_streams,
        }
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

    /// Entries in the queue, stale ones included (for tests of memory bounds).
    #[doc(hidden)]
    pub fn queue_entries(&self) -> usize {
        self.queue.len()
    }

    fn compact(&mut self) {
        if compact_due(self.stale, self.queue.len()) {
            let nodes = &self.nodes;
            self.queue.retain(|t| {
                nodes
                    .get(t.slot as usize)
                    .is_some_and(|n| n.generation == t.generation)
            });
            self.stale = 0;
        }
    }
}

impl Scheduler for RoundRobin {
    fn insert(&mut self, id: u32, _priority: PrioritySignal) -> Result<(), PriorityError> {
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
        let slot = match self.free.pop() {
            Some(s) => {
                let node = &mut self.nodes[s as usize];
                node.id = id;
                node.active = true;
                node.queued = true;
                s
            }
            None => {
                self.nodes.push(Node {
                    id,
                    generation: 0,
                    active: true,
                    queued: true,
                });
                (self.nodes.len() - 1) as u32
            }
        };
        self.ids.insert(id, slot);
        self.active += 1;
        let generation = self.nodes[slot as usize].generation;
        self.queue.push_back(Ticket { slot, generation });
        Ok(())
    }

    fn update(&mut self, id: u32, _priority: PrioritySignal) -> Result<(), PriorityError> {
        self.slot(id).map(drop)
    }

    fn remove(&mut self, id: u32) -> Result<(), PriorityError> {
        let s = self.slot(id)?;
        self.ids.remove(&id);
        let node = &mut self.nodes[s];
        if node.active {
            self.active -= 1;
        }
        if node.queued {
            self.stale += 1;
        }
        node.generation = node.generation.wrapping_add(1);
        node.active = false;
        node.queued = false;
        self.free.push(s as u32);
        self.compact();
        Ok(())
    }

    fn block(&mut self, id: u32) -> Result<(), PriorityError> {
        let s = self.slot(id)?;
        let node = &mut self.nodes[s];
        if node.active {
            node.active = false;
            self.active -= 1;
        }
        Ok(())
    }

    fn unblock(&mut self, id: u32) -> Result<(), PriorityError> {
        let s = self.slot(id)?;
        let node = &mut self.nodes[s];
        if !node.active {
            node.active = true;
            self.active += 1;
            if !node.queued {
                node.queued = true;
                let generation = node.generation;
                self.queue.push_back(Ticket {
                    slot: s as u32,
                    generation,
                });
            }
        }
        Ok(())
    }

    fn next(&mut self) -> Option<u32> {
        if self.active == 0 {
            return None;
        }
        while let Some(t) = self.queue.pop_front() {
            let Some(node) = self.nodes.get_mut(t.slot as usize) else {
                continue;
            };
            if node.generation != t.generation {
                self.stale = self.stale.saturating_sub(1);
                continue;
            }
            if node.active {
                let id = node.id;
                self.queue.push_back(t);
                return Some(id);
            }
            node.queued = false;
        }
        None
    }

    fn contains(&self, id: u32) -> bool {
        self.ids.contains_key(&id)
    }

    fn len(&self) -> usize {
        self.ids.len()
    }
}
