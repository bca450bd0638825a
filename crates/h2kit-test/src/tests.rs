//! Tests of the DSL's wire output, of two scripted peers talking, and of the assertions.

use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::BytesMut;
use h2kit_frame::{
    ErrorCode, Flags, Frame, FrameType, PrioritySpec, SettingId, Settings, StreamId, encode_data,
    encode_goaway, encode_headers, encode_settings,
};
use h2kit_hpack::{HeaderField, HuffmanPolicy};

use crate::frames::{self, CLIENT_MAGIC};
use crate::{
    FrameSpec, ReceivedFrame, Role, SPLIT_SIZES, ScriptedPeer, for_each_split, split_into,
};

fn bytes_of(spec: impl Into<FrameSpec>) -> Vec<u8> {
    spec.into().to_bytes().to_vec()
}

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// A client and a server peer after exchanging prefaces and ACKs.
fn connected() -> (ScriptedPeer, ScriptedPeer) {
    let mut client = ScriptedPeer::client();
    let mut server = ScriptedPeer::server();
    client.send(frames::preface());
    server.send(frames::preface());
    client.flush_to(&mut server);
    server.flush_to(&mut client);
    server.expect(frames::preface());
    client.expect(frames::preface());
    client.send(frames::settings_ack());
    server.send(frames::settings_ack());
    client.flush_to(&mut server);
    server.flush_to(&mut client);
    server.expect_settings_ack();
    client.expect_settings_ack();
    (client, server)
}

fn request_fields(extra: &[(&str, &str)]) -> Vec<HeaderField> {
    let mut v = vec![
        HeaderField::new(":method", "GET"),
        HeaderField::new(":scheme", "https"),
        HeaderField::new(":path", "/"),
        HeaderField::new(":authority", "example.com"),
    ];
    v.extend(
        extra
            .iter()
            .map(|(n, val)| HeaderField::new(n.to_string(), val.to_string())),
    );
    v
}

// ----- wire bytes, hand-computed -----

#[test]
fn data_padded_end_stream_wire_bytes() {
    assert_eq!(
        bytes_of(frames::data(1, b"x").padded(2).end_stream()),
        [0, 0, 4, 0x0, 0x09, 0, 0, 0, 1, 2, b'x', 0, 0]
    );
    assert_eq!(bytes_of(frames::data(3, b"")), [0, 0, 0, 0, 0, 0, 0, 0, 3]);
}

#[test]
fn settings_and_ack_wire_bytes() {
    assert_eq!(
        bytes_of(
            frames::settings()
                .initial_window_size(0)
                .max_frame_size(16_384)
        ),
        [
            0, 0, 12, 0x4, 0, 0, 0, 0, 0, //
            0, 4, 0, 0, 0, 0, //
            0, 5, 0, 0, 0x40, 0
        ]
    );
    assert_eq!(
        bytes_of(frames::settings_ack()),
        [0, 0, 0, 0x4, 0x1, 0, 0, 0, 0]
    );
    // A malformed ACK with a payload is written as asked.
    assert_eq!(
        bytes_of(frames::settings_ack().enable_push(true)),
        [0, 0, 6, 0x4, 0x1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1]
    );
}

