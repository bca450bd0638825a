//! W7, the WAN benchmark: a download over a long fat link, in the h2kit-test `Pair` on its
//! virtual clock (1 Gbit/s each way, 50 ms each way, 100 ms RTT, 64 MiB), for each receive
//! window configuration of the client; with `sockets`, also over real loopback sockets
//! through a delaying, rate-limiting TCP relay (see `--help`).
//!
//! ```text
//! cargo run --release -p h2kit-bench --bin wan            # virtual link only
//! ```
//!
//! Reported per configuration: the virtual time from sending the request to the last byte,
//! the goodput over that time, and the rate over the second half of the body (the steady
//! state once windows have grown), each against the link's rate.

use std::time::{Duration, Instant};

use bytes::Bytes;
use h2kit::flow::WindowStrategy;
use h2kit::{Config, Event, Field, StreamId};
use h2kit_test::Pair;

const LINK_BYTES_PER_SEC: u64 = 125_000_000; // 1 Gbit/s
const ONE_WAY: Duration = Duration::from_millis(50);
const BODY: usize = 64 << 20;
const CHUNK: usize = 256 << 10;

fn request() -> Vec<Field> {
    vec![
        Field::new(":method", "GET"),
        Field::new(":scheme", "https"),
        Field::new(":path", "/big"),
        Field::new(":authority", "wan.example"),
    ]
}

/// One download; returns (request-to-last-byte, time of the body's midpoint arrival).
fn download(client: Config) -> (Duration, Duration, Duration) {
    let mut server = Config::default();
    // The application hands the whole body over at once; the windows decide the pace.
    server.limits.max_send_buffer_per_stream = BODY + CHUNK;
    let mut pair = Pair::new(client, server);
    pair.set_latency(ONE_WAY)
        .set_bandwidth(Some(LINK_BYTES_PER_SEC));
    pair.drive(); // connection preface and SETTINGS both ways
    let start = pair.now();
    let id = pair.client.send_request(request(), true).expect("request");
    // Run until the server sees the request.
    let mut got_request = false;
    while !got_request {
        assert!(pair.step() || pair.in_flight(h2kit_test::Direction::ToServer) > 0);
        got_request = pair
            .take_events(h2kit_test::Side::Server)
            .iter()
            .any(|e| matches!(e, Event::Request { .. }));
        if !got_request {
            pair.advance(Duration::from_millis(1));
        }
    }
    let sid = StreamId::new(id.get());
    pair.server
        .send_response(sid, vec![Field::new(":status", "200")], false)
        .expect("response");
    let body = Bytes::from(vec![0x5a; BODY]);
    let mut off = 0;
    while off < BODY {
        let end = (off + CHUNK).min(BODY);
        pair.server
            .send_data(sid, body.slice(off..end), end == BODY)
            .expect("data");
        off = end;
    }
    // Drive, watching the client's received bytes.
    let mut received = 0usize;
    let mut half_at = None;
    loop {
        let moved = pair.step();
        for e in pair.take_events(h2kit_test::Side::Client) {
            if let Event::Data {
                data, end_stream, ..
            } = e
            {
                received += data.len();
                if half_at.is_none() && received >= BODY / 2 {
                    half_at = Some(pair.now());
                }
                if end_stream {
                    assert_eq!(received, BODY);
                    let end = pair.now();
                    let half = half_at.unwrap_or(end);
                    return (end - start, half - start, end - half);
                }
            }
        }
        if !moved {
            // Quiet at this instant: let the clock run to the next arrival.
            pair.advance(Duration::from_micros(100));
        }
    }
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

fn main() {
    let link = LINK_BYTES_PER_SEC as f64 / 1e6;
    println!(
        "W7 virtual: {} MiB download, {:.0} MB/s link (1 Gbit/s), {} ms one way ({} ms RTT)",
        BODY >> 20,
        link,
        ONE_WAY.as_millis(),
        2 * ONE_WAY.as_millis()
    );
    println!(
        "  {:<36} {:>10} {:>12} {:>8} {:>14} {:>8}",
        "client receive windows", "time", "goodput", "of link", "2nd half rate", "of link"
    );
    let fixed = {
        let mut c = Config {
            stream_window: WindowStrategy::Threshold,
            connection_window: WindowStrategy::Threshold,
            connection_window_size: 65_535,
            ..Config::default()
        };
        c.settings.initial_window_size = 65_535;
        c
    };
    let cases: Vec<(&str, Config)> = vec![
        ("default (Config::default())", Config::default()),
        ("fixed 64 KiB stream and connection", fixed),
    ];
    for (name, config) in cases {
        let wall = Instant::now();
        let (total, _half, second_half) = download(config);
        let goodput = mbps(BODY, total);
        let steady = mbps(BODY / 2, second_half);
        println!(
            "  {:<36} {:>8.2} s {:>7.1} MB/s {:>7.1}% {:>9.1} MB/s {:>7.1}%   ({:.1} s of CPU)",
            name,
            total.as_secs_f64(),
            goodput,
            100.0 * goodput / link,
            steady,
            100.0 * steady / link,
            wall.elapsed().as_secs_f64()
        );
    }
}
