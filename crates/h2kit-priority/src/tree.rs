//! The RFC 7540 §5.3 priority tree with an H2O-style stride scheduler.
//!
//! # Design
//!
//! Nodes live in a slab (two parallel vectors plus a free list: `Node`, the 32 bytes
//! `next` reads and writes, and `Links`, the rest) and are found by stream id through a hash
//! map. Each node keeps an intrusive doubly linked list of its children (all of them) and a
//! queue of the children that may have something to send, keyed by `(pass, stream id)`: a
//! sorted array while it holds at most 16 entries, a 4-ary min-heap beyond.
//!
//! A node is *schedulable* when it is active or when at least one child is schedulable
//! (`sched_children > 0`). Every schedulable child has an entry in its parent's heap. Entries
//! of children that stopped being schedulable are left in place and dropped lazily when they
//! reach the top, so [`block`](PriorityTree::block) and [`unblock`](PriorityTree::unblock)
//! only touch `sched_children` counters on the way up, stopping at the first ancestor whose
//! state does not change, and at most push one heap entry per level.
//!
//! [`next`](PriorityTree::next) descends from the root through heap tops (only schedulable
//! subtrees are ever visited), stops at the first active node, then walks back up advancing
//! each node on the path by `256 / weight` with the remainder carried (python `priority`'s and
//! H2O's stride) and moving it back into order in its parent's queue (a shift along a short
//! sorted array, a sift down a heap): O(depth · log siblings), no allocation. A queue
//! crossing the 16-entry bound is re-sorted when it shrinks (a heap is already in order when
//! it grows), so churn around the bound costs a bounded 16-entry sort per removal.
//!
//! # Virtual time and re-basing
//!
//! A node's `pass` is its place in its parent's virtual time, and `pass + deficit / weight`
//! is that place exactly (a pick adds exactly `256 / weight`). A parent's *virtual time* `V`
//! is its `last_level`: the pass its most recently served child had when it was picked (that
//! child's start tag, as in start-time fair queueing), 0 for a node none of whose children
//! has been served. `V` only grows, and no queued entry's pass is below it, so `V` is a lower
//! bound of the parent's queue minimum and equals it at every pick. And no schedulable
//! child's exact place is a whole stride plus one pass unit ahead of `V`: when it was last
//! served its pass was that pick's `V` and its exact place less than one unit more.
//!
//! A stream that changes place other than by being served is re-based so that this stays
//! true. Its *lead* is how far ahead of its parent's `V` it is, in 256ths of a turn:
//! `(pass - V) * weight + deficit` with its old parent and old weight, 0 if it is behind `V`,
//! and at most `256 + weight - 1` (what a pick itself leaves, so a stream that keeps its
//! weight and parent keeps its place). It is then placed at `V + lead / weight` of its new
//! parent with its new weight, `lead % weight` carried: stride scheduling's rule for a
//! change of tickets, which scales the pass still to go by the ratio of the strides. So a
//! stream served at weight 1 (a whole turn, 256, ahead) and raised to weight 100 is 2.56
//! ahead, not 256. This applies to a reprioritisation under the same parent (re-based in
//! place, its queue entry moved), to every move to a new parent (a reprioritisation, a
//! descendant lifted out by RFC 7540 §5.3.3, the children of a removed stream with their new
//! weights, a parent's children adopted by an exclusive stream), and to insertion (lead 0:
//! a new stream starts at `V`, so it is served before siblings served since, as in python).
//! A stream becoming schedulable again (unblocked, or a child of it unblocked) whose queue
//! entry was dropped rejoins at `max(pass, V)`, the rule with its unchanged weight: no
//! credit is banked while blocked, and no turn is skipped by blocking and unblocking. An
//! entry still queued (dropped lazily only on reaching the top) is left alone: its pass is
//! already in range, since `V` only grows.

use crate::idhash::{StreamMap, stream_map};
use crate::{DEFAULT_WEIGHT, PriorityError, PrioritySignal, Scheduler, TreePriority};

/// The default limit on real streams in a [`PriorityTree`].
pub const DEFAULT_MAX_STREAMS: usize = 1000;

const ROOT: usize = 0;
const NIL: u32 = u32::MAX;

/// A heap entry: `pass << 64 | id << 32 | slot` in one `u128`, ordered as an integer.
///
/// Ordering by the whole number is ordering by `(pass, id)`: ids are unique among siblings,
/// so the slot bits never decide. Comparing two entries is a branch-free subtract with
/// borrow (the heap's choice between two children is a coin toss that a branch predictor
/// loses half the time), and an entry is read and written as two 8-byte halves, never as
/// narrow fields that a wide copy would then have to reassemble (a store-forwarding stall).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry(u128);

impl Entry {
    #[inline]
    fn new(pass: u64, id: u32, slot: u32) -> Self {
        Self((u128::from(pass) << 64) | (u128::from(id) << 32) | u128::from(slot))
    }

    #[inline]
    fn pass(self) -> u64 {
        (self.0 >> 64) as u64
    }

