//! A minimal h2c server answering every request with a 12-byte body, for load tests:
//! `cargo run --release -p h2kit-server --example hello -- 127.0.0.1:8080` then
//! `h2load -n 100000 -c 10 -m 100 http://127.0.0.1:8080/`.

use h2kit_server::{Body, Server};
use http::{Request, Response};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
        .parse()?;
    let server = Server::builder().h2c().bind(addr).build().await?;
    println!("serving on {}", server.url());
    server
        .serve(|_req: Request<Body>| async { Response::new(Body::from("hello world\n")) })
        .await?;
    Ok(())
}
