//! Fuzzing entry points, shared by `proptest` in `cargo test` and the `fuzz/` targets.
//!
//! Each function panics only when an invariant breaks: a panic inside the connection, or
//! memory held beyond the configured bounds.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::{Config, Connection, ErrorCode, Event, Field, StreamId};

/// Bounds every connection must respect whatever it is fed.
fn check_bounds(conn: &Connection, config: &Config) {
    let c = conn.debug_counts();
    let limits = &config.limits;
    // Replies are capped; our own frames (SETTINGS, PINGs, GOAWAYs, WINDOW_UPDATEs, one per
    // stream at most) come on top.
    assert!(
        c.control <= limits.max_control_queue + 2 * limits.max_pending_local + c.streams + 4,
        "control queue {c:?}"
    );
    assert!(c.closed <= limits.max_closed_streams, "closed memory {c:?}");
    assert!(c.staging <= 256 * 1024, "staging {c:?}");
    assert!(
        c.inbuf <= config.settings.max_frame_size as usize + 9 + 4096,
        "input buffer {c:?}"
    );
}

fn small_config() -> Config {
    let mut config = Config::default();
    config.limits.max_closed_streams = 16;
    config.limits.max_control_queue = 32;
    config.settings.enable_push = true;
    config
}

/// Feeds `data` to a server (after a valid preface when the first byte is even) and to a
/// client, in pieces whose sizes come from the data itself, draining output and events.
pub fn connection_bytes(data: &[u8]) {
    let config = small_config();
    let now = Instant::now();
    let with_preface = data.first().is_some_and(|b| b % 2 == 0);
    for mut conn in [
        Connection::server(config.clone()),
        Connection::client(config.clone()),
    ] {
        if conn.role() == crate::Role::Client {
            let _ = conn.send_request(
                vec![
                    Field::new(":method", "GET"),
                    Field::new(":scheme", "https"),
                    Field::new(":path", "/"),
                    Field::new(":authority", "a"),
                ],
                false,
            );
        } else if with_preface {
            let _ = conn.recv(now, crate::PREFACE);
        }
        let mut out = BytesMut::new();
        let mut rest = data;
        let mut i = 0usize;
        while !rest.is_empty() {
            let n = (usize::from(rest[0]) % 64 + 1).min(rest.len());
            let (piece, tail) = rest.split_at(n);
            rest = tail;
            let _ = conn.recv(now + Duration::from_millis(i as u64), piece);
            while let Some(e) = conn.poll_event() {
                if let Event::Data {
                    stream,
                    flow_controlled_len,
                    ..
                } = e
                {
                    conn.release_capacity(stream, flow_controlled_len);
                }
            }
            if i % 3 == 0 {
                out.clear();
                let _ = conn.poll_transmit(now, &mut out, Some(n * 7));
            }
            check_bounds(&conn, &config);
            i += 1;
        }
        conn.handle_timeout(now + Duration::from_secs(3600));
        out.clear();
        while conn.poll_transmit(now, &mut out, None) > 0 {
            out.clear();
        }
        check_bounds(&conn, &config);
    }
}

