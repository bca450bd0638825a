//! The HPACK Huffman code (RFC 7541 §5.2, Appendix B).
//!
//! Encoding packs codes into a 64-bit accumulator and writes 32 bits at a time, straight into
//! the destination, giving up as soon as the result would not be shorter than a limit.
//! Decoding keeps up to 64 input bits in an accumulator and looks the next 14 at a time up in
//! a table that yields one or two symbols (most codes are 5 to 8 bits); the rare longer codes
//! are found through the code's canonical order. The tables are generated from the code list
//! by `generate.rs` and checked in as `table.rs`; nothing is built at run time.

#[cfg(test)]
mod generate;
#[rustfmt::skip]
mod table;

#[cfg(test)]
use bytes::BytesMut;

use crate::DecodeError;
use table::{CODES, FAST, FIRST, LENGTHS, LIMIT, OFFSET, SORTED};

/// Bits of lookahead in [`FAST`] (`generate::FAST_BITS`). 13 bits (a 32 KiB table) yield
/// 1.77 symbols per lookup on `raw-data` values, 12 bits 1.57; 14 bits (64 KiB) decode the
/// `nghttp2` stories about 1.5% faster than 13 and 15 bits (128 KiB) no faster than 13 (more
/// symbols per lookup against more cache misses). A refill (56 bits at least) must leave a
/// lookahead's worth after two lookups; a long code (30 bits at most) may need a refill first.
const FAST_BITS: u32 = 14;
const _: () = assert!(56 - 2 * FAST_BITS >= FAST_BITS);
/// The EOS symbol.
const EOS: u16 = 256;

/// Length in bytes of the Huffman encoding of `src`.
#[cfg(test)]
pub(crate) fn encoded_len(src: &[u8]) -> usize {
    let bits: usize = src
        .iter()
        .map(|&b| usize::from(LENGTHS[usize::from(b)]))
        .sum();
    bits.div_ceil(8)
}

/// Bytes `encode_into` may touch beyond `limit`.
pub(crate) const ENCODE_SLACK: usize = 8;

/// The longest Huffman encoding of `len` bytes (30 bits per byte at worst).
pub(crate) fn max_encoded_len(len: usize) -> usize {
    len.saturating_mul(30).div_ceil(8)
}

/// Each byte's code aligned to the most significant bit, so that appending it to `bits`
/// pending bits (also at the top) is `acc |= LEFT_CODES[b] >> bits`.
static LEFT_CODES: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (CODES[i] as u64) << (64 - LENGTHS[i] as u32);
        i += 1;
    }
    t
};

/// Writes the Huffman encoding of `src`, padded with the EOS prefix, at the start of `out`
/// and returns its length, or `None` as soon as it is known to be longer than `limit` bytes.
///
/// `out` must hold at least `limit + ENCODE_SLACK` bytes; with `limit` at least
/// [`max_encoded_len`] the encoding always fits.
///
/// Pending bits sit at the top of a 64-bit accumulator. Eight bytes at a time while their
/// codes fit beside what is pending (text mostly takes 5 to 7 bits a byte): their codes are
/// or-ed in, then the whole accumulator is stored and the output advances by the complete
/// bytes in it (the rest is written again by the next store).
#[inline]
pub(crate) fn encode_into(src: &[u8], out: &mut [u8], limit: usize) -> Option<usize> {
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    let mut o = 0usize;
    let code = |b: u8| LEFT_CODES[usize::from(b)];
    let len = |b: u8| u32::from(LENGTHS[usize::from(b)]);
    let mut octets = src.chunks_exact(8);
    for q in &mut octets {
        let Some(&[b0, b1, b2, b3, b4, b5, b6, b7]) = q.first_chunk::<8>() else {
            break;
        };
        let (l0, l1, l2, l3) = (len(b0), len(b1), len(b2), len(b3));
        let (l4, l5, l6, l7) = (len(b4), len(b5), len(b6), len(b7));
        // Where each code starts: all eight end by bit 63.
        let s1 = bits + l0;
        let s2 = s1 + l1;
        let s3 = s2 + l2;
        let s4 = s3 + l3;
        let s5 = s4 + l4;
        let s6 = s5 + l5;
        let s7 = s6 + l6;
        let end = s7 + l7;
        if end <= 63 {
            acc |= (code(b0) >> bits | code(b1) >> s1)
                | (code(b2) >> s2 | code(b3) >> s3)
                | (code(b4) >> s4 | code(b5) >> s5)
                | (code(b6) >> s6 | code(b7) >> s7);
            bits = end;
        } else {
            // Long codes: a byte at a time, storing whenever the next code does not fit.
            for b in [b0, b1, b2, b3, b4, b5, b6, b7] {
                let l = len(b);
                if bits + l > 63 {
                    (acc, bits) = store(acc, bits, out, &mut o)?;
                }
                acc |= code(b) >> bits;
                bits += l;
            }
        }
        (acc, bits) = store(acc, bits, out, &mut o)?;
        if o > limit {
            return None;
        }
    }
    let mut rest = octets.remainder();
    // Four of the last seven bytes in one step when they fit.
    if let Some((&[b0, b1, b2, b3], tail)) = rest.split_first_chunk::<4>() {
        let (l0, l1, l2, l3) = (len(b0), len(b1), len(b2), len(b3));
        let (s1, s2, s3) = (bits + l0, bits + l0 + l1, bits + l0 + l1 + l2);
        if s3 + l3 <= 63 {
            acc |= (code(b0) >> bits | code(b1) >> s1) | (code(b2) >> s2 | code(b3) >> s3);
            bits = s3 + l3;
            rest = tail;
        }
    }
    for &b in rest {
        let l = len(b);
        if bits + l > 63 {
            (acc, bits) = store(acc, bits, out, &mut o)?;
        }
        acc |= code(b) >> bits;
        bits += l;
    }
    if bits > 0 {
        // Pad to a byte boundary with the most significant bits of EOS (all ones); bits
        // below the last byte are not written.
        acc |= u64::MAX >> bits;
        let n = bits.div_ceil(8) as usize;
        out.get_mut(o..o + n)?
            .copy_from_slice(acc.to_be_bytes().get(..n)?);
        o += n;
    }
    (o <= limit).then_some(o)
}

