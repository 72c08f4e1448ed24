//! The bodies of the fuzz targets in `fuzz_targets/`, one `pub fn` per parser.
//!
//! Each takes the fuzzer's bytes, runs one parser and asserts its invariants,
//! so a broken invariant is a panic the fuzzer reports. The same functions run
//! on stable in `cargo test` over `corpus/<target>/` and mutations of it (see
//! `corpus.rs`), so every target is exercised without nightly or cargo-fuzz.

use asgi_core::Target;
use asgi_framework::fuzzing::{RangeOutcome, parse_range_header};
use asgi_server::fuzzing::{ChunkOutcome, ChunkedDecoder, HeadOutcome, parse_request_head};
use bytes::{Bytes, BytesMut};

#[cfg(test)]
mod corpus;

/// The head-size limit the request-head target parses with.
pub const HEAD_LIMIT: usize = 8 * 1024;
/// The trailer limit of the chunked target (small, so fuzzing reaches it).
pub const TRAILER_LIMIT: usize = 256;

/// `h1_request_head`: the whole input is what a client sent before the server parses.
///
/// The decoder returns a head, "incomplete" or an error, never panics; a head
/// is the CRLF-terminated front of the input, does not depend on the bytes
/// after it, and is "incomplete" one byte shorter.
pub fn h1_request_head(data: &[u8]) {
    match parse_request_head(data, HEAD_LIMIT) {
        HeadOutcome::Incomplete => assert!(data.len() <= HEAD_LIMIT, "incomplete past the limit"),
        HeadOutcome::Error { status, reason } => {
            assert!(matches!(status, 400 | 414 | 431 | 501), "status {status}");
            assert!(!reason.is_empty());
        }
        HeadOutcome::Head(head) => {
            let n = head.consumed;
            assert!(0 < n && n <= data.len() && n <= HEAD_LIMIT, "consumed {n}");
            let raw = &data[..n];
            assert!(raw.ends_with(b"\r\n\r\n"), "head not CRLF-terminated");
            assert!(
                raw.iter()
                    .enumerate()
                    .all(|(i, &b)| b != b'\n' || (i > 0 && raw[i - 1] == b'\r')),
                "bare LF in an accepted head"
            );
            // The request line, after any empty lines (RFC 9112 2.2 lets a server skip them).
            let mut line = raw;
            while let Some(rest) = line.strip_prefix(b"\r\n") {
                line = rest;
            }
            let line = &line[..line.windows(2).position(|w| w == b"\r\n").unwrap()];
            assert!(!head.target.is_empty(), "empty target");
            assert!(
                line.windows(head.target.len()).any(|w| w == head.target),
                "target is not from the request line"
            );
            assert!(head.headers <= 100, "{} headers", head.headers);
            // The same head without what follows it (a body, a pipelined request).
            let HeadOutcome::Head(alone) = parse_request_head(raw, HEAD_LIMIT) else {
                panic!("the head alone does not parse");
            };
            assert_eq!(
                (
                    alone.consumed,
                    &alone.target,
                    alone.content_length,
                    alone.keep_alive
                ),
                (n, &head.target, head.content_length, head.keep_alive)
            );
            assert!(
                matches!(
                    parse_request_head(&raw[..n - 1], HEAD_LIMIT),
                    HeadOutcome::Incomplete
                ),
                "a truncated head is not incomplete"
            );
            assert!(
                matches!(
                    parse_request_head(raw, n - 1),
                    HeadOutcome::Error {
                        status: 414 | 431,
                        ..
                    }
                ),
                "a head over the limit is not rejected"
            );
        }
    }
}

/// What decoding a chunked body fed in pieces came to.
#[derive(Debug, PartialEq, Eq)]
struct Decoded {
    data: Vec<u8>,
    /// `End`, `Incomplete` or `Error(..)`.
    last: ChunkOutcome,
    /// Input bytes the decoder took (the rest belongs to the next request);
    /// `None` after an error, which closes the connection.
    consumed: Option<usize>,
}

