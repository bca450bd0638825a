//! A response head sent again from the same fields (the same shared bytes) is copied from
//! the last block when that block held indexed fields only; any change to the HPACK table
//! in between makes the connection encode it again. The client decodes every head right.

use bytes::{Bytes, BytesMut};
use h2kit::{Config, Connection, Event, Field};

fn pump(client: &mut Connection, server: &mut Connection, now: std::time::Instant) -> Vec<u8> {
    let mut from_server = Vec::new();
    let mut buf = BytesMut::new();
    for _ in 0..4 {
        buf.clear();
        while client.poll_transmit(now, &mut buf, None) > 0 {}
        server.recv(now, &buf).unwrap();
        buf.clear();
        while server.poll_transmit(now, &mut buf, None) > 0 {}
        from_server.extend_from_slice(&buf);
        client.recv(now, &buf).unwrap();
    }
    from_server
}

/// One GET answered with `fields`; returns the head the client decoded and the octets the
/// server wrote.
fn exchange(
    client: &mut Connection,
    server: &mut Connection,
    fields: &[Field],
) -> (Vec<Field>, Vec<u8>) {
    let now = std::time::Instant::now();
    client
        .send_request(h2kit_test::fields::get("/"), true)
        .unwrap();
    pump(client, server, now);
    while let Some(e) = server.poll_event() {
        if let Event::Request { stream, .. } = e {
            server.send_response(stream, fields.to_vec(), true).unwrap();
        }
    }
    let wire = pump(client, server, now);
    let mut head = None;
    while let Some(e) = client.poll_event() {
        if let Event::Response { headers, .. } = e {
            head = Some(headers);
        }
    }
    (head.expect("a response"), wire)
}

fn same(a: &[Field], b: &[Field]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.name == y.name && x.value == y.value)
}

#[test]
fn a_repeated_head_is_reused_and_reencoded_after_any_table_change() {
    let mut client = Connection::client(Config::default());
    let mut server = Connection::server(Config::default());
    // Shared bytes, as a static file server's prebuilt heads are.
    let file: Vec<Field> = vec![
        Field::new(":status", "200"),
        Field::new("etag", Bytes::from_static(b"\"1-abc\"")),
        Field::new("content-type", Bytes::from_static(b"text/css")),
        Field::new("content-length", Bytes::from_static(b"0")),
    ];
    let other: Vec<Field> = vec![
        Field::new(":status", "200"),
        Field::new("etag", Bytes::from_static(b"\"2-def\"")),
        Field::new("content-type", Bytes::from_static(b"image/png")),
        Field::new("content-length", Bytes::from_static(b"0")),
    ];
    let mut heads = Vec::new();
    // The first puts the fields in the table; the second is all indexed (and kept); the
    // third is the kept block.
    for _ in 0..3 {
        let (head, wire) = exchange(&mut client, &mut server, &file);
        assert!(same(&head, &file), "{head:?}");
        heads.push(wire);
    }
    // The HEADERS frames differ in their stream ids only: the blocks are the same.
    assert_eq!(
        heads[1][9..],
        heads[2][9..],
        "the same head, the same block"
    );
    // Another head adds entries: the indices of the first shift, and reusing its block would
    // now name the wrong fields.
    let (head, _) = exchange(&mut client, &mut server, &other);
    assert!(same(&head, &other), "{head:?}");
    let (head, wire) = exchange(&mut client, &mut server, &file);
    assert!(same(&head, &file), "{head:?}");
    assert_ne!(
        wire[9..],
        heads[2][9..],
        "encoded again after the table changed"
    );
}