    #[inline]
    fn id(self) -> u32 {
        (self.0 >> 32) as u32
    }

    #[inline]
    fn slot(self) -> usize {
        self.0 as u32 as usize
    }

    #[inline]
    fn key(self) -> u128 {
        self.0
    }
}

/// The part of a node that [`PriorityTree::next`] reads and writes for every stream on the
/// picked path, kept in 32 bytes so that a thousand of them fit in L1 next to the heaps.
#[derive(Debug)]
struct Node {
    /// Position in the parent's queue (equal to the heap entry's pass while in the heap).
    pass: u64,
    /// Remainder of `256 + deficit` over the weight, carried between picks.
    deficit: u32,
    parent: u32,
    /// Children that are schedulable.
    sched_children: u32,
    id: u32,
    weight: u16,
    /// `256 / weight`.
    stride: u16,
    /// `256 % weight`.
    stride_rem: u16,
    /// Not blocked (the root is never active).
    active: bool,
    /// Has an entry (maybe stale) in the parent's heap.
    in_heap: bool,
}

/// The rest of a node, in a parallel slab: the child list, and the node's own queue of
/// children (read by `next` only for the nodes it passes through, not for each child).
#[derive(Debug)]
struct Links {
    first_child: u32,
    last_child: u32,
    prev: u32,
    next: u32,
    /// The virtual time of this node's children (`V` in the module doc): the pass of the
    /// child most recently served from this node's heap, as it was when it was picked.
    last_level: u64,
    heap: Vec<Entry>,
}

impl Links {
    const EMPTY: Self = Self {
        first_child: NIL,
        last_child: NIL,
        prev: NIL,
        next: NIL,
        last_level: 0,
        heap: Vec::new(),
    };

    /// Resets the links of a reused slot, keeping the heap's allocation.
    fn reset(&mut self) {
        let mut heap = std::mem::take(&mut self.heap);
        heap.clear();
        *self = Self {
            heap,
            ..Self::EMPTY
        };
    }
}

impl Node {
    fn new(id: u32, weight: u16) -> Self {
        Self {
            id,
            weight,
            active: true,
            in_heap: false,
            parent: NIL,
            sched_children: 0,
            pass: 0,
            deficit: 0,
            stride: 256 / weight.max(1),
            stride_rem: 256 % weight.max(1),
        }
    }

    /// Sets the weight (`1..=256`) and its precomputed stride. The caller places the node
    /// afterwards ([`PriorityTree::place`]), which sets the pass and the carried remainder
    /// for the new weight.
    fn set_weight(&mut self, weight: u16) {
        let weight = weight.clamp(1, 256);
        self.weight = weight;
        self.stride = 256 / weight;
        self.stride_rem = 256 % weight;
    }

    #[inline]
    fn schedulable(&self) -> bool {
        self.active || self.sched_children > 0
    }
}

/// An RFC 7540 §5.3 priority tree that hands out streams in proportion to their weights.
///
/// The API follows python's `priority.PriorityTree`: streams are inserted (active), blocked
/// and unblocked as they run out of and regain data or window, reprioritised and removed, and
/// [`next`](Self::next) names the stream to send next (the tree is also an [`Iterator`] of
/// them, as python's is). Among active siblings, each is picked
/// exactly `weight` times over `sum(weights)` picks; an active stream is always served
/// before its descendants, and a blocked stream's share goes to its descendants (or, if it
/// has none active, to its siblings).
///
/// Differences from python, each an RFC 7540 fix: reprioritising a stream under its own
/// descendant first moves that descendant to the stream's old parent (§5.3.3); removing a
/// stream gives its children its weight in proportion to theirs (§5.3.4); cycle detection
/// has no depth cap; the stream limit counts real streams only; a stream cannot depend on
/// itself.
///
/// ```
/// use h2kit_priority::PriorityTree;
///
/// let mut tree = PriorityTree::new();
/// tree.insert_stream(1, None, 32, false)?;
/// tree.insert_stream(3, None, 16, false)?;
/// let picks: Vec<u32> = (0..6).map(|_| tree.next()).collect::<Result<_, _>>()?;
/// assert_eq!(picks.iter().filter(|&&id| id == 1).count(), 4);
/// # Ok::<(), h2kit_priority::PriorityError>(())
/// ```
#[derive(Debug)]
pub struct PriorityTree {
    nodes: Vec<Node>,
    /// Parallel to `nodes`.
    links: Vec<Links>,
    free: Vec<u32>,
    ids: StreamMap<u32, u32>,
    max_streams: usize,
}

impl Default for PriorityTree {
    fn default() -> Self {
        Self::new()
    }
}

impl PriorityTree {
    /// An empty tree allowing [`DEFAULT_MAX_STREAMS`] streams.
    pub fn new() -> Self {
        Self::with_max_streams(DEFAULT_MAX_STREAMS)
    }

