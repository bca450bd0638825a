//! A TCP relay that models a long fat link on loopback: each direction is limited to a rate
//! and delayed by a one-way latency, with a bounded queue (about one bandwidth-delay product
//! plus 256 KiB) so that a sender feels backpressure as on a real path.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The largest piece the relay reads at once.
const PIECE: usize = 16 * 1024;

/// A running relay; it stops with its runtime thread when dropped.
pub struct Relay {
    /// Where clients connect.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Relay {
    /// Relays connections to `upstream`, each direction at `bytes_per_sec` and `one_way`.
    pub fn start(upstream: SocketAddr, one_way: Duration, bytes_per_sec: u64) -> Relay {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let _ = addr_tx.send(listener.local_addr().expect("addr"));
                let accept = async {
                    while let Ok((client, _)) = listener.accept().await {
                        tokio::spawn(async move {
                            let Ok(server) = TcpStream::connect(upstream).await else {
                                return;
                            };
                            let _ = client.set_nodelay(true);
                            let _ = server.set_nodelay(true);
                            let (cr, cw) = client.into_split();
                            let (sr, sw) = server.into_split();
                            tokio::spawn(direction(cr, sw, one_way, bytes_per_sec));
                            tokio::spawn(direction(sr, cw, one_way, bytes_per_sec));
                        });
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stopped => {}
                }
            });
        });
        Relay {
            addr: addr_rx.recv().expect("relay address"),
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

/// One direction: read, stamp each piece with when it leaves the link (after the pieces
/// before it, at the rate) plus the latency, and write it at that time.
async fn direction(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, one_way: Duration, bps: u64) {
    let bdp = (bps as f64 * one_way.as_secs_f64() * 2.0) as usize + 256 * 1024;
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>((bdp / PIECE).max(4));
    let writer = tokio::spawn(async move {
        while let Some((at, piece)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&piece).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut free_at = Instant::now();
    loop {
        let mut piece = vec![0u8; PIECE];
        let n = match from.read(&mut piece).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        piece.truncate(n);
        let now = Instant::now();
        let start = free_at.max(now);
        free_at = start + Duration::from_secs_f64(n as f64 / bps as f64);
        if tx.send((free_at + one_way, piece)).await.is_err() {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}
