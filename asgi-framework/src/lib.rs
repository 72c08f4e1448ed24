#![doc = include_str!("docs.md")]

mod application;
mod background;
mod body;
mod context;
mod dispatch;
mod error;
mod exception;
pub mod extract;
/// Crate-private parsers for `fuzz/`: not a stable API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod handler;
mod json;
mod lifespan;
pub mod middleware;
mod panic;
mod pool;
mod request;
pub mod response;
pub mod routing;
mod staticfiles;
pub mod testing;
mod websocket;

pub use self::application::Application;
pub use self::background::BackgroundTasks;
pub use self::body::{Body, BodyStream as ResponseBodyStream};
pub use self::context::UrlError;
pub use self::error::{Error, ErrorCause, HttpError};
pub use self::extract::{
    Cookies, Form, FromRequest, FromRequestParts, HeaderParams, Path, Query, Rejection, State,
    ValidationError,
};
pub use self::handler::{Handler, blocking};
pub use self::json::Json;
pub use self::pool::{
    BlockingError, BlockingPool, BlockingTask, DEFAULT_POOL_SIZE, PoolStats, run_blocking,
};
pub use self::request::{BodyError, BodyStream, PathParams, Request};
pub use self::response::{
    Event, Html, IntoResponse, KeepAlive, Redirect, Response, Sse, StreamBody,
};

pub use self::routing::{
    MethodRouter, Router, any, delete, get, head, options, patch, post, put, ws,
};
pub use self::staticfiles::StaticFiles;
pub use self::websocket::{WebSocket, WsError, WsHandler, WsOutcome};

pub use asgi_core;
pub use bytes::Bytes;
pub use http;