    /// An empty tree allowing `max_streams` real streams (the root, stream 0, does not
    /// count). Placeholder parents created for a missing `depends_on` do count.
    pub fn with_max_streams(max_streams: usize) -> Self {
        let mut root = Node::new(0, 1);
        root.active = false;
        Self {
            nodes: vec![root],
            links: vec![Links::EMPTY],
            free: Vec::new(),
            ids: stream_map(),
            max_streams,
        }
    }

    /// The configured stream limit.
    pub fn max_streams(&self) -> usize {
        self.max_streams
    }

    /// How many real streams are in the tree.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the tree holds no stream besides the root.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether stream `id` is in the tree (stream 0 never is).
    pub fn contains(&self, id: u32) -> bool {
        self.ids.contains_key(&id)
    }

    /// The parent of stream `id` (0 for the root), or `None` if it is not in the tree.
    pub fn parent(&self, id: u32) -> Option<u32> {
        let s = self.slot(id).ok()?;
        let p = self.nodes.get(self.nodes[s].parent as usize)?;
        Some(p.id)
    }

    /// The weight of stream `id`, or `None` if it is not in the tree.
    pub fn weight(&self, id: u32) -> Option<u16> {
        Some(self.nodes[self.slot(id).ok()?].weight)
    }

    /// Whether stream `id` is blocked, or `None` if it is not in the tree.
    pub fn is_blocked(&self, id: u32) -> Option<bool> {
        Some(!self.nodes[self.slot(id).ok()?].active)
    }

    /// The children of stream `id` (0 for the root) in insertion order, or `None` if it is
    /// not in the tree.
    pub fn children(&self, id: u32) -> Option<Vec<u32>> {
        let s = if id == 0 { ROOT } else { self.slot(id).ok()? };
        let mut out = Vec::new();
        let mut c = self.links[s].first_child;
        while c != NIL {
            out.push(self.nodes[c as usize].id);
            c = self.links[c as usize].next;
        }
        Some(out)
    }

    /// Inserts stream `id`, active, under `depends_on` (`None` or `Some(0)` is the root) with
    /// `weight` (`1..=256`). If `exclusive`, the parent's other children become children of
    /// `id`. A missing parent is first created under the root with the default priority,
    /// blocked.
    pub fn insert_stream(
        &mut self,
        id: u32,
        depends_on: Option<u32>,
        weight: u16,
        exclusive: bool,
    ) -> Result<(), PriorityError> {
        validate(id, depends_on, weight)?;
        if self.ids.contains_key(&id) {
            return Err(PriorityError::Duplicate(id));
        }
        let parent_id = depends_on.unwrap_or(0);
        let parent_missing = parent_id != 0 && !self.ids.contains_key(&parent_id);
        self.check_room(1 + usize::from(parent_missing))?;
        let parent = self.parent_slot(parent_id);
        let s = self.alloc(id, weight);
        if exclusive {
            self.move_children(parent, s);
        }
        self.attach(s, parent, 0);
        Ok(())
    }

    /// Gives stream `id` a new parent, weight and exclusive flag (python's `reprioritize`).
    ///
    /// If `depends_on` is a descendant of `id`, that descendant first moves (with its
    /// subtree and weight) to `id`'s old parent (RFC 7540 §5.3.3). A missing parent is
    /// created as in [`insert_stream`](Self::insert_stream).
    ///
    /// The stream's place in the schedule is re-based on its (new) parent's current
    /// position and rescaled for the new weight: what it still had to wait of its last turn
    /// is kept as a fraction of a turn, so a stream raised from weight 1 to 100 just after
    /// being served waits 1/100 of the time it would have at weight 1, not all of it. With
    /// the same parent, weight and no `exclusive`, nothing changes.
    pub fn reprioritize(
        &mut self,
        id: u32,
        depends_on: Option<u32>,
        weight: u16,
        exclusive: bool,
    ) -> Result<(), PriorityError> {
        validate(id, depends_on, weight)?;
        let s = self.slot(id)?;
        let parent_id = depends_on.unwrap_or(0);
        if parent_id != 0 && !self.ids.contains_key(&parent_id) {
            self.check_room(1)?;
        }
        let p = self.parent_slot(parent_id);
        let old_parent = self.nodes[s].parent as usize;
        if self.is_descendant(p, s) {
            let lead = self.lead(p);
            self.detach(p);
            self.attach(p, old_parent, lead);
        }
        let lead = self.lead(s);
        self.nodes[s].set_weight(weight);
        if p == old_parent && !exclusive {
            self.rebase_in_place(s, lead);
            return Ok(());
        }
        self.detach(s);
        if exclusive {
            self.move_children(p, s);
        }
        self.attach(s, p, lead);
        Ok(())
    }

