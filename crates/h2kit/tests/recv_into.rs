//! `Connection::recv_into`: bytes a transport appends to the connection's own input buffer
//! are processed as `recv` processes the same bytes, in any split, the preface included.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use h2kit::{Config, Connection, Event, Field};

fn drain(conn: &mut Connection) -> BytesMut {
    let mut out = BytesMut::new();
    while conn.poll_transmit(Instant::now(), &mut out, None) > 0 {}
    out
}

/// Feeds `wire` to `conn` through `recv_into`, `piece` bytes at a time.
fn feed(conn: &mut Connection, wire: &[u8], piece: usize) {
    for chunk in wire.chunks(piece) {
        let (n, result) = conn.recv_into(Instant::now(), |buf| {
            // As a transport does: room first, then the read appends.
            buf.reserve(64 * 1024);
            buf.extend_from_slice(chunk);
            chunk.len()
        });
        assert_eq!(n, chunk.len());
        result.unwrap();
    }
}

fn get() -> Vec<Field> {
    vec![
        Field::new(":method", "GET"),
        Field::new(":scheme", "http"),
        Field::new(":path", "/"),
        Field::new(":authority", "example.com"),
    ]
}

#[test]
fn a_request_and_its_response_arrive_through_recv_into_in_any_split() {
    let body = Bytes::from((0..60_000u32).map(|i| i as u8).collect::<Vec<u8>>());
    for piece in [1, 7, 100, 16_393, 1 << 20] {
        let mut client = Connection::client(Config::default());
        let mut server = Connection::server(Config::default());
        let id = client.send_request(get(), true).unwrap();
        feed(&mut server, &drain(&mut client), piece);
        let mut request = None;
        while let Some(event) = server.poll_event() {
            if let Event::Request { stream, .. } = event {
                request = Some(stream);
            }
        }
        let stream = request.expect("the request arrived");
        server
            .send_response(stream, vec![Field::new(":status", "200")], false)
            .unwrap();
        server.send_data(stream, body.clone(), true).unwrap();
        feed(&mut client, &drain(&mut server), piece);
        let (mut received, mut ended, mut head) = (BytesMut::new(), false, false);
        while let Some(event) = client.poll_event() {
            match event {
                Event::Response { stream, .. } if stream == id => head = true,
                Event::Data {
                    stream,
                    data,
                    end_stream,
                    ..
                } if stream == id => {
                    received.extend_from_slice(&data);
                    ended |= end_stream;
                }
                Event::Terminated { error } => panic!("piece {piece}: {error}"),
                _ => {}
            }
        }
        assert!(head && ended, "piece {piece}");
        assert_eq!(received.freeze(), body, "piece {piece}");
    }
}

#[test]
fn a_bad_preface_through_recv_into_is_refused_and_later_input_ignored() {
    let mut server = Connection::server(Config::default());
    let now = Instant::now();
    let (_, result) = server.recv_into(now, |buf| buf.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n"));
    assert!(result.is_err());
    let (_, again) = server.recv_into(now, |buf| buf.extend_from_slice(b"more"));
    assert!(again.is_err());
}

#[test]
fn reading_nothing_is_not_input() {
    let mut client = Connection::client(Config::default());
    let (n, result) = client.recv_into(Instant::now(), |buf| {
        buf.reserve(1024);
        0
    });
    assert_eq!(n, 0);
    assert!(result.is_ok());
    assert!(client.poll_event().is_none());
}
