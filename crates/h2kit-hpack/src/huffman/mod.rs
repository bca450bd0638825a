//! The HPACK Huffman code (RFC 7541 §5.2, Appendix B).
//!
//! Encoding packs codes into a 64-bit accumulator and writes 32 bits at a time. Decoding runs
//! a 256-state machine over 4-bit nibbles, generated once from the code list by
//! `generate.rs` and checked in as `table.rs`; nothing is built at run time.

#[cfg(test)]
mod generate;
#[rustfmt::skip]
mod table;

use bytes::{BufMut, BytesMut};

use crate::DecodeError;
use table::{CODES, DECODE, END, LENGTHS};

const SYM: u8 = 1;
const FAIL: u8 = 2;
const END_OK: u8 = 0;
const END_TOO_LONG: u8 = 1;
const END_NOT_ONES: u8 = 2;

/// Length in bytes of the Huffman encoding of `src`.
pub(crate) fn encoded_len(src: &[u8]) -> usize {
    let bits: usize = src
        .iter()
        .map(|&b| usize::from(LENGTHS[usize::from(b)]))
        .sum();
    bits.div_ceil(8)
}

/// Appends the Huffman encoding of `src` to `dst`, padded with the EOS prefix.
pub(crate) fn encode(src: &[u8], dst: &mut BytesMut) {
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    for &b in src {
        let len = u32::from(LENGTHS[usize::from(b)]);
        acc = (acc << len) | u64::from(CODES[usize::from(b)]);
        bits += len;
        if bits >= 32 {
            bits -= 32;
            dst.put_u32((acc >> bits) as u32);
        }
    }
    while bits >= 8 {
        bits -= 8;
        dst.put_u8((acc >> bits) as u8);
    }
    if bits > 0 {
        let pad = 8 - bits;
        dst.put_u8(((acc << pad) as u8) | ((1u8 << pad) - 1));
    }
}

/// Appends the decoding of the Huffman string `src` to `dst`.
pub(crate) fn decode(src: &[u8], dst: &mut BytesMut) -> Result<(), DecodeError> {
    let mut buf = [0u8; 64];
    let mut n = 0usize;
    let mut state = 0u8;
    for &byte in src {
        for nibble in [byte >> 4, byte & 0x0f] {
            let (next, flags, sym) = DECODE[usize::from(state)][usize::from(nibble)];
            if flags & FAIL != 0 {
                return Err(DecodeError::HuffmanEos);
            }
            // Branch-free: always store, advance only when a symbol was completed.
            buf[n] = sym;
            n += usize::from(flags & SYM);
            state = next;
        }
        if n >= buf.len() - 2 {
            dst.extend_from_slice(&buf[..n]);
            n = 0;
        }
    }
    dst.extend_from_slice(&buf[..n]);
    match END[usize::from(state)] {
        END_OK => Ok(()),
        END_TOO_LONG => Err(DecodeError::HuffmanPaddingTooLong),
        _ => Err(DecodeError::HuffmanPaddingNotOnes),
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