    /// Removes stream `id`. Its children move to its parent, sharing its weight in proportion
    /// to their own weights, each kept within `1..=256` (RFC 7540 §5.3.4). Not idempotent.
    pub fn remove_stream(&mut self, id: u32) -> Result<(), PriorityError> {
        if id == 0 {
            return Err(PriorityError::PseudoStream);
        }
        let s = self.slot(id)?;
        let parent = self.nodes[s].parent as usize;
        let weight = u64::from(self.nodes[s].weight);
        let mut sum = 0u64;
        let mut c = self.links[s].first_child;
        while c != NIL {
            sum += u64::from(self.nodes[c as usize].weight);
            c = self.links[c as usize].next;
        }
        self.clear_heap(s);
        while self.links[s].first_child != NIL {
            let c = self.links[s].first_child as usize;
            let lead = self.lead(c);
            self.detach(c);
            // sum > 0 here: every child has weight >= 1.
            let share = (weight * u64::from(self.nodes[c].weight) + sum / 2) / sum.max(1);
            self.nodes[c].set_weight(share.clamp(1, 256) as u16);
            self.attach(c, parent, lead);
        }
        self.detach(s);
        self.ids.remove(&id);
        let node = &mut self.nodes[s];
        node.id = 0;
        node.active = false;
        self.links[s].heap.clear();
        self.free.push(s as u32);
        Ok(())
    }

    /// Marks stream `id` as unable to send; its share goes to its descendants. Idempotent.
    #[inline]
    pub fn block(&mut self, id: u32) -> Result<(), PriorityError> {
        let s = self.slot_nonzero(id)?;
        if self.nodes[s].active {
            self.nodes[s].active = false;
            if !self.nodes[s].schedulable() {
                self.became_unschedulable(s);
            }
        }
        Ok(())
    }

    /// Marks stream `id` as able to send again. Idempotent.
    #[inline]
    pub fn unblock(&mut self, id: u32) -> Result<(), PriorityError> {
        let s = self.slot_nonzero(id)?;
        if !self.nodes[s].active {
            let was = self.nodes[s].schedulable();
            self.nodes[s].active = true;
            if !was {
                self.became_schedulable(s);
            }
        }
        Ok(())
    }

