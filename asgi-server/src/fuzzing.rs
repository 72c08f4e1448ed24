//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`, off by default).
//!
//! **Not a stable API**: hidden from the docs, and free to change in any
//! release. It wraps the crate-private HTTP/1.1 parsers in public types so
//! that a fuzzer can reach them without opening up the codec itself.

use bytes::{Bytes, BytesMut};

use crate::protocol::http::h1::chunked::{Chunk, ChunkedDecoder as Inner};
use crate::protocol::http::h1::decode::{self, BodyKind};

/// What the request-head decoder made of some bytes.
#[derive(Debug)]
pub enum HeadOutcome {
    /// More bytes are needed; nothing was consumed.
    Incomplete,
    /// Rejected with this status and reason.
    Error {
        /// The response status the server would send.
        status: u16,
        /// The reason for logs.
        reason: &'static str,
    },
    /// A complete head.
    Head(ParsedHead),
}

/// The parts of a parsed request head that its invariants are about.
#[derive(Debug)]
pub struct ParsedHead {
    /// Bytes split off the front of the input.
    pub consumed: usize,
    /// The request target, as sliced out of the head.
    pub target: Bytes,
    /// How many header fields were kept.
    pub headers: usize,
    /// `Some(n)` for a `Content-Length` (or absent: 0) body, `None` for chunked.
    pub content_length: Option<u64>,
    /// Whether the connection may stay open.
    pub keep_alive: bool,
}

/// Runs the request-head decoder over `input` with a head-size `limit`.
pub fn parse_request_head(input: &[u8], limit: usize) -> HeadOutcome {
    let mut buf = BytesMut::from(input);
    match decode::parse_head(&mut buf, limit, &mut Vec::new()) {
        Ok(None) => HeadOutcome::Incomplete,
        Err(error) => HeadOutcome::Error {
            status: error.status().as_u16(),
            reason: error.reason(),
        },
        Ok(Some(head)) => HeadOutcome::Head(ParsedHead {
            consumed: input.len() - buf.len(),
            target: head.target,
            headers: head.headers.len(),
            content_length: match head.body {
                BodyKind::Length(n) => Some(n),
                BodyKind::Chunked => None,
            },
            keep_alive: head.keep_alive,
        }),
    }
}

/// What one call of [`ChunkedDecoder::decode`] returned.
#[derive(Debug, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// Body bytes.
    Data(Bytes),
    /// The body is complete.
    End,
    /// The buffer holds nothing more to decode yet.
    Incomplete,
    /// The body is malformed (the server answers 400).
    Error(&'static str),
}

/// The `Transfer-Encoding: chunked` request-body decoder.
#[derive(Debug)]
pub struct ChunkedDecoder(Inner);

impl ChunkedDecoder {
    /// A decoder at the start of a body; trailers may take `trailer_limit` bytes.
    pub fn new(trailer_limit: usize) -> Self {
        Self(Inner::new(trailer_limit))
    }

    /// Decodes the next piece from the front of `buf`, at most `max` data bytes.
    pub fn decode(&mut self, buf: &mut BytesMut, max: usize) -> ChunkOutcome {
        match self.0.decode(buf, max) {
            Ok(Some(Chunk::Data(data))) => ChunkOutcome::Data(data),
            Ok(Some(Chunk::End)) => ChunkOutcome::End,
            Ok(None) => ChunkOutcome::Incomplete,
            Err(error) => ChunkOutcome::Error(error.0),
        }
    }
}
