//! Extended CONNECT (RFC 8441) end to end over loopback TCP: the h2kit client against the
//! h2kit server, and each against the `h2` crate's implementation (client and server both
//! support it: `enable_connect_protocol`, `h2::ext::Protocol`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use h2kit_client::{Client, Error, Protocol};
use h2kit_interop::server::RunningServer;
use h2kit_server::{Body, Frame, Server};
use http::{Request, Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const LIMIT: Duration = Duration::from_secs(20);

/// What the handler saw of each extended CONNECT: method, path, protocol, a header.
type Seen = Arc<Mutex<Vec<(String, String, Option<String>, Option<String>)>>>;

/// The h2kit handler: `/echo` answers 200 and sends back each request chunk uppercased as
/// it arrives, ending its half when the client ends its own; `/hello-then-count` sends
/// "hello", closes its half at once and goes on reading, reporting the byte count it read
/// to `counted`; any other path or protocol gets 404.
fn handler(
    seen: Seen,
    counted: Arc<Mutex<Option<usize>>>,
) -> impl Fn(Request<Body>) -> std::future::Ready<Response<Body>> + Send + Sync + 'static {
    move |request: Request<Body>| {
        let protocol = request.extensions().get::<Protocol>().cloned();
        seen.lock().unwrap().push((
            request.method().to_string(),
            request.uri().path().to_owned(),
            protocol.as_ref().map(|p| p.as_str().to_owned()),
            request
                .headers()
                .get("sec-websocket-version")
                .map(|v| v.to_str().unwrap().to_owned()),
        ));
        let is_ws = protocol.is_some_and(|p| p == "websocket");
        let path = request.uri().path().to_owned();
        let mut body = request.into_body();
        let response = match path.as_str() {
            "/echo" if is_ws => {
                let (mut tx, out) = Body::channel();
                tokio::spawn(async move {
                    while let Some(frame) = body.frame().await {
                        match frame {
                            Ok(Frame::Data(d)) => {
                                if tx.send_data(d.to_ascii_uppercase().into()).await.is_err() {
                                    return;
                                }
                            }
                            Ok(Frame::Trailers(_)) => break,
                            Err(_) => return tx.abort(),
                        }
                    }
                    let _ = tx.finish().await;
                });
                Response::builder()
                    .header("sec-websocket-protocol", "chat")
                    .body(out)
                    .unwrap()
            }
            "/hello-then-count" if is_ws => {
                let counted = counted.clone();
                tokio::spawn(async move {
                    let mut n = 0;
                    while let Some(Ok(Frame::Data(d))) = body.frame().await {
                        n += d.len();
                    }
                    *counted.lock().unwrap() = Some(n);
                });
                Response::new(Body::from("hello"))
            }
            _ => Response::builder()
                .status(StatusCode::NOT_FOUND)
                .body(Body::from("no such tunnel"))
                .unwrap(),
        };
        std::future::ready(response)
    }
}

async fn start(enable: bool) -> (RunningServer, Seen, Arc<Mutex<Option<usize>>>) {
    let seen = Seen::default();
    let counted = Arc::new(Mutex::new(None));
    let builder = Server::builder().h2c().enable_connect_protocol(enable);
    let server = RunningServer::start_with(builder, handler(seen.clone(), counted.clone())).await;
    (server, seen, counted)
}

/// Writes each message and reads its echo before writing the next: only a stream that is
/// two-way while both halves are open gets through.
async fn ping_pong<T>(tunnel: &mut T)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    for i in 0..20u8 {
        let msg = vec![b'a' + i; 1 + usize::from(i) * 700];
        tunnel.write_all(&msg).await.unwrap();
        tunnel.flush().await.unwrap();
        let mut got = vec![0; msg.len()];
        tunnel.read_exact(&mut got).await.unwrap();
        assert_eq!(got, msg.to_ascii_uppercase(), "message {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2kit_client_and_server_stream_both_ways() {
    let (server, seen, _) = start(true).await;
    let run = async {
        let client = Client::connect(&format!("http://{}", server.addr)).await?;
        let mut tunnel = client.connect_protocol("/echo", "websocket").await?;
        assert_eq!(tunnel.status(), StatusCode::OK);
        assert_eq!(tunnel.headers()["sec-websocket-protocol"], "chat");
        ping_pong(&mut tunnel).await;
        // A large write goes through in pieces while the echo comes back: write and read
        // at once, as a 1 MiB message is more than the windows hold.
        let big: Vec<u8> = (0..(1 << 20)).map(|i| b'a' + (i % 26) as u8).collect();
        let (mut rd, mut wr) = tokio::io::split(tunnel);
        let writer = {
            let big = big.clone();
            tokio::spawn(async move {
                wr.write_all(&big).await.unwrap();
                wr.shutdown().await.unwrap();
                wr
            })
        };
        let mut back = Vec::new();
        rd.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, big.to_ascii_uppercase());
        let _ = writer.await.unwrap();

        // With a request built by hand: its headers go with it.
        let mut request = Request::builder()
            .method("CONNECT")
            .uri("/echo")
            .header("sec-websocket-version", "13")
            .body(())
            .unwrap();
        request
            .extensions_mut()
            .insert(Protocol::from_static("websocket"));
        let mut tunnel = client.open_tunnel(request).await?;
        tunnel.write_all(b"last").await.unwrap();
        tunnel.shutdown().await.unwrap();
        let mut rest = String::new();
        tunnel.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "LAST");
        // The connection serves ordinary requests alongside.
        let response = client.get("/other").await?;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        Ok::<_, Error>(())
    };
    tokio::time::timeout(LIMIT, run).await.unwrap().unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen[0],
        (
            "CONNECT".into(),
            "/echo".into(),
            Some("websocket".into()),
            None
        )
    );
    assert_eq!(seen[1].3.as_deref(), Some("13"));
    assert_eq!(seen[2].0, "GET");
    assert_eq!(seen[2].2, None);
    server.stop().await;
}

