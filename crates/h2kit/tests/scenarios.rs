//! Client and server `Connection`s in memory: every scenario runs with input split into 1-,
//! 7- and 16384-byte pieces.

use std::time::Instant;

use bytes::Bytes;
use h2kit::{Config, ErrorCode, Event, Field, Initiator, StreamError, StreamId, UsageError};
use h2kit_test::fields::{self, get, has, post};
use h2kit_test::{Direction, Frame, Pair, SPLIT_SIZES, Side, Verdict};

/// A client and a server with these configurations in memory, moving at most `cap` octets
/// per read and write; received DATA is released only by the test, and a side that closes
/// closes its transport.
fn pair_with(client: Config, server: Config, cap: usize) -> Pair {
    let mut p = Pair::new(client, server);
    p.set_byte_cap(Some(cap))
        .set_auto_release(Side::Client, false)
        .set_auto_release(Side::Server, false)
        .eof_on_close(true);
    p
}

/// [`pair_with`] default configurations.
fn pair(cap: usize) -> Pair {
    pair_with(Config::default(), Config::default(), cap)
}

/// A response header list with this status.
fn status(code: u16) -> Vec<Field> {
    fields::status(code)
}

#[test]
fn get_request_and_response() {
    for chunk in SPLIT_SIZES {
        let mut p = pair(chunk);
        let id = p.client.send_request(get("/hello"), true).unwrap();
        assert_eq!(id, StreamId::new(1));
        p.drive();
        let events = p.take_events(Side::Server);
        let (stream, headers) = events
            .iter()
            .find_map(|e| match e {
                Event::Request {
                    stream,
                    headers,
                    end_stream: true,
                    ..
                } => Some((*stream, headers.clone())),
                _ => None,
            })
            .expect("request event");
        assert_eq!(stream, id);
        assert!(has(&headers, ":path", "/hello"));
        assert!(events.contains(&Event::RemoteSettings {
            changes: vec![
                h2kit::SettingChange {
                    id: h2kit::SettingId::ENABLE_PUSH,
                    old: 1,
                    new: 0
                },
                h2kit::SettingChange {
                    id: h2kit::SettingId::MAX_CONCURRENT_STREAMS,
                    old: u32::MAX,
                    new: 100
                },
                h2kit::SettingChange {
                    id: h2kit::SettingId::INITIAL_WINDOW_SIZE,
                    old: 65_535,
                    new: 1 << 20
                },
                h2kit::SettingChange {
                    id: h2kit::SettingId::MAX_HEADER_LIST_SIZE,
                    old: u32::MAX,
                    new: 65_536
                },
                h2kit::SettingChange {
                    id: h2kit::SettingId::NO_RFC7540_PRIORITIES,
                    old: 0,
                    new: 1
                },
            ]
        }));
        p.server
            .send_response(
                id,
                vec![
                    Field::new(":status", "200"),
                    Field::new("content-length", "5"),
                ],
                false,
            )
            .unwrap();
        p.server
            .send_data(id, Bytes::from_static(b"world"), true)
            .unwrap();
        p.drive();
        let events = p.take_events(Side::Client);
        assert!(events.contains(&Event::SettingsAcknowledged));
        let status = events.iter().find_map(|e| match e {
            Event::Response { status, .. } => Some(*status),
            _ => None,
        });
        assert_eq!(status, Some(200), "chunk {chunk}");
        let body: Vec<u8> = events
            .iter()
            .filter_map(|e| match e {
                Event::Data { data, .. } => Some(data.to_vec()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(body, b"world");
        assert!(events.iter().any(|e| matches!(
            e,
            Event::Data {
                end_stream: true,
                ..
            }
        )));
        // Both sides forget the closed stream.
        assert_eq!(p.client.open_outbound_streams(), 0);
        assert_eq!(p.server.open_inbound_streams(), 0);
        assert!(p.client.stream(id).is_none());
        assert!(p.server.stream(id).is_none());
    }
}

/// Sends `body` from the client to the server through default 64 KiB windows; the server
/// releases capacity as it reads.
fn upload(chunk: usize, body: &[u8]) -> Vec<u8> {
    let mut p = pair(chunk);
    let id = p.client.send_request(post("/upload"), false).unwrap();
    let mut sent = 0;
    let mut received = Vec::new();
    let mut ended = false;
    for _ in 0..10_000 {
        // Queue what the buffer accepts.
        while sent < body.len() {
            let end = (sent + 100_000).min(body.len());
            let piece = Bytes::copy_from_slice(&body[sent..end]);
            match p.client.send_data(id, piece, end == body.len()) {
                Ok(()) => sent = end,
                Err(UsageError::SendBufferFull) => break,
                Err(e) => panic!("{e}"),
            }
        }
        p.drive();
        for e in p.take_events(Side::Server) {
            if let Event::Data {
                stream,
                data,
                flow_controlled_len,
                end_stream,
            } = e
            {
                received.extend_from_slice(&data);
                p.server.release_capacity(stream, flow_controlled_len);
                ended |= end_stream;
            }
        }
        if ended {
            break;
        }
    }
    assert!(ended, "body never finished");
    received
}

#[test]
fn large_body_through_small_windows() {
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    for chunk in SPLIT_SIZES {
        if chunk == 1 {
            // 300 KB one byte at a time is slow in debug builds; 7 covers odd splits.
            continue;
        }
        assert_eq!(upload(chunk, &body), body, "chunk {chunk}");
    }
    let small: Vec<u8> = (0..70_000u32).map(|i| (i % 13) as u8).collect();
    assert_eq!(upload(1, &small), small);
}

#[test]
fn data_over_the_buffer_is_a_usage_error_and_connection_stays_usable() {
    let mut cfg = Config::default();
    cfg.limits.max_send_buffer_per_stream = 10;
    let mut p = pair_with(cfg, Config::default(), 16_384);
    let id = p.client.send_request(post("/"), false).unwrap();
    assert_eq!(
        p.client.send_data(id, Bytes::from_static(&[0; 11]), false),
        Err(UsageError::SendBufferFull)
    );
    p.client
        .send_data(id, Bytes::from_static(&[0; 10]), true)
        .unwrap();
    assert_eq!(
        p.client.send_data(id, Bytes::from_static(b"x"), false),
        Err(UsageError::SendAfterEndStream)
    );
    assert_eq!(
        p.client.send_response(id, status(200), true),
        Err(UsageError::WrongRole)
    );
    p.drive();
    let got: usize = p
        .take_events(Side::Server)
        .iter()
        .map(|e| match e {
            Event::Data { data, .. } => data.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(got, 10);
    assert!(p.client.error().is_none());
}

#[test]
fn trailers_and_informational_responses() {
    for chunk in SPLIT_SIZES {
        let mut p = pair(chunk);
        let id = p.client.send_request(post("/grpc"), false).unwrap();
        p.client
            .send_data(id, Bytes::from_static(b"req"), false)
            .unwrap();
        p.client
            .send_trailers(id, vec![Field::new("x-checksum", "abc")])
            .unwrap();
        p.drive();
        let events = p.take_events(Side::Server);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Trailers { headers, .. }
            if has(headers, "x-checksum", "abc")))
        );
        p.server.send_response(id, status(103), false).unwrap();
        assert_eq!(
            p.server.send_data(id, Bytes::from_static(b"x"), false),
            Err(UsageError::DataInWrongState)
        );
        p.server.send_response(id, status(200), false).unwrap();
        p.server
            .send_data(id, Bytes::from_static(b"resp"), false)
            .unwrap();
        p.server
            .send_trailers(id, vec![Field::new("grpc-status", "0")])
            .unwrap();
        p.drive();
        let events = p.take_events(Side::Client);
        let mut kinds: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                Event::Informational { status: 103, .. } => Some("1xx"),
                Event::Response { status: 200, .. } => Some("200"),
                Event::Data { .. } => Some("data"),
                Event::Trailers { headers, .. } if has(headers, "grpc-status", "0") => {
                    Some("trailers")
                }
                _ => None,
            })
            .collect();
        kinds.dedup();
        assert_eq!(kinds, ["1xx", "200", "data", "trailers"], "chunk {chunk}");
    }
}

