//! HTTP/1.1 for the client (RFC 9112): the request head and chunked encoding out, the
//! response head, the body's framing and chunked decoding in, each with limits and a typed
//! [`H1Error`]. Push-style like the HTTP/2 frame decoder: parsers take what is buffered and
//! say "need more" with `Ok(None)`; nothing here does I/O.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

/// The most header fields a head or trailer section may have (the slots are on the stack, so
/// parsing allocates nothing).
const MAX_HEADERS: usize = 100;

/// Limits on what an HTTP/1.1 server may send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct H1Limits {
    /// The largest response head (status line and header section) or trailer section.
    pub(crate) max_head: usize,
    /// The most header fields in a head or trailer section.
    pub(crate) max_headers: usize,
    /// The longest chunk-size line (hex digits, extensions and CRLF).
    pub(crate) max_chunk_line: usize,
}

impl Default for H1Limits {
    fn default() -> Self {
        H1Limits {
            max_head: 64 * 1024,
            max_headers: MAX_HEADERS,
            max_chunk_line: 4 * 1024,
        }
    }
}

/// Why an HTTP/1.1 response could not be read.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum H1Error {
    /// The status line is not `HTTP/1.x NNN reason` (RFC 9112 §4).
    BadStatusLine,
    /// A header field line is malformed (RFC 9112 §5).
    BadHeader,
    /// The head (or trailer section) is larger than the limit, in bytes.
    HeadTooLarge(usize),
    /// More header fields than the limit.
    TooManyHeaders(usize),
    /// `Content-Length` is not a decimal number, or appears with different values
    /// (RFC 9110 §8.6).
    BadContentLength,
    /// Both `Transfer-Encoding` and `Content-Length`: a sign of request smuggling or response
    /// splitting that RFC 9112 §6.3 says ought to be handled as an error.
    ConflictingFraming,
    /// A `Transfer-Encoding` other than `chunked` last (RFC 9112 §6.1) on a message whose end
    /// cannot then be found, or a chunked coding applied twice.
    BadTransferEncoding,
    /// A chunk-size line is malformed (RFC 9112 §7.1).
    BadChunk,
    /// A chunk size does not fit in 64 bits.
    ChunkSizeOverflow,
    /// A chunk-size line is longer than the limit.
    ChunkLineTooLong(usize),
    /// The connection closed before the message ended.
    UnexpectedEof,
}

impl fmt::Display for H1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            H1Error::BadStatusLine => f.write_str("malformed HTTP/1.1 status line"),
            H1Error::BadHeader => f.write_str("malformed HTTP/1.1 header field"),
            H1Error::HeadTooLarge(n) => write!(f, "HTTP/1.1 header section over {n} bytes"),
            H1Error::TooManyHeaders(n) => write!(f, "more than {n} HTTP/1.1 header fields"),
            H1Error::BadContentLength => f.write_str("invalid or conflicting content-length"),
            H1Error::ConflictingFraming => {
                f.write_str("both transfer-encoding and content-length (RFC 9112 §6.3)")
            }
            H1Error::BadTransferEncoding => f.write_str("unsupported transfer-encoding"),
            H1Error::BadChunk => f.write_str("malformed chunk-size line"),
            H1Error::ChunkSizeOverflow => f.write_str("chunk size over 64 bits"),
            H1Error::ChunkLineTooLong(n) => write!(f, "chunk-size line over {n} bytes"),
            H1Error::UnexpectedEof => f.write_str("connection closed before the message ended"),
        }
    }
}

impl std::error::Error for H1Error {}

/// How a response body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body (HEAD, 1xx, 204, 304, or `Content-Length: 0`).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub(crate) status: StatusCode,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) framing: Framing,
    /// Whether the connection may carry another request after this response.
    pub(crate) keep_alive: bool,
}

