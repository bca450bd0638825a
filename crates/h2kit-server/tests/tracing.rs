//! The server's spans: a request's handler runs in a `stream` span (id, method, path) inside
//! its connection's span, and the core's frame events name their streams.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use h2kit_server::{Body, Server};
use http::{Request, Response};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tracing_subscriber::fmt::MakeWriter;

/// Everything the subscriber writes, shared with the test.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

async fn get(addr: SocketAddr, path: &str) -> Vec<u8> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut client = client.ready().await.unwrap();
    let request = Request::get(format!("http://localhost{path}"))
        .body(())
        .unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    let mut body = response.await.unwrap().into_body();
    let mut out = Vec::new();
    while let Some(chunk) = body.data().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

// One thread: the subscriber set for the test's thread sees every task.
#[tokio::test(flavor = "current_thread")]
async fn a_handler_runs_in_its_streams_span_inside_the_connections() {
    let out = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(out.clone())
        .with_ansi(false)
        .with_env_filter("h2kit_server=debug,h2kit::frame=trace,handler=debug")
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let server = Server::builder().build().await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve_with_shutdown(
        |req: Request<Body>| async move {
            // Not ready at once: the handler goes on in its own task.
            tokio::task::yield_now().await;
            tracing::debug!(target: "handler", "handling {}", req.uri().path());
            Response::new(Body::full(Bytes::from_static(b"traced")))
        },
        async move {
            let _ = stopped.await;
        },
    ));
    assert_eq!(get(addr, "/traced/path").await, b"traced");
    let _ = stop.send(());
    task.await.unwrap().unwrap();

    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("handling /traced/path"))
        .unwrap_or_else(|| panic!("no handler event in:\n{text}"));
    assert!(
        line.contains("connection{")
            && line.contains(":stream{id=1 method=GET path=\"/traced/path\"}"),
        "{line}"
    );
    // The core's frame events, in the connection's span, name the request's stream.
    assert!(
        text.lines().any(|l| l.contains("connection{")
            && l.contains("h2kit::frame")
            && l.contains("direction=\"recv\"")
            && l.contains("frame_type=HEADERS")
            && l.contains("stream=1")),
        "{text}"
    );
}
