//! `poll_transmit_vectored` writes exactly the octets `poll_transmit` writes, hands DATA
//! payloads out without copying them, and honours `max`.

use std::alloc::System;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use h2kit::{Config, Connection, Event, Field};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The allocator counts every thread: tests here run one at a time so a measurement sees
/// only its own allocations.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn get(path: &'static str) -> Vec<Field> {
    vec![
        Field::new(":method", "GET"),
        Field::new(":scheme", "https"),
        Field::new(":path", path),
        Field::new(":authority", "example.com"),
    ]
}

/// A server that received `streams` GETs and queued a response of `size` octets on each
/// (payload from `body`), with the client's large windows so DATA is not window-bound.
fn loaded_server(now: Instant, streams: usize, body: &Bytes) -> Connection {
    let mut client_config = Config::default();
    client_config.settings.initial_window_size = 1 << 20;
    client_config.connection_window_size = 8 << 20;
    let mut client = Connection::client(client_config);
    let mut server_config = Config::default();
    server_config.limits.max_send_buffer_per_stream = 1 << 20;
    let mut server = Connection::server(server_config);
    for _ in 0..streams {
        client.send_request(get("/"), true).unwrap();
    }
    let mut buf = BytesMut::new();
    while client.poll_transmit(now, &mut buf, None) > 0 {}
    server.recv(now, &buf).unwrap();
    while let Some(e) = server.poll_event() {
        if let Event::Request { stream, .. } = e {
            server
                .send_response(stream, vec![Field::new(":status", "200")], false)
                .unwrap();
            // Two pieces, the second padded, then trailers on odd streams.
            let half = body.len() / 2;
            server.send_data(stream, body.slice(..half), false).unwrap();
            if stream.get() % 4 == 1 {
                server
                    .send_data_padded(stream, body.slice(half..), 3, false)
                    .unwrap();
                server
                    .send_trailers(stream, vec![Field::new("grpc-status", "0")])
                    .unwrap();
            } else {
                server.send_data(stream, body.slice(half..), true).unwrap();
            }
        }
    }
    // The server's SETTINGS ACK from the client unlocks nothing we need; its windows come
    // from the client's SETTINGS and WINDOW_UPDATE, already received.
    server
}

fn flat(server: &mut Connection, now: Instant, max: Option<usize>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = BytesMut::new();
    loop {
        buf.clear();
        let n = server.poll_transmit(now, &mut buf, max);
        if n == 0 {
            return out;
        }
        assert!(max.is_none_or(|m| n <= m));
        out.extend_from_slice(&buf);
    }
}

fn vectored(server: &mut Connection, now: Instant, max: Option<usize>, body: &Bytes) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunks = Vec::new();
    let mut shared = 0;
    loop {
        chunks.clear();
        let n = server.poll_transmit_vectored(now, &mut chunks, max);
        if n == 0 {
            break;
        }
        assert!(max.is_none_or(|m| n <= m));
        assert_eq!(n, chunks.iter().map(Bytes::len).sum::<usize>());
        for c in &chunks {
            assert!(!c.is_empty());
            // A payload handed out without a copy points into the application's buffer.
            let inside = body.as_ptr_range();
            if inside.contains(&c.as_ptr()) {
                shared += c.len();
            }
            out.extend_from_slice(c);
        }
    }
    if max.is_none() {
        assert!(shared > 0, "no payload was handed out without a copy");
    }
    out
}

#[test]
fn vectored_output_equals_flat_output_at_every_max() {
    let _serial = serial();
    let now = Instant::now();
    let body: Bytes = (0..100_000u32)
        .map(|i| (i % 253) as u8)
        .collect::<Vec<_>>()
        .into();
    for max in [
        None,
        Some(1),
        Some(7),
        Some(100),
        Some(5_000),
        Some(16_393),
        Some(70_000),
    ] {
        let mut a = loaded_server(now, 6, &body);
        let mut b = loaded_server(now, 6, &body);
        let expected = flat(&mut a, now, max);
        let got = vectored(&mut b, now, max, &body);
        assert!(expected.len() > 6 * body.len(), "max {max:?}");
        assert!(expected == got, "max {max:?}: outputs differ");
    }
}

