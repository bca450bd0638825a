//! Content decoding of response bodies (gzip, deflate, br), pulled one bounded chunk at a
//! time.
//!
//! A compressed body can expand enormously (deflate about 1000:1, brotli far more), so the
//! decoder never turns a whole received frame into output at once. The body hands it one
//! DATA payload ([`ContentDecoder::push`]) and then pulls decoded chunks of at most
//! [`OUT_CHUNK`] octets ([`ContentDecoder::pull`]), one per read by the user; the next
//! payload is taken only once the current one is used up and its output drained. What a
//! decoding body holds is therefore one received payload, one output chunk and the
//! decoder's own state (deflate: a 32 KiB window; brotli: a ring buffer of at most the
//! 16 MiB window RFC 7932 allows, large windows are refused), whatever the compression
//! ratio. An optional cap on the total decoded size stops a body with
//! [`DecodeError::TooLarge`].

use std::fmt;

use bytes::Bytes;
use flate2::{Crc, Decompress, FlushDecompress, Status};

/// The `accept-encoding` value sent when decoding is on.
pub(crate) const ACCEPT_ENCODING: &str = "gzip, deflate, br";

/// The largest decoded chunk a body yields.
pub(crate) const OUT_CHUNK: usize = 64 * 1024;

/// A content-coding the client decodes.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentCoding {
    /// `gzip` (or `x-gzip`), RFC 1952; several members in a row are decoded one after another.
    Gzip,
    /// `deflate`: zlib-wrapped (RFC 1950) as RFC 9110 §8.4.1.2 says, or raw deflate as some
    /// servers send it.
    Deflate,
    /// `br`, RFC 7932.
    Brotli,
}

impl fmt::Display for ContentCoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContentCoding::Gzip => "gzip",
            ContentCoding::Deflate => "deflate",
            ContentCoding::Brotli => "br",
        })
    }
}

