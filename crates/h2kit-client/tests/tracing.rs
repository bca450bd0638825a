//! The client's spans: a request's stream gets a `stream` span (id, method, path) inside the
//! connection's `h2kit_client` span.

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use h2kit_client::{Body, Client};
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

// One thread: the subscriber set for the test's thread sees every task.
#[tokio::test(flavor = "current_thread")]
async fn a_request_runs_in_its_streams_span_inside_the_connections() {
    let out = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(out.clone())
        .with_ansi(false)
        .with_env_filter("h2kit_client=trace")
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let (ours, theirs) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let mut conn = h2::server::handshake(theirs).await?;
        while let Some(request) = conn.accept().await {
            let (request, mut respond) = request?;
            // In its own task: `accept` drives the connection meanwhile.
            tokio::spawn(async move {
                let mut body = request.into_body();
                let mut len = 0;
                while let Some(chunk) = body.data().await {
                    let chunk = chunk?;
                    len += chunk.len();
                    let _ = body.flow_control().release_capacity(chunk.len());
                }
                let mut send = respond.send_response(http::Response::new(()), false)?;
                send.send_data(Bytes::from(len.to_string()), true)?;
                Ok::<_, h2::Error>(())
            });
        }
        Ok::<_, h2::Error>(())
    });
    let client = Client::builder()
        .handshake(
            ours,
            "http".parse().unwrap(),
            "example.com".parse().unwrap(),
        )
        .unwrap();
    // A body too large to go with the request: it is uploaded by a task in the span.
    let request = http::Request::post("http://example.com/upload/here")
        .body(Body::from(vec![b'x'; 300_000]))
        .unwrap();
    let response = client.send(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap();
    assert_eq!(&body[..], b"300000");

    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.lines().any(|l| l.contains("h2kit_client{")
            && l.contains(":stream{id=1 method=POST path=\"/upload/here\"}")
            && l.contains("request sent")),
        "{text}"
    );
}