/// Stores the accumulator's 8 bytes at `out[*o..]` and moves past its complete bytes;
/// returns what is left pending (fewer than 8 bits). `None` if `out` is too short.
#[inline(always)]
fn store(acc: u64, bits: u32, out: &mut [u8], o: &mut usize) -> Option<(u64, u32)> {
    out.get_mut(*o..*o + 8)?.copy_from_slice(&acc.to_be_bytes());
    let whole = bits & !7;
    *o += (whole / 8) as usize;
    // `whole` is at most 56 (`bits` is at most 63).
    Some((acc << whole, bits - whole))
}

/// Appends the Huffman encoding of `src` to `dst`, padded with the EOS prefix.
#[cfg(test)]
pub(crate) fn encode(src: &[u8], dst: &mut BytesMut) {
    let start = dst.len();
    let max = max_encoded_len(src.len());
    dst.resize(start + max + ENCODE_SLACK, 0);
    let n = encode_into(src, &mut dst[start..], max).unwrap_or(0);
    dst.truncate(start + n);
}

/// The largest number of bytes `decode` can produce from `len` input bytes (the shortest
/// code is 5 bits), plus the one byte of slack it writes beyond the output.
pub(crate) fn max_decoded_len(len: usize) -> usize {
    len.saturating_mul(8) / 5 + 2
}

/// Appends the decoding of the Huffman string `src` to `dst`.
///
/// On error, `dst` is left as it was.
#[cfg(test)]
pub(crate) fn decode(src: &[u8], dst: &mut BytesMut) -> Result<(), DecodeError> {
    decode_prefix(src, src.len(), dst)
}

/// Appends the decoding of the Huffman string `data[..len]` to `dst` (see [`decode_to`]).
///
/// On error, `dst` is left as it was.
#[cfg(test)]
pub(crate) fn decode_prefix(
    data: &[u8],
    len: usize,
    dst: &mut BytesMut,
) -> Result<(), DecodeError> {
    let start = dst.len();
    dst.resize(start + max_decoded_len(len), 0);
    match decode_to(data, len, &mut dst[start..]) {
        Ok(n) => {
            dst.truncate(start + n);
            Ok(())
        }
        Err(e) => {
            dst.truncate(start);
            Err(e)
        }
    }
}

