//! h2kit-client against `nghttpd` (nghttp2's server): TLS with a self-signed certificate from
//! rcgen, and h2c. Skips (or fails under H2KIT_REQUIRE_PEERS=1) when nghttpd is missing.

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use h2kit_client::{Body, Client, Error};
use h2kit_interop::{Peer, TempDir, free_port, require_peer};
use http::Request;

/// A running nghttpd, killed on drop.
struct Nghttpd {
    child: Child,
    port: u16,
    _dir: TempDir,
    cert: Option<PathBuf>,
}

impl Drop for Nghttpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 % 253) as u8).collect()
}

fn digest(data: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(data);
    h.finish()
}

/// Starts nghttpd serving a fresh directory (filled by `fill`) with `extra` arguments.
fn start(program: &Path, tls: bool, extra: &[&str], fill: impl FnOnce(&Path)) -> Nghttpd {
    let dir = TempDir::new(if tls { "client-tls" } else { "client-h2c" }).unwrap();
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    fill(&docs);
    let port = free_port().unwrap();
    let mut cmd = Command::new(program);
    cmd.arg("-a")
        .arg("127.0.0.1")
        .arg("-d")
        .arg(&docs)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut cert_path = None;
    if tls {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let key = dir.join("key.pem");
        let cert = dir.join("cert.pem");
        std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        cmd.arg(port.to_string()).arg(&key).arg(&cert);
        cert_path = Some(cert);
    } else {
        cmd.arg("--no-tls").arg(port.to_string());
    }
    let child = cmd.spawn().expect("nghttpd starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nghttpd did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Nghttpd {
        child,
        port,
        _dir: dir,
        cert: cert_path,
    }
}

fn nghttpd(test: &str) -> Option<PathBuf> {
    match require_peer("nghttpd", test) {
        Peer::Found(p) => Some(p),
        Peer::Skip => None,
    }
}

/// A TCP proxy to `port` that forwards the server's bytes only after `delay`.
async fn delaying_proxy(port: u16, delay: Duration) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut cr, &mut sw).await;
            });
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = tokio::io::copy(&mut sr, &mut cw).await;
            });
        }
    });
    local
}