    /// The stream that should send next: [`PriorityError::Deadlock`] when every stream is
    /// blocked or the tree is empty.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Result<u32, PriorityError> {
        let mut cur = ROOT;
        let (chosen, id) = loop {
            let (child, id) = loop {
                let Some(top) = self.links[cur].heap.first().copied() else {
                    // Only reachable at the root with nothing schedulable: the invariant
                    // keeps a schedulable child in every schedulable node's heap.
                    return Err(PriorityError::Deadlock);
                };
                let c = top.slot();
                if self.nodes[c].schedulable() {
                    break (c, top.id());
                }
                queue_remove(&mut self.links[cur].heap, 0);
                self.nodes[c].in_heap = false;
            };
            if self.nodes[child].active {
                break (child, id);
            }
            cur = child;
        };
        let mut x = chosen;
        while x != ROOT {
            let node = &mut self.nodes[x];
            // (256 + deficit) / weight and its remainder, without a division: 256 / weight
            // and 256 % weight are precomputed and the two remainders add up to < 2 weight.
            let weight = u32::from(node.weight);
            let mut step = u32::from(node.stride);
            let mut deficit = node.deficit + u32::from(node.stride_rem);
            if deficit >= weight {
                deficit -= weight;
                step += 1;
            }
            node.deficit = deficit;
            let old = node.pass;
            node.pass = old + u64::from(step);
            // `x` is the top of its parent's heap (the descent came through it); its entry
            // is rebuilt from the node rather than read back.
            let entry = Entry::new(node.pass, node.id, x as u32);
            let p = node.parent as usize;
            let parent = &mut self.links[p];
            parent.last_level = old;
            replace_min(&mut parent.heap, entry);
            x = p;
        }
        Ok(id)
    }

    fn slot(&self, id: u32) -> Result<usize, PriorityError> {
        self.ids
            .get(&id)
            .map(|&s| s as usize)
            .ok_or(PriorityError::Missing(id))
    }

    fn slot_nonzero(&self, id: u32) -> Result<usize, PriorityError> {
        if id == 0 {
            return Err(PriorityError::PseudoStream);
        }
        self.slot(id)
    }

    fn check_room(&self, needed: usize) -> Result<(), PriorityError> {
        if self.ids.len() + needed > self.max_streams {
            return Err(PriorityError::TooMany {
                limit: self.max_streams,
            });
        }
        Ok(())
    }

    /// The slot of `parent_id`, creating it blocked under the root if missing. The caller
    /// has checked the limit.
    fn parent_slot(&mut self, parent_id: u32) -> usize {
        if parent_id == 0 {
            return ROOT;
        }
        if let Some(&s) = self.ids.get(&parent_id) {
            return s as usize;
        }
        let s = self.alloc(parent_id, DEFAULT_WEIGHT);
        self.nodes[s].active = false;
        self.attach(s, ROOT, 0);
        s
    }

    fn alloc(&mut self, id: u32, weight: u16) -> usize {
        let s = match self.free.pop() {
            Some(s) => {
                self.nodes[s as usize] = Node::new(id, weight);
                self.links[s as usize].reset();
                s as usize
            }
            None => {
                self.nodes.push(Node::new(id, weight));
                self.links.push(Links::EMPTY);
                self.nodes.len() - 1
            }
        };
        self.ids.insert(id, s as u32);
        s
    }

    /// Whether `node` is `ancestor` or lies below it. Walks parent pointers up to the root:
    /// the tree is acyclic by construction, so no depth cap is needed (the bound on the
    /// number of steps only guards against a bug turning into a hang).
    fn is_descendant(&self, node: usize, ancestor: usize) -> bool {
        let mut x = node;
        for _ in 0..self.nodes.len() {
            if x == ancestor {
                return true;
            }
            if x == ROOT {
                return false;
            }
            x = self.nodes[x].parent as usize;
        }
        false
    }

    /// `s` went from not schedulable to schedulable: make sure it is queued in its parent and
    /// tell the ancestors, stopping at the first that already was schedulable.
    fn became_schedulable(&mut self, s: usize) {
        let mut s = s;
        loop {
            let p = self.nodes[s].parent as usize;
            if p >= self.nodes.len() {
                return;
            }
            if !self.nodes[s].in_heap {
                // Re-based with an unchanged weight: a node whose entry was dropped is not
                // ahead of `V` by more than `place` allows (it was dropped on reaching the
                // top, then a sibling at or after it was served, or it was placed since), so
                // only a node that fell behind moves, to `V` exactly.
                let level = self.links[p].last_level;
                let node = &mut self.nodes[s];
                if node.pass < level {
                    node.pass = level;
                    node.deficit = 0;
                }
                node.in_heap = true;
                queue_push(
                    &mut self.links[p].heap,
                    Entry::new(node.pass, node.id, s as u32),
                );
            }
            let parent = &mut self.nodes[p];
            let was = parent.schedulable();
            parent.sched_children += 1;
            if was || p == ROOT {
                return;
            }
            s = p;
        }
    }

    /// `s` went from schedulable to not: tell the ancestors. Heap entries stay (lazy).
    fn became_unschedulable(&mut self, s: usize) {
        let mut s = s;
        loop {
            let p = self.nodes[s].parent as usize;
            let Some(parent) = self.nodes.get_mut(p) else {
                return;
            };
            parent.sched_children = parent.sched_children.saturating_sub(1);
            if p == ROOT || parent.schedulable() {
                return;
            }
            s = p;
        }
    }

    /// Unlinks `s` from its parent (child list, heap, counters).
    fn detach(&mut self, s: usize) {
        let p = self.nodes[s].parent;
        if p == NIL {
            return;
        }
        let p = p as usize;
        if self.nodes[s].schedulable() {
            self.became_unschedulable(s);
        }
        if self.nodes[s].in_heap {
            let heap = &mut self.links[p].heap;
            if let Some(pos) = heap.iter().position(|e| e.slot() == s) {
                queue_remove(heap, pos);
            }
            self.nodes[s].in_heap = false;
        }
        let (prev, next) = (self.links[s].prev, self.links[s].next);
        if prev == NIL {
            self.links[p].first_child = next;
        } else {
            self.links[prev as usize].next = next;
        }
        if next == NIL {
            self.links[p].last_child = prev;
        } else {
            self.links[next as usize].prev = prev;
        }
        self.nodes[s].parent = NIL;
        let links = &mut self.links[s];
        links.prev = NIL;
        links.next = NIL;
    }

    /// How far `s` is ahead of its parent's virtual time `V`, in 256ths of a turn (one
    /// turn is a stride, `256 / weight`): `(pass - V) * weight + deficit`, or 0 if it is
    /// behind. Measured with the current weight and parent, before either changes; see
    /// the module doc.
    fn lead(&self, s: usize) -> u64 {
        let node = &self.nodes[s];
        let level = self
            .links
            .get(node.parent as usize)
            .map_or(0, |l| l.last_level);
        if node.pass < level {
            return 0;
        }
        (node.pass - level)
            .saturating_mul(u64::from(node.weight))
            .saturating_add(u64::from(node.deficit))
    }

    /// Sets the pass and carried remainder of `s` for a `lead` (from [`lead`](Self::lead))
    /// over the virtual time `level`, with its current weight `w`: `level + lead / w`, the
    /// remainder `lead % w` carried. The lead is capped at `256 + w - 1`, the most a pick
    /// leaves, so a stream is never placed further than one stride plus one pass unit
    /// ahead of `level` (and one that keeps its weight and parent stays where it was).
    fn place(&mut self, s: usize, level: u64, lead: u64) {
        let node = &mut self.nodes[s];
        let w = u64::from(node.weight.max(1));
        let lead = lead.min(256 + w - 1);
        node.pass = level + lead / w;
        node.deficit = (lead % w) as u32;
    }

    /// Re-bases `s` on its own parent's virtual time after a weight change (`lead` taken
    /// with the old weight), moving its queue entry, stale or not, to the new pass.
    fn rebase_in_place(&mut self, s: usize, lead: u64) {
        let p = self.nodes[s].parent as usize;
        let Some(level) = self.links.get(p).map(|l| l.last_level) else {
            return;
        };
        let (id, old_pass) = (self.nodes[s].id, self.nodes[s].pass);
        self.place(s, level, lead);
        let new_pass = self.nodes[s].pass;
        if !self.nodes[s].in_heap || new_pass == old_pass {
            return;
        }
        let old = Entry::new(old_pass, id, s as u32);
        let heap = &mut self.links[p].heap;
        if let Some(pos) = queue_find(heap, old) {
            queue_replace(heap, pos, Entry::new(new_pass, id, s as u32));
        }
    }

    /// Links a detached `s` as the last child of `p`, re-based on `p`'s virtual time with
    /// `lead` (see [`place`](Self::place)), and queues it there if it is schedulable.
    fn attach(&mut self, s: usize, p: usize, lead: u64) {
        let last = self.links[p].last_child;
        let level = self.links[p].last_level;
        self.place(s, level, lead);
        let node = &mut self.nodes[s];
        node.parent = p as u32;
        let links = &mut self.links[s];
        links.prev = last;
        links.next = NIL;
        if last == NIL {
            self.links[p].first_child = s as u32;
        } else {
            self.links[last as usize].next = s as u32;
        }
        self.links[p].last_child = s as u32;
        if self.nodes[s].schedulable() {
            self.became_schedulable(s);
        }
    }

    /// Drops every entry of `s`'s heap (so detaching its children costs O(1) each).
    fn clear_heap(&mut self, s: usize) {
        let mut heap = std::mem::take(&mut self.links[s].heap);
        for e in &heap {
            if let Some(n) = self.nodes.get_mut(e.slot()) {
                n.in_heap = false;
            }
        }
        heap.clear();
        self.links[s].heap = heap;
    }

    /// Moves every child of `from` under `to` (exclusive insertion), in order, each keeping
    /// its lead over `from`'s virtual time as its lead over `to`'s.
    fn move_children(&mut self, from: usize, to: usize) {
        self.clear_heap(from);
        while self.links[from].first_child != NIL {
            let c = self.links[from].first_child as usize;
            let lead = self.lead(c);
            self.detach(c);
            self.attach(c, to, lead);
        }
    }

    /// Checks every structural invariant, for tests. Returns a description of the first
    /// violation.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut live = vec![false; self.nodes.len()];
        live[ROOT] = true;
        for (&id, &s) in &self.ids {
            let node = self
                .nodes
                .get(s as usize)
                .ok_or("map points past the slab")?;
            if node.id != id || id == 0 {
                return Err(format!("slot {s} holds id {} not {id}", node.id));
            }
            live[s as usize] = true;
        }
        let mut seen_as_child = vec![0u32; self.nodes.len()];
        if self.links.len() != self.nodes.len() {
            return Err("node and link slabs differ in length".into());
        }
        for (s, (node, links)) in self.nodes.iter().zip(&self.links).enumerate() {
            if !live[s] {
                continue;
            }
            if s == ROOT {
                if node.parent != NIL || node.active {
                    return Err("root has a parent or is active".into());
                }
            } else {
                let p = node.parent as usize;
                if !live.get(p).copied().unwrap_or(false) {
                    return Err(format!("stream {} has a dead parent", node.id));
                }
                if !(1..=256).contains(&node.weight) {
                    return Err(format!("stream {} has weight {}", node.id, node.weight));
                }
                if !self.is_descendant(s, ROOT) {
                    return Err(format!("stream {} is not below the root", node.id));
                }
            }
            let mut c = links.first_child;
            let mut prev = NIL;
            let mut sched = 0;
            while c != NIL {
                let child = &self.nodes[c as usize];
                if child.parent as usize != s || self.links[c as usize].prev != prev {
                    return Err(format!("child list of {} disagrees with parent", node.id));
                }
                seen_as_child[c as usize] += 1;
                if seen_as_child[c as usize] > 1 {
                    return Err(format!("stream {} is in two child lists", child.id));
                }
                if child.schedulable() {
                    sched += 1;
                    if !child.in_heap {
                        return Err(format!("schedulable {} missing from heap", child.id));
                    }
                }
                prev = c;
                c = self.links[c as usize].next;
            }
            if links.last_child != prev {
                return Err(format!("last_child of {} is wrong", node.id));
            }
            if sched != node.sched_children {
                return Err(format!("sched_children of {} is wrong", node.id));
            }
            let in_heap = links.heap.iter().filter(|e| live[e.slot()]).count();
            if in_heap != links.heap.len() {
                return Err(format!("heap of {} holds a dead node", node.id));
            }
            for (i, e) in links.heap.iter().enumerate() {
                let child = &self.nodes[e.slot()];
                if child.parent as usize != s || !child.in_heap || child.pass != e.pass() {
                    return Err(format!(
                        "heap entry of {} under {} is wrong",
                        child.id, node.id
                    ));
                }
                let above = if links.heap.len() > SMALL {
                    (i.max(1) - 1) / ARITY
                } else {
                    i.max(1) - 1
                };
                if i > 0 && links.heap[above].key() > e.key() {
                    return Err(format!("heap of {} is out of order", node.id));
                }
            }
            let children = (0..self.nodes.len())
                .filter(|&c| live[c] && c != ROOT && self.nodes[c].parent as usize == s)
                .count();
            let listed = {
                let mut n = 0;
                let mut c = links.first_child;
                while c != NIL {
                    n += 1;
                    c = self.links[c as usize].next;
                }
                n
            };
            if children != listed {
                return Err(format!(
                    "parent pointers and child list of {} differ",
                    node.id
                ));
            }
        }
        Ok(())
    }
}

