//! A response whose declared `content-length` fits in the stream's receive window needs no
//! stream WINDOW_UPDATE as the application releases it: the peer may send no more than it
//! declared. One without a declared length is updated as before.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use h2kit::{Config, Connection, Event, Field, StreamId};

fn drain(conn: &mut Connection) -> BytesMut {
    let mut out = BytesMut::new();
    while conn.poll_transmit(Instant::now(), &mut out, None) > 0 {}
    out
}

/// The stream WINDOW_UPDATE increments the server sees after the client received and
/// released 300,000 bytes of a response (its end not sent yet) that declared that length,
/// or none.
fn stream_updates_after_a_response(declared: bool) -> Vec<u32> {
    let len = 300_000usize;
    let mut client = Connection::client(Config::default());
    let mut server = Connection::server(Config::default());
    let get = vec![
        Field::new(":method", "GET"),
        Field::new(":scheme", "http"),
        Field::new(":path", "/"),
        Field::new(":authority", "example.com"),
    ];
    let id = client.send_request(get, true).unwrap();
    server.recv(Instant::now(), &drain(&mut client)).unwrap();
    let mut stream = None;
    while let Some(e) = server.poll_event() {
        if let Event::Request { stream: s, .. } = e {
            stream = Some(s);
        }
    }
    let stream = stream.unwrap();
    let mut head = vec![Field::new(":status", "200")];
    if declared {
        head.push(Field::new("content-length", len.to_string()));
    }
    server.send_response(stream, head, false).unwrap();
    // The end is not sent yet: the stream is still open when the client releases.
    server
        .send_data(stream, Bytes::from(vec![7u8; len]), false)
        .unwrap();
    client.recv(Instant::now(), &drain(&mut server)).unwrap();
    let mut received = 0;
    while let Some(e) = client.poll_event() {
        if let Event::Data {
            stream,
            data,
            flow_controlled_len,
            ..
        } = e
        {
            assert_eq!(stream, id);
            received += data.len();
            client.release_capacity(stream, flow_controlled_len);
        }
    }
    assert_eq!(received, len);
    server.recv(Instant::now(), &drain(&mut client)).unwrap();
    let mut updates = Vec::new();
    while let Some(e) = server.poll_event() {
        if let Event::WindowUpdated { stream, increment } = e {
            if stream != StreamId::ZERO {
                updates.push(increment);
            }
        }
    }
    updates
}

#[test]
fn a_declared_length_that_fits_takes_no_stream_window_update() {
    assert_eq!(stream_updates_after_a_response(true), Vec::<u32>::new());
}

#[test]
fn without_a_declared_length_the_stream_window_is_reopened() {
    assert!(!stream_updates_after_a_response(false).is_empty());
}
