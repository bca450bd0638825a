//! The [`Scheduler`] trait the connection core drives.

use crate::{PriorityError, PrioritySignal};

/// Picks which stream sends the next DATA frame.
///
/// The trait is object safe: the core holds a `Box<dyn Scheduler + Send>` and users can plug in
/// their own. The driving contract, as the core follows it:
///
/// 1. [`insert`](Self::insert) a stream when it opens (or when a PRIORITY frame names an idle
///    stream). A new stream starts **active**, as in python's `priority`; the core
///    [`block`](Self::block)s it at once if it has nothing to send. If the stream is already
///    known (for example an RFC 7540 tree created it as a placeholder parent), call
///    [`update`](Self::update) instead: check with [`contains`](Self::contains).
/// 2. [`block`](Self::block) it when it has no data queued or no flow-control window;
///    [`unblock`](Self::unblock) it when it has both again. Both are idempotent.
/// 3. Call [`next`](Self::next) to choose the stream for the next DATA frame, send one frame's
///    worth, and call `next` again.
/// 4. [`update`](Self::update) it on a PRIORITY or PRIORITY_UPDATE frame.
/// 5. [`remove`](Self::remove) it when it closes.
///
/// Every scheduler receives both kinds of [`PrioritySignal`] and ignores the kind it does not
/// use. Implementations must not panic on any sequence of calls.
pub trait Scheduler {
    /// Adds stream `id` (active) with `priority`; missing parts take their defaults.
    ///
    /// Errors: [`PriorityError::Duplicate`], [`PriorityError::PseudoStream`] for id 0,
    /// [`PriorityError::TooMany`], and for tree schedulers [`PriorityError::BadWeight`] and
    /// [`PriorityError::SelfDependency`].
    fn insert(&mut self, id: u32, priority: PrioritySignal) -> Result<(), PriorityError>;

    /// Changes the priority of stream `id`; parts that are `None` stay as they are.
    ///
    /// Errors: [`PriorityError::Missing`] and the validation errors of
    /// [`insert`](Self::insert).
    fn update(&mut self, id: u32, priority: PrioritySignal) -> Result<(), PriorityError>;

    /// Removes stream `id`. Not idempotent: removing an absent stream is
    /// [`PriorityError::Missing`].
    fn remove(&mut self, id: u32) -> Result<(), PriorityError>;

    /// Marks stream `id` as unable to send. Idempotent; [`PriorityError::Missing`] if absent.
    fn block(&mut self, id: u32) -> Result<(), PriorityError>;

    /// Marks stream `id` as able to send. Idempotent; [`PriorityError::Missing`] if absent.
    fn unblock(&mut self, id: u32) -> Result<(), PriorityError>;

    /// The stream that should send next, or `None` when every stream is blocked (or there
    /// are none). The returned stream is always active.
    fn next(&mut self) -> Option<u32>;

    /// Whether stream `id` is in the scheduler.
    fn contains(&self, id: u32) -> bool;

    /// How many streams are in the scheduler (blocked or not).
    fn len(&self) -> usize;

    /// Whether the scheduler holds no stream.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<S: Scheduler + ?Sized> Scheduler for Box<S> {
    fn insert(&mut self, id: u32, priority: PrioritySignal) -> Result<(), PriorityError> {
        (**self).insert(id, priority)
    }
    fn update(&mut self, id: u32, priority: PrioritySignal) -> Result<(), PriorityError> {
        (**self).update(id, priority)
    }
    fn remove(&mut self, id: u32) -> Result<(), PriorityError> {
        (**self).remove(id)
    }
    fn block(&mut self, id: u32) -> Result<(), PriorityError> {
        (**self).block(id)
    }
    fn unblock(&mut self, id: u32) -> Result<(), PriorityError> {
        (**self).unblock(id)
    }
    fn next(&mut self) -> Option<u32> {
        (**self).next()
    }
    fn contains(&self, id: u32) -> bool {
        (**self).contains(id)
    }
    fn len(&self) -> usize {
        (**self).len()
    }
}