fn validate(id: u32, depends_on: Option<u32>, weight: u16) -> Result<(), PriorityError> {
    if id == 0 {
        return Err(PriorityError::PseudoStream);
    }
    if !(1..=256).contains(&weight) {
        return Err(PriorityError::BadWeight(weight));
    }
    if depends_on == Some(id) {
        return Err(PriorityError::SelfDependency(id));
    }
    Ok(())
}

/// Queues of at most this many entries are kept sorted rather than as heaps. Serving the
/// smallest entry then shifts the few entries below its new key down by one, a run of
/// independent moves, where a heap pays a chain of dependent loads and comparisons per
/// level. The bound keeps every operation O(log n): at most `SMALL` moves, or one sort of
/// `SMALL` entries. A sorted queue is also a valid heap, so a queue that outgrows the bound
/// needs no reordering.
const SMALL: usize = 16;

/// Replaces the smallest entry (the first) with `e`, whose key is larger (the stream just
/// served).
#[inline(always)]
fn replace_min(q: &mut [Entry], e: Entry) {
    if q.len() > SMALL {
        replace_top(q, e);
        return;
    }
    let mut i = 0;
    while let Some(&next) = q.get(i + 1) {
        if next >= e {
            break;
        }
        q[i] = next;
        i += 1;
    }
    if let Some(slot) = q.get_mut(i) {
        *slot = e;
    }
}

