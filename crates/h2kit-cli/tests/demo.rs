//! `h2kit demo` run as a process: every step passes and is reported, `--trace` shows frames.

use std::process::{Command, Output};

fn demo(extra: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_h2kit"))
        .arg("demo")
        .arg("--quick")
        .args(extra)
        .output()
        .expect("run h2kit demo");
    assert!(
        output.status.success(),
        "h2kit demo {extra:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn demo_passes_every_step_and_prints_a_summary() {
    let output = demo(&[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "1/7 Multiplexing",
        "on 1 TCP connection",
        "2/7 Large download",
        "matches the server's",
        "3/7 Streamed upload",
        "4/7 Trailers",
        "x-echo-x-demo-note: sent-last",
        "5/7 Server push",
        "pushed /style.css",
        "6/7 Priority",
        "overtook",
        "7/7 PING",
        "PINGs answered",
        "Summary",
        "1 TCP connection",
        "All 7 steps passed",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains('✗'),
        "a step reported a failure:\n{stdout}"
    );
    // The frame table counts both directions; a single-step run would show far fewer.
    let headers_line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("HEADERS"))
        .unwrap_or_else(|| panic!("no HEADERS row in:\n{stdout}"));
    let counts: Vec<u64> = headers_line
        .split_whitespace()
        .skip(1)
        .map(|n| n.parse().expect("a count"))
        .collect();
    assert!(
        counts.len() == 2 && counts.iter().all(|&n| n > 200),
        "{headers_line}"
    );
    // Without --trace no frame lines are printed.
    assert!(!stdout.contains("send → HEADERS"), "{stdout}");
}

#[test]
fn demo_trace_prints_frames_with_decoded_headers() {
    let output = demo(&["--trace"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "send → SETTINGS",
        "recv ← SETTINGS",
        "send → HEADERS",
        "recv ← HEADERS",
        "send → DATA",
        "recv ← DATA",
        "recv ← PUSH_PROMISE",
        ":path: /hello/0",
        ":status: 200",
        "All 7 steps passed",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from the trace"
        );
    }
}

#[test]
fn demo_rejects_unknown_arguments() {
    let output = Command::new(env!("CARGO_BIN_EXE_h2kit"))
        .args(["demo", "--no-such-flag"])
        .output()
        .expect("run h2kit demo");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--no-such-flag"));
}
