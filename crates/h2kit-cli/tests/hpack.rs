//! `h2kit hpack deflate` then `inflate` gives the headers back; a corrupted wire fails
//! with a message naming the case.

use std::path::PathBuf;
use std::process::{Command, Output};

fn h2kit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_h2kit"))
        .args(args)
        .output()
        .expect("run h2kit")
}

fn temp(name: &str, contents: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("h2kit-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).expect("write temp file");
    path
}

fn headers(story: &serde_json::Value) -> Vec<serde_json::Value> {
    story["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| c["headers"].clone())
        .collect()
}

const STORY: &str = r#"{
  "cases": [
    {"headers": [{":method": "GET"}, {":path": "/"}, {":authority": "example.com"}, {"cookie": "a=b"}]},
    {"headers": [{":method": "GET"}, {":path": "/style.css"}, {":authority": "example.com"}]},
    {"headers": [{":method": "POST"}, {":path": "/api"}, {":authority": "example.com"}, {"x-long": "0123456789012345678901234567890123456789"}]}
  ]
}"#;

#[test]
fn deflate_then_inflate_gives_the_headers_back() {
    let input = temp("story.json", STORY);
    for huffman in ["auto", "always", "never"] {
        let out = h2kit(&[
            "hpack",
            "deflate",
            input.to_str().expect("utf-8 path"),
            "--table-size",
            "256",
            "--huffman",
            huffman,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary = String::from_utf8_lossy(&out.stderr);
        assert!(summary.contains("cases: 3"), "summary: {summary}");
        let deflated = temp(
            &format!("deflated-{huffman}.json"),
            &String::from_utf8_lossy(&out.stdout),
        );
        let out = h2kit(&["hpack", "inflate", deflated.to_str().expect("utf-8 path")]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let inflated: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let original: serde_json::Value = serde_json::from_str(STORY).expect("JSON");
        assert_eq!(headers(&inflated), headers(&original));
        let _ = std::fs::remove_file(deflated);
    }
    let _ = std::fs::remove_file(input);
}

#[test]
fn a_corrupted_wire_fails_naming_the_seqno() {
    let story = r#"{"cases": [
        {"seqno": 0, "wire": "82", "headers": []},
        {"seqno": 1, "wire": "80", "headers": []}
    ]}"#;
    let input = temp("corrupt.json", story);
    let out = h2kit(&["hpack", "inflate", input.to_str().expect("utf-8 path")]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("seqno 1"), "stderr: {stderr}");
    assert!(stderr.contains("index 0"), "stderr: {stderr}");
    let _ = std::fs::remove_file(input);
}