/// Adds `e` to a queue: in order while the queue is short, as a heap push after.
fn queue_push(q: &mut Vec<Entry>, e: Entry) {
    if q.len() < SMALL {
        let at = q.partition_point(|&x| x < e);
        q.insert(at, e);
    } else {
        q.push(e);
        let last = q.len() - 1;
        sift_hole_up(q, last, e);
    }
}

/// Removes the entry at `pos` from a queue, sorting a heap that shrinks to [`SMALL`]
/// entries.
fn queue_remove(q: &mut Vec<Entry>, pos: usize) {
    if pos >= q.len() {
        return;
    }
    if q.len() > SMALL {
        heap_remove(q, pos);
        if q.len() == SMALL {
            q.sort_unstable();
        }
    } else {
        q.remove(pos);
    }
}

/// The position of entry `e` in a queue: a binary search of a sorted array, a scan of a
/// heap.
fn queue_find(q: &[Entry], e: Entry) -> Option<usize> {
    if q.len() > SMALL {
        q.iter().position(|&x| x == e)
    } else {
        let at = q.partition_point(|&x| x < e);
        (q.get(at) == Some(&e)).then_some(at)
    }
}

/// Replaces the entry at `pos` of a queue with `e` and restores the order.
fn queue_replace(q: &mut Vec<Entry>, pos: usize, e: Entry) {
    if pos >= q.len() {
        return;
    }
    if q.len() > SMALL {
        q[pos] = e;
        sift_down(q, pos);
        sift_up(q, pos);
    } else {
        q.remove(pos);
        let at = q.partition_point(|&x| x < e);
        q.insert(at, e);
    }
}

fn heap_remove(heap: &mut Vec<Entry>, pos: usize) {
    if pos >= heap.len() {
        return;
    }
    let last = heap.len() - 1;
    heap.swap(pos, last);
    heap.pop();
    if pos < heap.len() {
        sift_down(heap, pos);
        sift_up(heap, pos);
    }
}

/// Children per heap node. A 4-ary heap is half as deep as a binary one (five levels for a
/// thousand siblings), and the smallest of four children is found with two rounds of
/// independent comparisons, so a sift costs fewer dependent loads. Keys are unique, so the
/// arity does not change which stream is on top.
const ARITY: usize = 4;

#[inline]
fn sift_up(heap: &mut [Entry], pos: usize) {
    if let Some(&e) = heap.get(pos) {
        sift_hole_up(heap, pos, e);
    }
}

/// Places `e` in the hole at `pos` or above it. `e` comes in a register rather than being
/// read back from the heap: a fresh narrow store read back by a wide load stalls on store
/// forwarding.
#[inline]
fn sift_hole_up(heap: &mut [Entry], mut pos: usize, e: Entry) {
    let key = e.key();
    while pos > 0 {
        let parent = (pos - 1) / ARITY;
        if heap[parent].key() <= key {
            break;
        }
        heap[pos] = heap[parent];
        pos = parent;
    }
    heap[pos] = e;
}

