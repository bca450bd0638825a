//! Conformance: regression tests for every case the independent `httpwg` suite (RFC 9113)
//! found, through the scripted peer, and a run of `httpwg` itself against the std-socket
//! server of `examples/driver` when the binary is on the PATH.

#[path = "../examples/driver/mod.rs"]
mod driver;

use h2kit::{Config, ErrorCode, Event, Field, StreamId};
use h2kit_test::frames::{self, HeadersBuilder};
use h2kit_test::{Frame, FrameType, Harness, Pair, fields};

fn server() -> Harness {
    let mut t = Harness::server(Config::default());
    t.send(frames::preface()).unwrap();
    t.frames();
    t
}

/// A POST of `http://localhost/` on `stream`, ending the stream.
fn post(stream: u32) -> HeadersBuilder {
    frames::headers(stream)
        .request("POST", "/")
        .scheme("http")
        .authority("localhost")
        .end_stream()
}

/// RFC 9113 §5.1.1: a new stream id must exceed every id the peer opened; a lower, never
/// used one is a connection error PROTOCOL_ERROR (httpwg "sends smaller stream identifier").
#[test]
fn smaller_unused_stream_id_is_a_connection_error() {
    let mut t = server();
    t.send(post(5)).unwrap();
    t.conn
        .send_response(StreamId::new(5), vec![Field::new(":status", "204")], true)
        .unwrap();
    t.frames();
    let err = t.send(post(3)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::PROTOCOL_ERROR);
    t.flush().expect_goaway(ErrorCode::PROTOCOL_ERROR);
}

/// RFC 9113 §5.1.2: streams beyond our SETTINGS_MAX_CONCURRENT_STREAMS are refused, also while
/// our responses wait for window (httpwg "exceeds concurrent stream limit").
#[test]
fn streams_beyond_the_concurrency_limit_are_refused() {
    let mut t = server();
    t.send(frames::settings().initial_window_size(0)).unwrap();
    t.frames();
    for i in 0..=100u32 {
        let id = 1 + 2 * i;
        t.send(post(id)).unwrap();
        while let Some(e) = t.events.pop() {
            if let Event::Request { stream, .. } = e {
                t.conn
                    .send_response(stream, vec![Field::new(":status", "200")], false)
                    .unwrap();
                t.conn
                    .send_data(stream, bytes::Bytes::from_static(b"hello"), true)
                    .unwrap();
            }
        }
    }
    // The responses' HEADERS go out; only the stream over the limit is reset.
    let peer = t.flush();
    peer.ignore(frames::any(FrameType::HEADERS));
    peer.expect_rst_stream(201, ErrorCode::REFUSED_STREAM);
    peer.expect_nothing();
    peer.clear_ignored();
    // Once the window lets the responses out, the peer may open streams again.
    t.send(frames::settings().initial_window_size(100)).unwrap();
    let ends = t
        .frames()
        .iter()
        .filter(|f| matches!(&f.frame, Frame::Data(d) if d.end_stream))
        .count();
    assert_eq!(ends, 100);
    t.events.clear();
    t.send(post(203)).unwrap();
    assert!(matches!(
        t.events.as_slice(),
        [Event::Request { stream, .. }] if stream.get() == 203
    ));
}

/// RFC 9113 §7 and §6.8: a GOAWAY with an unknown code triggers nothing special; the
/// connection still answers PING until the peer closes it (httpwg "sends goaway frame with
/// unknown error code"), and ends by itself after `goaway_linger`.
#[test]
fn goaway_with_unknown_code_keeps_answering_ping() {
    let mut t = server();
    t.send(frames::goaway(0, ErrorCode(0xff))).unwrap();
    assert!(
        t.events
            .iter()
            .any(|e| matches!(e, Event::GoAway { code, .. } if *code == ErrorCode(0xff)))
    );
    t.send(frames::ping(*b"pingpong")).unwrap();
    t.flush()
        .expect_eventually(frames::ping(*b"pingpong").ack());
    assert!(!t.conn.is_closed());
    // The peer does not close: we do, after the linger.
    let deadline = t.conn.poll_timeout().expect("a linger deadline");
    assert_eq!(
        deadline,
        t.now() + Config::default().limits.goaway_linger,
        "the linger is the nearest deadline"
    );
    t.advance(deadline - t.now());
    assert!(t.conn.is_closed() || !t.frames().is_empty());
    assert!(t.conn.is_closed());
    assert_eq!(
        t.conn.error().map(|e| (e.code(), e.initiator())),
        Some((ErrorCode(0xff), h2kit::Initiator::Remote))
    );
}

/// RFC 9113 §6.8: streams up to the GOAWAY's last stream id may still complete, whatever its
/// error code; the connection ends when the peer closes the transport.
#[test]
fn error_goaway_lets_processed_streams_finish() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.set_byte_cap(Some(16_384))
        .set_auto_release(h2kit_test::Side::Client, false)
        .set_auto_release(h2kit_test::Side::Server, false);
    let id = p.client.send_request(fields::get("/"), true).unwrap();
    p.drive();
    // A GOAWAY(INTERNAL_ERROR, last = 1) from a scripted peer would close the transport; here
    // the server side keeps it open until the response is out.
    let goaway = frames::goaway(id.get(), ErrorCode::INTERNAL_ERROR).to_bytes();
    p.client.recv(p.now(), &goaway).unwrap();
    assert_eq!(
        p.client.send_request(fields::get("/"), true),
        Err(h2kit::UsageError::ConnectionClosed)
    );
    p.server
        .send_response(id, fields::status(200), true)
        .unwrap();
    p.drive();
    let events = p.take_events(h2kit_test::Side::Client);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Response {
            status: 200,
            end_stream: true,
            ..
        }
    )));
    p.client.recv_eof();
    assert_eq!(
        p.client.error().map(|e| e.code()),
        Some(ErrorCode::INTERNAL_ERROR)
    );
}

// ------------------------------------------------------------------ httpwg

/// The independent RFC 9113 suite (`cargo install --locked httpwg-cli`) against the std-socket
/// server in h2c mode: every case must pass. Skipped when `httpwg` is not installed, unless
/// `H2KIT_REQUIRE_PEERS=1`.
#[test]
fn httpwg_suite_passes_against_the_std_server() {
    let test = "httpwg_suite_passes_against_the_std_server";
    let h2kit_interop::Peer::Found(bin) = h2kit_interop::require_peer("httpwg", test) else {
        return;
    };
    let server = driver::Server::start("127.0.0.1:0", Config::default).unwrap();
    let report = h2kit_interop::httpwg::run(&bin, &server.addr().to_string()).unwrap();
    report.check(&[]);
}