/// Why decoding a response body's content-coding failed (see [`Error::Decode`](crate::Error::Decode)).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The data is not valid for its coding (bad header, corrupt compressed data, checksum
    /// mismatch).
    Invalid {
        /// The coding being decoded.
        coding: ContentCoding,
        /// What was wrong.
        reason: &'static str,
    },
    /// The body ended in the middle of the encoded stream.
    Truncated {
        /// The coding being decoded.
        coding: ContentCoding,
    },
    /// Data followed the end of the encoded stream.
    TrailingData {
        /// The coding being decoded.
        coding: ContentCoding,
    },
    /// The decoded body grew past
    /// [`ClientBuilder::max_decoded_body_size`](crate::ClientBuilder::max_decoded_body_size);
    /// exactly `limit` octets were handed out before this error.
    TooLarge {
        /// The configured limit in octets.
        limit: u64,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Invalid { coding, reason } => write!(f, "invalid {coding} data: {reason}"),
            DecodeError::Truncated { coding } => write!(f, "truncated {coding} stream"),
            DecodeError::TrailingData { coding } => {
                write!(f, "data after the end of the {coding} stream")
            }
            DecodeError::TooLarge { limit } => {
                write!(f, "decoded body larger than the limit of {limit} octets")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// A pull decoder: compressed payloads in, bounded decoded chunks out.
pub(crate) struct ContentDecoder {
    codec: Codec,
    /// The part of the last pushed payload the codec has not consumed yet.
    input: Bytes,
    /// Output scratch space, allocated on first use.
    scratch: Box<[u8]>,
    /// Any input arrived at all (an empty body decodes to an empty body).
    seen_input: bool,
    /// Octets handed out so far.
    decoded: u64,
    limit: Option<u64>,
    /// A failure is final.
    failed: Option<DecodeError>,
}

enum Codec {
    Gzip(Box<Gzip>),
    Deflate(Box<Deflate>),
    Brotli(Box<Brotli>),
}

/// What one codec step did.
struct Step {
    consumed: usize,
    produced: usize,
    /// Something changed (input consumed from the codec's own buffers, state advanced).
    progressed: bool,
}

impl ContentDecoder {
    /// The decoder a response head asks for (its `content-encoding`), if it is one we decode.
    /// The head's `content-encoding` and `content-length` are then removed: they describe the
    /// bytes on the wire, not the decoded body. Used by both the HTTP/2 and HTTP/1.1 paths.
    pub(crate) fn take_from(
        parts: &mut http::response::Parts,
        limit: Option<u64>,
    ) -> Option<Box<Self>> {
        let d = parts
            .headers
            .get(http::header::CONTENT_ENCODING)
            .and_then(|v| Self::for_encoding(v.as_bytes(), limit))
            .map(Box::new)?;
        parts.headers.remove(http::header::CONTENT_ENCODING);
        parts.headers.remove(http::header::CONTENT_LENGTH);
        Some(d)
    }

    /// A decoder for a `content-encoding` value, if it is one we decode; `limit` caps the
    /// total decoded octets.
    pub(crate) fn for_encoding(value: &[u8], limit: Option<u64>) -> Option<Self> {
        let v = value.trim_ascii();
        let codec = if v.eq_ignore_ascii_case(b"gzip") || v.eq_ignore_ascii_case(b"x-gzip") {
            Codec::Gzip(Box::new(Gzip::new()))
        } else if v.eq_ignore_ascii_case(b"deflate") {
            Codec::Deflate(Box::default())
        } else if v.eq_ignore_ascii_case(b"br") {
            Codec::Brotli(Box::new(Brotli::new()))
        } else {
            return None;
        };
        Some(ContentDecoder {
            codec,
            input: Bytes::new(),
            scratch: Box::default(),
            seen_input: false,
            decoded: 0,
            limit,
            failed: None,
        })
    }

    /// Compressed octets held and not yet consumed (at most one payload).
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.input.len()
    }

    /// Hands over the next compressed payload. Call only once [`pull`](Self::pull) returned
    /// `None`, so the last payload is used up (otherwise the two are joined, at a copy).
    pub(crate) fn push(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        self.seen_input = true;
        if self.input.is_empty() {
            self.input = data;
        } else {
            let mut joined = Vec::with_capacity(self.input.len() + data.len());
            joined.extend_from_slice(&self.input);
            joined.extend_from_slice(&data);
            self.input = Bytes::from(joined);
        }
    }

    /// The next decoded chunk (at most [`OUT_CHUNK`] octets, never empty), or `None` when
    /// nothing more can be decoded from what was pushed. `input_ended` says no more payloads
    /// will come: then `None` means the encoded stream ended cleanly, and a stream cut short
    /// is an error.
    pub(crate) fn pull(&mut self, input_ended: bool) -> Result<Option<Bytes>, DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let r = self.pull_inner(input_ended);
        if let Err(e) = &r {
            self.failed = Some(e.clone());
            self.input = Bytes::new();
        }
        r
    }

    fn pull_inner(&mut self, input_ended: bool) -> Result<Option<Bytes>, DecodeError> {
        if self.scratch.is_empty() {
            if !self.seen_input {
                return Ok(None);
            }
            self.scratch = vec![0; OUT_CHUNK].into_boxed_slice();
        }
        // One octet more than the limit allows shows that the limit is passed.
        let room = match self.limit {
            Some(limit) => usize::try_from(limit.saturating_sub(self.decoded))
                .unwrap_or(usize::MAX)
                .saturating_add(1)
                .min(OUT_CHUNK),
            None => OUT_CHUNK,
        };
        loop {
            let out = &mut self.scratch[..room];
            let step = match &mut self.codec {
                Codec::Gzip(c) => c.step(&self.input, out)?,
                Codec::Deflate(c) => c.step(&self.input, out)?,
                Codec::Brotli(c) => c.step(&self.input, out)?,
            };
            let _ = self.input.split_to(step.consumed.min(self.input.len()));
            if step.produced > 0 {
                let produced = step.produced.min(room);
                let mut take = produced;
                if let Some(limit) = self.limit {
                    let allowed = limit.saturating_sub(self.decoded);
                    if produced as u64 > allowed {
                        // Hand out what the limit allows; the next pull fails.
                        let e = DecodeError::TooLarge { limit };
                        if allowed == 0 {
                            return Err(e);
                        }
                        self.failed = Some(e);
                        self.input = Bytes::new();
                        take = usize::try_from(allowed).unwrap_or(produced);
                    }
                }
                self.decoded = self.decoded.saturating_add(take as u64);
                return Ok(Some(Bytes::copy_from_slice(&self.scratch[..take])));
            }
            if step.consumed > 0 || step.progressed {
                continue;
            }
            // No progress: the codec needs more input than it has.
            if !self.input.is_empty() {
                return Err(self.codec.invalid("the decoder stopped making progress"));
            }
            if input_ended && !self.codec.finished() {
                return Err(DecodeError::Truncated {
                    coding: self.codec.coding(),
                });
            }
            return Ok(None);
        }
    }
}

