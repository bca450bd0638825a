//! Static files: content type, length, ETag / If-None-Match, single byte ranges, index.html,
//! and no way out of the root directory.

use std::io::SeekFrom;
use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_NONE_MATCH, RANGE,
};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::body::Body;
use crate::handler::{BoxFuture, Handler};

/// A [`Handler`] serving the files under a root directory.
///
/// `GET` and `HEAD`; `POST` is answered like `GET` with its body discarded (as nghttpd
/// does, so a form posted to a static page gets the page); other methods get 405. A path is percent-decoded and split into
/// segments; `..`, segments with `/`, `\` or NUL after decoding, and anything whose real
/// path (symlinks resolved) lies outside the root get 404. A directory serves its
/// `index.html` or 404.
#[derive(Debug, Clone)]
pub struct StaticFiles {
    root: PathBuf,
}

impl StaticFiles {
    /// Serves `root` (resolved once, now; a missing root is an error).
    pub fn new(root: impl AsRef<Path>) -> std::io::Result<Self> {
        let root = std::fs::canonicalize(root)?;
        Ok(StaticFiles { root })
    }

    /// The resolved root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    async fn respond(self, request: Request<Body>) -> Response<Body> {
        let method = request.method().clone();
        if method != Method::GET && method != Method::HEAD && method != Method::POST {
            let mut r = status(StatusCode::METHOD_NOT_ALLOWED);
            r.headers_mut().insert(
                http::header::ALLOW,
                HeaderValue::from_static("GET, HEAD, POST"),
            );
            return r;
        }
        let Some(relative) = safe_relative_path(request.uri().path()) else {
            return status(StatusCode::NOT_FOUND);
        };
        let root = self.root.clone();
        let opened = tokio::task::spawn_blocking(move || Self::open(&root, &relative)).await;
        let Ok(Some(Opened {
            path,
            meta,
            content,
        })) = opened
        else {
            return status(StatusCode::NOT_FOUND);
        };
        let len = match &content {
            Content::Bytes(b) => b.len() as u64,
            Content::File(_) => meta.len(),
        };
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let etag = format!("\"{len:x}-{mtime:x}\"");
        let content_type = content_type(&path);
        let mut builder = Response::builder()
            .header(CONTENT_TYPE, content_type)
            .header(ETAG, &etag)
            .header(ACCEPT_RANGES, "bytes");
        if let Some(inm) = request.headers().get(IF_NONE_MATCH) {
            if etag_matches(inm.as_bytes(), &etag) {
                return builder
                    .status(StatusCode::NOT_MODIFIED)
                    .body(Body::empty())
                    .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR));
            }
        }
        let range = request
            .headers()
            .get(RANGE)
            .map(|r| parse_range(r.as_bytes(), len));
        let (code, start, count) = match range {
            None | Some(Range::Ignore) => (StatusCode::OK, 0, len),
            Some(Range::Unsatisfiable) => {
                return builder
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(CONTENT_RANGE, format!("bytes */{len}"))
                    .body(Body::empty())
                    .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR));
            }
            Some(Range::Bytes { start, end }) => {
                builder = builder.header(CONTENT_RANGE, format!("bytes {start}-{end}/{len}"));
                (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
            }
        };
        builder = builder.status(code).header(CONTENT_LENGTH, count);
        if method == Method::HEAD {
            return builder
                .body(Body::empty())
                .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR));
        }
        let body = match content {
            // `start + count <= len` (parse_range), so the slice is in bounds.
            Content::Bytes(b) => Body::full(b.slice(start as usize..(start + count) as usize)),
            Content::File(f) => {
                let mut file = tokio::fs::File::from_std(f);
                if start > 0 && file.seek(SeekFrom::Start(start)).await.is_err() {
                    return status(StatusCode::INTERNAL_SERVER_ERROR);
                }
                Body::from_reader(file.take(count), Some(count))
            }
        };
        builder
            .body(body)
            .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR))
    }

    /// The file to serve for `relative`, only if its real path is inside the root (blocking
    /// calls: run on the blocking pool, once per request). Small files are read whole.
    fn open(root: &Path, relative: &Path) -> Option<Opened> {
        let mut path = std::fs::canonicalize(root.join(relative)).ok()?;
        if !path.starts_with(root) {
            return None;
        }
        let mut meta = std::fs::metadata(&path).ok()?;
        if meta.is_dir() {
            path = std::fs::canonicalize(path.join("index.html")).ok()?;
            if !path.starts_with(root) {
                return None;
            }
            meta = std::fs::metadata(&path).ok()?;
        }
        if !meta.is_file() {
            return None;
        }
        let content = if meta.len() <= SMALL_FILE {
            Content::Bytes(Bytes::from(std::fs::read(&path).ok()?))
        } else {
            Content::File(std::fs::File::open(&path).ok()?)
        };
        Some(Opened {
            path,
            meta,
            content,
        })
    }
}

/// Files up to this size are read in one go.
const SMALL_FILE: u64 = 64 * 1024;

enum Content {
    Bytes(Bytes),
    File(std::fs::File),
}

struct Opened {
    path: PathBuf,
    meta: std::fs::Metadata,
    content: Content,
}

impl Handler for StaticFiles {
    fn call(&self, request: Request<Body>) -> BoxFuture {
        Box::pin(self.clone().respond(request))
    }
}

