//! hyper 1.x HTTP/1.1 hello server, as hyper's own `examples/hello.rs`:
//! `GET /` answers `200 text/plain; charset=utf-8` `Hello, world!`.
//!
//! Run with `hyper_hello --port 8000`. One current-thread runtime, since the
//! harness pins the server to one core. Sockets get `TCP_NODELAY`, as
//! actix-web, Uvicorn and asgi-server set it, so that Nagle's algorithm does
//! not hold back responses written one by one. `--pipeline-flush` turns on
//! hyper's own option for pipelined requests (one flush per batch), which
//! the harness uses in its `pipelined` scenario, as hyper's TechEmpower entry.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

async fn hello(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() != "/" {
        let mut not_found = Response::new(Full::new(Bytes::from_static(b"Not Found")));
        *not_found.status_mut() = StatusCode::NOT_FOUND;
        return Ok(not_found);
    }
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from_static(b"Hello, world!")))
        .expect("static response is valid"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args = asgi_bench_peers::PeerArgs::parse(&["--pipeline-flush"]);
    let pipeline_flush = args.has("--pipeline-flush");
    let listener = TcpListener::bind(args.addr).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            if let Err(err) = http1::Builder::new()
                .pipeline_flush(pipeline_flush)
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await
            {
                eprintln!("connection error: {err}");
            }
        });
    }
}