#[test]
fn client_reset_reaches_server_and_late_frames_are_ignored() {
    for chunk in SPLIT_SIZES {
        let mut p = pair(chunk);
        let id = p.client.send_request(post("/"), false).unwrap();
        p.drive();
        p.server.send_response(id, status(200), false).unwrap();
        p.server
            .send_data(id, Bytes::from(vec![7u8; 1000]), false)
            .unwrap();
        // The client resets while the server's data is in flight.
        p.client.reset(id, ErrorCode::CANCEL).unwrap();
        p.drive();
        let server_events = p.take_events(Side::Server);
        assert!(server_events.contains(&Event::StreamReset {
            stream: id,
            error: StreamError::Reset {
                code: ErrorCode::CANCEL,
                initiator: Initiator::Remote,
            },
        }));
        assert!(p.client.error().is_none(), "late frames must not be errors");
        assert!(p.server.error().is_none());
        assert_eq!(
            p.client.reset(id, ErrorCode::CANCEL),
            Err(UsageError::StreamClosed)
        );
        // The connection still works.
        let id2 = p.client.send_request(get("/again"), true).unwrap();
        p.drive();
        assert!(
            p.take_events(Side::Server)
                .iter()
                .any(|e| matches!(e, Event::Request { stream, .. } if *stream == id2))
        );
    }
}

