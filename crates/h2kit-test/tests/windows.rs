//! Auto-tuned receive windows (issue 12) on the virtual clock: a `Pair` with a latency and a
//! bandwidth is a long fat link, and the default client must fill it, stop at its caps, not
//! grow for an application that does not read, and measure the round trip with few PINGs.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use h2kit::flow::{DEFAULT_CONNECTION_WINDOW_CAP, DEFAULT_STREAM_WINDOW_CAP, WindowStrategy};
use h2kit::{Config, Event, Field, StreamId};
use h2kit_test::{Direction, Frame, Pair, Side, Verdict};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn get() -> Vec<Field> {
    vec![
        Field::new(":method", "GET"),
        Field::new(":scheme", "https"),
        Field::new(":path", "/big"),
        Field::new(":authority", "wan.example"),
    ]
}

/// A pair on a link of `rate` octets per second and `one_way` latency, after the handshake.
fn link(client: Config, one_way: Duration, rate: u64) -> Pair {
    let mut server = Config::default();
    server.limits.max_send_buffer_per_stream = 64 << 20;
    let mut pair = Pair::new(client, server);
    pair.set_latency(one_way).set_bandwidth(Some(rate));
    pair.drive();
    pair
}

/// Sends a GET and has the server answer it with `len` octets, all queued at once (the
/// windows decide the pace).
fn request(pair: &mut Pair, len: usize) -> StreamId {
    let id = pair.client.send_request(get(), true).unwrap();
    loop {
        pair.step();
        let asked = pair
            .take_events(Side::Server)
            .iter()
            .any(|e| matches!(e, Event::Request { stream, .. } if *stream == id));
        if asked {
            break;
        }
        pair.advance(ms(1));
    }
    pair.server
        .send_response(id, vec![Field::new(":status", "200")], false)
        .unwrap();
    pair.server
        .send_data(id, Bytes::from(vec![0x5a; len]), true)
        .unwrap();
    id
}

/// What a download measured.
#[derive(Debug)]
struct Run {
    /// Request to last octet.
    total: Duration,
    /// The second half of the body.
    second_half: Duration,
}

/// Runs the pair until stream `id`'s body (of `len` octets) has arrived; `each` sees the
/// pair after every step.
fn finish(pair: &mut Pair, id: StreamId, len: usize, mut each: impl FnMut(&mut Pair)) -> Run {
    let start = pair.now();
    let mut received = 0;
    let mut half = None;
    loop {
        assert!(
            pair.now() - start < Duration::from_secs(300),
            "no end after 300 s: {received} octets, {:?}, {:?} / {:?}",
            pair.client.window_stats(),
            pair.client.error(),
            pair.server.error()
        );
        let moved = pair.step();
        each(pair);
        for e in pair.take_events(Side::Client) {
            if let Event::Data {
                stream,
                data,
                end_stream,
                ..
            } = e
            {
                assert_eq!(stream, id);
                received += data.len();
                if half.is_none() && received >= len / 2 {
                    half = Some(pair.now());
                }
                if end_stream {
                    assert_eq!(received, len);
                    let half = half.unwrap_or(pair.now());
                    return Run {
                        total: pair.now() - start,
                        second_half: pair.now() - half,
                    };
                }
            }
        }
        if !moved {
            pair.advance(ms(1));
        }
    }
}

/// Octets per second over `d`.
fn rate(octets: usize, d: Duration) -> f64 {
    octets as f64 / d.as_secs_f64()
}

/// Counts the PINGs (not ACKs) in direction `dir`, and the most outstanding at once (PINGs
/// sent minus ACKs coming back).
#[derive(Default)]
struct PingLog {
    sent: usize,
    outstanding: i64,
    most_outstanding: i64,
}

fn log_pings(pair: &mut Pair, dir: Direction) -> Rc<RefCell<PingLog>> {
    let log = Rc::new(RefCell::new(PingLog::default()));
    let l = log.clone();
    pair.intercept(move |d, f| {
        if let Frame::Ping(p) = f {
            let mut l = l.borrow_mut();
            if d == dir && !p.ack {
                l.sent += 1;
                l.outstanding += 1;
                l.most_outstanding = l.most_outstanding.max(l.outstanding);
            } else if d != dir && p.ack {
                l.outstanding -= 1;
            }
        }
        Verdict::Pass
    });
    log
}

