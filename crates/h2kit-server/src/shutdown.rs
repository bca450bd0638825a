//! The server's shutdown signal as its connections watch it.
//!
//! A connection task looks at the signal every time it runs, once per request or more, so
//! looking must cost next to nothing: one atomic load, and a waker comparison once the task
//! is registered. (A `watch` channel's `changed()` future took its waiter list's lock on
//! every poll, about 400 instructions per request at one stream per connection.) Each watch
//! registers its task's waker once, in a slot of its own, and the trigger wakes them all.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// What a trigger and its signals share.
#[derive(Debug, Default)]
struct Shared {
    down: AtomicBool,
    waiters: Mutex<Waiters>,
}

/// The registered wakers, one slot per watch; freed slots are used again.
#[derive(Debug, Default)]
struct Waiters {
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl Shared {
    fn waiters(&self) -> MutexGuard<'_, Waiters> {
        // The list holds no invariant a panic half-way could break: take it back.
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Fires the signal: by [`fire`](Self::fire), or when dropped (a server that goes away
/// shuts its connections down, as a dropped `watch` sender did).
#[derive(Debug)]
pub(crate) struct Trigger {
    shared: Arc<Shared>,
}

/// The signal, as handed to each connection.
#[derive(Clone, Debug)]
pub(crate) struct Signal {
    shared: Arc<Shared>,
}

/// One connection's watch of the signal.
#[derive(Debug)]
pub(crate) struct Watch {
    shared: Arc<Shared>,
    /// The slot holding our waker, once registered.
    slot: Option<usize>,
    /// The waker registered, to tell whether a poll comes from the same task.
    waker: Option<Waker>,
}

/// A trigger and the signal it fires.
pub(crate) fn channel() -> (Trigger, Signal) {
    let shared = Arc::new(Shared::default());
    (
        Trigger {
            shared: shared.clone(),
        },
        Signal { shared },
    )
}

impl Trigger {
    /// Fires the signal: every watch sees it, and every registered task is woken.
    pub(crate) fn fire(&self) {
        self.shared.down.store(true, Ordering::Release);
        let wakers: Vec<Waker> = {
            let mut waiters = self.shared.waiters();
            waiters.slots.iter_mut().filter_map(Option::take).collect()
        };
        for waker in wakers {
            waker.wake();
        }
    }
}

impl Drop for Trigger {
    fn drop(&mut self) {
        self.fire();
    }
}

impl Signal {
    /// A signal that never fires (a connection served on its own, tests).
    #[cfg(test)]
    pub(crate) fn never() -> Signal {
        let (trigger, signal) = channel();
        // Not dropped, which would fire it.
        std::mem::forget(trigger);
        signal
    }

    /// Whether the signal has fired.
    pub(crate) fn is_down(&self) -> bool {
        self.shared.down.load(Ordering::Acquire)
    }

    /// A watch of the signal for one task.
    pub(crate) fn watch(&self) -> Watch {
        Watch {
            shared: self.shared.clone(),
            slot: None,
            waker: None,
        }
    }
}

impl Watch {
    /// Ready once the signal has fired; otherwise the task of `cx` is woken when it does.
    pub(crate) fn poll_down(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.shared.down.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        let mut waiters = self.shared.waiters();
        // Looked at again under the lock: `fire` sets the flag before it takes the wakers,
        // so either it is seen here or our waker is among those taken.
        if self.shared.down.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        let waker = cx.waker().clone();
        match self.slot {
            Some(i) => waiters.slots[i] = Some(waker.clone()),
            None => {
                let i = match waiters.free.pop() {
                    Some(i) => {
                        waiters.slots[i] = Some(waker.clone());
                        i
                    }
                    None => {
                        waiters.slots.push(Some(waker.clone()));
                        waiters.slots.len() - 1
                    }
                };
                self.slot = Some(i);
            }
        }
        drop(waiters);
        self.waker = Some(waker);
        Poll::Pending
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            let mut waiters = self.shared.waiters();
            waiters.slots[i] = None;
            waiters.free.push(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    use super::*;

    /// Counts its wakes.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn fires_once_for_every_watch_and_wakes_their_tasks() {
        let (trigger, signal) = channel();
        let counts: Vec<Arc<Count>> = (0..3)
            .map(|_| Arc::new(Count(AtomicUsize::new(0))))
            .collect();
        let mut watches: Vec<Watch> = (0..3).map(|_| signal.watch()).collect();
        for (w, c) in watches.iter_mut().zip(&counts) {
            let waker = Waker::from(c.clone());
            let mut cx = Context::from_waker(&waker);
            assert!(w.poll_down(&mut cx).is_pending());
            // A second poll from the same task registers nothing new.
            assert!(w.poll_down(&mut cx).is_pending());
        }
        // A dropped watch gives its slot back, and is not woken.
        drop(watches.pop());
        assert_eq!(signal.shared.waiters().free, vec![2]);
        assert!(!signal.is_down());
        trigger.fire();
        assert!(signal.is_down());
        let wakes: Vec<usize> = counts.iter().map(|c| c.0.load(Ordering::SeqCst)).collect();
        assert_eq!(wakes, [1, 1, 0]);
        let waker = Waker::from(counts[0].clone());
        assert!(
            watches[0]
                .poll_down(&mut Context::from_waker(&waker))
                .is_ready()
        );
    }

    #[test]
    fn a_new_waker_replaces_the_old_one_and_a_dropped_trigger_fires() {
        let (trigger, signal) = channel();
        let (a, b) = (
            Arc::new(Count(AtomicUsize::new(0))),
            Arc::new(Count(AtomicUsize::new(0))),
        );
        let mut watch = signal.watch();
        let wa = Waker::from(a.clone());
        let wb = Waker::from(b.clone());
        assert!(watch.poll_down(&mut Context::from_waker(&wa)).is_pending());
        assert!(watch.poll_down(&mut Context::from_waker(&wb)).is_pending());
        assert_eq!(signal.shared.waiters().slots.len(), 1);
        drop(trigger);
        assert_eq!(
            (a.0.load(Ordering::SeqCst), b.0.load(Ordering::SeqCst)),
            (0, 1)
        );
        assert!(watch.poll_down(&mut Context::from_waker(&wa)).is_ready());
        assert!(!Signal::never().is_down());
    }
}
