//! HTTP/1.1: a sans-IO codec ([`decode`], [`encode`]) driven by a connection task ([`conn`]).

pub(crate) mod chunked;
pub(crate) mod conn;
pub(crate) mod cycle;
pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod output;
mod shared;
mod timer;