#[test]
fn ping_measures_rtt_on_the_virtual_clock() {
    let mut p = pair(16_384);
    p.drive();
    p.take_events(Side::Client);
    p.client.ping(*b"12345678").unwrap();
    // The PING arrives 25 ms after it was written, the ACK 25 ms after the answer.
    p.set_latency(std::time::Duration::from_millis(25));
    p.drive();
    let mut acked = None;
    for e in p.take_events(Side::Client) {
        if let Event::PingAcknowledged { payload, rtt } = e {
            acked = Some((payload, rtt));
        }
    }
    assert_eq!(
        acked,
        Some((*b"12345678", Some(std::time::Duration::from_millis(50))))
    );
    assert_eq!(p.client.rtt(), Some(std::time::Duration::from_millis(50)));
    assert!(
        p.take_events(Side::Server)
            .iter()
            .all(|e| !matches!(e, Event::PingAcknowledged { .. }))
    );
}

#[test]
fn graceful_shutdown_lets_in_flight_streams_finish() {
    for chunk in SPLIT_SIZES {
        let mut p = pair(chunk);
        let id = p.client.send_request(get("/slow"), true).unwrap();
        p.drive();
        p.server.graceful_shutdown().unwrap();
        p.drive();
        // New requests are refused once the GOAWAY arrived; the open one continues.
        assert_eq!(
            p.client.send_request(get("/new"), true),
            Err(UsageError::ConnectionClosed)
        );
        assert!(p.client.error().is_none());
        p.server.send_response(id, status(200), true).unwrap();
        p.drive();
        let client_events = p.take_events(Side::Client);
        assert!(
            client_events
                .iter()
                .any(|e| matches!(e, Event::Response { status: 200, .. }))
        );
        assert!(client_events.iter().any(|e| matches!(
            e,
            Event::GoAway {
                code: ErrorCode::NO_ERROR,
                ..
            }
        )));
        assert!(p.server.is_closed(), "chunk {chunk}");
        assert!(p.client.is_closed());
        let goaways = client_events
            .iter()
            .filter(|e| matches!(e, Event::GoAway { .. }))
            .count();
        assert_eq!(goaways, 2, "two-phase GOAWAY");
    }
}

