//! An axum `Router` served over HTTP/2 by h2kit-server (the `tower` feature).
//!
//! ```text
//! cargo run -p h2kit-server --features tower --example axum -- 127.0.0.1:8080
//! h2kit get http://127.0.0.1:8080/hello/you
//! curl --http2-prior-knowledge --data-binary 'some bytes' http://127.0.0.1:8080/echo
//! curl --http2-prior-knowledge http://127.0.0.1:8080/count/5
//! ```
//!
//! With `--tls` it serves HTTPS with a self-signed certificate instead of h2c
//! (`curl -k https://127.0.0.1:8080/hello/you`).

use axum::Router;
use axum::body::{Body as AxumBody, Bytes};
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use h2kit_server::Server;
use h2kit_server::tower::ServiceHandler;

/// The example's routes.
fn router() -> Router {
    Router::new()
        .route("/hello/{name}", get(hello))
        .route("/echo", post(echo))
        .route("/count/{n}", get(count))
}

async fn hello(Path(name): Path<String>) -> String {
    format!("hello {name}, over HTTP/2\n")
}

/// Reads the whole request body and sends it back with its length in a header.
async fn echo(body: Bytes) -> (StatusCode, HeaderMap, Bytes) {
    let mut headers = HeaderMap::new();
    headers.insert("x-echo-length", body.len().into());
    (StatusCode::OK, headers, body)
}

/// Streams `n` lines, one chunk each, produced as the client reads them.
async fn count(Path(n): Path<u32>) -> AxumBody {
    let lines = futures_util::stream::iter(
        (1..=n).map(|i| Ok::<_, std::convert::Infallible>(format!("line {i}\n"))),
    );
    AxumBody::from_stream(lines)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:8080".parse()?;
    let mut tls = false;
    for arg in args.by_ref() {
        match arg.as_str() {
            "--tls" => tls = true,
            other => addr = other.parse()?,
        }
    }
    let builder = Server::builder().bind(addr);
    let builder = if tls {
        builder.tls_self_signed()
    } else {
        builder.h2c()
    };
    let server = builder.build().await?;
    println!("serving an axum Router on {}", server.url());
    server.serve(ServiceHandler::new(router())).await?;
    Ok(())
}
