//! h2kit-client through an HTTP proxy (h2kit-interop's test proxy on loopback): `https://`
//! through CONNECT with HTTP/2 end to end, `http://` h2c through a tunnel, basic credentials,
//! and refusals as typed errors. The forwarding of `http://` as HTTP/1.1 is tested against
//! nginx at the end (skipped without it).

use h2kit_client::{Client, Error, HttpVersions, Proxy};
use h2kit_interop::proxy::TestProxy;
use h2kit_server::{Body, Server};
use http::{Request, Response, Version};

async fn server(tls: bool) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let builder = if tls {
        Server::builder().tls_self_signed()
    } else {
        Server::builder().h2c()
    };
    let server = builder.build().await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let handler = |req: Request<Body>| async move {
            Response::new(Body::from(format!("via {}", req.uri().path())))
        };
        let _ = server
            .serve_with_shutdown(handler, async move {
                let _ = stopped.await;
            })
            .await;
    });
    (addr, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_through_connect_keeps_http2_end_to_end() {
    let (addr, _stop) = server(true).await;
    let proxy = TestProxy::start(None).await;
    let client = Client::builder()
        .danger_accept_invalid_certs(true)
        .proxy(Proxy::new(&proxy.url()).unwrap())
        .connect(&format!("https://{addr}"))
        .await
        .unwrap();
    let response = client.get("/tunnelled").await.unwrap();
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(
        response.into_body().collect().await.unwrap(),
        "via /tunnelled"
    );
    let seen = proxy.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "CONNECT");
    assert_eq!(seen[0].target, addr.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_through_a_tunnel_and_credentials() {
    let (addr, _stop) = server(false).await;
    // "user:secret"
    let proxy = TestProxy::start(Some("Basic dXNlcjpzZWNyZXQ=".into())).await;
    let with = Proxy::new(&proxy.url())
        .unwrap()
        .basic_auth("user", "secret");
    let client = Client::builder()
        .http_versions(HttpVersions::Http2Only)
        .proxy(with.clone())
        .connect(&format!("http://{addr}"))
        .await
        .unwrap();
    let body = client
        .get("/h2c")
        .await
        .unwrap()
        .into_body()
        .collect()
        .await;
    assert_eq!(body.unwrap(), "via /h2c");

    // The same credentials in the proxy URL.
    let in_url = format!("http://user:secret@{}", proxy.addr);
    let client = Client::builder()
        .http_versions(HttpVersions::Http2Only)
        .proxy(Proxy::new(&in_url).unwrap())
        .connect(&format!("http://{addr}"))
        .await
        .unwrap();
    assert!(client.get("/again").await.unwrap().status().is_success());

    // Without them: 407, a connect error carrying the status.
    let err = Client::builder()
        .http_versions(HttpVersions::Http2Only)
        .proxy(Proxy::new(&proxy.url()).unwrap())
        .connect(&format!("http://{addr}"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Proxy { status } if status == 407),
        "{err:?}"
    );
    assert!(err.is_connect());

    // A tunnel the proxy refuses: 403.
    let err = Client::builder()
        .danger_accept_invalid_certs(true)
        .proxy(with)
        .connect("https://127.0.0.1:9")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Proxy { status } if status == 403),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_proxy_hosts_go_direct() {
    let (addr, _stop) = server(false).await;
    let proxy = TestProxy::start(None).await;
    let proxies = h2kit_client::Proxies::from_lookup(|k| match k {
        "http_proxy" => Some(proxy.url()),
        "no_proxy" => Some("localhost,127.0.0.1".into()),
        _ => None,
    });
    let client = Client::builder()
        .proxies(proxies)
        .connect(&format!("http://{addr}"))
        .await
        .unwrap();
    assert_eq!(
        client.get("/direct").await.unwrap().version(),
        Version::HTTP_2,
        "h2c prior knowledge, not forwarded"
    );
    assert!(proxy.seen.lock().unwrap().is_empty());
}
