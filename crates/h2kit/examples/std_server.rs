//! A blocking h2c (prior knowledge) test server on std sockets, driving `h2kit::Connection`.
//!
//! ```text
//! cargo run -p h2kit --example std_server -- 127.0.0.1:8080
//! ```
//!
//! Routes: `/echo` (body and trailers back), `/trailers`, `/reset`, `/hold`, `/bytes/N`, and
//! `hello from h2kit` for anything else. It is what the conformance test runs `httpwg`
//! against.

mod driver;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let server = driver::Server::start(addr.as_str(), h2kit::Config::default)?;
    println!("h2kit std_server listening on {} (h2c)", server.addr());
    loop {
        std::thread::park();
    }
}
