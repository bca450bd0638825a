//! In-memory client and server `Connection`s on one core: small request/response pairs per
//! second (100 concurrent streams, 12-byte responses) and bulk bytes per second (4 streams of
//! 1 MiB, output taken flat with `poll_transmit` and vectored with `poll_transmit_vectored`).
//! Run: `cargo bench -p h2kit --bench connection`. The comparison with the `h2` crate is
//! `cargo bench -p h2kit-bench --bench connection_compare`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use h2kit::{Config, Connection, Event, Field, StreamId};

struct Pair {
    client: Connection,
    server: Connection,
    buf: BytesMut,
    now: Instant,
    /// Take output with `poll_transmit_vectored` (payloads not copied) instead.
    vectored: Option<Vec<Bytes>>,
}

impl Pair {
    fn new(client: Config, server: Config) -> Self {
        Pair {
            client: Connection::client(client),
            server: Connection::server(server),
            buf: BytesMut::with_capacity(1 << 20),
            now: Instant::now(),
            vectored: None,
        }
    }

    /// Moves everything both ways once; returns whether anything moved.
    fn step(&mut self) -> bool {
        if let Some(chunks) = &mut self.vectored {
            let a = transfer_vectored(&mut self.client, &mut self.server, chunks, self.now);
            let b = transfer_vectored(&mut self.server, &mut self.client, chunks, self.now);
            return a || b;
        }
        self.buf.clear();
        while self.client.poll_transmit(self.now, &mut self.buf, None) > 0 {}
        let a = !self.buf.is_empty();
        if a {
            self.server.recv(self.now, &self.buf).unwrap();
        }
        self.buf.clear();
        while self.server.poll_transmit(self.now, &mut self.buf, None) > 0 {}
        let b = !self.buf.is_empty();
        if b {
            self.client.recv(self.now, &self.buf).unwrap();
        }
        a || b
    }
}

/// Moves everything `from` has to `to`, each `Bytes` of `poll_transmit_vectored` as one read.
fn transfer_vectored(
    from: &mut Connection,
    to: &mut Connection,
    chunks: &mut Vec<Bytes>,
    now: Instant,
) -> bool {
    chunks.clear();
    while from.poll_transmit_vectored(now, chunks, None) > 0 {}
    for c in chunks.iter() {
        to.recv(now, c).unwrap();
    }
    !chunks.is_empty()
}

fn request() -> Vec<Field> {
    vec![
        Field::new(":method", "GET"),
        Field::new(":scheme", "https"),
        Field::new(":path", "/"),
        Field::new(":authority", "example.com"),
    ]
}

/// Runs `total` GETs, keeping `concurrency` in flight; each response is 12 bytes.
fn run_requests(p: &mut Pair, total: usize, concurrency: usize) {
    let body = Bytes::from_static(b"hello world!");
    let mut started = 0;
    let mut done = 0;
    while done < total {
        while started < total && p.client.open_outbound_streams() < concurrency as u32 {
            p.client.send_request(request(), true).unwrap();
            started += 1;
        }
        p.step();
        while let Some(e) = p.server.poll_event() {
            if let Event::Request { stream, .. } = e {
                p.server
                    .send_response(stream, vec![Field::new(":status", "200")], false)
                    .unwrap();
                p.server.send_data(stream, body.clone(), true).unwrap();
            }
        }
        p.step();
        while let Some(e) = p.client.poll_event() {
            if let Event::Data {
                stream,
                flow_controlled_len,
                end_stream,
                ..
            } = e
            {
                p.client.release_capacity(stream, flow_controlled_len);
                done += usize::from(end_stream);
            }
        }
    }
}

/// Sends `streams` responses of `size` bytes each from the server.
fn run_bulk(p: &mut Pair, streams: usize, size: usize, body: &Bytes) {
    let ids: Vec<StreamId> = (0..streams)
        .map(|_| p.client.send_request(request(), true).unwrap())
        .collect();
    p.step();
    while let Some(e) = p.server.poll_event() {
        if let Event::Request { stream, .. } = e {
            p.server
                .send_response(stream, vec![Field::new(":status", "200")], false)
                .unwrap();
            let mut left = size;
            while left > 0 {
                let n = left.min(body.len());
                p.server
                    .send_data(stream, body.slice(..n), left == n)
                    .unwrap();
                left -= n;
            }
        }
    }
    let mut ended = 0;
    let mut received = 0usize;
    while ended < ids.len() {
        p.step();
        while let Some(e) = p.client.poll_event() {
            if let Event::Data {
                stream,
                data,
                flow_controlled_len,
                end_stream,
            } = e
            {
                received += data.len();
                p.client.release_capacity(stream, flow_controlled_len);
                ended += usize::from(end_stream);
            }
        }
    }
    black_box(received);
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("connection");
    group.sample_size(20);

    let total = 2_000;
    group.throughput(Throughput::Elements(total as u64));
    group.bench_function("get_12B_100_concurrent", |b| {
        let mut p = Pair::new(Config::default(), Config::default());
        p.step();
        p.step();
        b.iter(|| run_requests(&mut p, total, 100));
    });

    let size = 1 << 20;
    let streams = 4;
    group.throughput(Throughput::Bytes((size * streams) as u64));
    for vectored in [false, true] {
        let name = if vectored {
            "bulk_4x1MiB_vectored"
        } else {
            "bulk_4x1MiB"
        };
        group.bench_function(name, |b| {
            let mut client = Config::default();
            client.settings.initial_window_size = 4 << 20;
            client.connection_window_size = 16 << 20;
            let mut server = Config::default();
            server.limits.max_send_buffer_per_stream = 2 << 20;
            let mut p = Pair::new(client, server);
            p.vectored = vectored.then(Vec::new);
            p.step();
            p.step();
            let body = Bytes::from(vec![0x5a; 1 << 20]);
            b.iter(|| run_bulk(&mut p, streams, size, &body));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
