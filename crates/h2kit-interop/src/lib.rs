//! Interop tests of h2kit against real peers (unpublished).
//!
//! The tests in `tests/` run h2kit's client and server against external programs
//! (`nghttp`, `nghttpd`, `h2load`, `curl`, Go's `net/http` through [`go_peer`]) and against
//! the `h2` crate. A test whose peer
//! binary is missing prints that it skipped and passes, unless `H2KIT_REQUIRE_PEERS=1` is
//! set (as CI does), in which case it fails.

pub mod httpwg;
pub mod proxy;
pub mod server;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh directory under the system temp directory, removed with its contents on drop.
/// The name holds `tag`, the process id and a per-process counter, so tests running in
/// parallel never share one.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `h2kit-{tag}-{pid}-{n}` under [`std::env::temp_dir`].
    pub fn new(tag: &str) -> std::io::Result<TempDir> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("h2kit-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for a peer program told to listen on
/// it).
pub fn free_port() -> std::io::Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
}

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

/// Where Debian's `golang-golang-x-net-dev` puts `golang.org/x/net` (a GOPATH tree).
const DEBIAN_GOPATH: &str = "/usr/share/gocode";

/// Builds `go/h2peer` (Go's `net/http` client and server, with `golang.org/x/net/http2` for
/// h2c; see its doc comment) once per test binary and returns the program, or
/// [`Peer::Skip`] after printing why when Go or `golang.org/x/net` is missing.
///
/// It builds in GOPATH mode against `$H2KIT_GOPATH` (default `/usr/share/gocode`, Debian's
/// `golang-golang-x-net-dev`), so no module download is needed.
///
/// # Panics
///
/// When a prerequisite is missing and [`peers_required`] is true, or when the build fails.
pub fn go_peer(test: &str) -> Peer {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(build_go_peer);
    match built {
        Ok(path) => Peer::Found(path.clone()),
        Err(why) if peers_required() => panic!("{test}: {why} but H2KIT_REQUIRE_PEERS=1"),
        Err(why) => {
            eprintln!("SKIPPED {test}: {why}");
            Peer::Skip
        }
    }
}

fn build_go_peer() -> Result<PathBuf, String> {
    let go = which("go").ok_or("peer `go` is not installed (Debian golang-go)")?;
    let gopath = std::env::var_os("H2KIT_GOPATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEBIAN_GOPATH));
    if !gopath.join("src/golang.org/x/net/http2/h2c").is_dir() {
        return Err(format!(
            "golang.org/x/net is not in {} (Debian golang-golang-x-net-dev)",
            gopath.display()
        ));
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("go/h2peer");
    // One program for every test process (each used to leave an 8 MB binary behind): built
    // under a name of this process's own, then renamed over the shared one, which a process
    // already running it keeps open.
    let out_dir = std::env::temp_dir().join("h2kit-go-peer");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let built = out_dir.join(format!("h2peer.{}", std::process::id()));
    let program = out_dir.join("h2peer");
    let cache = std::env::var_os("GOCACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("h2kit-go-cache"));
    let out = std::process::Command::new(go)
        .arg("build")
        .arg("-o")
        .arg(&built)
        .arg(".")
        .current_dir(&source)
        .env("GO111MODULE", "off")
        .env("GOPATH", &gopath)
        .env("GOCACHE", &cache)
        .env("GOFLAGS", "")
        .output()
        .map_err(|e| format!("running go: {e}"))?;
    assert!(
        out.status.success(),
        "go build of {} failed:\n{}",
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&built, &program).map_err(|e| format!("{}: {e}", program.display()))?;
    Ok(program)
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
