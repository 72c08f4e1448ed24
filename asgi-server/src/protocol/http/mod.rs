//! HTTP: the HTTP/1.1 engine and what HTTP versions share.

pub(crate) mod date;
pub(crate) mod h1;
pub(crate) mod h2;
pub(crate) mod proxy;
pub(crate) mod service;