/// The position and value of the smallest of the children starting at `first`
/// (`first < heap.len()`).
#[inline]
fn smallest_child(heap: &[Entry], first: usize) -> (usize, Entry) {
    if let Some(&[a, b, c, d]) = heap.get(first..first + ARITY) {
        // A full set: two rounds of independent, branch-free comparisons, keeping the value
        // so that it need not be loaded again.
        let (i, x) = if b < a { (1, b) } else { (0, a) };
        let (j, y) = if d < c { (3, d) } else { (2, c) };
        let (k, z) = if y < x { (j, y) } else { (i, x) };
        return (first + k, z);
    }
    // The last, partial set of the heap.
    let mut best = (first, heap[first]);
    for (i, &v) in heap.iter().enumerate().take(first + ARITY).skip(first + 1) {
        if v < best.1 {
            best = (i, v);
        }
    }
    best
}

/// Places `e` in the hole at `pos` or below it.
#[inline(always)]
fn sift_hole_down(heap: &mut [Entry], mut pos: usize, e: Entry) {
    let len = heap.len();
    loop {
        let first = ARITY * pos + 1;
        if first >= len {
            break;
        }
        let (child, v) = smallest_child(heap, first);
        if v >= e {
            break;
        }
        heap[pos] = v;
        pos = child;
    }
    heap[pos] = e;
}

/// Replaces the top with `e`, whose key is not smaller (the stream just served).
#[inline]
fn replace_top(heap: &mut [Entry], e: Entry) {
    if !heap.is_empty() {
        sift_hole_down(heap, 0, e);
    }
}

fn sift_down(heap: &mut [Entry], pos: usize) {
    if let Some(&e) = heap.get(pos) {
        sift_hole_down(heap, pos, e);
    }
}

/// python's `PriorityTree` is an iterator, and so is this one: it yields the stream that
/// should send next, as [`next`](PriorityTree::next) does, and ends (`None`) where that
/// returns [`PriorityError::Deadlock`] and python raises `DeadlockError`: when no stream is
/// active. It is not fused: after a stream is inserted or unblocked it yields again. While
/// some stream is active it never ends, so bound it (`take`) rather than `collect` it.
///
/// Method-call syntax finds the inherent [`next`](PriorityTree::next) first, so
/// `tree.next()`, and `tree.by_ref().next()` too, return a `Result`. The iterator's `next`
/// is `Iterator::next(&mut tree)`; the adapters (`tree.by_ref().take(n)`, a `for` loop over
/// `&mut tree`) use it.
///
/// ```
/// use h2kit_priority::PriorityTree;
///
/// let mut tree = PriorityTree::new();
/// tree.insert_stream(1, None, 32, false)?;
/// tree.insert_stream(3, None, 16, false)?;
/// // Weights 32 and 16: two picks in three for stream 1.
/// let picks: Vec<u32> = tree.by_ref().take(6).collect();
/// assert_eq!(picks.iter().filter(|&&id| id == 1).count(), 4);
///
/// // With nothing active the iterator ends, where python raises `DeadlockError`.
/// tree.block(1)?;
/// tree.block(3)?;
/// assert_eq!(Iterator::next(&mut tree), None);
/// assert_eq!((&mut tree).count(), 0);
///
/// // Not fused: an unblocked stream is yielded again.
/// tree.unblock(3)?;
/// for id in (&mut tree).take(3) {
///     assert_eq!(id, 3);
/// }
/// # Ok::<(), h2kit_priority::PriorityError>(())
/// ```
impl Iterator for PriorityTree {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        PriorityTree::next(self).ok()
    }
}

impl Scheduler for PriorityTree {
    fn insert(&mut self, id: u32, priority: PrioritySignal) -> Result<(), PriorityError> {
        let t = priority.tree.unwrap_or(TreePriority::DEFAULT);
        self.insert_stream(id, Some(t.depends_on), t.weight, t.exclusive)
    }

    fn update(&mut self, id: u32, priority: PrioritySignal) -> Result<(), PriorityError> {
        match priority.tree {
            Some(t) => self.reprioritize(id, Some(t.depends_on), t.weight, t.exclusive),
            None => self.slot_nonzero(id).map(drop),
        }
    }

    fn remove(&mut self, id: u32) -> Result<(), PriorityError> {
        self.remove_stream(id)
    }

    fn block(&mut self, id: u32) -> Result<(), PriorityError> {
        PriorityTree::block(self, id)
    }

    fn unblock(&mut self, id: u32) -> Result<(), PriorityError> {
        PriorityTree::unblock(self, id)
    }

    fn next(&mut self) -> Option<u32> {
        PriorityTree::next(self).ok()
    }

    fn contains(&self, id: u32) -> bool {
        PriorityTree::contains(self, id)
    }

    fn len(&self) -> usize {
        PriorityTree::len(self)
    }
}
