//! A blocking h2c (prior knowledge) client on std sockets: fetches a path and prints the
//! status, the headers and the body size.
//!
//! ```text
//! cargo run -p h2kit --example std_client -- 127.0.0.1:8080 /bytes/1000000
//! ```

mod driver;

use std::net::ToSocketAddrs;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let host = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let path = args.next().unwrap_or_else(|| "/".to_owned());
    let addr = host
        .to_socket_addrs()?
        .next()
        .ok_or("the address resolves to nothing")?;
    let request = driver::Request::new("GET", &host, &path);
    let (responses, error) = driver::fetch(
        addr,
        h2kit::Config::default(),
        vec![request],
        Duration::from_secs(60),
    )?;
    for r in &responses {
        println!("status {}", r.status);
        for f in &r.headers {
            println!(
                "{}: {}",
                String::from_utf8_lossy(&f.name),
                String::from_utf8_lossy(&f.value)
            );
        }
        println!("body: {} bytes", r.body.len());
        if let Some((code, who)) = r.reset {
            println!("reset: {code} ({who:?})");
        }
    }
    if let Some(e) = error {
        return Err(e.into());
    }
    Ok(())
}
