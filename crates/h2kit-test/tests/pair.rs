//! Scenarios through `Pair`: two real connections in memory on a virtual clock.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use h2kit::{Config, ConnectionError, Event, Field, Initiator, StreamId};
use h2kit_test::{
    Direction, DriveError, ErrorCode, Flags, Frame, FrameType, Pair, SPLIT_SIZES, Side, Verdict,
    body_of, frames,
};

fn get(path: &'static str) -> Vec<Field> {
    vec![
        Field::new(":method", "GET"),
        Field::new(":scheme", "https"),
        Field::new(":path", path),
        Field::new(":authority", "example.com"),
    ]
}

fn ok() -> Vec<Field> {
    vec![Field::new(":status", "200")]
}

/// Answers every request collected so far with 200 and `body`.
fn answer_all(pair: &mut Pair, body: &Bytes) -> Vec<StreamId> {
    let mut ids = Vec::new();
    for e in pair.take_events(Side::Server) {
        if let Event::Request { stream, .. } = e {
            pair.server.send_response(stream, ok(), false).unwrap();
            pair.server.send_data(stream, body.clone(), true).unwrap();
            ids.push(stream);
        }
    }
    ids
}

#[test]
fn get_in_pieces_of_every_split_size() {
    let caps = SPLIT_SIZES.iter().copied().map(Some).chain([None]);
    for (cap, vectored) in caps.flat_map(|c| [(c, false), (c, true)]) {
        let mut pair = Pair::new(Config::default(), Config::default());
        pair.set_byte_cap(cap).set_vectored(vectored);
        let id = pair.client.send_request(get("/hello"), true).unwrap();
        pair.drive_bounded(10_000).unwrap();
        let answered = answer_all(&mut pair, &Bytes::from_static(b"hello world!"));
        assert_eq!(answered, [id], "cap {cap:?}");
        pair.drive_bounded(10_000).unwrap();

        let events = pair.take_events(Side::Client);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Response { stream, status: 200, .. } if *stream == id)),
            "cap {cap:?}: {events:?}"
        );
        assert_eq!(body_of(&events, id), (b"hello world!".to_vec(), true));
        assert_eq!(pair.client.open_outbound_streams(), 0);
        assert_eq!(pair.server.open_inbound_streams(), 0);
        // Every octet written was delivered.
        for dir in [Direction::ToServer, Direction::ToClient] {
            assert_eq!(pair.in_flight(dir), 0);
            assert_eq!(pair.bytes_written(dir), pair.bytes_delivered(dir));
        }
    }
}

#[test]
fn latency_delays_the_exchange_on_the_virtual_clock() {
    let latency = Duration::from_millis(10);
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.set_latency(latency);
    let id = pair.client.send_request(get("/"), true).unwrap();
    pair.drive();
    // The request arrived one latency in; the server's SETTINGS ACK came back one later.
    assert_eq!(pair.elapsed(), 2 * latency);
    let asked = pair.now();
    answer_all(&mut pair, &Bytes::from_static(b"hello world!"));
    pair.drive();
    let events = pair.take_events(Side::Client);
    assert!(body_of(&events, id).1);
    assert!(pair.now() - asked >= latency);
}

#[test]
fn large_body_through_small_windows_with_latency_and_a_byte_cap() {
    for vectored in [false, true] {
        large_body(vectored);
    }
}

fn large_body(vectored: bool) {
    // A fixed window (the default one grows).
    let mut client = Config {
        stream_window: h2kit::flow::WindowStrategy::Threshold,
        ..Config::default()
    };
    client.settings.initial_window_size = 4_000;
    let mut pair = Pair::new(client, Config::default());
    let latency = Duration::from_millis(5);
    pair.set_latency(latency)
        .set_byte_cap(Some(1_000))
        .set_vectored(vectored);

    let payload: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let payload = Bytes::from(payload);
    let id = pair.client.send_request(get("/big"), true).unwrap();
    pair.drive_bounded(10_000).unwrap();
    answer_all(&mut pair, &payload);
    let steps = pair.drive_bounded(1_000_000).unwrap();

    let events = pair.take_events(Side::Client);
    let (got, ended) = body_of(&events, id);
    assert!(ended);
    assert_eq!(got.len(), payload.len());
    assert!(got == payload[..], "body corrupted (vectored: {vectored})");
    // No frame exceeded the 4,000-octet stream window the client announced.
    assert!(events.iter().all(|e| match e {
        Event::Data {
            flow_controlled_len,
            ..
        } => *flow_controlled_len <= 4_000,
        _ => true,
    }));
    // The window allows at most 4,000 octets per round trip: 75 round trips at least.
    assert!(pair.elapsed() >= 75 * 2 * latency, "{:?}", pair.elapsed());
    assert!(
        steps > 300,
        "1,000-octet cap should need many steps, took {steps}"
    );
}

