//! h2kit against the `h2` crate, client and server on one core, in one run (issue 5):
//!
//! * `requests`: GETs answered with 12-byte bodies, 100 streams in flight, 20,000 per
//!   iteration (criterion runs enough iterations to pass the 200,000).
//! * `bulk`: 1 MiB responses, 4 streams in flight, 100 per iteration (the 500 are
//!   reached over the iterations); throughput is reported in bytes of body.
//!
//! h2kit runs through a minimal in-memory pair (no runtime, one reusable buffer) and through
//! `h2kit_test::Pair` (the simulator, which adds its bookkeeping); the `h2` crate runs its
//! client and server as tasks on a current-thread tokio runtime joined by
//! `tokio::io::duplex` (1 MiB buffer). Windows are the same on both stacks: 4 MiB per stream
//! and 16 MiB per connection for bulk, defaults for requests.
//!
//! Run: `cargo bench -p h2kit-bench --bench connection_compare`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use h2kit::{Config, Connection, Event, Field};

const REQUESTS: usize = 20_000;
const REQUEST_CONCURRENCY: usize = 100;
const SMALL_BODY: &[u8; 12] = b"hello world!";
const BULK_RESPONSES: usize = 100;
const BULK_CONCURRENCY: usize = 4;
const BULK_SIZE: usize = 1 << 20;
const STREAM_WINDOW: u32 = 4 << 20;
const CONNECTION_WINDOW: u32 = 16 << 20;
const DUPLEX_BUFFER: usize = 1 << 20;

// ------------------------------------------------------------------------------------ h2kit

/// The least a driver can do: everything moved both ways per step, written vectored.
struct MinimalPair {
    client: Connection,
    server: Connection,
    chunks: Vec<Bytes>,
    now: Instant,
    big: Bytes,
}

impl MinimalPair {
    fn new(client: Config, server: Config) -> Self {
        let mut p = MinimalPair {
            client: Connection::client(client),
            server: Connection::server(server),
            chunks: Vec::new(),
            now: Instant::now(),
            big: Bytes::from(vec![0x5a; BULK_SIZE]),
        };
        while p.step() {}
        p
    }

    /// Moves everything both ways once; returns whether anything moved.
    fn step(&mut self) -> bool {
        let a = Self::transfer(
            &mut self.client,
            &mut self.server,
            &mut self.chunks,
            self.now,
        );
        let b = Self::transfer(
            &mut self.server,
            &mut self.client,
            &mut self.chunks,
            self.now,
        );
        a || b
    }

    /// One `poll_transmit_vectored` pass, each chunk handed to `recv` as a vectored socket
    /// write and read would: DATA payloads are never copied on the sending side.
    fn transfer(
        from: &mut Connection,
        to: &mut Connection,
        chunks: &mut Vec<Bytes>,
        now: Instant,
    ) -> bool {
        chunks.clear();
        while from.poll_transmit_vectored(now, chunks, None) > 0 {}
        for c in chunks.iter() {
            to.recv(now, c).expect("recv");
        }
        !chunks.is_empty()
    }
}

fn request(path: &'static str) -> Vec<Field> {
    vec![
        Field::new(":method", "GET"),
        Field::new(":scheme", "https"),
        Field::new(":path", path),
        Field::new(":authority", "example.com"),
    ]
}

fn bulk_configs() -> (Config, Config) {
    let mut client = Config::default();
    client.settings.initial_window_size = STREAM_WINDOW;
    client.connection_window_size = CONNECTION_WINDOW;
    let mut server = Config::default();
    server.limits.max_send_buffer_per_stream = BULK_SIZE;
    (client, server)
}

/// Server side of both workloads: `/small` gets 12 bytes, anything else 1 MiB.
fn serve(server: &mut Connection, big: &Bytes) {
    while let Some(e) = server.poll_event() {
        if let Event::Request {
            stream, headers, ..
        } = e
        {
            let small = headers
                .iter()
                .any(|f| f.name.as_ref() == b":path" && f.value.as_ref() == b"/small");
            let body = if small {
                Bytes::from_static(SMALL_BODY)
            } else {
                big.clone()
            };
            server
                .send_response(stream, vec![Field::new(":status", "200")], false)
                .expect("send_response");
            server.send_data(stream, body, true).expect("send_data");
        }
    }
}

/// Client side: consumes events; returns (streams ended, body bytes).
fn consume(client: &mut Connection) -> (usize, usize) {
    let (mut ended, mut bytes) = (0, 0);
    while let Some(e) = client.poll_event() {
        if let Event::Data {
            stream,
            data,
            flow_controlled_len,
            end_stream,
        } = e
        {
            bytes += data.len();
            client.release_capacity(stream, flow_controlled_len);
            ended += usize::from(end_stream);
        }
    }
    (ended, bytes)
}

/// Runs `total` exchanges on `path`, `concurrency` in flight; returns body bytes received.
fn h2kit_run(p: &mut MinimalPair, path: &'static str, total: usize, concurrency: usize) -> usize {
    let (mut started, mut done, mut bytes) = (0, 0, 0);
    while done < total {
        while started < total && p.client.open_outbound_streams() < concurrency as u32 {
            p.client.send_request(request(path), true).expect("request");
            started += 1;
        }
        p.step();
        serve(&mut p.server, &p.big);
        p.step();
        let (e, b) = consume(&mut p.client);
        done += e;
        bytes += b;
    }
    bytes
}

