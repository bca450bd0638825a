//! HTTP/2 stream scheduling for h2kit (under construction: the trait and signal types).

mod error;
mod extensible;
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