impl Codec {
    fn coding(&self) -> ContentCoding {
        match self {
            Codec::Gzip(_) => ContentCoding::Gzip,
            Codec::Deflate(_) => ContentCoding::Deflate,
            Codec::Brotli(_) => ContentCoding::Brotli,
        }
    }

    fn invalid(&self, reason: &'static str) -> DecodeError {
        DecodeError::Invalid {
            coding: self.coding(),
            reason,
        }
    }

    /// The encoded stream ended at a clean boundary.
    fn finished(&self) -> bool {
        match self {
            Codec::Gzip(c) => matches!(c.state, GzState::MemberDone),
            Codec::Deflate(c) => c.done,
            Codec::Brotli(c) => c.done,
        }
    }
}

/// Runs raw or zlib inflate over `input` into `out`.
fn inflate(
    d: &mut Decompress,
    input: &[u8],
    out: &mut [u8],
    coding: ContentCoding,
) -> Result<(Step, bool), DecodeError> {
    let (in0, out0) = (d.total_in(), d.total_out());
    let status = d
        .decompress(input, out, FlushDecompress::None)
        .map_err(|_| DecodeError::Invalid {
            coding,
            reason: "corrupt deflate data",
        })?;
    let consumed = usize::try_from(d.total_in() - in0).unwrap_or(usize::MAX);
    let produced = usize::try_from(d.total_out() - out0).unwrap_or(usize::MAX);
    Ok((
        Step {
            consumed,
            produced,
            progressed: false,
        },
        status == Status::StreamEnd,
    ))
}

// ---- gzip -------------------------------------------------------------------------------

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

struct Gzip {
    state: GzState,
    inflate: Decompress,
    crc: Crc,
    /// Decoded octets of this member, modulo 2^32 (the trailer's ISIZE).
    size: u32,
    /// Header bytes collected so far (the fixed part, then XLEN, then the trailer).
    buf: [u8; 10],
    have: usize,
    flags: u8,
}

#[derive(Clone, Copy)]
enum GzState {
    /// The 10-octet fixed header.
    Fixed,
    /// The 2-octet XLEN of FEXTRA.
    ExtraLen,
    /// Skipping FEXTRA data.
    Extra(usize),
    /// Skipping the zero-terminated file name.
    Name,
    /// Skipping the zero-terminated comment.
    Comment,
    /// Skipping the header CRC16.
    HeaderCrc(usize),
    /// The deflate data.
    Body,
    /// The 8-octet CRC32 and ISIZE.
    Trailer,
    /// A member ended; more input starts the next member.
    MemberDone,
}

impl Gzip {
    fn new() -> Self {
        Gzip {
            state: GzState::Fixed,
            inflate: Decompress::new(false),
            crc: Crc::new(),
            size: 0,
            buf: [0; 10],
            have: 0,
            flags: 0,
        }
    }

    fn invalid(reason: &'static str) -> DecodeError {
        DecodeError::Invalid {
            coding: ContentCoding::Gzip,
            reason,
        }
    }

    /// The header state after `from`, given the flags.
    fn next_header_state(&self, from: GzState) -> GzState {
        let order = [
            (FEXTRA, GzState::ExtraLen),
            (FNAME, GzState::Name),
            (FCOMMENT, GzState::Comment),
            (FHCRC, GzState::HeaderCrc(2)),
        ];
        let start = match from {
            GzState::Fixed => 0,
            GzState::ExtraLen | GzState::Extra(_) => 1,
            GzState::Name => 2,
            GzState::Comment => 3,
            _ => 4,
        };
        order
            .iter()
            .skip(start)
            .find(|(flag, _)| self.flags & flag != 0)
            .map_or(GzState::Body, |&(_, s)| s)
    }