/// The default client on 100 Mbit/s with a 100 ms round trip (a bandwidth-delay product of
/// 1.25 MB): its windows grow past the product, no further than the growth steps allow,
/// and the second half of the body runs at the link's rate.
#[test]
fn the_default_window_grows_to_about_the_bdp_and_fills_the_link() {
    let link_rate = 12_500_000;
    let bdp = 1_250_000u32;
    let len = 16 << 20;
    let mut pair = link(Config::default(), ms(50), link_rate);
    let id = request(&mut pair, len);
    let run = finish(&mut pair, id, len, |_| {});
    let steady = rate(len / 2, run.second_half);
    assert!(
        steady >= 0.9 * link_rate as f64,
        "second half at {steady:.0} B/s, {run:?}"
    );
    let stats = pair.client.window_stats();
    // Grown past the product (4/3 of it settles), by steps of at most 32, and stopped
    // once the window no longer limited the sender.
    for target in [
        stats.largest_stream_recv_target,
        stats.connection_recv_target,
    ] {
        assert!(target >= bdp && target <= 12 * bdp, "{stats:?}");
    }
    assert!(
        stats.min_rtt.is_some_and(|r| r >= ms(100) && r < ms(110)),
        "{stats:?}"
    );
    // The whole transfer: 16 MiB take 1.34 s at the link's rate; the growth costs a few
    // round trips.
    assert!(run.total < Duration::from_millis(2_000), "{run:?}");
}

/// The same link with a fixed 64 KiB window: one window per round trip, for contrast.
#[test]
fn a_fixed_window_is_held_to_one_window_per_round_trip() {
    let mut client = Config {
        stream_window: WindowStrategy::Threshold,
        connection_window: WindowStrategy::Threshold,
        ..Config::default()
    };
    client.connection_window_size = 65_535;
    client.settings.initial_window_size = 65_535;
    let len = 2 << 20;
    let mut pair = link(client, ms(50), 12_500_000);
    let id = request(&mut pair, len);
    let run = finish(&mut pair, id, len, |_| {});
    let per_rtt = rate(len, run.total) * 0.1;
    assert!(
        per_rtt < 65_535.0 * 1.05,
        "{per_rtt:.0} octets per round trip"
    );
    assert_eq!(
        pair.client.window_stats().largest_stream_recv_target,
        65_535
    );
}

/// A 1 Gbit/s link with a 100 ms round trip (12.5 MB in flight) and caps far below that:
/// the windows stop exactly at their caps, and no estimator PING goes out once they have.
#[test]
fn growth_stops_at_the_caps_and_so_do_the_pings() {
    let (stream_cap, conn_cap) = (2 << 20, 4 << 20);
    let client = Config {
        stream_window: WindowStrategy::Bdp { max: stream_cap },
        connection_window: WindowStrategy::Bdp { max: conn_cap },
        ..Config::default()
    };
    let len = 32 << 20;
    let mut pair = link(client, ms(50), 125_000_000);
    let id = request(&mut pair, len);
    let pings = log_pings(&mut pair, Direction::ToServer);
    // PINGs sent when the caps were reached.
    let mut at_cap = None;
    let log = pings.clone();
    let run = finish(&mut pair, id, len, |p| {
        let s = p.client.window_stats();
        if at_cap.is_none()
            && s.largest_stream_recv_target == stream_cap
            && s.connection_recv_target == conn_cap
        {
            at_cap = Some(log.borrow().sent);
        }
    });
    let stats = pair.client.window_stats();
    assert_eq!(stats.largest_stream_recv_target, stream_cap);
    assert_eq!(stats.connection_recv_target, conn_cap);
    let at_cap = at_cap.expect("the caps were reached");
    // The cap, not the link, limits: about 2 MiB per round trip.
    let per_rtt = rate(len / 2, run.second_half) * 0.1;
    assert!(
        per_rtt > 0.85 * f64::from(stream_cap) && per_rtt < 1.02 * f64::from(stream_cap),
        "{per_rtt:.0} octets per round trip"
    );
    let log = pings.borrow();
    assert!(at_cap >= 1, "the first DATA measured the round trip");
    // Once capped, a PING already queued may still go out; none after that, through the
    // 16 round trips the rest of the body takes.
    assert!(
        log.sent <= at_cap + 1,
        "{} PINGs, {at_cap} at the cap",
        log.sent
    );
}

