//! hyper 1.x hello server speaking HTTP/1.1 and HTTP/2 with prior knowledge
//! (h2c) on the same port, through hyper-util's `auto` builder, for the
//! `h2load` comparison. Same `GET /` as `hyper_hello`.
//!
//! Run with `hyper_h2_hello --port 8000`. One current-thread runtime;
//! `TCP_NODELAY` as in `hyper_hello`.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
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
    let listener = TcpListener::bind(asgi_bench_peers::addr_from_args()).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            if let Err(err) = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await
            {
                eprintln!("connection error: {err}");
            }
        });
    }
}
