//! An h2kit-server running in the test's own runtime, for tests that point a peer at it.

use std::net::SocketAddr;

use h2kit_server::{Builder, Handler, Server};
use tokio::sync::oneshot;

/// A running server; [`stop`](Self::stop) shuts it down gracefully and waits for it.
pub struct RunningServer {
    /// Where it listens (127.0.0.1).
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Starts `handler` on a free loopback port, over TLS with a self-signed certificate or
    /// h2c, on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// When the server cannot be built or fails while serving: this is test support.
    pub async fn start<H: Handler>(tls: bool, handler: H) -> RunningServer {
        let builder = Server::builder();
        let builder = if tls {
            builder.tls_self_signed()
        } else {
            builder.h2c()
        };
        RunningServer::start_with(builder, handler).await
    }

    /// Starts `handler` on a server made by `builder` (its transport and options as given),
    /// on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// When the server cannot be built or fails while serving: this is test support.
    pub async fn start_with<H: Handler>(builder: Builder, handler: H) -> RunningServer {
        let server = builder.build().await.expect("the server starts");
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .serve_with_shutdown(handler, async move {
                    let _ = stopped.await;
                })
                .await
                .expect("the server serves");
        });
        RunningServer {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// Shuts the server down (in-flight requests finish) and waits for it.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }
}
