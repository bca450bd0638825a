//! A response head sent again from the same fields (the same shared bytes) is copied from
//! the last block when that block held indexed fields only; any change to the HPACK table
//! in between makes the connection encode it again. The client decodes every head right.

use bytes::{Bytes, BytesMut};
use h2kit::{Config, Connection, Event, Field, FieldList};

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
    exchange_list(client, server, || fields.to_vec().into())
}

/// [`exchange`] with the list `list` makes (owned or shared).
fn exchange_list(
    client: &mut Connection,
    server: &mut Connection,
    list: impl Fn() -> FieldList,
) -> (Vec<Field>, Vec<u8>) {
    let now = std::time::Instant::now();
    client
        .send_request(h2kit_test::fields::get("/"), true)
        .unwrap();
    pump(client, server, now);
    while let Some(e) = server.poll_event() {
        if let Event::Request { stream, .. } = e {
            server.send_response(stream, list(), true).unwrap();
        }
    }
    let wire = pump(client, server, now);
    let mut head = None;
    while let Some(e) = client.poll_event() {
        if let Event::Response { headers, .. } = e {
            head = Some(headers);
        }
    }
    (head.expect("a response").into_owned(), wire)
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

#[test]
fn a_shared_head_goes_out_as_an_owned_one_and_is_given_back() {
    let mut client = Connection::client(Config::default());
    let mut server = Connection::server(Config::default());
    let head: std::sync::Arc<[Field]> = vec![
        Field::new(":status", "200"),
        Field::new("etag", Bytes::from_static(b"\"1-abc\"")),
        Field::new("content-length", Bytes::from_static(b"0")),
    ]
    .into();
    let mut blocks = Vec::new();
    for _ in 0..3 {
        let (seen, wire) = exchange_list(&mut client, &mut server, || head.clone().into());
        assert!(same(&seen, &head), "{seen:?}");
        // Written and dropped: the connection holds no clone of the list itself (the
        // HEADERS memo keeps clones of its fields, not of the list).
        assert_eq!(std::sync::Arc::strong_count(&head), 1);
        blocks.push(wire);
    }
    // An owned list with the same bytes makes the same block as the shared one.
    let (seen, wire) = exchange(&mut client, &mut server, &head);
    assert!(same(&seen, &head), "{seen:?}");
    assert_eq!(wire[9..], blocks[2][9..]);
}

/// The request the server decoded for one GET with `fields`.
fn request_seen(
    client: &mut Connection,
    server: &mut Connection,
    fields: impl Into<FieldList>,
) -> Vec<Field> {
    request_seen_list(client, server, fields).into_owned()
}

/// [`request_seen`], with the list as the server's event carried it (owned or shared).
fn request_seen_list(
    client: &mut Connection,
    server: &mut Connection,
    fields: impl Into<FieldList>,
) -> FieldList {
    let now = std::time::Instant::now();
    client.send_request(fields, true).unwrap();
    pump(client, server, now);
    let mut seen = None;
    while let Some(e) = server.poll_event() {
        if let Event::Request {
            stream, headers, ..
        } = e
        {
            server
                .send_response(stream, vec![Field::new(":status", "204")], true)
                .unwrap();
            seen = Some(headers);
        }
    }
    pump(client, server, now);
    while client.poll_event().is_some() {}
    seen.expect("a request")
}

/// A request head sent again reaches the server as a list shared with its receive memo
/// once its block's octets come a third time (the first request indexes its fields, so the
/// octets repeat from the second; their second coming fills the memo), with the same
/// fields; a repeated head with two cookies is still joined, into a list of its own.
#[test]
fn a_repeated_request_head_arrives_shared_and_its_cookies_are_still_joined() {
    let mut client = Connection::client(Config::default());
    let mut server = Connection::server(Config::default());
    let get: std::sync::Arc<[Field]> = h2kit_test::fields::get("/again").into();
    let mut kinds = Vec::new();
    for _ in 0..5 {
        let seen = request_seen_list(&mut client, &mut server, get.clone());
        assert_eq!(seen[..], get[..]);
        kinds.push(matches!(seen, FieldList::Shared(_)));
    }
    assert_eq!(kinds, [false, false, false, true, true]);

    let mut with_cookies = h2kit_test::fields::get("/cookies");
    with_cookies.push(Field::new("cookie", "a=1"));
    with_cookies.push(Field::new("cookie", "b=2"));
    let with_cookies: std::sync::Arc<[Field]> = with_cookies.into();
    for _ in 0..5 {
        let seen = request_seen_list(&mut client, &mut server, with_cookies.clone());
        assert!(matches!(seen, FieldList::Owned(_)));
        let cookies: Vec<&[u8]> = seen
            .iter()
            .filter(|f| &f.name[..] == b"cookie")
            .map(|f| &f.value[..])
            .collect();
        assert_eq!(cookies, [&b"a=1; b=2"[..]]);
    }
}

#[test]
fn a_repeated_request_head_decodes_right_before_and_after_the_table_changes() {
    let mut client = Connection::client(Config::default());
    let mut server = Connection::server(Config::default());
    let get = h2kit_test::fields::get("/same");
    // The first puts the fields in the table; the second is all indexed (and kept); the
    // third is the kept one.
    for _ in 0..3 {
        let seen = request_seen(&mut client, &mut server, get.clone());
        assert!(same(&seen, &get), "{seen:?}");
    }
    // Another head adds entries: the same octets as the kept block now name other fields.
    let other = h2kit_test::fields::get("/other/path");
    let seen = request_seen(&mut client, &mut server, other.clone());
    assert!(same(&seen, &other), "{seen:?}");
    for _ in 0..2 {
        let seen = request_seen(&mut client, &mut server, get.clone());
        assert!(same(&seen, &get), "{seen:?}");
    }
}

#[test]
fn the_same_octets_after_a_table_change_decode_to_the_new_entry() {
    use h2kit_test::{Harness, frames};
    let mut t = Harness::server(Config::default());
    t.send(frames::preface()).unwrap();
    t.frames();
    // `:method GET`, `:scheme https`, `:path /` (static), then `:authority` by a literal
    // that enters the table (entry 62), or by index 62.
    let literal = |authority: &str| {
        let mut block = vec![0x82, 0x87, 0x84, 0x41, authority.len() as u8];
        block.extend_from_slice(authority.as_bytes());
        block
    };
    let indexed = vec![0x82, 0x87, 0x84, 0xbe];
    let authorities = |t: &mut Harness| -> Vec<Vec<u8>> {
        t.take_events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Request { headers, .. } => headers
                    .iter()
                    .find(|f| &f.name[..] == b":authority")
                    .map(|f| f.value.to_vec()),
                _ => None,
            })
            .collect()
    };
    for (stream, block) in [
        (1, literal("a.example")),
        (3, indexed.clone()),
        // The same octets again: the kept fields.
        (5, indexed.clone()),
        // A new entry 62: the same octets now name it.
        (7, literal("b.example")),
        (9, indexed.clone()),
    ] {
        t.send(frames::headers(stream).block(block).end_stream())
            .unwrap();
    }
    let seen = authorities(&mut t);
    let expected: Vec<&[u8]> = vec![
        b"a.example",
        b"a.example",
        b"a.example",
        b"b.example",
        b"b.example",
    ];
    assert_eq!(seen, expected);
}