#[test]
fn initial_window_change_mid_stream_unblocks_data() {
    let mut client = Config::default();
    client.settings.initial_window_size = 65_535;
    let mut p = pair_with(client, Config::default(), 16_384);
    let id = p.client.send_request(get("/big"), true).unwrap();
    p.drive();
    p.server.send_response(id, status(200), false).unwrap();
    p.server
        .send_data(id, Bytes::from(vec![1u8; 100_000]), true)
        .unwrap();
    p.drive();
    let got: usize = p
        .take_events(Side::Client)
        .iter()
        .map(|e| match e {
            Event::Data { data, .. } => data.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(got, 65_535, "stopped by the stream window");
    // The client raises its initial window: the stream window grows by the difference.
    let mut s = *p.client.local_settings();
    s.initial_window_size = 200_000;
    p.client.update_settings(s).unwrap();
    p.drive();
    let got: usize = p
        .take_events(Side::Client)
        .iter()
        .map(|e| match e {
            Event::Data { data, .. } => data.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(got, 100_000 - 65_535);
    assert_eq!(p.client.local_settings().initial_window_size, 200_000);
}

#[test]
fn urgent_stream_data_goes_first() {
    let mut p = pair(16_384);
    let low = p.client.send_request(get("/low"), true).unwrap();
    let mut high_req = get("/high");
    high_req.push(Field::new("priority", "u=0"));
    let high = p.client.send_request(high_req, true).unwrap();
    p.drive();
    // Queue the low-urgency body first; the high-urgency one must still go out first.
    p.server.send_response(low, status(200), false).unwrap();
    p.server
        .send_data(low, Bytes::from(vec![b'l'; 20_000]), true)
        .unwrap();
    p.server.send_response(high, status(200), false).unwrap();
    p.server
        .send_data(high, Bytes::from(vec![b'h'; 20_000]), true)
        .unwrap();
    p.drive();
    let order: Vec<StreamId> = p
        .take_events(Side::Client)
        .iter()
        .filter_map(|e| match e {
            Event::Data { stream, .. } => Some(*stream),
            _ => None,
        })
        .collect();
    let first_low = order.iter().position(|s| *s == low).unwrap();
    let last_high = order.iter().rposition(|s| *s == high).unwrap();
    assert!(last_high < first_low, "order: {order:?}");
}

/// The client's uploads follow its own priority signals: the `priority` header it sends and
/// later `send_priority_update` calls both order its DATA, not only the server's.
#[test]
fn client_uploads_follow_their_own_priority() {
    let server_data_order = |p: &mut Pair| -> Vec<StreamId> {
        p.take_events(Side::Server)
            .iter()
            .filter_map(|e| match e {
                Event::Data { stream, .. } => Some(*stream),
                _ => None,
            })
            .collect()
    };
    // By header: the urgent upload is opened second but its bytes go first.
    let mut p = pair(16_384);
    let mut low_req = post("/low");
    low_req.push(Field::new("priority", "u=7"));
    let low = p.client.send_request(low_req, false).unwrap();
    let mut high_req = post("/high");
    high_req.push(Field::new("priority", "u=0"));
    let high = p.client.send_request(high_req, false).unwrap();
    p.client
        .send_data(low, Bytes::from(vec![b'l'; 40_000]), true)
        .unwrap();
    p.client
        .send_data(high, Bytes::from(vec![b'h'; 40_000]), true)
        .unwrap();
    p.drive();
    let order = server_data_order(&mut p);
    let first_low = order.iter().position(|s| *s == low).unwrap();
    let last_high = order.iter().rposition(|s| *s == high).unwrap();
    assert!(last_high < first_low, "order: {order:?}");

    // By send_priority_update(): raising the second stream makes it overtake the first.
    let mut p = pair(16_384);
    let a = p.client.send_request(post("/a"), false).unwrap();
    let b = p.client.send_request(post("/b"), false).unwrap();
    p.client
        .send_priority_update(
            b,
            h2kit::ExtensiblePriority {
                urgency: h2kit::Urgency::HIGHEST,
                incremental: false,
            },
        )
        .unwrap();
    p.client
        .send_data(a, Bytes::from(vec![b'a'; 40_000]), true)
        .unwrap();
    p.client
        .send_data(b, Bytes::from(vec![b'b'; 40_000]), true)
        .unwrap();
    p.drive();
    let order = server_data_order(&mut p);
    let first_a = order.iter().position(|s| *s == a).unwrap();
    let last_b = order.iter().rposition(|s| *s == b).unwrap();
    assert!(last_b < first_a, "order: {order:?}");
}

#[test]
fn concurrent_requests_all_complete() {
    for chunk in [7, 16_384] {
        let mut p = pair(chunk);
        let ids: Vec<StreamId> = (0..20)
            .map(|_| p.client.send_request(get("/"), true).unwrap())
            .collect();
        p.drive();
        let reqs: Vec<StreamId> = p
            .take_events(Side::Server)
            .iter()
            .filter_map(|e| match e {
                Event::Request { stream, .. } => Some(*stream),
                _ => None,
            })
            .collect();
        assert_eq!(reqs, ids);
        for id in &ids {
            p.server.send_response(*id, status(200), false).unwrap();
            p.server
                .send_data(*id, Bytes::from(id.get().to_string()), true)
                .unwrap();
        }
        p.drive();
        let mut bodies = std::collections::BTreeMap::<u32, Vec<u8>>::new();
        let mut done = 0;
        for e in p.take_events(Side::Client) {
            if let Event::Data {
                stream,
                data,
                end_stream,
                ..
            } = e
            {
                bodies
                    .entry(stream.get())
                    .or_default()
                    .extend_from_slice(&data);
                done += usize::from(end_stream);
            }
        }
        assert_eq!(done, 20);
        for (id, body) in bodies {
            assert_eq!(body, id.to_string().into_bytes());
        }
    }
}

#[test]
fn a_request_field_list_reused_for_the_response_leaks_nothing_into_later_requests() {
    let mut p = pair(16_384);
    for (i, path) in ["/first", "/second", "/third"].into_iter().enumerate() {
        let mut fields = get(path);
        fields.push(Field::new("x-nth", i.to_string()));
        let id = p.client.send_request(fields, true).unwrap();
        p.drive();
        let mut headers = p
            .take_events(Side::Server)
            .into_iter()
            .find_map(|e| match e {
                Event::Request { headers, .. } => Some(headers.into_owned()),
                _ => None,
            })
            .expect("request event");
        // Exactly this request's fields, nothing left from the list's earlier use.
        assert!(has(&headers, ":path", path));
        assert_eq!(
            headers.iter().filter(|f| &f.name[..] == b"x-nth").count(),
            1
        );
        assert!(has(&headers, "x-nth", &i.to_string()));
        assert_eq!(headers.len(), get(path).len() + 1);
        headers.clear();
        headers.push(Field::new(":status", "200"));
        headers.push(Field::new("x-answer", path.to_owned()));
        p.server.send_response(id, headers, true).unwrap();
        p.drive();
        let response = p
            .take_events(Side::Client)
            .into_iter()
            .find_map(|e| match e {
                Event::Response { headers, .. } => Some(headers),
                _ => None,
            })
            .expect("response event");
        assert_eq!(response.len(), 2);
        assert!(has(&response, "x-answer", path));
    }
}

#[test]
fn a_connection_serving_bursts_releases_its_capacity_on_a_timer() {
    let mut p = pair(16_384);
    let idle = |p: &Pair| p.server.poll_timeout();
    let burst = |p: &mut Pair| {
        let ids: Vec<StreamId> = (0..40)
            .map(|_| p.client.send_request(get("/"), true).unwrap())
            .collect();
        // The requests arrive before the server writes: its first idle moment is the end of
        // the burst, not its preface.
        p.transfer(Direction::ToServer);
        p.drive();
        p.take_events(Side::Server);
        for id in ids {
            p.server.send_response(id, status(204), true).unwrap();
        }
        p.drive();
        p.take_events(Side::Client);
    };
    // The first idle moment releases at once: only the idle timeout is pending.
    burst(&mut p);
    let start = p.now();
    let idle_timeout = Config::default().limits.idle_timeout.unwrap();
    assert_eq!(idle(&p), Some(start + idle_timeout));
    // A second burst at the same time puts its release off by one second, as a timer.
    burst(&mut p);
    let due = start + std::time::Duration::from_secs(1);
    assert_eq!(idle(&p), Some(due));
    p.server.handle_timeout(due);
    assert_eq!(idle(&p), Some(start + idle_timeout));
    // Still working afterwards.
    burst(&mut p);
}

#[test]
fn max_concurrent_streams_is_enforced_both_ways() {
    let mut server_cfg = Config::default();
    server_cfg.settings.max_concurrent_streams = 2;
    let mut p = pair_with(Config::default(), server_cfg, 16_384);
    p.drive();
    p.client.send_request(get("/1"), false).unwrap();
    p.client.send_request(get("/2"), false).unwrap();
    assert_eq!(
        p.client.send_request(get("/3"), false),
        Err(UsageError::ConcurrencyLimit)
    );
}

#[test]
fn push_promise_accepted() {
    let mut client_cfg = Config::default();
    client_cfg.settings.enable_push = true;
    let mut p = pair_with(client_cfg, Config::default(), 7);
    let id = p.client.send_request(get("/index.html"), true).unwrap();
    p.drive();
    let promised = p.server.push_promise(id, get("/style.css")).unwrap();
    assert_eq!(promised, StreamId::new(2));
    p.server.send_response(id, status(200), true).unwrap();
    p.server
        .send_response(promised, status(200), false)
        .unwrap();
    p.server
        .send_data(promised, Bytes::from_static(b"body{}"), true)
        .unwrap();
    p.drive();
    let events = p.take_events(Side::Client);
    assert!(events.iter().any(
        |e| matches!(e, Event::PushPromise { stream, promised: pr, headers }
        if *stream == id && *pr == promised && has(headers, ":path", "/style.css"))
    ));
    let pushed: Vec<u8> = events
        .iter()
        .filter_map(|e| match e {
            Event::Data { stream, data, .. } if *stream == promised => Some(data.to_vec()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(pushed, b"body{}");
}

#[test]
fn push_refused_when_disabled() {
    let mut p = pair(16_384);
    let id = p.client.send_request(get("/"), true).unwrap();
    p.drive();
    assert_eq!(
        p.server.push_promise(id, get("/x")),
        Err(UsageError::PushDisabled)
    );
}

#[test]
fn padded_data_counts_against_flow_control() {
    for chunk in SPLIT_SIZES {
        let mut p = pair(chunk);
        let id = p.client.send_request(post("/pad"), false).unwrap();
        p.client
            .send_data_padded(id, Bytes::from_static(b"hello"), 20, true)
            .unwrap();
        p.drive();
        let data: Vec<(Bytes, u32)> = p
            .take_events(Side::Server)
            .into_iter()
            .filter_map(|e| match e {
                Event::Data {
                    data,
                    flow_controlled_len,
                    ..
                } => Some((data, flow_controlled_len)),
                _ => None,
            })
            .collect();
        assert_eq!(data, vec![(Bytes::from_static(b"hello"), 5 + 20 + 1)]);
        assert_eq!(
            p.client.connection_send_window(),
            2_097_152 - 26,
            "chunk {chunk}"
        );
    }
}

#[test]
fn h2c_upgrade_both_sides() {
    let mut client = h2kit::Connection::client_h2c(Config::default(), false);
    let settings = client.h2c_settings();
    assert!(!settings.is_empty() && !settings.contains('='));
    // The HTTP/1.1 request went out with Upgrade: h2c; the server answered 101.
    let request = get("/upgraded");
    let server =
        h2kit::Connection::server_h2c(Config::default(), settings.as_bytes(), request).unwrap();
    assert_eq!(client.next_stream_id(), StreamId::new(3));
    assert_eq!(
        client.stream_state(StreamId::new(1)),
        h2kit::StreamState::HalfClosedLocal
    );
    let mut p = pair(7);
    p.client = std::mem::replace(&mut client, h2kit::Connection::client(Config::default()));
    p.server = server;
    p.drive();
    let events = p.take_events(Side::Server);
    assert!(events.iter().any(
        |e| matches!(e, Event::Request { stream, end_stream: true, headers, .. }
        if *stream == StreamId::new(1) && has(headers, ":path", "/upgraded"))
    ));
    p.server
        .send_response(StreamId::new(1), status(200), false)
        .unwrap();
    p.server
        .send_data(StreamId::new(1), Bytes::from_static(b"via h2c"), true)
        .unwrap();
    p.drive();
    let events = p.take_events(Side::Client);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Response { stream, status: 200, .. }
        if *stream == StreamId::new(1)))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Data { data, end_stream: true, .. }
        if data.as_ref() == b"via h2c"))
    );
    assert!(h2kit::Connection::server_h2c(Config::default(), b"!!", get("/")).is_err());
}

#[test]
fn http_crate_helpers_round_trip() {
    let mut p = pair(16_384);
    let request = http::Request::builder()
        .method("PUT")
        .uri("https://example.com/items/7?x=1")
        .header("content-type", "text/plain")
        .body(())
        .unwrap();
    let id = p.client.send_http_request(&request, true).unwrap();
    p.drive();
    let fields = p
        .take_events(Side::Server)
        .into_iter()
        .find_map(|e| match e {
            Event::Request { headers, .. } => Some(headers),
            _ => None,
        })
        .unwrap();
    let got = h2kit::request_from_fields(&fields).unwrap();
    assert_eq!(got.method(), http::Method::PUT);
    assert_eq!(got.uri(), "https://example.com/items/7?x=1");
    assert_eq!(got.headers()["content-type"], "text/plain");
    let response = http::Response::builder()
        .status(404)
        .header("x-reason", "gone")
        .body(())
        .unwrap();
    p.server.send_http_response(id, &response, true).unwrap();
    p.drive();
    let fields = p
        .take_events(Side::Client)
        .into_iter()
        .find_map(|e| match e {
            Event::Response { headers, .. } => Some(headers),
            _ => None,
        })
        .unwrap();
    let got = h2kit::response_from_fields(&fields).unwrap();
    assert_eq!(got.status(), 404);
    assert_eq!(got.headers()["x-reason"], "gone");
}

#[test]
fn priority_update_reaches_the_server_and_reorders() {
    let mut p = pair(16_384);
    let a = p.client.send_request(get("/a"), true).unwrap();
    let b = p.client.send_request(get("/b"), true).unwrap();
    p.client
        .send_priority_update(
            b,
            h2kit::ExtensiblePriority {
                urgency: h2kit::Urgency::HIGHEST,
                incremental: false,
            },
        )
        .unwrap();
    p.drive();
    assert!(p.take_events(Side::Server).iter().any(|e| matches!(e,
        Event::PriorityUpdated { stream, priority } if *stream == b
            && priority.extensible.map(|x| x.urgency) == Some(h2kit::Urgency::HIGHEST))));
    for id in [a, b] {
        p.server.send_response(id, status(200), false).unwrap();
        p.server
            .send_data(id, Bytes::from(vec![0u8; 30_000]), true)
            .unwrap();
    }
    p.drive();
    let order: Vec<StreamId> = p
        .take_events(Side::Client)
        .iter()
        .filter_map(|e| match e {
            Event::Data { stream, .. } => Some(*stream),
            _ => None,
        })
        .collect();
    let first_a = order.iter().position(|s| *s == a).unwrap();
    let last_b = order.iter().rposition(|s| *s == b).unwrap();
    assert!(last_b < first_a, "{order:?}");
}

#[test]
fn altsvc_and_origin_reach_the_client() {
    let mut p = pair(16_384);
    p.server
        .send_altsvc(
            StreamId::ZERO,
            Bytes::from_static(b"https://example.com"),
            Bytes::from_static(b"h3=\":443\""),
        )
        .unwrap();
    p.server
        .send_origin(vec![Bytes::from_static(b"https://a.example")])
        .unwrap();
    assert_eq!(p.client.send_origin(vec![]), Err(UsageError::WrongRole));
    p.drive();
    let events = p.take_events(Side::Client);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::AltSvc { field_value, .. }
        if field_value.as_ref() == b"h3=\":443\""))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Origin { origins } if origins.len() == 1))
    );
}

