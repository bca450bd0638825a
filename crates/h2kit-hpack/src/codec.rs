//! Integer (RFC 7541 §5.1) and string (§5.2) primitives.

use bytes::{BufMut, BytesMut};

use crate::DecodeError;

/// Reads an integer with an `prefix`-bit prefix starting at `buf[*pos]`; the caller has
/// already looked at the flag bits of that byte. Values above `u32::MAX` are rejected.
pub(crate) fn decode_int(buf: &[u8], pos: &mut usize, prefix: u8) -> Result<usize, DecodeError> {
    let mask = ((1u16 << prefix) - 1) as u8;
    let first = *buf.get(*pos).ok_or(DecodeError::Truncated)? & mask;
    *pos += 1;
    if first < mask {
        return Ok(usize::from(first));
    }
    let mut value = u64::from(mask);
    let mut shift = 0u32;
    loop {
        let b = *buf.get(*pos).ok_or(DecodeError::Truncated)?;
        *pos += 1;
        value += u64::from(b & 0x7f) << shift;
        if value > u64::from(u32::MAX) {
            return Err(DecodeError::IntegerOverflow);
        }
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 28 {
            return Err(DecodeError::IntegerOverflow);
        }
    }
    usize::try_from(value).map_err(|_| DecodeError::IntegerOverflow)
}

/// Writes `value` with a `prefix`-bit prefix; `flags` are the bits above the prefix.
#[inline]
pub(crate) fn encode_int(value: usize, prefix: u8, flags: u8, dst: &mut BytesMut) {
    let mask = (1usize << prefix) - 1;
    if value < mask {
        dst.put_u8(flags | value as u8);
        return;
    }
    dst.put_u8(flags | mask as u8);
    let mut rest = value - mask;
    while rest >= 128 {
        dst.put_u8((rest as u8 & 0x7f) | 0x80);
        rest >>= 7;
    }
    dst.put_u8(rest as u8);
}

/// The number of bytes [`encode_int`] writes for `value` with a `prefix`-bit prefix.
pub(crate) fn int_len(value: usize, prefix: u8) -> usize {
    let mask = (1usize << prefix) - 1;
    if value < mask {
        return 1;
    }
    let mut rest = value - mask;
    let mut n = 2;
    while rest >= 128 {
        rest >>= 7;
        n += 1;
    }
    n
}

/// Writes what [`encode_int`] would into `out`, which is [`int_len`] bytes long (bytes that
/// do not fit are dropped).
pub(crate) fn encode_int_into(value: usize, prefix: u8, flags: u8, out: &mut [u8]) {
    let mask = (1usize << prefix) - 1;
    let mut bytes = out.iter_mut();
    let mut put = |b: u8| {
        if let Some(slot) = bytes.next() {
            *slot = b;
        }
    };
    if value < mask {
        put(flags | value as u8);
        return;
    }
    put(flags | mask as u8);
    let mut rest = value - mask;
    while rest >= 128 {
        put((rest as u8 & 0x7f) | 0x80);
        rest >>= 7;
    }
    put(rest as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7541_c1_integers() {
        let mut b = BytesMut::new();
        encode_int(10, 5, 0, &mut b);
        assert_eq!(&b[..], &[0x0a]);
        b.clear();
        encode_int(1337, 5, 0, &mut b);
        assert_eq!(&b[..], &[0x1f, 0x9a, 0x0a]);
        let mut pos = 0;
        assert_eq!(decode_int(&b, &mut pos, 5), Ok(1337));
        assert_eq!(pos, 3);
        b.clear();
        encode_int(42, 8, 0, &mut b);
        assert_eq!(&b[..], &[42]);
    }

    #[test]
    fn integer_limits() {
        for v in [
            0usize,
            30,
            31,
            127,
            128,
            255,
            16_383,
            1 << 20,
            u32::MAX as usize,
        ] {
            for prefix in 1..=8 {
                let mut b = BytesMut::new();
                encode_int(v, prefix, 0, &mut b);
                let mut pos = 0;
                assert_eq!(decode_int(&b, &mut pos, prefix), Ok(v));
            }
        }
        for v in [0usize, 126, 127, 128, 254, 255, 16_510, 16_511, 1 << 20] {
            let mut b = BytesMut::new();
            encode_int(v, 7, 0x80, &mut b);
            assert_eq!(int_len(v, 7), b.len(), "{v}");
            let mut into = vec![0u8; b.len()];
            encode_int_into(v, 7, 0x80, &mut into);
            assert_eq!(into, &b[..], "{v}");
        }
        let mut b = BytesMut::new();
        encode_int(u32::MAX as usize + 1, 5, 0, &mut b);
        assert_eq!(decode_int(&b, &mut 0, 5), Err(DecodeError::IntegerOverflow));
        // Endless zero continuation bytes are cut off.
        let zeros = [0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert_eq!(
            decode_int(&zeros, &mut 0, 5),
            Err(DecodeError::IntegerOverflow)
        );
        assert_eq!(
            decode_int(&[0x1f, 0x80], &mut 0, 5),
            Err(DecodeError::Truncated)
        );
    }
}