#[test]
fn dropped_window_update_stalls_and_drive_bounded_reports_it() {
    // A fixed window (the default one grows, and a growth would reopen it).
    let mut client = Config {
        stream_window: h2kit::flow::WindowStrategy::Threshold,
        ..Config::default()
    };
    client.settings.initial_window_size = 16_384;
    // Keep-alive PINGs keep the stalled connection busy forever when timers are followed.
    client.limits.keep_alive_interval = Some(Duration::from_secs(30));
    // The server waits forever (its send-stall timeout would reset the stalled stream).
    let mut server = Config::default();
    server.limits.send_stall_timeout = None;
    let mut pair = Pair::new(client, server);
    let dropped = Rc::new(RefCell::new(0u32));
    let seen = dropped.clone();
    pair.intercept(move |dir, frame| match frame {
        Frame::WindowUpdate(w)
            if dir == Direction::ToServer
                && w.stream_id != StreamId::ZERO
                && *seen.borrow() == 0 =>
        {
            *seen.borrow_mut() += w.increment;
            Verdict::Drop
        }
        _ => Verdict::Pass,
    });

    let id = pair.client.send_request(get("/"), true).unwrap();
    pair.drive_bounded(1_000).unwrap();
    answer_all(&mut pair, &Bytes::from(vec![7u8; 64 * 1024]));
    let err = pair.drive_bounded(1_000).unwrap_err();
    assert!(
        matches!(
            err,
            DriveError::Stalled {
                server_streams_with_output: 1,
                client_streams_with_output: 0,
                ..
            }
        ),
        "{err}"
    );
    assert!(*dropped.borrow() > 0);
    let (got, ended) = body_of(&pair.client_events, id);
    assert!(!ended);
    assert!(got.len() < 64 * 1024);
    assert_eq!(pair.server.send_capacity(id), 0);

    // Following timers, keep-alive PINGs are answered forever: a livelock, caught by the bound.
    pair.follow_timers(true);
    let err = pair.drive_bounded(200).unwrap_err();
    // PINGs (17 octets each) and their ACKs are all that moves.
    assert!(
        matches!(err, DriveError::Livelock { steps: 200, moved: (to_server, to_client) }
            if to_server > 0 && to_client > 0 && to_server % 17 == 0 && to_client % 17 == 0),
        "{err}"
    );
    assert!(pair.elapsed() >= Duration::from_secs(30 * 50));
    assert!(!body_of(&pair.client_events, id).1);
}

#[test]
fn idle_timeout_fires_when_timers_are_followed() {
    let mut server = Config::default();
    server.limits.idle_timeout = Some(Duration::from_secs(5));
    let mut pair = Pair::new(Config::default(), server);
    pair.drive();
    assert!(pair.elapsed() < Duration::from_secs(1));
    pair.follow_timers(true).drive();
    assert!(pair.elapsed() >= Duration::from_secs(5));
    assert!(pair.server.is_closed());
    assert!(pair.server_events.iter().any(|e| matches!(
        e,
        Event::Terminated {
            error: ConnectionError::IdleTimeout
        }
    )));
    assert!(pair.client_events.iter().any(|e| matches!(
        e,
        Event::Terminated {
            error: ConnectionError::GoAway {
                initiator: Initiator::Remote,
                ..
            }
        }
    )));
}

