//! The attacks of `h2kit::manual` against the real `h2kit serve --h2c` process over a
//! socket: each asserts the frame and code the server answers with, and that the server's
//! resident memory (VmRSS from `/proc`) grows by at most 256 KiB per attacking connection.
//! Linux only (it reads `/proc`); nothing external is needed.

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use h2kit_frame::{ErrorCode, Frame, FrameDecoder, Settings, StreamId};

/// The most a server's RSS may grow per attacking connection.
const BUDGET: i64 = 256 * 1024;

struct Served {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Served {
    fn start(tag: &str) -> Served {
        let dir = std::env::temp_dir().join(format!("h2kit-attack-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.html"), "<h1>hi</h1>").unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_h2kit"))
            .arg("serve")
            .arg(&dir)
            .args(["--h2c", "--quiet", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://127.0.0.1:"))
            .and_then(|rest| rest.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Served { child, port, dir }
    }

    /// The server's resident set in bytes.
    fn rss(&self) -> i64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: i64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS");
        kib * 1024
    }

    /// A connection that has done the h2 handshake (preface, empty SETTINGS, ACKs).
    fn connect(&self) -> Peer {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut peer = Peer {
            tcp,
            decoder: FrameDecoder::with_max_frame_size((1 << 24) - 1),
            inbox: BytesMut::new(),
            encoder: h2kit_hpack::Encoder::new(),
        };
        let mut out = BytesMut::new();
        out.extend_from_slice(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        h2kit_frame::encode_settings(&Settings::new(), &mut out).unwrap();
        h2kit_frame::encode_settings_ack(&mut out);
        peer.send(&out);
        peer
    }
}

struct Peer {
    tcp: TcpStream,
    decoder: FrameDecoder,
    inbox: BytesMut,
    encoder: h2kit_hpack::Encoder,
}

impl Peer {
    /// Writes `bytes`; false once the server has closed the connection.
    fn send(&mut self, bytes: &[u8]) -> bool {
        self.tcp.write_all(bytes).is_ok()
    }

    fn get(&mut self, id: u32, end_stream: bool, out: &mut BytesMut) {
        let mut block = BytesMut::new();
        let fields: [(&[u8], &[u8]); 4] = [
            (b":method", b"GET"),
            (b":scheme", b"http"),
            (b":path", b"/index.html"),
            (b":authority", b"localhost"),
        ];
        self.encoder
            .encode(fields.iter().map(|(n, v)| (*n, *v)), &mut block);
        h2kit_frame::encode_headers(
            StreamId::new(id),
            &block,
            end_stream,
            None,
            None,
            16_384,
            out,
        )
        .unwrap();
    }

    /// Reads until the server closes the connection (or `limit`), returning the GOAWAY code
    /// it sent, if any, and the RST_STREAM codes.
    fn outcome(&mut self, limit: Duration) -> (Option<ErrorCode>, Vec<ErrorCode>) {
        let deadline = Instant::now() + limit;
        let mut goaway = None;
        let mut resets = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = self.tcp.set_read_timeout(Some(
                left.clamp(Duration::from_millis(10), Duration::from_millis(200)),
            ));
            match self.tcp.read(&mut buf) {
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if goaway.is_some() {
                        break;
                    }
                    continue;
                }
                Ok(0) | Err(_) => break,
                Ok(n) => self.inbox.extend_from_slice(&buf[..n]),
            }
            while let Ok(Some(frame)) = self.decoder.decode(&mut self.inbox) {
                match frame {
                    Frame::GoAway(g) => goaway = Some(g.error_code),
                    Frame::RstStream(r) => resets.push(r.error_code),
                    _ => {}
                }
            }
        }
        (goaway, resets)
    }
}

/// Runs `attack` on `connections` connections at once and checks the server's answer and
/// its memory growth.
fn run_attack(
    name: &str,
    connections: usize,
    attack: impl Fn(&mut Peer) -> bool,
    expected_goaway: Option<ErrorCode>,
    budget: i64,
) {
    let served = Served::start(name);
    // Warm up: one ordinary request, so lazily allocated state exists before the baseline.
    {
        let mut p = served.connect();
        let mut out = BytesMut::new();
        p.get(1, true, &mut out);
        p.send(&out);
        let _ = p.tcp.set_read_timeout(Some(Duration::from_millis(300)));
        let _ = p.outcome(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_millis(200));
    let before = served.rss();
    let mut peers: Vec<Peer> = (0..connections).map(|_| served.connect()).collect();
    let mut peak = before;
    for p in peers.iter_mut() {
        let _ = attack(p);
        peak = peak.max(served.rss());
    }
    for p in peers.iter_mut() {
        // A server that answers with GOAWAY does so at once; otherwise look for a second.
        let wait = if expected_goaway.is_some() { 10 } else { 1 };
        let (goaway, _) = p.outcome(Duration::from_secs(wait));
        peak = peak.max(served.rss());
        if let Some(code) = expected_goaway {
            assert_eq!(
                goaway,
                Some(code),
                "{name}: the server must answer with GOAWAY"
            );
        }
    }
    let growth = peak - before;
    eprintln!(
        "{name}: {connections} connections, RSS {} KiB -> peak {} KiB (+{} KiB, {} KiB each)",
        before / 1024,
        peak / 1024,
        growth / 1024,
        growth / 1024 / connections as i64
    );
    assert!(
        growth <= budget * connections as i64,
        "{name}: RSS grew by {} KiB for {connections} connections (budget {} KiB each)",
        growth / 1024,
        budget / 1024
    );
}

#[test]
fn rapid_reset_gets_enhance_your_calm_within_the_memory_budget() {
    run_attack(
        "rapid-reset",
        4,
        |p| {
            let mut out = BytesMut::new();
            for i in 0..5_000u32 {
                let id = 2 * i + 1;
                p.get(id, true, &mut out);
                h2kit_frame::encode_rst_stream(StreamId::new(id), ErrorCode::CANCEL, &mut out)
                    .unwrap();
                if out.len() > 64 * 1024 && !p.send(&out.split()) {
                    return false;
                }
            }
            p.send(&out)
        },
        Some(ErrorCode::ENHANCE_YOUR_CALM),
        // Before StaticFiles cached small files, each of the ~1,000 requests let through
        // before GOAWAY took a blocking-pool thread: 350-800 KiB per connection. Now ~135.
        BUDGET,
    );
}

#[test]
fn continuation_flood_gets_enhance_your_calm_within_the_memory_budget() {
    run_attack(
        "continuation",
        4,
        |p| {
            let mut out = BytesMut::new();
            h2kit_frame::encode_raw(
                h2kit_frame::FrameType::HEADERS,
                h2kit_frame::Flags(0),
                StreamId::new(1),
                &[0x82],
                &mut out,
            )
            .unwrap();
            for _ in 0..10_000 {
                h2kit_frame::encode_raw(
                    h2kit_frame::FrameType::CONTINUATION,
                    h2kit_frame::Flags(0),
                    StreamId::new(1),
                    &[0x40, 0x01, b'a', 0x01, b'b'],
                    &mut out,
                )
                .unwrap();
                if out.len() > 64 * 1024 && !p.send(&out.split()) {
                    return false;
                }
            }
            p.send(&out)
        },
        Some(ErrorCode::ENHANCE_YOUR_CALM),
        BUDGET,
    );
}

#[test]
fn settings_flood_gets_enhance_your_calm_within_the_memory_budget() {
    run_attack(
        "settings",
        4,
        |p| {
            let mut out = BytesMut::new();
            let mut s = Settings::new();
            s.push(h2kit_frame::SettingId::INITIAL_WINDOW_SIZE, 70_000);
            for _ in 0..1_000 {
                h2kit_frame::encode_settings(&s, &mut out).unwrap();
            }
            p.send(&out)
        },
        Some(ErrorCode::ENHANCE_YOUR_CALM),
        BUDGET,
    );
}

#[test]
fn a_ping_flood_left_unread_is_cut_off_within_the_memory_budget() {
    // The peer never reads: the server's replies back up through the socket into its reply
    // queue, which ends the connection.
    run_attack(
        "ping-unread",
        4,
        |p| {
            let mut out = BytesMut::new();
            for i in 0..200_000u64 {
                h2kit_frame::encode_ping(false, i.to_be_bytes(), &mut out);
                if out.len() > 64 * 1024 && !p.send(&out.split()) {
                    return false;
                }
            }
            p.send(&out)
        },
        None,
        BUDGET,
    );
}

#[test]
fn an_hpack_bomb_is_refused_within_the_memory_budget() {
    run_attack(
        "hpack-bomb",
        4,
        |p| {
            // A 4 KiB value, indexed in the dynamic table, then repeated 20 times per request
            // (80 KB decoded from a few hundred bytes): over the 64 KiB header list limit.
            let mut out = BytesMut::new();
            let big = vec![b'x'; 4_000];
            p.encoder.set_huffman(h2kit_hpack::HuffmanPolicy::Never);
            for i in 0..2u32 {
                let mut block = BytesMut::new();
                let mut fields: Vec<(&[u8], &[u8])> = vec![
                    (b":method", b"GET"),
                    (b":scheme", b"http"),
                    (b":path", b"/"),
                    (b":authority", b"localhost"),
                ];
                for _ in 0..20 {
                    fields.push((b"x-bomb", &big));
                }
                p.encoder
                    .encode(fields.iter().map(|(n, v)| (*n, *v)), &mut block);
                h2kit_frame::encode_headers(
                    StreamId::new(2 * i + 1),
                    &block,
                    true,
                    None,
                    None,
                    16_384,
                    &mut out,
                )
                .unwrap();
            }
            p.send(&out)
        },
        None,
        BUDGET,
    );
}