#[test]
fn vectored_and_flat_calls_mix() {
    let _serial = serial();
    let now = Instant::now();
    let body: Bytes = vec![9u8; 40_000].into();
    let mut a = loaded_server(now, 3, &body);
    let mut b = loaded_server(now, 3, &body);
    // The same sequence of `max` values, flat only, as the reference.
    let maxes = [3_000, 2_500];
    let mut expected = Vec::new();
    let mut buf = BytesMut::new();
    for round in 0.. {
        buf.clear();
        let n = a.poll_transmit(now, &mut buf, Some(maxes[round % 2]));
        expected.extend_from_slice(&buf);
        if n == 0 {
            break;
        }
    }
    let mut got = Vec::new();
    let mut chunks = Vec::new();
    for round in 0.. {
        let n = if round % 2 == 0 {
            chunks.clear();
            let n = b.poll_transmit_vectored(now, &mut chunks, Some(maxes[0]));
            chunks.iter().for_each(|c| got.extend_from_slice(c));
            n
        } else {
            buf.clear();
            let n = b.poll_transmit(now, &mut buf, Some(maxes[1]));
            got.extend_from_slice(&buf);
            n
        };
        if n == 0 {
            break;
        }
    }
    assert!(expected.len() > 3 * body.len());
    assert!(expected == got);
    assert_eq!(b.debug_counts(), a.debug_counts());
}

/// Runs one GET with a 4 KiB response between a fresh client and server, moving output
/// vectored or flat, and returns the heap change the region saw with only the idle server
/// left (the test harness adds some noise: compare the two modes, not absolute figures;
/// `memory.rs` measures those).
fn idle_server_heap(vectored: bool) -> isize {
    let now = Instant::now();
    let region = Region::new(GLOBAL);
    let mut client = Connection::client(Config::default());
    let mut server = Connection::server(Config::default());
    client.send_request(get("/"), true).unwrap();
    let body = Bytes::from(vec![1u8; 4096]);
    let mut buf = BytesMut::new();
    let mut chunks = Vec::new();
    for _ in 0..8 {
        for to_server in [true, false] {
            let (from, to) = if to_server {
                (&mut client, &mut server)
            } else {
                (&mut server, &mut client)
            };
            buf.clear();
            chunks.clear();
            if vectored {
                while from.poll_transmit_vectored(now, &mut chunks, None) > 0 {}
                chunks.iter().for_each(|c| buf.extend_from_slice(c));
            } else {
                while from.poll_transmit(now, &mut buf, None) > 0 {}
            }
            to.recv(now, &buf).unwrap();
        }
        while let Some(e) = server.poll_event() {
            if let Event::Request { stream, .. } = e {
                server
                    .send_response(stream, vec![Field::new(":status", "200")], false)
                    .unwrap();
                server.send_data(stream, body.clone(), true).unwrap();
            }
        }
        while let Some(e) = client.poll_event() {
            if let Event::Data {
                stream,
                flow_controlled_len,
                ..
            } = e
            {
                client.release_capacity(stream, flow_controlled_len);
            }
        }
    }
    assert_eq!(server.debug_counts().streams, 0);
    // A connection that goes idle again within a second of its last release puts the next
    // one off by a timer: let it run.
    let later = now + std::time::Duration::from_secs(2);
    if server.poll_timeout().is_some_and(|t| t <= later) {
        server.handle_timeout(later);
    }
    drop((client, buf, chunks, body));
    let s = region.change();
    let held = s.bytes_allocated as isize - s.bytes_deallocated as isize + s.bytes_reallocated;
    drop(server);
    held
}

#[test]
fn idle_connection_keeps_no_vectored_output_buffer() {
    let _serial = serial();
    // Warm up lazily initialised state outside the measurement.
    idle_server_heap(false);
    idle_server_heap(true);
    let flat = idle_server_heap(false);
    let vectored = idle_server_heap(true);
    assert!(
        vectored <= flat + 64,
        "an idle server holds {vectored} bytes after vectored output, {flat} after flat"
    );
}