/// The server closes its half first; the client reads to the end and then still writes:
/// the server reads everything the client sent after its own END_STREAM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_half_closes_on_its_own() {
    let (server, _, counted) = start(true).await;
    let run = async {
        let client = Client::connect(&format!("http://{}", server.addr)).await?;
        let mut tunnel = client
            .connect_protocol("/hello-then-count", "websocket")
            .await?;
        let mut hello = String::new();
        tunnel.read_to_string(&mut hello).await.unwrap();
        assert_eq!(hello, "hello");
        for _ in 0..10 {
            tunnel.write_all(&[7; 1000]).await.unwrap();
        }
        tunnel.shutdown().await.unwrap();
        for _ in 0..200 {
            if counted.lock().unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok::<_, Error>(())
    };
    tokio::time::timeout(LIMIT, run).await.unwrap().unwrap();
    assert_eq!(*counted.lock().unwrap(), Some(10_000));
    server.stop().await;
}

/// Typed refusals: a server without the setting (nothing is sent, the connection goes on),
/// a 404 from the handler (the status comes back), a bad protocol name, a plain GET.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_typed_errors() {
    let (server, seen, _) = start(false).await;
    let run = async {
        let client = Client::connect(&format!("http://{}", server.addr)).await?;
        let e = client
            .connect_protocol("/echo", "websocket")
            .await
            .unwrap_err();
        assert!(matches!(e, Error::ExtendedConnectDisabled), "{e:?}");
        assert!(client.get("/").await.is_ok());
        Ok::<_, Error>(())
    };
    tokio::time::timeout(LIMIT, run).await.unwrap().unwrap();
    // Only the GET reached the handler.
    assert_eq!(seen.lock().unwrap().len(), 1);
    server.stop().await;

    let (server, _, _) = start(true).await;
    let run = async {
        let client = Client::connect(&format!("http://{}", server.addr)).await?;
        let e = client.connect_protocol("/nope", "websocket").await;
        assert!(
            matches!(e, Err(Error::ConnectRefused { status }) if status == 404),
            "{e:?}"
        );
        let e = client.connect_protocol("/echo", "web socket").await;
        assert!(matches!(e, Err(Error::InvalidRequest(_))), "{e:?}");
        let e = client
            .open_tunnel(Request::get("/echo").body(()).unwrap())
            .await;
        assert!(matches!(e, Err(Error::InvalidRequest(_))), "{e:?}");
        // The refused stream was closed both ways; the connection still works.
        let mut tunnel = client.connect_protocol("/echo", "websocket").await?;
        tunnel.write_all(b"ok").await.unwrap();
        tunnel.shutdown().await.unwrap();
        let mut back = Vec::new();
        tunnel.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"OK");
        Ok::<_, Error>(())
    };
    tokio::time::timeout(LIMIT, run).await.unwrap().unwrap();
    server.stop().await;
}

/// The blocking client's tunnel: `std::io::Read + Write`.
#[test]
fn blocking_client_tunnel() {
    use std::io::{Read, Write};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, _, _) = rt.block_on(start(true));
    let client =
        h2kit_client::blocking::Client::connect(&format!("http://{}", server.addr)).unwrap();
    let mut tunnel = client.connect_protocol("/echo", "websocket").unwrap();
    for word in ["one", "two", "three"] {
        tunnel.write_all(word.as_bytes()).unwrap();
        tunnel.flush().unwrap();
        let mut back = vec![0; word.len()];
        tunnel.read_exact(&mut back).unwrap();
        assert_eq!(back, word.to_uppercase().as_bytes());
    }
    tunnel.shutdown().unwrap();
    let mut rest = Vec::new();
    tunnel.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    drop(tunnel);
    drop(client);
    rt.block_on(server.stop());
}

