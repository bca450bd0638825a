//! h2kit-client speaking HTTP/1.1 to nginx (an HTTP/1.1-only server here: no `http2` on its
//! listeners): ALPN fallback over TLS, `HttpVersions::Http1Only` over cleartext, keep-alive
//! and the connection pool, chunked responses with gzip, chunked uploads (WebDAV PUT), and
//! `Response::version`. Skips (or fails under `H2KIT_REQUIRE_PEERS=1`) without nginx.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2kit_client::{Body, Client, Error, HttpVersions};
use h2kit_interop::{Peer, free_port, require_peer};
use http::{Request, Version};

struct Nginx {
    child: Child,
    dir: PathBuf,
    http: u16,
    https: u16,
    cert: String,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn start(program: &Path, tag: &str) -> Nginx {
    let dir = std::env::temp_dir().join(format!("h2kit-nginx-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let docs = dir.join("docs");
    std::fs::create_dir_all(docs.join("dav")).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    std::fs::write(docs.join("big.bin"), pattern(3 << 20)).unwrap();
    std::fs::write(docs.join("text.txt"), "hello nginx\n".repeat(2000)).unwrap();
    for i in 0..20 {
        std::fs::write(docs.join(format!("f{i}.txt")), format!("file {i}\n")).unwrap();
    }
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
    let (http, https) = (free_port().unwrap(), free_port().unwrap());
    let d = dir.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\nuser root;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log;\nevents {{ worker_connections 256; }}\n\
         http {{\n access_log off;\n client_body_temp_path {d}/tmp;\n proxy_temp_path {d}/tmp;\n\
          fastcgi_temp_path {d}/tmp;\n uwsgi_temp_path {d}/tmp;\n scgi_temp_path {d}/tmp;\n\
          gzip on;\n gzip_types text/plain;\n gzip_min_length 0;\n keepalive_requests 1000;\n\
          server {{\n  listen 127.0.0.1:{http};\n  listen 127.0.0.1:{https} ssl;\n\
           ssl_certificate {d}/cert.pem;\n  ssl_certificate_key {d}/key.pem;\n  root {d}/docs;\n\
           location /dav/ {{ dav_methods PUT; create_full_put_path on; client_max_body_size 64m; }}\n\
          }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new(program)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-p")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", https)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not listen: {:?}",
            std::fs::read_to_string(dir.join("error.log"))
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Nginx {
        child,
        dir,
        http,
        https,
        cert: ck.cert.pem(),
    }
}

fn nginx(test: &str) -> Option<PathBuf> {
    match require_peer("nginx", test) {
        Peer::Found(p) => Some(p),
        Peer::Skip => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_falls_back_to_http1_when_the_server_offers_no_h2() {
    let Some(program) = nginx("tls_falls_back_to_http1_when_the_server_offers_no_h2") else {
        return;
    };
    let server = start(&program, "alpn");
    let url = format!("https://localhost:{}", server.https);
    let client = Client::builder()
        .add_root_certificate(server.cert.as_bytes())
        .connect(&url)
        .await
        .unwrap();
    let response = client.get("/big.bin").await.unwrap();
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap();
    assert!(
        body == pattern(3 << 20),
        "3 MiB body differs ({} bytes)",
        body.len()
    );
    // HTTP/2 only: the same server is an ALPN error.
    let err = Client::builder()
        .add_root_certificate(server.cert.as_bytes())
        .http_versions(HttpVersions::Http2Only)
        .connect(&url)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Alpn { .. }), "{err:?}");
    // PING is HTTP/2's.
    assert!(matches!(client.ping().await, Err(Error::Unsupported(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_keep_alive_pool_chunked_gzip_and_uploads() {
    let Some(program) = nginx("http1_keep_alive_pool_chunked_gzip_and_uploads") else {
        return;
    };
    let server = start(&program, "h1");
    let client = Client::builder()
        .http_versions(HttpVersions::Http1Only)
        .decompress(true)
        .connect(&format!("http://127.0.0.1:{}", server.http))
        .await
        .unwrap();

    // gzip makes nginx answer with a chunked body; decoded, it is the file.
    let response = client.get("/text.txt").await.unwrap();
    assert_eq!(response.version(), Version::HTTP_11);
    let body = response.into_body().collect().await.unwrap();
    assert_eq!(body, "hello nginx\n".repeat(2000).as_bytes());

    // 60 requests at once through the pool (at most 6 connections).
    let mut tasks = Vec::new();
    for i in 0..60 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let path = format!("/f{}.txt", i % 20);
            let body = c.get(&path).await?.into_body().collect().await?;
            Ok::<_, Error>((i % 20, body))
        }));
    }
    for t in tasks {
        let (i, body) = t.await.unwrap().unwrap();
        assert_eq!(body, format!("file {i}\n").as_bytes());
    }
    assert_eq!(client.get("/missing").await.unwrap().status(), 404);

    // Uploads: one with a known length, one streamed (chunked), read back.
    let data = Bytes::from(pattern(1 << 20));
    let put = Request::put("/dav/known.bin")
        .body(Body::from(data.clone()))
        .unwrap();
    let status = client.send(put).await.unwrap().status();
    assert!(status.is_success(), "{status}");
    let pieces: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(100_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let streamed = Body::from_stream(futures_util::stream::iter(pieces));
    let put = Request::put("/dav/streamed.bin").body(streamed).unwrap();
    let status = client.send(put).await.unwrap().status();
    assert!(status.is_success(), "{status}");
    for name in ["known", "streamed"] {
        let got = client
            .get(&format!("/dav/{name}.bin"))
            .await
            .unwrap()
            .into_body()
            .collect()
            .await
            .unwrap();
        assert!(got == data, "{name}: {} bytes came back", got.len());
    }

    // A body dropped half-read closes its connection; the pool opens another.
    let mut body = client.get("/big.bin").await.unwrap().into_body();
    let _ = body.chunk().await.unwrap().unwrap();
    drop(body);
    let again = client
        .get("/f1.txt")
        .await
        .unwrap()
        .into_body()
        .collect()
        .await;
    assert_eq!(again.unwrap(), "file 1\n");
}

/// `http://` through a forwarding proxy: absolute-form HTTP/1.1 requests with the proxy's
/// credentials; the proxy passes them to nginx, which accepts absolute-form targets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_through_a_forwarding_proxy_is_absolute_form_http1() {
    let Some(program) = nginx("http_through_a_forwarding_proxy_is_absolute_form_http1") else {
        return;
    };
    let server = start(&program, "fwd");
    // "u:p"
    let proxy = h2kit_interop::proxy::TestProxy::start(Some("Basic dTpw".into())).await;
    let client = Client::builder()
        .proxy(h2kit_client::Proxy::new(&format!("http://u:p@{}", proxy.addr)).unwrap())
        .connect(&format!("http://127.0.0.1:{}", server.http))
        .await
        .unwrap();
    let response = client.get("/f3.txt").await.unwrap();
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(response.into_body().collect().await.unwrap(), "file 3\n");
    let seen = proxy.seen.lock().unwrap().clone();
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].target,
        format!("http://127.0.0.1:{}/f3.txt", server.http)
    );
    assert_eq!(seen[0].authorization.as_deref(), Some("Basic dTpw"));
}

/// nginx has no h2c: it ignores `Upgrade: h2c`, and the client stays on HTTP/1.1 on the same
/// connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_h2c_upgrade_stays_on_http1() {
    let Some(program) = nginx("a_declined_h2c_upgrade_stays_on_http1") else {
        return;
    };
    let server = start(&program, "upgrade");
    let client = Client::builder()
        .http_versions(HttpVersions::Http2Upgrade)
        .connect(&format!("http://127.0.0.1:{}/", server.http))
        .await
        .unwrap();
    let response = client.get("/f2.txt").await.unwrap();
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(response.into_body().collect().await.unwrap(), "file 2\n");
}