    /// Collects up to `want` octets into `buf`; true when complete.
    fn collect(&mut self, input: &[u8], want: usize, consumed: &mut usize) -> bool {
        let n = (want - self.have).min(input.len());
        self.buf[self.have..self.have + n].copy_from_slice(&input[..n]);
        self.have += n;
        *consumed += n;
        self.have == want
    }

    fn step(&mut self, input: &[u8], out: &mut [u8]) -> Result<Step, DecodeError> {
        let mut consumed = 0;
        let mut progressed = false;
        loop {
            let rest = &input[consumed..];
            match self.state {
                GzState::MemberDone => {
                    if rest.is_empty() {
                        break;
                    }
                    // Another member follows.
                    self.inflate.reset(false);
                    self.crc.reset();
                    self.size = 0;
                    self.have = 0;
                    self.state = GzState::Fixed;
                    progressed = true;
                }
                GzState::Body => {
                    let (mut step, end) =
                        inflate(&mut self.inflate, rest, out, ContentCoding::Gzip)?;
                    let produced = out.get(..step.produced).unwrap_or(out);
                    self.crc.update(produced);
                    self.size = self.size.wrapping_add(produced.len() as u32);
                    if end {
                        self.state = GzState::Trailer;
                        self.have = 0;
                        step.progressed = true;
                    }
                    step.consumed += consumed;
                    step.progressed |= progressed;
                    return Ok(step);
                }
                _ if rest.is_empty() => break,
                GzState::Fixed => {
                    let complete = self.collect(rest, 10, &mut consumed);
                    // The magic is checked as soon as it arrives, so junk after a member is
                    // told from a cut-off header.
                    if self.buf[..self.have.min(2)] != [0x1f, 0x8b][..self.have.min(2)] {
                        return Err(Self::invalid("not a gzip member (bad magic)"));
                    }
                    if !complete {
                        break;
                    }
                    if self.buf[2] != 8 {
                        return Err(Self::invalid("unknown compression method"));
                    }
                    self.flags = self.buf[3];
                    if self.flags & 0xe0 != 0 {
                        return Err(Self::invalid("reserved header flags set"));
                    }
                    self.have = 0;
                    self.state = self.next_header_state(GzState::Fixed);
                }
                GzState::ExtraLen => {
                    if !self.collect(rest, 2, &mut consumed) {
                        break;
                    }
                    let len = usize::from(u16::from_le_bytes([self.buf[0], self.buf[1]]));
                    self.have = 0;
                    self.state = if len == 0 {
                        self.next_header_state(GzState::Extra(0))
                    } else {
                        GzState::Extra(len)
                    };
                }
                GzState::Extra(left) | GzState::HeaderCrc(left) => {
                    let n = left.min(rest.len());
                    consumed += n;
                    self.state = match (self.state, left - n) {
                        (s, 0) => self.next_header_state(s),
                        (GzState::Extra(_), left) => GzState::Extra(left),
                        (_, left) => GzState::HeaderCrc(left),
                    };
                }
                GzState::Name | GzState::Comment => match rest.iter().position(|&b| b == 0) {
                    Some(i) => {
                        consumed += i + 1;
                        self.state = self.next_header_state(self.state);
                    }
                    None => consumed += rest.len(),
                },
                GzState::Trailer => {
                    if !self.collect(rest, 8, &mut consumed) {
                        break;
                    }
                    let b = self.buf;
                    let crc = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    let size = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                    if crc != self.crc.sum() {
                        return Err(Self::invalid("CRC32 mismatch"));
                    }
                    if size != self.size {
                        return Err(Self::invalid("ISIZE mismatch"));
                    }
                    self.state = GzState::MemberDone;
                    progressed = true;
                }
            }
        }
        Ok(Step {
            consumed,
            produced: 0,
            progressed,
        })
    }
}

// ---- deflate ----------------------------------------------------------------------------

#[derive(Default)]
struct Deflate {
    /// Created once two octets tell zlib from raw deflate.
    inflate: Option<Decompress>,
    /// The first octets, held until the kind is known, then fed to the inflater.
    head: [u8; 2],
    head_len: usize,
    head_fed: usize,
    done: bool,
}