/// The `h2` crate's client against the h2kit server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_client_against_h2kit_server() {
    let (server, seen, _) = start(true).await;
    let run = async {
        let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let (client, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut client = client.ready().await.unwrap();
        // A first exchange: the server's SETTINGS have arrived once its answer has.
        let get = Request::get(format!("http://{}/", server.addr))
            .body(())
            .unwrap();
        let (response, _) = client.send_request(get, true).unwrap();
        assert_eq!(response.await.unwrap().status(), StatusCode::NOT_FOUND);
        let mut client = client.ready().await.unwrap();
        assert!(client.is_extended_connect_protocol_enabled());
        let mut request = Request::builder()
            .method("CONNECT")
            .uri(format!("http://{}/echo", server.addr))
            .body(())
            .unwrap();
        request
            .extensions_mut()
            .insert(h2::ext::Protocol::from_static("websocket"));
        let (response, mut send) = client.send_request(request, false).unwrap();
        let response = response.await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let mut recv = response.into_body();
        for word in ["alpha", "beta", "gamma"] {
            send.send_data(Bytes::from(word), false).unwrap();
            let mut got = Vec::new();
            while got.len() < word.len() {
                let chunk = recv.data().await.unwrap().unwrap();
                let _ = recv.flow_control().release_capacity(chunk.len());
                got.extend_from_slice(&chunk);
            }
            assert_eq!(got, word.to_uppercase().as_bytes());
        }
        send.send_data(Bytes::new(), true).unwrap();
        // Our END_STREAM ends the echo: an empty DATA frame with END_STREAM, nothing more.
        let mut rest = Vec::new();
        while let Some(chunk) = recv.data().await {
            rest.extend_from_slice(&chunk.unwrap());
        }
        assert!(rest.is_empty());
    };
    tokio::time::timeout(LIMIT, run).await.unwrap();
    assert_eq!(seen.lock().unwrap()[1].2.as_deref(), Some("websocket"));
    server.stop().await;
}

/// An `h2` crate server that accepts `websocket` tunnels and echoes uppercased; with
/// `enable` false it does not announce the setting.
async fn h2_server(enable: bool) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut builder = h2::server::Builder::new();
                if enable {
                    builder.enable_connect_protocol();
                }
                let mut conn = builder.handshake::<_, Bytes>(tcp).await?;
                while let Some(request) = conn.accept().await {
                    let (request, mut respond) = request?;
                    tokio::spawn(async move {
                        let ws = request
                            .extensions()
                            .get::<h2::ext::Protocol>()
                            .is_some_and(|p| p.as_str() == "websocket");
                        if request.method() != http::Method::CONNECT || !ws {
                            let not_found = Response::builder().status(404).body(()).unwrap();
                            let _ = respond.send_response(not_found, true);
                            return;
                        }
                        let mut send = respond.send_response(Response::new(()), false).unwrap();
                        let mut body = request.into_body();
                        while let Some(Ok(chunk)) = body.data().await {
                            let _ = body.flow_control().release_capacity(chunk.len());
                            send.reserve_capacity(chunk.len());
                            if send
                                .send_data(chunk.to_ascii_uppercase().into(), false)
                                .is_err()
                            {
                                return;
                            }
                        }
                        let _ = send.send_data(Bytes::new(), true);
                    });
                }
                Ok::<_, h2::Error>(())
            });
        }
    });
    addr
}

/// The h2kit client against the `h2` crate's server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2kit_client_against_h2_server() {
    let addr = h2_server(true).await;
    let run = async {
        let client = Client::connect(&format!("http://{addr}")).await?;
        let mut tunnel = client.connect_protocol("/chat", "websocket").await?;
        ping_pong(&mut tunnel).await;
        tunnel.shutdown().await.unwrap();
        let mut rest = Vec::new();
        tunnel.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        let e = client.connect_protocol("/chat", "connect-udp").await;
        assert!(
            matches!(e, Err(Error::ConnectRefused { status }) if status == 404),
            "{e:?}"
        );
        Ok::<_, Error>(())
    };
    tokio::time::timeout(LIMIT, run).await.unwrap().unwrap();

    let addr = h2_server(false).await;
    let run = async {
        let client = Client::connect(&format!("http://{addr}")).await?;
        let e = client.connect_protocol("/chat", "websocket").await;
        assert!(matches!(e, Err(Error::ExtendedConnectDisabled)), "{e:?}");
        Ok::<_, Error>(())
    };
    tokio::time::timeout(LIMIT, run).await.unwrap().unwrap();
}
