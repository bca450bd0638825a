//! `h2kit hpack inflate|deflate`: decode and encode hpack-test-case JSON stories, as
//! nghttp2's `inflatehd` and `deflatehd` do.

use std::io::{Read, Write};
use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use h2kit_hpack::{Decoder, Encoder, HuffmanPolicy};
use serde_json::{Map, Value, json};

/// Huffman policy as given on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub(crate) enum Huffman {
    /// Huffman-code a string only when it gets shorter.
    #[default]
    Auto,
    /// Always Huffman-code.
    Always,
    /// Never Huffman-code.
    Never,
}

/// Reads the story from `file`, or stdin when absent; returns its name and JSON.
fn read_story(file: Option<&PathBuf>) -> Result<(String, Value), String> {
    let (name, text) = match file {
        Some(path) => (
            path.display().to_string(),
            std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
        ),
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("<stdin>: {e}"))?;
            ("<stdin>".to_string(), text)
        }
    };
    let story = serde_json::from_str(&text).map_err(|e| format!("{name}: not JSON: {e}"))?;
    Ok((name, story))
}

fn cases_mut<'a>(name: &str, story: &'a mut Value) -> Result<&'a mut Vec<Value>, String> {
    story
        .get_mut("cases")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| format!("{name}: no \"cases\" array"))
}

fn seqno(case: &Value, index: usize) -> u64 {
    case.get("seqno")
        .and_then(Value::as_u64)
        .unwrap_or(index as u64)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len() / 2)
        .map(|i| {
            s.get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn print(story: &Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(story).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|e| format!("writing output: {e}"))
}

/// `h2kit hpack inflate [FILE]`: decodes every case's `wire` with one decoder and prints the
/// story with the decoded `headers`. Fails on the first case that does not decode.
pub(crate) fn inflate(file: Option<&PathBuf>) -> Result<(), String> {
    let (name, mut story) = read_story(file)?;
    let mut decoder = Decoder::new();
    let mut fields = Vec::new();
    for (i, case) in cases_mut(&name, &mut story)?.iter_mut().enumerate() {
        let seq = seqno(case, i);
        let fail = |what: String| format!("{name}: seqno {seq}: {what}");
        if let Some(size) = case.get("header_table_size").and_then(Value::as_u64) {
            decoder.set_max_table_size(size as usize);
        }
        let wire = case
            .get("wire")
            .and_then(Value::as_str)
            .ok_or_else(|| fail("no \"wire\"".into()))?;
        let wire = unhex(wire).ok_or_else(|| fail("\"wire\" is not hex".into()))?;
        fields.clear();
        decoder
            .decode(&Bytes::from(wire), &mut fields)
            .map_err(|e| fail(e.to_string()))?;
        let headers: Vec<Value> = fields
            .iter()
            .map(|f| {
                let mut m = Map::new();
                m.insert(
                    String::from_utf8_lossy(&f.name).into_owned(),
                    Value::String(String::from_utf8_lossy(&f.value).into_owned()),
                );
                Value::Object(m)
            })
            .collect();
        if let Some(obj) = case.as_object_mut() {
            obj.insert("headers".into(), Value::Array(headers));
        }
    }
    print(&story)
}

/// `h2kit hpack deflate [FILE]`: encodes every case's `headers` with one encoder, prints the
/// story with `wire` (and `header_table_size`) filled in and a summary on stderr.
pub(crate) fn deflate(
    file: Option<&PathBuf>,
    table_size: usize,
    huffman: Huffman,
) -> Result<(), String> {
    let (name, mut story) = read_story(file)?;
    let mut encoder = Encoder::new();
    encoder.set_huffman(match huffman {
        Huffman::Auto => HuffmanPolicy::OnlyIfShorter,
        Huffman::Always => HuffmanPolicy::Always,
        Huffman::Never => HuffmanPolicy::Never,
    });
    encoder.set_table_size_cap(table_size);
    encoder.set_max_table_size(table_size);
    let (mut cases, mut plain, mut wire_total) = (0usize, 0usize, 0usize);
    let mut dst = BytesMut::new();
    for (i, case) in cases_mut(&name, &mut story)?.iter_mut().enumerate() {
        let seq = seqno(case, i);
        let headers = case
            .get("headers")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{name}: seqno {seq}: no \"headers\" array"))?;
        let mut fields = Vec::with_capacity(headers.len());
        for h in headers {
            let obj = h
                .as_object()
                .ok_or_else(|| format!("{name}: seqno {seq}: a header is not an object"))?;
            for (n, v) in obj {
                let v = v
                    .as_str()
                    .ok_or_else(|| format!("{name}: seqno {seq}: value of {n} is not a string"))?;
                plain += n.len() + v.len();
                fields.push((n.as_bytes(), v.as_bytes()));
            }
        }
        dst.clear();
        encoder.encode(&fields, &mut dst);
        wire_total += dst.len();
        cases += 1;
        if let Some(obj) = case.as_object_mut() {
            obj.insert("seqno".into(), json!(seq));
            obj.insert("wire".into(), Value::String(hex(&dst)));
            obj.insert("header_table_size".into(), json!(table_size));
        }
    }
    print(&story)?;
    let ratio = if plain == 0 {
        0.0
    } else {
        wire_total as f64 / plain as f64
    };
    eprintln!("cases: {cases}, plain bytes: {plain}, wire bytes: {wire_total}, ratio: {ratio:.4}");
    Ok(())
}