/// nghttpd answers every GET of one file with the same block: its fields by index, but
/// `content-length` as a plain literal (neither indexed nor Huffman-coded), which decodes
/// to a slice of the input. The receive memo keeps a copy of it: the repeated head is
/// decoded right every time, from the third on out of the memo, and what the client is
/// handed then holds no input buffer.
#[test]
fn a_repeated_head_with_a_plain_literal_is_reused_apart_from_the_input() {
    use h2kit_test::{Harness, frames};
    let mut t = Harness::client(Config::default());
    t.send(frames::settings()).unwrap();
    for _ in 0..4 {
        t.conn
            .send_request(h2kit_test::fields::get("/"), true)
            .unwrap();
    }
    t.frames();
    // `:status 200` (static 8), then `content-length: 0` without indexing (static 28).
    let block: &[u8] = b"\x88\x0f\x0d\x010";
    // All four in one read: each plain literal lies at its own offset of one input.
    for stream in [1, 3, 5, 7] {
        t.peer
            .send(frames::headers(stream).block(block.to_vec()).end_stream());
    }
    t.deliver().unwrap();
    let heads: Vec<Vec<Field>> = t
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Response { headers, .. } => Some(headers.into_owned()),
            _ => None,
        })
        .collect();
    let expected = [
        Field::new(":status", "200"),
        Field::new("content-length", "0"),
    ];
    assert_eq!(heads.len(), 4);
    for head in &heads {
        assert!(same(head, &expected), "{head:?}");
    }
    let length_at = |i: usize| heads[i][1].value.as_ptr();
    // The first two are decoded (slices of the input at different offsets); the third and
    // fourth are the memo's copy.
    assert_ne!(length_at(0), length_at(1));
    assert_eq!(length_at(2), length_at(3), "the memo's own copy");
    assert_ne!(length_at(1), length_at(2));
    // Only the memo's are said to be: a driver may keep those without pinning any input.
    let repeated: Vec<bool> = heads.iter().map(|h| t.conn.is_repeated_block(h)).collect();
    assert_eq!(repeated, [false, false, true, true]);
}

/// A client sending one request head again and again from a shared list (as
/// `h2kit_client` does for a repeated request): every request goes out right, the list is
/// given back once written, and a list that fails validation keeps failing.
#[test]
fn a_shared_request_head_goes_out_right_and_is_given_back() {
    let mut client = Connection::client(Config::default());
    let mut server = Connection::server(Config::default());
    let get: std::sync::Arc<[Field]> = h2kit_test::fields::get("/shared").into();
    for _ in 0..4 {
        let seen = request_seen(&mut client, &mut server, get.clone());
        // Written and given back: the caller's is the only reference left.
        assert_eq!(std::sync::Arc::strong_count(&get), 1);
        assert!(same(&seen, &get), "{seen:?}");
    }
    let mut bad = h2kit_test::fields::get("/shared");
    bad.push(Field::new("Upper-Case", "x"));
    let bad: std::sync::Arc<[Field]> = bad.into();
    for _ in 0..3 {
        assert!(client.send_request(bad.clone(), true).is_err());
    }
}