#[test]
fn control_frames_wire_bytes() {
    assert_eq!(
        bytes_of(frames::ping(*b"abcdefgh").ack()),
        [&[0, 0, 8, 0x6, 0x1, 0, 0, 0, 0][..], b"abcdefgh"].concat()
    );
    assert_eq!(
        bytes_of(frames::goaway(3, ErrorCode::PROTOCOL_ERROR).debug(b"hi")),
        [
            0, 0, 10, 0x7, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1, b'h', b'i'
        ]
    );
    assert_eq!(
        bytes_of(frames::window_update(0, 1)),
        [0, 0, 4, 0x8, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    );
    // Invalid increments are sent as they are.
    assert_eq!(
        bytes_of(frames::window_update(1, 0)),
        [0, 0, 4, 0x8, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    );
    assert_eq!(
        bytes_of(frames::rst_stream(5, ErrorCode::CANCEL)),
        [0, 0, 4, 0x3, 0, 0, 0, 0, 5, 0, 0, 0, 8]
    );
    assert_eq!(
        bytes_of(frames::priority(3, 1, 256, true)),
        [0, 0, 5, 0x2, 0, 0, 0, 0, 3, 0x80, 0, 0, 1, 255]
    );
    assert_eq!(
        bytes_of(frames::priority_update(1, "u=1")),
        [0, 0, 7, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 1, b'u', b'=', b'1']
    );
    assert_eq!(
        bytes_of(frames::altsvc(0, "o", "v")),
        [0, 0, 4, 0xa, 0, 0, 0, 0, 0, 0, 1, b'o', b'v']
    );
    assert_eq!(
        bytes_of(frames::origin(["a", "bc"])),
        [0, 0, 7, 0xc, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 2, b'b', b'c']
    );
}

#[test]
fn header_block_frames_wire_bytes() {
    // ":status: 200" is static table entry 8: the block is the single octet 0x88.
    assert_eq!(
        bytes_of(frames::headers(1).response(200).end_stream()),
        [0, 0, 1, 0x1, 0x05, 0, 0, 0, 1, 0x88]
    );
    // PADDED | PRIORITY | END_HEADERS; Pad Length, 5 priority octets, block, padding.
    assert_eq!(
        bytes_of(
            frames::headers(3)
                .response(200)
                .priority(1, 16, false)
                .padded(1)
        ),
        [0, 0, 8, 0x1, 0x2c, 0, 0, 0, 3, 1, 0, 0, 0, 1, 15, 0x88, 0]
    );
    assert_eq!(
        bytes_of(frames::push_promise(1, 2).block(&b"\x82"[..])),
        [0, 0, 5, 0x5, 0x4, 0, 0, 0, 1, 0, 0, 0, 2, 0x82]
    );
    assert_eq!(
        bytes_of(frames::continuation(1, &b"\x82"[..]).no_end_headers()),
        [0, 0, 1, 0x9, 0, 0, 0, 0, 1, 0x82]
    );
    // A block split every 2 octets: HEADERS then CONTINUATION, END_HEADERS on the last.
    assert_eq!(
        bytes_of(
            frames::headers(1)
                .block(&b"\x82\x86\x84"[..])
                .split_block(2)
        ),
        [
            0, 0, 2, 0x1, 0x0, 0, 0, 0, 1, 0x82, 0x86, //
            0, 0, 1, 0x9, 0x4, 0, 0, 0, 1, 0x84
        ]
    );
}

#[test]
fn raw_and_preface_wire_bytes() {
    assert_eq!(
        bytes_of(frames::raw(FrameType(0xff), Flags(0xaa), 0x8000_0001, b"z").length(9)),
        [0, 0, 9, 0xff, 0xaa, 0x80, 0, 0, 1, b'z']
    );
    assert_eq!(
        bytes_of(frames::preface()),
        [&CLIENT_MAGIC[..], &[0, 0, 0, 0x4, 0, 0, 0, 0, 0]].concat()
    );
    // A server's preface is its SETTINGS alone.
    let mut server = ScriptedPeer::server();
    server.send(frames::preface().settings(frames::settings().max_concurrent_streams(1)));
    assert_eq!(
        server.take_output()[..],
        [0, 0, 6, 0x4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1]
    );
}

#[test]
fn valid_frames_equal_the_h2kit_frame_encoder() {
    let sid = StreamId::new(1);
    let mut want = BytesMut::new();
    encode_data(sid, b"hello", true, Some(3), &mut want).unwrap();
    assert_eq!(
        bytes_of(frames::data(1, b"hello").padded(3).end_stream()),
        want
    );

    let mut want = BytesMut::new();
    let spec = PrioritySpec {
        dependency: StreamId::new(0),
        exclusive: true,
        weight: 41,
    };
    encode_headers(sid, &[0x88], true, Some(spec), Some(7), 16_384, &mut want).unwrap();
    let ours = frames::headers(1)
        .response(200)
        .priority(0, 42, true)
        .padded(7)
        .end_stream();
    assert_eq!(bytes_of(ours), want);

    let mut want = BytesMut::new();
    let settings = Settings::new()
        .with(SettingId::HEADER_TABLE_SIZE, 0)
        .with(SettingId::ENABLE_PUSH, 0);
    encode_settings(&settings, &mut want).unwrap();
    assert_eq!(
        bytes_of(frames::settings().header_table_size(0).enable_push(false)),
        want
    );

    let mut want = BytesMut::new();
    encode_goaway(
        StreamId::new(7),
        ErrorCode::ENHANCE_YOUR_CALM,
        b"x",
        &mut want,
    )
    .unwrap();
    assert_eq!(
        bytes_of(frames::goaway(7, ErrorCode::ENHANCE_YOUR_CALM).debug("x")),
        want
    );
}

// ----- two peers through the byte interface -----

#[test]
fn preface_magic_is_checked_and_settings_acknowledged() {
    let (client, server) = connected();
    assert_eq!(client.unacked_settings(), 0);
    assert_eq!(server.unacked_settings(), 0);
    assert_eq!(server.role(), Role::Server);
}

#[test]
fn headers_keep_hpack_state_across_blocks() {
    let (mut client, mut server) = connected();
    let fields = request_fields(&[("user-agent", "h2kit-test"), ("x-trace", "abc123")]);
    client.send(frames::headers(1).fields(fields.clone()).end_stream());
    client.send(frames::headers(3).fields(fields.clone()).end_stream());
    client.send(frames::headers(5).fields(fields.clone()).end_stream());
    client.flush_to(&mut server);

    let first = server.expect(
        frames::headers(1)
            .fields(fields.clone())
            .end_stream()
            .exact(),
    );
    let second = server.expect(
        frames::headers(3)
            .fields(fields.clone())
            .end_stream()
            .exact(),
    );
    let third = server.expect(
        frames::headers(5)
            .fields(fields.clone())
            .end_stream()
            .exact(),
    );
    // The later blocks refer to the dynamic table the first one filled.
    let (a, b, c) = (
        first.payload.len(),
        second.payload.len(),
        third.payload.len(),
    );
    assert!(b < a, "second block ({b}) not shorter than the first ({a})");
    assert!(c <= b);
    assert!(server.hpack_decoder().table_len() > 0);
    assert_eq!(
        server.hpack_decoder().table_size(),
        client.hpack_encoder().table_size()
    );
    server.expect_nothing();
}

#[test]
fn response_headers_data_and_trailers_flow_back() {
    let (mut client, mut server) = connected();
    client.send(frames::headers(1).request("POST", "/upload"));
    client.send(frames::data(1, b"body").padded(10).end_stream());
    client.flush_to(&mut server);
    server.expect(frames::headers(1).request("POST", "/upload"));
    let data = server.expect(frames::data(1, b"body").padded(10).end_stream());
    match &data.frame {
        Frame::Data(d) => assert_eq!(d.flow_controlled_len(), 4 + 10 + 1),
        other => panic!("{other:?}"),
    }

    server
        .send(frames::headers(1).response(100))
        .send(
            frames::headers(1)
                .response(200)
                .field("content-type", "text/plain"),
        )
        .send(frames::data(1, b"ok"))
        .send(frames::headers(1).field("grpc-status", "0").end_stream());
    server.flush_to(&mut client);
    client.expect(frames::headers(1).response(100));
    let response = client.expect(frames::headers(1).response(200));
    assert_eq!(response.field("content-type"), Some(&b"text/plain"[..]));
    assert_eq!(client.expect(frames::data(1, b"ok")).data(), b"ok");
    let trailers = client.expect(frames::headers(1).field("grpc-status", "0").end_stream());
    assert!(trailers.end_stream());
    client.expect_nothing();
}

#[test]
fn large_blocks_continue_in_continuation_frames_and_are_assembled() {
    let (mut client, mut server) = connected();
    let big = "v".repeat(40_000);
    client.hpack_encoder().set_huffman(HuffmanPolicy::Never);
    client.send(
        frames::headers(1)
            .request("GET", "/")
            .field("x-big", &big)
            .end_stream(),
    );
    client.flush_to(&mut server);
    let got = server.expect(
        frames::headers(1)
            .request("GET", "/")
            .field("x-big", &big)
            .end_stream(),
    );
    // 40,000+ octets at 16,384 per frame: HEADERS and two CONTINUATION frames.
    assert_eq!(got.continuations, 2);
    assert_eq!(got.header.length, 16_384);
    assert!(got.block.as_ref().is_some_and(|b| b.len() > 40_000));
    // `.no_end_headers()` as an expectation requires CONTINUATION.
    assert!(
        got.matches(
            frames::headers(1)
                .field("x-big", &big)
                .no_end_headers()
                .end_stream()
        )
    );
}

#[test]
fn split_block_and_manual_continuation_are_assembled() {
    let (mut client, mut server) = connected();
    client.send(
        frames::headers(1)
            .request("GET", "/a")
            .field("x-one", "1")
            .split_block(3)
            .padded(5),
    );
    // A block spread by hand: HEADERS without END_HEADERS, then fields in CONTINUATION.
    client.send(frames::headers(3).request("GET", "/b").no_end_headers());
    client.send(
        frames::continuation(3, &b""[..])
            .field("x-two", "2")
            .no_end_headers(),
    );
    client.send(frames::continuation(3, &b""[..]).field("x-three", "3"));
    client.flush_to(&mut server);

    let a = server.expect(
        frames::headers(1)
            .request("GET", "/a")
            .field("x-one", "1")
            .padded(5),
    );
    assert!(a.continuations > 3, "{} continuations", a.continuations);
    assert_eq!(a.header.length, 1 + 3 + 5);
    let b = server.expect(
        frames::headers(3)
            .request("GET", "/b")
            .field("x-two", "2")
            .field("x-three", "3")
            .exact()
            .no_end_headers(),
    );
    assert_eq!(b.continuations, 2);
    server.expect_nothing();
}

#[test]
fn push_promise_carries_a_request() {
    let (mut client, mut server) = connected();
    server.send(
        frames::push_promise(1, 2)
            .request("GET", "/style.css")
            .split_block(4),
    );
    server.send(frames::headers(2).response(200));
    server.flush_to(&mut client);
    let p = client.expect(frames::push_promise(1, 2).request("GET", "/style.css"));
    assert!(p.continuations > 0);
    assert_eq!(p.field(":path"), Some(&b"/style.css"[..]));
    client.expect(frames::headers(2).response(200).exact());
}

#[test]
fn every_frame_type_round_trips_between_peers() {
    let (mut client, mut server) = connected();
    let specs: Vec<FrameSpec> = vec![
        frames::headers(1)
            .request("GET", "/")
            .priority(0, 200, true)
            .into(),
        frames::data(1, b"abc").end_stream().into(),
        frames::priority(3, 1, 8, false).into(),
        frames::rst_stream(1, ErrorCode::CANCEL).into(),
        frames::settings().max_concurrent_streams(10).into(),
        frames::settings_ack().into(),
        frames::ping(*b"12345678").into(),
        frames::ping(*b"87654321").ack().into(),
        frames::window_update(0, 1000).into(),
        frames::window_update(1, 5).into(),
        frames::priority_update(1, "u=1, i").into(),
        frames::altsvc(0, "https://example.com", "h2=\":443\"").into(),
        frames::altsvc(1, "", "h2=\":443\"").into(),
        frames::raw(FrameType(0xee), Flags(0x3), 7, b"??").into(),
        frames::goaway(1, ErrorCode::NO_ERROR).debug(b"bye").into(),
    ];
    for s in &specs {
        client.send(s);
    }
    client.flush_to(&mut server);
    for s in &specs {
        server.expect(s);
    }
    server.expect_nothing();
    assert_eq!(server.remote_settings().max_concurrent_streams(), Some(10));

    server.send(frames::origin(["https://a.example", "https://b.example"]));
    server.flush_to(&mut client);
    client.expect(frames::origin(["https://a.example", "https://b.example"]));
}

#[test]
fn split_input_gives_the_same_frames() {
    let mut client = ScriptedPeer::client();
    client
        .send(frames::preface().settings(frames::settings().initial_window_size(1)))
        .send(
            frames::headers(1)
                .request("GET", "/")
                .field("x", "y")
                .split_block(2),
        )
        .send(frames::data(1, b"0123456789").padded(3))
        .send(frames::data(1, vec![7u8; 20_000 - 16_384]).end_stream());
    let wire = client.take_output();
    for_each_split(|piece| {
        let mut server = ScriptedPeer::server();
        server.feed_split(&wire, piece);
        server.expect(frames::preface().settings(frames::settings().initial_window_size(1)));
        server.expect(
            frames::headers(1)
                .request("GET", "/")
                .field("x", "y")
                .exact(),
        );
        server.expect(frames::data(1, b"0123456789").padded(3));
        server.expect(frames::data(1, vec![7u8; 20_000 - 16_384]).end_stream());
        server.expect_nothing();
        assert_eq!(server.buffered_input(), 0);
    });
}

#[test]
fn partial_frames_wait_for_the_rest() {
    let wire = bytes_of(frames::headers(1).split_block(1).block(&b"\x88\x88"[..]));
    let mut client = ScriptedPeer::client();
    let (a, b) = wire.split_at(12);
    client.feed(a);
    assert!(client.next_frame().is_none());
    let msg = panic_message(|| {
        let mut c = ScriptedPeer::client();
        c.feed(a);
        c.expect(frames::headers(1));
    });
    assert!(msg.contains("awaits CONTINUATION"), "{msg}");
    client.feed(b);
    let got = client.expect(frames::headers(1).response(200).response(200).exact());
    assert_eq!(got.continuations, 1);
}

// ----- settings take effect, automatic replies -----

#[test]
fn received_header_table_size_reaches_the_encoder() {
    let (mut client, mut server) = connected();
    server.send(frames::settings().header_table_size(0));
    server.flush_to(&mut client);
    client.expect(frames::settings().header_table_size(0));
    assert_eq!(client.hpack_encoder().table_capacity(), 0);
    // The next block starts with a size update to 0 (0x20) and indexes nothing.
    client.send(frames::headers(1).field("x-custom", "value"));
    let out = client.take_output();
    assert_eq!(out[9], 0x20);
    server.feed(&out);
    server.expect(frames::headers(1).field("x-custom", "value"));
    assert_eq!(server.hpack_decoder().table_capacity(), 0);
}

#[test]
fn max_frame_size_applies_on_ack_for_receiving_and_at_once_for_sending() {
    let (mut client, mut server) = connected();
    client.auto_ack_settings(true);
    server.send(frames::settings().max_frame_size(20_000));
    server.flush_to(&mut client);
    client.expect(frames::settings().max_frame_size(20_000));
    // The ACK was queued before this block, so the server's decoder accepts 20,000 by then.
    client.hpack_encoder().set_huffman(HuffmanPolicy::Never);
    let big = "b".repeat(18_000);
    client.send(frames::headers(1).field("x-big", &big));
    assert!(client.has_output());
    client.flush_to(&mut server);
    server.expect_settings_ack();
    let got = server.expect(frames::headers(1).field("x-big", &big));
    assert_eq!(got.continuations, 0);
    assert!(got.header.length > 16_384);
}

#[test]
fn automatic_replies_only_when_asked() {
    let (mut client, mut server) = connected();
    server
        .send(frames::ping(*b"pingpong"))
        .send(frames::settings());
    let wire = server.take_output();
    client.feed(&wire);
    assert!(!client.has_output(), "answered without being asked");
    client.expect(frames::ping(*b"pingpong"));
    client.expect(frames::settings());

    client.auto_pong(true).auto_ack_settings(true);
    client.feed(&wire);
    client.flush_to(&mut server);
    server.expect_ping_ack(*b"pingpong");
    server.expect_settings_ack();
    // A PING ACK is not answered.
    server.send(frames::ping(*b"pingpong").ack());
    server.flush_to(&mut client);
    assert!(!client.has_output());
}

#[test]
fn own_header_table_size_reaches_the_decoder_on_ack() {
    let (mut client, mut server) = connected();
    server.send(frames::settings().header_table_size(100));
    assert_eq!(server.unacked_settings(), 1);
    server.flush_to(&mut client);
    client.expect(frames::settings().header_table_size(100));
    assert_eq!(server.hpack_decoder().max_table_size(), 4096);
    client.send(frames::settings_ack());
    client.flush_to(&mut server);
    server.expect_settings_ack();
    assert_eq!(server.unacked_settings(), 0);
    assert_eq!(server.hpack_decoder().max_table_size(), 100);
}

#[test]
fn common_expectation_helpers_accept_the_right_frames() {
    let (mut client, mut server) = connected();
    client
        .send(frames::rst_stream(3, ErrorCode::REFUSED_STREAM))
        .send(frames::ping(*b"rtt-1234").ack())
        .send(frames::goaway(7, ErrorCode::PROTOCOL_ERROR).debug(b"bad preface"));
    client.flush_to(&mut server);
    server.expect_rst_stream(3, ErrorCode::REFUSED_STREAM);
    server.expect_ping_ack(*b"rtt-1234");
    let goaway = server.expect_goaway(ErrorCode::PROTOCOL_ERROR);
    match goaway.frame {
        Frame::GoAway(g) => {
            assert_eq!(g.last_stream_id, StreamId::new(7));
            assert_eq!(&g.debug_data[..], b"bad preface");
        }
        other => panic!("{other:?}"),
    }
    server.expect_nothing();
}

// ----- matching rules -----

fn received(spec: impl Into<FrameSpec>) -> ReceivedFrame {
    let mut client = ScriptedPeer::client();
    client.send(spec);
    let mut peer = ScriptedPeer::client();
    client.flush_to(&mut peer);
    peer.next_frame().expect("one frame")
}

#[test]
fn settings_match_listed_values_only_unless_exact() {
    let got = received(
        frames::settings()
            .initial_window_size(0)
            .max_frame_size(20_000),
    );
    assert!(got.matches(frames::settings()));
    assert!(got.matches(frames::settings().max_frame_size(20_000)));
    assert!(!got.matches(frames::settings().max_frame_size(16_384)));
    assert!(!got.matches(frames::settings().enable_push(false)));
    assert!(!got.matches(frames::settings().max_frame_size(20_000).exact()));
    assert!(
        got.matches(
            frames::settings()
                .initial_window_size(0)
                .max_frame_size(20_000)
                .exact()
        )
    );
    assert!(!got.matches(frames::settings_ack()));
    assert!(received(frames::settings_ack()).matches(frames::settings_ack()));
    assert!(!received(frames::settings_ack()).matches(frames::settings()));
}

#[test]
fn header_fields_match_in_order_with_others_between() {
    let got = received(
        frames::headers(1)
            .request("GET", "/")
            .field("a", "1")
            .field("b", "2"),
    );
    assert!(got.matches(frames::headers(1).request("GET", "/")));
    assert!(got.matches(frames::headers(1).field(":method", "GET").field("b", "2")));
    assert!(!got.matches(frames::headers(1).field("b", "2").field("a", "1")));
    assert!(!got.matches(frames::headers(1).request("GET", "/").end_stream()));
    assert!(!got.matches(frames::headers(3)));
    assert!(!got.matches(frames::headers(1).request("GET", "/").exact()));
    assert!(
        got.matches(
            frames::headers(1)
                .request("GET", "/")
                .field("a", "1")
                .field("b", "2")
                .exact()
        )
    );
    assert!(!got.matches(frames::headers(1).padded(0)));
    assert!(!got.matches(frames::headers(1).priority(0, 16, false)));
    assert!(!got.matches(frames::headers(1).no_end_headers()));
    assert!(got.matches(frames::raw(
        FrameType::HEADERS,
        Flags::END_HEADERS,
        1,
        &got.payload
    )));
    assert!(got.matches(frames::any(FrameType::HEADERS)));
    assert!(!got.matches(frames::any(FrameType::DATA)));
    // Authority and scheme modifiers replace the defaults.
    let other = received(
        frames::headers(1)
            .request("GET", "/")
            .authority("h.test")
            .scheme("http"),
    );
    assert!(
        other.matches(
            frames::headers(1)
                .request("GET", "/")
                .authority("h.test")
                .scheme("http")
                .exact()
        )
    );
    assert_eq!(other.field(":authority"), Some(&b"h.test"[..]));
    let no_path = received(frames::headers(1).request("GET", "/").without(":path"));
    assert_eq!(no_path.header_list().len(), 3);
}

#[test]
fn sensitive_expectation_needs_a_never_indexed_field() {
    let plain = received(frames::headers(1).field("x-secret", "t"));
    let never = received(frames::headers(1).sensitive("x-secret", "t"));
    assert!(never.matches(frames::headers(1).sensitive("x-secret", "t")));
    assert!(never.matches(frames::headers(1).field("x-secret", "t")));
    assert!(plain.matches(frames::headers(1).field("x-secret", "t")));
    assert!(!plain.matches(frames::headers(1).sensitive("x-secret", "t")));
}

#[test]
fn data_and_goaway_compare_what_was_given() {
    let got = received(frames::data(1, b"abc").padded(2));
    assert!(got.matches(frames::data(1, b"abc")));
    assert!(got.matches(frames::data(1, b"abc").padded(2).exact()));
    assert!(!got.matches(frames::data(1, b"abc").exact()));
    assert!(!got.matches(frames::data(1, b"abd")));
    assert!(!got.matches(frames::data(1, b"abc").end_stream()));

    let g = received(frames::goaway(5, ErrorCode::NO_ERROR).debug(b"x"));
    assert!(g.matches(frames::goaway(5, ErrorCode::NO_ERROR)));
    assert!(g.matches(frames::goaway(9, ErrorCode::NO_ERROR).any_last_stream_id()));
    assert!(!g.matches(frames::goaway(4, ErrorCode::NO_ERROR)));
    assert!(!g.matches(frames::goaway(5, ErrorCode::NO_ERROR).debug(b"y")));
    assert!(!g.matches(frames::goaway(5, ErrorCode::PROTOCOL_ERROR)));
}

#[test]
fn ignore_and_skip_helpers() {
    let (mut client, mut server) = connected();
    client
        .send(frames::window_update(0, 10))
        .send(frames::settings_ack())
        .send(frames::window_update(1, 10))
        .send(frames::data(1, b"a"))
        .send(frames::window_update(1, 10))
        .send(frames::ping([0; 8]))
        .send(frames::data(1, b"b"))
        .send(frames::settings_ack());
    client.flush_to(&mut server);
    assert_eq!(server.skip_window_updates(), 1);
    assert!(server.skip_settings_ack());
    assert!(!server.skip_settings_ack());
    server.ignore(frames::any(FrameType::WINDOW_UPDATE));
    server.expect(frames::data(1, b"a"));
    assert_eq!(
        server.peek().map(ReceivedFrame::frame_type),
        Some(FrameType::PING)
    );
    server.expect_eventually(frames::data(1, b"b"));
    server.ignore(frames::settings_ack());
    server.expect_nothing();
    server.clear_ignored();
    assert_eq!(server.pending_frames(), 0);
}

#[test]
fn take_frames_takes_all_but_the_ignored() {
    let (mut client, mut server) = connected();
    client
        .send(frames::window_update(0, 10))
        .send(frames::data(1, b"a"))
        .send(frames::ping([1; 8]));
    client.flush_to(&mut server);
    server.ignore(frames::any(FrameType::WINDOW_UPDATE));
    let taken: Vec<FrameType> = server
        .take_frames()
        .iter()
        .map(ReceivedFrame::frame_type)
        .collect();
    assert_eq!(taken, [FrameType::DATA, FrameType::PING]);
    assert_eq!(server.pending_frames(), 0);
    assert!(server.take_frames().is_empty());

    client
        .send(frames::data(1, b"a"))
        .send(frames::goaway(1, ErrorCode::NO_ERROR));
    client.flush_to(&mut server);
    assert_eq!(server.expect_none(frames::any(FrameType::PING)).len(), 2);
    assert_eq!(server.pending_frames(), 0);
}

#[test]
#[should_panic(expected = "expected no frame matching GOAWAY")]
fn expect_none_fails_on_a_matching_frame() {
    let (mut client, mut server) = connected();
    client
        .send(frames::ping([0; 8]))
        .send(frames::goaway(1, ErrorCode::NO_ERROR));
    client.flush_to(&mut server);
    server.expect_none(frames::goaway(0, ErrorCode::NO_ERROR).any_last_stream_id());
}

#[test]
fn field_lists_are_what_the_request_and_response_builders_write() {
    let request = crate::fields::get("/x");
    assert_eq!(
        request,
        frames::headers(1).request("GET", "/x").header_list()
    );
    assert_eq!(crate::fields::get("/"), request_fields(&[]));
    assert!(crate::fields::has(&request, ":path", "/x"));
    assert!(!crate::fields::has(&request, ":path", "/"));
    assert_eq!(
        crate::fields::post("/")[0],
        HeaderField::new(":method", "POST")
    );
    assert_eq!(
        crate::fields::status(204),
        frames::headers(1).response(204).header_list()
    );
}

// ----- assertions fail on mismatch -----

#[test]
#[should_panic(expected = "payload: expected b\"abc\", got b\"abd\"")]
fn expect_fails_on_data_payload() {
    let (mut client, mut server) = connected();
    client.send(frames::data(1, b"abd"));
    client.flush_to(&mut server);
    server.expect(frames::data(1, b"abc"));
}

#[test]
#[should_panic(expected = "not found (received \"x-a: 2\")")]
fn expect_fails_on_header_value() {
    let (mut client, mut server) = connected();
    client.send(frames::headers(1).field("x-a", "2"));
    client.flush_to(&mut server);
    server.expect(frames::headers(1).field("x-a", "1"));
}

#[test]
#[should_panic(expected = "END_STREAM: expected set, got not set")]
fn expect_fails_on_end_stream() {
    let (mut client, mut server) = connected();
    client.send(frames::headers(1).response(200));
    client.flush_to(&mut server);
    server.expect(frames::headers(1).response(200).end_stream());
}

#[test]
#[should_panic(expected = "frame type: expected GOAWAY, got RST_STREAM")]
fn expect_fails_on_frame_type() {
    let (mut client, mut server) = connected();
    client.send(frames::rst_stream(1, ErrorCode::CANCEL));
    client.flush_to(&mut server);
    server.expect_goaway(ErrorCode::PROTOCOL_ERROR);
}

#[test]
#[should_panic(expected = "error code: expected PROTOCOL_ERROR, got FLOW_CONTROL_ERROR")]
fn expect_goaway_fails_on_code() {
    let (mut client, mut server) = connected();
    client.send(frames::goaway(0, ErrorCode::FLOW_CONTROL_ERROR));
    client.flush_to(&mut server);
    server.expect_goaway(ErrorCode::PROTOCOL_ERROR);
}

#[test]
#[should_panic(expected = "parameters: expected exactly")]
fn expect_fails_on_exact_settings() {
    let (mut client, mut server) = connected();
    client.send(frames::settings().initial_window_size(1).enable_push(false));
    client.flush_to(&mut server);
    server.expect(frames::settings().initial_window_size(1).exact());
}

#[test]
#[should_panic(expected = "no frame has arrived")]
fn expect_fails_when_nothing_arrived() {
    ScriptedPeer::client().expect(frames::settings());
}

#[test]
#[should_panic(expected = "expected no frame, but received")]
fn expect_nothing_fails_on_a_frame() {
    let (mut client, mut server) = connected();
    client.send(frames::ping([1; 8]));
    client.flush_to(&mut server);
    server.expect_nothing();
}

#[test]
#[should_panic(expected = "CONTINUATION frames are assembled")]
fn continuation_cannot_be_expected() {
    let (mut client, mut server) = connected();
    client.send(frames::headers(1).field("a", "b").split_block(1));
    client.flush_to(&mut server);
    server.expect(frames::continuation(1, &b""[..]));
}

#[test]
#[should_panic(expected = "did not arrive")]
fn expect_eventually_fails_when_nothing_matches() {
    let (mut client, mut server) = connected();
    client.send(frames::ping([1; 8]));
    client.flush_to(&mut server);
    server.expect_eventually(frames::ping([2; 8]));
}

#[test]
#[should_panic(expected = "expected the client connection preface")]
fn server_peer_rejects_a_bad_magic() {
    ScriptedPeer::server().feed(b"PRI * HTTP/1.1\r\n");
}

#[test]
#[should_panic(expected = "malformed WINDOW_UPDATE")]
fn malformed_frames_from_the_connection_panic() {
    let (mut client, mut server) = connected();
    client.send(frames::window_update(1, 0));
    client.flush_to(&mut server);
}

#[test]
#[should_panic(expected = "bad frame")]
fn frames_over_the_max_frame_size_panic() {
    let mut server = ScriptedPeer::client();
    server.feed(&bytes_of(frames::data(1, vec![0; 16_385])));
}

#[test]
#[should_panic(expected = "only CONTINUATION on that stream may follow")]
fn interleaved_field_blocks_panic() {
    let (mut client, mut server) = connected();
    client.send(frames::headers(1).field("a", "b").no_end_headers());
    client.send(frames::data(1, b"x"));
    client.flush_to(&mut server);
}

#[test]
#[should_panic(expected = "cannot be sent")]
fn patterns_cannot_be_sent() {
    ScriptedPeer::client().send(frames::any(FrameType::DATA));
}

#[test]
fn mismatch_message_shows_expected_received_and_differences() {
    let (mut client, mut server) = connected();
    client.send(
        frames::headers(1)
            .response(404)
            .field("content-length", "0"),
    );
    client.flush_to(&mut server);
    let msg = panic_message(|| {
        server.expect(frames::headers(1).response(200).end_stream());
    });
    assert!(
        msg.contains("scripted server: frame #3 does not match"),
        "{msg}"
    );
    assert!(
        msg.contains("expected: HEADERS stream=1 END_STREAM"),
        "{msg}"
    );
    assert!(
        msg.contains("received: #3 HEADERS stream=1 flags=END_HEADERS fields [\":status: 404\", \"content-length: 0\"]"),
        "{msg}"
    );
    assert!(
        msg.contains("- END_STREAM: expected set, got not set"),
        "{msg}"
    );
    assert!(
        msg.contains(
            "- fields: listed field 0 \":status: 200\" not found (received \":status: 404\")"
        ),
        "{msg}"
    );
}

// ----- splitting -----

#[test]
fn split_into_covers_the_input_in_pieces() {
    let input: Vec<u8> = (0..=255).collect();
    for piece in [0, 1, 7, 16_384, 255, 256] {
        let pieces: Vec<&[u8]> = split_into(&input, piece).collect();
        assert_eq!(pieces.concat(), input);
        assert!(
            pieces
                .iter()
                .all(|p| !p.is_empty() && p.len() <= piece.max(1))
        );
        assert_eq!(pieces.len(), input.len().div_ceil(piece.max(1)));
    }
    assert_eq!(split_into(&[], 7).count(), 0);
}

#[test]
fn for_each_split_runs_every_size_and_names_the_failing_one() {
    let mut seen = Vec::new();
    for_each_split(|n| seen.push(n));
    assert_eq!(seen, SPLIT_SIZES);
    let msg = panic_message(|| {
        for_each_split(|n| assert_ne!(n, 7, "boom"));
    });
    assert!(msg.starts_with("with input in 7-octet pieces: "), "{msg}");
    assert!(msg.contains("boom"), "{msg}");
}
