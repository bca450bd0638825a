//! Extended CONNECT (RFC 8441): SETTINGS_ENABLE_CONNECT_PROTOCOL negotiation, the
//! `:protocol` rules on both sides, and a two-way byte stream on the CONNECT stream.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use h2kit::http::{HeadCache, Protocol, request_parts};
use h2kit::{Config, ErrorCode, Event, Field, HeaderError, StreamError, StreamId, UsageError};
use h2kit_test::fields::{get, has, status};
use h2kit_test::frames::{self, HeadersBuilder};
use h2kit_test::{Direction, Frame, FrameType, Harness, Pair, SettingId, Side, Verdict, body_of};

/// A client and a server with these configurations in memory, moving at most 16,384 octets
/// per read and write; received DATA is released only by the test, and a side that closes
/// closes its transport.
fn pair(client: Config, server: Config) -> Pair {
    let mut p = Pair::new(client, server);
    p.set_byte_cap(Some(16_384))
        .set_auto_release(Side::Client, false)
        .set_auto_release(Side::Server, false)
        .eof_on_close(true);
    p
}

/// A server after the scripted client's preface (empty SETTINGS), its own preface read.
fn server(cfg: Config) -> Harness {
    let mut t = Harness::server(cfg);
    t.send(frames::preface()).unwrap();
    t.frames(); // our SETTINGS and WINDOW_UPDATE
    t
}

/// HEADERS on `stream` carrying `fields` in this order, without END_STREAM.
fn request(stream: u32, fields: &[(&str, &str)]) -> HeadersBuilder {
    fields
        .iter()
        .fold(frames::headers(stream), |h, (name, value)| {
            h.field(name, value)
        })
}

fn enabled() -> Config {
    let mut cfg = Config::default();
    cfg.settings.enable_connect_protocol = true;
    cfg
}

fn websocket(path: &'static str) -> Vec<Field> {
    vec![
        Field::new(":method", "CONNECT"),
        Field::new(":protocol", "websocket"),
        Field::new(":scheme", "https"),
        Field::new(":path", path),
        Field::new(":authority", "example.com"),
        Field::new("sec-websocket-version", "13"),
    ]
}

const WS: [(&str, &str); 5] = [
    (":method", "CONNECT"),
    (":protocol", "websocket"),
    (":scheme", "https"),
    (":path", "/chat"),
    (":authority", "example.com"),
];

/// The SETTINGS parameters each side writes from now on, by direction.
fn log_settings(p: &mut Pair) -> Rc<RefCell<Vec<(Direction, SettingId)>>> {
    let sent = Rc::new(RefCell::new(Vec::new()));
    let log = sent.clone();
    p.intercept(move |dir, frame| {
        if let Frame::Settings(s) = frame {
            log.borrow_mut().extend(s.iter().map(|(id, _)| (dir, id)));
        }
        Verdict::Pass
    });
    sent
}

/// The setting is announced by servers configured for it and by no client; the client
/// learns it from the server's SETTINGS, and not before they arrive.
#[test]
fn the_setting_is_negotiated_from_the_server() {
    let mut p = pair(enabled(), enabled());
    let sent = log_settings(&mut p);
    assert!(!p.client.peer_settings_received());
    assert!(!p.client.extended_connect_enabled());
    // Before the server's SETTINGS the client may not send one.
    assert_eq!(
        p.client.send_request(websocket("/"), false),
        Err(UsageError::ExtendedConnectDisabled)
    );
    p.drive();
    assert!(p.client.peer_settings_received());
    assert!(p.client.extended_connect_enabled());
    // A client never announces it (it means nothing from a client).
    assert!(!p.server.extended_connect_enabled());
    let sent = sent.take();
    assert!(
        !sent.contains(&(Direction::ToServer, SettingId::ENABLE_CONNECT_PROTOCOL)),
        "{sent:?}"
    );
    assert!(sent.contains(&(Direction::ToClient, SettingId::ENABLE_CONNECT_PROTOCOL)));

    // Off by default: the typed refusal, nothing sent, the connection unharmed.
    let mut p = pair(Config::default(), Config::default());
    p.drive();
    assert!(p.client.peer_settings_received());
    assert!(!p.client.extended_connect_enabled());
    let before = p.client.next_stream_id();
    assert_eq!(
        p.client.send_request(websocket("/"), false),
        Err(UsageError::ExtendedConnectDisabled)
    );
    assert_eq!(p.client.next_stream_id(), before);
    p.client.send_request(get("/"), true).unwrap();
    p.drive();
    assert!(
        p.take_events(Side::Server)
            .iter()
            .any(|e| matches!(e, Event::Request { .. }))
    );
}

