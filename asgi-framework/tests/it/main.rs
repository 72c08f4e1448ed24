//! Integration tests of asgi-framework, all through the in-process `TestClient`.

mod background;
mod blocking;
mod errors;
mod extract;
mod file_response;
mod from_fn;
mod lifespan;
mod middleware;
mod multipart;
mod responses;
mod routing;
mod staticfiles;
mod websocket;
