//! Interop tests of h2kit against real peers (unpublished).
//!
//! The tests in `tests/` run h2kit's client and server against external programs
//! (`nghttp`, `nghttpd`, `h2load`, `curl`) and against the `h2` crate. A test whose peer
//! binary is missing prints that it skipped and passes, unless `H2KIT_REQUIRE_PEERS=1` is
//! set (as CI does), in which case it fails.

pub mod httpwg;

use std::path::PathBuf;

/// Where a peer program was found, or why the test cannot run.
#[derive(Debug)]
pub enum Peer {
    /// The program's full path.
    Found(PathBuf),
    /// Not installed; the test should return early (it already printed why).
    Skip,
}

/// Whether CI asked for every peer to be present (`H2KIT_REQUIRE_PEERS=1`).
pub fn peers_required() -> bool {
    std::env::var("H2KIT_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// Looks `program` up on `PATH`, then in `/usr/sbin` (where Debian puts `nghttpd`) and in
/// cargo's install directory (`$CARGO_HOME/bin`, else `~/.cargo/bin`, where
/// `cargo install --locked httpwg-cli` puts `httpwg`).
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|cargo_home| cargo_home.join("bin"));
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .chain(cargo_bin)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Finds a peer program for `test`, printing a skip line when it is missing.
///
/// # Panics
///
/// When the program is missing and [`peers_required`] is true: CI must not pass by skipping.
pub fn require_peer(program: &str, test: &str) -> Peer {
    match which(program) {
        Some(path) => Peer::Found(path),
        None if peers_required() => {
            panic!("{test}: peer `{program}` is not installed but H2KIT_REQUIRE_PEERS=1")
        }
        None => {
            eprintln!("SKIPPED {test}: peer `{program}` is not installed");
            Peer::Skip
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_program_that_exists_and_not_one_that_does_not() {
        assert!(which("sh").is_some());
        assert!(which("h2kit-no-such-program-here").is_none());
    }
}