/// Decodes the Huffman string `data[..len]` into the start of `out`, which holds at least
/// `max_decoded_len(len)` bytes; returns the decoded length. The bytes after the string (the
/// rest of the header block) let the decoder read whole words up to its end.
///
/// `acc` holds input bits from its most significant bit down; `nbits` of them are known to
/// be input (bits below them are more input or zeros), and `left` bits of the string remain
/// to be decoded, counted from the top of `acc`. Bits past the string may be in `acc`: a code
/// only counts when it ends within `left`.
pub(crate) fn decode_to(data: &[u8], len: usize, out: &mut [u8]) -> Result<usize, DecodeError> {
    let mut acc: u64 = 0;
    let mut nbits: u32 = 0;
    let mut left: u64 = (len as u64).saturating_mul(8);
    let mut pos = 0usize;
    let mut n = 0usize;
    // Symbols are written at `out[n]` and `out[n + 1]`: `n` is at most the bits decoded so
    // far over 5, and at least 5 more bits of the string follow, so `n + 1 < max_decoded_len`.

    // Fast loop: while 8 bytes can be read, refill (`nbits` becomes 56..=63) and make up to
    // three lookups, each with at least one lookahead's worth of the string left, so that
    // every entry (at most 14 bits) is within the string; a long code (up to 30 bits) is
    // taken once at least 30 bits are counted in `nbits` (else after a refill) and checked
    // against `left`. What remains is under 14 bits: one lookup and the padding (`last`).
    'fast: while left >= u64::from(FAST_BITS) {
        let Some(word) = data.get(pos..pos + 8) else {
            break;
        };
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        acc |= u64::from_be_bytes(w) >> nbits;
        let take = (63 - nbits) >> 3;
        pos += take as usize;
        nbits += take * 8;
        for _ in 0..3 {
            if left < u64::from(FAST_BITS) {
                break 'fast;
            }
            let e = FAST[(acc >> (64 - FAST_BITS)) as usize];
            if e == 0 {
                if nbits < 30 {
                    // Refill first: a refill leaves at least 56 bits.
                    continue 'fast;
                }
                let (sym, len) = long_code(acc);
                if u64::from(len) > left {
                    // Past the end of the string: the tail sorts it out.
                    break 'fast;
                }
                if sym == EOS {
                    return Err(DecodeError::HuffmanEos);
                }
                // `n < max_decoded_len` (see above).
                let Some(slot) = out.get_mut(n) else {
                    break 'fast;
                };
                *slot = sym as u8;
                n += 1;
                acc <<= len;
                nbits -= len;
                left -= u64::from(len);
                continue 'fast;
            }
            // `n + 2 <= max_decoded_len`: at least 14 bits of the string follow.
            let Some(pair) = out.get_mut(n..n + 2) else {
                break 'fast;
            };
            pair.copy_from_slice(&((e >> 8) as u16).to_le_bytes());
            n += (e >> 30) as usize;
            // Bits 0-5 of `e` are the length: a plain 64-bit shift by `e` (masked to 6 bits).
            acc = acc.wrapping_shl(e);
            nbits -= e & 31;
            left -= u64::from(e & 31);
        }
    }

    // Tail: check every code against the bits that remain.
    loop {
        // Have at least `min(left, 57)` input bits (so every code below that ends within
        // `left` is also within `nbits`): a word at once when the block has 8 more bytes,
        // else a byte at a time (those bytes are in the string).
        if u64::from(nbits) < left.min(57) {
            if let Some(word) = data.get(pos..pos + 8) {
                let mut w = [0u8; 8];
                w.copy_from_slice(word);
                acc |= u64::from_be_bytes(w) >> nbits;
                let take = (63 - nbits) >> 3;
                pos += take as usize;
                nbits += take * 8;
            } else {
                while u64::from(nbits) < left.min(57) {
                    let Some(&b) = data.get(pos) else { break };
                    acc |= u64::from(b) << (56 - nbits);
                    nbits += 8;
                    pos += 1;
                }
            }
        }
        if left < u64::from(FAST_BITS) {
            return last(acc, left, n, out);
        }
        let e = FAST[(acc >> (64 - FAST_BITS)) as usize];
        let total = e & 31;
        if e != 0 && u64::from(total) <= left {
            out[n..n + 2].copy_from_slice(&((e >> 8) as u16).to_le_bytes());
            n += (e >> 30) as usize;
            acc = acc.wrapping_shl(e);
            nbits -= total;
            left -= u64::from(total);
            continue;
        }
        // The last code(s): one of two, a long code, or the padding.
        let (sym, len) = match e {
            0 => long_code(acc),
            _ => (((e >> 8) & 0xff) as u16, e >> 24 & 31),
        };
        if u64::from(len) > left {
            return padding(acc, left).map(|()| n);
        }
        if sym == EOS {
            return Err(DecodeError::HuffmanEos);
        }
        out[n] = sym as u8;
        n += 1;
        acc <<= len;
        nbits -= len;
        left -= u64::from(len);
    }
}