#[test]
fn bad_padding_injected_by_intercept_gets_protocol_error() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let goaways = Rc::new(RefCell::new(Vec::new()));
    let log = goaways.clone();
    pair.intercept(move |dir, frame| match frame {
        // Pad Length 200 in a 5-octet payload: RFC 9113 §6.1 makes that a connection error.
        Frame::Data(d) if dir == Direction::ToClient => {
            let mut payload = vec![200u8];
            payload.extend_from_slice(&d.data[..4]);
            Verdict::Replace(
                frames::raw(
                    FrameType::DATA,
                    Flags::PADDED | Flags::END_STREAM,
                    d.stream_id.get(),
                    payload,
                )
                .to_bytes(),
            )
        }
        Frame::GoAway(g) => {
            log.borrow_mut().push((dir, g.error_code));
            Verdict::Pass
        }
        _ => Verdict::Pass,
    });
    pair.client.send_request(get("/"), true).unwrap();
    pair.drive();
    answer_all(&mut pair, &Bytes::from_static(b"hello world!"));
    pair.drive();

    // The victim's GOAWAY comes first; the server may answer with its own (NO_ERROR).
    let goaways = goaways.borrow();
    assert_eq!(
        goaways.first(),
        Some(&(Direction::ToServer, ErrorCode::PROTOCOL_ERROR))
    );
    assert!(
        goaways[1..]
            .iter()
            .all(|&(dir, code)| dir == Direction::ToClient && code == ErrorCode::NO_ERROR),
        "{goaways:?}"
    );
    assert!(pair.client_events.iter().any(
        |e| matches!(e, Event::Terminated { error } if error.code() == ErrorCode::PROTOCOL_ERROR)
    ));
    assert!(pair.client.is_closed());
    assert!(!body_of(&pair.client_events, StreamId::new(1)).1);
}

#[test]
fn vectored_transfer_moves_large_payloads_as_their_own_pieces() {
    let mut client = Config::default();
    client.settings.initial_window_size = 1 << 20;
    let mut pair = Pair::new(client, Config::default());
    pair.set_vectored(true);
    let payload = Bytes::from(vec![0xa5u8; 200_000]);
    let id = pair.client.send_request(get("/"), true).unwrap();
    pair.drive();
    answer_all(&mut pair, &payload);
    pair.drive();
    let (got, ended) = body_of(&pair.client_events, id);
    assert!(ended && got == payload[..]);
    assert_eq!(
        pair.bytes_written(Direction::ToClient),
        pair.bytes_delivered(Direction::ToClient)
    );
}

#[test]
fn header_blocks_larger_than_a_frame_go_out_as_continuations() {
    let mut server = Config::default();
    server.limits.max_header_block_bytes = 64 * 1024;
    let mut pair = Pair::new(Config::default(), server);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    pair.intercept(move |dir, frame| {
        if dir == Direction::ToServer {
            match frame {
                Frame::Headers(h) => log.borrow_mut().push(("HEADERS", h.end_headers)),
                Frame::Continuation(c) => log.borrow_mut().push(("CONTINUATION", c.end_headers)),
                _ => {}
            }
        }
        Verdict::Pass
    });
    // About 19,000 octets once Huffman-coded: more than one 16,384-octet frame, less than
    // the decoder's 32 KiB field limit.
    let big: String = (0..30_000u32)
        .map(|i| char::from(b'a' + (i.wrapping_mul(2_654_435_761) >> 27) as u8 % 26))
        .collect();
    let mut request = get("/");
    request.push(Field::new("x-big", big.clone()));
    let small = pair.client.send_request(get("/small"), true).unwrap();
    let id = pair.client.send_request(request, true).unwrap();
    pair.drive();
    {
        let seen = seen.borrow();
        assert_eq!(
            seen[..2],
            [("HEADERS", true), ("HEADERS", false)],
            "{seen:?}"
        );
        assert_eq!(seen.last(), Some(&("CONTINUATION", true)), "{seen:?}");
        assert!(
            seen[2..seen.len() - 1]
                .iter()
                .all(|&f| f == ("CONTINUATION", false))
        );
    }
    let requests: Vec<_> = pair
        .take_events(Side::Server)
        .into_iter()
        .filter_map(|e| match e {
            Event::Request {
                stream, headers, ..
            } => Some((stream, headers)),
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), 2, "{:?}", pair.client_events);
    assert_eq!(requests[0].0, small);
    assert_eq!(requests[1].0, id);
    assert!(
        requests[1]
            .1
            .iter()
            .any(|f| f.name.as_ref() == b"x-big" && f.value.as_ref() == big.as_bytes())
    );
}

