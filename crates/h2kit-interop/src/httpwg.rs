//! Running the independent RFC 9113 conformance suite `httpwg` (`cargo install --locked
//! httpwg-cli`) against a server on a loopback address, and checking its report.
//!
//! Shared by the core's conformance test (a std-socket server) and the driver's (the tokio
//! server and `h2kit serve`).

use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long the whole suite may take (it needs well under a second when nothing stalls).
pub const SUITE_LIMIT: Duration = Duration::from_secs(120);

/// The fewest cases a complete run has (httpwg-cli 0.2.5 has 107).
pub const MIN_CASES: u32 = 107;

/// What one `httpwg` run reported.
#[derive(Debug)]
pub struct Report {
    /// Exit status; `None` when it was killed after [`SUITE_LIMIT`].
    pub status: Option<ExitStatus>,
    /// stdout and stderr, colour codes removed.
    pub output: String,
}

impl Report {
    /// Full names ("RFC 9113 :: section :: case") of the lines starting with `mark`.
    fn cases(&self, mark: &str) -> Vec<&str> {
        self.output
            .lines()
            .filter_map(|l| l.split_once(mark).map(|(_, name)| name.trim()))
            .collect()
    }

    /// Cases that started (`-v` prints each) but did not report success: the failed and the
    /// panicked ones (a panicking case prints no "Test failed" line).
    pub fn failed(&self) -> Vec<&str> {
        let passed = self.cases("Test passed: ");
        let mut failed: Vec<&str> = self
            .cases("Running test: ")
            .into_iter()
            .filter(|c| !passed.contains(c))
            .collect();
        failed.sort_unstable();
        failed
    }

    /// "Passed N/M" from the summary line.
    pub fn summary(&self) -> Option<(u32, u32)> {
        passed(&self.output)
    }

    /// The last lines of the output, without the per-case progress lines.
    pub fn tail(&self) -> String {
        let lines: Vec<&str> = self
            .output
            .lines()
            .filter(|l| !l.contains("Test passed: ") && !l.contains("Running test: "))
            .collect();
        lines[lines.len().saturating_sub(80)..].join("\n")
    }

    /// Asserts the run finished in time, ran at least [`MIN_CASES`] cases, and that the cases
    /// that did not pass are exactly `expected_failures` (sorted).
    ///
    /// # Panics
    ///
    /// When any of that does not hold: this is a test assertion.
    pub fn check(&self, expected_failures: &[&str]) {
        let summary = self.summary();
        let failed = self.failed();
        println!(
            "httpwg: {summary:?}, exit {:?}, not passed: {failed:#?}",
            self.status
        );
        assert!(
            self.status.is_some(),
            "httpwg did not finish within {SUITE_LIMIT:?}\n{}",
            self.tail()
        );
        let (n, m) =
            summary.unwrap_or_else(|| panic!("httpwg printed no summary line\n{}", self.output));
        assert!(m >= MIN_CASES, "httpwg ran only {m} cases");
        assert_eq!(
            failed,
            expected_failures,
            "httpwg passed {n}/{m}; cases not passed differ from the expected list\n{}",
            self.tail()
        );
        assert_eq!(n as usize + failed.len(), m as usize, "{}", self.tail());
        if expected_failures.is_empty() {
            assert!(self.status.is_some_and(|s| s.success()), "{}", self.tail());
        }
    }
}

/// Runs `httpwg -v -a addr` (frame and connect timeouts of 2 s instead of 250 ms, so a loaded
/// machine does not fail cases), killing it after [`SUITE_LIMIT`].
pub fn run(httpwg: &Path, addr: &str) -> std::io::Result<Report> {
    let mut child = Command::new(httpwg)
        .args([
            "-v",
            "--frame-timeout",
            "2000",
            "--connect-timeout",
            "2000",
            "-a",
            addr,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut r| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    })
    .collect();
    let deadline = Instant::now() + SUITE_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut output = String::new();
    for r in readers {
        output.push_str(&String::from_utf8_lossy(&r.join().unwrap_or_default()));
    }
    Ok(Report {
        status,
        output: strip_ansi(&output),
    })
}

/// Removes ANSI colour sequences (ESC [ parameters final-byte).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// "Passed N/M tests" from httpwg's summary line.
pub fn passed(output: &str) -> Option<(u32, u32)> {
    let line = output.lines().find(|l| l.contains("Passed "))?;
    let counts = line.split("Passed ").nth(1)?.split_whitespace().next()?;
    let (n, m) = counts.split_once('/')?;
    Some((n.parse().ok()?, m.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_parsed_through_colour_codes() {
        let line = "\u{1b}[1m🚄 Passed \u{1b}[1;32m104/107\u{1b}[0m tests in 0.35 seconds";
        assert_eq!(passed(&strip_ansi(line)), Some((104, 107)));
        assert_eq!(passed("nothing"), None);
    }

    #[test]
    fn cases_that_started_but_did_not_pass_are_failures() {
        let report = Report {
            status: None,
            output: "Running test: A :: one\nTest passed: A :: one\nRunning test: A :: two\n\
                     Running test: A :: three\nTest failed: A :: three\n"
                .into(),
        };
        assert_eq!(report.failed(), vec!["A :: three", "A :: two"]);
    }
}
