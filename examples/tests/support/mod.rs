//! Serving an app on a real socket for the integration tests.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use asgi_server::{Config, Server, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// How long any one integration test may take.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// An app served on 127.0.0.1 with a free port; shut down on [`Served::stop`].
pub struct Served {
    pub addr: SocketAddr,
    handle: ServerHandle,
    task: JoinHandle<Result<(), asgi_server::Error>>,
}

impl Served {
    /// Starts serving `app` on the current runtime.
    pub async fn start(app: impl asgi_core::App) -> Self {
        let mut config = Config::default();
        config.host = "127.0.0.1".to_owned();
        config.port = 0;
        config.access_log = false;
        let bound = Server::new(config).bind().await.expect("bind 127.0.0.1:0");
        let addr = bound.local_addr().expect("a TCP address");
        let handle = bound.handle();
        let task = tokio::spawn(bound.serve(app));
        Self { addr, handle, task }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Shuts the server down gracefully and checks it ended cleanly.
    pub async fn stop(self) {
        self.handle.shutdown();
        let result = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server stops within 10 s")
            .expect("the server task does not panic");
        result.expect("the server ends without error");
    }
}

/// Runs `test` under [`TEST_TIMEOUT`].
pub async fn bounded<F: Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_TIMEOUT, test)
        .await
        .expect("the test finishes in time");
}

/// Sends raw request bytes (which should ask `Connection: close`) and returns the whole reply.
pub async fn roundtrip(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write the request");
    let mut reply = Vec::new();
    stream
        .read_to_end(&mut reply)
        .await
        .expect("read the reply");
    reply
}