/// Decodes the last `left` (under 14) bits of a string, all of them in `acc`: at most two
/// codes, which one lookup finds (a code that ends within them also ends within the
/// lookahead), then the padding. No branch on how many: both symbols are written and the
/// ones in the string counted.
#[inline(always)]
fn last(acc: u64, left: u64, n: usize, out: &mut [u8]) -> Result<usize, DecodeError> {
    let e = FAST[(acc >> (64 - FAST_BITS)) as usize];
    let (total, first) = (e & 31, e >> 24 & 31);
    // A long code (`e == 0`) does not fit in `left`.
    let (take, count) = if e != 0 && u64::from(total) <= left {
        (total, (e >> 30) as usize)
    } else if e != 0 && u64::from(first) <= left {
        (first, 1)
    } else {
        (0, 0)
    };
    // `n + 2 <= max_decoded_len`: `n` is at most the bits decoded so far over 5.
    out[n..n + 2].copy_from_slice(&((e >> 8) as u16).to_le_bytes());
    padding(acc << take, left - u64::from(take)).map(|()| n + count)
}

/// The symbol and length of the code longer than the lookahead at the top of `acc`.
#[inline]
fn long_code(acc: u64) -> (u16, u32) {
    let w = acc >> 32;
    let mut len = FAST_BITS as usize + 1;
    while len < 30 && w >= LIMIT[len] {
        len += 1;
    }
    // Canonical order: `w` is at least the first code of `len` (left-aligned), since it is
    // not below the previous length's limit; the last length's limit is 2^32.
    let index = usize::from(OFFSET[len]) + (w >> (32 - len)) as usize - FIRST[len] as usize;
    (SORTED[index], len as u32)
}

