//! The HPACK test-case corpus kept in the repository (`crates/h2kit-hpack/tests/data/hpack-test-case`,
//! one gzip-compressed JSON story per file), loaded for the HPACK bench and the `hpack_profile`
//! example.
//!
//! Loading panics with a clear message when the corpus is missing or malformed: these are
//! benchmark inputs, not peer data.

use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;

/// A header list as (name, value) pairs.
pub type Headers = Vec<(Vec<u8>, Vec<u8>)>;

/// One story: each case's wire bytes (if the folder has them) and headers.
#[derive(Debug, Clone)]
pub struct Story {
    /// The cases in order; they share one compression context.
    pub cases: Vec<(Option<Bytes>, Headers)>,
}

/// The corpus directory.
///
/// # Panics
///
/// When it is missing from the checkout.
pub fn dir() -> PathBuf {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../h2kit-hpack/tests/data/hpack-test-case"
    ));
    assert!(
        dir.join("raw-data").is_dir(),
        "the HPACK corpus is missing at {}: it is part of the repository",
        dir.display()
    );
    dir.to_path_buf()
}

fn unhex(s: &str) -> Bytes {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect::<Vec<u8>>()
        .into()
}

/// Every story of `folder` (e.g. `raw-data`, `nghttp2`), in name order.
///
/// # Panics
///
/// When the folder or a story cannot be read or parsed.
pub fn load(folder: &str) -> Vec<Story> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir().join(folder))
        .expect("corpus folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let mut text = String::new();
            flate2::read::GzDecoder::new(std::fs::File::open(p).expect("open story"))
                .read_to_string(&mut text)
                .expect("gzip-compressed story");
            let json: serde_json::Value = serde_json::from_str(&text).expect("json");
            let cases = json["cases"]
                .as_array()
                .expect("cases")
                .iter()
                .map(|c| {
                    let headers = c["headers"]
                        .as_array()
                        .expect("headers")
                        .iter()
                        .flat_map(|h| h.as_object().expect("object").iter())
                        .map(|(k, v)| {
                            (
                                k.as_bytes().to_vec(),
                                v.as_str().expect("str").as_bytes().to_vec(),
                            )
                        })
                        .collect();
                    (c["wire"].as_str().map(unhex), headers)
                })
                .collect();
            Story { cases }
        })
        .collect()
}

/// The sum of name and value lengths over every case of `stories`.
pub fn plain_size(stories: &[Story]) -> u64 {
    stories
        .iter()
        .flat_map(|s| &s.cases)
        .flat_map(|(_, h)| h)
        .map(|(n, v)| (n.len() + v.len()) as u64)
        .sum()
}
