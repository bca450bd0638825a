//! `h2kit get -I`, `-L` (with `--max-redirs`) and `-w` against an h2kit-server in this test
//! process (h2c): no external peer needed.

use std::process::{Command, Output};

use h2kit_server::{Body, Server};
use http::{Request, Response};

/// Starts a server on its own runtime thread: `/a` redirects to `/b` (302), `/see` to `/b`
/// (303), `/loop` to itself, `/b` answers "b".
fn start() -> (u16, tokio::sync::oneshot::Sender<()>) {
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let server = Server::builder().h2c().build().await.unwrap();
            port_tx.send(server.local_addr().port()).unwrap();
            let handler = |req: Request<Body>| async move {
                let redirect = |code: u16, to: &str| {
                    Response::builder()
                        .status(code)
                        .header("location", to)
                        .body(Body::empty())
                        .unwrap()
                };
                match req.uri().path() {
                    "/a" => redirect(302, "/b"),
                    "/see" => redirect(303, "b"),
                    "/loop" => redirect(302, "/loop"),
                    _ => Response::new(Body::from(format!("{} b", req.method()))),
                }
            };
            let _ = server
                .serve_with_shutdown(handler, async move {
                    let _ = stopped.await;
                })
                .await;
        });
    });
    (port_rx.recv().unwrap(), stop)
}

fn get(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_h2kit"))
        .arg("get")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn location_follows_redirects_and_write_out_reports_them() {
    let (port, _stop) = start();
    let base = format!("http://127.0.0.1:{port}");
    let out = get(&[
        "-L",
        "-w",
        "\\n%{http_code} %{http_version} %{num_redirects} %{url_effective}",
        &format!("{base}/a"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("GET b\n200 2 1 {base}/b")
    );
    // A 303 turns a POST into a GET; a relative location resolves against the URL.
    let out = get(&["-L", "-d", "x", &format!("{base}/see")]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "GET b");
    // Without -L the redirect itself is the answer.
    let out = get(&["-w", "%{http_code}", &format!("{base}/a")]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "302");
    // A loop ends at --max-redirs with curl's exit code 47.
    let out = get(&["-L", "--max-redirs", "3", &format!("{base}/loop")]);
    assert_eq!(out.status.code(), Some(47));
}

#[test]
fn head_prints_the_status_line_and_headers() {
    let (port, _stop) = start();
    let out = get(&["-I", &format!("http://127.0.0.1:{port}/b")]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/2 200\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "{text}");
}