/// A server that announced the setting cannot take it back (RFC 8441 §3).
#[test]
fn a_server_keeps_the_setting_once_announced() {
    let mut p = pair(Config::default(), enabled());
    p.drive();
    let mut off = *p.server.local_settings();
    off.enable_connect_protocol = false;
    off.max_concurrent_streams = 50;
    p.server.update_settings(off).unwrap();
    p.drive();
    assert_eq!(p.client.peer_settings().max_concurrent_streams, 50);
    assert!(p.client.extended_connect_enabled());
    assert!(p.client.error().is_none());
    assert!(p.server.local_settings().enable_connect_protocol);
}

/// A 2xx answer, then DATA both ways, interleaved, each side ending its half on its own.
#[test]
fn an_extended_connect_stream_carries_bytes_both_ways() {
    let mut p = pair(Config::default(), enabled());
    p.drive();
    let id = p.client.send_request(websocket("/chat"), false).unwrap();
    p.drive();
    let events = p.take_events(Side::Server);
    let Some(Event::Request {
        stream,
        headers,
        end_stream,
        ..
    }) = events
        .into_iter()
        .find(|e| matches!(e, Event::Request { .. }))
    else {
        panic!("no request");
    };
    assert_eq!(stream, id);
    assert!(!end_stream);
    let parts = request_parts(&headers, &mut HeadCache::default()).unwrap();
    assert_eq!(parts.method, http::Method::CONNECT);
    assert_eq!(parts.uri, "https://example.com/chat");
    assert_eq!(parts.extensions.get::<Protocol>().unwrap(), "websocket");

    p.server.send_response(id, status(200), false).unwrap();
    p.drive();
    assert!(p.take_events(Side::Client).iter().any(|e| matches!(
        e,
        Event::Response { stream, status: 200, end_stream: false, .. } if *stream == id
    )));
    // Ping-pong: each message is answered before the next is sent.
    for i in 0..5u8 {
        let msg = Bytes::from(vec![b'a' + i; 10]);
        p.client.send_data(id, msg.clone(), false).unwrap();
        p.drive();
        let (got, ended) = body_of(&p.take_events(Side::Server), id);
        assert_eq!(got, msg);
        assert!(!ended);
        let reply = Bytes::from(got.to_ascii_uppercase());
        p.server.send_data(id, reply.clone(), false).unwrap();
        p.drive();
        let (got, ended) = body_of(&p.take_events(Side::Client), id);
        assert_eq!(got, reply);
        assert!(!ended);
    }
    // The client closes its half; the server goes on sending, then closes its own.
    p.client.send_data(id, Bytes::new(), true).unwrap();
    p.drive();
    assert_eq!(
        body_of(&p.take_events(Side::Server), id),
        (Vec::new(), true)
    );
    p.server
        .send_data(id, Bytes::from_static(b"bye"), true)
        .unwrap();
    p.drive();
    assert_eq!(
        body_of(&p.take_events(Side::Client), id),
        (b"bye".to_vec(), true)
    );
    assert!(matches!(
        p.client.stream_state(id),
        h2kit::StreamState::Closed(_)
    ));
    assert!(p.client.error().is_none() && p.server.error().is_none());
}

/// Runs `fields` as a request from a raw client to a server (`enable`: with the setting)
/// and returns the RST_STREAM codes and the reset event's error.
fn raw_request(enable: bool, fields: &[(&str, &str)]) -> (Vec<ErrorCode>, Option<StreamError>) {
    let mut t = server(if enable { enabled() } else { Config::default() });
    t.send(request(1, fields)).unwrap();
    let written = t.flush().expect_none(frames::any(FrameType::GOAWAY));
    assert!(t.conn.error().is_none());
    let codes = written
        .iter()
        .filter_map(|f| match &f.frame {
            Frame::RstStream(r) if r.stream_id == StreamId::new(1) => Some(r.error_code),
            _ => None,
        })
        .collect();
    let error = t.events.iter().find_map(|e| match e {
        Event::StreamReset { error, .. } => Some(error.clone()),
        _ => None,
    });
    // The connection still serves other requests.
    t.send(frames::headers(3).request("GET", "/").end_stream())
        .unwrap();
    assert!(
        t.events
            .iter()
            .any(|e| matches!(e, Event::Request { stream, .. } if *stream == StreamId::new(3)))
    );
    (codes, error)
}