/// Writes a request head: `method target HTTP/1.1`, `host`, the headers, and the framing
/// (`content-length` when the body's size is known, `transfer-encoding: chunked` otherwise).
/// Connection-specific fields of the caller's are dropped; HTTP/2 pseudo-fields do not exist
/// in a `HeaderMap`.
pub(crate) fn encode_request_head(
    method: &Method,
    target: &str,
    authority: &str,
    headers: &HeaderMap,
    body_len: Option<u64>,
    out: &mut BytesMut,
) {
    out.reserve(64 + target.len() + headers.len() * 32);
    out.extend_from_slice(method.as_str().as_bytes());
    out.extend_from_slice(b" ");
    out.extend_from_slice(if target.is_empty() {
        b"/"
    } else {
        target.as_bytes()
    });
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if !headers.contains_key(HOST) {
        out.extend_from_slice(b"host: ");
        out.extend_from_slice(authority.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in headers {
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match body_len {
        Some(0) if !method_expects_body(method) => {}
        Some(n) => {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(n.to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        None => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

/// Methods whose requests carry a body, so an empty one is announced with `content-length: 0`.
fn method_expects_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// Appends one chunk of a chunked body (nothing for empty data: a zero chunk would end it).
pub(crate) fn encode_chunk(data: &[u8], out: &mut BytesMut) {
    if data.is_empty() {
        return;
    }
    out.reserve(data.len() + 20);
    // The size in hex, most significant digit first, without a formatting allocation.
    let len = data.len();
    let digits = (usize::BITS - len.leading_zeros()).div_ceil(4).max(1);
    for i in (0..digits).rev() {
        out.extend_from_slice(&[b"0123456789abcdef"[(len >> (4 * i)) & 0xf]]);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the last chunk and the trailer section that ends a chunked body.
pub(crate) fn encode_last_chunk(trailers: Option<&HeaderMap>, out: &mut BytesMut) {
    out.extend_from_slice(b"0\r\n");
    for (name, value) in trailers.into_iter().flatten() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Parses a response head from the start of `buf`. `Ok(None)`: more bytes are needed. On
/// success the head's bytes are consumed from `buf`. `head_request`: the request was HEAD, so
/// the response has no body whatever its headers say.
pub(crate) fn parse_response_head(
    buf: &mut BytesMut,
    head_request: bool,
    limits: &H1Limits,
) -> Result<Option<ResponseHead>, H1Error> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let n = limits.max_headers.min(MAX_HEADERS);
    let mut response = httparse::Response::new(&mut slots[..n]);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return if buf.len() > limits.max_head {
                Err(H1Error::HeadTooLarge(limits.max_head))
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(H1Error::TooManyHeaders(limits.max_headers));
        }
        Err(httparse::Error::Status | httparse::Error::Version | httparse::Error::NewLine) => {
            return Err(H1Error::BadStatusLine);
        }
        Err(_) => return Err(H1Error::BadHeader),
    };
    if len > limits.max_head {
        return Err(H1Error::HeadTooLarge(limits.max_head));
    }
    let (Some(code), Some(minor)) = (response.code, response.version) else {
        return Err(H1Error::BadStatusLine);
    };
    let status = StatusCode::from_u16(code).map_err(|_| H1Error::BadStatusLine)?;
    let version = if minor == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let headers = header_map(response.headers)?;
    let framing = framing(status, head_request, &headers)?;
    let keep_alive = keep_alive(version, &headers) && framing != Framing::UntilClose;
    buf.advance(len);
    Ok(Some(ResponseHead {
        status,
        version,
        headers,
        framing,
        keep_alive,
    }))
}

fn header_map(fields: &[httparse::Header<'_>]) -> Result<HeaderMap, H1Error> {
    let mut map = HeaderMap::with_capacity(fields.len());
    for f in fields {
        let name = HeaderName::from_bytes(f.name.as_bytes()).map_err(|_| H1Error::BadHeader)?;
        let value = HeaderValue::from_bytes(f.value).map_err(|_| H1Error::BadHeader)?;
        map.append(name, value);
    }
    Ok(map)
}

/// RFC 9112 §6.3, for a response.
fn framing(
    status: StatusCode,
    head_request: bool,
    headers: &HeaderMap,
) -> Result<Framing, H1Error> {
    if head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Empty);
    }
    let length = content_length(headers)?;
    let codings: Vec<&[u8]> = headers
        .get_all(TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|c| !c.is_empty())
        .collect();
    if !codings.is_empty() {
        if length.is_some() {
            return Err(H1Error::ConflictingFraming);
        }
        let chunked = |c: &[u8]| c.eq_ignore_ascii_case(b"chunked");
        let count = codings.iter().filter(|c| chunked(c)).count();
        return match (count, codings.last().is_some_and(|c| chunked(c))) {
            (1, true) => Ok(Framing::Chunked),
            (0, _) => Ok(Framing::UntilClose),
            _ => Err(H1Error::BadTransferEncoding),
        };
    }
    Ok(match length {
        Some(0) => Framing::Empty,
        Some(n) => Framing::Length(n),
        None => Framing::UntilClose,
    })
}

/// The `content-length`, checking that every value (also within a list) is the same number.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, H1Error> {
    let mut found = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        for part in value.as_bytes().split(|&b| b == b',') {
            let part = part.trim_ascii();
            if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
                return Err(H1Error::BadContentLength);
            }
            let n = part.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
            match found {
                Some(prev) if prev != n => return Err(H1Error::BadContentLength),
                _ => found = Some(n),
            }
        }
    }
    Ok(found)
}

fn keep_alive(version: Version, headers: &HeaderMap) -> bool {
    let has = |token: &[u8]| {
        headers
            .get_all(http::header::CONNECTION)
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
    };
    if version == Version::HTTP_10 {
        has(b"keep-alive")
    } else {
        !has(b"close")
    }
}

/// What a [`ChunkedDecoder`] hands out.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// Body bytes (a slice of the input, not a copy).
    Data(Bytes),
    /// The trailer section, then the body is complete.
    Trailers(HeaderMap),
    /// The body is complete (no trailers).
    End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChunkState {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk with this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// Expecting the trailer section after the last chunk.
    Trailers,
    Done,
}

/// Decodes a chunked body (RFC 9112 §7.1) push-style.
#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    state: ChunkState,
    limits: H1Limits,
}

impl ChunkedDecoder {
    pub(crate) fn new(limits: H1Limits) -> Self {
        ChunkedDecoder {
            state: ChunkState::Size,
            limits,
        }
    }

    /// The next piece of the body from `buf` (consumed as decoded), `Ok(None)` when more
    /// bytes are needed. After [`Chunk::Trailers`] or [`Chunk::End`] it returns `Ok(None)`.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Chunk>, H1Error> {
        loop {
            match self.state {
                ChunkState::Done => return Ok(None),
                ChunkState::Size => {
                    let Some(eol) = find_crlf(buf) else {
                        if buf.len() > self.limits.max_chunk_line {
                            return Err(H1Error::ChunkLineTooLong(self.limits.max_chunk_line));
                        }
                        return Ok(None);
                    };
                    if eol + 2 > self.limits.max_chunk_line {
                        return Err(H1Error::ChunkLineTooLong(self.limits.max_chunk_line));
                    }
                    let size = chunk_size(&buf[..eol])?;
                    buf.advance(eol + 2);
                    self.state = if size == 0 {
                        ChunkState::Trailers
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(left) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let data = buf.split_to(n).freeze();
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                    return Ok(Some(Chunk::Data(data)));
                }
                ChunkState::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(None);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(H1Error::BadChunk);
                    }
                    buf.advance(2);
                    self.state = ChunkState::Size;
                }
                ChunkState::Trailers => {
                    if buf.starts_with(b"\r\n") {
                        buf.advance(2);
                        self.state = ChunkState::Done;
                        return Ok(Some(Chunk::End));
                    }
                    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    let n = self.limits.max_headers.min(MAX_HEADERS);
                    return match httparse::parse_headers(buf, &mut slots[..n]) {
                        Ok(httparse::Status::Complete((len, fields))) => {
                            if len > self.limits.max_head {
                                return Err(H1Error::HeadTooLarge(self.limits.max_head));
                            }
                            let map = header_map(fields)?;
                            buf.advance(len);
                            self.state = ChunkState::Done;
                            Ok(Some(Chunk::Trailers(map)))
                        }
                        Ok(httparse::Status::Partial) if buf.len() > self.limits.max_head => {
                            Err(H1Error::HeadTooLarge(self.limits.max_head))
                        }
                        Ok(httparse::Status::Partial) => Ok(None),
                        Err(httparse::Error::TooManyHeaders) => {
                            Err(H1Error::TooManyHeaders(self.limits.max_headers))
                        }
                        Err(_) => Err(H1Error::BadHeader),
                    };
                }
            }
        }
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// The size of a chunk-size line (hex digits, then optional `;extensions`).
fn chunk_size(line: &[u8]) -> Result<u64, H1Error> {
    let digits_end = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    let (digits, rest) = line.split_at(digits_end);
    if digits.is_empty() {
        return Err(H1Error::BadChunk);
    }
    let rest = rest.trim_ascii_start();
    if !rest.is_empty() && rest[0] != b';' {
        return Err(H1Error::BadChunk);
    }
    let mut size: u64 = 0;
    for &d in digits {
        let v = u64::from(match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => d - b'A' + 10,
        });
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(v))
            .ok_or(H1Error::ChunkSizeOverflow)?;
    }
    Ok(size)
}

/// Fuzz logic: parse `data` as a response head and, whatever the head says, as a chunked
/// body, in pieces of `split` bytes. Must never panic; returns how many body bytes decoded.
#[doc(hidden)]
pub fn fuzz_response(data: &[u8], split: usize) -> usize {
    let limits = H1Limits::default();
    let split = split.clamp(1, 1 << 16);
    let mut buf = BytesMut::new();
    let mut pieces = data.chunks(split);
    let head = loop {
        match parse_response_head(&mut buf, false, &limits) {
            Ok(Some(head)) => break Some(head),
            Ok(None) => match pieces.next() {
                Some(p) => buf.extend_from_slice(p),
                None => break None,
            },
            Err(_) => break None,
        }
    };
    let _ = head.map(|h| (h.framing, h.keep_alive));
    let mut buf = BytesMut::new();
    let mut decoder = ChunkedDecoder::new(limits);
    let mut total = 0;
    for piece in data.chunks(split) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(Chunk::Data(d))) => total += d.len(),
                Ok(Some(_)) | Ok(None) => break,
                Err(_) => return total,
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Option<ResponseHead>, H1Error> {
        let mut buf = BytesMut::from(text.as_bytes());
        parse_response_head(&mut buf, false, &H1Limits::default())
    }

    fn framing_of(text: &str) -> Result<Framing, H1Error> {
        head(text).map(|h| h.expect("complete").framing)
    }

    #[test]
    fn response_heads_and_their_framing() {
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello")
            .unwrap()
            .unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(h.version, Version::HTTP_11);
        assert_eq!(h.framing, Framing::Length(5));
        assert!(h.keep_alive);
        assert_eq!(h.headers["server"], "x");
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            Ok(Framing::Chunked)
        );
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\n\r\n"),
            Ok(Framing::UntilClose)
        );
        assert_eq!(
            framing_of("HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n"),
            Ok(Framing::Empty)
        );
        assert_eq!(
            framing_of("HTTP/1.1 304 Not Modified\r\n\r\n"),
            Ok(Framing::Empty)
        );
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n"),
            Ok(Framing::Length(7))
        );
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"[..]);
        let h = parse_response_head(&mut buf, true, &H1Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Framing::Empty, "a HEAD response has no body");
        let h = head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(
            !h.keep_alive,
            "HTTP/1.0 closes unless keep-alive is asked for"
        );
        let h = head("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive);
        assert!(
            head("HTTP/1.1 200 OK\r\nContent-Le").unwrap().is_none(),
            "need more"
        );
    }

    #[test]
    fn bad_heads_are_typed_errors() {
        assert_eq!(
            framing_of(
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
            ),
            Err(H1Error::ConflictingFraming)
        );
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            Err(H1Error::BadContentLength)
        );
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
            Err(H1Error::BadContentLength)
        );
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n"),
            Err(H1Error::BadContentLength)
        );
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
            Err(H1Error::BadTransferEncoding)
        );
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
            Err(H1Error::BadTransferEncoding)
        );
        assert_eq!(
            head("HTTP/9 200 OK\r\n\r\n").unwrap_err(),
            H1Error::BadStatusLine
        );
        assert_eq!(
            head("SSH-2.0-OpenSSH\r\n\r\n").unwrap_err(),
            H1Error::BadStatusLine
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nBad Header\r\n\r\n").unwrap_err(),
            H1Error::BadHeader
        );
        let many: String = (0..101).map(|i| format!("x-{i}: v\r\n")).collect();
        assert_eq!(
            head(&format!("HTTP/1.1 200 OK\r\n{many}\r\n")).unwrap_err(),
            H1Error::TooManyHeaders(100)
        );
        let big = format!("HTTP/1.1 200 OK\r\nx: {}", "a".repeat(70_000));
        assert_eq!(head(&big).unwrap_err(), H1Error::HeadTooLarge(64 * 1024));
    }

    fn dechunk(input: &[u8], split: usize) -> Result<(Vec<u8>, Option<HeaderMap>), H1Error> {
        let mut d = ChunkedDecoder::new(H1Limits::default());
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        for piece in input.chunks(split) {
            buf.extend_from_slice(piece);
            while let Some(c) = d.decode(&mut buf)? {
                match c {
                    Chunk::Data(b) => body.extend_from_slice(&b),
                    Chunk::Trailers(t) => return Ok((body, Some(t))),
                    Chunk::End => return Ok((body, None)),
                }
            }
        }
        Err(H1Error::UnexpectedEof)
    }

    #[test]
    fn chunked_bodies_decode_in_any_split() {
        let wire = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-sum: 9\r\n\r\n";
        for split in [1, 2, 3, 7, 64] {
            let (body, trailers) = dechunk(wire, split).unwrap();
            assert_eq!(body, b"hello world", "split {split}");
            assert_eq!(trailers.unwrap()["x-sum"], "9");
        }
        let (body, trailers) = dechunk(b"A\r\n0123456789\r\n0\r\n\r\n", 4).unwrap();
        assert_eq!(body, b"0123456789");
        assert!(trailers.is_none());
    }

    #[test]
    fn bad_chunks_are_typed_errors() {
        assert_eq!(dechunk(b"zz\r\n", 64).unwrap_err(), H1Error::BadChunk);
        assert_eq!(dechunk(b"5\r\nhelloXX", 64).unwrap_err(), H1Error::BadChunk);
        assert_eq!(
            dechunk(b"5 x\r\nhello\r\n", 64).unwrap_err(),
            H1Error::BadChunk
        );
        assert_eq!(
            dechunk(b"1ffffffffffffffff\r\n", 64).unwrap_err(),
            H1Error::ChunkSizeOverflow
        );
        let long = [b"5;".as_slice(), &[b'x'; 5000]].concat();
        assert_eq!(
            dechunk(&long, 64).unwrap_err(),
            H1Error::ChunkLineTooLong(4096)
        );
        assert_eq!(
            dechunk(b"5\r\nhel", 64).unwrap_err(),
            H1Error::UnexpectedEof
        );
    }

    #[test]
    fn request_heads_and_chunks_are_written_as_rfc_9112_says() {
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("*/*"));
        headers.insert("content-length", HeaderValue::from_static("999"));
        let mut out = BytesMut::new();
        encode_request_head(
            &Method::GET,
            "/a?b",
            "example.org",
            &headers,
            Some(0),
            &mut out,
        );
        assert_eq!(
            &out[..],
            b"GET /a?b HTTP/1.1\r\nhost: example.org\r\naccept: */*\r\n\r\n"
        );
        out.clear();
        encode_request_head(
            &Method::POST,
            "/up",
            "h:1",
            &HeaderMap::new(),
            None,
            &mut out,
        );
        assert_eq!(
            &out[..],
            b"POST /up HTTP/1.1\r\nhost: h:1\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        out.clear();
        encode_request_head(
            &Method::PUT,
            "/p",
            "h",
            &HeaderMap::new(),
            Some(3),
            &mut out,
        );
        assert!(out.ends_with(b"content-length: 3\r\n\r\n"));
        out.clear();
        encode_chunk(b"hello", &mut out);
        encode_chunk(b"", &mut out);
        let mut t = HeaderMap::new();
        t.insert("x-sum", HeaderValue::from_static("1"));
        encode_last_chunk(Some(&t), &mut out);
        assert_eq!(&out[..], b"5\r\nhello\r\n0\r\nx-sum: 1\r\n\r\n");
        let (body, trailers) = dechunk(&out, 3).unwrap();
        assert_eq!(body, b"hello");
        assert_eq!(trailers.unwrap()["x-sum"], "1");
        // Multi-digit sizes, most significant digit first.
        for len in [16, 255, 0x1a3f, 100_000] {
            out.clear();
            encode_chunk(&vec![b'z'; len], &mut out);
            assert!(out.starts_with(format!("{len:x}\r\n").as_bytes()), "{len}");
            encode_last_chunk(None, &mut out);
            assert_eq!(dechunk(&out, 7).unwrap().0.len(), len);
        }
    }
}
