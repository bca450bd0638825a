//! One test per `DecodeError` variant, and the limit errors that keep the table in step.

use bytes::{Bytes, BytesMut};
use h2kit_hpack::{DecodeError, Decoder, Encoder, HeaderField};

fn decode(block: &[u8]) -> Result<Vec<HeaderField>, DecodeError> {
    decode_with(&mut Decoder::new(), block)
}

fn decode_with(decoder: &mut Decoder, block: &[u8]) -> Result<Vec<HeaderField>, DecodeError> {
    let mut out = Vec::new();
    decoder.decode(&Bytes::copy_from_slice(block), &mut out)?;
    Ok(out)
}

#[test]
fn truncated_integer() {
    // Literal without indexing, name index 15 needs a continuation byte.
    assert_eq!(decode(&[0x0f]), Err(DecodeError::Truncated));
    // String length missing.
    assert_eq!(decode(&[0x00]), Err(DecodeError::Truncated));
}

#[test]
fn integer_beyond_u32() {
    assert_eq!(
        decode(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]),
        Err(DecodeError::IntegerOverflow)
    );
}

#[test]
fn string_longer_than_the_block() {
    assert_eq!(
        decode(&[0x00, 0x05, b'a']),
        Err(DecodeError::StringTooLong {
            len: 5,
            remaining: 1
        })
    );
}

#[test]
fn huffman_padding_longer_than_7_bits() {
    assert_eq!(
        decode(&[0x00, 0x81, 0xff]),
        Err(DecodeError::HuffmanPaddingTooLong)
    );
}

#[test]
fn huffman_padding_not_all_ones() {
    assert_eq!(
        decode(&[0x00, 0x81, 0x00]),
        Err(DecodeError::HuffmanPaddingNotOnes)
    );
}

#[test]
fn huffman_eos_in_a_string() {
    assert_eq!(
        decode(&[0x00, 0x84, 0xff, 0xff, 0xff, 0xff]),
        Err(DecodeError::HuffmanEos)
    );
}

#[test]
fn index_zero() {
    assert_eq!(decode(&[0x80]), Err(DecodeError::ZeroIndex));
}

#[test]
fn index_out_of_range() {
    assert_eq!(
        decode(&[0xbe]),
        Err(DecodeError::IndexOutOfRange { index: 62, max: 61 })
    );
    // As a name reference of a literal with incremental indexing.
    assert_eq!(
        decode(&[0x7e, 0x00]),
        Err(DecodeError::IndexOutOfRange { index: 62, max: 61 })
    );
}

#[test]
fn table_size_update_above_the_limit() {
    // 4097 with a 5-bit prefix: 31 + 4066.
    assert_eq!(
        decode(&[0x3f, 0xe2, 0x1f]),
        Err(DecodeError::TableSizeUpdateTooLarge {
            size: 4097,
            limit: 4096
        })
    );
    // Several updates at the start are fine when each is within the limit.
    assert!(decode(&[0x20, 0x3f, 0xe1, 0x1f, 0x82]).is_ok());
}

#[test]
fn table_size_update_after_a_field() {
    assert_eq!(
        decode(&[0x82, 0x20]),
        Err(DecodeError::TableSizeUpdateAfterField)
    );
}

#[test]
fn missing_table_size_update_after_our_limit_shrank() {
    let mut decoder = Decoder::new();
    decoder.set_max_table_size(100);
    assert_eq!(
        decode_with(&mut decoder, &[0x82]),
        Err(DecodeError::MissingTableSizeUpdate)
    );
    let mut decoder = Decoder::new();
    decoder.set_max_table_size(100);
    assert_eq!(
        decode_with(&mut decoder, &[0x3f, 0x45, 0x82]).map(|v| v.len()),
        Ok(1)
    );
    assert_eq!(decoder.table_capacity(), 100);
    // Raising the limit needs no update.
    let mut decoder = Decoder::new();
    decoder.set_max_table_size(8192);
    assert!(decode_with(&mut decoder, &[0x82]).is_ok());
}

#[test]
fn header_list_too_large() {
    let mut decoder = Decoder::new();
    // :method GET counts 7 + 3 + 32 = 42.
    decoder.set_max_header_list_size(84);
    assert_eq!(
        decode_with(&mut decoder, &[0x82, 0x82]).map(|v| v.len()),
        Ok(2)
    );
    let err = decode_with(&mut decoder, &[0x82, 0x82, 0x82]).unwrap_err();
    assert_eq!(err, DecodeError::HeaderListTooLarge { limit: 84 });
    assert!(err.is_limit());
}

#[test]
fn field_too_large() {
    let mut decoder = Decoder::new();
    decoder.set_max_field_size(5);
    let err = decode_with(&mut decoder, &[0x82]).unwrap_err();
    assert_eq!(err, DecodeError::FieldTooLarge { size: 10, limit: 5 });
    assert!(err.is_limit());
    assert!(!DecodeError::ZeroIndex.is_limit());
}

#[test]
fn table_stays_in_step_after_an_oversized_header_list() {
    let mut encoder = Encoder::new();
    let mut decoder = Decoder::new();
    decoder.set_max_header_list_size(200);
    let big: Vec<HeaderField> = (0..6)
        .map(|i| HeaderField::new(format!("x-field-{i}"), "a value that repeats"))
        .collect();
    // Twice, so that the second time the encoder refers to what it indexed the first time.
    for round in 0..3 {
        let mut dst = BytesMut::new();
        encoder.encode(&big, &mut dst);
        let mut out = Vec::new();
        let err = decoder.decode(&dst.freeze(), &mut out).unwrap_err();
        assert_eq!(
            err,
            DecodeError::HeaderListTooLarge { limit: 200 },
            "round {round}"
        );
        assert!(out.is_empty());
        assert_eq!(decoder.table_size(), encoder.table_size());
        assert_eq!(decoder.table_len(), encoder.table_len());
        assert!(encoder.table_len() > 0);
    }
    // A small list that refers to the entries the oversized blocks added still decodes.
    let small = [HeaderField::new("x-field-3", "a value that repeats")];
    let mut dst = BytesMut::new();
    encoder.encode(&small, &mut dst);
    assert_eq!(
        dst.len(),
        1,
        "an indexed reference to an entry of the rejected blocks"
    );
    let mut out = Vec::new();
    decoder.decode(&dst.freeze(), &mut out).expect("in step");
    assert_eq!(out[0].value, "a value that repeats");
}

#[test]
fn errors_leave_the_output_as_it_was() {
    let mut out = vec![HeaderField::new("keep", "me")];
    let mut decoder = Decoder::new();
    let block = Bytes::from_static(&[0x82, 0x80]);
    assert_eq!(
        decoder.decode(&block, &mut out),
        Err(DecodeError::ZeroIndex)
    );
    assert_eq!(out.len(), 1);
}
