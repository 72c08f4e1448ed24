//! Routing: [`Router`], [`MethodRouter`] and the route constructors.

mod host;
mod method_router;
pub(crate) mod path;
mod router;

pub use self::method_router::{
    MethodRouter, any, delete, get, head, options, patch, post, put, ws,
};
pub use self::path::{Converter, PatternError};
pub use self::router::{RouteInfo, Router};
pub(crate) use self::router::{Routed, RoutedWs};
