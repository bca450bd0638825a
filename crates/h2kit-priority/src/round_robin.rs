//! A plain round-robin scheduler: the baseline, and the simplest [`Scheduler`].

use crate::idhash::{StreamMap, stream_map};
use crate::ring::RoundQueue;
use crate::{DEFAULT_MAX_STREAMS, PriorityError, PrioritySignal, Scheduler};

/// Serves active streams in turn, one pick each, ignoring every priority signal.
///
/// Active streams sit in a dense array with a cursor, so `next`, `block`, `unblock`,
/// `insert` and `remove` are O(1) with no allocation once the slab has grown. Each active
/// stream is served once per round; a stream that is unblocked (or inserted) joins the end
/// of the current round. Order within a round may change when streams block.
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
    ids: Vec<u32>,
    active: Vec<bool>,
    pos: Vec<u32>,
    free: Vec<u32>,
    map: StreamMap<u32, u32>,
    queue: RoundQueue,
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
            ids: Vec::new(),
            active: Vec::new(),
            pos: Vec::new(),
            free: Vec::new(),
            map: stream_map(),
            queue: RoundQueue::EMPTY,
            max_streams,
        }
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
}

impl Scheduler for RoundRobin {
    fn insert(&mut self, id: u32, _priority: PrioritySignal) -> Result<(), PriorityError> {
        if id == 0 {
            return Err(PriorityError::PseudoStream);
        }
        if self.map.contains_key(&id) {
            return Err(PriorityError::Duplicate(id));
        }
        if self.map.len() >= self.max_streams {
            return Err(PriorityError::TooMany {
                limit: self.max_streams,
            });
        }
        let s = match self.free.pop() {
            Some(s) => {
                self.ids[s as usize] = id;
                self.active[s as usize] = true;
                s
            }
            None => {
                self.ids.push(id);
                self.active.push(true);
                self.pos.push(0);
                (self.ids.len() - 1) as u32
            }
        };
        self.map.insert(id, s);
        self.queue.push(&mut self.pos, id, s);
        Ok(())
    }

    fn update(&mut self, id: u32, _priority: PrioritySignal) -> Result<(), PriorityError> {
        self.slot(id).map(drop)
    }

    fn remove(&mut self, id: u32) -> Result<(), PriorityError> {
        let s = self.slot(id)?;
        self.map.remove(&id);
        if self.active[s] {
            self.queue.remove(&mut self.pos, s as u32);
        }
        self.active[s] = false;
        self.free.push(s as u32);
        Ok(())
    }

    #[inline]
    fn block(&mut self, id: u32) -> Result<(), PriorityError> {
        let s = self.slot(id)?;
        if self.active[s] {
            self.active[s] = false;
            self.queue.remove(&mut self.pos, s as u32);
        }
        Ok(())
    }

    #[inline]
    fn unblock(&mut self, id: u32) -> Result<(), PriorityError> {
        let s = self.slot(id)?;
        if !self.active[s] {
            self.active[s] = true;
            self.queue.push(&mut self.pos, id, s as u32);
        }
        Ok(())
    }

    #[inline]
    fn next(&mut self) -> Option<u32> {
        self.queue.next()
    }

    fn contains(&self, id: u32) -> bool {
        self.map.contains_key(&id)
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}