impl Deflate {
    fn step(&mut self, input: &[u8], out: &mut [u8]) -> Result<Step, DecodeError> {
        let Some(d) = &mut self.inflate else {
            let n = (2 - self.head_len).min(input.len());
            self.head[self.head_len..self.head_len + n].copy_from_slice(&input[..n]);
            self.head_len += n;
            if self.head_len == 2 {
                // A zlib header: CM = 8 and the header checksum holds.
                let [a, b] = self.head;
                let zlib = a & 0x0f == 8 && (u16::from(a) << 8 | u16::from(b)) % 31 == 0;
                self.inflate = Some(Decompress::new(zlib));
            }
            return Ok(Step {
                consumed: n,
                produced: 0,
                progressed: false,
            });
        };
        if self.done {
            if input.is_empty() {
                return Ok(Step {
                    consumed: 0,
                    produced: 0,
                    progressed: false,
                });
            }
            return Err(DecodeError::TrailingData {
                coding: ContentCoding::Deflate,
            });
        }
        let from_head = self.head_fed < self.head_len;
        let src = if from_head {
            &self.head[self.head_fed..self.head_len]
        } else {
            input
        };
        let (mut step, end) = inflate(d, src, out, ContentCoding::Deflate)?;
        if from_head {
            self.head_fed += step.consumed;
            step.progressed = step.consumed > 0;
            step.consumed = 0;
        }
        if end {
            self.done = true;
            step.progressed = true;
        }
        Ok(step)
    }
}

// ---- brotli -----------------------------------------------------------------------------

type BrotliState = brotli::BrotliState<
    brotli::enc::StandardAlloc,
    brotli::enc::StandardAlloc,
    brotli::enc::StandardAlloc,
>;

struct Brotli {
    state: BrotliState,
    done: bool,
}

impl Brotli {
    fn new() -> Self {
        use brotli::enc::StandardAlloc;
        Brotli {
            // Strict: RFC 7932 windows only (at most 16 MiB); the large-window extension
            // would let the peer make the ring buffer 1 GiB.
            state: BrotliState::new_strict(
                StandardAlloc::default(),
                StandardAlloc::default(),
                StandardAlloc::default(),
            ),
            done: false,
        }
    }

