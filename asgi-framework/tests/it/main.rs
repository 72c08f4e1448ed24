//! Integration tests of asgi-framework, all through the in-process `TestClient`.

mod blocking;
mod errors;
mod extract;
mod from_fn;
mod lifespan;
mod responses;
mod routing;
mod websocket;
