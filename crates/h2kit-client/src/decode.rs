//! Content decoding of response bodies (gzip, deflate, br), chunk by chunk.

use std::io::{self, Write};

use bytes::Bytes;

/// The `accept-encoding` value sent when decoding is on.
pub(crate) const ACCEPT_ENCODING: &str = "gzip, deflate, br";

/// A push decoder: compressed chunks in, decoded bytes out.
pub(crate) enum ContentDecoder {
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    /// `deflate` is zlib-wrapped per RFC 9110 §8.4.1.2; some servers send raw deflate, which
    /// is detected from the first byte.
    Deflate(Option<DeflateKind>, Vec<u8>),
    Brotli(Box<brotli::DecompressorWriter<Vec<u8>>>),
}

pub(crate) enum DeflateKind {
    Zlib(flate2::write::ZlibDecoder<Vec<u8>>),
    Raw(flate2::write::DeflateDecoder<Vec<u8>>),
}

impl ContentDecoder {
    /// A decoder for a `content-encoding` value, if it is one we decode.
    pub(crate) fn for_encoding(value: &[u8]) -> Option<Self> {
        let v = value.trim_ascii();
        if v.eq_ignore_ascii_case(b"gzip") || v.eq_ignore_ascii_case(b"x-gzip") {
            Some(ContentDecoder::Gzip(flate2::write::GzDecoder::new(
                Vec::new(),
            )))
        } else if v.eq_ignore_ascii_case(b"deflate") {
            Some(ContentDecoder::Deflate(None, Vec::new()))
        } else if v.eq_ignore_ascii_case(b"br") {
            Some(ContentDecoder::Brotli(Box::new(
                brotli::DecompressorWriter::new(Vec::new(), 16 * 1024),
            )))
        } else {
            None
        }
    }

    /// Decodes `input`, returning what became available (possibly nothing).
    pub(crate) fn push(&mut self, input: &[u8]) -> io::Result<Bytes> {
        match self {
            ContentDecoder::Gzip(d) => {
                d.write_all(input)?;
                Ok(Bytes::from(std::mem::take(d.get_mut())))
            }
            ContentDecoder::Deflate(kind, head) => {
                let mut joined = Vec::new();
                let input = if kind.is_none() {
                    // Two octets tell zlib from raw deflate.
                    if head.len() + input.len() < 2 {
                        head.extend_from_slice(input);
                        return Ok(Bytes::new());
                    }
                    joined.extend_from_slice(head);
                    joined.extend_from_slice(input);
                    head.clear();
                    &joined[..]
                } else {
                    input
                };
                let k = kind.get_or_insert_with(|| {
                    // A zlib header: CM = 8 and the header checksum holds.
                    let zlib = input[0] & 0x0f == 8
                        && (u16::from(input[0]) << 8 | u16::from(input[1])) % 31 == 0;
                    if zlib {
                        DeflateKind::Zlib(flate2::write::ZlibDecoder::new(Vec::new()))
                    } else {
                        DeflateKind::Raw(flate2::write::DeflateDecoder::new(Vec::new()))
                    }
                });
                match k {
                    DeflateKind::Zlib(d) => {
                        d.write_all(input)?;
                        Ok(Bytes::from(std::mem::take(d.get_mut())))
                    }
                    DeflateKind::Raw(d) => {
                        d.write_all(input)?;
                        Ok(Bytes::from(std::mem::take(d.get_mut())))
                    }
                }
            }
            ContentDecoder::Brotli(d) => {
                d.write_all(input)?;
                Ok(Bytes::from(std::mem::take(d.get_mut())))
            }
        }
    }

    /// The input ended: returns the last decoded bytes, or an error when the encoded stream
    /// was cut short.
    pub(crate) fn finish(&mut self) -> io::Result<Bytes> {
        match self {
            ContentDecoder::Gzip(d) => {
                d.try_finish()?;
                Ok(Bytes::from(std::mem::take(d.get_mut())))
            }
            ContentDecoder::Deflate(None, head) => {
                if head.is_empty() {
                    Ok(Bytes::new())
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "truncated deflate stream",
                    ))
                }
            }
            ContentDecoder::Deflate(Some(DeflateKind::Zlib(d)), _) => {
                d.try_finish()?;
                Ok(Bytes::from(std::mem::take(d.get_mut())))
            }
            ContentDecoder::Deflate(Some(DeflateKind::Raw(d)), _) => {
                d.try_finish()?;
                Ok(Bytes::from(std::mem::take(d.get_mut())))
            }
            ContentDecoder::Brotli(d) => {
                d.close()?;
                Ok(Bytes::from(std::mem::take(d.get_mut())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(encoding: &[u8], data: &[u8], piece: usize) -> Vec<u8> {
        let mut d = ContentDecoder::for_encoding(encoding).expect("known encoding");
        let mut out = Vec::new();
        for p in data.chunks(piece) {
            out.extend_from_slice(&d.push(p).expect("decodes"));
        }
        out.extend_from_slice(&d.finish().expect("finishes"));
        out
    }

    fn sample() -> Vec<u8> {
        (0..50_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    #[test]
    fn gzip_zlib_raw_deflate_and_brotli_decode_in_any_pieces() {
        let plain = sample();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        let mut zl = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zl.write_all(&plain).unwrap();
        let zl = zl.finish().unwrap();
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(&plain).unwrap();
        let raw = raw.finish().unwrap();
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
            w.write_all(&plain).unwrap();
        }
        for piece in [1, 7, 16_384] {
            assert_eq!(decode_in_pieces(b"gzip", &gz, piece), plain);
            assert_eq!(decode_in_pieces(b"deflate", &zl, piece), plain);
            assert_eq!(decode_in_pieces(b"Deflate", &raw, piece), plain);
            assert_eq!(decode_in_pieces(b" br ", &br, piece), plain);
        }
        assert!(ContentDecoder::for_encoding(b"zstd").is_none());
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&sample()).unwrap();
        let gz = gz.finish().unwrap();
        let mut d = ContentDecoder::for_encoding(b"gzip").unwrap();
        let _ = d.push(&gz[..gz.len() / 2]).unwrap();
        assert!(d.finish().is_err());
    }
}