/// Interprets `data` as a sequence of commands on a client and a server connected in memory
/// (requests, responses, data, trailers, resets, pings, settings, window releases, partial
/// transfers, time passing) and runs it.
pub fn connection_ops(data: &[u8]) {
    let config = small_config();
    let mut now = Instant::now();
    let mut client = Connection::client(config.clone());
    let mut server = Connection::server(config.clone());
    let mut ids: Vec<StreamId> = Vec::new();
    let mut buf = BytesMut::new();
    let mut bytes = data.iter().copied();
    let request = |path: &'static str| {
        vec![
            Field::new(":method", "POST"),
            Field::new(":scheme", "https"),
            Field::new(":path", path),
            Field::new(":authority", "example.com"),
        ]
    };
    let mut settings_changed = false;
    while let Some(op) = bytes.next() {
        let arg = bytes.next().unwrap_or(0);
        let pick = |ids: &[StreamId]| ids.get(usize::from(arg) % ids.len().max(1)).copied();
        match op % 15 {
            0 => {
                if let Ok(id) = client.send_request(request("/"), arg % 2 == 0) {
                    ids.push(id);
                }
            }
            1 => {
                if let Some(id) = pick(&ids) {
                    let _ =
                        server.send_response(id, vec![Field::new(":status", "200")], arg % 3 == 0);
                }
            }
            2 | 3 => {
                if let Some(id) = pick(&ids) {
                    let body = Bytes::from(vec![arg; usize::from(arg) * 97]);
                    let conn = if op % 2 == 0 {
                        &mut client
                    } else {
                        &mut server
                    };
                    let _ = conn.send_data(id, body, arg % 5 == 0);
                }
            }
            4 => {
                if let Some(id) = pick(&ids) {
                    let conn = if arg % 2 == 0 {
                        &mut client
                    } else {
                        &mut server
                    };
                    let _ = conn.send_trailers(id, vec![Field::new("x-t", "1")]);
                }
            }
            5 => {
                if let Some(id) = pick(&ids) {
                    let conn = if arg % 2 == 0 {
                        &mut client
                    } else {
                        &mut server
                    };
                    let _ = conn.reset(id, ErrorCode(u32::from(arg) % 14));
                }
            }
            6 => {
                let _ = client.ping([arg; 8]);
            }
            7 => {
                let mut s = *server.local_settings();
                s.initial_window_size = u32::from(arg) * 1000;
                s.max_concurrent_streams = u32::from(arg % 8) + 1;
                settings_changed |= server.update_settings(s).is_ok();
            }
            8 => {
                // Move up to `arg * 13 + 1` bytes each way.
                let max = usize::from(arg) * 13 + 1;
                buf.clear();
                let _ = client.poll_transmit(now, &mut buf, Some(max));
                let _ = server.recv(now, &buf);
                buf.clear();
                let _ = server.poll_transmit(now, &mut buf, Some(max));
                let _ = client.recv(now, &buf);
            }
            9 => {
                now += Duration::from_millis(u64::from(arg) * 100);
                client.handle_timeout(now);
                server.handle_timeout(now);
            }
            10 => {
                let _ = server.graceful_shutdown();
            }
            11 if arg == 255 => {
                let _ = client.go_away(ErrorCode::NO_ERROR, Bytes::new());
            }
            12 => {
                if let Some(id) = pick(&ids) {
                    let mut promised = request("/push");
                    promised[0] = Field::new(":method", "GET");
                    let _ = server.push_promise(id, promised);
                }
            }
            13 => {
                if let Some(id) = pick(&ids) {
                    let conn = if arg % 2 == 0 {
                        &mut client
                    } else {
                        &mut server
                    };
                    let body = Bytes::from(vec![arg; usize::from(arg % 64) * 300]);
                    let _ = conn.send_data_padded(id, body, arg, arg % 3 == 0);
                }
            }
            _ => {}
        }
        for conn in [&mut client, &mut server] {
            while let Some(e) = conn.poll_event() {
                if let Event::Data {
                    stream,
                    flow_controlled_len,
                    ..
                } = e
                {
                    conn.release_capacity(stream, flow_controlled_len);
                }
            }
            check_bounds(conn, &config);
            // Two correct peers never accuse each other of breaking the protocol.
            if let Some(crate::ConnectionError::Violation(v)) = conn.error() {
                panic!(
                    "{:?} saw a protocol violation from its h2kit peer: {v:?}",
                    conn.role()
                );
            }
        }
    }

    // Liveness: when both applications consume everything, queued output drains. (A server
    // SETTINGS change may set INITIAL_WINDOW_SIZE to 0, which legitimately stalls uploads.)
    for _ in 0..10_000 {
        let mut moved = false;
        for turn in 0..2 {
            let (from, to) = if turn == 0 {
                (&mut client, &mut server)
            } else {
                (&mut server, &mut client)
            };
            buf.clear();
            while from.poll_transmit(now, &mut buf, None) > 0 {}
            moved |= !buf.is_empty();
            let _ = to.recv(now, &buf);
        }
        for conn in [&mut client, &mut server] {
            while let Some(e) = conn.poll_event() {
                if let Event::Data {
                    stream,
                    flow_controlled_len,
                    ..
                } = e
                {
                    conn.release_capacity(stream, flow_controlled_len);
                }
            }
        }
        if !moved {
            break;
        }
    }
    if !settings_changed && client.error().is_none() && server.error().is_none() {
        for conn in [&client, &server] {
            let c = conn.debug_counts();
            assert_eq!(
                c.streams_with_output,
                0,
                "{:?} output stuck: {c:?}",
                conn.role()
            );
            assert_eq!(
                c.ordered + c.staging,
                0,
                "{:?} output stuck: {c:?}",
                conn.role()
            );
        }
    }
}