#[test]
fn go_away_closes_at_once_with_our_code() {
    let mut p = pair(16_384);
    let id = p.client.send_request(get("/"), false).unwrap();
    p.drive();
    p.server
        .go_away(ErrorCode::ENHANCE_YOUR_CALM, Bytes::from_static(b"bye"))
        .unwrap();
    p.drive();
    assert!(p.server.is_closed());
    let events = p.take_events(Side::Client);
    assert!(events.iter().any(
        |e| matches!(e, Event::GoAway { code: ErrorCode::ENHANCE_YOUR_CALM, debug_data, .. }
        if debug_data.as_ref() == b"bye")
    ));
    assert!(events.iter().any(|e| matches!(e, Event::Terminated { .. })));
    assert_eq!(
        p.client.send_data(id, Bytes::new(), true),
        Err(UsageError::ConnectionClosed)
    );
}

#[test]
fn streams_with_unflushed_end_still_count_against_the_peer_limit() {
    let mut server_cfg = Config::default();
    server_cfg.settings.max_concurrent_streams = 1;
    let mut p = pair_with(Config::default(), server_cfg, 16_384);
    p.drive();
    let id = p.client.send_request(post("/"), false).unwrap();
    p.drive();
    p.server.send_response(id, status(200), true).unwrap();
    p.drive();
    // Our side ends with queued data: logically closed, but the server still counts it.
    p.client
        .send_data(id, Bytes::from(vec![0u8; 10]), true)
        .unwrap();
    assert_eq!(
        p.client.send_request(get("/next"), true),
        Err(UsageError::ConcurrencyLimit)
    );
    p.drive();
    p.client.send_request(get("/next"), true).unwrap();
    p.drive();
    assert!(
        p.take_events(Side::Server)
            .iter()
            .all(|e| !matches!(e, Event::StreamReset { .. }))
    );
}