/// With a bandwidth, octets queue behind each other on the link: a 2 MB body over a 1 MB/s
/// link with windows large enough takes about 2 s plus the latency, not the latency alone.
#[test]
fn bandwidth_serializes_what_is_written() {
    let mut client = Config::default();
    client.settings.initial_window_size = 8 << 20;
    client.connection_window_size = 8 << 20;
    let mut server = Config::default();
    server.limits.max_send_buffer_per_stream = 4 << 20;
    let mut pair = Pair::new(client, server);
    pair.set_latency(Duration::from_millis(10))
        .set_bandwidth(Some(1_000_000));
    pair.drive();
    let start = pair.elapsed();
    let payload = Bytes::from(vec![7u8; 2_000_000]);
    let id = pair.client.send_request(get("/big"), true).unwrap();
    pair.drive();
    answer_all(&mut pair, &payload);
    pair.drive();
    let (got, ended) = body_of(&pair.take_events(Side::Client), id);
    assert!(ended);
    assert_eq!(got.len(), payload.len());
    let took = pair.elapsed() - start;
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_millis(2_200), "{took:?}");
    // Without a bandwidth the same exchange takes two one-way latencies.
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.set_latency(Duration::from_millis(10))
        .set_bandwidth(None);
    pair.drive();
    assert!(pair.elapsed() < Duration::from_millis(100));
}

#[test]
fn eof_on_close_gives_the_other_side_eof_once_the_closed_side_is_through() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.set_byte_cap(Some(7));
    pair.drive();
    pair.server
        .go_away(ErrorCode::ENHANCE_YOUR_CALM, Bytes::from_static(b"bye"))
        .unwrap();
    pair.drive();
    assert!(pair.server.is_closed());
    // The transport stays open: the client has the GOAWAY, but no EOF.
    assert!(pair.client.error().is_none());
    pair.eof_on_close(true).drive();
    assert!(pair.client.is_closed());
    assert!(pair.client_events.iter().any(|e| matches!(
        e,
        Event::Terminated {
            error: ConnectionError::GoAway {
                code: ErrorCode::ENHANCE_YOUR_CALM,
                initiator: Initiator::Remote,
                ..
            }
        }
    )));
}

#[test]
fn transfer_moves_one_direction_only() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.set_byte_cap(Some(7));
    let id = pair.client.send_request(get("/"), true).unwrap();
    assert!(pair.transfer(Direction::ToServer));
    assert!(
        pair.server_events
            .iter()
            .any(|e| matches!(e, Event::Request { stream, .. } if *stream == id))
    );
    // The server wrote nothing yet: its preface is still queued.
    assert_eq!(pair.bytes_written(Direction::ToClient), 0);
    assert!(!pair.transfer(Direction::ToServer));
    assert!(pair.transfer(Direction::ToClient));
    assert_eq!(
        pair.bytes_written(Direction::ToClient),
        pair.bytes_delivered(Direction::ToClient)
    );
    assert!(pair.bytes_written(Direction::ToClient) > 0);
}

/// Issue 15: a client that never reads a response (its fixed stream window stays closed)
/// gets the stream reset by the server with ENHANCE_YOUR_CALM once the server's
/// `send_stall_timeout` has passed on the virtual clock, and the server drops the data it
/// held; the connection stays up.
#[test]
fn a_reader_that_never_reads_is_reset_after_the_send_stall_timeout() {
    let mut client = Config {
        stream_window: h2kit::flow::WindowStrategy::Threshold,
        ..Config::default()
    };
    client.settings.initial_window_size = 16_384;
    let mut server = Config::default();
    server.limits.send_stall_timeout = Some(Duration::from_secs(5));
    let mut pair = Pair::new(client, server);
    pair.set_auto_release(Side::Client, false);
    let id = pair.client.send_request(get("/"), true).unwrap();
    pair.drive();
    answer_all(&mut pair, &Bytes::from(vec![7u8; 64 * 1024]));
    pair.drive();
    let (got, ended) = body_of(&pair.client_events, id);
    assert_eq!((got.len(), ended), (16_384, false));
    assert_eq!(pair.server.debug_counts().streams_with_output, 1);
    let start = pair.elapsed();

    // Following timers, the next one due is the stall.
    pair.follow_timers(true);
    pair.drive_bounded(50).ok();
    assert!(pair.elapsed() >= start + Duration::from_secs(5));
    assert!(
        pair.client_events.iter().any(|e| matches!(
            e,
            Event::StreamReset { stream, error }
                if *stream == id && error.code() == ErrorCode::ENHANCE_YOUR_CALM
        )),
        "{:?}",
        pair.client_events
    );
    assert!(pair.server_events.iter().any(|e| matches!(
        e,
        Event::StreamReset { stream, error }
            if *stream == id
                && *error == h2kit::StreamError::Limit(h2kit::LimitExceeded::SendStall)
    )));
    assert_eq!(pair.server.debug_counts().streams_with_output, 0);
    assert!(pair.server.error().is_none() || pair.elapsed() >= Duration::from_secs(300));
}
