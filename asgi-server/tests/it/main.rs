//! Integration tests: real sockets on 127.0.0.1, raw bytes for the protocol
//! rules and a real HTTP client for the happy paths.

mod bad_input;
mod h2;
mod http;
mod lifespan;
mod nginx;
mod shutdown;
mod supervisor;
mod support;
mod tls;
mod trailers;
mod websocket;