/// An application that does not read: the window stays where it started, and what arrives
/// is bounded by it; each release reopens exactly what it gives back.
#[test]
fn an_application_that_does_not_read_gets_no_growth_and_bounded_buffering() {
    let mut pair = link(Config::default(), ms(50), 125_000_000);
    pair.set_auto_release(Side::Client, false);
    let len = 8 << 20;
    let id = request(&mut pair, len);
    pair.drive();
    let arrived = |pair: &mut Pair| -> usize {
        pair.take_events(Side::Client)
            .iter()
            .map(|e| match e {
                Event::Data { data, .. } => data.len(),
                _ => 0,
            })
            .sum()
    };
    // One stream window (1 MiB), half the connection's (2 MiB): the memory bound.
    let initial = Config::default().settings.initial_window_size;
    let connection = Config::default().connection_window_size;
    assert_eq!(arrived(&mut pair), initial as usize);
    let stats = pair.client.window_stats();
    assert_eq!(stats.largest_stream_recv_target, initial);
    assert_eq!(stats.connection_recv_target, connection);
    assert_eq!(pair.client.recv_window(id), Some(0));
    // A slow read of 16 KiB a round trip, ten times: each release is all that arrives next.
    let mut total = initial as usize;
    for i in 1..=10 {
        pair.client.release_capacity(id, 16_384);
        pair.drive();
        total += arrived(&mut pair);
        assert_eq!(total, initial as usize + 16_384 * i);
    }
    let stats = pair.client.window_stats();
    assert_eq!(stats.largest_stream_recv_target, initial, "{stats:?}");
    assert_eq!(stats.connection_recv_target, connection, "{stats:?}");
}

/// A slow link with a short round trip never fills even the first window, so the windows
/// never reach their caps and the estimator keeps measuring: at most one PING outstanding,
/// and no more than one per 100 ms (the floor above a 10 ms round trip).
#[test]
fn estimator_pings_are_rate_limited() {
    let mut pair = link(Config::default(), ms(5), 1_000_000);
    let pings = log_pings(&mut pair, Direction::ToServer);
    let len = 4 << 20;
    let id = request(&mut pair, len);
    let run = finish(&mut pair, id, len, |_| {});
    let n = pings.borrow().sent;
    let bound = (run.total.as_millis() / 100 + 1) as usize;
    assert!(n >= 2 && n <= bound, "{n} PINGs in {run:?}");
    assert_eq!(pings.borrow().most_outstanding, 1);
    assert!(pair.client.window_stats().largest_stream_recv_target < DEFAULT_STREAM_WINDOW_CAP);
}

/// Once a stream has grown, our SETTINGS_INITIAL_WINDOW_SIZE follows it, so the next stream
/// starts near the bandwidth-delay product; one SETTINGS per doubling at most.
#[test]
fn new_streams_start_at_the_grown_window() {
    let mut pair = link(Config::default(), ms(50), 125_000_000);
    let settings = Rc::new(RefCell::new(0));
    let s = settings.clone();
    pair.intercept(move |d, f| {
        if d == Direction::ToServer && matches!(f, Frame::Settings(_)) {
            *s.borrow_mut() += 1;
        }
        Verdict::Pass
    });
    let len = 32 << 20;
    let id = request(&mut pair, len);
    finish(&mut pair, id, len, |_| {});
    pair.drive();
    let initial = pair.client.local_settings().initial_window_size;
    assert!(initial > 1 << 20, "{initial}");
    let doublings = (DEFAULT_STREAM_WINDOW_CAP / 65_535).ilog2() as usize;
    assert!((1..=doublings).contains(&*settings.borrow()));
    let id = pair.client.send_request(get(), true).unwrap();
    assert_eq!(pair.client.recv_window(id), Some(initial as i32));
    // The connection window stays within its cap.
    assert!(pair.client.window_stats().connection_recv_target <= DEFAULT_CONNECTION_WINDOW_CAP);
}
