//! h2kit-server against real clients: nghttp (h2c prior knowledge, Upgrade, TLS, push),
//! h2load and curl. Each test skips (or fails under `H2KIT_REQUIRE_PEERS=1`) when its peer
//! is missing.

use std::path::PathBuf;
use std::process::{Command, Output};

use h2kit_interop::server::RunningServer;
use h2kit_interop::{Peer, require_peer};
use h2kit_server::{Body, StreamInfo};
use http::{Request, Response};

async fn handler(req: Request<Body>) -> Response<Body> {
    match req.uri().path() {
        "/push" => {
            if let Some(pusher) = req
                .extensions()
                .get::<StreamInfo>()
                .map(|info| info.pusher().clone())
            {
                let _ = pusher
                    .push(
                        Request::get("/pushed.css").body(()).unwrap(),
                        Response::builder()
                            .header("content-type", "text/css")
                            .body(Body::from("p{color:red}"))
                            .unwrap(),
                    )
                    .await;
            }
            Response::new(Body::from("<link rel=stylesheet href=/pushed.css>"))
        }
        "/echo" => {
            let data = req.into_body().collect(1 << 20).await.map(|c| c.data);
            match data {
                Ok(d) => Response::new(Body::from(d)),
                Err(_) => Response::builder().status(400).body(Body::empty()).unwrap(),
            }
        }
        path => Response::new(Body::from(format!("hello from h2kit at {path}\n"))),
    }
}

async fn start(tls: bool) -> RunningServer {
    RunningServer::start(tls, handler).await
}

async fn run(program: PathBuf, args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || Command::new(program).args(args).output().unwrap())
        .await
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn peer(program: &str, test: &str) -> Option<PathBuf> {
    match require_peer(program, test) {
        Peer::Found(p) => Some(p),
        Peer::Skip => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nghttp_h2c_prior_knowledge() {
    let Some(nghttp) = peer("nghttp", "nghttp_h2c_prior_knowledge") else {
        return;
    };
    let s = start(false).await;
    let out = run(
        nghttp,
        vec!["-v".into(), format!("http://{}/hello", s.addr)],
    )
    .await;
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains(":status: 200"), "{t}");
    assert!(t.contains("hello from h2kit at /hello"), "{t}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nghttp_h2c_upgrade() {
    let Some(nghttp) = peer("nghttp", "nghttp_h2c_upgrade") else {
        return;
    };
    let s = start(false).await;
    let out = run(
        nghttp,
        vec!["-u".into(), "-v".into(), format!("http://{}/up", s.addr)],
    )
    .await;
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("HTTP Upgrade success"), "{t}");
    assert!(t.contains("hello from h2kit at /up"), "{t}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nghttp_tls_and_post() {
    let Some(nghttp) = peer("nghttp", "nghttp_tls_and_post") else {
        return;
    };
    let s = start(true).await;
    let dir = std::env::temp_dir().join(format!("h2kit-interop-post-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let upload = dir.join("upload.bin");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&upload, &data).unwrap();
    let out = run(
        nghttp,
        vec![
            "-v".into(),
            "-d".into(),
            upload.display().to_string(),
            format!("https://localhost:{}/echo", s.addr.port()),
        ],
    )
    .await;
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("negotiated protocol: h2"), "{t}");
    assert!(t.contains(":status: 200"), "{t}");
    // Every echoed byte came back: sum the DATA frames nghttp received.
    let received: usize = t
        .lines()
        .filter_map(|l| l.split("recv DATA frame <length=").nth(1))
        .filter_map(|rest| rest.split(',').next()?.parse::<usize>().ok())
        .sum();
    assert_eq!(received, data.len(), "{t}");
    let _ = std::fs::remove_dir_all(&dir);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nghttp_accepts_a_push() {
    let Some(nghttp) = peer("nghttp", "nghttp_accepts_a_push") else {
        return;
    };
    let s = start(false).await;
    let out = run(nghttp, vec!["-v".into(), format!("http://{}/push", s.addr)]).await;
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("recv PUSH_PROMISE"), "{t}");
    assert!(t.contains("/pushed.css"), "{t}");
    assert!(t.contains("p{color:red}") || t.contains("text/css"), "{t}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2load_two_thousand_requests_all_succeed() {
    let Some(h2load) = peer("h2load", "h2load_two_thousand_requests_all_succeed") else {
        return;
    };
    let s = start(false).await;
    let out = run(
        h2load,
        vec![
            "-n".into(),
            "2000".into(),
            "-c".into(),
            "4".into(),
            "-m".into(),
            "10".into(),
            format!("http://{}/load", s.addr),
        ],
    )
    .await;
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("2000 total") && t.contains("2000 succeeded, 0 failed, 0 errored"),
        "{t}"
    );
    assert!(t.contains("status codes: 2000 2xx"), "{t}");
    s.stop().await;
}

async fn curl(args: &[&str], url: String, test: &str) -> Option<(String, String)> {
    let curl = peer("curl", test)?;
    let mut all: Vec<String> = vec![
        "-s".into(),
        "-S".into(),
        "-w".into(),
        "\n%{http_code} %{http_version}".into(),
    ];
    all.extend(args.iter().map(|s| s.to_string()));
    all.push(url);
    let out = run(curl, all).await;
    let t = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", text(&out));
    let (body, tail) = t.rsplit_once('\n').unwrap();
    Some((body.to_owned(), tail.to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_http2_prior_knowledge_and_upgrade() {
    let s = start(false).await;
    let test = "curl_http2_prior_knowledge_and_upgrade";
    let Some((body, tail)) = curl(
        &["--http2-prior-knowledge"],
        format!("http://{}/pk", s.addr),
        test,
    )
    .await
    else {
        return s.stop().await;
    };
    assert_eq!(body, "hello from h2kit at /pk\n");
    assert_eq!(tail, "200 2");
    // Cleartext `--http2` goes through HTTP/1.1 Upgrade: h2c.
    let (body, tail) = curl(&["--http2"], format!("http://{}/upgraded", s.addr), test)
        .await
        .unwrap();
    assert_eq!(body, "hello from h2kit at /upgraded\n");
    assert_eq!(tail, "200 2");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_http2_over_tls() {
    let s = start(true).await;
    let Some((body, tail)) = curl(
        &["--http2", "-k"],
        format!("https://localhost:{}/tls", s.addr.port()),
        "curl_http2_over_tls",
    )
    .await
    else {
        return s.stop().await;
    };
    assert_eq!(body, "hello from h2kit at /tls\n");
    assert_eq!(tail, "200 2");
    s.stop().await;
}
