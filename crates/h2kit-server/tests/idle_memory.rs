//! Heap held per idle connection by the library server: 200 h2c connections each make one
//! GET and go quiet; the live heap (a counting global allocator) before and after, divided by
//! the connections. RSS per connection (`compare idle`) adds the allocator's own overhead
//! and memory freed but not given back to the system.

use std::alloc::System;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use h2kit_server::{Body, Server};
use h2kit_test::{ScriptedPeer, fields, frames};
use http::{Request, Response};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Opens a connection, makes one GET and reads the whole response.
fn one_get(addr: std::net::SocketAddr) -> TcpStream {
    let mut peer = ScriptedPeer::client();
    peer.send(frames::preface())
        .send(frames::settings_ack())
        .send(frames::headers(1).fields(fields::get("/")).end_stream());
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    tcp.write_all(&peer.take_output()).unwrap();
    let mut buf = [0u8; 4096];
    let mut ended = false;
    while !ended {
        let n = tcp
            .read(&mut buf)
            .expect("the server answers within a minute");
        assert!(n > 0, "the server closed the connection");
        peer.feed(&buf[..n]);
        ended = peer
            .take_frames()
            .iter()
            .any(|f| f.stream_id().get() == 1 && f.end_stream());
    }
    tcp
}

fn live() -> isize {
    let s = GLOBAL.stats();
    s.bytes_allocated as isize - s.bytes_deallocated as isize + s.bytes_reallocated
}

/// Waits until the live heap stops changing (the server finished what the last response
/// started); the guard only ends a wait that never settles.
fn settled() -> isize {
    let mut last = live();
    for _ in 0..200 {
        std::thread::sleep(Duration::from_millis(20));
        let now = live();
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

#[test]
fn an_idle_connection_holds_little_heap() {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let server = Server::builder().build().await.unwrap();
            addr_tx.send(server.local_addr()).unwrap();
            server
                .serve(|_req: Request<Body>| async { Response::new(Body::from("hello")) })
                .await
                .unwrap();
        });
    });
    let addr = addr_rx.recv().unwrap();
    // Measured 7.3 KB (debug and release): the connection's 2.9 KiB future (the core's
    // 2.1 KiB inline), the core's heap, the scheduler, the pushers' shared part, the
    // socket's registration and the task. The bound leaves room for layout changes, not for a buffer kept while idle.
    const BOUND: f64 = 8.0 * 1024.0;
    const WARM: usize = 20;
    const N: usize = 200;
    let mut conns = Vec::with_capacity(WARM + N);
    for _ in 0..WARM {
        conns.push(one_get(addr));
    }
    let before = settled();
    for _ in 0..N {
        conns.push(one_get(addr));
    }
    // An idle connection gives back its command channel and head cache after a second
    // (`RELEASE_LINK_AFTER`); the loop waits for that, the guard only ends a wait that never
    // comes.
    let mut per = f64::MAX;
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(500));
        let now = (settled() - before) as f64 / N as f64;
        let steady = now == per;
        per = now;
        if steady && per <= BOUND {
            break;
        }
    }
    eprintln!("heap per idle connection: {per:.0} bytes");
    assert!(per <= BOUND, "{per:.0} bytes of heap per idle connection");
    drop(conns);
}