    fn step(&mut self, input: &[u8], out: &mut [u8]) -> Result<Step, DecodeError> {
        if self.done {
            if input.is_empty() {
                return Ok(Step {
                    consumed: 0,
                    produced: 0,
                    progressed: false,
                });
            }
            return Err(DecodeError::TrailingData {
                coding: ContentCoding::Brotli,
            });
        }
        let (mut avail_in, mut in_off) = (input.len(), 0);
        let (mut avail_out, mut out_off) = (out.len(), 0);
        let mut total_out = 0;
        let result = brotli::BrotliDecompressStream(
            &mut avail_in,
            &mut in_off,
            input,
            &mut avail_out,
            &mut out_off,
            out,
            &mut total_out,
            &mut self.state,
        );
        let mut progressed = false;
        match result {
            brotli::BrotliResult::ResultFailure => {
                return Err(DecodeError::Invalid {
                    coding: ContentCoding::Brotli,
                    reason: "corrupt brotli data",
                });
            }
            brotli::BrotliResult::ResultSuccess => {
                self.done = true;
                progressed = true;
            }
            brotli::BrotliResult::NeedsMoreInput | brotli::BrotliResult::NeedsMoreOutput => {}
        }
        Ok(Step {
            consumed: in_off,
            produced: out_off,
            progressed,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;

    /// Decodes `data` pushed in `piece`-octet payloads, pulling after each push as a body
    /// does; checks every chunk against the bound.
    fn decode_in_pieces(
        encoding: &[u8],
        data: &[u8],
        piece: usize,
        limit: Option<u64>,
    ) -> Result<Vec<u8>, (DecodeError, usize)> {
        let mut d = ContentDecoder::for_encoding(encoding, limit).expect("known encoding");
        let mut out = Vec::new();
        let drain = |d: &mut ContentDecoder, end: bool, out: &mut Vec<u8>| loop {
            match d.pull(end) {
                Ok(Some(c)) => {
                    assert!(!c.is_empty() && c.len() <= OUT_CHUNK);
                    out.extend_from_slice(&c);
                }
                Ok(None) => return Ok(()),
                Err(e) => return Err(e),
            }
        };
        for p in data.chunks(piece) {
            d.push(Bytes::copy_from_slice(p));
            drain(&mut d, false, &mut out).map_err(|e| (e, out.len()))?;
            assert_eq!(d.buffered(), 0, "a pull returning None used the payload up");
        }
        drain(&mut d, true, &mut out).map_err(|e| (e, out.len()))?;
        Ok(out)
    }

    fn sample() -> Vec<u8> {
        (0..50_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    fn gzip(plain: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(plain).unwrap();
        gz.finish().unwrap()
    }

    fn zlib(plain: &[u8]) -> Vec<u8> {
        let mut zl = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zl.write_all(plain).unwrap();
        zl.finish().unwrap()
    }

    fn raw_deflate(plain: &[u8]) -> Vec<u8> {
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(plain).unwrap();
        raw.finish().unwrap()
    }

    fn brotli(plain: &[u8]) -> Vec<u8> {
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
            w.write_all(plain).unwrap();
        }
        br
    }

    #[test]
    fn gzip_zlib_raw_deflate_and_brotli_decode_in_any_pieces() {
        let plain = sample();
        let (gz, zl, raw, br) = (
            gzip(&plain),
            zlib(&plain),
            raw_deflate(&plain),
            brotli(&plain),
        );
        for piece in [1, 7, 16_384] {
            assert_eq!(decode_in_pieces(b"gzip", &gz, piece, None).unwrap(), plain);
            assert_eq!(
                decode_in_pieces(b"x-gzip", &gz, piece, None).unwrap(),
                plain
            );
            assert_eq!(
                decode_in_pieces(b"deflate", &zl, piece, None).unwrap(),
                plain
            );
            assert_eq!(
                decode_in_pieces(b"Deflate", &raw, piece, None).unwrap(),
                plain
            );
            assert_eq!(decode_in_pieces(b" br ", &br, piece, None).unwrap(), plain);
        }
        assert!(ContentDecoder::for_encoding(b"zstd", None).is_none());
    }

    #[test]
    fn an_empty_body_decodes_to_nothing() {
        for coding in [&b"gzip"[..], b"deflate", b"br"] {
            assert_eq!(decode_in_pieces(coding, b"", 1, None).unwrap(), b"");
        }
    }

    #[test]
    fn truncated_streams_are_errors() {
        let plain = sample();
        let gz = gzip(&plain);
        let mut d = ContentDecoder::for_encoding(b"gzip", None).unwrap();
        d.push(Bytes::copy_from_slice(&gz[..gz.len() / 2]));
        while d.pull(false).unwrap().is_some() {}
        let mut err = None;
        for _ in 0..100 {
            match d.pull(true) {
                Ok(Some(_)) => {}
                Ok(None) => panic!("a truncated gzip stream ended cleanly"),
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        assert_eq!(
            err,
            Some(DecodeError::Truncated {
                coding: ContentCoding::Gzip
            })
        );
        // Cut inside the trailer, in the header, and a lone first deflate octet.
        for (coding, data) in [
            (&b"gzip"[..], &gz[..gz.len() - 3]),
            (b"gzip", &gz[..5]),
            (b"deflate", &zlib(&plain)[..1]),
            (b"br", &brotli(&plain)[..40]),
        ] {
            for piece in [1, 7, 16_384] {
                let (e, _) = decode_in_pieces(coding, data, piece, None).unwrap_err();
                assert!(matches!(e, DecodeError::Truncated { .. }), "{e:?}");
            }
        }
    }

    #[test]
    fn corrupt_and_trailing_data_are_errors() {
        let plain = sample();
        let mut gz = gzip(&plain);
        let n = gz.len();
        gz[n - 8] ^= 1;
        let (e, _) = decode_in_pieces(b"gzip", &gz, 16_384, None).unwrap_err();
        assert_eq!(
            e,
            DecodeError::Invalid {
                coding: ContentCoding::Gzip,
                reason: "CRC32 mismatch"
            }
        );
        let (e, _) = decode_in_pieces(b"gzip", b"PK\x03\x04 not gzip", 7, None).unwrap_err();
        assert!(matches!(e, DecodeError::Invalid { .. }), "{e:?}");
        let mut zl = zlib(&plain);
        zl.push(0);
        let (e, _) = decode_in_pieces(b"deflate", &zl, 7, None).unwrap_err();
        assert!(matches!(e, DecodeError::TrailingData { .. }), "{e:?}");
        let mut br = brotli(&plain);
        br.extend_from_slice(b"junk");
        let (e, _) = decode_in_pieces(b"br", &br, 7, None).unwrap_err();
        assert!(matches!(e, DecodeError::TrailingData { .. }), "{e:?}");
        let mut gz = gzip(b"abc");
        gz.extend_from_slice(b"junk");
        let (e, _) = decode_in_pieces(b"gzip", &gz, 7, None).unwrap_err();
        assert!(matches!(e, DecodeError::Invalid { .. }), "{e:?}");
    }

    #[test]
    fn gzip_members_and_optional_header_fields_decode() {
        // Two members in a row decode as their concatenation (RFC 1952 §2.2).
        let mut two = gzip(b"hello, ");
        two.extend_from_slice(&gzip(b"world"));
        for piece in [1, 7, 16_384] {
            assert_eq!(
                decode_in_pieces(b"gzip", &two, piece, None).unwrap(),
                b"hello, world"
            );
        }
        // FEXTRA, FNAME, FCOMMENT and FHCRC are skipped.
        let plain = sample();
        let mut crc = Crc::new();
        crc.update(&plain);
        let mut m = vec![
            0x1f,
            0x8b,
            8,
            FEXTRA | FNAME | FCOMMENT | FHCRC,
            0,
            0,
            0,
            0,
            0,
            255,
        ];
        m.extend_from_slice(&[3, 0, b'x', 0, b'y']);
        m.extend_from_slice(b"name.txt\0a comment\0");
        m.extend_from_slice(&[0xab, 0xcd]);
        m.extend_from_slice(&raw_deflate(&plain));
        m.extend_from_slice(&crc.sum().to_le_bytes());
        m.extend_from_slice(&(plain.len() as u32).to_le_bytes());
        for piece in [1, 7, 16_384] {
            assert_eq!(decode_in_pieces(b"gzip", &m, piece, None).unwrap(), plain);
        }
    }

    #[test]
    fn the_total_cap_stops_at_exactly_the_limit() {
        let plain = sample();
        let len = plain.len() as u64;
        for (coding, data) in [(&b"gzip"[..], gzip(&plain)), (b"br", brotli(&plain))] {
            assert_eq!(
                decode_in_pieces(coding, &data, 7, Some(len)).unwrap(),
                plain
            );
            let (e, handed_out) = decode_in_pieces(coding, &data, 7, Some(len - 1)).unwrap_err();
            assert_eq!(e, DecodeError::TooLarge { limit: len - 1 });
            assert_eq!(handed_out as u64, len - 1);
        }
    }

    /// `total` zeros (a multiple of 1 MiB) compressed, built without compressing `total`
    /// octets: each 1 MiB of zeros is compressed with a flush after it, which byte-aligns its
    /// output; once the encoder is in its steady state every such segment is the same, so
    /// the rest of the stream repeats one segment.
    pub(crate) fn bomb(coding: ContentCoding, total: usize) -> Vec<u8> {
        const SEG: usize = 1 << 20;
        assert!(total % SEG == 0 && total >= 3 * SEG);
        let zeros = vec![0u8; SEG];
        let (head, steady, tail) = match coding {
            ContentCoding::Brotli => {
                let mut w = brotli::CompressorWriter::new(Vec::new(), 1 << 16, 1, 22);
                let mut cuts = Vec::new();
                for _ in 0..3 {
                    w.write_all(&zeros).unwrap();
                    w.flush().unwrap();
                    cuts.push(w.get_ref().len());
                }
                let all = w.into_inner();
                (
                    all[..cuts[0]].to_vec(),
                    [
                        all[cuts[0]..cuts[1]].to_vec(),
                        all[cuts[1]..cuts[2]].to_vec(),
                    ],
                    all[cuts[2]..].to_vec(),
                )
            }
            ContentCoding::Gzip | ContentCoding::Deflate => {
                let mut c = flate2::Compress::new(flate2::Compression::best(), false);
                let mut all = Vec::with_capacity(8 * 1024);
                let mut cuts = Vec::new();
                for _ in 0..3 {
                    let before = c.total_in();
                    loop {
                        let done = (c.total_in() - before) as usize;
                        all.reserve(64 * 1024);
                        c.compress_vec(&zeros[done..], &mut all, flate2::FlushCompress::Sync)
                            .unwrap();
                        // Input used up and room left over: the flush is complete.
                        if c.total_in() - before == SEG as u64 && all.len() < all.capacity() {
                            break;
                        }
                    }
                    cuts.push(all.len());
                }
                loop {
                    all.reserve(4096);
                    if c.compress_vec(&[], &mut all, flate2::FlushCompress::Finish)
                        .unwrap()
                        == Status::StreamEnd
                    {
                        break;
                    }
                }
                (
                    all[..cuts[0]].to_vec(),
                    [
                        all[cuts[0]..cuts[1]].to_vec(),
                        all[cuts[1]..cuts[2]].to_vec(),
                    ],
                    all[cuts[2]..].to_vec(),
                )
            }
        };
        assert_eq!(steady[0], steady[1], "the encoder reached a steady state");
        let mut out = Vec::new();
        if coding == ContentCoding::Gzip {
            out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
        }
        out.extend_from_slice(&head);
        for _ in 1..total / SEG {
            out.extend_from_slice(&steady[0]);
        }
        out.extend_from_slice(&tail);
        if coding == ContentCoding::Gzip {
            let mut crc = Crc::new();
            for _ in 0..total / SEG {
                crc.update(&zeros);
            }
            out.extend_from_slice(&crc.sum().to_le_bytes());
            out.extend_from_slice(&(total as u32).to_le_bytes());
        }
        out
    }

    /// The frame size a bomb arrives in.
    pub(crate) const FRAME: usize = 16 * 1024;

    #[test]
    fn a_bomb_decodes_in_bounded_chunks_as_it_is_pulled() {
        const TOTAL: usize = 256 << 20;
        for (coding, name) in [
            (ContentCoding::Gzip, &b"gzip"[..]),
            (ContentCoding::Brotli, b"br"),
        ] {
            let bomb = bomb(coding, TOTAL);
            assert!(bomb.len() < TOTAL / 1000, "{coding}: {} octets", bomb.len());
            let mut d = ContentDecoder::for_encoding(name, None).unwrap();
            let (mut total, mut biggest_chunk, mut most_from_one_frame) = (0usize, 0, 0);
            let mut frames = bomb.chunks(FRAME);
            loop {
                let frame = frames.next();
                let end = frame.is_none();
                if let Some(f) = frame {
                    d.push(Bytes::copy_from_slice(f));
                }
                let mut from_this_frame = 0;
                while let Some(chunk) = d.pull(end).unwrap() {
                    // What the decoder holds besides the chunk: at most the one frame.
                    assert!(d.buffered() <= FRAME);
                    biggest_chunk = biggest_chunk.max(chunk.len());
                    from_this_frame += chunk.len();
                }
                most_from_one_frame = most_from_one_frame.max(from_this_frame);
                total += from_this_frame;
                if end {
                    break;
                }
            }
            assert_eq!(total, TOTAL, "{coding}");
            assert_eq!(biggest_chunk, OUT_CHUNK, "{coding}");
            // One 16 KiB frame really did expand to many megabytes, handed out 64 KiB at a time.
            assert!(
                most_from_one_frame > 8 << 20,
                "{coding}: {most_from_one_frame}"
            );
        }
    }

    #[test]
    fn the_total_cap_stops_a_bomb() {
        const LIMIT: u64 = 5 << 20;
        for (coding, name) in [
            (ContentCoding::Gzip, &b"gzip"[..]),
            (ContentCoding::Brotli, b"br"),
        ] {
            let bomb = bomb(coding, 1 << 30);
            let mut d = ContentDecoder::for_encoding(name, Some(LIMIT)).unwrap();
            let mut total = 0u64;
            let mut error = None;
            'frames: for frame in bomb.chunks(FRAME) {
                d.push(Bytes::copy_from_slice(frame));
                loop {
                    match d.pull(false) {
                        Ok(Some(chunk)) => total += chunk.len() as u64,
                        Ok(None) => break,
                        Err(e) => {
                            error = Some(e);
                            break 'frames;
                        }
                    }
                }
            }
            assert_eq!(
                error,
                Some(DecodeError::TooLarge { limit: LIMIT }),
                "{coding}"
            );
            assert_eq!(total, LIMIT, "{coding}");
            // The failure is final.
            assert!(d.pull(true).is_err());
        }
    }
}
