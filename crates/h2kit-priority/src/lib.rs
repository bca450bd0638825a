//! HTTP/2 stream scheduling for h2kit: which stream sends the next DATA frame.
//!
//! Three schedulers sit behind one object-safe [`Scheduler`] trait, so the connection core
//! holds a `Box<dyn Scheduler + Send>` and users can plug in their own:
//!
//! - [`PriorityTree`]: the RFC 7540 §5.3 dependency tree with python `priority`'s API and
//!   its H2O-derived stride scheduler (each active sibling is served `weight` times per
//!   `sum(weights)` picks; a blocked stream's share goes to its descendants), with python's
//!   defects fixed.
//! - [`ExtensibleScheduler`]: RFC 9218 urgency and incremental (lowest urgency first;
//!   non-incremental one at a time by stream id, incremental round-robin).
//! - [`RoundRobin`]: every active stream in turn, the baseline.
//!
//! The core feeds every scheduler both kinds of signal in a [`PrioritySignal`]: a
//! [`TreePriority`] from HEADERS/PRIORITY frames and an [`ExtensiblePriority`] parsed from
//! the `priority` header field or a PRIORITY_UPDATE frame ([`PriorityUpdate`]); each
//! scheduler uses what it understands. Errors are a typed [`PriorityError`].
//!
//! The driving contract (see [`Scheduler`]): insert on open (streams start active), block
//! when a stream has no data or no window, unblock when it has both, call `next` before each
//! DATA frame, update on PRIORITY / PRIORITY_UPDATE, remove on close. `next`, `block` and
//! `unblock` cost O(1) (round robin, RFC 9218) or O(depth · log siblings) (tree) with no
//! allocation in steady state; `benches/priority.rs` in `h2kit-bench` measures them.
//!
//! ```
//! use h2kit_priority::{
//!     ExtensiblePriority, ExtensibleScheduler, PriorityTree, PrioritySignal, Scheduler,
//!     TreePriority,
//! };
//!
//! // The core picks a scheduler once and drives it through the trait.
//! let mut schedulers: Vec<Box<dyn Scheduler + Send>> =
//!     vec![Box::new(PriorityTree::new()), Box::new(ExtensibleScheduler::new())];
//! for s in &mut schedulers {
//!     // Stream 1: weight 64 (RFC 7540) and `priority: u=1` (RFC 9218).
//!     let both = PrioritySignal {
//!         tree: Some(TreePriority::from_wire(0, 63, false)),
//!         extensible: Some(ExtensiblePriority::parse(b"u=1")),
//!     };
//!     s.insert(1, both)?;
//!     s.insert(3, PrioritySignal::NONE)?; // weight 16, u=3
//!     let first = s.next();
//!     assert_eq!(first, Some(1));
//!     s.block(1)?; // out of data or window
//!     assert_eq!(s.next(), Some(3));
//!     s.remove(3)?; // closed
//!     assert_eq!(s.next(), None); // nothing can send
//! }
//!
//! // python `priority`'s README: weights 16/32/8 share 560 picks as 160/320/80.
//! let mut tree = PriorityTree::new();
//! tree.insert_stream(1, None, 16, false)?;
//! tree.insert_stream(3, None, 32, false)?;
//! tree.insert_stream(5, None, 8, false)?;
//! let mut count = [0; 3];
//! for _ in 0..560 {
//!     count[(tree.next()? / 2) as usize] += 1;
//! }
//! assert_eq!(count, [160, 320, 80]);
//! # Ok::<(), h2kit_priority::PriorityError>(())
//! ```

mod error;
mod extensible;
pub mod idhash;
mod ring;
mod round_robin;
mod scheduler;
mod signal;
mod tree;

pub use error::PriorityError;
pub use extensible::ExtensibleScheduler;
pub use round_robin::RoundRobin;
pub use scheduler::Scheduler;
pub use signal::{
    DEFAULT_WEIGHT, ExtensiblePriority, PrioritySignal, PriorityUpdate, ShortPriorityUpdate,
    TreePriority, Urgency,
};
pub use tree::{DEFAULT_MAX_STREAMS, PriorityTree};