async fn download_and_check(client: &Client, path: &str, expected: &[u8]) {
    let resp = client.get(path).await.unwrap();
    assert_eq!(resp.status(), 200);
    let len: usize = resp.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(len, expected.len());
    let mut body = resp.into_body();
    let mut h = DefaultHasher::new();
    let mut n = 0;
    while let Some(chunk) = body.chunk().await {
        let chunk = chunk.unwrap();
        h.write(&chunk);
        n += chunk.len();
    }
    assert_eq!(n, expected.len());
    assert_eq!(h.finish(), digest(expected), "body differs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_50_mib_download_concurrency_and_trailers() {
    let Some(program) = nghttpd("h2c_50_mib_download_concurrency_and_trailers") else {
        return;
    };
    let big = pattern(50 << 20);
    let server = start(&program, false, &["--trailer", "x-trailer: yes"], |d| {
        std::fs::write(d.join("big.bin"), &big).unwrap();
        for i in 0..10 {
            std::fs::write(d.join(format!("f{i}.txt")), format!("file {i}\n")).unwrap();
        }
    });
    let client = Client::connect(&format!("http://127.0.0.1:{}", server.port))
        .await
        .unwrap();
    download_and_check(&client, "/big.bin", &big).await;

    // 100 concurrent requests from separate tasks on one connection (nghttpd allows 100
    // concurrent streams; any beyond wait for a free stream).
    let mut tasks = Vec::new();
    for i in 0..100 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let path = format!("/f{}.txt", i % 10);
            let body = c.get(&path).await?.into_body().collect().await?;
            Ok::<_, Error>((i % 10, body))
        }));
    }
    for t in tasks {
        let (i, body) = t.await.unwrap().unwrap();
        assert_eq!(body, format!("file {i}\n").as_bytes());
    }

    // 1,000 requests fired before nghttpd's SETTINGS (MAX_CONCURRENT_STREAMS 100) arrive
    // (a proxy holds the server's bytes back for 200 ms): none may be refused.
    let proxy = delaying_proxy(server.port, Duration::from_millis(200)).await;
    let fresh = Client::connect(&format!("http://127.0.0.1:{proxy}"))
        .await
        .unwrap();
    let futs: Vec<_> = (0..1000)
        .map(|i| {
            fresh.send(
                Request::get(format!("/f{}.txt", i % 10))
                    .body(Body::empty())
                    .unwrap(),
            )
        })
        .collect();
    for f in futs {
        let resp = f.await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.into_body().collect().await.unwrap();
    }

    let mut body = client.get("/f1.txt").await.unwrap().into_body();
    assert_eq!(&body.chunk().await.unwrap().unwrap()[..], b"file 1\n");
    let trailers = body.trailers().await.unwrap().expect("nghttpd --trailer");
    assert_eq!(trailers["x-trailer"], "yes");

    let rtt = client.ping().await.unwrap();
    assert!(rtt < Duration::from_secs(1), "{rtt:?}");
    assert_eq!(client.get("/missing").await.unwrap().status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verification_cacert_insecure_and_50_mib_download() {
    let Some(program) = nghttpd("tls_verification_cacert_insecure_and_50_mib_download") else {
        return;
    };
    let big = pattern(50 << 20);
    let server = start(&program, true, &[], |d| {
        std::fs::write(d.join("big.bin"), &big).unwrap();
        std::fs::write(d.join("index.html"), "<h1>hi</h1>").unwrap();
    });
    let url = format!("https://localhost:{}", server.port);

    // Default: webpki roots only, so the self-signed certificate is refused.
    let err = Client::connect(&url).await.unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert!(err.is_certificate_error(), "{err}");

    // Explicitly insecure: accepted.
    let insecure = Client::builder()
        .danger_accept_invalid_certs(true)
        .connect(&url)
        .await
        .unwrap();
    let body = insecure.get("/index.html").await.unwrap().into_body();
    assert_eq!(&body.collect().await.unwrap()[..], b"<h1>hi</h1>");

    // Trusting the certificate as a CA file: verified, and a 50 MiB download arrives intact.
    let client = Client::builder()
        .ca_file(server.cert.as_ref().unwrap())
        .connect(&url)
        .await
        .unwrap();
    download_and_check(&client, "/big.bin", &big).await;

    // A name the certificate does not cover is refused even with the CA.
    let err = Client::builder()
        .ca_file(server.cert.as_ref().unwrap())
        .connect(&format!("https://127.0.0.1:{}", server.port))
        .await
        .unwrap_err();
    assert!(err.is_certificate_error(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_from_nghttpd_over_tls_and_h2c() {
    let Some(program) = nghttpd("push_from_nghttpd_over_tls_and_h2c") else {
        return;
    };
    for tls in [false, true] {
        let server = start(&program, tls, &["-p/index.html=/style.css,/app.js"], |d| {
            std::fs::write(d.join("index.html"), "<html>").unwrap();
            std::fs::write(d.join("style.css"), "body{}").unwrap();
            std::fs::write(d.join("app.js"), "run()").unwrap();
        });
        let scheme = if tls { "https" } else { "http" };
        let url = format!("{scheme}://localhost:{}", server.port);
        let client = Client::builder()
            .enable_push(true)
            .danger_accept_invalid_certs(true)
            .connect(&url)
            .await
            .unwrap();
        let mut fut = client.send(Request::get("/index.html").body(Body::empty()).unwrap());
        let mut pushes = fut.pushes().unwrap();
        let page = fut.await.unwrap().into_body().collect().await.unwrap();
        assert_eq!(&page[..], b"<html>");
        let mut got = Vec::new();
        while let Some(push) = pushes.next().await {
            let path = push.request().uri().path().to_owned();
            let body = push
                .response()
                .await
                .unwrap()
                .into_body()
                .collect()
                .await
                .unwrap();
            got.push((path, body));
        }
        got.sort();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, "/app.js");
        assert_eq!(&got[0].1[..], b"run()");
        assert_eq!(got[1].0, "/style.css");
        assert_eq!(&got[1].1[..], b"body{}");

        // Without push, the same request just gets the page (ENABLE_PUSH 0 is honoured).
        let plain = Client::builder()
            .danger_accept_invalid_certs(true)
            .connect(&url)
            .await
            .unwrap();
        let page = plain.get("/index.html").await.unwrap().into_body();
        assert_eq!(&page.collect().await.unwrap()[..], b"<html>");
    }
}

async fn tls_server_with_alpn(alpn: Vec<Vec<u8>>) -> (u16, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = rustls::pki_types::CertificateDer::from(ck.cert.der().to_vec());
    let key = rustls::pki_types::PrivateKeyDer::try_from(ck.signing_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    config.alpn_protocols = alpn;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let a = acceptor.clone();
            tokio::spawn(async move {
                let _tls = a.accept(tcp).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            });
        }
    });
    (port, ck.cert.pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_without_h2_is_reported() {
    // HTTP/2 required: a server offering only http/1.1 (rustls refuses with
    // no_application_protocol), and one that does not do ALPN at all (the handshake succeeds
    // without a protocol). By default both would be spoken to over HTTP/1.1
    // (tests/client_http1.rs).
    for alpn in [vec![b"http/1.1".to_vec()], vec![]] {
        let (port, pem) = tls_server_with_alpn(alpn).await;
        let err = Client::builder()
            .add_root_certificate(pem.as_bytes())
            .http_versions(h2kit_client::HttpVersions::Http2Only)
            .connect(&format!("https://localhost:{port}"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Alpn { negotiated: None }), "{err:?}");
        assert!(err.is_connect());
        assert!(err.to_string().contains("HTTP/2"), "{err}");
    }
}