fn decode_chunked(pieces: &[&[u8]], max: usize) -> Decoded {
    let mut decoder = ChunkedDecoder::new(TRAILER_LIMIT);
    let (mut buf, mut fed, mut data) = (BytesMut::new(), 0, Vec::new());
    let mut last = ChunkOutcome::Incomplete;
    'feed: for piece in pieces {
        buf.extend_from_slice(piece);
        fed += piece.len();
        loop {
            match decoder.decode(&mut buf, max) {
                ChunkOutcome::Data(bytes) => {
                    assert!(
                        !bytes.is_empty() && bytes.len() <= max,
                        "{} bytes",
                        bytes.len()
                    );
                    data.extend_from_slice(&bytes);
                }
                ChunkOutcome::Incomplete => {
                    assert!(buf.is_empty(), "incomplete with {} bytes left", buf.len());
                    break;
                }
                outcome => {
                    last = outcome;
                    break 'feed;
                }
            }
        }
    }
    let consumed = match last {
        ChunkOutcome::Error(_) => None,
        _ => Some(fed - buf.len()),
    };
    Decoded {
        data,
        last,
        consumed,
    }
}

/// `h1_chunked_body`: `[split, max, body..]`, the body fed in two pieces split at
/// `split/255` of its length, decoded at most `2^(max % 16)` bytes at a time.
///
/// Never panics, never yields more bytes than were fed, and comes to the same
/// bytes and outcome as when the body arrives in one piece.
pub fn h1_chunked_body(data: &[u8]) {
    let [split, max, body @ ..] = data else {
        return;
    };
    let split = body.len() * usize::from(*split) / 255;
    let max = 1 << (max % 16);
    let whole = decode_chunked(&[body], max);
    let consumed = whole.consumed.unwrap_or(body.len());
    assert!(consumed <= body.len());
    assert!(whole.data.len() <= consumed, "more bytes out than in");
    let pieces = decode_chunked(&[&body[..split], &body[split..]], max);
    assert_eq!(whole, pieces, "depends on the split at {split}");
}

/// `range_header`: `<file length>\n<Range header>`; an unparsable length line
/// is read as its own byte count.
///
/// Every satisfiable range lies inside the file; the ranges are sorted, disjoint
/// and not adjacent (merged), and there are at most 32 of them.
pub fn range_header(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (len, header) = match text.split_once('\n') {
        Some((len, header)) => (len.trim().parse().unwrap_or(len.len() as u64), header),
        None => (text.len() as u64, &*text),
    };
    if let RangeOutcome::Satisfiable(ranges) = parse_range_header(header, len) {
        assert!((1..=32).contains(&ranges.len()), "{} ranges", ranges.len());
        for &(first, last) in &ranges {
            assert!(first <= last && last < len, "{first}-{last} of {len}");
        }
        for pair in ranges.windows(2) {
            assert!(pair[0].1 + 1 < pair[1].0, "not merged: {pair:?}");
        }
    }
}

/// `target_parse`: the input is a request target.
///
/// Never panics; `raw_path` is non-empty and has no `?`; an origin-form target
/// (`/...`) is exactly `raw_path` [`?` `query_string`]; `path` is UTF-8 by type.
pub fn target_parse(data: &[u8]) {
    let target = Target::parse(Bytes::copy_from_slice(data));
    assert!(!target.raw_path.is_empty(), "empty raw_path");
    assert!(!target.raw_path.contains(&b'?'), "? in raw_path");
    assert!(
        data.ends_with(&target.query_string),
        "query is not the input's tail"
    );
    // Decoding shortens; each invalid byte becomes U+FFFD (3 bytes) at worst.
    assert!(target.path.len() <= 3 * target.raw_path.len());
    if data.starts_with(b"/") {
        let mut rebuilt = target.raw_path.to_vec();
        if data.contains(&b'?') {
            rebuilt.push(b'?');
            rebuilt.extend_from_slice(&target.query_string);
        }
        assert_eq!(rebuilt, data, "origin-form target not split at its first ?");
    }
    if !target.raw_path.contains(&b'%')
        && let Ok(raw) = std::str::from_utf8(&target.raw_path)
    {
        assert_eq!(target.path, raw, "path differs from an unescaped raw_path");
    }
}