/// Without the setting, `:protocol` makes a malformed request: RST_STREAM PROTOCOL_ERROR,
/// a stream error only. With it (before the client acknowledged our SETTINGS, too: it may
/// send one as soon as it has read them), the request is accepted.
#[test]
fn protocol_is_refused_without_the_setting_and_accepted_with_it() {
    let (codes, _) = raw_request(false, &WS);
    assert_eq!(codes, [ErrorCode::PROTOCOL_ERROR]);

    let mut t = server(enabled());
    t.send(request(1, &WS)).unwrap();
    t.flush().expect_none(frames::any(FrameType::RST_STREAM));
    let request = t.events.iter().find_map(|e| match e {
        Event::Request { headers, .. } => Some(headers.clone()),
        _ => None,
    });
    let request = request.expect("the request was not delivered");
    assert!(has(&request, ":protocol", "websocket"));
    t.conn
        .send_response(StreamId::new(1), status(200), false)
        .unwrap();
    t.conn
        .send_data(StreamId::new(1), Bytes::from_static(b"hi"), false)
        .unwrap();
    let written = t.frames();
    assert!(
        written
            .iter()
            .any(|f| matches!(&f.frame, Frame::Headers(h) if !h.end_stream))
    );
    assert!(
        written
            .iter()
            .any(|f| matches!(&f.frame, Frame::Data(d) if &d.data[..] == b"hi"))
    );
}

/// The pseudo-header rules of RFC 8441 §4 on a server that enabled the protocol: each
/// malformed request is a stream error PROTOCOL_ERROR, the connection lives on.
#[test]
fn malformed_extended_connects_are_stream_errors() {
    let without = |name: &str| -> Vec<(&str, &str)> {
        WS.iter().copied().filter(|(n, _)| *n != name).collect()
    };
    let with_protocol = |value: &'static str| -> Vec<(&str, &str)> {
        let mut f = WS.to_vec();
        f[1] = (":protocol", value);
        f
    };
    let get_with_protocol = vec![
        (":method", "GET"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":path", "/"),
        (":authority", "example.com"),
    ];
    let mut twice = WS.to_vec();
    twice.insert(2, (":protocol", "websocket"));
    type Fields<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(&str, Fields<'_>, HeaderError)> = vec![
        (
            "GET with :protocol",
            get_with_protocol,
            HeaderError::ProtocolWithoutConnect,
        ),
        ("no :path", without(":path"), HeaderError::MissingPath),
        ("no :scheme", without(":scheme"), HeaderError::MissingScheme),
        (
            "no :authority",
            without(":authority"),
            HeaderError::MissingAuthority,
        ),
        (
            "empty :protocol",
            with_protocol(""),
            HeaderError::InvalidProtocol,
        ),
        (
            ":protocol not a token",
            with_protocol("web socket"),
            HeaderError::InvalidProtocol,
        ),
        ("two :protocol", twice, HeaderError::DuplicatePseudo),
    ];
    for (what, fields, want) in cases {
        // The validation names the rule...
        let list = fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes()));
        assert_eq!(
            h2kit::headers::validate(
                h2kit::MessageKind::Request,
                list,
                &h2kit::HeaderValidation::STRICT,
                true
            ),
            Err(want),
            "{what}"
        );
        // ...and the server resets the stream with PROTOCOL_ERROR before the application
        // sees it: no request event, no reset event.
        let (codes, error) = raw_request(true, &fields);
        assert_eq!(codes, [ErrorCode::PROTOCOL_ERROR], "{what}");
        assert_eq!(error, None, "{what}");
    }
}

/// A client that received SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 and then 0 ends the
/// connection (RFC 8441 §3).
#[test]
fn a_server_turning_the_setting_off_is_a_connection_error() {
    let mut t = Harness::client(Config::default());
    t.send(frames::settings().enable_connect_protocol(true))
        .unwrap();
    assert!(t.conn.extended_connect_enabled());
    assert!(
        t.send(frames::settings().enable_connect_protocol(false))
            .is_err()
    );
    // The first GOAWAY written carries PROTOCOL_ERROR.
    let peer = t.flush();
    peer.skip_while(|f| f.frame_type() != FrameType::GOAWAY);
    peer.expect_goaway(ErrorCode::PROTOCOL_ERROR);
}