fn status(code: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::from(format!("{code}\n")));
    *r.status_mut() = code;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes one path segment; `None` for bad escapes or non-UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let h = hex(*bytes.get(i + 1)?)?;
            let l = hex(*bytes.get(i + 2)?)?;
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The request path as a relative path of plain segments, or `None` when it tries to leave
/// the root (`..`, encoded separators, NUL, drive or root components).
pub(crate) fn safe_relative_path(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for raw in path.split('/') {
        let segment = percent_decode(raw)?;
        if segment.is_empty() || segment == "." {
            continue;
        }
        if segment == ".." || segment.contains(['/', '\\', '\0']) {
            return None;
        }
        let mut components = Path::new(&segment).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(_)), None) => out.push(&segment),
            _ => return None,
        }
    }
    Some(out)
}

fn etag_matches(header: &[u8], etag: &str) -> bool {
    let weak_tail = |t: &[u8]| -> Vec<u8> { t.strip_prefix(b"W/").unwrap_or(t).to_vec() };
    let ours = weak_tail(etag.as_bytes());
    header.split(|&b| b == b',').any(|t| {
        let t = t.trim_ascii();
        t == b"*" || weak_tail(t) == ours
    })
}

#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Not a single `bytes` range we understand: serve the whole file.
    Ignore,
    Unsatisfiable,
    /// Inclusive bounds.
    Bytes {
        start: u64,
        end: u64,
    },
}

fn parse_range(value: &[u8], len: u64) -> Range {
    let Some(spec) = value.trim_ascii().strip_prefix(b"bytes=") else {
        return Range::Ignore;
    };
    if spec.contains(&b',') {
        return Range::Ignore;
    }
    let Ok(spec) = std::str::from_utf8(spec) else {
        return Range::Ignore;
    };
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Ignore;
    };
    let (a, b) = (a.trim(), b.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Range::Ignore,
        (true, false) => match parse(b) {
            Some(0) => Range::Unsatisfiable,
            Some(n) if len > 0 => Range::Bytes {
                start: len.saturating_sub(n),
                end: len - 1,
            },
            Some(_) => Range::Unsatisfiable,
            None => Range::Ignore,
        },
        (false, _) => {
            let Some(start) = parse(a) else {
                return Range::Ignore;
            };
            let end = if b.is_empty() {
                Some(u64::MAX)
            } else {
                parse(b)
            };
            match end {
                None => Range::Ignore,
                Some(end) if end < start => Range::Ignore,
                Some(_) if start >= len => Range::Unsatisfiable,
                Some(end) => Range::Bytes {
                    start,
                    end: end.min(len - 1),
                },
            }
        }
    }
}

fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        Some("xml") => "application/xml",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("wasm") => "application/wasm",
        Some("pdf") => "application/pdf",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("mp4") => "video/mp4",
        Some("zip") => "application/zip",
        Some("gz") => "application/gzip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_paths_are_rejected() {
        for bad in [
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E/x",
            "/a/%2e%2e%2f%2e%2e/x",
            "/..%2fx",
            "/a%5c..%5cb",
            "/%00",
            "/%zz",
        ] {
            assert_eq!(safe_relative_path(bad), None, "{bad}");
        }
        assert_eq!(
            safe_relative_path("/a/./b//c%20d.txt"),
            Some(PathBuf::from("a/b/c d.txt"))
        );
        assert_eq!(safe_relative_path("/"), Some(PathBuf::new()));
        // An absolute path in the URL is just segments under the root.
        assert_eq!(
            safe_relative_path("//etc/passwd"),
            Some(PathBuf::from("etc/passwd"))
        );
    }

    #[test]
    fn ranges_parse() {
        assert_eq!(
            parse_range(b"bytes=0-9", 100),
            Range::Bytes { start: 0, end: 9 }
        );
        assert_eq!(
            parse_range(b"bytes=90-", 100),
            Range::Bytes { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range(b"bytes=-10", 100),
            Range::Bytes { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range(b"bytes=-1000", 100),
            Range::Bytes { start: 0, end: 99 }
        );
        assert_eq!(
            parse_range(b"bytes=50-1000", 100),
            Range::Bytes { start: 50, end: 99 }
        );
        assert_eq!(parse_range(b"bytes=100-", 100), Range::Unsatisfiable);
        assert_eq!(parse_range(b"bytes=-0", 100), Range::Unsatisfiable);
        assert_eq!(parse_range(b"bytes=0-1,5-6", 100), Range::Ignore);
        assert_eq!(parse_range(b"bytes=9-1", 100), Range::Ignore);
        assert_eq!(parse_range(b"items=0-1", 100), Range::Ignore);
        assert_eq!(parse_range(b"bytes=-5", 0), Range::Unsatisfiable);
    }

    #[test]
    fn etags_compare_weakly() {
        assert!(etag_matches(b"\"a-1\"", "\"a-1\""));
        assert!(etag_matches(b"W/\"a-1\"", "\"a-1\""));
        assert!(etag_matches(b"\"x\", \"a-1\"", "\"a-1\""));
        assert!(etag_matches(b"*", "\"a-1\""));
        assert!(!etag_matches(b"\"a-2\"", "\"a-1\""));
    }
}
