//! One module per subcommand; `main.rs` only parses arguments and calls `run`.

pub(crate) mod demo;
pub(crate) mod get;
pub(crate) mod hpack;
pub(crate) mod serve;
pub(crate) mod trace;
