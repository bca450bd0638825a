//! ALTSVC (RFC 7838) and ORIGIN (RFC 8336) frames reach the h2kit client's application
//! (issue 13 item 7; the driver used to drop them). The server is the h2kit core driven over
//! a loopback socket by a few lines here, since common servers do not send these frames.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use h2kit::{Config, Connection, Event, Field, StreamId};
use h2kit_client::Client;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Accepts one connection, advertises, answers every request with 200 "ok".
async fn advertising_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut conn = Connection::server(Config::default());
        let _ = conn.send_altsvc(
            StreamId::ZERO,
            Bytes::from(format!("http://{addr}")),
            Bytes::from_static(b"h3=\":443\"; ma=3600"),
        );
        let _ = conn.send_origin(vec![
            Bytes::from(format!("http://{addr}")),
            Bytes::from_static(b"https://static.example"),
        ]);
        let mut rbuf = vec![0u8; 16 * 1024];
        let mut out = BytesMut::new();
        loop {
            while conn.poll_transmit(Instant::now(), &mut out, None) > 0 {}
            if !out.is_empty() && tcp.write_all(&out.split()).await.is_err() {
                return;
            }
            while let Some(e) = conn.poll_event() {
                if let Event::Request { stream, .. } = e {
                    let _ = conn.send_response(stream, vec![Field::new(":status", "200")], false);
                    let _ = conn.send_data(stream, Bytes::from_static(b"ok"), true);
                }
            }
            while conn.poll_transmit(Instant::now(), &mut out, None) > 0 {}
            if !out.is_empty() {
                if tcp.write_all(&out.split()).await.is_err() {
                    return;
                }
                continue;
            }
            match tcp.read(&mut rbuf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let _ = conn.recv(Instant::now(), &rbuf[..n]);
                }
            }
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altsvc_and_origin_reach_the_client() {
    let addr = advertising_server().await;
    let client = Client::connect(&format!("http://{addr}")).await.unwrap();
    let body = client.get("/").await.unwrap().into_body().collect().await;
    assert_eq!(body.unwrap(), "ok");
    let alt = client.alt_svc();
    assert_eq!(alt.len(), 1, "{alt:?}");
    assert_eq!(alt[0].stream, StreamId::ZERO);
    assert_eq!(alt[0].origin, format!("http://{addr}"));
    assert_eq!(alt[0].value, "h3=\":443\"; ma=3600");
    assert_eq!(
        client.origins(),
        vec![
            format!("http://{addr}"),
            "https://static.example".to_owned()
        ]
    );
}
