//! Loading the hpack-test-case corpus kept in this crate (`tests/data/hpack-test-case`, see its
//! README.md): one gzip-compressed JSON story per file.

#![allow(dead_code, unreachable_pub)]

use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use h2kit_hpack::HeaderField;

/// One case of a story.
pub struct Case {
    pub seqno: usize,
    pub header_table_size: Option<usize>,
    pub wire: Option<Bytes>,
    pub headers: Vec<(Bytes, Bytes)>,
}

/// One story: its file name and its cases.
pub struct Story {
    pub name: String,
    pub cases: Vec<Case>,
}

/// The corpus directory; panics with a clear message if it is missing.
pub fn corpus_dir() -> PathBuf {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/hpack-test-case"
    ));
    assert!(
        dir.join("raw-data").is_dir(),
        "the HPACK corpus is missing at {}: it is part of the repository",
        dir.display()
    );
    dir.to_path_buf()
}

/// Folders of the corpus, sorted.
pub fn folders() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("read corpus dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// A story file's JSON text, decompressed.
pub fn read_gz(path: &Path) -> String {
    let file = std::fs::File::open(path).expect("open story");
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .expect("story is gzip-compressed UTF-8");
    text
}

fn unhex(s: &str) -> Bytes {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect::<Vec<u8>>()
        .into()
}

/// All stories of one folder, sorted by name.
pub fn stories(folder: &str) -> Vec<Story> {
    let dir = corpus_dir().join(folder);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read folder")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no stories in {}", dir.display());
    paths
        .iter()
        .map(|p| {
            let text = read_gz(p);
            let json: serde_json::Value = serde_json::from_str(&text).expect("story is JSON");
            let cases = json["cases"]
                .as_array()
                .expect("cases")
                .iter()
                .enumerate()
                .map(|(i, c)| Case {
                    seqno: c["seqno"].as_u64().map_or(i, |n| n as usize),
                    header_table_size: c["header_table_size"].as_u64().map(|n| n as usize),
                    wire: c["wire"].as_str().map(unhex),
                    headers: c["headers"]
                        .as_array()
                        .expect("headers")
                        .iter()
                        .flat_map(|h| h.as_object().expect("header object").iter())
                        .map(|(k, v)| {
                            (
                                Bytes::copy_from_slice(k.as_bytes()),
                                Bytes::copy_from_slice(v.as_str().expect("value").as_bytes()),
                            )
                        })
                        .collect(),
                })
                .collect();
            Story {
                name: format!(
                    "{folder}/{}",
                    p.file_stem().unwrap_or_default().to_string_lossy()
                ),
                cases,
            }
        })
        .collect()
}

/// Name/value pairs of decoded fields.
pub fn pairs(fields: &[HeaderField]) -> Vec<(Bytes, Bytes)> {
    fields
        .iter()
        .map(|f| (f.name.clone(), f.value.clone()))
        .collect()
}