#[test]
fn push_cancelled_by_the_client() {
    let mut client_cfg = Config::default();
    client_cfg.settings.enable_push = true;
    for chunk in SPLIT_SIZES {
        let mut p = pair_with(client_cfg.clone(), Config::default(), chunk);
        let id = p.client.send_request(get("/"), true).unwrap();
        p.drive();
        let promised = p.server.push_promise(id, get("/pushed.js")).unwrap();
        p.server.send_response(id, status(200), true).unwrap();
        p.drive();
        assert!(
            p.take_events(Side::Client)
                .iter()
                .any(|e| matches!(e, Event::PushPromise { promised: pr, .. } if *pr == promised))
        );
        p.client.reset(promised, ErrorCode::CANCEL).unwrap();
        // The server already queued the pushed response; it crosses the RST, which reaches
        // the server before the server writes any of it.
        p.server
            .send_response(promised, status(200), false)
            .unwrap();
        p.server
            .send_data(promised, Bytes::from(vec![1u8; 5_000]), true)
            .unwrap();
        p.transfer(Direction::ToServer);
        p.drive();
        assert!(p.take_events(Side::Server).contains(&Event::StreamReset {
            stream: promised,
            error: StreamError::Reset {
                code: ErrorCode::CANCEL,
                initiator: Initiator::Remote,
            },
        }));
        assert!(
            p.take_events(Side::Client)
                .iter()
                .all(|e| !matches!(e, Event::Data { stream, .. } if *stream == promised))
        );
        assert!(p.client.error().is_none() && p.server.error().is_none());
    }
}

