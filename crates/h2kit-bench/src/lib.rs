//! Shared helpers for h2kit's benchmarks (unpublished).
//!
//! The criterion benches live in `benches/`; run them with `cargo bench -p h2kit-bench`.

pub mod corpus;
pub mod relay;