/// The same through the simulator.
fn h2kit_test_pair_run(
    p: &mut h2kit_test::Pair,
    path: &'static str,
    total: usize,
    concurrency: usize,
    big: &Bytes,
) -> usize {
    let (mut started, mut done, mut bytes) = (0, 0, 0);
    while done < total {
        while started < total && p.client.open_outbound_streams() < concurrency as u32 {
            p.client.send_request(request(path), true).expect("request");
            started += 1;
        }
        p.step();
        for e in p.server_events.drain(..) {
            if let Event::Request { stream, .. } = e {
                let body = if path == "/small" {
                    Bytes::from_static(SMALL_BODY)
                } else {
                    big.clone()
                };
                p.server
                    .send_response(stream, vec![Field::new(":status", "200")], false)
                    .expect("send_response");
                p.server.send_data(stream, body, true).expect("send_data");
            }
        }
        p.step();
        for e in p.client_events.drain(..) {
            if let Event::Data {
                data, end_stream, ..
            } = e
            {
                bytes += data.len();
                done += usize::from(end_stream);
            }
        }
    }
    bytes
}

// --------------------------------------------------------------------------------- h2 crate

struct H2Pair {
    rt: tokio::runtime::Runtime,
    client: h2::client::SendRequest<Bytes>,
}

impl H2Pair {
    fn new(bulk: bool) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let client = rt.block_on(async move {
            let (client_io, server_io) = tokio::io::duplex(DUPLEX_BUFFER);
            tokio::spawn(h2_server(server_io));
            let mut builder = h2::client::Builder::new();
            if bulk {
                builder
                    .initial_window_size(STREAM_WINDOW)
                    .initial_connection_window_size(CONNECTION_WINDOW);
            }
            let (client, conn) = builder.handshake(client_io).await.expect("handshake");
            tokio::spawn(async move {
                let _ = conn.await;
            });
            client
        });
        H2Pair { rt, client }
    }

    /// Runs `total` exchanges on `path` with `concurrency` tasks; returns body bytes received.
    fn run(&mut self, path: &'static str, total: usize, concurrency: usize) -> usize {
        let client = self.client.clone();
        self.rt.block_on(async move {
            let mut tasks = tokio::task::JoinSet::new();
            for worker in 0..concurrency {
                let count = total / concurrency + usize::from(worker < total % concurrency);
                let mut client = client.clone();
                tasks.spawn(async move {
                    let mut bytes = 0;
                    for _ in 0..count {
                        client = client.ready().await.expect("ready");
                        let req = http::Request::get(format!("https://example.com{path}"))
                            .body(())
                            .expect("request");
                        let (response, _) = client.send_request(req, true).expect("send");
                        let mut body = response.await.expect("response").into_body();
                        while let Some(chunk) = body.data().await {
                            let chunk = chunk.expect("data");
                            bytes += chunk.len();
                            let _ = body.flow_control().release_capacity(chunk.len());
                        }
                    }
                    bytes
                });
            }
            let mut bytes = 0;
            while let Some(r) = tasks.join_next().await {
                bytes += r.expect("task");
            }
            bytes
        })
    }
}

async fn h2_server(io: tokio::io::DuplexStream) {
    let big = Bytes::from(vec![0x5a; BULK_SIZE]);
    let mut conn = h2::server::Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .handshake::<_, Bytes>(io)
        .await
        .expect("server handshake");
    while let Some(accepted) = conn.accept().await {
        let Ok((req, mut respond)) = accepted else {
            return;
        };
        let body = if req.uri().path() == "/small" {
            Bytes::from_static(SMALL_BODY)
        } else {
            big.clone()
        };
        let Ok(mut send) = respond.send_response(http::Response::new(()), false) else {
            continue;
        };
        let _ = send.send_data(body, true);
    }
}

// ------------------------------------------------------------------------------ benchmarks

fn requests(c: &mut Criterion) {
    let mut group = c.benchmark_group("requests_12B_100_concurrent");
    group.sample_size(10);
    group.throughput(Throughput::Elements(REQUESTS as u64));
    group.bench_function("h2kit", |b| {
        let mut p = MinimalPair::new(Config::default(), Config::default());
        b.iter(|| black_box(h2kit_run(&mut p, "/small", REQUESTS, REQUEST_CONCURRENCY)));
    });
    group.bench_function("h2kit_test_pair", |b| {
        let mut p = h2kit_test::Pair::new(Config::default(), Config::default());
        let big = Bytes::new();
        b.iter(|| {
            black_box(h2kit_test_pair_run(
                &mut p,
                "/small",
                REQUESTS,
                REQUEST_CONCURRENCY,
                &big,
            ))
        });
    });
    group.bench_function("h2_crate", |b| {
        let mut p = H2Pair::new(false);
        b.iter(|| black_box(p.run("/small", REQUESTS, REQUEST_CONCURRENCY)));
    });
    group.finish();
}

fn bulk(c: &mut Criterion) {
    let mut group = c.benchmark_group("bulk_1MiB_4_concurrent");
    group.sample_size(10);
    group.throughput(Throughput::Bytes((BULK_RESPONSES * BULK_SIZE) as u64));
    group.bench_function("h2kit", |b| {
        let (client, server) = bulk_configs();
        let mut p = MinimalPair::new(client, server);
        b.iter(|| {
            let n = h2kit_run(&mut p, "/bulk", BULK_RESPONSES, BULK_CONCURRENCY);
            assert_eq!(n, BULK_RESPONSES * BULK_SIZE);
        });
    });
    group.bench_function("h2_crate", |b| {
        let mut p = H2Pair::new(true);
        b.iter(|| {
            let n = p.run("/bulk", BULK_RESPONSES, BULK_CONCURRENCY);
            assert_eq!(n, BULK_RESPONSES * BULK_SIZE);
        });
    });
    group.finish();
}

criterion_group!(benches, requests, bulk);
criterion_main!(benches);