#[test]
fn priority_update_before_the_request_is_kept() {
    let mut p = pair(16_384);
    p.drive();
    let low = p.client.send_request(get("/low"), true).unwrap();
    // Announce stream 3's priority before opening it.
    p.client
        .send_priority_update(
            StreamId::new(3),
            h2kit::ExtensiblePriority {
                urgency: h2kit::Urgency::HIGHEST,
                incremental: false,
            },
        )
        .unwrap();
    let high = p.client.send_request(get("/high"), true).unwrap();
    assert_eq!(high, StreamId::new(3));
    p.drive();
    let priority = p
        .take_events(Side::Server)
        .into_iter()
        .find_map(|e| match e {
            Event::Request {
                stream, priority, ..
            } if stream == high => Some(priority),
            _ => None,
        });
    assert_eq!(
        priority.and_then(|p| p.extensible).map(|e| e.urgency),
        Some(h2kit::Urgency::HIGHEST)
    );
    let _ = low;
}

#[test]
fn large_response_after_the_request_ended_completes_with_window_updates() {
    for chunk in [7, 16_384] {
        let mut p = pair(chunk);
        let id = p.client.send_request(get("/big"), true).unwrap();
        p.drive();
        p.server.send_response(id, status(200), false).unwrap();
        // The request ended, so queuing the end makes the stream closed for the server's
        // commands while 200 KB still wait for the client's WINDOW_UPDATEs.
        p.server
            .send_data(id, Bytes::from(vec![3u8; 200_000]), true)
            .unwrap();
        let mut got = 0;
        let mut ended = false;
        for _ in 0..100 {
            p.drive();
            for e in p.take_events(Side::Client) {
                if let Event::Data {
                    stream,
                    data,
                    flow_controlled_len,
                    end_stream,
                } = e
                {
                    got += data.len();
                    ended |= end_stream;
                    p.client.release_capacity(stream, flow_controlled_len);
                }
            }
            if ended {
                break;
            }
        }
        assert_eq!((got, ended), (200_000, true), "chunk {chunk}");
        assert!(p.server.stream(id).is_none());
    }
}