/// Checks the `left` (0 to 29) bits at the end of a string, which are not a whole code: they
/// must be at most 7 bits of the EOS prefix, that is all ones (RFC 7541 §5.2).
#[inline(always)]
fn padding(acc: u64, left: u64) -> Result<(), DecodeError> {
    let top = acc.checked_shr(64 - left as u32).unwrap_or(0);
    let ones = top == (1u64 << left) - 1;
    match (ones, left) {
        (true, 0..=7) => Ok(()),
        (true, _) => Err(DecodeError::HuffmanPaddingTooLong),
        (false, _) => Err(DecodeError::HuffmanPaddingNotOnes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: &[u8]) {
        let mut enc = BytesMut::new();
        encode(s, &mut enc);
        assert_eq!(enc.len(), encoded_len(s));
        let mut dec = BytesMut::new();
        decode(&enc, &mut dec).expect("decodes");
        assert_eq!(&dec[..], s);
    }

    #[test]
    fn rfc7541_c4_examples() {
        // RFC 7541 C.4.1: "www.example.com"
        let mut enc = BytesMut::new();
        encode(b"www.example.com", &mut enc);
        assert_eq!(
            &enc[..],
            &[
                0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff
            ]
        );
        round_trip(b"no-cache");
        round_trip(b"custom-key");
    }

    #[test]
    fn every_byte_value_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        round_trip(&all);
        for b in 0..=255u8 {
            round_trip(&[b]);
            round_trip(&[b, b, b]);
        }
        round_trip(b"");
    }

    /// Long codes (up to 30 bits) at every offset after short ones (5, 7, 8 bits), so after
    /// zero to two lookups since a refill of the fast loop, with fewer than 30 bits counted.
    #[test]
    fn long_codes_at_every_offset_round_trip() {
        for (k, short) in (0..24).flat_map(|k| [b'a', b':', b'X', b'&'].map(|c| (k, c))) {
            for long in [0u8, 1, 10, 22, 200, 255] {
                let mut s = vec![short; k];
                s.push(long);
                s.extend_from_slice(b"text/html");
                s.push(long);
                round_trip(&s);
                let mut enc = BytesMut::new();
                encode(&s, &mut enc);
                check_against_reference(&enc);
            }
        }
    }

    fn codes() -> &'static std::collections::HashMap<(u8, u32), usize> {
        static CODE_MAP: std::sync::OnceLock<std::collections::HashMap<(u8, u32), usize>> =
            std::sync::OnceLock::new();
        CODE_MAP.get_or_init(|| (0..257).map(|s| ((LENGTHS[s], CODES[s]), s)).collect())
    }

    /// The decoder as RFC 7541 §5.2 states it, one bit at a time.
    fn reference_decode(src: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let mut out = Vec::new();
        let (mut code, mut len) = (0u32, 0u8);
        for i in 0..src.len() * 8 {
            code = code << 1 | u32::from(src[i / 8] >> (7 - i % 8) & 1);
            len += 1;
            if let Some(&sym) = codes().get(&(len, code)) {
                if sym == 256 {
                    return Err(DecodeError::HuffmanEos);
                }
                out.push(sym as u8);
                (code, len) = (0, 0);
            }
        }
        let ones = code == (1u32 << len) - 1;
        match (ones, len) {
            (true, 0..=7) => Ok(out),
            (true, _) => Err(DecodeError::HuffmanPaddingTooLong),
            (false, _) => Err(DecodeError::HuffmanPaddingNotOnes),
        }
    }

    fn check_against_reference(src: &[u8]) {
        let expected = reference_decode(src);
        // Alone, and followed by more of the block (which must not change the result).
        for after in [
            &[][..],
            &[0; 9][..],
            &[0xff; 9][..],
            &[0x5a, 0xa5, 0x0f, 0xf0][..],
        ] {
            let data = [src, after].concat();
            let mut dst = BytesMut::from(&b"keep"[..]);
            let got = decode_prefix(&data, src.len(), &mut dst).map(|()| dst[4..].to_vec());
            assert_eq!(got, expected, "input {src:02x?} then {after:02x?}");
            if got.is_err() {
                assert_eq!(&dst[..], b"keep");
            }
        }
    }

    #[test]
    fn decoder_matches_the_reference_on_short_inputs() {
        for a in 0..=255u8 {
            check_against_reference(&[a]);
            for b in 0..=255u8 {
                check_against_reference(&[a, b]);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn decoder_matches_the_reference(src in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            check_against_reference(&src);
        }

        /// Valid encodings of arbitrary bytes (long codes included), then cut short,
        /// flipped to all ones at the end, or with a byte changed.
        #[test]
        fn decoder_matches_the_reference_near_valid_input(
            plain in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            cut in 0usize..8,
            flip in proptest::prelude::any::<(usize, u8)>(),
        ) {
            let mut enc = BytesMut::new();
            encode(&plain, &mut enc);
            check_against_reference(&enc);
            let mut ones = enc.to_vec();
            ones.extend_from_slice(&[0xff; 4][..cut % 5]);
            check_against_reference(&ones);
            check_against_reference(&enc[..enc.len().saturating_sub(cut)]);
            let mut changed = enc.to_vec();
            if !changed.is_empty() {
                let i = flip.0 % changed.len();
                changed[i] ^= flip.1;
            }
            check_against_reference(&changed);
        }
    }

    #[test]
    fn encoder_gives_up_when_not_shorter() {
        let mut out = [0u8; 64];
        // "aaaa" is 4 x 5 bits = 3 bytes.
        assert_eq!(encode_into(b"aaaa", &mut out, 3), Some(3));
        assert_eq!(encode_into(b"aaaa", &mut out, 2), None);
        // Byte 0 takes 13 bits: 8 of them take 13 bytes.
        assert_eq!(encode_into(&[0; 8], &mut out, 12), None);
        assert_eq!(encode_into(&[0; 8], &mut out, 13), Some(13));
        assert_eq!(encode_into(b"", &mut out, 0), Some(0));
    }

    #[test]
    fn padding_rules() {
        // 8 bits of ones: padding longer than 7 bits.
        assert_eq!(
            decode(&[0xff], &mut BytesMut::new()),
            Err(DecodeError::HuffmanPaddingTooLong)
        );
        // '0' is 00000; pad with zeros instead of ones.
        assert_eq!(
            decode(&[0b0000_0000], &mut BytesMut::new()),
            Err(DecodeError::HuffmanPaddingNotOnes)
        );
        // '0' padded with 111: fine.
        let mut out = BytesMut::new();
        decode(&[0b0000_0111], &mut out).expect("valid");
        assert_eq!(&out[..], b"0");
        // 30 ones: EOS.
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xff], &mut BytesMut::new()),
            Err(DecodeError::HuffmanEos)
        );
    }
}