/// `release_capacity(StreamId::ZERO, n)` reopens the connection window only: the WINDOW_UPDATE
/// frames it causes are all on stream 0.
#[test]
fn releasing_on_stream_zero_reopens_only_the_connection() {
    let mut p = pair(16_384);
    // Ten streams of 60,000 bytes: more than half of the server's 1 MiB connection window,
    // so its policy reopens it once they are released, and within every stream's window.
    for _ in 0..10 {
        let id = p.client.send_request(post("/upload"), false).unwrap();
        p.client
            .send_data(id, Bytes::from(vec![1u8; 60_000]), false)
            .unwrap();
    }
    p.drive();
    let received: u32 = p
        .take_events(Side::Server)
        .iter()
        .filter_map(|e| match e {
            Event::Data {
                flow_controlled_len,
                ..
            } => Some(*flow_controlled_len),
            _ => None,
        })
        .sum();
    assert_eq!(received, 600_000);
    // The WINDOW_UPDATE frames the server writes from now on.
    let updates = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let log = updates.clone();
    p.intercept(move |dir, frame| {
        if let (Direction::ToClient, Frame::WindowUpdate(w)) = (dir, frame) {
            log.borrow_mut().push((w.stream_id, w.increment));
        }
        Verdict::Pass
    });
    p.server.release_capacity(StreamId::ZERO, received);
    p.drive();
    let updates = updates.take();
    assert!(!updates.is_empty(), "the connection window reopens");
    assert!(
        updates.iter().all(|(s, _)| *s == StreamId::ZERO),
        "{updates:?}"
    );
}

#[test]
fn a_clock_going_backwards_is_clamped_to_the_latest_time_seen() {
    use std::time::Duration;
    // The idle timer is the one watched: no first-request timeout, which would come first.
    let mut server = Config::default();
    server.limits.first_request_timeout = None;
    let mut p = pair_with(Config::default(), server, 16_384);
    p.drive();
    // The handshake left the connections idle with spare capacity: their release (a timer
    // one second on) runs first, so the idle timer is the only one left.
    p.advance(Duration::from_secs(1));
    let idle_timeout = Config::default().limits.idle_timeout.unwrap();
    let later = p.now() + Duration::from_secs(100);
    let earlier = p.now() + Duration::from_secs(10);
    let ping = |p: &mut Pair, payload: [u8; 8], at: Instant| {
        let mut buf = bytes::BytesMut::new();
        p.client.ping(payload).unwrap();
        while p.client.poll_transmit(later, &mut buf, None) > 0 {}
        p.server.recv(at, &buf).unwrap();
        while p.server.poll_event().is_some() {}
    };
    // Something received at `later` restarts the idle timer from there.
    ping(&mut p, *b"ping-one", later);
    assert_eq!(p.server.poll_timeout(), Some(later + idle_timeout));
    // A driver whose clock went back: the input counts as received at `later`, the deadline
    // does not move back, and no timer fires at the earlier time.
    ping(&mut p, *b"ping-two", earlier);
    assert_eq!(p.server.poll_timeout(), Some(later + idle_timeout));
    p.server.handle_timeout(earlier);
    let mut buf = bytes::BytesMut::new();
    while p.server.poll_transmit(earlier, &mut buf, None) > 0 {}
    assert!(p.server.error().is_none());
    assert_eq!(p.server.poll_timeout(), Some(later + idle_timeout));
    // Time moving on from `later` works as usual.
    p.server.handle_timeout(later + idle_timeout);
    assert!(matches!(
        p.server.poll_event(),
        Some(Event::Terminated { .. })
    ));
}

/// `can_open_stream` answers what `send_request` would do, so a driver holding requests back
/// needs no count of its own: the concurrency limit once two streams are open, room again
/// when one has closed, closed after GOAWAY.
#[test]
fn can_open_stream_follows_the_peers_limit_and_goaway() {
    let mut server = Config::default();
    server.settings.max_concurrent_streams = 2;
    let mut p = pair_with(Config::default(), server, 16_384);
    p.drive();
    assert_eq!(p.client.can_open_stream(), Ok(()));
    let a = p.client.send_request(get("/a"), true).unwrap();
    let _b = p.client.send_request(get("/b"), true).unwrap();
    assert_eq!(
        p.client.can_open_stream(),
        Err(UsageError::ConcurrencyLimit)
    );
    assert_eq!(
        p.client.send_request(get("/c"), true),
        Err(UsageError::ConcurrencyLimit)
    );
    p.drive();
    p.server
        .send_response(a, vec![Field::new(":status", "204")], true)
        .unwrap();
    p.drive();
    assert_eq!(p.client.can_open_stream(), Ok(()));
    let _ = p.server.go_away(ErrorCode::NO_ERROR, Bytes::new());
    p.drive();
    assert_eq!(
        p.client.can_open_stream(),
        Err(UsageError::ConnectionClosed)
    );
    assert_eq!(p.server.can_open_stream(), Err(UsageError::WrongRole));
}
